//! Evidence: filters that select a flow or a finding's traffic in other tools
//! (BPF for tcpdump, display filters for Wireshark, the Community ID), and
//! `--evidence DIR`: one classic pcap per finding holding exactly its packets.
//!
//! # Which packets belong to a finding
//!
//! A second pass reads the inputs again and decodes every frame exactly as
//! the analysis did. A frame belongs to a finding when its decoded 5-tuple
//! touches the finding's endpoint key:
//!
//! * ghost-port: transport + server address + server port, either direction;
//! * ghost-source-port: transport + the client's address + ghost source port;
//! * sweep: the scanning source talking to one of the finding's targets
//!   (address, port, transport), either direction.
//!
//! ICMP errors quoting such a packet are included (their decoded 5-tuple is
//! the quoted one), so a finding's file holds `totals.c2s.packets +
//! totals.s2c.packets + totals.icmp_errors` frames. Exceptions, counted in
//! `index.json`: frames of another link type than the file's first one (a
//! classic pcap has one link type); a sweep whose target list was capped.
//!
//! Files are written to a temporary name next to the target and renamed into
//! place at the end, like every report file; an existing file is kept unless
//! `--force`. Memory is bounded: packets are buffered per finding and flushed
//! (appended to the temporary file) when the buffers exceed a few MiB.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Report;
use super::community_id;
use super::write::{self, WriteError};
use crate::Transport;
use crate::capture::{self, Input, OpenOptions, ReaderKind};
use crate::classify::{Filters, Finding, FindingKind, FlowRecord};
use crate::decode::{self, LinkType};
use crate::safefile;

/// Fills in the Community ID and filters of every flow record and the
/// filters of every finding.
pub fn annotate(findings: &mut [Finding], flows: Option<&mut Vec<FlowRecord>>) {
    for f in findings.iter_mut() {
        f.filter = Some(finding_filters(f));
        for r in &mut f.flows {
            annotate_flow(r);
        }
    }
    if let Some(flows) = flows {
        for r in flows.iter_mut() {
            annotate_flow(r);
        }
    }
}

fn annotate_flow(r: &mut FlowRecord) {
    r.community_id = community_id::of_flow(
        r.transport,
        r.client.ip,
        r.client.port,
        r.server.ip,
        r.server.port,
    );
    r.filter = Some(flow_filters(r));
}

fn ws_ip(ip: &IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "ip",
        IpAddr::V6(_) => "ipv6",
    }
}

fn vlan_prefix(vlan: Option<u16>) -> &'static str {
    if vlan.is_some() { "vlan and " } else { "" }
}

/// Filters selecting exactly one flow (both directions). A VLAN-tagged flow's
/// BPF filter starts with `vlan and`, as tcpdump needs to look past the tag.
pub fn flow_filters(r: &FlowRecord) -> Filters {
    let t = r.transport.as_str();
    let (c, s) = (&r.client, &r.server);
    let bpf = format!(
        "{}{t} and ((src host {ci} and src port {cp} and dst host {si} and dst port {sp}) or (src host {si} and src port {sp} and dst host {ci} and dst port {cp}))",
        vlan_prefix(r.vlan),
        ci = c.ip,
        cp = c.port,
        si = s.ip,
        sp = s.port
    );
    let (ca, sa) = (ws_ip(&c.ip), ws_ip(&s.ip));
    let wireshark = format!(
        "({ca}.src == {ci} && {t}.srcport == {cp} && {sa}.dst == {si} && {t}.dstport == {sp}) || ({sa}.src == {si} && {t}.srcport == {sp} && {ca}.dst == {ci} && {t}.dstport == {cp})",
        ci = c.ip,
        cp = c.port,
        si = s.ip,
        sp = s.port
    );
    Filters { bpf, wireshark }
}

/// Filters selecting a finding's traffic (see the module doc for which).
pub fn finding_filters(f: &Finding) -> Filters {
    let t = f.transport.as_str();
    let ip = f.server.ip;
    let a = ws_ip(&ip);
    match f.kind {
        FindingKind::GhostPort
        | FindingKind::GhostSourcePort
        | FindingKind::UnregisteredService
        | FindingKind::PortMismatch => {
            let p = f.server.port;
            Filters {
                bpf: format!(
                    "{t} and ((src host {ip} and src port {p}) or (dst host {ip} and dst port {p}))"
                ),
                wireshark: format!(
                    "({a}.src == {ip} && {t}.srcport == {p}) || ({a}.dst == {ip} && {t}.dstport == {p})"
                ),
            }
        }
        FindingKind::Sweep => {
            let ports: BTreeSet<(Transport, u16)> =
                f.targets.iter().map(|x| (x.transport, x.port)).collect();
            let mut bpf_parts = Vec::new();
            let mut ws_parts = Vec::new();
            for tr in [Transport::Tcp, Transport::Udp] {
                let list: Vec<String> = ports
                    .iter()
                    .filter(|(x, _)| *x == tr)
                    .map(|(_, p)| p.to_string())
                    .collect();
                if list.is_empty() {
                    continue;
                }
                let ts = tr.as_str();
                bpf_parts.push(format!("({ts} and (port {}))", list.join(" or port ")));
                // Wireshark 4 wants commas between set members
                ws_parts.push(format!("{ts}.port in {{{}}}", list.join(", ")));
            }
            if bpf_parts.is_empty() {
                bpf_parts.push(t.to_string());
                ws_parts.push(t.to_string());
            }
            Filters {
                bpf: format!("host {ip} and ({})", bpf_parts.join(" or ")),
                wireshark: format!("{a}.addr == {ip} && ({})", ws_parts.join(" || ")),
            }
        }
    }
}

/// One evidence file.
#[derive(Clone, Debug, Serialize)]
pub struct EvidenceFile {
    /// Finding id ("GP-0001").
    pub finding: String,
    /// File name inside the evidence folder ("GP-0001.pcap").
    pub file: String,
    /// Frames written.
    pub packets: u64,
    /// Captured bytes of the frames written.
    pub bytes: u64,
    /// Frames the finding's totals count (`c2s.packets + s2c.packets + icmp_errors`).
    pub expected_packets: u64,
    /// LINKTYPE_ of the file (the first matching frame's; 1 when empty).
    pub linktype: u32,
    /// Matching frames left out because their link type differs from the file's.
    pub skipped_other_linktype: u64,
    /// Filters for the same traffic.
    pub filter: Filters,
}

/// What `--evidence DIR` wrote (`DIR/index.json`, and `evidence` in reports).
#[derive(Clone, Debug, Serialize)]
pub struct EvidenceIndex {
    /// The folder, as given.
    pub dir: String,
    /// One entry per finding, in report order.
    pub files: Vec<EvidenceFile>,
    /// Inputs that could not be read again (the files miss their packets).
    pub errors: Vec<String>,
}

/// Errors writing evidence.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// Writing a file failed or it exists.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The folder could not be created.
    #[error("cannot create evidence folder {0}: {1} (choose another --evidence DIR)")]
    Dir(PathBuf, io::Error),
}

/// A sweep's targets (None for the other kinds, matched by endpoint).
type SweepTargets = Option<BTreeSet<(IpAddr, u16, Transport)>>;

struct Sink {
    final_path: PathBuf,
    tmp: PathBuf,
    linktype: Option<u32>,
    buf: Vec<u8>,
    created: bool,
    packets: u64,
    bytes: u64,
    other_lt: u64,
}

const FLUSH_ONE: usize = 1 << 20;
const FLUSH_ALL: usize = 32 << 20;

fn pcap_header(linktype: u32) -> [u8; 24] {
    let mut h = [0u8; 24];
    // Nanosecond-resolution classic pcap, little-endian.
    h[0..4].copy_from_slice(&0xa1b2_3c4du32.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    h[16..20].copy_from_slice(&capture::MAX_SNAPLEN.to_le_bytes());
    h[20..24].copy_from_slice(&linktype.to_le_bytes());
    h
}

impl Sink {
    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() && self.created {
            return Ok(());
        }
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(self.created)
            .write(true)
            .truncate(!self.created)
            .open(&self.tmp)?;
        self.created = true;
        f.write_all(&self.buf)?;
        self.buf.clear();
        self.buf.shrink_to(64 * 1024);
        Ok(())
    }

    fn push(&mut self, ts: i64, linktype: u32, data: &[u8], orig_len: u32) -> usize {
        match self.linktype {
            None => {
                self.linktype = Some(linktype);
                self.buf.extend_from_slice(&pcap_header(linktype));
            }
            Some(lt) if lt != linktype => {
                self.other_lt += 1;
                return 0;
            }
            Some(_) => {}
        }
        let data = data.get(..capture::MAX_SNAPLEN as usize).unwrap_or(data);
        let sec = u32::try_from(ts.div_euclid(1_000_000_000)).unwrap_or(0);
        let nsec = ts.rem_euclid(1_000_000_000) as u32;
        let caplen = data.len() as u32;
        let before = self.buf.len();
        self.buf.extend_from_slice(&sec.to_le_bytes());
        self.buf.extend_from_slice(&nsec.to_le_bytes());
        self.buf.extend_from_slice(&caplen.to_le_bytes());
        self.buf
            .extend_from_slice(&orig_len.max(caplen).to_le_bytes());
        self.buf.extend_from_slice(data);
        self.packets += 1;
        self.bytes += u64::from(caplen);
        self.buf.len() - before
    }
}

/// Writes `DIR/GP-nnnn.pcap` per finding and `DIR/index.json`; returns the
/// index (also to be put in the report). Inputs are read again with `reader`.
pub fn write(
    report: &Report,
    inputs: &[Input],
    reader: ReaderKind,
    dir: &Path,
    force: bool,
) -> Result<EvidenceIndex, EvidenceError> {
    safefile::no_untrusted_link(dir).map_err(|e| EvidenceError::Dir(dir.to_path_buf(), e))?;
    fs::create_dir_all(dir).map_err(|e| EvidenceError::Dir(dir.to_path_buf(), e))?;
    // The files are written in a private folder (0700, random name) inside
    // `dir`, then renamed into `dir`: nobody else can plant a link at a
    // name being written, or guess it (see `crate::safefile`).
    let private =
        safefile::private_dir_in(dir).map_err(|e| EvidenceError::Dir(dir.to_path_buf(), e))?;
    let mut sels: Vec<SweepTargets> = Vec::with_capacity(report.findings.len());
    let mut sinks = Vec::with_capacity(report.findings.len());
    let mut by_endpoint: HashMap<(Transport, IpAddr, u16), Vec<usize>> = HashMap::new();
    let mut by_sweeper: HashMap<IpAddr, Vec<usize>> = HashMap::new();
    for (i, f) in report.findings.iter().enumerate() {
        let name = format!("{}.pcap", f.id);
        let final_path = dir.join(&name);
        if !force && fs::symlink_metadata(&final_path).is_ok() {
            return Err(WriteError::Exists(final_path).into());
        }
        let sel = match f.kind {
            FindingKind::Sweep => {
                by_sweeper.entry(f.server.ip).or_default().push(i);
                Some(
                    f.targets
                        .iter()
                        .map(|t| (t.ip, t.port, t.transport))
                        .collect(),
                )
            }
            _ => {
                by_endpoint
                    .entry((f.transport, f.server.ip, f.server.port))
                    .or_default()
                    .push(i);
                None
            }
        };
        sels.push(sel);
        sinks.push(Sink {
            tmp: private.path().join(&name),
            final_path,
            linktype: None,
            buf: Vec::new(),
            created: false,
            packets: 0,
            bytes: 0,
            other_lt: 0,
        });
    }
    let io_err = |p: &Path, e: io::Error| EvidenceError::Write(WriteError::Io(p.to_path_buf(), e));
    let mut errors = Vec::new();
    let mut buffered = 0usize;
    let mut hits: Vec<usize> = Vec::new();
    let result = (|| {
        for input in inputs {
            if matches!(input, Input::Stdin) {
                errors.push(
                    "<stdin>: standard input cannot be read a second time; save the capture to a file to get its evidence"
                        .to_string(),
                );
                continue;
            }
            let opts = OpenOptions::reader(reader).hash(false);
            let mut src = match capture::open_with(input, opts) {
                Ok(s) => s,
                Err(e) => {
                    errors.push(format!("{}: {e}", input.name()));
                    continue;
                }
            };
            let mut last_lt: Option<(u32, Option<LinkType>)> = None;
            loop {
                let frame = match src.next_frame() {
                    Ok(Some(f)) => f,
                    Ok(None) => break,
                    Err(e) => {
                        errors.push(format!("{}: {e}", input.name()));
                        break;
                    }
                };
                let link = match last_lt {
                    Some((lt, l)) if lt == frame.linktype => l,
                    _ => {
                        let l = LinkType::from_linktype(frame.linktype);
                        last_lt = Some((frame.linktype, l));
                        l
                    }
                };
                let Ok(p) = decode::decode(link, frame.data) else {
                    continue;
                };
                hits.clear();
                for key in [
                    (p.transport, p.src, p.src_port),
                    (p.transport, p.dst, p.dst_port),
                ] {
                    if let Some(v) = by_endpoint.get(&key) {
                        hits.extend_from_slice(v);
                    }
                }
                for (me, other) in [
                    (p.src, (p.dst, p.dst_port, p.transport)),
                    (p.dst, (p.src, p.src_port, p.transport)),
                ] {
                    if let Some(v) = by_sweeper.get(&me) {
                        for &i in v {
                            if let Some(Some(targets)) = sels.get(i)
                                && targets.contains(&other)
                            {
                                hits.push(i);
                            }
                        }
                    }
                }
                hits.sort_unstable();
                hits.dedup();
                for &i in &hits {
                    let Some(sink) = sinks.get_mut(i) else {
                        continue;
                    };
                    buffered +=
                        sink.push(frame.ts_nanos, frame.linktype, frame.data, frame.orig_len);
                    if sink.buf.len() >= FLUSH_ONE {
                        buffered -= sink.buf.len();
                        sink.flush().map_err(|e| io_err(&sink.final_path, e))?;
                    }
                }
                if buffered >= FLUSH_ALL {
                    for s in sinks.iter_mut() {
                        s.flush().map_err(|e| io_err(&s.final_path, e))?;
                    }
                    buffered = 0;
                }
            }
        }
        for s in sinks.iter_mut() {
            if s.linktype.is_none() {
                let lt = report
                    .inputs
                    .iter()
                    .find_map(|i| i.summary.linktypes.first().copied())
                    .unwrap_or(1);
                s.linktype = Some(lt);
                s.buf.extend_from_slice(&pcap_header(lt));
            }
            s.flush().map_err(|e| io_err(&s.final_path, e))?;
        }
        for s in &sinks {
            safefile::rename_into_place(&s.tmp, &s.final_path, force).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    EvidenceError::Write(WriteError::Exists(s.final_path.clone()))
                } else {
                    io_err(&s.final_path, e)
                }
            })?;
        }
        Ok::<(), EvidenceError>(())
    })();
    // Dropping `private` removes it with whatever was not renamed.
    drop(private);
    result?;
    let files: Vec<EvidenceFile> = report
        .findings
        .iter()
        .zip(&sinks)
        .map(|(f, s)| EvidenceFile {
            finding: f.id.clone(),
            file: format!("{}.pcap", f.id),
            packets: s.packets,
            bytes: s.bytes,
            expected_packets: f.totals.c2s.packets + f.totals.s2c.packets + f.totals.icmp_errors,
            linktype: s.linktype.unwrap_or(1),
            skipped_other_linktype: s.other_lt,
            filter: f.filter.clone().unwrap_or_else(|| finding_filters(f)),
        })
        .collect();
    let index = EvidenceIndex {
        dir: dir.display().to_string(),
        files,
        errors,
    };
    let doc = serde_json::json!({
        "tool": "ghostport",
        "version": env!("CARGO_PKG_VERSION"),
        "inputs": report.inputs.iter().map(|i| serde_json::json!({
            "name": i.summary.name, "sha256": i.summary.sha256, "size": i.summary.size,
        })).collect::<Vec<_>>(),
        "evidence": &index,
    });
    write::write_file(&dir.join("index.json"), force, &mut |w| {
        serde_json::to_writer_pretty(&mut *w, &doc).map_err(io::Error::other)?;
        w.write_all(b"\n")
    })?;
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_record_layout_and_linktype_mismatch() {
        let mut s = Sink {
            final_path: PathBuf::from("x"),
            tmp: PathBuf::from("y"),
            linktype: None,
            buf: Vec::new(),
            created: false,
            packets: 0,
            bytes: 0,
            other_lt: 0,
        };
        let n = s.push(1_705_312_800_123_456_789, 1, &[1, 2, 3], 60);
        assert_eq!(n, 16 + 3);
        assert_eq!(&s.buf[..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!(&s.buf[20..24], &1u32.to_le_bytes());
        assert_eq!(&s.buf[24..28], &1_705_312_800u32.to_le_bytes());
        assert_eq!(&s.buf[28..32], &123_456_789u32.to_le_bytes());
        assert_eq!(&s.buf[32..36], &3u32.to_le_bytes());
        assert_eq!(&s.buf[36..40], &60u32.to_le_bytes());
        assert_eq!(s.push(0, 113, &[0], 1), 0);
        assert_eq!((s.packets, s.other_lt), (1, 1));
        // A timestamp before 1970 cannot be a u32 second count: clamped, no panic.
        s.push(-5, 1, &[], 0);
        assert_eq!(s.packets, 2);
    }
}
