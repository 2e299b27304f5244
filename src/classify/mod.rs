//! Turns finished flows into findings.
//!
//! A flow whose server port the knowledge base classes `ghost` (or that a
//! site `deny` rule marks) is ghost-port traffic. Flows on the same server
//! endpoint (transport, address, port) aggregate into one finding with many
//! clients. On top of the per-endpoint findings, behaviour detectors look at
//! the flows together (see `docs/detections.md`):
//!
//! * **server present**: the ghost port answered (SYN-ACK or data back);
//! * **sweep**: one source touched many ghost ports or hosts;
//! * **beaconing**: a client reconnects to the same ghost endpoint at a regular interval;
//! * **long-lived / high-volume** sessions;
//! * **ghost source port**: a ghost port used as *source* port towards a well-known service;
//! * **blocked / dead**: unanswered attempts, RSTs, ICMP unreachable (lower severity).
//!
//! Two more kinds of finding look beyond ghost ports ([`FindingKind`]):
//! an **unregistered service** (a server answering, or a one-way stream
//! carrying data, on a port IANA never assigned) and a **port mismatch**
//! (a recognised protocol on a port implemented for another one, see
//! `expected.rs`). Their base scores are below a ghost port's; what the
//! payload shows (`identify::content`) raises or lowers every kind.
//!
//! Everything here is bounded: findings, clients and flows kept per finding
//! and sweep sources are capped, and what did not fit is counted.

pub mod attribution;
mod expected;
mod explain;
pub mod severity;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;

pub use explain::{ExplainedBy, Explanation};
pub use severity::{Severity, SeverityLevel};

use crate::Transport;
use crate::flow::{DirStats, EndReason, Endpoint, Flow, Orientation};
use crate::identify::content::Indicator;
use crate::identify::negotiate::{Announcement, NegotiationStats, Negotiations};
use crate::identify::{self, Identification};
use crate::knowledge::{KnowledgeBase, PortClass, Verdict, policy::Policy};

/// Detector settings (documented in `docs/detections.md`).
#[derive(Clone, Debug)]
pub struct ClassifyConfig {
    /// Site policy (allow/deny rules).
    pub policy: Policy,
    /// Maximum findings kept; more are counted as dropped.
    pub max_findings: usize,
    /// Flow records kept per finding (the rest are only counted).
    pub flows_per_finding: usize,
    /// Client addresses listed per finding (the rest are only counted).
    pub clients_per_finding: usize,
    /// Keep a record of every flow (`--all-flows`), up to this many (0 = off).
    pub all_flows_cap: usize,
    /// A source touching at least this many distinct ghost ports or hosts is a sweep.
    pub sweep_min_targets: usize,
    /// Beacon: minimum connections from one client to one endpoint.
    pub beacon_min_connections: usize,
    /// Beacon: maximum relative jitter (standard deviation / mean interval).
    pub beacon_max_jitter: f64,
    /// Beacon: minimum mean interval, seconds.
    pub beacon_min_interval_s: f64,
    /// A session at least this long (seconds) is long-lived.
    pub long_session_s: f64,
    /// A session with at least this many bytes (both ways) is high-volume.
    pub high_volume_bytes: u64,
    /// At least this many sessions from one client are "repeated sessions".
    pub repeated_sessions_min: usize,
    /// Which kinds of finding to report (`--kinds`).
    pub kinds: Kinds,
}

/// The kinds of finding selected with `--kinds` (default: all three).
/// `ghost-port` covers its sweeps and ghost source ports too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kinds {
    /// Ghost-port findings, sweeps and ghost source ports.
    pub ghost_port: bool,
    /// Unregistered services.
    pub unregistered_service: bool,
    /// Port mismatches.
    pub port_mismatch: bool,
}

impl Default for Kinds {
    fn default() -> Self {
        Kinds {
            ghost_port: true,
            unregistered_service: true,
            port_mismatch: true,
        }
    }
}

impl Kinds {
    /// The names `--kinds` accepts.
    pub const NAMES: [&'static str; 3] = ["ghost-port", "unregistered-service", "port-mismatch"];

    /// Parses a comma-separated list of kind names (`all` selects every kind).
    pub fn parse(list: &str) -> Result<Kinds, String> {
        let mut k = Kinds {
            ghost_port: false,
            unregistered_service: false,
            port_mismatch: false,
        };
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "ghost-port" => k.ghost_port = true,
                "unregistered-service" => k.unregistered_service = true,
                "port-mismatch" => k.port_mismatch = true,
                "all" => k = Kinds::default(),
                other => {
                    return Err(format!(
                        "unknown finding kind '{other}': use a comma-separated list of {}, or all",
                        Kinds::NAMES.join(", ")
                    ));
                }
            }
        }
        if k == (Kinds {
            ghost_port: false,
            unregistered_service: false,
            port_mismatch: false,
        }) {
            return Err(format!(
                "no finding kind selected: use a comma-separated list of {}, or all",
                Kinds::NAMES.join(", ")
            ));
        }
        Ok(k)
    }
}

impl Default for ClassifyConfig {
    fn default() -> Self {
        ClassifyConfig {
            policy: Policy::default(),
            max_findings: 10_000,
            flows_per_finding: 50,
            clients_per_finding: 50,
            all_flows_cap: 0,
            sweep_min_targets: 10,
            beacon_min_connections: 5,
            beacon_max_jitter: 0.2,
            beacon_min_interval_s: 1.0,
            long_session_s: 3600.0,
            high_volume_bytes: 10 * 1024 * 1024,
            repeated_sessions_min: 10,
            kinds: Kinds::default(),
        }
    }
}

/// How much payload the classifier needs from flows on a server port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadNeed {
    /// None: flows there are never identified.
    None,
    /// The first bytes (the flow table's sniff cap): enough to tell a
    /// protocol for a port mismatch on a busy port.
    Sniff,
    /// Up to the payload cap.
    Full,
}

/// What the classifier needs from flows whose server is (port, transport):
/// ghost, unassigned and site-rule ports in full; ports with an expected
/// protocol in full, except the busiest (80, 443, 53) whose first bytes
/// suffice to see a mismatch.
pub fn payload_need(
    kb: &KnowledgeBase,
    cfg: &ClassifyConfig,
    port: u16,
    t: Transport,
) -> PayloadNeed {
    let class = kb.class(port, t);
    if cfg.policy.mentions(port, t)
        || (cfg.kinds.ghost_port && class == PortClass::Ghost)
        || (cfg.kinds.unregistered_service && class == PortClass::Unassigned)
    {
        return PayloadNeed::Full;
    }
    if cfg.kinds.port_mismatch && expected::expected(port, t).is_some() {
        return if matches!(port, 80 | 443 | 53) {
            PayloadNeed::Sniff
        } else {
            PayloadNeed::Full
        };
    }
    PayloadNeed::None
}

/// A flow as it appears in reports.
#[derive(Clone, Debug, Serialize)]
pub struct FlowRecord {
    /// Creation order in this analysis.
    pub id: u64,
    /// tcp/udp.
    pub transport: Transport,
    /// Initiator.
    pub client: Endpoint,
    /// Responder.
    pub server: Endpoint,
    /// How the roles were decided.
    pub orientation: Orientation,
    /// First packet, ns since the epoch.
    pub first_ts: i64,
    /// Last packet, ns since the epoch.
    pub last_ts: i64,
    /// Client → server.
    pub c2s: DirStats,
    /// Server → client.
    pub s2c: DirStats,
    /// The server answered.
    pub answered: bool,
    /// The server refused with RST.
    pub rejected: bool,
    /// ICMP errors quoting this flow.
    pub icmp_errors: u32,
    /// Why the flow record ended.
    pub end: EndReason,
    /// VLAN id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// The tunnel the flow was taken out of (outer addresses as context).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<crate::decode::Tunnel>,
    /// Payload identification (ghost-port flows only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identification: Option<Identification>,
    /// Community ID v1 (seed 0); filled in by the report.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub community_id: String,
    /// Capture filters selecting this flow; filled in by the report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filters>,
}

/// A BPF (tcpdump) filter and a Wireshark display filter selecting some traffic.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Filters {
    /// BPF capture filter (tcpdump, `-f` of dumpcap).
    pub bpf: String,
    /// Wireshark/tshark display filter.
    pub wireshark: String,
}

impl FlowRecord {
    fn from_flow(f: &Flow, identification: Option<Identification>) -> FlowRecord {
        FlowRecord {
            id: f.id,
            transport: f.transport,
            client: f.client,
            server: f.server,
            orientation: f.orientation,
            first_ts: f.first_ts,
            last_ts: f.last_ts,
            c2s: f.c2s,
            s2c: f.s2c,
            answered: f.answered(),
            rejected: f.rejected(),
            icmp_errors: f.icmp_errors,
            end: f.end,
            vlan: f.vlan,
            tunnel: f.tunnel(),
            identification,
            community_id: String::new(),
            filter: None,
        }
    }
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// Traffic to a ghost port on one server endpoint.
    GhostPort,
    /// One source touching many ghost ports/hosts.
    Sweep,
    /// A ghost port used as source port towards a well-known service.
    GhostSourcePort,
    /// A server (or a one-way stream with data) on a port IANA never assigned.
    UnregisteredService,
    /// A recognised protocol on a port implemented for a different protocol.
    PortMismatch,
}

impl FindingKind {
    /// Every kind, in report order for ties.
    pub const ALL: [FindingKind; 5] = [
        FindingKind::GhostPort,
        FindingKind::Sweep,
        FindingKind::GhostSourcePort,
        FindingKind::UnregisteredService,
        FindingKind::PortMismatch,
    ];

    /// Machine name, identical to the serde representation.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::GhostPort => "ghost-port",
            FindingKind::Sweep => "sweep",
            FindingKind::GhostSourcePort => "ghost-source-port",
            FindingKind::UnregisteredService => "unregistered-service",
            FindingKind::PortMismatch => "port-mismatch",
        }
    }
}

/// A behaviour seen in a finding's flows, with the evidence it used.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Behaviour {
    /// Machine name: "server-present", "sweep", "beacon", "long-lived", "high-volume", "blocked", "ghost-source-port".
    pub kind: &'static str,
    /// One line for humans.
    pub detail: String,
    /// Named figures the detector used.
    pub evidence: BTreeMap<&'static str, serde_json::Value>,
}

/// A MITRE ATT&CK technique reference.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct AttackTag {
    /// Technique id, e.g. "T1571".
    pub id: String,
    /// Technique name.
    pub name: String,
}

/// Totals over a finding's flows.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct FlowTotals {
    /// Flows.
    pub flows: u64,
    /// Flows the server answered.
    pub answered: u64,
    /// Flows with payload both ways.
    pub data_exchanged: u64,
    /// Flows refused with RST.
    pub rejected: u64,
    /// ICMP errors quoting these flows.
    pub icmp_errors: u64,
    /// Client → server.
    pub c2s: DirStats,
    /// Server → client.
    pub s2c: DirStats,
}

impl FlowTotals {
    fn add(&mut self, f: &Flow) {
        self.flows += 1;
        self.answered += u64::from(f.answered());
        self.data_exchanged += u64::from(f.data_exchanged());
        self.rejected += u64::from(f.rejected());
        self.icmp_errors += u64::from(f.icmp_errors);
        add_dir(&mut self.c2s, &f.c2s);
        add_dir(&mut self.s2c, &f.s2c);
    }
    fn merge(&mut self, o: &FlowTotals) {
        self.flows += o.flows;
        self.answered += o.answered;
        self.data_exchanged += o.data_exchanged;
        self.rejected += o.rejected;
        self.icmp_errors += o.icmp_errors;
        add_dir(&mut self.c2s, &o.c2s);
        add_dir(&mut self.s2c, &o.s2c);
    }
}

fn add_dir(a: &mut DirStats, b: &DirStats) {
    a.packets += b.packets;
    a.bytes += b.bytes;
    a.payload_bytes += b.payload_bytes;
    a.tcp_flags |= b.tcp_flags;
    a.rsts += b.rsts;
}

/// A distinct payload identification seen in a finding, with how many flows showed it.
#[derive(Clone, Debug, Serialize)]
pub struct SeenProtocol {
    /// Flows that showed it.
    pub flows: u64,
    /// The identification of the first such flow.
    #[serde(flatten)]
    pub identification: Identification,
}

/// A site-policy rule that matched, for the report.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Suppression {
    /// The rule as written.
    pub rule: String,
    /// Where the rule came from.
    pub origin: String,
    /// The rule's note.
    pub note: String,
    /// Findings suppressed by it.
    pub findings: u64,
    /// Flows suppressed by it.
    pub flows: u64,
}

/// One finding.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// Stable id within the report ("GP-0001", in report order).
    pub id: String,
    /// What the finding is about.
    pub kind: FindingKind,
    /// One line for humans.
    pub title: String,
    /// Severity with its reasons.
    pub severity: Severity,
    /// tcp/udp.
    pub transport: Transport,
    /// The ghost-port endpoint (for sweeps: the scanning source, port 0).
    pub server: Endpoint,
    /// The knowledge base's verdict on the port, with reasons and the registry record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<std::sync::Arc<Verdict>>,
    /// ATT&CK techniques.
    pub attack: Vec<AttackTag>,
    /// Behaviours with evidence.
    pub behaviours: Vec<Behaviour>,
    /// Distinct payload identifications.
    pub protocols: Vec<SeenProtocol>,
    /// What the payload showed (shell text, check-in, executable...), with
    /// the bytes that matched.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub indicators: Vec<Indicator>,
    /// First packet, ns.
    pub first_ts: i64,
    /// Last packet, ns.
    pub last_ts: i64,
    /// Client addresses (capped, sorted).
    pub clients: Vec<IpAddr>,
    /// Distinct clients seen (exact unless `clients_capped`).
    pub clients_total: u64,
    /// More than 4096 distinct clients: `clients_total` stopped counting there.
    pub clients_capped: bool,
    /// Totals.
    pub totals: FlowTotals,
    /// Flow records (capped, in order of first packet).
    pub flows: Vec<FlowRecord>,
    /// Flow records not kept.
    pub flows_omitted: u64,
    /// For sweeps: targeted (host, port, transport) triples, the answered
    /// ones first (capped at 200).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<SweepTarget>,
    /// For sweeps: targets beyond the cap, not listed in `targets`.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub targets_omitted: u64,
    /// Why this traffic is expected (a recognised application, a negotiated
    /// port), or which dual-use tool it is; absent when nothing explains it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explained: Option<Explanation>,
    /// Live capture only: the local process behind the endpoint (absent in offline scans).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_process: Option<attribution::LocalAttribution>,
    /// Filters selecting the finding's traffic; filled in by the report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filters>,
}

/// A port a sweep touched.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct SweepTarget {
    /// Address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
    /// tcp/udp.
    pub transport: Transport,
    /// The target answered.
    pub answered: bool,
}

#[derive(Clone, Default)]
struct Acc {
    first_ts: i64,
    last_ts: i64,
    clients: BTreeSet<IpAddr>,
    clients_capped: bool,
    totals: FlowTotals,
    flows: Vec<FlowRecord>,
    flows_omitted: u64,
    protocols: Vec<SeenProtocol>,
    /// Per client: flow start times (capped) for beacon detection.
    starts: BTreeMap<IpAddr, Vec<i64>>,
    longest_ns: i64,
    max_bytes: u64,
    /// Set once the findings cap is reached (see `Classifier::ranked`).
    rank: Rank,
    /// Most packets (both ways) in one flow.
    max_packets: u64,
    /// Distinct content indicators (first of each kind and direction).
    indicators: Vec<Indicator>,
}

impl Acc {
    fn add(&mut self, f: &Flow, ident: Option<Identification>, cfg: &ClassifyConfig) {
        if self.totals.flows == 0 {
            self.first_ts = f.first_ts;
            self.last_ts = f.last_ts;
        }
        self.first_ts = self.first_ts.min(f.first_ts);
        self.last_ts = self.last_ts.max(f.last_ts);
        self.totals.add(f);
        if self.clients.len() < MAX_CLIENTS_COUNTED {
            self.clients.insert(f.client.ip);
        } else if !self.clients.contains(&f.client.ip) {
            self.clients_capped = true;
        }
        self.longest_ns = self.longest_ns.max(f.last_ts - f.first_ts);
        self.max_bytes = self.max_bytes.max(f.c2s.bytes + f.s2c.bytes);
        self.max_packets = self.max_packets.max(f.c2s.packets + f.s2c.packets);
        if ident.is_some() && self.indicators.len() < 8 {
            for i in identify::content::indicators(&f.c2s_head().bytes, &f.s2c_head().bytes) {
                if self.indicators.len() < 8
                    && !self
                        .indicators
                        .iter()
                        .any(|x| x.kind == i.kind && x.direction == i.direction)
                {
                    self.indicators.push(i);
                }
            }
        }
        // Start times only for as many clients as are listed (memory stays
        // bounded with millions of distinct clients; found by
        // tests/resource_limits.rs).
        if self.starts.contains_key(&f.client.ip)
            || self.starts.len() < cfg.clients_per_finding.max(1) * 20
        {
            let starts = self.starts.entry(f.client.ip).or_default();
            if starts.len() < 4096 {
                starts.push(f.first_ts);
            }
        }
        if let Some(id) = &ident
            && id.protocol != identify::Protocol::Empty
        {
            let n = self.protocols.len();
            match self
                .protocols
                .iter_mut()
                .find(|p| p.identification.protocol == id.protocol)
            {
                Some(p) => p.flows += 1,
                None if n < 8 => self.protocols.push(SeenProtocol {
                    flows: 1,
                    identification: id.clone(),
                }),
                None => {}
            }
        }
        if self.flows.len() < cfg.flows_per_finding {
            self.flows.push(FlowRecord::from_flow(f, ident));
        } else {
            // Full: the least telling record makes room (a cap keeps the
            // worst, not the first); the others keep their order.
            self.flows_omitted += 1;
            let new = FlowRecord::from_flow(f, ident);
            if let Some((i, least)) = self
                .flows
                .iter()
                .enumerate()
                .min_by_key(|(_, r)| record_rank(r))
                && record_rank(least) < record_rank(&new)
            {
                self.flows.remove(i);
                self.flows.push(new);
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct EndpointKey {
    kind: FindingKind,
    transport: Transport,
    ip: IpAddr,
    port: u16,
}

/// Flow counts by transport.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct FlowCounts {
    /// All flows (records; a flow split by eviction counts twice).
    pub total: u64,
    /// TCP flows.
    pub tcp: u64,
    /// UDP flows.
    pub udp: u64,
    /// Flows whose server port is ghost.
    pub ghost: u64,
}

/// Findings folded together because the findings cap was reached.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FoldedFindings {
    /// What the folded findings were about.
    pub kind: FindingKind,
    /// tcp/udp.
    pub transport: Transport,
    /// Server port (the ghost port).
    pub port: u16,
    /// Findings (endpoints) folded.
    pub findings: u64,
    /// Their flows.
    pub flows: u64,
    /// Flows the server answered.
    pub answered: u64,
    /// Flows with payload both ways.
    pub data_exchanged: u64,
    /// Highest severity score among the folded findings (without the
    /// behaviours computed only at the end: beaconing).
    pub max_score: u32,
}

/// Everything the classifier produces.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Findings, sorted most severe first, ids assigned.
    pub findings: Vec<Finding>,
    /// Policy rules that suppressed findings.
    pub suppressed: Vec<Suppression>,
    /// Findings that did not fit in `max_findings` (folded into
    /// `findings_folded`; an endpoint folded twice counts twice).
    pub findings_dropped: u64,
    /// The findings beyond the cap, counted per (kind, transport, port),
    /// most severe first: the cap keeps the most severe findings and folds
    /// the least severe here.
    pub findings_folded: Vec<FoldedFindings>,
    /// Sweep sources not tracked because `MAX_SWEEP_SOURCES` were (the
    /// sources with the fewest targets make room).
    pub sweep_sources_dropped: u64,
    /// Flow counts.
    pub flows: FlowCounts,
    /// All flow records (`--all-flows`), sorted by first packet.
    pub all_flows: Vec<FlowRecord>,
    /// Flow records beyond the `--all-flows` cap.
    pub all_flows_omitted: u64,
    /// Ports announced by control channels, and what the caps dropped.
    pub negotiation: NegotiationStats,
}

/// Consumes finished flows; [`Classifier::finish`] returns the findings.
/// Cloneable so live capture can peek at the findings so far.
#[derive(Clone)]
pub struct Classifier<'kb> {
    kb: &'kb KnowledgeBase,
    cfg: ClassifyConfig,
    accs: BTreeMap<EndpointKey, Acc>,
    dropped: u64,
    /// Once `accs` is full: every finding's (rank, key), least severe first.
    ranked: Option<BTreeSet<(Rank, EndpointKey)>>,
    folded: BTreeMap<(FindingKind, Transport, u16), FoldedFindings>,
    /// Verdicts by (port, transport), built once each.
    verdicts: BTreeMap<(u16, Transport), std::sync::Arc<Verdict>>,
    /// Once `sources` is full: every source's (rank, address), fewest targets first.
    source_ranks: Option<BTreeSet<(u64, IpAddr)>>,
    sources_dropped: u64,
    suppressed: BTreeMap<usize, (u64, BTreeSet<EndpointKey>)>,
    counts: FlowCounts,
    all_flows: Vec<FlowRecord>,
    all_flows_omitted: u64,
    /// Per source: ghost targets touched (capped).
    sources: BTreeMap<IpAddr, SourceAcc>,
    /// Ports announced by control channels (rpcbind, FTP, SIP...).
    negotiations: Negotiations,
    /// Per ghost-port endpoint: flows whose port a control channel had
    /// announced, and the first announcement (at most `max_findings`
    /// endpoints; the rest are counted in `negotiated_untracked`).
    negotiated: BTreeMap<EndpointKey, (u64, Announcement)>,
    negotiated_untracked: u64,
}

#[derive(Clone, Default)]
struct SourceAcc {
    targets: BTreeMap<(IpAddr, u16, Transport), bool>,
    ports: BTreeSet<(u16, Transport)>,
    hosts: BTreeSet<IpAddr>,
    first_ts: i64,
    last_ts: i64,
    overflow: u64,
    /// Space-saving offset: the rank of the source this one replaced.
    inherited: u64,
}

impl SourceAcc {
    /// Eviction rank: targets seen (plus what the replaced source had).
    fn rank(&self) -> u64 {
        self.targets.len() as u64 + self.overflow + self.inherited
    }
}

/// How severe a finding is so far, for the findings cap: (severity score
/// without end-of-analysis behaviours, flows). The least goes first.
type Rank = (u32, u64);

/// Sweep targets listed in a finding (the rest are counted).
const MAX_SWEEP_TARGETS_LISTED: usize = 200;
const MAX_SWEEP_SOURCES: usize = 10_000;
const MAX_CLIENTS_COUNTED: usize = 4096;
const MAX_TARGETS_PER_SOURCE: usize = 4096;

impl<'kb> Classifier<'kb> {
    /// A classifier over a knowledge base.
    pub fn new(kb: &'kb KnowledgeBase, cfg: ClassifyConfig) -> Self {
        Classifier {
            kb,
            cfg,
            accs: BTreeMap::new(),
            dropped: 0,
            ranked: None,
            folded: BTreeMap::new(),
            verdicts: BTreeMap::new(),
            source_ranks: None,
            sources_dropped: 0,
            suppressed: BTreeMap::new(),
            counts: FlowCounts::default(),
            all_flows: Vec::new(),
            all_flows_omitted: 0,
            sources: BTreeMap::new(),
            negotiations: Negotiations::default(),
            negotiated: BTreeMap::new(),
            negotiated_untracked: 0,
        }
    }

    /// Looks at one packet on a control port (see
    /// [`crate::identify::negotiate`]): the ports it announces make later
    /// ghost-port flows there expected. Called per packet by the analysis,
    /// only for packets with payload to or from a control port.
    pub fn observe_control(
        &mut self,
        t: Transport,
        src: Endpoint,
        dst: Endpoint,
        payload: &[u8],
        ts: i64,
    ) {
        self.negotiations.observe(t, src, dst, payload, ts);
    }

    /// Notes a ghost-port flow whose port (server side, else client side)
    /// a control channel announced before it began.
    fn note_negotiated(&mut self, key: EndpointKey, f: &Flow) {
        let n = &self.negotiations;
        let Some(a) = n
            .lookup(f.transport, f.server.ip, f.server.port, f.first_ts)
            .or_else(|| n.lookup(f.transport, f.client.ip, f.client.port, f.first_ts))
        else {
            return;
        };
        let room = self.negotiated.len() < self.cfg.max_findings;
        match self.negotiated.get_mut(&key) {
            Some(e) => e.0 += 1,
            None if room => {
                let a = a.clone();
                self.negotiated.insert(key, (1, a));
            }
            None => self.negotiated_untracked += 1,
        }
    }

    /// Is (port, transport) ghost for this server, after site policy?
    /// Returns (ghost, index of the matching policy rule).
    fn port_status(&self, port: u16, t: Transport, ip: IpAddr) -> (bool, Option<usize>) {
        let class_ghost = self.kb.class(port, t) == PortClass::Ghost;
        match self.cfg.policy.evaluate_index(port, t, ip) {
            Some((i, rule)) if rule.is_deny() => (true, Some(i)),
            Some((i, _)) => (class_ghost, Some(i)),
            None => (class_ghost, None),
        }
    }

    /// Adds one finished flow.
    pub fn add(&mut self, f: &Flow) {
        self.counts.total += 1;
        match f.transport {
            Transport::Tcp => self.counts.tcp += 1,
            Transport::Udp => self.counts.udp += 1,
        }
        let (ghost, rule) = self.port_status(f.server.port, f.transport, f.server.ip);
        let ghost = ghost && self.cfg.kinds.ghost_port;
        let mut ident = None;
        let mut other = None;
        if !ghost {
            other = self.other_kind(f);
            if let Some((_, id)) = &other {
                ident = Some(id.clone());
            }
        }
        if ghost {
            self.counts.ghost += 1;
            ident = Some(identify::identify(
                f.transport,
                &f.c2s_head().bytes,
                &f.s2c_head().bytes,
            ));
        }
        if self.cfg.all_flows_cap > 0 {
            if self.all_flows.len() < self.cfg.all_flows_cap {
                self.all_flows.push(FlowRecord::from_flow(f, ident.clone()));
            } else {
                self.all_flows_omitted += 1;
            }
        }
        if ghost {
            let key = EndpointKey {
                kind: FindingKind::GhostPort,
                transport: f.transport,
                ip: f.server.ip,
                port: f.server.port,
            };
            if let Some(i) = rule.filter(|&i| !self.cfg.policy.rule(i).is_some_and(|r| r.is_deny()))
            {
                let e = self.suppressed.entry(i).or_default();
                e.0 += 1;
                e.1.insert(key);
                return;
            }
            self.note_source(f);
            if !self.negotiations.is_empty() {
                self.note_negotiated(key, f);
            }
            self.add_to(key, f, ident);
            return;
        }
        if let Some((kind, _)) = other {
            let key = EndpointKey {
                kind,
                transport: f.transport,
                ip: f.server.ip,
                port: f.server.port,
            };
            if let Some(i) = rule {
                let e = self.suppressed.entry(i).or_default();
                e.0 += 1;
                e.1.insert(key);
                return;
            }
            self.add_to(key, f, ident);
            return;
        }
        if !self.cfg.kinds.ghost_port {
            return;
        }
        // Ghost source port towards a well-known service: only privileged
        // (< 1024) source ports, which clients do not pick by chance.
        if f.client.port < 1024
            && f.client.port != f.server.port
            && matches!(
                self.kb.class(f.server.port, f.transport),
                PortClass::Implemented | PortClass::DeFacto
            )
            && self.port_status(f.client.port, f.transport, f.client.ip).0
        {
            let key = EndpointKey {
                kind: FindingKind::GhostSourcePort,
                transport: f.transport,
                ip: f.client.ip,
                port: f.client.port,
            };
            self.add_to(key, f, None);
        }
    }

    /// An unregistered service or a port mismatch, with the flow's
    /// identification (made once here, only for flows that may be one).
    fn other_kind(&self, f: &Flow) -> Option<(FindingKind, Identification)> {
        let (port, t) = (f.server.port, f.transport);
        let has_data = f.c2s.payload_bytes > 0 || f.s2c.payload_bytes > 0;
        if self.cfg.kinds.unregistered_service
            && self.kb.class(port, t) == PortClass::Unassigned
            && (f.answered() || (has_data && t == Transport::Tcp))
        {
            let id = identify::identify(t, &f.c2s_head().bytes, &f.s2c_head().bytes);
            return Some((FindingKind::UnregisteredService, id));
        }
        if self.cfg.kinds.port_mismatch
            && has_data
            && let Some(e) = expected::expected(port, t)
        {
            let id = identify::identify(t, &f.c2s_head().bytes, &f.s2c_head().bytes);
            if expected::contradicts(e, id.protocol) {
                return Some((FindingKind::PortMismatch, id));
            }
        }
        None
    }

    fn add_to(&mut self, key: EndpointKey, f: &Flow, ident: Option<Identification>) {
        let cfg = &self.cfg;
        if let Some(acc) = self.accs.get_mut(&key) {
            let before = self.ranked.is_some().then_some(acc.rank);
            acc.add(f, ident, cfg);
            if let Some(old) = before {
                let neg = all_negotiated(&self.negotiated, key, acc);
                let r = rank(self.kb, &self.cfg, &mut self.verdicts, key, acc, neg);
                acc.rank = r;
                if let Some(set) = self.ranked.as_mut() {
                    set.remove(&(old, key));
                    set.insert((r, key));
                }
            }
            return;
        }
        let mut acc = Acc::default();
        acc.add(f, ident, cfg);
        if self.accs.len() < self.cfg.max_findings {
            self.accs.insert(key, acc);
            return;
        }
        // Full: the least severe finding (the new one or a kept one) is folded.
        if self.ranked.is_none() {
            let mut set = BTreeSet::new();
            for (k, a) in self.accs.iter_mut() {
                let neg = all_negotiated(&self.negotiated, *k, a);
                a.rank = rank(self.kb, &self.cfg, &mut self.verdicts, *k, a, neg);
                set.insert((a.rank, *k));
            }
            self.ranked = Some(set);
        }
        let neg = all_negotiated(&self.negotiated, key, &acc);
        acc.rank = rank(self.kb, &self.cfg, &mut self.verdicts, key, &acc, neg);
        let Some(set) = self.ranked.as_mut() else {
            return;
        };
        let least = set.first().copied();
        match least {
            Some(least) if least < (acc.rank, key) => {
                set.remove(&least);
                set.insert((acc.rank, key));
                self.accs.insert(key, acc);
                if let Some(old) = self.accs.remove(&least.1) {
                    self.fold(least.1, &old);
                }
            }
            _ => self.fold(key, &acc),
        }
    }

    /// Counts a finding that did not fit under the cap.
    fn fold(&mut self, key: EndpointKey, acc: &Acc) {
        self.dropped += 1;
        let e = self
            .folded
            .entry((key.kind, key.transport, key.port))
            .or_insert_with(|| FoldedFindings {
                kind: key.kind,
                transport: key.transport,
                port: key.port,
                findings: 0,
                flows: 0,
                answered: 0,
                data_exchanged: 0,
                max_score: 0,
            });
        e.findings += 1;
        e.flows += acc.totals.flows;
        e.answered += acc.totals.answered;
        e.data_exchanged += acc.totals.data_exchanged;
        e.max_score = e.max_score.max(acc.rank.0);
    }

    fn note_source(&mut self, f: &Flow) {
        let ip = f.client.ip;
        let mut inherited = 0;
        if !self.sources.contains_key(&ip) && self.sources.len() >= MAX_SWEEP_SOURCES {
            // Full: the source with the fewest targets makes room, and the
            // new one starts from its rank (space-saving), so a source that
            // keeps probing stays while one-shot sources replace each other.
            let ranks = self.source_ranks.get_or_insert_with(|| {
                self.sources.iter().map(|(ip, s)| (s.rank(), *ip)).collect()
            });
            let Some((r, victim)) = ranks.pop_first() else {
                return;
            };
            self.sources.remove(&victim);
            self.sources_dropped += 1;
            inherited = r;
        }
        let old_rank = self.sources.get(&ip).map(SourceAcc::rank);
        let s = self.sources.entry(ip).or_default();
        s.inherited = s.inherited.max(inherited);
        if s.targets.is_empty() {
            s.first_ts = f.first_ts;
            s.last_ts = f.last_ts;
        }
        s.first_ts = s.first_ts.min(f.first_ts);
        s.last_ts = s.last_ts.max(f.last_ts);
        let k = (f.server.ip, f.server.port, f.transport);
        if s.targets.len() < MAX_TARGETS_PER_SOURCE || s.targets.contains_key(&k) {
            *s.targets.entry(k).or_default() |= f.answered();
            s.ports.insert((f.server.port, f.transport));
            s.hosts.insert(f.server.ip);
        } else {
            s.overflow += 1;
        }
        let new_rank = s.rank();
        if let Some(ranks) = self.source_ranks.as_mut() {
            if let Some(r) = old_rank {
                ranks.remove(&(r, ip));
            }
            ranks.insert((new_rank, ip));
        }
    }

    /// Ends the analysis: behaviour detectors, severities, sorting.
    pub fn finish(mut self) -> Outcome {
        let mut findings = Vec::new();
        // Sweeps first: they absorb the unanswered probes of their source.
        let mut sweepers: BTreeSet<IpAddr> = BTreeSet::new();
        for (src, s) in &self.sources {
            let n = s.ports.len().max(s.hosts.len());
            if n >= self.cfg.sweep_min_targets {
                sweepers.insert(*src);
                findings.push(self.sweep_finding(*src, s));
            }
        }
        // One verdict per (port, transport): building one walks the registry,
        // and many endpoints share a port.
        let mut verdicts = std::mem::take(&mut self.verdicts);
        for (key, acc) in std::mem::take(&mut self.accs) {
            // A per-endpoint finding made only of a sweeper's unanswered probes
            // is folded into the sweep finding.
            if key.kind == FindingKind::GhostPort
                && acc.totals.answered == 0
                && acc.clients.iter().all(|c| sweepers.contains(c))
                && !acc.clients_capped
            {
                continue;
            }
            let verdict = verdicts
                .entry((key.port, key.transport))
                .or_insert_with(|| std::sync::Arc::new(self.kb.verdict(key.port, key.transport)))
                .clone();
            findings.push(self.endpoint_finding(key, acc, verdict));
        }
        findings.sort_by(|a, b| {
            b.severity
                .score
                .cmp(&a.severity.score)
                .then(a.kind.cmp(&b.kind))
                .then(a.server.port.cmp(&b.server.port))
                .then(a.transport.cmp(&b.transport))
                .then(a.server.ip.cmp(&b.server.ip))
        });
        for (i, f) in findings.iter_mut().enumerate() {
            f.id = format!("GP-{:04}", i + 1);
        }
        let mut suppressed: Vec<Suppression> = self
            .suppressed
            .iter()
            .filter_map(|(i, (flows, keys))| {
                let r = self.cfg.policy.rule(*i)?;
                Some(Suppression {
                    rule: r.to_string(),
                    origin: r.origin.clone(),
                    note: r.note.clone(),
                    findings: keys.len() as u64,
                    flows: *flows,
                })
            })
            .collect();
        suppressed.sort();
        self.all_flows.sort_by_key(|f| (f.first_ts, f.id));
        Outcome {
            findings,
            suppressed,
            findings_dropped: self.dropped,
            findings_folded: {
                let mut v: Vec<FoldedFindings> =
                    std::mem::take(&mut self.folded).into_values().collect();
                v.sort_by(|a, b| {
                    b.max_score
                        .cmp(&a.max_score)
                        .then(b.flows.cmp(&a.flows))
                        .then((a.kind, a.transport, a.port).cmp(&(b.kind, b.transport, b.port)))
                });
                v
            },
            sweep_sources_dropped: self.sources_dropped,
            flows: self.counts,
            all_flows: self.all_flows,
            all_flows_omitted: self.all_flows_omitted,
            negotiation: NegotiationStats {
                endpoints_untracked: self.negotiated_untracked,
                ..self.negotiations.stats()
            },
        }
    }

    fn sweep_finding(&self, src: IpAddr, s: &SourceAcc) -> Finding {
        let answered = s.targets.values().filter(|a| **a).count();
        let mut ev = BTreeMap::new();
        ev.insert("distinct_ports", serde_json::json!(s.ports.len()));
        ev.insert("distinct_hosts", serde_json::json!(s.hosts.len()));
        ev.insert(
            "targets",
            serde_json::json!(s.targets.len() as u64 + s.overflow),
        );
        ev.insert("answered_targets", serde_json::json!(answered));
        ev.insert(
            "span_s",
            serde_json::json!(round2((s.last_ts - s.first_ts) as f64 / 1e9)),
        );
        let detail = format!(
            "{} touched {} ghost port(s) on {} host(s) in {} ({} answered)",
            src,
            s.ports.len(),
            s.hosts.len(),
            crate::timefmt::human_duration(s.last_ts - s.first_ts),
            answered
        );
        let severity = severity::sweep(answered);
        let mut totals = FlowTotals::default();
        let mut clients_total = 0;
        let mut first_ts = s.first_ts;
        let mut last_ts = s.last_ts;
        for (k, acc) in &self.accs {
            if acc.clients.contains(&src) && k.kind == FindingKind::GhostPort {
                totals.merge(&acc.totals);
                clients_total = 1;
                first_ts = first_ts.min(acc.first_ts);
                last_ts = last_ts.max(acc.last_ts);
            }
        }
        // the cap keeps the answered targets first (a server that answered
        // matters more than a probe that did not), then in address order
        let mut targets: Vec<SweepTarget> = s
            .targets
            .iter()
            .map(|(&(ip, port, transport), &answered)| SweepTarget {
                ip,
                port,
                transport,
                answered,
            })
            .collect();
        targets.sort_by_key(|t| !t.answered);
        let targets_omitted =
            (targets.len().saturating_sub(MAX_SWEEP_TARGETS_LISTED)) as u64 + s.overflow;
        targets.truncate(MAX_SWEEP_TARGETS_LISTED);
        Finding {
            id: String::new(),
            kind: FindingKind::Sweep,
            title: format!(
                "ghost-port sweep from {src}: {} ports, {} hosts",
                s.ports.len(),
                s.hosts.len()
            ),
            severity,
            transport: s
                .targets
                .keys()
                .next()
                .map(|k| k.2)
                .unwrap_or(Transport::Tcp),
            server: Endpoint { ip: src, port: 0 },
            verdict: None,
            attack: vec![
                tag("T1046", "Network Service Discovery"),
                tag("T1571", "Non-Standard Port"),
            ],
            behaviours: vec![Behaviour {
                kind: "sweep",
                detail,
                evidence: ev,
            }],
            protocols: Vec::new(),
            indicators: Vec::new(),
            first_ts,
            last_ts,
            clients: vec![src],
            clients_total,
            clients_capped: false,
            totals,
            flows: Vec::new(),
            flows_omitted: totals.flows,
            targets,
            targets_omitted,
            explained: None,
            local_process: None,
            filter: None,
        }
    }

    fn endpoint_finding(
        &self,
        key: EndpointKey,
        acc: Acc,
        verdict: std::sync::Arc<Verdict>,
    ) -> Finding {
        let mut behaviours = Vec::new();
        let t = &acc.totals;
        if key.kind == FindingKind::GhostSourcePort {
            let mut ev = BTreeMap::new();
            ev.insert("flows", serde_json::json!(t.flows));
            behaviours.push(Behaviour {
                kind: "ghost-source-port",
                detail: format!(
                    "{} used ghost port {}/{} as its source port towards well-known services",
                    key.ip, key.port, key.transport
                ),
                evidence: ev,
            });
        } else if t.answered > 0 {
            let mut ev = BTreeMap::new();
            ev.insert("flows_answered", serde_json::json!(t.answered));
            ev.insert(
                "flows_with_data_both_ways",
                serde_json::json!(t.data_exchanged),
            );
            behaviours.push(Behaviour {
                kind: "server-present",
                detail: format!(
                    "{}:{} answered {} of {} flows{}",
                    key.ip,
                    key.port,
                    t.answered,
                    t.flows,
                    if t.data_exchanged > 0 {
                        format!(", data both ways in {}", t.data_exchanged)
                    } else {
                        String::new()
                    }
                ),
                evidence: ev,
            });
        } else {
            let mut ev = BTreeMap::new();
            ev.insert("flows", serde_json::json!(t.flows));
            ev.insert("rejected_rst", serde_json::json!(t.rejected));
            ev.insert("icmp_errors", serde_json::json!(t.icmp_errors));
            let (kind, how) = if t.rejected > 0 {
                ("blocked", "refused with RST")
            } else if t.icmp_errors > 0 {
                ("blocked", "ICMP unreachable")
            } else {
                ("unanswered", "no answer seen")
            };
            behaviours.push(Behaviour {
                kind,
                detail: format!("{} attempt(s), {how}", t.flows),
                evidence: ev,
            });
        }
        if let Some(b) = beacon(&acc, &self.cfg) {
            behaviours.push(b);
        }
        let long_s = acc.longest_ns as f64 / 1e9;
        if long_s >= self.cfg.long_session_s {
            let mut ev = BTreeMap::new();
            ev.insert("longest_session_s", serde_json::json!(round2(long_s)));
            behaviours.push(Behaviour {
                kind: "long-lived",
                detail: format!(
                    "a session lasted {}",
                    crate::timefmt::human_duration(acc.longest_ns)
                ),
                evidence: ev,
            });
        }
        if acc.max_bytes >= self.cfg.high_volume_bytes {
            let mut ev = BTreeMap::new();
            ev.insert("largest_session_bytes", serde_json::json!(acc.max_bytes));
            behaviours.push(Behaviour {
                kind: "high-volume",
                detail: format!("a session moved {} bytes", acc.max_bytes),
                evidence: ev,
            });
        }
        let expected = (key.kind == FindingKind::PortMismatch)
            .then(|| expected::expected(key.port, key.transport).map(|e| e.name))
            .flatten();
        if let Some(b) = contradiction(key, &verdict, &acc.protocols, expected) {
            behaviours.push(b);
        }
        let max_sessions_per_client = acc.starts.values().map(Vec::len).max().unwrap_or(0);
        let severity = severity::endpoint(&severity::Input {
            kind: key.kind,
            totals: t,
            protocols: &acc.protocols,
            behaviours: &behaviours,
            verdict: &verdict,
            indicators: &acc.indicators,
            max_sessions_per_client,
            repeated_sessions_min: self.cfg.repeated_sessions_min,
            max_flow_packets: acc.max_packets,
            udp: key.transport == Transport::Udp,
            expected,
        });
        let explained = if matches!(
            key.kind,
            FindingKind::GhostPort | FindingKind::UnregisteredService | FindingKind::PortMismatch
        ) {
            let negotiated = self
                .negotiated
                .get(&key)
                .filter(|(n, _)| *n >= acc.totals.flows);
            explain::choose(
                explain::by_application(&acc.protocols),
                negotiated.map(|(_, a)| explain::by_negotiation(a)),
            )
        } else {
            None
        };
        let severity = match &explained {
            Some(e) => explain::apply(severity, e),
            None => severity,
        };
        let mut attack = vec![tag("T1571", "Non-Standard Port")];
        for p in &acc.protocols {
            if let Some((id, name)) = p.identification.protocol.attack_technique() {
                attack.push(tag(id, name));
            }
        }
        if behaviours.iter().any(|b| b.kind == "beacon") {
            attack.push(tag("T1071", "Application Layer Protocol"));
        }
        attack.sort();
        attack.dedup_by(|a, b| a.id == b.id);
        let title = finding_title(key, &verdict, t, &acc.protocols, expected);
        let clients_total = acc.clients.len() as u64;
        Finding {
            id: String::new(),
            kind: key.kind,
            title,
            severity,
            transport: key.transport,
            server: Endpoint {
                ip: key.ip,
                port: key.port,
            },
            verdict: Some(verdict),
            attack,
            behaviours,
            protocols: acc.protocols,
            indicators: acc.indicators,
            first_ts: acc.first_ts,
            last_ts: acc.last_ts,
            clients: acc
                .clients
                .iter()
                .take(self.cfg.clients_per_finding)
                .copied()
                .collect(),
            clients_total,
            clients_capped: acc.clients_capped,
            totals: acc.totals,
            flows: acc.flows,
            flows_omitted: acc.flows_omitted,
            targets: Vec::new(),
            targets_omitted: 0,
            explained,
            local_process: None,
            filter: None,
        }
    }
}

/// How telling a flow record is, for the per-finding cap: data both ways,
/// answered, a recognised application, bytes; the earlier flow wins a tie.
fn record_rank(r: &FlowRecord) -> (bool, bool, bool, u64, std::cmp::Reverse<u64>) {
    let known = r
        .identification
        .as_ref()
        .is_some_and(|i| i.protocol.is_well_known_application());
    (
        r.c2s.payload_bytes > 0 && r.s2c.payload_bytes > 0,
        r.answered,
        known,
        r.c2s.bytes + r.s2c.bytes,
        std::cmp::Reverse(r.id),
    )
}

/// A finding's [`Rank`] so far: its severity score from what is known
/// before the end (state, payload, long-lived, high-volume, the port's
/// tags), then its flows.
fn rank(
    kb: &KnowledgeBase,
    cfg: &ClassifyConfig,
    verdicts: &mut BTreeMap<(u16, Transport), std::sync::Arc<Verdict>>,
    key: EndpointKey,
    acc: &Acc,
    negotiated: bool,
) -> Rank {
    let verdict = verdicts
        .entry((key.port, key.transport))
        .or_insert_with(|| std::sync::Arc::new(kb.verdict(key.port, key.transport)));
    let mut behaviours = Vec::new();
    let mut mark = |kind| {
        behaviours.push(Behaviour {
            kind,
            detail: String::new(),
            evidence: BTreeMap::new(),
        })
    };
    if key.kind == FindingKind::GhostPort {
        if acc.longest_ns as f64 / 1e9 >= cfg.long_session_s {
            mark("long-lived");
        }
        if acc.max_bytes >= cfg.high_volume_bytes {
            mark("high-volume");
        }
    }
    let sev = severity::endpoint(&severity::Input {
        kind: key.kind,
        totals: &acc.totals,
        protocols: &acc.protocols,
        behaviours: &behaviours,
        verdict,
        indicators: &acc.indicators,
        max_sessions_per_client: acc.starts.values().map(Vec::len).max().unwrap_or(0),
        repeated_sessions_min: cfg.repeated_sessions_min,
        max_flow_packets: acc.max_packets,
        udp: key.transport == Transport::Udp,
        expected: (key.kind == FindingKind::PortMismatch)
            .then(|| expected::expected(key.port, key.transport).map(|e| e.name))
            .flatten(),
    });
    // Explained findings rank as low as they will be reported.
    let app = (key.kind == FindingKind::GhostPort)
        .then(|| explain::by_application(&acc.protocols))
        .flatten();
    let score = match app {
        Some(e) if e.standing == identify::Standing::DualUse => explain::apply(sev, &e).score,
        _ if negotiated && key.kind == FindingKind::GhostPort => {
            sev.score.min(explain::NEGOTIATED_MAX)
        }
        Some(e) => explain::apply(sev, &e).score,
        None => sev.score,
    };
    (score, acc.totals.flows)
}

/// Every flow of the endpoint so far went to a negotiated port.
fn all_negotiated(
    negotiated: &BTreeMap<EndpointKey, (u64, Announcement)>,
    key: EndpointKey,
    acc: &Acc,
) -> bool {
    negotiated
        .get(&key)
        .is_some_and(|(n, _)| *n >= acc.totals.flows)
}

fn finding_title(
    key: EndpointKey,
    v: &Verdict,
    t: &FlowTotals,
    protos: &[SeenProtocol],
    expected: Option<&str>,
) -> String {
    let service = v
        .record
        .as_ref()
        .map(|r| r.service_name.as_str())
        .filter(|s| !s.is_empty());
    let name = match (key.kind, service) {
        (FindingKind::UnregisteredService, _) => "unassigned".to_owned(),
        (FindingKind::PortMismatch, s) => format!(
            "{}, implemented for {}",
            s.unwrap_or("?"),
            expected.unwrap_or("another protocol")
        ),
        (_, s) => s.unwrap_or("?").to_owned(),
    };
    if key.kind == FindingKind::GhostSourcePort {
        return format!(
            "ghost source port {}/{} ({name}) used towards well-known services",
            key.port, key.transport
        );
    }
    let state = if t.data_exchanged > 0 {
        "answered, data both ways"
    } else if t.answered > 0 {
        "answered"
    } else if t.c2s.payload_bytes > 0 || t.s2c.payload_bytes > 0 {
        "one-way stream with data"
    } else if t.rejected > 0 {
        "refused (RST)"
    } else if t.icmp_errors > 0 {
        "ICMP unreachable"
    } else {
        "unanswered"
    };
    let speaks = protos
        .iter()
        .find(|p| p.identification.protocol.is_well_known_application())
        .map(|p| format!(", carrying {}", p.identification.summary))
        .unwrap_or_default();
    format!(
        "{}/{} ({name}) on {}: {state}{speaks}",
        key.port, key.transport, key.ip
    )
}

/// Where the registry names a service and the traffic is something else,
/// say both ("registry: ndmp; traffic: TLS ..."), for ghost ports and port
/// mismatches.
fn contradiction(
    key: EndpointKey,
    v: &Verdict,
    protos: &[SeenProtocol],
    expected: Option<&str>,
) -> Option<Behaviour> {
    if !matches!(key.kind, FindingKind::GhostPort | FindingKind::PortMismatch) {
        return None;
    }
    let service = v
        .record
        .as_ref()
        .map(|r| r.service_name.as_str())
        .filter(|s| !s.is_empty())?;
    let p = protos
        .iter()
        .find(|p| p.identification.protocol.is_well_known_application())?;
    let id = &p.identification;
    // A recogniser that says the registry's own service is no contradiction.
    if id.protocol.as_str().eq_ignore_ascii_case(service) {
        return None;
    }
    let traffic = describe_traffic(id);
    let registry = match expected {
        Some(e) => format!("{service} (implemented for {e})"),
        None => service.to_owned(),
    };
    let mut ev = BTreeMap::new();
    ev.insert("registry_service", serde_json::json!(service));
    ev.insert("traffic_protocol", serde_json::json!(id.protocol.as_str()));
    ev.insert("flows", serde_json::json!(p.flows));
    Some(Behaviour {
        kind: "registry-contradiction",
        detail: format!("registry: {registry}; traffic: {traffic}"),
        evidence: ev,
    })
}

/// A short description of what a flow carried, for the contradiction line.
fn describe_traffic(id: &Identification) -> String {
    let mut s = id.protocol.as_str().to_uppercase();
    if id.protocol == identify::Protocol::Tls {
        if let Some(sni) = id.field("tls.sni") {
            s.push_str(&format!(" to {sni}"));
        } else if id.field("tls.handshake") == Some("client_hello")
            && id.field("tls.partial").is_none()
        {
            s.push_str(" without SNI");
        }
        let self_signed = id.field("tls.cert.self_signed") == Some("true");
        if let Some(subject) = id.field("tls.cert.subject") {
            s.push_str(&format!(
                " with a {}certificate {subject}",
                if self_signed { "self-signed " } else { "" }
            ));
        }
    } else if let Some(b) = id
        .field("ssh.banner")
        .or_else(|| id.field("http.host"))
        .or_else(|| id.field("http.server"))
    {
        s.push_str(&format!(" ({b})"));
    }
    s
}

fn tag(id: &str, name: &str) -> AttackTag {
    AttackTag {
        id: id.to_string(),
        name: name.to_string(),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Beaconing: one client reconnecting to the endpoint at a regular interval.
fn beacon(acc: &Acc, cfg: &ClassifyConfig) -> Option<Behaviour> {
    let mut best: Option<(IpAddr, usize, f64, f64)> = None;
    for (client, starts) in &acc.starts {
        if starts.len() < cfg.beacon_min_connections {
            continue;
        }
        let mut s = starts.clone();
        s.sort_unstable();
        let iv: Vec<f64> = s.windows(2).map(|w| (w[1] - w[0]) as f64 / 1e9).collect();
        let n = iv.len() as f64;
        let mean = iv.iter().sum::<f64>() / n;
        if mean < cfg.beacon_min_interval_s {
            continue;
        }
        let sd = (iv.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        let jitter = sd / mean;
        if jitter <= cfg.beacon_max_jitter && best.as_ref().is_none_or(|b| s.len() > b.1) {
            best = Some((*client, s.len(), mean, jitter));
        }
    }
    let (client, count, mean, jitter) = best?;
    let mut ev = BTreeMap::new();
    ev.insert("client", serde_json::json!(client.to_string()));
    ev.insert("connections", serde_json::json!(count));
    ev.insert("interval_s", serde_json::json!(round2(mean)));
    ev.insert("jitter", serde_json::json!(round2(jitter)));
    Some(Behaviour {
        kind: "beacon",
        detail: format!(
            "{client} connected {count} times, every {:.1} s (jitter {:.0} %)",
            mean,
            jitter * 100.0
        ),
        evidence: ev,
    })
}

#[cfg(test)]
mod memory_tests {
    use super::*;

    /// The findings cap ranks an explained finding as low as it will be
    /// reported: with room for one finding, an unrecognised answered UDP
    /// endpoint is kept and a STUN endpoint (more flows, otherwise higher)
    /// is folded.
    #[test]
    fn the_findings_cap_folds_explained_findings_first() {
        let kb = KnowledgeBase::builtin();
        let cfg = ClassifyConfig {
            max_findings: 1,
            ..ClassifyConfig::default()
        };
        let mut c = Classifier::new(kb, cfg);
        let mut t = FlowTable::new(FlowConfig {
            payload_ports: None,
            ..FlowConfig::default()
        });
        let mut stun = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        stun.extend_from_slice(&[5u8; 12]);
        let unknown = [0x42u8; 40];
        let mut ts = 0i64;
        let mut send = |t: &mut FlowTable, src: &str, sp: u16, dst: &str, dp: u16, p: &[u8]| {
            ts += 1_000_000;
            let pkt = Packet {
                src: src.parse().unwrap(),
                dst: dst.parse().unwrap(),
                transport: Transport::Udp,
                src_port: sp,
                dst_port: dp,
                tcp_flags: 0,
                seq: 0,
                payload: p,
                payload_len: p.len() as u32,
                vlan: None,
                first_fragment: false,
                kind: PacketKind::Normal,
                tunnel: None,
            };
            t.update(&pkt, ts, 60);
        };
        for i in 0..3u16 {
            send(&mut t, "192.0.2.10", 50000 + i, "203.0.113.79", 3480, &stun);
            send(&mut t, "203.0.113.79", 3480, "192.0.2.10", 50000 + i, &stun);
        }
        send(&mut t, "192.0.2.10", 51000, "203.0.113.86", 386, &unknown);
        send(&mut t, "203.0.113.86", 386, "192.0.2.10", 51000, &unknown);
        t.finish_all();
        for f in t.drain_finished() {
            c.add(&f);
        }
        let out = c.finish();
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].server.port, 386);
        assert_eq!(out.findings_dropped, 1);
    }
    use crate::decode::{Packet, PacketKind};
    use crate::flow::{FlowConfig, FlowTable};

    #[test]
    fn beacon_start_times_are_kept_for_a_bounded_number_of_clients() {
        let kb = KnowledgeBase::builtin();
        let cfg = ClassifyConfig::default();
        let cap = cfg.clients_per_finding * 20;
        let mut c = Classifier::new(kb, cfg);
        let mut t = FlowTable::new(FlowConfig::default());
        for i in 0..(cap as u32 * 3) {
            let p = Packet {
                src: IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 | i)),
                dst: "203.0.113.84".parse().unwrap(),
                transport: Transport::Udp,
                src_port: 40000,
                dst_port: 384,
                tcp_flags: 0,
                seq: 0,
                payload: b"x",
                payload_len: 1,
                vlan: None,
                first_fragment: false,
                kind: PacketKind::Normal,
                tunnel: None,
            };
            t.update(&p, i64::from(i), 60);
        }
        t.finish_all();
        for f in t.drain_finished() {
            c.add(&f);
        }
        assert_eq!(c.accs.len(), 1);
        let acc = c.accs.values().next().unwrap();
        assert_eq!(acc.totals.flows, cap as u64 * 3);
        assert_eq!(acc.starts.len(), cap);
    }
}

#[cfg(test)]
mod cap_tests {
    use super::*;
    use crate::decode::{Packet, PacketKind, tcp_flags};
    use crate::flow::{FlowConfig, FlowTable};

    fn udp(src: u32, dst: &str, payload: &'static [u8]) -> Packet<'static> {
        Packet {
            src: IpAddr::V4(std::net::Ipv4Addr::from(src)),
            dst: dst.parse().unwrap(),
            transport: Transport::Udp,
            src_port: 40000,
            dst_port: 384,
            tcp_flags: 0,
            seq: 0,
            payload,
            payload_len: payload.len() as u32,
            vlan: None,
            first_fragment: false,
            kind: PacketKind::Normal,
            tunnel: None,
        }
    }

    /// The per-finding flow records keep the telling flows (answered), not
    /// the first ones.
    #[test]
    fn flow_records_keep_the_answered_flows() {
        let kb = KnowledgeBase::builtin();
        let cfg = ClassifyConfig {
            flows_per_finding: 3,
            ..Default::default()
        };
        let mut c = Classifier::new(kb, cfg);
        let mut t = FlowTable::new(FlowConfig::default());
        for i in 0..20u32 {
            t.update(
                &udp(0x0a00_0000 | i, "203.0.113.84", b"x"),
                i64::from(i),
                60,
            );
        }
        let mut answered = udp(0x0b00_0001, "203.0.113.84", b"q");
        t.update(&answered, 100, 60);
        std::mem::swap(&mut answered.src, &mut answered.dst);
        std::mem::swap(&mut answered.src_port, &mut answered.dst_port);
        t.update(&answered, 101, 60);
        t.finish_all();
        for f in t.drain_finished() {
            c.add(&f);
        }
        let out = c.finish();
        let f = &out.findings[0];
        assert_eq!(f.flows.len(), 3);
        assert_eq!(f.flows_omitted, 18);
        assert!(f.flows.iter().any(|r| r.answered));
    }

    /// A sweep over more targets than are listed keeps the answered ones in
    /// its list and counts the rest in `targets_omitted`.
    #[test]
    fn sweep_targets_list_answered_first_and_count_the_rest() {
        let kb = KnowledgeBase::builtin();
        let mut c = Classifier::new(kb, ClassifyConfig::default());
        let mut t = FlowTable::new(FlowConfig::default());
        let n = MAX_SWEEP_TARGETS_LISTED as u32 + 50;
        for i in 0..n {
            let dst = format!("198.51.{}.{}", 100 + i / 250, 1 + i % 250);
            t.update(&udp(0x0a00_0001, &dst, b"x"), i64::from(i), 60);
        }
        // the last (highest-addressed) target answers
        let dst = format!("198.51.{}.{}", 100 + (n - 1) / 250, 1 + (n - 1) % 250);
        let mut back = udp(0x0a00_0001, &dst, b"y");
        std::mem::swap(&mut back.src, &mut back.dst);
        std::mem::swap(&mut back.src_port, &mut back.dst_port);
        t.update(&back, i64::from(n), 60);
        t.finish_all();
        for f in t.drain_finished() {
            c.add(&f);
        }
        let out = c.finish();
        let sweep = out
            .findings
            .iter()
            .find(|f| f.kind == FindingKind::Sweep)
            .expect("a sweep");
        assert_eq!(sweep.targets.len(), MAX_SWEEP_TARGETS_LISTED);
        assert_eq!(sweep.targets_omitted, 50);
        assert!(sweep.targets[0].answered);
    }

    /// With the findings cap reached, a more severe finding replaces the
    /// least severe one; the folded one is counted on its port.
    #[test]
    fn findings_cap_folds_the_least_severe() {
        let kb = KnowledgeBase::builtin();
        let cfg = ClassifyConfig {
            max_findings: 4,
            ..Default::default()
        };
        let mut c = Classifier::new(kb, cfg);
        let mut t = FlowTable::new(FlowConfig::default());
        for i in 0..10u32 {
            let dst = format!("198.51.100.{i}");
            t.update(&udp(0x0a00_0000 | i, &dst, b"x"), i64::from(i), 60);
        }
        let s = Packet {
            src: "192.0.2.1".parse().unwrap(),
            dst: "203.0.113.86".parse().unwrap(),
            transport: Transport::Tcp,
            src_port: 50000,
            dst_port: 386,
            tcp_flags: tcp_flags::SYN,
            seq: 1,
            payload: b"",
            payload_len: 0,
            vlan: None,
            first_fragment: false,
            kind: PacketKind::Normal,
            tunnel: None,
        };
        t.update(&s, 20, 60);
        let mut sa = s;
        std::mem::swap(&mut sa.src, &mut sa.dst);
        std::mem::swap(&mut sa.src_port, &mut sa.dst_port);
        sa.tcp_flags = tcp_flags::SYN | tcp_flags::ACK;
        t.update(&sa, 21, 60);
        t.finish_all();
        for f in t.drain_finished() {
            c.add(&f);
        }
        let out = c.finish();
        assert_eq!(out.findings.len(), 4);
        assert_eq!(out.findings[0].server.port, 386);
        assert_eq!(out.findings_dropped, 7);
        assert_eq!(out.findings_folded.len(), 1);
        assert_eq!(out.findings_folded[0].findings, 7);
        assert_eq!(out.findings_folded[0].flows, 7);
    }

    /// Sweep sources beyond the cap: one-shot sources replace each other,
    /// a source that keeps probing stays (space-saving).
    #[test]
    fn a_probing_source_survives_a_flood_of_one_shot_sources() {
        let kb = KnowledgeBase::builtin();
        let mut c = Classifier::new(kb, ClassifyConfig::default());
        let mut t = FlowTable::new(FlowConfig {
            max_flows: 1 << 20,
            ..Default::default()
        });
        let mut ts = 0;
        for i in 0..(MAX_SWEEP_SOURCES as u32 + 5_000) {
            ts += 1;
            let dst = std::net::Ipv4Addr::from(0xc633_6400 | (i & 0xff)).to_string();
            t.update(&udp(0x0a00_0000 | i, &dst, b"x"), ts, 60);
            if i % 1000 == 0 {
                // The sweeper: one more ghost host every 1000 decoys.
                let dst = format!("198.18.0.{}", i / 1000);
                t.update(&udp(0x0b00_0001, &dst, b"x"), ts, 60);
            }
        }
        t.finish_all();
        for f in t.drain_finished() {
            c.add(&f);
        }
        assert!(c.sources.len() <= MAX_SWEEP_SOURCES);
        assert_eq!(c.sources_dropped, 5_000 + 1);
        let out = c.finish();
        assert!(
            out.findings.iter().any(|f| f.kind == FindingKind::Sweep
                && f.server.ip == "11.0.0.1".parse::<IpAddr>().unwrap()),
            "the sweep was pushed out"
        );
    }
}
