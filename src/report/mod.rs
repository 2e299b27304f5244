//! Reports: one serialisable [`Report`] built from an [`Analysis`], rendered
//! as text (terminal), JSON, and the other formats in the submodules.

pub use crate::community_id;
pub mod csv;
pub mod evidence;
pub mod html;
pub mod json;
pub mod jsonl;
pub mod memory;
pub mod text;
pub mod write;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::{Analysis, InputResult, PacketStats};
use crate::classify::{Finding, FlowCounts, FlowRecord, Suppression};
use crate::flow::FlowStats;
use crate::knowledge::KnowledgeBase;
use crate::timefmt::rfc3339_micros;

/// Version of the report layout (see `docs/report.md` and the JSON Schema).
pub const SCHEMA_VERSION: &str = "1";

/// Data versions behind the verdicts.
#[derive(Clone, Debug, Serialize)]
pub struct DataVersions {
    /// Knowledge-base version.
    pub knowledge_base: String,
    /// IANA registry snapshot.
    pub registry: String,
}

/// Report metadata. `analysis_start`, `analysis_end`, `elapsed_s` and `peak_rss_bytes` are the
/// only fields that change between two runs on the same input and flags.
#[derive(Clone, Debug, Serialize)]
pub struct Meta {
    /// "ghostport".
    pub tool: &'static str,
    /// ghostport version.
    pub version: &'static str,
    /// Report layout version.
    pub schema_version: &'static str,
    /// The command line that produced the report.
    pub command_line: Vec<String>,
    /// Data versions.
    pub data: DataVersions,
    /// Analysis start, wall clock (RFC 3339).
    pub analysis_start: String,
    /// Analysis end, wall clock (RFC 3339).
    pub analysis_end: String,
    /// Wall-clock seconds.
    pub elapsed_s: f64,
    /// False when an input could not be read to its end: the report holds
    /// what was read before the error.
    pub complete: bool,
    /// Errors, one line each.
    pub errors: Vec<String>,
    /// Peak resident set size of the process in bytes when the report was
    /// built (Linux `VmHWM`; null elsewhere). Changes between runs.
    pub peak_rss_bytes: Option<u64>,
}

/// Flow table figures with the limits that applied.
#[derive(Clone, Debug, Serialize)]
pub struct FlowTableReport {
    /// Counters.
    #[serde(flatten)]
    pub stats: FlowStats,
    /// `--max-flows`.
    pub max_flows: usize,
    /// Payload bytes kept per direction for identification.
    pub payload_cap: usize,
    /// Idle timeout for TCP, seconds.
    pub tcp_timeout_s: i64,
    /// Idle timeout for UDP, seconds.
    pub udp_timeout_s: i64,
}

/// Totals.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Packet counters.
    pub packets: PacketStats,
    /// Flow-log inputs (absent when every input was a capture).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<crate::records::RecordStats>,
    /// Flow counts.
    pub flows: FlowCounts,
    /// Flow table counters and limits.
    pub flow_table: FlowTableReport,
    /// Findings in this report.
    pub findings: u64,
    /// Findings by severity level.
    pub findings_by_severity: BTreeMap<&'static str, u64>,
    /// Findings by kind (ghost-port, sweep, ghost-source-port,
    /// unregistered-service, port-mismatch); kinds with none are absent.
    pub findings_by_kind: BTreeMap<&'static str, u64>,
    /// Findings suppressed by site policy, per rule.
    pub suppressed: Vec<Suppression>,
    /// Findings beyond the cap, not reported on their own: the cap keeps
    /// the most severe and folds the rest into `findings_folded`.
    pub findings_dropped: u64,
    /// The folded findings, counted per (kind, transport, port), most severe first.
    pub findings_folded: Vec<crate::classify::FoldedFindings>,
    /// Sweep sources not tracked (more than 10 000 sources; those with the
    /// fewest targets made room).
    pub sweep_sources_dropped: u64,
    /// Findings with an innocent explanation (a known application, a
    /// negotiated port), shown collapsed in the text and HTML reports.
    pub findings_explained: u64,
    /// Ports announced by control channels, and what the caps dropped.
    pub negotiated_ports: crate::identify::negotiate::NegotiationStats,
    /// Capture time of the first packet (RFC 3339), if any.
    pub capture_start: Option<String>,
    /// Capture time of the last packet (RFC 3339), if any.
    pub capture_end: Option<String>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Metadata and provenance.
    pub meta: Meta,
    /// Inputs with size, SHA-256, capture times, link types.
    pub inputs: Vec<InputResult>,
    /// Totals.
    pub summary: Summary,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// Every flow (`--all-flows`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flows: Option<Vec<FlowRecord>>,
    /// Flow records beyond the `--all-flows` cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flows_omitted: Option<u64>,
    /// Live capture only: libpcap's counters and the capture settings
    /// (absent in offline scans).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<crate::capture::live::CaptureStats>,
    /// Evidence files written with `--evidence DIR`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<evidence::EvidenceIndex>,
}

impl Report {
    /// Builds the report of an analysis.
    pub fn new(
        a: Analysis,
        kb: &KnowledgeBase,
        command_line: Vec<String>,
        cfg: &crate::analysis::AnalysisConfig,
        all_flows: bool,
    ) -> Report {
        let complete = a.complete();
        let errors: Vec<String> = a
            .inputs
            .iter()
            .filter_map(|i| i.error.as_ref().map(|e| e.to_string()))
            .collect();
        let mut by_sev = BTreeMap::new();
        let mut by_kind = BTreeMap::new();
        for f in &a.outcome.findings {
            *by_sev.entry(f.severity.level.as_str()).or_insert(0u64) += 1;
            *by_kind.entry(f.kind.as_str()).or_insert(0u64) += 1;
        }
        let first = a
            .inputs
            .iter()
            .filter_map(|i| i.summary.first_ts_nanos)
            .min();
        let last = a
            .inputs
            .iter()
            .filter_map(|i| i.summary.last_ts_nanos)
            .max();
        let mut findings = a.outcome.findings;
        let mut flows = all_flows.then_some(a.outcome.all_flows);
        evidence::annotate(&mut findings, flows.as_mut());
        Report {
            meta: Meta {
                tool: "ghostport",
                version: env!("CARGO_PKG_VERSION"),
                schema_version: SCHEMA_VERSION,
                command_line,
                data: DataVersions {
                    knowledge_base: kb.kb_version().to_string(),
                    registry: kb.registry_version().to_string(),
                },
                analysis_start: rfc3339_micros(a.started_ns),
                analysis_end: rfc3339_micros(a.ended_ns),
                elapsed_s: (a.elapsed_s * 1000.0).round() / 1000.0,
                complete,
                errors,
                peak_rss_bytes: memory::peak_rss_bytes(),
            },
            summary: Summary {
                packets: a.packets,
                records: (a.records.lines > 0).then_some(a.records),
                flows: a.outcome.flows,
                flow_table: FlowTableReport {
                    stats: a.flow_table,
                    max_flows: cfg.flow.max_flows,
                    payload_cap: cfg.flow.payload_cap,
                    tcp_timeout_s: cfg.flow.tcp_timeout_ns / 1_000_000_000,
                    udp_timeout_s: cfg.flow.udp_timeout_ns / 1_000_000_000,
                },
                findings: findings.len() as u64,
                findings_by_severity: by_sev,
                findings_by_kind: by_kind,
                suppressed: a.outcome.suppressed,
                findings_dropped: a.outcome.findings_dropped,
                findings_folded: a.outcome.findings_folded,
                sweep_sources_dropped: a.outcome.sweep_sources_dropped,
                findings_explained: findings
                    .iter()
                    .filter(|f| f.explained.as_ref().is_some_and(|e| e.collapsed()))
                    .count() as u64,
                negotiated_ports: a.outcome.negotiation,
                capture_start: first.map(rfc3339_micros),
                capture_end: last.map(rfc3339_micros),
            },
            inputs: a.inputs,
            findings,
            flows,
            flows_omitted: all_flows.then_some(a.outcome.all_flows_omitted),
            capture: None,
            evidence: None,
        }
    }

    /// The evidence file of a finding, if `--evidence` wrote one.
    pub fn evidence_file(&self, finding_id: &str) -> Option<String> {
        let e = self.evidence.as_ref()?;
        let f = e.files.iter().find(|f| f.finding == finding_id)?;
        Some(
            std::path::Path::new(&e.dir)
                .join(&f.file)
                .display()
                .to_string(),
        )
    }

    /// Exit status like clamscan: 0 no findings, 1 findings, 2 error (an input
    /// could not be read to its end).
    pub fn exit_code(&self) -> u8 {
        if !self.meta.complete {
            2
        } else if self.findings.is_empty() {
            0
        } else {
            1
        }
    }
}
