//! `ghostport port`, `ports` and `registry`: the knowledge base on the command line.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

use super::args::{self, ListFormat, PortArgs, PortFormat as Format, PortsArgs, RegistryCommand};
use crate::Transport;
use crate::knowledge::{
    KnowledgeBase, PortClass, registry,
    render::{self, ListFormat as KbListFormat},
};

fn list_format(f: ListFormat) -> KbListFormat {
    match f {
        ListFormat::Text => KbListFormat::Text,
        ListFormat::Csv => KbListFormat::Csv,
        ListFormat::Json => KbListFormat::Json,
    }
}

/// The user's data directory: `$GHOSTPORT_DATA_DIR`, else
/// `$XDG_DATA_HOME/ghostport`, else `~/.local/share/ghostport`.
pub fn data_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("GHOSTPORT_DATA_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("ghostport"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/ghostport"))
}

fn parse_registry_file(path: &Path) -> Result<(Vec<registry::RegistryRow>, Option<String>)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read registry file {}", path.display()))?;
    parse_registry_text(&text, path)
}

fn parse_registry_text(
    text: &str,
    path: &Path,
) -> Result<(Vec<registry::RegistryRow>, Option<String>)> {
    let trimmed = text.trim_start();
    let parsed = if trimmed.starts_with('<') {
        registry::parse_registry_xml_dated(text)
    } else {
        registry::parse_registry_csv(text).map(|rows| (rows, None))
    };
    parsed.with_context(|| format!("{} is not a valid IANA registry file", path.display()))
}

fn kb_from_file(base: &KnowledgeBase, path: &Path) -> Result<KnowledgeBase> {
    let (rows, date) = parse_registry_file(path)?;
    Ok(kb_from_rows(base, path, rows, date))
}

fn kb_from_rows(
    base: &KnowledgeBase,
    path: &Path,
    rows: Vec<registry::RegistryRow>,
    date: Option<String>,
) -> KnowledgeBase {
    let version = date.map(|d| format!("IANA {d} (imported from {})", path.display()));
    base.with_registry(rows, version)
}

/// Refuses rows that cannot be IANA's registry (see [`registry::implausible`]).
fn check_plausible(path: &Path, rows: &[registry::RegistryRow]) -> Result<()> {
    if let Some(why) = registry::implausible(rows) {
        bail!(
            "{} does not look like IANA's port registry: {why} (download service-names-port-numbers.csv or .xml from iana.org)",
            path.display()
        );
    }
    Ok(())
}

/// The knowledge base in effect: the built-in one, or the built-in evidence
/// over a registry the user imported with `ghostport registry import`.
pub fn active() -> Result<&'static KnowledgeBase> {
    static ACTIVE: OnceLock<KnowledgeBase> = OnceLock::new();
    let builtin = KnowledgeBase::builtin();
    let Some(dir) = data_dir() else {
        return Ok(builtin);
    };
    let imported = ["registry.xml", "registry.csv"]
        .map(|n| dir.join(n))
        .into_iter()
        .find(|p| p.exists());
    let Some(path) = imported else {
        return Ok(builtin);
    };
    if let Some(kb) = ACTIVE.get() {
        return Ok(kb);
    }
    let kb = parse_registry_file(&path)
        .and_then(|(rows, date)| {
            check_plausible(&path, &rows)?;
            Ok(kb_from_rows(builtin, &path, rows, date))
        })
        .with_context(|| {
            format!(
                "the imported registry is unusable; remove {} or import a good file",
                path.display()
            )
        })?;
    Ok(ACTIVE.get_or_init(|| kb))
}

/// Parses `386`, `386/tcp`, `386/udp` or a service name into the pairs it names.
fn resolve(kb: &KnowledgeBase, spec: &str) -> Result<Vec<(u16, Transport)>> {
    let (head, t) = match spec.rsplit_once('/') {
        Some((h, "tcp")) => (h, Some(Transport::Tcp)),
        Some((h, "udp")) => (h, Some(Transport::Udp)),
        Some((_, other)) => bail!("'{other}' is not a transport: use tcp or udp (e.g. 386/tcp)"),
        None => (spec, None),
    };
    let pairs: Vec<(u16, Transport)> = match head.parse::<u16>() {
        Ok(p) => [Transport::Tcp, Transport::Udp]
            .into_iter()
            .map(|x| (p, x))
            .collect(),
        Err(_) if head.chars().all(|c| c.is_ascii_digit()) => {
            bail!("'{head}' is not a port (0-65535)")
        }
        Err(_) => kb.lookup_service(head),
    };
    let pairs: Vec<_> = pairs
        .into_iter()
        .filter(|(_, x)| t.is_none_or(|t| t == *x))
        .collect();
    if pairs.is_empty() {
        bail!(
            "no port or service named '{spec}' in the registry (try a number like 386 or 386/udp)"
        );
    }
    Ok(pairs)
}

/// `ghostport port SPEC`.
pub fn port(a: &PortArgs) -> Result<u8> {
    let kb = active()?;
    let pairs = resolve(kb, &a.port)?;
    let mut o = String::new();
    match a.format {
        Format::Json => {
            let verdicts: Vec<_> = pairs.iter().map(|&(p, t)| kb.verdict(p, t)).collect();
            let doc = serde_json::json!({
                "data": {"knowledge_base": kb.kb_version(), "registry": kb.registry_version()},
                "verdicts": verdicts,
            });
            writeln!(o, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Format::Text => {
            for (i, &(p, t)) in pairs.iter().enumerate() {
                if i > 0 {
                    writeln!(o)?;
                }
                write!(o, "{}", render::render_verdict_text(&kb.verdict(p, t), kb))?;
            }
        }
    }
    super::print_out(&o)?;
    Ok(0)
}

/// `ghostport ports --class C`.
pub fn ports(a: &PortsArgs) -> Result<u8> {
    let kb = active()?;
    if a.summary {
        print!("{}", render::render_class_summary(kb));
        return Ok(0);
    }
    let class: PortClass = a.class.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let t = match a.transport.as_deref() {
        None => None,
        Some("tcp") => Some(Transport::Tcp),
        Some("udp") => Some(Transport::Udp),
        Some(o) => bail!("'{o}' is not a transport: use tcp or udp"),
    };
    let mut o = String::new();
    write!(
        o,
        "{}",
        render::render_port_list(kb, class, t, list_format(a.format))
    )?;
    super::print_out(&o)?;
    Ok(0)
}

/// `ghostport export FORMAT`.
pub fn export(a: &args::ExportArgs) -> Result<u8> {
    use crate::knowledge::export::{self, ExportFormat};
    let kb = active()?;
    let policy = super::build_policy(a.config.as_deref(), &a.allow, &a.deny)?;
    let format = match a.format {
        args::ExportFormat::Suricata => ExportFormat::Suricata,
        args::ExportFormat::Zeek => ExportFormat::Zeek,
        args::ExportFormat::Nftables => ExportFormat::Nftables,
        args::ExportFormat::Sigma => ExportFormat::Sigma,
        args::ExportFormat::Csv => ExportFormat::Csv,
        args::ExportFormat::Json => ExportFormat::Json,
    };
    super::print_out(&export::render(format, kb, &policy))?;
    Ok(0)
}

/// `ghostport registry import|diff`.
pub fn registry(c: &RegistryCommand) -> Result<u8> {
    let mut o = String::new();
    match c {
        RegistryCommand::Import { file } => {
            // Read once: what is checked is what is stored.
            let bytes = std::fs::read(file)
                .with_context(|| format!("cannot read registry file {}", file.display()))?;
            let text = String::from_utf8(bytes).map_err(|_| {
                anyhow::anyhow!(
                    "{} is not a valid IANA registry file: not UTF-8 text",
                    file.display()
                )
            })?;
            let (rows, date) = parse_registry_text(&text, file)?;
            check_plausible(file, &rows)
                .context("nothing was imported; scans keep the registry they had")?;
            let kb = kb_from_rows(KnowledgeBase::builtin(), file, rows, date);
            let dir = data_dir().context("no data directory: set HOME or GHOSTPORT_DATA_DIR")?;
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let is_xml = text.trim_start().starts_with('<');
            let (keep, drop) = if is_xml {
                ("registry.xml", "registry.csv")
            } else {
                ("registry.csv", "registry.xml")
            };
            let dest = dir.join(keep);
            // A new file (0644 before the umask, whatever the source's
            // mode), written under a random name and renamed into place.
            crate::report::write::write_file(&dest, true, &mut |w| w.write_all(text.as_bytes()))?;
            let _ = std::fs::remove_file(dir.join(drop));
            let changes = registry::diff(KnowledgeBase::builtin(), &kb);
            writeln!(
                o,
                "imported {} as {} ({}); {} port/transport pairs differ from the built-in {}",
                file.display(),
                dest.display(),
                kb.registry_version(),
                changes.len(),
                KnowledgeBase::builtin().registry_version()
            )?;
            writeln!(
                o,
                "scans now use it; see the changes with `ghostport registry diff` or remove the file to go back"
            )?;
            super::print_out(&o)?;
            Ok(0)
        }
        RegistryCommand::Diff { old, new, format } => {
            let base = KnowledgeBase::builtin();
            let (a, b) = (kb_from_file(base, old)?, kb_from_file(base, new)?);
            let changes = registry::diff(&a, &b);
            match format {
                ListFormat::Json => writeln!(o, "{}", serde_json::to_string_pretty(&changes)?)?,
                ListFormat::Csv => {
                    writeln!(
                        o,
                        "port,transport,changes,old_class,new_class,old_service,new_service"
                    )?;
                    for c in &changes {
                        let kinds: Vec<String> = c
                            .changes
                            .iter()
                            .map(|k| format!("{k:?}").to_lowercase())
                            .collect();
                        writeln!(
                            o,
                            "{},{},{},{},{},{},{}",
                            c.port,
                            c.transport,
                            kinds.join(" "),
                            c.old_class.as_str(),
                            c.new_class.as_str(),
                            csv(c.old_service.as_deref().unwrap_or("")),
                            csv(c.new_service.as_deref().unwrap_or(""))
                        )?;
                    }
                }
                ListFormat::Text => {
                    writeln!(
                        o,
                        "# {} → {}: {} changed pairs",
                        a.registry_version(),
                        b.registry_version(),
                        changes.len()
                    )?;
                    for c in &changes {
                        let name =
                            |s: &Option<String>| render::sanitize_text(s.as_deref().unwrap_or("-"));
                        writeln!(
                            o,
                            "{:>5}/{}  {} → {}  {} → {}{}",
                            c.port,
                            c.transport,
                            c.old_class.as_str(),
                            c.new_class.as_str(),
                            name(&c.old_service),
                            name(&c.new_service),
                            if c.old_description != c.new_description {
                                format!("  (description: {})", name(&c.new_description))
                            } else {
                                String::new()
                            }
                        )?;
                    }
                }
            }
            super::print_out(&o)?;
            Ok(0)
        }
    }
}

fn csv(s: &str) -> String {
    render::csv_cell(s)
}
