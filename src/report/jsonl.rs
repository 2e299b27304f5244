//! JSON Lines: one JSON object per finding, for a SIEM. Field names follow
//! the Elastic Common Schema (ECS) where one fits (`@timestamp`, `event.*`,
//! `source.*`, `destination.*`, `network.*`, `threat.*`, `rule.*`,
//! `related.ip`, `observer.*`, `message`); everything else is under
//! `ghostport.*`. Objects are nested (ECS style) and keys come out sorted,
//! so two runs on the same input give the same bytes (apart from nothing:
//! no wall-clock time is in a line). Schema: `docs/schema/finding.jsonl.schema.json`.

use std::collections::BTreeSet;
use std::io::{self, Write};

use serde_json::{Map, Value, json};

use super::Report;
use crate::classify::{Finding, FindingKind};
use crate::timefmt::rfc3339_micros;

/// Version of the JSONL line layout.
pub const JSONL_VERSION: &str = "1";

/// Writes one line per finding.
pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for f in &report.findings {
        let v = sort_keys(line(report, f));
        serde_json::to_writer(&mut *out, &v).map_err(io::Error::from)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Returns `v` with every object's keys in sorted order, whatever map type
/// serde_json was built with.
fn sort_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut pairs: Vec<(String, Value)> = m.into_iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out = Map::new();
            for (k, v) in pairs {
                out.insert(k, sort_keys(v));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// The ECS-style object of one finding.
pub fn line(report: &Report, f: &Finding) -> Value {
    let t = &f.totals;
    let first_flow = f.flows.first();
    let cids: BTreeSet<&str> = f
        .flows
        .iter()
        .map(|r| r.community_id.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    // Source/destination: the ghost-port server is the destination; for a
    // ghost source port the client endpoint is the source; for a sweep the
    // scanner is the source and there is no single destination.
    let (source, destination) = match f.kind {
        FindingKind::GhostPort | FindingKind::UnregisteredService | FindingKind::PortMismatch => {
            let mut src = Map::new();
            if let Some(c) = f.clients.first().filter(|_| f.clients_total == 1) {
                src.insert("ip".into(), json!(c));
                if let Some(r) = first_flow.filter(|_| t.flows == 1) {
                    src.insert("port".into(), json!(r.client.port));
                }
            }
            src.insert("bytes".into(), json!(t.c2s.bytes));
            src.insert("packets".into(), json!(t.c2s.packets));
            (
                Value::Object(src),
                json!({"ip": f.server.ip, "port": f.server.port,
                       "bytes": t.s2c.bytes, "packets": t.s2c.packets}),
            )
        }
        FindingKind::GhostSourcePort => {
            let mut dst = Map::new();
            if let Some(r) = first_flow {
                dst.insert("ip".into(), json!(r.server.ip));
                if t.flows == 1 {
                    dst.insert("port".into(), json!(r.server.port));
                }
            }
            dst.insert("bytes".into(), json!(t.s2c.bytes));
            dst.insert("packets".into(), json!(t.s2c.packets));
            (
                json!({"ip": f.server.ip, "port": f.server.port,
                       "bytes": t.c2s.bytes, "packets": t.c2s.packets}),
                Value::Object(dst),
            )
        }
        FindingKind::Sweep => (
            json!({"ip": f.server.ip, "bytes": t.c2s.bytes, "packets": t.c2s.packets}),
            json!({"bytes": t.s2c.bytes, "packets": t.s2c.packets}),
        ),
    };
    let mut related: BTreeSet<String> = f.clients.iter().map(|c| c.to_string()).collect();
    related.insert(f.server.ip.to_string());
    for x in &f.targets {
        related.insert(x.ip.to_string());
    }
    let mut network = Map::new();
    network.insert("transport".into(), json!(f.transport.as_str()));
    network.insert(
        "iana_number".into(),
        json!(f.transport.ip_number().to_string()),
    );
    network.insert("bytes".into(), json!(t.c2s.bytes + t.s2c.bytes));
    network.insert("packets".into(), json!(t.c2s.packets + t.s2c.packets));
    if !cids.is_empty() {
        network.insert("community_id".into(), json!(cids));
    }
    let ids: Vec<&str> = f.attack.iter().map(|a| a.id.as_str()).collect();
    let names: Vec<&str> = f.attack.iter().map(|a| a.name.as_str()).collect();
    let class = f.verdict.as_ref().map(|v| v.class);
    let mut gp = Map::new();
    gp.insert("finding_id".into(), json!(f.id));
    gp.insert("kind".into(), json!(f.kind));
    gp.insert("title".into(), json!(f.title));
    gp.insert("class".into(), json!(class));
    gp.insert("severity".into(), json!(f.severity));
    if let Some(e) = &f.explained {
        gp.insert("explained".into(), json!(e));
    }
    gp.insert("verdict".into(), json!(f.verdict));
    gp.insert("behaviours".into(), json!(f.behaviours));
    gp.insert("identification".into(), json!(f.protocols));
    if !f.indicators.is_empty() {
        gp.insert("indicators".into(), json!(f.indicators));
    }
    gp.insert("totals".into(), json!(f.totals));
    gp.insert("clients".into(), json!(f.clients));
    gp.insert("clients_total".into(), json!(f.clients_total));
    gp.insert("flows".into(), json!(f.flows));
    gp.insert("flows_omitted".into(), json!(f.flows_omitted));
    if !f.targets.is_empty() {
        gp.insert("targets".into(), json!(f.targets));
        if f.targets_omitted > 0 {
            gp.insert("targets_omitted".into(), json!(f.targets_omitted));
        }
    }
    gp.insert("filter".into(), json!(f.filter));
    if let Some(p) = report.evidence_file(&f.id) {
        gp.insert("evidence_file".into(), json!(p));
    }
    gp.insert("data".into(), json!(report.meta.data));
    gp.insert(
        "inputs".into(),
        Value::Array(
            report
                .inputs
                .iter()
                .map(|i| json!({"name": i.summary.name, "sha256": i.summary.sha256}))
                .collect(),
        ),
    );
    gp.insert("report_complete".into(), json!(report.meta.complete));
    gp.insert("jsonl_version".into(), json!(JSONL_VERSION));
    json!({
        "@timestamp": rfc3339_micros(f.first_ts),
        "destination": destination,
        "event": {
            "kind": "alert",
            "category": ["network", "intrusion_detection"],
            "type": ["connection", "info"],
            "module": "ghostport",
            "dataset": "ghostport.finding",
            "start": rfc3339_micros(f.first_ts),
            "end": rfc3339_micros(f.last_ts),
            "duration": f.last_ts.saturating_sub(f.first_ts).max(0),
            "severity": f.severity.score,
            "risk_score": f.severity.score,
        },
        "ghostport": Value::Object(gp),
        "message": f.title,
        "network": Value::Object(network),
        "observer": {"product": "ghostport", "vendor": "ghostport", "version": report.meta.version},
        "related": {"ip": related},
        "rule": {
            "name": f.kind,
            "ruleset": "ghostport",
            "description": f.title,
            "category": f.severity.level,
        },
        "source": source,
        "threat": {
            "framework": "MITRE ATT&CK",
            "technique": {"id": ids, "name": names},
        },
    })
}
