//! Import of a user-downloaded IANA registry (CSV or XML form) and diff of two
//! registry states under ghostport's classification.
//!
//! ```text
//! let rows = parse_registry_xml(&std::fs::read_to_string("service-names-port-numbers.xml")?)?;
//! let newer = KnowledgeBase::builtin().with_registry(rows, None);
//! for change in diff(KnowledgeBase::builtin(), &newer) { ... }
//! ```
//!
//! Only rows that carry a port number and a tcp, udp or empty (= both)
//! transport are kept; port-less service names and sctp/dccp rows are skipped.

use serde::Serialize;

use super::{KnowledgeBase, PortClass, pair_key};
use crate::Transport;

/// A port or an inclusive port range as written in the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

impl PortRange {
    /// Parse "386" or "272-279" (lo <= hi). `None` when malformed.
    pub fn parse(s: &str) -> Option<PortRange> {
        let s = s.trim();
        let (lo, hi) = match s.split_once('-') {
            Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
            None => {
                let p = s.parse().ok()?;
                (p, p)
            }
        };
        (lo <= hi).then_some(PortRange { lo, hi })
    }

    pub fn contains(self, port: u16) -> bool {
        self.lo <= port && port <= self.hi
    }

    pub fn is_single(self) -> bool {
        self.lo == self.hi
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// One tcp/udp row of the IANA registry (all text as in the registry; empty = absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryRow {
    /// 1-based line in the source file (CSV record start / XML element), for messages.
    pub line: usize,
    pub port: PortRange,
    /// `None`: the row applies to tcp and udp (empty Transport Protocol column).
    pub transport: Option<Transport>,
    pub service_name: String,
    pub description: String,
    pub assignee: String,
    pub contact: String,
    pub registration_date: String,
    pub modification_date: String,
    pub reference: String,
    pub unauthorized_use_reported: String,
    pub assignment_notes: String,
}

impl RegistryRow {
    pub fn covers(&self, port: u16, t: Transport) -> bool {
        self.port.contains(port) && self.transport.is_none_or(|x| x == t)
    }
}

/// Error importing a registry file. Messages name the line and field.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    #[error("line {line}, field '{field}': {message}")]
    Field {
        line: usize,
        field: String,
        message: String,
    },
    #[error(
        "line {line}: {message} (expected IANA's service-names-port-numbers.csv or .xml as downloaded from iana.org)"
    )]
    Format { line: usize, message: String },
}

fn field_err(line: usize, field: &str, message: String) -> ImportError {
    ImportError::Field {
        line,
        field: field.to_owned(),
        message,
    }
}

fn parse_port_field(s: &str, line: usize, field: &str) -> Result<PortRange, ImportError> {
    PortRange::parse(s).ok_or_else(|| {
        field_err(
            line,
            field,
            format!(
                "'{}' is not a port or range (expected N or N-M with 0 <= N <= M <= 65535)",
                s.escape_debug()
            ),
        )
    })
}

/// `Ok(None)` = skip the row (sctp/dccp).
fn parse_transport_field(
    s: &str,
    line: usize,
    field: &str,
) -> Result<Option<Option<Transport>>, ImportError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "tcp" => Ok(Some(Some(Transport::Tcp))),
        "udp" => Ok(Some(Some(Transport::Udp))),
        "" => Ok(Some(None)),
        "sctp" | "dccp" => Ok(None),
        _ => Err(field_err(
            line,
            field,
            format!(
                "'{}' is not a transport (expected tcp, udp, sctp, dccp or empty)",
                s.escape_debug()
            ),
        )),
    }
}

const CSV_COLUMNS: [&str; 11] = [
    "Service Name",
    "Port Number",
    "Transport Protocol",
    "Description",
    "Assignee",
    "Contact",
    "Registration Date",
    "Modification Date",
    "Reference",
    "Unauthorized Use Reported",
    "Assignment Notes",
];

/// Parse IANA's `service-names-port-numbers.csv` (RFC 4180). Columns are found
/// by header name; "Service Name", "Port Number" and "Transport Protocol" are required.
pub fn parse_registry_csv(text: &str) -> Result<Vec<RegistryRow>, ImportError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| ImportError::Format {
            line: 1,
            message: format!("cannot read the CSV header: {e}"),
        })?
        .clone();
    let mut idx = [None; 11];
    for (i, name) in CSV_COLUMNS.iter().enumerate() {
        idx[i] = headers.iter().position(|h| h.trim() == *name);
    }
    for (i, name) in CSV_COLUMNS.iter().enumerate().take(3) {
        if idx[i].is_none() {
            return Err(ImportError::Format {
                line: 1,
                message: format!("the header has no '{name}' column"),
            });
        }
    }
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let more = rdr.read_record(&mut record).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            ImportError::Format {
                line,
                message: format!("malformed CSV: {e}"),
            }
        })?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.len() > headers.len() {
            return Err(ImportError::Format {
                line,
                message: format!(
                    "{} fields but the header has {} columns",
                    record.len(),
                    headers.len()
                ),
            });
        }
        let get = |i: usize| -> String {
            idx[i]
                .and_then(|c| record.get(c))
                .unwrap_or_default()
                .to_owned()
        };
        let port_text = get(1);
        if port_text.trim().is_empty() {
            continue; // port-less service name
        }
        let Some(transport) = parse_transport_field(&get(2), line, CSV_COLUMNS[2])? else {
            continue;
        };
        let port = parse_port_field(&port_text, line, CSV_COLUMNS[1])?;
        rows.push(RegistryRow {
            line,
            port,
            transport,
            service_name: get(0),
            description: get(3),
            assignee: get(4),
            contact: get(5),
            registration_date: get(6),
            modification_date: get(7),
            reference: get(8),
            unauthorized_use_reported: get(9),
            assignment_notes: get(10),
        });
    }
    Ok(rows)
}

fn xml_text(node: roxmltree::Node<'_, '_>) -> String {
    let mut out = String::new();
    for d in node.descendants() {
        if d.is_text() {
            out.push_str(d.text().unwrap_or_default());
        } else if d.is_element() {
            match d.tag_name().name() {
                "br" => out.push('\n'),
                "xref" if d.text().is_none() => {
                    if let Some(data) = d.attribute("data") {
                        out.push_str(&format!("[{data}]"));
                    }
                }
                _ => {}
            }
        }
    }
    out.trim().to_owned()
}

fn xref_rendering(x: roxmltree::Node<'_, '_>) -> Option<String> {
    let data = x.attribute("data").unwrap_or_default();
    let text = x.text().map(str::trim).unwrap_or_default();
    match x.attribute("type").unwrap_or_default() {
        "rfc" => Some(format!("[{}]", data.to_ascii_uppercase())),
        "draft" | "uri" if !data.is_empty() => Some(format!("[{data}]")),
        "text" if !text.is_empty() => Some(format!("[{text}]")),
        _ => None,
    }
}

/// Parse IANA's `service-names-port-numbers.xml`.
pub fn parse_registry_xml(text: &str) -> Result<Vec<RegistryRow>, ImportError> {
    parse_registry_xml_dated(text).map(|(rows, _)| rows)
}

/// Like [`parse_registry_xml`], also returning the registry's `<updated>`
/// date (the registry state; newer than any record date when IANA last
/// changed a record without dating it).
pub fn parse_registry_xml_dated(
    text: &str,
) -> Result<(Vec<RegistryRow>, Option<String>), ImportError> {
    let doc = roxmltree::Document::parse(text).map_err(|e| ImportError::Format {
        line: e.pos().row as usize,
        message: format!("not well-formed XML: {e}"),
    })?;
    let root = doc.root_element();
    if root.tag_name().name() != "registry" {
        return Err(ImportError::Format {
            line: doc.text_pos_at(root.range().start).row as usize,
            message: format!(
                "root element is <{}>, not <registry>",
                root.tag_name().name()
            ),
        });
    }
    let mut rows = Vec::new();
    // roxmltree's text_pos_at scans from the start; count lines incrementally
    // instead (records come in document order).
    let (mut pos, mut line) = (0usize, 1usize);
    for rec in root
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "record")
    {
        let start = rec.range().start;
        if start >= pos {
            line += text.get(pos..start).map_or(0, |s| s.matches('\n').count());
            pos = start;
        }
        let child = |name: &str| {
            rec.children()
                .find(|c| c.is_element() && c.tag_name().name() == name)
        };
        let Some(number) = child("number") else {
            continue; // port-less service name
        };
        let proto = child("protocol").map(xml_text).unwrap_or_default();
        let Some(transport) = parse_transport_field(&proto, line, "protocol")? else {
            continue;
        };
        let port = parse_port_field(&xml_text(number), line, "number")?;
        let mut contact = String::new();
        let mut reference = String::new();
        for x in rec
            .children()
            .filter(|c| c.is_element() && c.tag_name().name() == "xref")
        {
            if x.attribute("type") == Some("person") {
                contact.push_str(&format!("[{}]", x.attribute("data").unwrap_or_default()));
            } else if let Some(r) = xref_rendering(x) {
                reference.push_str(&r);
            }
        }
        let assignee = child("assignee")
            .map(xml_text)
            .unwrap_or_else(|| contact.clone());
        rows.push(RegistryRow {
            line,
            port,
            transport,
            service_name: child("name").map(xml_text).unwrap_or_default(),
            description: child("description").map(xml_text).unwrap_or_default(),
            assignee,
            contact,
            registration_date: rec.attribute("date").unwrap_or_default().to_owned(),
            modification_date: rec.attribute("updated").unwrap_or_default().to_owned(),
            reference,
            unauthorized_use_reported: child("unauthorized").map(xml_text).unwrap_or_default(),
            assignment_notes: child("note").map(xml_text).unwrap_or_default(),
        });
    }
    if rows.is_empty() {
        return Err(ImportError::Format {
            line: 1,
            message: "no <record> with a <number> found".to_owned(),
        });
    }
    let updated = root
        .children()
        .find(|c| c.is_element() && c.tag_name().name() == "updated")
        .map(xml_text)
        .filter(|d| !d.is_empty());
    Ok((rows, updated))
}

/// Newest Registration/Modification Date in the rows ("YYYY-MM-DD"), the
/// registry state a CSV/XML file reflects.
pub fn latest_date(rows: &[RegistryRow]) -> Option<&str> {
    rows.iter()
        .flat_map(|r| [r.registration_date.as_str(), r.modification_date.as_str()])
        .filter(|d| !d.is_empty())
        .max()
}

/// Fewest tcp/udp rows a registry file must have to replace the built-in
/// one (IANA's has had more than 11,000 since 2010; 13,343 in 2026).
pub const MIN_ROWS: usize = 5_000;

/// Widest port range one row may cover: IANA's widest is an unassigned
/// block of 829 ports (29170-29998); no assignment spans more than a few
/// dozen.
pub const MAX_RANGE: u32 = 1_024;

/// Why a parsed registry cannot be the IANA registry, if it cannot: too
/// few rows (a header-only or truncated file would leave no ghost port), a
/// row wider than IANA ever uses (`1-65535` would make every port one
/// service), or no row for the two ghost ports every IANA registry since
/// 1994 lists (384 arns, 386 asa, tcp and udp).
pub fn implausible(rows: &[RegistryRow]) -> Option<String> {
    if rows.len() < MIN_ROWS {
        return Some(format!(
            "it has {} tcp/udp rows; IANA's registry has more than {MIN_ROWS}",
            rows.len()
        ));
    }
    if let Some(r) = rows
        .iter()
        .find(|r| u32::from(r.port.hi) - u32::from(r.port.lo) + 1 > MAX_RANGE)
    {
        return Some(format!(
            "line {}: the range {} covers {} ports; no IANA row covers more than {MAX_RANGE}",
            r.line,
            r.port,
            u32::from(r.port.hi) - u32::from(r.port.lo) + 1
        ));
    }
    for port in [384u16, 386] {
        for t in [Transport::Tcp, Transport::Udp] {
            if !rows
                .iter()
                .any(|r| r.port.is_single() && r.covers(port, t) && !r.service_name.is_empty())
            {
                return Some(format!(
                    "it has no row assigning {port}/{t}, which every IANA registry lists"
                ));
            }
        }
    }
    None
}

/// What changed for one port/transport pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Class,
    ServiceName,
    Description,
}

/// A port/transport pair whose class, service name or description differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClassChange {
    pub port: u16,
    pub transport: Transport,
    pub changes: Vec<ChangeKind>,
    pub old_class: PortClass,
    pub new_class: PortClass,
    /// Service names (comma-joined when several rows share the pair).
    pub old_service: Option<String>,
    pub new_service: Option<String>,
    pub old_description: Option<String>,
    pub new_description: Option<String>,
}

/// Pairs whose class, service name or description differ between two
/// knowledge bases (normally the built-in one and
/// [`KnowledgeBase::with_registry`] on an imported file, which share the
/// built-in implementation evidence). Sorted by port, then tcp before udp.
pub fn diff(old: &KnowledgeBase, new: &KnowledgeBase) -> Vec<ClassChange> {
    let mut out = Vec::new();
    for port in 0..=u16::MAX {
        for t in [Transport::Tcp, Transport::Udp] {
            let key = pair_key(port, t);
            let (oc, nc) = (old.class(port, t), new.class(port, t));
            if oc == nc && !old.has_rows(key) && !new.has_rows(key) {
                continue;
            }
            let (on, od) = old.pair_summary(key);
            let (nn, nd) = new.pair_summary(key);
            let mut changes = Vec::new();
            if oc != nc {
                changes.push(ChangeKind::Class);
            }
            if on != nn {
                changes.push(ChangeKind::ServiceName);
            }
            if od != nd {
                changes.push(ChangeKind::Description);
            }
            if !changes.is_empty() {
                out.push(ClassChange {
                    port,
                    transport: t,
                    changes,
                    old_class: oc,
                    new_class: nc,
                    old_service: on,
                    new_service: nn,
                    old_description: od,
                    new_description: nd,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported,Assignment Notes\n";

    #[test]
    fn csv_small_ok() {
        let text = format!(
            "{HEADER}asa,386,tcp,\"ASA, \"\"quoted\"\"\",[X],[X],,,,,,\n,1000-1010,,Unassigned,,,,,,,,\nfoo,,,port-less,,,,,,,,\nbar,999,sctp,x,,,,,,,,\n"
        );
        let rows = parse_registry_csv(&text);
        let rows = rows.as_deref().unwrap_or_default();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].description, "ASA, \"quoted\"");
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[1].port, PortRange { lo: 1000, hi: 1010 });
        assert_eq!(rows[1].transport, None);
    }

    #[test]
    fn csv_malformed_names_line_and_field() {
        let text = format!("{HEADER}a,1,tcp,,,,,,,,,\nb,38x,tcp,,,,,,,,,\n");
        let e = parse_registry_csv(&text).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(
                "line 3, field 'Port Number': '38x' is not a port or range (expected N or N-M with 0 <= N <= M <= 65535)"
            )
        );
        let text = format!("{HEADER}a,70000,tcp,,,,,,,,,\n");
        assert!(parse_registry_csv(&text).is_err());
        let text = format!("{HEADER}a,20-10,tcp,,,,,,,,,\n");
        assert!(parse_registry_csv(&text).is_err());
        let text = format!("{HEADER}a,10,tpc,,,,,,,,,\n");
        let e = parse_registry_csv(&text).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("line 2, field 'Transport Protocol'")));
        let e = parse_registry_csv("Name,Port\nx,1\n")
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("no 'Service Name' column")));
        // unterminated quote / too many fields
        let text = format!("{HEADER}a,1,tcp,,,,,,,,,,,,,,\n");
        assert!(parse_registry_csv(&text).is_err());
    }

    #[test]
    fn xml_small_and_malformed() {
        let ok = r#"<?xml version="1.0"?><registry xmlns="http://www.iana.org/assignments">
<record date="2020-01-01"><name>x</name><protocol>udp</protocol>
<assignee><xref type="person" data="A_B"/></assignee><xref type="person" data="C_D"/>
<xref type="rfc" data="rfc1234"/><description>X<br/>Y</description><number>4000</number></record>
<record><name>y</name><description>port-less</description></record>
</registry>"#;
        let rows = parse_registry_xml(ok).unwrap_or_default();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].reference, "[RFC1234]");
        assert_eq!(rows[0].assignee, "[A_B]");
        assert_eq!(rows[0].contact, "[C_D]");
        assert_eq!(rows[0].description, "X\nY");
        assert_eq!(rows[0].line, 2);
        let bad = "<registry>\n<record><number>12a</number></record></registry>";
        let e = parse_registry_xml(bad).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.starts_with("line 2, field 'number': '12a'")));
        assert!(parse_registry_xml("<registry><record>").is_err());
        assert!(parse_registry_xml("<html/>").is_err());
    }

    #[test]
    fn real_xml_2026_08_17_diff() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/iana/service-names-port-numbers-2026-08-17.xml"
        );
        let Some(text) = std::fs::read_to_string(path).ok() else {
            eprintln!("skipped: 2026-08-17 XML not found at {path}");
            return;
        };
        let (rows, updated) = match parse_registry_xml_dated(&text) {
            Ok(r) => r,
            Err(e) => panic!("real XML failed to parse: {e}"),
        };
        assert_eq!(updated.as_deref(), Some("2026-08-17"));
        assert_eq!(latest_date(&rows), Some("2026-07-23"));
        let old = KnowledgeBase::builtin();
        let new = old.with_registry(rows, updated.map(|d| format!("IANA {d} (imported)")));
        assert_eq!(new.registry_version(), "IANA 2026-08-17 (imported)");
        let changes = diff(old, &new);
        let find = |p: u16, t: Transport| changes.iter().find(|c| c.port == p && c.transport == t);
        let epp = find(700, Transport::Udp);
        assert!(
            epp.is_some_and(|c| c.changes.contains(&ChangeKind::Description)
                && c.new_description.as_deref() == Some("EPP running over QUIC"))
        );
        let agtp = find(4480, Transport::Tcp);
        assert!(agtp.is_some_and(|c| c.old_class == PortClass::Unassigned
            && c.new_class == PortClass::Ghost
            && c.new_service.as_deref() == Some("agtp")));
        // 7123/udp Reserved -> snif; 4794/tcp Unassigned -> Reserved
        assert!(
            find(7123, Transport::Udp).is_some_and(|c| c.new_service.as_deref() == Some("snif"))
        );
        assert!(find(4794, Transport::Tcp).is_some_and(|c| c.new_class == PortClass::Reserved));
        // nothing else moved in the tcp 0-1023 range
        assert!(changes.iter().all(|c| c.port >= 1024 || c.port == 700));
    }
}
