//! Streaming findings while capturing: each peek at the analysis
//! ([`crate::analysis::Analyzer::peek`]) is compared with what was already
//! printed; a finding not seen before is printed at once (`finding`), one
//! whose flows, clients, bytes or severity changed is printed again
//! (`update`) at most once per update interval.
//!
//! Findings are keyed by kind, transport, address and port: the `GP-` ids of
//! a peek follow that peek's order and are not stable while capturing (the
//! final report numbers them for good).

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::attribution::LocalAttribution;
use crate::classify::{Finding, FindingKind};
use crate::report::text::{bytes, clean};

/// What identifies a finding across peeks.
pub type Key = (FindingKind, crate::Transport, std::net::IpAddr, u16);

/// The key of a finding.
pub fn key(f: &Finding) -> Key {
    (f.kind, f.transport, f.server.ip, f.server.port)
}

/// The key as text: `ghost-port/tcp/127.0.0.1:386`.
pub fn key_text(k: &Key) -> String {
    let kind = k.0.as_str();
    match k.2 {
        std::net::IpAddr::V6(a) => format!("{kind}/{}/[{a}]:{}", k.1, k.3),
        a => format!("{kind}/{}/{a}:{}", k.1, k.3),
    }
}

/// Most findings tracked (as `max_findings`).
const MAX_TRACKED: usize = 10_000;

struct Seen {
    last_emit: Instant,
    sig: (u64, u64, u64, u32),
    attribution: Option<LocalAttribution>,
}

/// One streamed event.
#[derive(Serialize)]
pub struct Event<'a> {
    /// "finding" (new) or "update".
    pub event: &'static str,
    /// Wall-clock time (RFC 3339).
    pub time: String,
    /// Stable key of the finding.
    pub key: String,
    /// The finding as of now (same shape as in the report).
    pub finding: &'a Finding,
}

/// Remembers what was printed.
#[derive(Default)]
pub struct Tracker {
    seen: BTreeMap<Key, Seen>,
    /// Findings streamed as new.
    pub new_findings: u64,
}

fn signature(f: &Finding) -> (u64, u64, u64, u32) {
    (
        f.totals.flows,
        f.clients_total,
        f.totals.c2s.bytes + f.totals.s2c.bytes,
        f.severity.score,
    )
}

impl Tracker {
    /// Compares a peek with what was printed. `attribute` is called once per
    /// new finding. Returns (events to print, true when a change was held
    /// back by the update interval).
    pub fn observe(
        &mut self,
        findings: &mut [Finding],
        now: Instant,
        interval: Duration,
        attribute: &mut dyn FnMut(&Finding) -> Option<LocalAttribution>,
    ) -> (Vec<(&'static str, usize)>, bool) {
        let mut events = Vec::new();
        let mut held = false;
        for (i, f) in findings.iter_mut().enumerate() {
            let k = key(f);
            let sig = signature(f);
            let full = self.seen.len() >= MAX_TRACKED;
            match self.seen.get_mut(&k) {
                Some(s) => {
                    f.local_process = s.attribution.clone();
                    if s.sig != sig {
                        if now.duration_since(s.last_emit) >= interval {
                            s.sig = sig;
                            s.last_emit = now;
                            events.push(("update", i));
                        } else {
                            held = true;
                        }
                    }
                }
                None if !full => {
                    let attribution = attribute(f);
                    f.local_process = attribution.clone();
                    self.seen.insert(
                        k,
                        Seen {
                            last_emit: now,
                            sig,
                            attribution,
                        },
                    );
                    self.new_findings += 1;
                    events.push(("finding", i));
                }
                None => {}
            }
        }
        (events, held)
    }

    /// The attribution made when the finding was first seen.
    pub fn attribution(&self, k: &Key) -> Option<&LocalAttribution> {
        self.seen.get(k).and_then(|s| s.attribution.as_ref())
    }
}

/// One terminal line for an event.
pub fn text_line(event: &str, f: &Finding, time: &str, color: bool) -> String {
    let lvl = f.severity.level.as_str();
    let tag = format!("[{} {}]", lvl.to_uppercase(), f.severity.score);
    let tag = if color {
        let code = match lvl {
            "critical" => "1;35",
            "high" => "1;31",
            "medium" => "33",
            "low" => "36",
            _ => "2",
        };
        format!("\x1b[{code}m{tag}\x1b[0m")
    } else {
        tag
    };
    let t = &f.totals;
    let mut line = format!(
        "{time} {:<6} {tag} {} — {} client(s), {} flow(s), {} pkts {}",
        if event == "finding" { "NEW" } else { "UPDATE" },
        clean(&f.title),
        f.clients_total,
        t.flows,
        t.c2s.packets + t.s2c.packets,
        bytes(t.c2s.bytes + t.s2c.bytes)
    );
    if let Some(a) = &f.local_process {
        line.push_str(&format!(" — local: {}", clean(&a.summary())));
    }
    line
}

/// Writes one event as a JSON line and flushes (for pipes).
pub fn write_jsonl(out: &mut dyn Write, ev: &Event<'_>) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, ev).map_err(std::io::Error::other)?;
    out.write_all(b"\n")?;
    out.flush()
}
