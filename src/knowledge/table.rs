//! Parser for `data/knowledge.tsv`, the table written by `src/knowledge/data/gen-knowledge.py`.
//!
//! The table holds facts only (IANA rows and per-port evidence); classification
//! happens in [`super::classify`]. See the script's docstring for the format.

use std::collections::HashMap;

use super::registry::{PortRange, RegistryRow};
use super::{AbuseRef, KnowledgeError, RowView, pair_key};
use crate::Transport;

/// Table format version this code understands (`#ghostport-kb` header line).
pub const FORMAT_VERSION: &str = "1";

/// One input file named in the table header.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SourceInput {
    /// Short key: iana, wireshark, detectors, mitre-attack, netbase, curated, firewalld.
    pub key: String,
    /// Path inside the repository.
    pub path: String,
    /// Hex sha256 of the input file.
    pub sha256: String,
}

/// An entry of the curated de-facto list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Curated {
    pub software: String,
    pub abuse_relevant: bool,
    pub source: String,
}

/// Implementation/abuse evidence for one port/transport pair.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PairFacts {
    /// Wireshark dissector names.
    pub wireshark: Vec<String>,
    /// (source, protocol) with source ndpi|zeek|suricata.
    pub detectors: Vec<(String, String)>,
    /// (name, aliases) from netbase /etc/services.
    pub netbase: Vec<(String, String)>,
    /// (service file name, short name) from firewalld's service definitions.
    pub firewalld: Vec<(String, String)>,
    pub curated: Vec<Curated>,
    pub abuse: Vec<AbuseRef>,
}

/// All non-registry evidence, keyed by [`pair_key`].
#[derive(Clone, Debug, Default)]
pub struct Evidence {
    pub(crate) map: HashMap<u32, PairFacts>,
}

impl Evidence {
    pub(crate) fn get(&self, key: u32) -> Option<&PairFacts> {
        self.map.get(&key)
    }

    /// Wireshark, detector, netbase or firewalld evidence (not the registry Reference,
    /// not the curated list). Port 0 never counts: tools list port 0 for
    /// dissectors whose port preference is unset.
    pub(crate) fn independent(&self, key: u32) -> bool {
        if key >> 1 == 0 {
            return false;
        }
        self.get(key).is_some_and(|f| {
            !f.wireshark.is_empty()
                || !f.detectors.is_empty()
                || !f.netbase.is_empty()
                || !f.firewalld.is_empty()
        })
    }

    pub(crate) fn curated(&self, key: u32) -> bool {
        self.get(key).is_some_and(|f| !f.curated.is_empty())
    }
}

/// Parsed table: header data, registry rows and evidence.
pub(crate) struct Table<'a> {
    pub registry_version: String,
    pub body_sha256: String,
    pub inputs: Vec<SourceInput>,
    /// Validated R lines, materialised later with [`materialize`].
    pub row_lines: Vec<RowLine>,
    /// Borrowed views of the same rows, for classification.
    pub views: Vec<RowView<'a>>,
    pub evidence: Evidence,
}

/// Position of a validated R line in the table text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowLine {
    pub line: usize,
    pub start: usize,
    pub end: usize,
    pub port: PortRange,
    pub transport: Option<Transport>,
}

fn row_fields<'a>(text: &'a str, l: &RowLine) -> [&'a str; 12] {
    let mut out = [""; 12];
    let raw = text.get(l.start..l.end).unwrap_or_default();
    for (slot, f) in out.iter_mut().zip(raw.split('\t')) {
        *slot = f;
    }
    out
}

/// Full owned row.
pub(crate) fn materialize(text: &str, l: &RowLine) -> RegistryRow {
    let f = row_fields(text, l);
    let assignee = unescape(f[5]);
    let contact = match f[6] {
        "=" => assignee.clone(),
        other => unescape(other),
    };
    RegistryRow {
        line: l.line,
        port: l.port,
        transport: l.transport,
        service_name: unescape(f[3]),
        description: unescape(f[4]),
        assignee,
        contact,
        registration_date: unescape(f[7]),
        modification_date: unescape(f[8]),
        reference: unescape(f[9]),
        unauthorized_use_reported: unescape(f[10]),
        assignment_notes: unescape(f[11]),
    }
}

fn unescape(s: &str) -> String {
    if !s.as_bytes().contains(&b'\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn err(line: usize, message: impl Into<String>) -> KnowledgeError {
    KnowledgeError::Table {
        line,
        message: message.into(),
    }
}

fn parse_port(s: &str, line: usize) -> Result<u16, KnowledgeError> {
    s.parse::<u16>()
        .map_err(|_| err(line, format!("'{s}' is not a port number 0-65535")))
}

fn parse_transport(s: &str, line: usize) -> Result<Transport, KnowledgeError> {
    match s {
        "tcp" => Ok(Transport::Tcp),
        "udp" => Ok(Transport::Udp),
        _ => Err(err(line, format!("transport '{s}' is not tcp or udp"))),
    }
}

fn expect_fields<'a, 'b>(
    fields: &'b [&'a str],
    n: usize,
    line: usize,
    kind: &str,
) -> Result<&'b [&'a str], KnowledgeError> {
    if fields.len() == n {
        Ok(fields)
    } else {
        Err(err(
            line,
            format!(
                "record type {kind} needs {n} tab-separated fields, found {}",
                fields.len()
            ),
        ))
    }
}

/// `line.split('\t')` into `out`, without the iterator overhead (hot at startup).
fn split_tabs<'a>(line: &'a str, out: &mut Vec<&'a str>) {
    out.clear();
    let mut start = 0;
    for (i, &b) in line.as_bytes().iter().enumerate() {
        if b == b'\t' {
            out.push(line.get(start..i).unwrap_or_default());
            start = i + 1;
        }
    }
    out.push(line.get(start..).unwrap_or_default());
}

pub(crate) fn parse(text: &str) -> Result<Table<'_>, KnowledgeError> {
    let mut registry_version = None;
    let mut body_sha256 = String::new();
    let mut version_seen = false;
    let mut inputs = Vec::new();
    let mut row_lines = Vec::with_capacity(8192);
    let mut views = Vec::with_capacity(8192);
    let mut evidence = Evidence::default();
    let mut fields: Vec<&str> = Vec::with_capacity(12);

    let mut offset = 0usize;
    for (idx, raw_nl) in text.split_inclusive('\n').enumerate() {
        let line = idx + 1;
        let start = offset;
        offset += raw_nl.len();
        let raw = raw_nl.strip_suffix('\n').unwrap_or(raw_nl);
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.is_empty() {
            continue;
        }
        split_tabs(raw, &mut fields);
        let kind = fields.first().copied().unwrap_or_default();
        if let Some(tag) = kind.strip_prefix('#') {
            match (tag, fields.len()) {
                ("ghostport-kb", 2) => {
                    if fields[1] != FORMAT_VERSION {
                        return Err(err(
                            line,
                            format!(
                                "table format {} is not the supported format {FORMAT_VERSION}",
                                fields[1]
                            ),
                        ));
                    }
                    version_seen = true;
                }
                ("registry", 2) => registry_version = Some(fields[1].to_owned()),
                ("body-sha256", 2) => body_sha256 = fields[1].to_owned(),
                ("input", 4) => inputs.push(SourceInput {
                    key: fields[1].to_owned(),
                    path: fields[2].to_owned(),
                    sha256: fields[3].trim_start_matches("sha256:").to_owned(),
                }),
                _ => {} // comments and unknown header lines are ignored
            }
            continue;
        }
        if !version_seen {
            return Err(err(line, "missing '#ghostport-kb' header line before data"));
        }
        match kind {
            "R" => {
                let f = expect_fields(&fields, 12, line, "R")?;
                let port = PortRange::parse(f[1])
                    .ok_or_else(|| err(line, format!("'{}' is not a port or port range", f[1])))?;
                let transport = match f[2] {
                    "both" => None,
                    other => Some(parse_transport(other, line)?),
                };
                // fields are escaped, so classification sees escaped text;
                // that is consistent for the comparisons it makes
                views.push(RowView {
                    port,
                    transport,
                    service_name: f[3],
                    description: f[4],
                    reference: f[9],
                    registration_date: f[7],
                    modification_date: f[8],
                });
                row_lines.push(RowLine {
                    line,
                    start,
                    end: start + raw.len(),
                    port,
                    transport,
                });
            }
            "W" | "D" | "N" | "F" | "C" | "A" => {
                let n = match kind {
                    "W" => 4,
                    "D" | "N" | "F" => 5,
                    _ => 6,
                };
                let f = expect_fields(&fields, n, line, kind)?;
                let port = parse_port(f[1], line)?;
                let t = parse_transport(f[2], line)?;
                let facts = evidence.map.entry(pair_key(port, t)).or_default();
                match kind {
                    "W" => facts.wireshark.push(unescape(f[3])),
                    "D" => facts.detectors.push((unescape(f[3]), unescape(f[4]))),
                    "N" => facts.netbase.push((unescape(f[3]), unescape(f[4]))),
                    "F" => facts.firewalld.push((unescape(f[3]), unescape(f[4]))),
                    "C" => facts.curated.push(Curated {
                        software: unescape(f[3]),
                        abuse_relevant: f[4] == "abuse-relevant",
                        source: unescape(f[5]),
                    }),
                    _ => facts.abuse.push(AbuseRef {
                        software: unescape(f[3]),
                        attack_id: unescape(f[4]),
                        source: "mitre-attack".to_owned(),
                        transport_as_written: unescape(f[5]),
                    }),
                }
            }
            other => {
                return Err(err(line, format!("unknown record type '{other}'")));
            }
        }
    }
    let registry_version =
        registry_version.ok_or_else(|| err(0, "missing '#registry' header line"))?;
    Ok(Table {
        registry_version,
        body_sha256,
        inputs,
        row_lines,
        views,
        evidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_roundtrip() {
        assert_eq!(unescape(r"a\tb\nc\\d\re"), "a\tb\nc\\d\re");
        assert_eq!(unescape("plain"), "plain");
        assert_eq!(unescape("trailing\\"), "trailing\\");
    }

    #[test]
    fn rejects_bad_lines() {
        let head = "#ghostport-kb\t1\n#registry\tIANA test\n";
        let bad_port = format!("{head}W\t7x\ttcp\techo\n");
        let e = parse(&bad_port)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("line 3") && e.contains("'7x'"), "{e}");
        let bad_kind = format!("{head}Z\t7\ttcp\n");
        assert!(parse(&bad_kind).is_err());
        let short = format!("{head}R\t7\ttcp\techo\n");
        let e = parse(&short)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("needs 12"), "{e}");
        assert!(parse("W\t7\ttcp\techo\n").is_err());
        assert!(parse("#ghostport-kb\t9\n").is_err());
    }
}
