//! Wires the pipeline: frames → decode → flow table → classifier.
//!
//! [`Analyzer`] is the per-frame engine shared by offline scans and live
//! capture; [`scan`] drives it over a list of inputs (several files are one
//! analysis: flows span files).

use std::time::Instant;

use serde::Serialize;

use crate::capture::{self, CaptureError, Frame, FrameSource, Input, InputSummary, ReaderKind};
use crate::classify::{Classifier, ClassifyConfig, Outcome};
use crate::decode::{self, LinkType, PacketKind, Skip};
use crate::flow::Endpoint;
use crate::flow::{FlowConfig, FlowStats, FlowTable};
use crate::identify::negotiate::{self, MAX_CONTROL_PAYLOAD};
use crate::knowledge::{KnowledgeBase, PortClass};
use crate::records::{RecordReader, RecordStats};

mod pipeline;

/// Settings for one analysis.
#[derive(Clone, Debug, Default)]
pub struct AnalysisConfig {
    /// Flow table settings.
    pub flow: FlowConfig,
    /// Detector settings.
    pub classify: ClassifyConfig,
    /// File reader.
    pub reader: ReaderKind,
}

/// Packet counters.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct PacketStats {
    /// Frames read from the inputs.
    pub frames: u64,
    /// Frame bytes on the wire (original lengths).
    pub wire_bytes: u64,
    /// Frames decoded to a TCP or UDP packet (or an ICMP error quoting one).
    pub decoded: u64,
    /// TCP packets.
    pub tcp: u64,
    /// UDP packets.
    pub udp: u64,
    /// ICMP errors attributed to a quoted TCP/UDP flow.
    pub icmp_errors: u64,
    /// Frames captured shorter than their original length (snaplen).
    pub truncated_frames: u64,
    /// First fragments of fragmented datagrams (ports read from them).
    pub first_fragments: u64,
    /// Packets taken out of a tunnel or encapsulation (VXLAN, Geneve, GRE,
    /// ERSPAN, IP-in-IP, 6in4, 4in6, Teredo, MPLS, PPPoE, LLC/SNAP), by the
    /// outermost one.
    pub tunnelled: std::collections::BTreeMap<crate::decode::TunnelKind, u64>,
    /// Frames not decoded, by reason (see `docs/report.md`).
    pub skipped: std::collections::BTreeMap<&'static str, u64>,
    /// Sum of the skipped reasons that mean malformed or truncated input.
    pub malformed: u64,
}

/// The decode half of the per-frame work: link type, decoding, and the
/// packet counters. Runs on the reading thread in a two-thread scan.
#[derive(Default)]
pub(crate) struct FrameDecoder {
    stats: PacketStats,
    skipped: [u64; Skip::COUNT],
    last_linktype: Option<(u32, Option<LinkType>)>,
}

impl FrameDecoder {
    /// Counts and decodes one frame.
    #[inline]
    pub(crate) fn frame<'a>(&mut self, f: &Frame<'a>) -> Result<decode::Packet<'a>, Skip> {
        self.stats.frames += 1;
        self.stats.wire_bytes += u64::from(f.orig_len.max(f.caplen));
        if f.orig_len > f.caplen {
            self.stats.truncated_frames += 1;
        }
        let link = match self.last_linktype {
            Some((lt, link)) if lt == f.linktype => link,
            _ => {
                let link = LinkType::from_linktype(f.linktype);
                self.last_linktype = Some((f.linktype, link));
                link
            }
        };
        match decode::decode(link, f.data) {
            Ok(p) => {
                self.stats.decoded += 1;
                match p.kind {
                    PacketKind::IcmpError { .. } => self.stats.icmp_errors += 1,
                    PacketKind::Normal => match p.transport {
                        crate::Transport::Tcp => self.stats.tcp += 1,
                        crate::Transport::Udp => self.stats.udp += 1,
                    },
                }
                if p.first_fragment {
                    self.stats.first_fragments += 1;
                }
                if let Some(t) = p.tunnel {
                    *self.stats.tunnelled.entry(t.kind).or_insert(0) += 1;
                }
                Ok(p)
            }
            Err(skip) => {
                if let Some(c) = self.skipped.get_mut(skip as usize) {
                    *c += 1;
                }
                Err(skip)
            }
        }
    }

    /// Frames counted so far.
    pub(crate) fn frames(&self) -> u64 {
        self.stats.frames
    }

    /// Adds another decoder's counts to this one's.
    pub(crate) fn absorb(&mut self, o: &FrameDecoder) {
        let (a, b) = (&mut self.stats, &o.stats);
        a.frames += b.frames;
        a.wire_bytes += b.wire_bytes;
        a.decoded += b.decoded;
        a.tcp += b.tcp;
        a.udp += b.udp;
        a.icmp_errors += b.icmp_errors;
        a.truncated_frames += b.truncated_frames;
        a.first_fragments += b.first_fragments;
        for (k, n) in &b.tunnelled {
            *a.tunnelled.entry(*k).or_insert(0) += n;
        }
        for (x, y) in self.skipped.iter_mut().zip(o.skipped) {
            *x += y;
        }
    }

    /// The counters, with the skip reasons by name.
    fn stats(&self) -> PacketStats {
        let mut s = self.stats.clone();
        for r in Skip::ALL {
            let n = self.skipped.get(r as usize).copied().unwrap_or(0);
            if n > 0 {
                s.skipped.insert(r.as_str(), n);
                if r.is_malformed() {
                    s.malformed += n;
                }
            }
        }
        s
    }
}

/// The per-frame engine.
pub struct Analyzer<'kb> {
    table: FlowTable,
    classifier: Classifier<'kb>,
    decoder: FrameDecoder,
    /// Live capture: the ports whose flows [`Analyzer::peek`] looks at.
    watch: Option<crate::flow::PortSet>,
    watch_news: u64,
    watch_packets: u64,
    /// Flow-log inputs: counters, and the next flow id (above the flow
    /// table's, so ids never collide).
    records: RecordStats,
    next_record_id: u64,
    /// Control ports whose packets announce negotiated ports.
    control_ports: crate::flow::PortSet,
}

impl<'kb> Analyzer<'kb> {
    /// A new analyzer. Payload is kept only for flows the classifier may
    /// identify ([`crate::classify::payload_need`]): in full on ghost,
    /// unassigned and rule-named ports, the first bytes on the busiest
    /// implemented ports (HTTP, HTTPS, DNS) for port mismatches.
    pub fn new(kb: &'kb KnowledgeBase, cfg: &AnalysisConfig) -> Analyzer<'kb> {
        let mut flow_cfg = cfg.flow.clone();
        if flow_cfg.payload_ports.is_none() {
            let mut set = crate::flow::PortSet::default();
            let mut sniff = crate::flow::PortSet::default();
            for t in [crate::Transport::Tcp, crate::Transport::Udp] {
                for port in 0..=u16::MAX {
                    match crate::classify::payload_need(kb, &cfg.classify, port, t) {
                        crate::classify::PayloadNeed::Full => set.insert(t, port),
                        crate::classify::PayloadNeed::Sniff => sniff.insert(t, port),
                        crate::classify::PayloadNeed::None => {}
                    }
                }
            }
            flow_cfg.payload_ports = Some(set);
            if flow_cfg.sniff_ports.is_none() {
                flow_cfg.sniff_ports = Some(sniff);
            }
        }
        if flow_cfg.ghost_ports.is_none() {
            let mut set = crate::flow::PortSet::default();
            for t in [crate::Transport::Tcp, crate::Transport::Udp] {
                for port in 0..=u16::MAX {
                    if kb.class(port, t) == PortClass::Ghost {
                        set.insert(t, port);
                    }
                }
            }
            flow_cfg.ghost_ports = Some(set);
        }
        if flow_cfg.service_ports.is_none() {
            let mut set = crate::flow::PortSet::default();
            for t in [crate::Transport::Tcp, crate::Transport::Udp] {
                for port in 0..=u16::MAX {
                    if matches!(
                        kb.class(port, t),
                        PortClass::Implemented | PortClass::DeFacto
                    ) {
                        set.insert(t, port);
                    }
                }
            }
            flow_cfg.service_ports = Some(set);
        }
        Analyzer {
            table: FlowTable::new(flow_cfg),
            classifier: Classifier::new(kb, cfg.classify.clone()),
            decoder: FrameDecoder::default(),
            watch: None,
            watch_news: 0,
            watch_packets: 0,
            records: RecordStats::default(),
            next_record_id: 1 << 48,
            control_ports: control_ports(),
        }
    }

    /// Live capture: starts watching flows on ghost ports (and ports a site
    /// rule names) so [`Analyzer::take_news`] and [`Analyzer::peek`] can
    /// report findings before their flows end. Offline scans never call it.
    pub fn watch(&mut self, kb: &KnowledgeBase, cfg: &AnalysisConfig) {
        let mut set = crate::flow::PortSet::default();
        for t in [crate::Transport::Tcp, crate::Transport::Udp] {
            for port in 0..=u16::MAX {
                if crate::classify::payload_need(kb, &cfg.classify, port, t)
                    != crate::classify::PayloadNeed::None
                {
                    set.insert(t, port);
                }
            }
        }
        self.watch = Some(set);
    }

    /// Live capture: (new watched flows, packets on watched flows) since the
    /// last call. A new watched flow means a finding may have appeared.
    pub fn take_news(&mut self) -> (u64, u64) {
        let r = (self.watch_news, self.watch_packets);
        self.watch_news = 0;
        self.watch_packets = 0;
        r
    }

    /// Live capture: the findings as if the input ended now, without
    /// changing any state. Clones the classifier and adds the active flows
    /// that touch a watched port (as server or source port); the flow counts
    /// in the result cover only those flows. Cost: a clone of the
    /// classifier's bounded state; call it every few seconds, not per packet.
    pub fn peek(&self) -> Outcome {
        let mut c = self.classifier.clone();
        if let Some(set) = &self.watch {
            let mut active: Vec<&crate::flow::Flow> = self
                .table
                .iter()
                .filter(|f| {
                    set.contains(f.transport, f.server.port)
                        || set.contains(f.transport, f.client.port)
                })
                .collect();
            active.sort_by_key(|f| f.id);
            for f in active {
                c.add(f);
            }
        }
        c.finish()
    }

    /// Processes one frame. Returns the skip reason when it was not decoded.
    pub fn frame(&mut self, f: &Frame<'_>) -> Option<Skip> {
        match self.decoder.frame(f) {
            Ok(p) => {
                let hash = FlowTable::packet_hash(&p);
                self.packet(&p, hash, f.ts_nanos, f.orig_len.max(f.caplen));
                None
            }
            Err(skip) => Some(skip),
        }
    }

    /// The flow half of [`Analyzer::frame`]: a decoded packet (counted by
    /// a [`FrameDecoder`]) with its [`FlowTable::packet_hash`] goes into the
    /// flow table.
    fn packet(&mut self, p: &decode::Packet<'_>, hash: u64, ts: i64, wire_len: u32) {
        if !p.payload.is_empty()
            && (self.control_ports.contains(p.transport, p.dst_port)
                || self.control_ports.contains(p.transport, p.src_port))
            && p.kind == PacketKind::Normal
        {
            let payload = p.payload.get(..MAX_CONTROL_PAYLOAD).unwrap_or(p.payload);
            self.classifier.observe_control(
                p.transport,
                Endpoint {
                    ip: p.src,
                    port: p.src_port,
                },
                Endpoint {
                    ip: p.dst,
                    port: p.dst_port,
                },
                payload,
                ts,
            );
        }
        if let Some(set) = &self.watch
            && (set.contains(p.transport, p.dst_port) || set.contains(p.transport, p.src_port))
        {
            let created = self.table.stats().created;
            self.table.update_hashed(p, hash, ts, wire_len);
            self.watch_packets += 1;
            if self.table.stats().created != created {
                self.watch_news += 1;
            }
        } else {
            self.table.update_hashed(p, hash, ts, wire_len);
        }
        if self.table.has_finished() {
            self.drain();
        }
    }

    fn drain(&mut self) {
        for f in self.table.drain_finished() {
            self.classifier.add(&f);
        }
    }

    /// Reads a flow log (see [`crate::records`]): its records go to the
    /// classifier as finished flows. Returns the input's summary, the error
    /// that ended it early (if any) and the bytes consumed.
    fn read_records(
        &mut self,
        mut lines: Box<capture::LineSource>,
        base: u64,
        progress: &mut dyn Progress,
    ) -> (InputSummary, Option<String>, u64) {
        let cfg = self.table.config();
        let idle = cfg.tcp_timeout_ns.max(cfg.udp_timeout_ns);
        let mut reader = RecordReader::new(self.next_record_id, cfg.max_flows, idle);
        let classifier = &mut self.classifier;
        let mut error = None;
        loop {
            match lines.next_line() {
                Ok(Some(line)) => {
                    if let Err(e) = reader.line(line, &mut |f| classifier.add(&f)) {
                        error = Some(format!("{}: {e}", lines.name()));
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
            if lines.lines().is_multiple_of(8192) {
                progress.update(base + lines.position(), self.records.flows);
            }
        }
        reader.finish(&mut |f| classifier.add(&f));
        self.next_record_id = reader.next_id();
        let st = reader.stats();
        self.records.absorb(st);
        let consumed = lines.position();
        let format = reader.format().map_or("text", |f| f.as_str());
        let (first, last) = reader.span();
        let summary = lines.finish(format, st.flows, first, last);
        (summary, error, consumed)
    }

    /// A finished flow that did not come from packets (a flow record
    /// received by `collect`), straight to the classifier.
    pub fn add_flow(&mut self, f: &crate::flow::Flow) {
        self.classifier.add(f);
    }

    /// Counts of a record reader fed through [`Analyzer::add_flow`].
    pub fn absorb_records(&mut self, st: &RecordStats) {
        self.records.absorb(st);
    }

    /// Packet counters so far.
    pub fn packet_stats(&self) -> PacketStats {
        self.decoder.stats()
    }

    /// Flows currently in the table.
    pub fn active_flows(&self) -> usize {
        self.table.len()
    }

    /// Ends the analysis ([`Analyzer::finish`]) of `inputs`, begun at wall
    /// time `started_ns` (ns since the epoch) and monotonic time `t0`.
    pub fn into_analysis(self, inputs: Vec<InputResult>, started_ns: i64, t0: Instant) -> Analysis {
        let records = self.records.clone();
        let (packets, flow_table, outcome) = self.finish();
        Analysis {
            inputs,
            packets,
            records,
            flow_table,
            outcome,
            started_ns,
            ended_ns: now_ns(),
            elapsed_s: t0.elapsed().as_secs_f64(),
        }
    }

    /// Ends the analysis: flushes the flow table and classifies.
    pub fn finish(mut self) -> (PacketStats, FlowStats, Outcome) {
        self.drain();
        let classifier = &mut self.classifier;
        self.table.finish_all_with(|f| classifier.add(&f));
        let stats = self.packet_stats();
        (stats, self.table.stats(), self.classifier.finish())
    }
}

/// The control ports of [`crate::identify::negotiate`], as a set.
pub(crate) fn control_ports() -> crate::flow::PortSet {
    let mut set = crate::flow::PortSet::default();
    for &(t, port) in negotiate::CONTROL_PORTS {
        set.insert(t, port);
    }
    set
}

/// One input's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct InputResult {
    /// What the reader learned about the input.
    #[serde(flatten)]
    pub summary: InputSummary,
    /// Why `sha256` is null, when it was not computed on purpose (`--no-hash`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256_skipped: Option<&'static str>,
    /// Fatal error that ended reading this input early (results before it are kept).
    pub error: Option<String>,
}

/// A finished analysis.
pub struct Analysis {
    /// Per-input results, in input order.
    pub inputs: Vec<InputResult>,
    /// Packet counters.
    pub packets: PacketStats,
    /// Flow-log inputs: records read, paired, skipped (all zero when every
    /// input was a capture).
    pub records: RecordStats,
    /// Flow table counters.
    pub flow_table: FlowStats,
    /// Findings and flow counts.
    pub outcome: Outcome,
    /// Wall-clock start (ns since the epoch).
    pub started_ns: i64,
    /// Wall-clock end (ns since the epoch).
    pub ended_ns: i64,
    /// Wall-clock seconds spent.
    pub elapsed_s: f64,
}

impl Analysis {
    /// True when every input was read to its end.
    pub fn complete(&self) -> bool {
        self.inputs.iter().all(|i| i.error.is_none())
    }
}

/// Progress callback: (bytes of input consumed in total, frames so far).
pub trait Progress {
    /// Called every few thousand frames and at the end of each input.
    fn update(&mut self, bytes: u64, frames: u64);
}

impl Progress for () {
    fn update(&mut self, _: u64, _: u64) {}
}

/// Wall-clock now, ns since the epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// How a scan runs (not what it finds): options that change the cost of a
/// scan but not its findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScanOptions {
    /// Compute the SHA-256 of every input (default true). Costs about 1 s
    /// of CPU per GiB, on a side thread for regular files. When false, the
    /// report's `sha256` is null and `sha256_skipped` says why.
    pub hash: bool,
    /// Threads (0 = automatic: 2 when the machine has 2 or more cores).
    /// With 2 or more, a second thread reads, decompresses, parses and
    /// decodes each input ahead of the flow table; results are identical.
    pub threads: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            hash: true,
            threads: 0,
        }
    }
}

impl ScanOptions {
    /// Sets the number of threads (0 = automatic).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// The number of threads a scan uses for reading and analysis.
    pub fn effective_threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get().min(2)),
            n => n,
        }
    }

    /// Sets whether inputs are hashed.
    pub fn hash(mut self, hash: bool) -> Self {
        self.hash = hash;
        self
    }
}

/// Reason recorded in the report when hashing was turned off.
pub const SHA256_SKIPPED: &str = "not computed: --no-hash";

/// Scans the inputs as one analysis. Errors on an input end that input (the
/// error is recorded in its [`InputResult`]); the other inputs still run.
pub fn scan(
    inputs: &[Input],
    kb: &KnowledgeBase,
    cfg: &AnalysisConfig,
    progress: &mut dyn Progress,
) -> Analysis {
    scan_with(inputs, kb, cfg, ScanOptions::default(), progress)
}

/// [`scan`] with [`ScanOptions`].
pub fn scan_with(
    inputs: &[Input],
    kb: &KnowledgeBase,
    cfg: &AnalysisConfig,
    opts: ScanOptions,
    progress: &mut dyn Progress,
) -> Analysis {
    let started_ns = now_ns();
    let t0 = Instant::now();
    let mut az = Analyzer::new(kb, cfg);
    let threads = opts.effective_threads();
    let mut results = Vec::with_capacity(inputs.len());
    let mut done_bytes = 0u64;
    for input in inputs {
        let open_opts = capture::OpenOptions::reader(cfg.reader).hash(opts.hash);
        let skipped_note = (!opts.hash).then_some(SHA256_SKIPPED);
        let mut source = match capture::open_any(input, open_opts) {
            Ok(capture::Source::Frames(s)) => s,
            Ok(capture::Source::Lines(lines)) => {
                let (summary, error, consumed) = az.read_records(lines, done_bytes, progress);
                done_bytes += consumed;
                results.push(InputResult {
                    summary,
                    sha256_skipped: skipped_note,
                    error,
                });
                continue;
            }
            Err(e) => {
                results.push(InputResult {
                    summary: InputSummary::unreadable(input),
                    sha256_skipped: None,
                    error: Some(e.to_string()),
                });
                continue;
            }
        };
        let (t_in, frames_before) = (Instant::now(), az.decoder.frames());
        let error = if threads > 1 {
            pipeline::read_all(&mut az, source.as_mut(), done_bytes, progress).err()
        } else {
            read_all(&mut az, source.as_mut(), done_bytes, progress).err()
        };
        log_input(
            input,
            az.decoder.frames() - frames_before,
            t_in,
            error.as_ref(),
        );
        done_bytes += source.position();
        progress.update(done_bytes, az.decoder.frames());
        let summary = source.finish();
        results.push(InputResult {
            summary,
            sha256_skipped: skipped_note,
            error: error.map(|e| e.to_string()),
        });
    }
    az.into_analysis(results, started_ns, t0)
}

/// `-v`: one line per input (frames, seconds, frames/s, error).
fn log_input(input: &Input, frames: u64, t0: Instant, error: Option<&CaptureError>) {
    if !log::log_enabled!(log::Level::Info) {
        return;
    }
    let secs = t0.elapsed().as_secs_f64();
    let rate = if secs > 0.0 {
        frames as f64 / secs
    } else {
        0.0
    };
    let err = error.map_or_else(|| "no errors".to_owned(), |e| format!("error: {e}"));
    log::info!(
        "{}: {frames} frames in {secs:.3} s ({rate:.0} frames/s), {err}",
        input.name().escape_debug()
    );
}

fn read_all(
    az: &mut Analyzer<'_>,
    source: &mut (dyn FrameSource + Send),
    base: u64,
    progress: &mut dyn Progress,
) -> Result<(), CaptureError> {
    let mut n = 0u32;
    let mut checked_link = false;
    loop {
        let Some(frame) = source.next_frame()? else {
            return Ok(());
        };
        let skip = az.frame(&frame);
        if !checked_link && skip == Some(Skip::UnsupportedLinkType) {
            checked_link = true;
            let lt = frame.linktype;
            if source.linktypes().len() <= 1 {
                return Err(CaptureError::UnsupportedLinkType(lt));
            }
        }
        n = n.wrapping_add(1);
        if n.is_multiple_of(8192) {
            progress.update(base + source.position(), az.decoder.frames());
        }
    }
}
