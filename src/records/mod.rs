//! Flow records as input: Zeek `conn.log` (TSV and JSON), Suricata EVE
//! (`flow` and `netflow` events) and AWS VPC Flow Logs (the default v2
//! format, or any custom format with its header line).
//!
//! A flow log already holds what the ghost-port verdict needs — the server
//! port, the transport, whether the server answered and whether data went
//! both ways — so its records enter the pipeline as finished [`Flow`]s at the
//! classifier's door, not through `decode`. They carry no payload: findings
//! from them say so instead of identifying a protocol.
//!
//! # From records to flows
//!
//! - **Zeek conn.log**: `id.orig_*` is the client, `id.resp_*` the server;
//!   `orig_pkts`/`resp_pkts`, `orig_ip_bytes`/`resp_ip_bytes` and the payload
//!   counts `orig_bytes`/`resp_bytes` fill the two directions; `history`
//!   gives the TCP flags (`S` SYN from the client, `h` SYN-ACK, `F`/`f` FIN,
//!   `R`/`r` RST). A server that sent packets, or a SYN-ACK, answered.
//! - **Suricata EVE `flow`**: `src_*` is the client; `pkts_toserver` /
//!   `pkts_toclient` and bytes; `tcp.tcp_flags_ts` / `tcp_flags_tc` (hex) the
//!   flags. EVE counts whole packets, so payload is *estimated*: the bytes
//!   minus [`EVE_TCP_OVERHEAD`] (or [`EVE_UDP_OVERHEAD`]) per packet.
//!   **`netflow`** events hold one direction each and are paired by `flow_id`.
//! - **VPC Flow Logs**: one direction per record. Records of the same
//!   5-tuple are paired as a flow table would (the reverse record joins the
//!   forward one while it is younger than the idle timeout); the source of
//!   the first record is the client, unless only the other side's port is
//!   below 1024. Bytes are IP bytes; payload is estimated as the bytes minus
//!   [`IP_TCP_OVERHEAD`] / [`IP_UDP_OVERHEAD`] per packet. The `tcp-flags`
//!   field of custom formats gives the flags; without it, a TCP record whose
//!   packets average 40 IP bytes or less (no options, no data) is taken as
//!   RSTs, so a refused connection does not count as answered.
//!
//! Lines that do not parse are counted per input, never fatal. Memory: the
//! pairing table holds at most `max_pending` one-way records; when full, the
//! oldest is emitted unpaired and counted.

pub mod netflow;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;
use serde_json::Value;

use crate::Transport;
use crate::decode::tcp_flags;
use crate::flow::{DirStats, Endpoint, Flow, Orientation};

/// Per-packet overhead assumed for EVE byte counts (Ethernet 14 + IPv4 20 +
/// TCP with timestamps 32).
pub const EVE_TCP_OVERHEAD: u64 = 66;
/// Per-packet overhead assumed for EVE UDP byte counts (14 + 20 + 8).
pub const EVE_UDP_OVERHEAD: u64 = 42;
/// Per-packet overhead assumed for IP byte counts (IPv4 20 + TCP 32).
pub const IP_TCP_OVERHEAD: u64 = 52;
/// Per-packet overhead assumed for IP byte counts (IPv4 20 + UDP 8).
pub const IP_UDP_OVERHEAD: u64 = 28;

/// A flow-log format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordFormat {
    /// Zeek conn.log, tab-separated with `#fields`.
    ZeekConnTsv,
    /// Zeek conn.log as JSON lines.
    ZeekConnJson,
    /// Suricata EVE JSON.
    SuricataEve,
    /// AWS VPC Flow Logs (space-separated, with a header line).
    VpcFlowLog,
}

impl RecordFormat {
    /// Name used in the report's input `format`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordFormat::ZeekConnTsv => "zeek-conn",
            RecordFormat::ZeekConnJson => "zeek-conn-json",
            RecordFormat::SuricataEve => "suricata-eve",
            RecordFormat::VpcFlowLog => "vpc-flow-log",
        }
    }
}

/// The format of a text input from its first non-empty line, or None.
pub fn detect(first_line: &[u8]) -> Option<RecordFormat> {
    let line = std::str::from_utf8(first_line)
        .ok()?
        .trim_start_matches('\u{feff}');
    if line.starts_with("#separator") || line.starts_with("#fields") {
        return Some(RecordFormat::ZeekConnTsv);
    }
    if line.starts_with('{') {
        let v: Value = serde_json::from_str(line).ok()?;
        if v.get("event_type").is_some() {
            return Some(RecordFormat::SuricataEve);
        }
        if v.get("id.orig_h").is_some() || v.pointer("/id/orig_h").is_some() {
            return Some(RecordFormat::ZeekConnJson);
        }
        return None;
    }
    let fields: Vec<&str> = line.split_whitespace().collect();
    if ["srcaddr", "dstaddr", "srcport", "dstport", "protocol"]
        .iter()
        .all(|f| fields.contains(f))
    {
        return Some(RecordFormat::VpcFlowLog);
    }
    None
}

/// Why a line was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LineSkip {
    /// Not valid in the format (bad number, missing field, not JSON...).
    Malformed,
    /// Valid, but not TCP/UDP (ICMP, ...), or not a flow event.
    NotTcpUdp,
    /// A VPC record without data (NODATA / SKIPDATA).
    NoData,
}

impl LineSkip {
    /// Name in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            LineSkip::Malformed => "malformed_record",
            LineSkip::NotTcpUdp => "not_tcp_udp_record",
            LineSkip::NoData => "nodata_record",
        }
    }
}

/// One direction of a one-way record, before pairing.
#[derive(Clone, Debug)]
struct OneWay {
    transport: Transport,
    src: Endpoint,
    dst: Endpoint,
    stats: DirStats,
    first_ts: i64,
    last_ts: i64,
    seq: u64,
}

/// Counters of a record reader.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RecordStats {
    /// Lines read (comments and headers included).
    pub lines: u64,
    /// Flows produced.
    pub flows: u64,
    /// One-way records joined to their reverse.
    pub paired: u64,
    /// One-way records emitted unpaired because the pairing table was full.
    pub pairing_evicted: u64,
    /// Lines not taken, by reason.
    pub skipped: std::collections::BTreeMap<&'static str, u64>,
}

impl RecordStats {
    /// Adds another reader's counts.
    pub fn absorb(&mut self, o: &RecordStats) {
        self.lines += o.lines;
        self.flows += o.flows;
        self.paired += o.paired;
        self.pairing_evicted += o.pairing_evicted;
        for (k, v) in &o.skipped {
            *self.skipped.entry(k).or_default() += v;
        }
    }
}

/// Turns the lines of one input into flows.
pub struct RecordReader {
    format: Option<RecordFormat>,
    /// Zeek TSV: column names from `#fields`, separator, unset marker.
    zeek_fields: Vec<String>,
    zeek_sep: char,
    /// VPC: column names from the header line.
    vpc_fields: Vec<String>,
    pending: HashMap<(Transport, Endpoint, Endpoint), OneWay>,
    /// EVE netflow halves by flow_id.
    eve_halves: HashMap<u64, OneWay>,
    max_pending: usize,
    idle_ns: i64,
    next_id: u64,
    seq: u64,
    stats: RecordStats,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
}

impl RecordReader {
    /// A reader; flow ids start at `first_id`. `max_pending` bounds the
    /// pairing tables; `idle_ns` is how long a one-way record waits for its
    /// reverse (capture time).
    pub fn new(first_id: u64, max_pending: usize, idle_ns: i64) -> RecordReader {
        RecordReader {
            format: None,
            zeek_fields: Vec::new(),
            zeek_sep: '\t',
            vpc_fields: Vec::new(),
            pending: HashMap::new(),
            eve_halves: HashMap::new(),
            max_pending: max_pending.max(1),
            idle_ns,
            next_id: first_id,
            seq: 0,
            stats: RecordStats::default(),
            first_ts: None,
            last_ts: None,
        }
    }

    /// The detected format (after the first non-empty line).
    pub fn format(&self) -> Option<RecordFormat> {
        self.format
    }

    /// Counters so far.
    pub fn stats(&self) -> &RecordStats {
        &self.stats
    }

    /// Time span of the records taken.
    pub fn span(&self) -> (Option<i64>, Option<i64>) {
        (self.first_ts, self.last_ts)
    }

    /// Next flow id (for the next input).
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Reads one line; finished flows go to `out`. Err when the first line
    /// names no known format (the input is not a flow log).
    pub fn line(&mut self, line: &[u8], out: &mut dyn FnMut(Flow)) -> Result<(), String> {
        self.stats.lines += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let format = match self.format {
            Some(f) => f,
            None => {
                let f = detect(line).ok_or_else(|| {
                    "not a pcap/pcapng capture or a known flow log (Zeek conn.log, Suricata EVE, AWS VPC Flow Logs)".to_owned()
                })?;
                self.format = Some(f);
                f
            }
        };
        let r = match format {
            RecordFormat::ZeekConnTsv => self.zeek_tsv(line, out),
            RecordFormat::ZeekConnJson => self.zeek_json(line, out),
            RecordFormat::SuricataEve => self.eve(line, out),
            RecordFormat::VpcFlowLog => self.vpc(line, out),
        };
        if let Err(skip) = r {
            *self.stats.skipped.entry(skip.as_str()).or_default() += 1;
        }
        Ok(())
    }

    /// Reads one NetFlow v5/v9 or IPFIX export datagram from `exporter`
    /// (templates are kept in `templates`); one-way records are paired like
    /// VPC records, biflows become flows at once.
    pub fn netflow(
        &mut self,
        templates: &mut netflow::Templates,
        exporter: SocketAddr,
        data: &[u8],
        out: &mut dyn FnMut(Flow),
    ) {
        self.stats.lines += 1;
        let mut recs = Vec::new();
        let st = templates.datagram(exporter, data, &mut |r| recs.push(r));
        for (k, n) in [
            ("not_tcp_udp_record", st.not_tcp_udp),
            ("netflow_unknown_template", st.unknown_template),
            ("netflow_templates_refused", st.templates_refused),
            ("malformed_record", u64::from(st.malformed)),
        ] {
            if n > 0 {
                *self.stats.skipped.entry(k).or_default() += n;
            }
        }
        for r in recs {
            let one = OneWay {
                transport: r.transport,
                src: r.src,
                dst: r.dst,
                stats: r.fwd,
                first_ts: r.first_ts,
                last_ts: r.last_ts,
                seq: self.next_seq(),
            };
            match r.rev {
                Some(rev) => {
                    let back = OneWay {
                        transport: r.transport,
                        src: r.dst,
                        dst: r.src,
                        stats: rev,
                        first_ts: r.first_ts,
                        last_ts: r.last_ts,
                        seq: self.next_seq(),
                    };
                    self.emit_one_way(one, Some(back), out);
                }
                None => self.pair(one, out),
            }
        }
    }

    /// Ends the input: unpaired records become flows of their own.
    pub fn finish(&mut self, out: &mut dyn FnMut(Flow)) {
        let mut rest: Vec<OneWay> = self.pending.drain().map(|(_, v)| v).collect();
        rest.extend(self.eve_halves.drain().map(|(_, v)| v));
        rest.sort_by_key(|o| o.seq);
        for o in rest {
            self.emit_one_way(o, None, out);
        }
    }

    fn note_time(&mut self, first: i64, last: i64) {
        self.first_ts = Some(self.first_ts.map_or(first, |t| t.min(first)));
        self.last_ts = Some(self.last_ts.map_or(last, |t| t.max(last)));
    }

    fn emit(&mut self, mut f: Flow, out: &mut dyn FnMut(Flow)) {
        f.id = self.next_id;
        self.next_id += 1;
        self.stats.flows += 1;
        self.note_time(f.first_ts, f.last_ts);
        out(f);
    }

    fn zeek_tsv(&mut self, line: &[u8], out: &mut dyn FnMut(Flow)) -> Result<(), LineSkip> {
        let text = std::str::from_utf8(line).map_err(|_| LineSkip::Malformed)?;
        if let Some(rest) = text.strip_prefix('#') {
            if let Some(sep) = rest.strip_prefix("separator ") {
                self.zeek_sep = match sep.trim() {
                    "\\x09" => '\t',
                    s if s.starts_with("\\x") => u8::from_str_radix(&s[2..], 16)
                        .map(char::from)
                        .unwrap_or('\t'),
                    s => s.chars().next().unwrap_or('\t'),
                };
            } else if let Some(f) = rest.strip_prefix("fields") {
                self.zeek_fields = f
                    .trim_start_matches(self.zeek_sep)
                    .split(self.zeek_sep)
                    .map(str::to_owned)
                    .collect();
            }
            return Ok(());
        }
        if self.zeek_fields.is_empty() {
            return Err(LineSkip::Malformed);
        }
        let values: Vec<&str> = text.split(self.zeek_sep).collect();
        let get = |name: &str| -> Option<&str> {
            let i = self.zeek_fields.iter().position(|f| f == name)?;
            values
                .get(i)
                .copied()
                .filter(|v| *v != "-" && *v != "(empty)")
        };
        let rec = ZeekConn {
            ts: get("ts").and_then(parse_time),
            orig_h: get("id.orig_h"),
            orig_p: get("id.orig_p"),
            resp_h: get("id.resp_h"),
            resp_p: get("id.resp_p"),
            proto: get("proto"),
            duration: get("duration").and_then(|d| d.parse::<f64>().ok()),
            orig_bytes: num(get("orig_bytes")),
            resp_bytes: num(get("resp_bytes")),
            history: get("history").unwrap_or(""),
            orig_pkts: num(get("orig_pkts")),
            orig_ip_bytes: num(get("orig_ip_bytes")),
            resp_pkts: num(get("resp_pkts")),
            resp_ip_bytes: num(get("resp_ip_bytes")),
        };
        let f = rec.flow()?;
        self.emit(f, out);
        Ok(())
    }

    fn zeek_json(&mut self, line: &[u8], out: &mut dyn FnMut(Flow)) -> Result<(), LineSkip> {
        let v: Value = serde_json::from_slice(line).map_err(|_| LineSkip::Malformed)?;
        let field = |name: &str| -> Option<String> {
            let x = v
                .get(name)
                .or_else(|| v.pointer(&format!("/{}", name.replace('.', "/"))))?;
            match x {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let strings: Vec<Option<String>> = [
            "ts",
            "id.orig_h",
            "id.orig_p",
            "id.resp_h",
            "id.resp_p",
            "proto",
            "duration",
            "orig_bytes",
            "resp_bytes",
            "history",
            "orig_pkts",
            "orig_ip_bytes",
            "resp_pkts",
            "resp_ip_bytes",
        ]
        .iter()
        .map(|n| field(n))
        .collect();
        let s = |i: usize| strings.get(i).and_then(|o| o.as_deref());
        let rec = ZeekConn {
            ts: s(0).and_then(parse_time),
            orig_h: s(1),
            orig_p: s(2),
            resp_h: s(3),
            resp_p: s(4),
            proto: s(5),
            duration: s(6).and_then(|d| d.parse::<f64>().ok()),
            orig_bytes: num(s(7)),
            resp_bytes: num(s(8)),
            history: s(9).unwrap_or(""),
            orig_pkts: num(s(10)),
            orig_ip_bytes: num(s(11)),
            resp_pkts: num(s(12)),
            resp_ip_bytes: num(s(13)),
        };
        let f = rec.flow()?;
        self.emit(f, out);
        Ok(())
    }

    fn eve(&mut self, line: &[u8], out: &mut dyn FnMut(Flow)) -> Result<(), LineSkip> {
        let v: Value = serde_json::from_slice(line).map_err(|_| LineSkip::Malformed)?;
        let kind = v.get("event_type").and_then(Value::as_str).unwrap_or("");
        if kind != "flow" && kind != "netflow" {
            return Err(LineSkip::NotTcpUdp);
        }
        let transport = match v.get("proto").and_then(Value::as_str) {
            Some(p) if p.eq_ignore_ascii_case("tcp") => Transport::Tcp,
            Some(p) if p.eq_ignore_ascii_case("udp") => Transport::Udp,
            Some(_) => return Err(LineSkip::NotTcpUdp),
            None => return Err(LineSkip::Malformed),
        };
        let ep = |ip: &str, port: &str| -> Option<Endpoint> {
            Some(Endpoint {
                ip: v.get(ip)?.as_str()?.parse().ok()?,
                port: u16::try_from(v.get(port)?.as_u64()?).ok()?,
            })
        };
        let src = ep("src_ip", "src_port").ok_or(LineSkip::Malformed)?;
        let dst = ep("dest_ip", "dest_port").ok_or(LineSkip::Malformed)?;
        let overhead = match transport {
            Transport::Tcp => EVE_TCP_OVERHEAD,
            Transport::Udp => EVE_UDP_OVERHEAD,
        };
        let flags = |k: &str| {
            v.pointer(&format!("/tcp/{k}"))
                .and_then(Value::as_str)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .unwrap_or(0)
        };
        let u = |p: &str| v.pointer(p).and_then(Value::as_u64).unwrap_or(0);
        let t = |p: &str| v.pointer(p).and_then(Value::as_str).and_then(parse_time);
        if kind == "flow" {
            let c2s = dir(
                u("/flow/pkts_toserver"),
                u("/flow/bytes_toserver"),
                overhead,
                flags("tcp_flags_ts"),
            );
            let s2c = dir(
                u("/flow/pkts_toclient"),
                u("/flow/bytes_toclient"),
                overhead,
                flags("tcp_flags_tc"),
            );
            let first = t("/flow/start").ok_or(LineSkip::Malformed)?;
            let last = t("/flow/end").unwrap_or(first).max(first);
            let mut f = Flow::from_record(0, transport, src, dst);
            f.c2s = c2s;
            f.s2c = s2c;
            f.first_ts = first;
            f.last_ts = last;
            f.orientation = orientation(&c2s, &s2c);
            self.emit(f, out);
            return Ok(());
        }
        let first = t("/netflow/start").ok_or(LineSkip::Malformed)?;
        let one = OneWay {
            transport,
            src,
            dst,
            stats: dir(
                u("/netflow/pkts"),
                u("/netflow/bytes"),
                overhead,
                flags("tcp_flags"),
            ),
            first_ts: first,
            last_ts: t("/netflow/end").unwrap_or(first).max(first),
            seq: self.next_seq(),
        };
        match v.get("flow_id").and_then(Value::as_u64) {
            Some(id) => match self.eve_halves.remove(&id) {
                Some(a) => {
                    self.stats.paired += 1;
                    self.emit_one_way(a, Some(one), out);
                }
                None => {
                    if self.eve_halves.len() >= self.max_pending {
                        self.evict_oldest_half(out);
                    }
                    self.eve_halves.insert(id, one);
                }
            },
            None => self.emit_one_way(one, None, out),
        }
        Ok(())
    }

    fn vpc(&mut self, line: &[u8], out: &mut dyn FnMut(Flow)) -> Result<(), LineSkip> {
        let text = std::str::from_utf8(line).map_err(|_| LineSkip::Malformed)?;
        let values: Vec<&str> = text.split_whitespace().collect();
        if values.contains(&"srcaddr") && values.contains(&"dstaddr") {
            self.vpc_fields = values.iter().map(|s| (*s).to_owned()).collect();
            return Ok(());
        }
        let get = |name: &str| -> Option<&str> {
            let i = self.vpc_fields.iter().position(|f| f == name)?;
            values.get(i).copied().filter(|v| *v != "-")
        };
        if get("log-status").is_some_and(|s| s != "OK") {
            return Err(LineSkip::NoData);
        }
        let transport = match get("protocol") {
            Some("6") => Transport::Tcp,
            Some("17") => Transport::Udp,
            Some(_) => return Err(LineSkip::NotTcpUdp),
            None => return Err(LineSkip::Malformed),
        };
        let ep = |ip: &str, port: &str| -> Option<Endpoint> {
            Some(Endpoint {
                ip: get(ip)?.parse::<IpAddr>().ok()?,
                port: get(port)?.parse().ok()?,
            })
        };
        // pkt-srcaddr/pkt-dstaddr (custom formats) are the packet's own
        // addresses behind a NAT gateway or load balancer: prefer them.
        let src = ep("pkt-srcaddr", "srcport")
            .or_else(|| ep("srcaddr", "srcport"))
            .ok_or(LineSkip::Malformed)?;
        let dst = ep("pkt-dstaddr", "dstport")
            .or_else(|| ep("dstaddr", "dstport"))
            .ok_or(LineSkip::Malformed)?;
        let secs = |k: &str| {
            get(k)
                .and_then(|s| s.parse::<i64>().ok())
                .map(|s| s * 1_000_000_000)
        };
        let first = secs("start").ok_or(LineSkip::Malformed)?;
        let last = secs("end").unwrap_or(first).max(first);
        let overhead = match transport {
            Transport::Tcp => IP_TCP_OVERHEAD,
            Transport::Udp => IP_UDP_OVERHEAD,
        };
        let (packets, bytes) = (num(get("packets")), num(get("bytes")));
        let flags = match get("tcp-flags").and_then(|s| s.parse::<u8>().ok()) {
            Some(f) => f,
            // Without tcp-flags: TCP packets of 40 IP bytes or less on
            // average carry no options and no data: bare RSTs (a refusal).
            None if transport == Transport::Tcp && packets > 0 && bytes <= packets * 40 => {
                tcp_flags::RST | tcp_flags::ACK
            }
            None => 0,
        };
        let mut stats = dir(packets, bytes, overhead, flags);
        if get("action") == Some("REJECT") {
            // the security group dropped it: nothing reached the other side
            stats.payload_bytes = 0;
        }
        let one = OneWay {
            transport,
            src,
            dst,
            stats,
            first_ts: first,
            last_ts: last,
            seq: self.next_seq(),
        };
        self.pair(one, out);
        Ok(())
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Joins a one-way record to a waiting reverse record, or waits.
    fn pair(&mut self, one: OneWay, out: &mut dyn FnMut(Flow)) {
        let rev = (one.transport, one.dst, one.src);
        if let Some(a) = self.pending.get(&rev)
            && one.first_ts - a.last_ts <= self.idle_ns
            && a.first_ts - one.last_ts <= self.idle_ns
        {
            if let Some(a) = self.pending.remove(&rev) {
                self.stats.paired += 1;
                self.emit_one_way(a, Some(one), out);
            }
            return;
        }
        let key = (one.transport, one.src, one.dst);
        if let Some(old) = self.pending.get_mut(&key) {
            if one.first_ts - old.last_ts <= self.idle_ns {
                // the same direction again (the next aggregation interval)
                add_dir(&mut old.stats, &one.stats);
                old.last_ts = old.last_ts.max(one.last_ts);
                old.first_ts = old.first_ts.min(one.first_ts);
                return;
            }
            if let Some(old) = self.pending.remove(&key) {
                self.emit_one_way(old, None, out);
            }
        }
        if self.pending.len() >= self.max_pending {
            self.evict_oldest(out);
        }
        self.pending.insert(key, one);
    }

    fn evict_oldest(&mut self, out: &mut dyn FnMut(Flow)) {
        if let Some(o) = take_oldest(&mut self.pending) {
            self.stats.pairing_evicted += 1;
            self.emit_one_way(o, None, out);
        }
    }

    fn evict_oldest_half(&mut self, out: &mut dyn FnMut(Flow)) {
        if let Some(o) = take_oldest(&mut self.eve_halves) {
            self.stats.pairing_evicted += 1;
            self.emit_one_way(o, None, out);
        }
    }

    /// A flow from one or two one-way records: the earlier record's source
    /// is the client, unless only the other side's port is below 1024.
    fn emit_one_way(&mut self, a: OneWay, b: Option<OneWay>, out: &mut dyn FnMut(Flow)) {
        let (fwd, rev) = match b {
            Some(b) if (b.first_ts, b.seq) < (a.first_ts, a.seq) => (b, Some(a)),
            Some(b) => (a, Some(b)),
            None => (a, None),
        };
        let swap = fwd.src.port < 1024 && fwd.dst.port >= 1024;
        let (client, server) = if swap {
            (fwd.dst, fwd.src)
        } else {
            (fwd.src, fwd.dst)
        };
        let mut f = Flow::from_record(0, fwd.transport, client, server);
        let (mut there, mut back) = (fwd.stats, DirStats::default());
        let (mut first, mut last) = (fwd.first_ts, fwd.last_ts);
        if let Some(r) = rev {
            back = r.stats;
            first = first.min(r.first_ts);
            last = last.max(r.last_ts);
        }
        if swap {
            std::mem::swap(&mut there, &mut back);
        }
        f.c2s = there;
        f.s2c = back;
        f.first_ts = first;
        f.last_ts = last;
        f.orientation = if swap {
            Orientation::PortHeuristic
        } else {
            orientation(&f.c2s, &f.s2c)
        };
        self.emit(f, out);
    }
}

/// Removes the least recently active waiting record.
fn take_oldest<K: Copy + Eq + std::hash::Hash>(map: &mut HashMap<K, OneWay>) -> Option<OneWay> {
    let k = map
        .iter()
        .min_by_key(|(_, o)| (o.last_ts, o.seq))
        .map(|(k, _)| *k)?;
    map.remove(&k)
}

/// A Zeek conn record's fields (TSV or JSON).
struct ZeekConn<'a> {
    ts: Option<i64>,
    orig_h: Option<&'a str>,
    orig_p: Option<&'a str>,
    resp_h: Option<&'a str>,
    resp_p: Option<&'a str>,
    proto: Option<&'a str>,
    duration: Option<f64>,
    orig_bytes: u64,
    resp_bytes: u64,
    history: &'a str,
    orig_pkts: u64,
    orig_ip_bytes: u64,
    resp_pkts: u64,
    resp_ip_bytes: u64,
}

impl ZeekConn<'_> {
    fn flow(&self) -> Result<Flow, LineSkip> {
        let transport = match self.proto {
            Some("tcp") => Transport::Tcp,
            Some("udp") => Transport::Udp,
            Some(_) => return Err(LineSkip::NotTcpUdp),
            None => return Err(LineSkip::Malformed),
        };
        let ep = |h: Option<&str>, p: Option<&str>| -> Option<Endpoint> {
            Some(Endpoint {
                ip: h?.parse().ok()?,
                port: p?.parse().ok()?,
            })
        };
        let client = ep(self.orig_h, self.orig_p).ok_or(LineSkip::Malformed)?;
        let server = ep(self.resp_h, self.resp_p).ok_or(LineSkip::Malformed)?;
        let first = self.ts.ok_or(LineSkip::Malformed)?;
        let dur_ns = self
            .duration
            .filter(|d| d.is_finite() && *d >= 0.0 && *d < 1e9)
            .map_or(0, |d| (d * 1e9) as i64);
        let (mut cf, mut sf, mut crst, mut srst) = (0u8, 0u8, 0u32, 0u32);
        for c in self.history.chars() {
            match c {
                'S' => cf |= tcp_flags::SYN,
                'H' => sf |= tcp_flags::SYN | tcp_flags::ACK,
                'h' => sf |= tcp_flags::SYN | tcp_flags::ACK,
                'A' | 'D' => cf |= tcp_flags::ACK,
                'a' | 'd' => sf |= tcp_flags::ACK,
                'F' => cf |= tcp_flags::FIN,
                'f' => sf |= tcp_flags::FIN,
                'R' => {
                    cf |= tcp_flags::RST;
                    crst = 1;
                }
                'r' => {
                    sf |= tcp_flags::RST;
                    srst = 1;
                }
                _ => {}
            }
        }
        let mut f = Flow::from_record(0, transport, client, server);
        f.c2s = DirStats {
            packets: self.orig_pkts,
            bytes: self.orig_ip_bytes,
            payload_bytes: self.orig_bytes,
            tcp_flags: if transport == Transport::Tcp { cf } else { 0 },
            rsts: crst,
        };
        f.s2c = DirStats {
            packets: self.resp_pkts,
            bytes: self.resp_ip_bytes,
            payload_bytes: self.resp_bytes,
            tcp_flags: if transport == Transport::Tcp { sf } else { 0 },
            rsts: srst,
        };
        if f.s2c.packets == 0 && (sf != 0 || self.resp_bytes > 0) {
            // conn.log written without the size analyzer: history still tells
            f.s2c.packets = 1;
        }
        if f.c2s.packets == 0 {
            f.c2s.packets = 1;
        }
        f.first_ts = first;
        f.last_ts = first.saturating_add(dur_ns);
        f.orientation = orientation(&f.c2s, &f.s2c);
        Ok(f)
    }
}

fn orientation(c2s: &DirStats, s2c: &DirStats) -> Orientation {
    let syn_only = tcp_flags::SYN;
    if c2s.tcp_flags & syn_only != 0 {
        Orientation::Syn
    } else if s2c.tcp_flags & tcp_flags::SYN != 0 {
        Orientation::SynAck
    } else {
        Orientation::FirstPacket
    }
}

/// Direction counters from packets and bytes, payload estimated with a
/// per-packet overhead.
fn dir(packets: u64, bytes: u64, overhead: u64, flags: u8) -> DirStats {
    DirStats {
        packets,
        bytes,
        payload_bytes: bytes.saturating_sub(packets.saturating_mul(overhead)),
        tcp_flags: flags,
        rsts: u32::from(flags & tcp_flags::RST != 0),
    }
}

fn add_dir(a: &mut DirStats, b: &DirStats) {
    a.packets += b.packets;
    a.bytes += b.bytes;
    a.payload_bytes += b.payload_bytes;
    a.tcp_flags |= b.tcp_flags;
    a.rsts += b.rsts;
}

fn num(s: Option<&str>) -> u64 {
    s.and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// `1300475167.096535` exactly (no float rounding), to ns.
fn parse_epoch(s: &str) -> Option<i64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let neg = int.starts_with('-');
    let digits = int.trim_start_matches('-');
    if digits.is_empty() || digits.len() > 11 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = digits.parse().ok()?;
    let f = frac.get(..frac.len().min(9)).unwrap_or("");
    let frac_ns = if f.is_empty() {
        0
    } else {
        f.parse::<i64>().ok()? * 10i64.pow(9 - f.len() as u32)
    };
    let ns = secs * 1_000_000_000 + frac_ns;
    Some(if neg { -ns } else { ns })
}

/// Epoch seconds with a fraction (`1300475167.096535`) or RFC 3339 / ISO
/// 8601 (`2024-01-15T10:00:04.186118Z`, `...+0000`, `...+01:00`), to ns.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(ns) = parse_epoch(s) {
        return Some(ns);
    }
    let b = s.as_bytes();
    let n = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    if b.len() < 19 || b.get(4) != Some(&b'-') || b.get(10).is_none_or(|c| *c != b'T' && *c != b' ')
    {
        return None;
    }
    let (y, mo, d, h, mi, se) = (
        n(0..4)?,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_ns = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let digits = s.get(start..i.min(start + 9))?;
        if !digits.is_empty() {
            frac_ns = digits.parse::<i64>().ok()? * 10i64.pow(9 - digits.len() as u32);
        }
    }
    let offset_s = match b.get(i) {
        None | Some(b'Z') | Some(b'z') => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let rest = s.get(i + 1..)?.replace(':', "");
            let hh: i64 = rest.get(0..2)?.parse().ok()?;
            let mm: i64 = rest.get(2..4).map_or(Some(0), |m| m.parse().ok())?;
            let o = hh * 3600 + mm * 60;
            if sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    // days from civil (Howard Hinnant's algorithm)
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_s;
    Some(secs * 1_000_000_000 + frac_ns)
}

#[cfg(test)]
mod tests;
