//! Text/CSV/JSON rendering for `ghostport port N` and `ghostport ports --class C`.
//!
//! Registry strings are hostile input (an imported registry can contain
//! anything): text and CSV output pass them through [`sanitize_text`].

use std::fmt::Write as _;

use serde::Serialize;

use super::{KnowledgeBase, PortClass, Verdict};
use crate::Transport;

/// Make a registry string safe for a terminal: tabs/newlines/CR become one
/// space, other control characters and Unicode bidi/format controls become
/// `\u{..}` escapes.
pub fn sanitize_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last_space = false;
    for c in s.chars() {
        if matches!(c, '\t' | '\n' | '\r') {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
            continue;
        }
        last_space = c == ' ';
        let bidi = matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}');
        if c.is_control() || bidi {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// Human-readable verdict for `ghostport port N`.
pub fn render_verdict_text(v: &Verdict, kb: &KnowledgeBase) -> String {
    let mut o = String::new();
    let mut class = v.class.as_str().to_ascii_uppercase();
    if v.legacy {
        class.push_str(" (legacy)");
    }
    let _ = writeln!(o, "{}/{}: {class}", v.port, v.transport.as_str());
    if !v.tags.is_empty() {
        let _ = writeln!(o, "  tags: {}", v.tags.join(", "));
    }
    match &v.record {
        Some(r) => {
            let _ = writeln!(o, "  IANA record (ports {}):", sanitize_text(&r.ports));
            let text_or_none = |s: &str| (!s.is_empty()).then(|| s.to_owned());
            let fields = [
                ("service name", &text_or_none(&r.service_name)),
                ("description", &text_or_none(&r.description)),
                ("assignee", &r.assignee),
                ("contact", &r.contact),
                ("registered", &r.registration_date),
                ("modified", &r.modification_date),
                ("reference", &r.reference),
                ("unauthorized use", &r.unauthorized_use_reported),
                ("notes", &r.assignment_notes),
            ];
            for (name, value) in fields {
                let shown = value
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), sanitize_text);
                let _ = writeln!(o, "    {name:<17} {shown}");
            }
        }
        None => {
            let _ = writeln!(o, "  IANA record: none");
        }
    }
    let _ = writeln!(o, "  why:");
    for r in &v.reasons {
        let _ = writeln!(
            o,
            "    [{}] {}",
            sanitize_text(&r.source),
            sanitize_text(&r.text)
        );
    }
    let _ = writeln!(
        o,
        "  data: {}; {}",
        sanitize_text(kb.registry_version()),
        sanitize_text(kb.kb_version())
    );
    o
}

/// Output format for port lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    Text,
    /// RFC 4180: CRLF line ends, fields quoted when needed.
    Csv,
    /// JSON array (serde_json, pretty).
    Json,
}

impl std::str::FromStr for ListFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(ListFormat::Text),
            "csv" => Ok(ListFormat::Csv),
            "json" => Ok(ListFormat::Json),
            _ => Err(format!(
                "'{s}' is not an output format; use text, csv or json"
            )),
        }
    }
}

/// One line of a port list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortListEntry {
    pub port: u16,
    pub transport: Transport,
    pub class: PortClass,
    pub legacy: bool,
    pub service: Option<String>,
    pub description: Option<String>,
    pub assignee: Option<String>,
    pub registration_date: Option<String>,
    pub tags: Vec<String>,
}

/// Entries for every pair of `class` (optionally one transport), by port.
pub fn port_list(kb: &KnowledgeBase, class: PortClass, t: Option<Transport>) -> Vec<PortListEntry> {
    kb.ports_with_class(class)
        .filter(|(_, x)| t.is_none_or(|t| t == *x))
        .map(|(port, transport)| {
            let v = kb.verdict(port, transport);
            let rec = v.record.as_ref();
            PortListEntry {
                port,
                transport,
                class: v.class,
                legacy: v.legacy,
                service: rec
                    .map(|r| r.service_name.clone())
                    .filter(|s| !s.is_empty()),
                description: rec.map(|r| r.description.clone()).filter(|s| !s.is_empty()),
                assignee: rec.and_then(|r| r.assignee.clone()),
                registration_date: rec.and_then(|r| r.registration_date.clone()),
                tags: v.tags,
            }
        })
        .collect()
}

/// Defuses a CSV cell for spreadsheets (formula injection): a cell that
/// starts with `=`, `+`, `-`, `@`, TAB or CR gets a leading `'`. The one
/// rule for every CSV ghostport writes (reports, `ports`, `registry diff`,
/// `interfaces`, `export`).
pub fn defuse_formula(s: &str) -> std::borrow::Cow<'_, str> {
    match s.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{s}").into(),
        _ => s.into(),
    }
}

/// One cell of a hand-built CSV line (RFC 4180): control and bidi
/// characters escaped ([`sanitize_text`]), the formula
/// [defused](defuse_formula), quoted when it holds a comma or a quote.
pub fn csv_cell(s: &str) -> String {
    let s = sanitize_text(s);
    let s = defuse_formula(&s);
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

/// Render the list of pairs of `class` for `ghostport ports --class C`.
pub fn render_port_list(
    kb: &KnowledgeBase,
    class: PortClass,
    t: Option<Transport>,
    format: ListFormat,
) -> String {
    let entries = port_list(kb, class, t);
    let mut o = String::new();
    match format {
        ListFormat::Json => {
            o = serde_json::to_string_pretty(&entries).unwrap_or_else(|_| "[]".to_owned());
            o.push('\n');
        }
        ListFormat::Csv => {
            o.push_str("port,transport,class,legacy,service,description,assignee,registration_date,tags\r\n");
            for e in &entries {
                let fields = [
                    e.port.to_string(),
                    e.transport.as_str().to_owned(),
                    e.class.as_str().to_owned(),
                    e.legacy.to_string(),
                    e.service.clone().unwrap_or_default(),
                    e.description.clone().unwrap_or_default(),
                    e.assignee.clone().unwrap_or_default(),
                    e.registration_date.clone().unwrap_or_default(),
                    e.tags.join(" "),
                ];
                let line: Vec<String> = fields.iter().map(|f| csv_cell(f)).collect();
                o.push_str(&line.join(","));
                o.push_str("\r\n");
            }
        }
        ListFormat::Text => {
            let _ = writeln!(
                o,
                "# {} {} pairs ({}; {})",
                entries.len(),
                class.as_str(),
                sanitize_text(kb.registry_version()),
                sanitize_text(kb.kb_version())
            );
            for e in &entries {
                let pt = format!("{}/{}", e.port, e.transport.as_str());
                let mut line = format!(
                    "{pt:<12} {:<20} {}",
                    sanitize_text(e.service.as_deref().unwrap_or("-")),
                    sanitize_text(e.description.as_deref().unwrap_or("-"))
                );
                if !e.tags.is_empty() {
                    let _ = write!(line, "  [{}]", e.tags.join(", "));
                }
                o.push_str(line.trim_end());
                o.push('\n');
            }
        }
    }
    o
}

/// The class-count table for `ghostport ports --summary` (Markdown, as quoted
/// in docs/knowledge-base.md).
pub fn render_class_summary(kb: &KnowledgeBase) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Class counts for {}, {}:",
        sanitize_text(kb.registry_version()),
        sanitize_text(kb.kb_version())
    );
    let _ = writeln!(o);
    let _ = writeln!(o, "| class | tcp | udp | total |");
    let _ = writeln!(o, "| --- | ---: | ---: | ---: |");
    for (c, t, u) in kb.class_counts() {
        let _ = writeln!(o, "| {c} | {t} | {u} | {} |", t + u);
    }
    let ghosts = |t: Transport, name: &str| {
        kb.ports_with_class(PortClass::Ghost)
            .filter(|&(p, x)| {
                x == t
                    && match name {
                        "legacy" => kb.is_legacy(p, x),
                        "wrong-transport" => kb.is_wrong_transport(p, x),
                        _ => super::ephemeral_range(p).is_some(),
                    }
            })
            .count()
    };
    for name in ["legacy", "wrong-transport", "ephemeral-range"] {
        let (t, u) = (ghosts(Transport::Tcp, name), ghosts(Transport::Udp, name));
        let _ = writeln!(o, "| ghost, of which {name} | {t} | {u} | {} |", t + u);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_neutralises_controls() {
        assert_eq!(sanitize_text("a\x1b[31mred"), "a\\u{1b}[31mred");
        assert_eq!(sanitize_text("multi\n   line\r\n"), "multi    line ");
        assert_eq!(sanitize_text("x\u{202E}y\u{7f}"), "x\\u{202e}y\\u{7f}");
        assert_eq!(sanitize_text("plain ü"), "plain ü");
    }

    #[test]
    fn verdict_text_386() {
        let kb = KnowledgeBase::builtin();
        let text = render_verdict_text(&kb.verdict(386, Transport::Tcp), kb);
        assert!(text.starts_with("386/tcp: GHOST (legacy)\n"), "{text}");
        assert!(text.contains("[wireshark] no Wireshark dissector registers 386/tcp"));
        assert!(text.contains("service name      asa"));
        assert!(text.contains("data: IANA 2026-02-25; ghostport-kb 1 ("));
    }

    #[test]
    fn hostile_registry_strings_are_neutralised() {
        let kb = KnowledgeBase::builtin();
        let mut rows = kb.registry_rows().to_vec();
        if let Some(r) = rows.iter_mut().find(|r| r.service_name == "asa") {
            r.description = "evil\x1b]0;pwned\x07\nfake line".to_owned();
        }
        let kb2 = kb.with_registry(rows, Some("test".to_owned()));
        let v = kb2.verdict(386, Transport::Tcp);
        let text = render_verdict_text(&v, &kb2);
        assert!(!text.contains('\x1b') && !text.contains('\x07'));
        assert!(text.contains("evil\\u{1b}]0;pwned\\u{7} fake line"));
        let csv = render_port_list(
            &kb2,
            PortClass::Ghost,
            Some(Transport::Tcp),
            ListFormat::Csv,
        );
        assert!(!csv.contains('\x1b'));
    }

    #[test]
    fn class_summary_adds_up() {
        let kb = KnowledgeBase::builtin();
        let s = render_class_summary(kb);
        let ghost = kb.count(PortClass::Ghost, None);
        assert!(s.contains(&format!(
            "| ghost | {} | {} | {ghost} |",
            kb.count(PortClass::Ghost, Some(Transport::Tcp)),
            kb.count(PortClass::Ghost, Some(Transport::Udp))
        )));
        assert!(s.contains("| ghost, of which wrong-transport |"));
        let totals: usize = s
            .lines()
            .filter(|l| {
                l.starts_with("| ") && !l.starts_with("| ghost, of") && !l.starts_with("| class")
            })
            .filter_map(|l| {
                l.trim_end_matches(" |")
                    .rsplit(" | ")
                    .next()?
                    .parse::<usize>()
                    .ok()
            })
            .sum();
        assert_eq!(totals, 65536 * 2);
    }

    #[test]
    fn list_formats() {
        let kb = KnowledgeBase::builtin();
        let csv = render_port_list(kb, PortClass::Ghost, None, ListFormat::Csv);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert!(lines[0].starts_with("port,transport,class"));
        assert_eq!(lines.len(), kb.count(PortClass::Ghost, None) + 2);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("386,tcp,ghost,true,asa,"))
        );
        assert_eq!(csv_cell("a,\"b\""), "\"a,\"\"b\"\"\"");
        let json = render_port_list(
            kb,
            PortClass::Reserved,
            Some(Transport::Tcp),
            ListFormat::Json,
        );
        let parsed: Result<Vec<serde_json::Value>, _> = serde_json::from_str(&json);
        assert!(parsed.is_ok_and(|v| v.iter().any(|e| e["port"] == 0 && e["class"] == "reserved")));
        let text = render_port_list(kb, PortClass::Ghost, Some(Transport::Udp), ListFormat::Text);
        assert!(
            text.lines()
                .any(|l| l.starts_with("384/udp") && l.contains("arns"))
        );
        assert_eq!("CSV".parse::<ListFormat>(), Ok(ListFormat::Csv));
        assert!("xml".parse::<ListFormat>().is_err());
    }
}
