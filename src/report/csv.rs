//! CSV (RFC 4180, via the `csv` crate): one row per finding, and with
//! `--all-flows` one more row per flow (column `record` tells which). Every
//! cell that starts with `=`, `+`, `-`, `@`, TAB or CR gets a leading `'`, so a
//! spreadsheet never evaluates capture-controlled text as a formula. Columns
//! are listed in [`COLUMNS`] and described in `docs/report.md`.

use std::collections::HashMap;
use std::io::{self, Write};

use super::Report;
use crate::Transport;
use crate::classify::{FindingKind, FlowRecord};
use crate::timefmt::rfc3339_micros;

/// The header row.
pub const COLUMNS: &[&str] = &[
    "record",
    "id",
    "finding",
    "severity",
    "score",
    "kind",
    "transport",
    "client_ip",
    "client_port",
    "server_ip",
    "server_port",
    "service",
    "class",
    "first_seen",
    "last_seen",
    "flows",
    "answered",
    "c2s_packets",
    "c2s_bytes",
    "c2s_payload_bytes",
    "s2c_packets",
    "s2c_bytes",
    "s2c_payload_bytes",
    "clients_total",
    "clients",
    "protocol",
    "identification",
    "sni",
    "behaviours",
    "attack",
    "community_id",
    "bpf",
    "wireshark",
    "evidence_file",
    "title",
    "reasons",
];

/// Makes a cell safe for spreadsheets (formula injection): the shared
/// rule, [`crate::knowledge::render::defuse_formula`].
pub fn safe_cell(s: &str) -> String {
    crate::knowledge::render::defuse_formula(s).into_owned()
}

fn flow_ident(r: &FlowRecord) -> (String, String, String) {
    match &r.identification {
        Some(i) => (
            serde_json::to_value(i.protocol)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            i.summary.clone(),
            i.field("tls.sni").unwrap_or_default().to_string(),
        ),
        None => Default::default(),
    }
}

/// Writes the CSV.
pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    let cerr = |e: csv::Error| io::Error::other(e.to_string());
    w.write_record(COLUMNS).map_err(cerr)?;
    let mut by_endpoint: HashMap<(Transport, std::net::IpAddr, u16), &str> = HashMap::new();
    for f in &report.findings {
        if f.kind == FindingKind::GhostPort {
            by_endpoint.insert((f.transport, f.server.ip, f.server.port), &f.id);
        }
        let t = &f.totals;
        let service = f
            .verdict
            .as_ref()
            .and_then(|v| v.record.as_ref())
            .map(|r| r.service_name.clone())
            .unwrap_or_default();
        let class = f
            .verdict
            .as_ref()
            .map(|v| v.class.as_str().to_string())
            .unwrap_or_default();
        let protocol = f
            .protocols
            .iter()
            .filter_map(|p| {
                serde_json::to_value(p.identification.protocol)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
            })
            .collect::<Vec<_>>()
            .join(" ");
        let ident = f
            .protocols
            .iter()
            .map(|p| p.identification.summary.as_str())
            .collect::<Vec<_>>()
            .join(" | ");
        let sni = f
            .protocols
            .iter()
            .filter_map(|p| p.identification.field("tls.sni"))
            .collect::<Vec<_>>()
            .join(" ");
        let cids = f
            .flows
            .iter()
            .map(|r| r.community_id.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let (bpf, ws) = f
            .filter
            .as_ref()
            .map(|x| (x.bpf.clone(), x.wireshark.clone()))
            .unwrap_or_default();
        let row: Vec<String> = vec![
            "finding".into(),
            f.id.clone(),
            f.id.clone(),
            f.severity.level.as_str().into(),
            f.severity.score.to_string(),
            serde_json::to_value(f.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            f.transport.to_string(),
            String::new(),
            String::new(),
            f.server.ip.to_string(),
            if f.kind == FindingKind::Sweep {
                String::new()
            } else {
                f.server.port.to_string()
            },
            service,
            class,
            rfc3339_micros(f.first_ts),
            rfc3339_micros(f.last_ts),
            t.flows.to_string(),
            t.answered.to_string(),
            t.c2s.packets.to_string(),
            t.c2s.bytes.to_string(),
            t.c2s.payload_bytes.to_string(),
            t.s2c.packets.to_string(),
            t.s2c.bytes.to_string(),
            t.s2c.payload_bytes.to_string(),
            f.clients_total.to_string(),
            f.clients
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            protocol,
            ident,
            sni,
            f.behaviours
                .iter()
                .map(|b| b.kind)
                .collect::<Vec<_>>()
                .join(" "),
            f.attack
                .iter()
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            cids,
            bpf,
            ws,
            report.evidence_file(&f.id).unwrap_or_default(),
            f.title.clone(),
            f.severity.reasons.join(" | "),
        ];
        w.write_record(row.iter().map(|c| safe_cell(c)))
            .map_err(cerr)?;
    }
    for r in report.flows.iter().flatten() {
        let finding = by_endpoint
            .get(&(r.transport, r.server.ip, r.server.port))
            .copied()
            .unwrap_or_default();
        let (protocol, ident, sni) = flow_ident(r);
        let (bpf, ws) = r
            .filter
            .as_ref()
            .map(|x| (x.bpf.clone(), x.wireshark.clone()))
            .unwrap_or_default();
        let row: Vec<String> = vec![
            "flow".into(),
            r.id.to_string(),
            finding.to_string(),
            String::new(),
            String::new(),
            String::new(),
            r.transport.to_string(),
            r.client.ip.to_string(),
            r.client.port.to_string(),
            r.server.ip.to_string(),
            r.server.port.to_string(),
            String::new(),
            String::new(),
            rfc3339_micros(r.first_ts),
            rfc3339_micros(r.last_ts),
            "1".into(),
            u8::from(r.answered).to_string(),
            r.c2s.packets.to_string(),
            r.c2s.bytes.to_string(),
            r.c2s.payload_bytes.to_string(),
            r.s2c.packets.to_string(),
            r.s2c.bytes.to_string(),
            r.s2c.payload_bytes.to_string(),
            "1".into(),
            r.client.ip.to_string(),
            protocol,
            ident,
            sni,
            String::new(),
            String::new(),
            r.community_id.clone(),
            bpf,
            ws,
            String::new(),
            String::new(),
            String::new(),
        ];
        w.write_record(row.iter().map(|c| safe_cell(c)))
            .map_err(cerr)?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused() {
        for s in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(safe_cell(s).starts_with('\''), "{s:?}");
        }
        for s in ["192.0.2.1", "::1", "tls", ""] {
            assert_eq!(safe_cell(s), s);
        }
    }
}
