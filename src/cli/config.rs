//! The config file: where it is found, its `[scan]` defaults, and the
//! effective settings with the source of each value (`ghostport config show`).
//!
//! Location: `--config FILE`, else `$GHOSTPORT_CONFIG`, else
//! `$XDG_CONFIG_HOME/ghostport/config.toml` (or `~/.config/ghostport/config.toml`)
//! when it exists; `--no-config` skips the last two. Precedence for each value:
//! command line > config file > built-in default.
//!
//! ```toml
//! [scan]
//! max_flows = 200000
//! format = "json"          # text | json
//! payload_cap = 2048
//! tcp_timeout = 600        # seconds of capture time
//! udp_timeout = 120
//! color = "never"          # auto | always | never
//! reader = "native"        # native | libpcap
//! all_flows = false
//! all_flows_cap = 1000000
//! quiet = true
//!
//! [[allow]]                # site policy, see knowledge::policy
//! port = "386/tcp"
//! scope = "10.0.0.5"
//! note = "lab ASA router"
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::parser::ValueSource;
use clap::{ArgMatches, ValueEnum};
use serde::{Deserialize, Serialize};

use super::args::{ColorChoice, Format, Reader, ScanArgs};

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Built into ghostport.
    Default,
    /// The config file at this path.
    File(PathBuf),
    /// A command-line option.
    CommandLine,
    /// An environment variable.
    Environment(&'static str),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "config file {}", p.display()),
            Source::CommandLine => f.write_str("command line"),
            Source::Environment(v) => write!(f, "environment {v}"),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The `[scan]` table. Keys are the long option names with `_` for `-`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanDefaults {
    format: Option<String>,
    all_flows: Option<bool>,
    all_flows_cap: Option<usize>,
    max_flows: Option<usize>,
    payload_cap: Option<usize>,
    tcp_timeout: Option<u32>,
    udp_timeout: Option<u32>,
    reader: Option<String>,
    quiet: Option<bool>,
    color: Option<String>,
}

impl ScanDefaults {
    /// The `format` key as written.
    pub fn format(&self) -> Option<&str> {
        self.format.as_deref()
    }
}

#[derive(Deserialize)]
struct FileView {
    #[serde(default)]
    scan: ScanDefaults,
}

/// The config file in use, if any, and how it was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// Path of the file.
    pub path: PathBuf,
    /// `--config` (command line), `GHOSTPORT_CONFIG` (environment) or the default location.
    pub source: Source,
}

/// Finds the config file. `lookup` reads environment variables (injected for tests).
pub fn locate(
    explicit: Option<&Path>,
    no_config: bool,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Option<Located> {
    if let Some(p) = explicit {
        return Some(Located {
            path: p.to_path_buf(),
            source: Source::CommandLine,
        });
    }
    if no_config {
        return None;
    }
    let var = |k: &str| lookup(k).filter(|v| !v.is_empty());
    if let Some(p) = var("GHOSTPORT_CONFIG") {
        return Some(Located {
            path: PathBuf::from(p),
            source: Source::Environment("GHOSTPORT_CONFIG"),
        });
    }
    let base = match var("XDG_CONFIG_HOME").filter(|v| Path::new(v).is_absolute()) {
        Some(x) => PathBuf::from(x),
        None => PathBuf::from(var("HOME")?).join(".config"),
    };
    let path = base.join("ghostport").join("config.toml");
    path.is_file().then_some(Located {
        path,
        source: Source::Default,
    })
}

/// Reads the `[scan]` table of a config file.
pub fn read_defaults(path: &Path) -> Result<ScanDefaults> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read config file {} (fix the path, or pass --no-config)",
            path.display()
        )
    })?;
    parse_defaults(&text, path)
}

fn parse_defaults(text: &str, path: &Path) -> Result<ScanDefaults> {
    let view: FileView = toml::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "config file {}: {}; [scan] accepts {}",
            path.display(),
            e.to_string().trim_end(),
            SCAN_KEYS.join(", ")
        )
    })?;
    Ok(view.scan)
}

/// Keys of the `[scan]` table.
pub const SCAN_KEYS: [&str; 10] = [
    "format",
    "all_flows",
    "all_flows_cap",
    "max_flows",
    "payload_cap",
    "tcp_timeout",
    "udp_timeout",
    "reader",
    "quiet",
    "color",
];

/// One effective setting.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    /// Option name (`max_flows`; the flag is `--max-flows`).
    pub key: &'static str,
    /// Effective value.
    pub value: serde_json::Value,
    /// Where it came from.
    pub source: Source,
}

/// The effective configuration of a `scan`.
#[derive(Clone, Debug, Serialize)]
pub struct Effective {
    /// The config file used, if any.
    pub config_file: Option<String>,
    /// How the config file was chosen.
    pub config_file_source: Option<Source>,
    /// Scan settings.
    pub settings: Vec<Entry>,
}

fn enum_name<T: ValueEnum>(v: &T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_owned())
        .unwrap_or_default()
}

fn parse_enum<T: ValueEnum>(key: &str, s: &str, path: &Path) -> Result<T> {
    T::from_str(s, true).map_err(|_| {
        let names: Vec<String> = T::value_variants().iter().map(enum_name).collect();
        anyhow::anyhow!(
            "config file {}: [scan] {key} = \"{}\" is not one of {}",
            path.display(),
            s.escape_debug(),
            names.join(", ")
        )
    })
}

/// Fills in the `scan` options not given on the command line from the config
/// file, and returns every setting with its source. `m` are the `scan`
/// subcommand's matches (for value sources); `lookup` reads the environment.
pub fn apply(
    a: &mut ScanArgs,
    m: Option<&ArgMatches>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Effective> {
    let located = locate(a.config.as_deref(), a.no_config, lookup);
    let defaults = match &located {
        Some(l) => read_defaults(&l.path)?,
        None => ScanDefaults::default(),
    };
    if let Some(l) = &located
        && a.config.is_none()
    {
        // the policy rules of the file are loaded from a.config later
        a.config = Some(l.path.clone());
    }
    let file_src = located
        .as_ref()
        .map_or(Source::Default, |l| Source::File(l.path.clone()));
    let from_cli = |id: &str| m.and_then(|m| m.value_source(id)) == Some(ValueSource::CommandLine);
    let mut out = Vec::new();
    let path = located.as_ref().map(|l| l.path.clone()).unwrap_or_default();

    macro_rules! setting {
        ($key:literal, $($field:ident).+, $file:expr, $show:expr) => {{
            let src = if from_cli($key) {
                Source::CommandLine
            } else if let Some(v) = $file {
                a.$($field).+ = v;
                file_src.clone()
            } else {
                Source::Default
            };
            #[allow(clippy::redundant_closure_call)]
            let value = serde_json::Value::from(($show)(&a.$($field).+));
            out.push(Entry {
                key: $key,
                value,
                source: src,
            });
        }};
    }
    let f = defaults;
    let fmt = f
        .format
        .as_deref()
        .map(|s| parse_enum::<Format>("format", s, &path))
        .transpose()?;
    let reader = f
        .reader
        .as_deref()
        .map(|s| parse_enum::<Reader>("reader", s, &path))
        .transpose()?;
    let color = f
        .color
        .as_deref()
        .map(|s| parse_enum::<ColorChoice>("color", s, &path))
        .transpose()?;
    setting!("format", format, fmt.map(Some), |v: &Option<Format>| v
        .as_ref()
        .map_or_else(|| "text".to_owned(), enum_name));
    setting!("max_flows", analysis.max_flows, f.max_flows, |v: &usize| *v
        as u64);
    setting!(
        "payload_cap",
        analysis.payload_cap,
        f.payload_cap,
        |v: &usize| *v as u64
    );
    setting!(
        "tcp_timeout",
        analysis.tcp_timeout,
        f.tcp_timeout,
        |v: &u32| *v
    );
    setting!(
        "udp_timeout",
        analysis.udp_timeout,
        f.udp_timeout,
        |v: &u32| *v
    );
    setting!("all_flows", analysis.all_flows, f.all_flows, |v: &bool| *v);
    setting!(
        "all_flows_cap",
        analysis.all_flows_cap,
        f.all_flows_cap,
        |v: &usize| { *v as u64 }
    );
    setting!("reader", reader, reader, |v: &Reader| enum_name(v));
    setting!("quiet", quiet, f.quiet, |v: &bool| *v);
    setting!("color", color, color, |v: &ColorChoice| enum_name(v));
    if lookup("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        out.push(Entry {
            key: "no_color",
            value: serde_json::Value::from(true),
            source: Source::Environment("NO_COLOR"),
        });
    }
    Ok(Effective {
        config_file: located.as_ref().map(|l| l.path.display().to_string()),
        config_file_source: located.map(|l| l.source),
        settings: out,
    })
}

/// Reads an environment variable (lossy UTF-8).
pub fn env_lookup(k: &str) -> Option<String> {
    std::env::var_os(k).map(|v| v.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    use crate::cli::args::{Cli, Command};

    fn parse(args: &[&str]) -> (ScanArgs, ArgMatches) {
        let m = Cli::command()
            .try_get_matches_from(args)
            .unwrap_or_else(|e| panic!("{e}"));
        let cli = Cli::from_arg_matches(&m).unwrap_or_else(|e| panic!("{e}"));
        let sub = m.subcommand_matches("scan").cloned().unwrap_or_default();
        match cli.command {
            Command::Scan(a) => (a, sub),
            _ => panic!("not scan"),
        }
    }

    fn tmp(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ghostport-config-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let p = dir.join(name);
        let _ = std::fs::write(&p, text);
        p
    }

    #[test]
    fn precedence_cli_over_file_over_default() {
        let p = tmp(
            "prec.toml",
            "[scan]\nmax_flows = 200000\nformat = \"json\"\nudp_timeout = 5\n\n[[allow]]\nport = \"386/tcp\"\n",
        );
        let ps = p.display().to_string();
        let (mut a, m) = parse(&[
            "ghostport",
            "scan",
            "--config",
            &ps,
            "--max-flows",
            "7",
            "x",
        ]);
        let eff = apply(&mut a, Some(&m), &|_| None).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(a.analysis.max_flows, 7);
        assert_eq!(a.format, Some(Format::Json));
        assert_eq!(a.analysis.udp_timeout, 5);
        assert_eq!(a.analysis.tcp_timeout, 300);
        let src = |k: &str| {
            eff.settings
                .iter()
                .find(|e| e.key == k)
                .map(|e| e.source.to_string())
                .unwrap_or_default()
        };
        assert_eq!(src("max_flows"), "command line");
        assert_eq!(src("format"), format!("config file {ps}"));
        assert_eq!(src("tcp_timeout"), "default");
        // the policy rules of the same file still parse
        assert!(
            crate::knowledge::policy::Policy::load_toml_file(&p)
                .is_ok_and(|p| p.rules().len() == 1)
        );
    }

    #[test]
    fn location_order() {
        let p = tmp("loc.toml", "[scan]\nquiet = true\n");
        let ps = p.display().to_string();
        let env = |k: &str| match k {
            "GHOSTPORT_CONFIG" => Some(ps.clone()),
            _ => None,
        };
        let l = locate(None, false, &env);
        assert_eq!(
            l.as_ref().map(|l| &l.source),
            Some(&Source::Environment("GHOSTPORT_CONFIG"))
        );
        assert_eq!(locate(None, true, &env), None);
        let explicit = locate(Some(Path::new("/x.toml")), false, &env);
        assert_eq!(explicit.map(|l| l.source), Some(Source::CommandLine));
        // XDG: only when the file exists
        let dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
        let _ = std::fs::create_dir_all(dir.join("xdg/ghostport"));
        let xdg = dir.join("xdg").display().to_string();
        let env2 = |k: &str| (k == "XDG_CONFIG_HOME").then(|| xdg.clone());
        assert_eq!(locate(None, false, &env2), None);
        let _ = std::fs::write(dir.join("xdg/ghostport/config.toml"), "");
        let l = locate(None, false, &env2);
        assert_eq!(l.map(|l| l.source), Some(Source::Default));
        let home = dir.display().to_string();
        let env3 = |k: &str| (k == "HOME").then(|| home.clone());
        assert_eq!(locate(None, false, &env3), None);
    }

    #[test]
    fn bad_values_are_named() {
        let p = tmp("bad.toml", "[scan]\ncolor = \"sometimes\"\n");
        let ps = p.display().to_string();
        let (mut a, m) = parse(&["ghostport", "scan", "--config", &ps, "x"]);
        let e = apply(&mut a, Some(&m), &|_| None)
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(
            e.contains("color = \"sometimes\" is not one of auto, always, never"),
            "{e}"
        );
        let p = tmp("typo.toml", "[scan]\nmax_flow = 5\n");
        let e = read_defaults(&p)
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(e.contains("max_flow") && e.contains("max_flows"), "{e}");
        let e = read_defaults(Path::new("/nonexistent/g.toml"))
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(e.contains("--no-config"), "{e}");
    }
}
