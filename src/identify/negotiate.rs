//! Negotiated ports: ports a control channel announces for a later
//! connection, so that traffic there is expected rather than a ghost.
//!
//! Watched control channels (by server port) and what they announce:
//!
//! * **Sun RPC portmap/rpcbind** (111/tcp+udp): the reply to a GETPORT
//!   call (v2; the call's program, version and protocol are remembered by
//!   transaction id) gives the port of a program on the replying host; a
//!   DUMP reply (v2) lists program, version, protocol and port for each
//!   registration; v3/v4 GETADDR and DUMP replies carry universal
//!   addresses (`h1.h2.h3.h4.p1.p2`). Over TCP the record-marking header
//!   is skipped.
//! * **MSRPC endpoint mapper** (135/tcp): a DCE/RPC response whose towers
//!   carry a TCP (0x07) or UDP (0x08) port floor, and an IPv4 floor (0x09)
//!   when present (else the responder's address).
//! * **FTP** (21/tcp): `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)`,
//!   `229 Entering Extended Passive Mode (|||port|)`, and the client's
//!   `PORT h1,h2,h3,h4,p1,p2` and `EPRT |af|addr|port|`.
//! * **SIP/SDP** (5060/udp+tcp): every `m=` line's port (RTP) and the next
//!   one (RTCP) on the address of the session's or the media's `c=` line
//!   (the sender's address when `c=` is absent or 0.0.0.0).
//! * **RTSP** (554/tcp, 8554/tcp): the `Transport:` header's
//!   `client_port=` (on the RTSP client) and `server_port=` (on the RTSP
//!   server, or `source=`) ranges.
//! * **TFTP** (69/udp): a read or write request (opcode 1/2, a file name
//!   and a transfer mode) announces the requester's port, where the
//!   server's transfer flow will arrive.
//!
//! Memory is bounded: at most [`MAX_ANNOUNCEMENTS`] ports and
//! [`MAX_PENDING_CALLS`] outstanding rpcbind calls are kept. When full,
//! the oldest entry is dropped (a port is used shortly after it is
//! announced, so the newest are the ones worth keeping) and counted.
//! Addresses announced inside messages are attacker-controlled like any
//! payload; they only ever make a finding *expected* when the same
//! capture shows the port in use on that very address afterwards.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use super::util::sanitize;
use crate::Transport;
use crate::flow::Endpoint;

/// Most announced ports kept.
pub const MAX_ANNOUNCEMENTS: usize = 8192;
/// Most rpcbind calls awaiting their reply.
pub const MAX_PENDING_CALLS: usize = 1024;
/// Payload bytes of one control packet looked at (the rest is ignored, in
/// one-thread and two-thread scans alike).
pub const MAX_CONTROL_PAYLOAD: usize = 8192;
/// Longest detail text.
const MAX_DETAIL: usize = 120;

/// The control ports watched: (transport, port).
pub const CONTROL_PORTS: &[(Transport, u16)] = &[
    (Transport::Tcp, 21),
    (Transport::Udp, 69),
    (Transport::Tcp, 111),
    (Transport::Udp, 111),
    (Transport::Tcp, 135),
    (Transport::Tcp, 554),
    (Transport::Tcp, 8554),
    (Transport::Udp, 5060),
    (Transport::Tcp, 5060),
];

/// The control flow a port was announced in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ControlFlow {
    /// tcp/udp.
    pub transport: Transport,
    /// The sender of the announcing message.
    pub from: Endpoint,
    /// Its receiver.
    pub to: Endpoint,
    /// When the message was seen, ns since the epoch.
    pub ts: i64,
    /// Community ID v1 of the control flow; filled in by the report.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub community_id: String,
}

/// One announced port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Announcement {
    /// The announcing protocol: "rpcbind", "MSRPC endpoint mapper", "FTP
    /// PASV", "SIP/SDP", "RTSP", "TFTP"...
    pub by: &'static str,
    /// What was announced, e.g. "program 100005 (mountd) v3 udp".
    pub detail: String,
    /// Where.
    pub control: ControlFlow,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    transport: Transport,
    ip: IpAddr,
    port: u16,
}

#[derive(Clone, Copy, Debug)]
struct PendingCall {
    prog: u32,
    vers: u32,
    proc_: u32,
    prot: u32,
}

/// Counters, for the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NegotiationStats {
    /// Ports announced (an announcement repeated counts again).
    pub announced: u64,
    /// Announcements dropped because the table was full (oldest first).
    pub evicted: u64,
    /// rpcbind calls dropped before their reply because too many were pending.
    pub calls_evicted: u64,
    /// Ghost-port endpoints whose negotiated flows were not tracked because
    /// as many endpoints as findings were (set by the classifier).
    pub endpoints_untracked: u64,
}

/// The ports announced so far in one analysis.
#[derive(Clone, Debug, Default)]
pub struct Negotiations {
    ports: BTreeMap<Key, Announcement>,
    order: VecDeque<Key>,
    calls: BTreeMap<(IpAddr, u32), PendingCall>,
    call_order: VecDeque<(IpAddr, u32)>,
    stats: NegotiationStats,
}

/// Is this (transport, port) a watched control port?
pub fn is_control_port(t: Transport, port: u16) -> bool {
    CONTROL_PORTS.contains(&(t, port))
}

impl Negotiations {
    /// Counters so far.
    pub fn stats(&self) -> NegotiationStats {
        self.stats
    }

    /// Ports currently remembered.
    pub fn len(&self) -> usize {
        self.ports.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }

    /// The announcement of `ip:port/transport` made at or before `ts` (ns;
    /// two seconds of slack allow for capture reordering), if any.
    pub fn lookup(&self, t: Transport, ip: IpAddr, port: u16, ts: i64) -> Option<&Announcement> {
        let a = self.ports.get(&Key {
            transport: t,
            ip,
            port,
        })?;
        (a.control.ts <= ts.saturating_add(2_000_000_000)).then_some(a)
    }

    /// Looks at one packet of a control flow (`src` sent `payload` to
    /// `dst` at `ts`). Does nothing unless one side is a control port.
    pub fn observe(&mut self, t: Transport, src: Endpoint, dst: Endpoint, payload: &[u8], ts: i64) {
        if payload.is_empty() {
            return;
        }
        let ctl = ControlFlow {
            transport: t,
            from: src,
            to: dst,
            ts,
            community_id: String::new(),
        };
        match (t, src.port.min(dst.port), src.port, dst.port) {
            (Transport::Tcp, _, 21, _) | (Transport::Tcp, _, _, 21) => self.ftp(&ctl, payload),
            (Transport::Udp, _, _, 69) => self.tftp(&ctl, payload),
            (_, _, 111, _) | (_, _, _, 111) => self.rpc(&ctl, payload),
            (Transport::Tcp, _, 135, _) => self.epm(&ctl, payload),
            (Transport::Tcp, _, 554 | 8554, _) | (Transport::Tcp, _, _, 554 | 8554) => {
                self.rtsp(&ctl, payload)
            }
            (_, _, 5060, _) | (_, _, _, 5060) => self.sip(&ctl, payload),
            _ => {}
        }
    }

    fn announce(
        &mut self,
        t: Transport,
        ip: IpAddr,
        port: u16,
        by: &'static str,
        detail: &str,
        ctl: &ControlFlow,
    ) {
        if port == 0 || ip.is_unspecified() {
            return;
        }
        let key = Key {
            transport: t,
            ip,
            port,
        };
        self.stats.announced += 1;
        let a = Announcement {
            by,
            detail: sanitize(detail.as_bytes(), MAX_DETAIL),
            control: ctl.clone(),
        };
        if self.ports.insert(key, a).is_none() {
            self.order.push_back(key);
            while self.ports.len() > MAX_ANNOUNCEMENTS {
                match self.order.pop_front() {
                    Some(old) => {
                        if self.ports.remove(&old).is_some() {
                            self.stats.evicted += 1;
                        }
                    }
                    None => break,
                }
            }
        }
    }

    // ---------------------------------------------------------------- FTP

    fn ftp(&mut self, ctl: &ControlFlow, payload: &[u8]) {
        for line in payload.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some(rest) = line.strip_prefix(b"227 ") {
                // "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)" (the
                // parentheses are optional in practice).
                if let Some((ip, port)) = six_numbers(rest) {
                    let d = format!("passive-mode data port {ip}:{port}");
                    self.announce(Transport::Tcp, IpAddr::V4(ip), port, "FTP PASV", &d, ctl);
                    if ctl.from.ip != IpAddr::V4(ip) {
                        self.announce(Transport::Tcp, ctl.from.ip, port, "FTP PASV", &d, ctl);
                    }
                }
            } else if let Some(rest) = line.strip_prefix(b"229 ") {
                if let Some(port) = epsv_port(rest) {
                    let d = format!("extended passive-mode data port {port}");
                    self.announce(Transport::Tcp, ctl.from.ip, port, "FTP EPSV", &d, ctl);
                }
            } else if let Some(rest) = strip_ci(line, b"PORT ") {
                if let Some((ip, port)) = six_numbers(rest) {
                    let d = format!("active-mode data port {ip}:{port}");
                    self.announce(Transport::Tcp, IpAddr::V4(ip), port, "FTP PORT", &d, ctl);
                    if ctl.from.ip != IpAddr::V4(ip) {
                        self.announce(Transport::Tcp, ctl.from.ip, port, "FTP PORT", &d, ctl);
                    }
                }
            } else if let Some((ip, port)) = strip_ci(line, b"EPRT ").and_then(eprt) {
                let d = format!("extended active-mode data port [{ip}]:{port}");
                self.announce(Transport::Tcp, ip, port, "FTP EPRT", &d, ctl);
            }
        }
    }

    // ---------------------------------------------------------------- TFTP

    fn tftp(&mut self, ctl: &ControlFlow, p: &[u8]) {
        let op = match p.get(..2) {
            Some([0, 1]) => "read",
            Some([0, 2]) => "write",
            _ => return,
        };
        let Some(body) = p.get(2..) else { return };
        let mut parts = body.split(|&b| b == 0);
        let (Some(file), Some(mode)) = (parts.next(), parts.next()) else {
            return;
        };
        let mode_ok = [b"netascii".as_slice(), b"octet", b"mail"]
            .iter()
            .any(|m| mode.eq_ignore_ascii_case(m));
        if file.is_empty() || !mode_ok || body.iter().filter(|&&b| b == 0).count() < 2 {
            return;
        }
        let d = format!("TFTP {op} request for {}", sanitize(file, 80));
        self.announce(Transport::Udp, ctl.from.ip, ctl.from.port, "TFTP", &d, ctl);
    }

    // ---------------------------------------------------------------- Sun RPC

    fn rpc(&mut self, ctl: &ControlFlow, payload: &[u8]) {
        let msg = if ctl.transport == Transport::Tcp {
            // Record marking: last-fragment bit + 31-bit length.
            match payload.get(4..) {
                Some(m) if payload.first().is_some_and(|b| b & 0x80 != 0) => m,
                _ => return,
            }
        } else {
            payload
        };
        let mut r = Xdr(msg);
        let (Some(xid), Some(mtype)) = (r.u32(), r.u32()) else {
            return;
        };
        if mtype == 0 && ctl.to.port == 111 {
            // CALL: rpcvers 2, prog 100000, vers, proc, cred, verf, args.
            let (Some(2), Some(100_000), Some(vers), Some(proc_)) =
                (r.u32(), r.u32(), r.u32(), r.u32())
            else {
                return;
            };
            if r.opaque_auth().is_none() || r.opaque_auth().is_none() {
                return;
            }
            let (prog, pv, prot) = if proc_ == 3 {
                // GETPORT (v2) args: prog, vers, prot, port; GETADDR (v3/4): prog, vers, netid, ...
                let prog = r.u32().unwrap_or(0);
                let pv = r.u32().unwrap_or(0);
                let prot = if vers == 2 {
                    r.u32().unwrap_or(0)
                } else {
                    match r.string(16) {
                        Some(n) if n.starts_with(b"tcp") => 6,
                        Some(n) if n.starts_with(b"udp") => 17,
                        _ => 0,
                    }
                };
                (prog, pv, prot)
            } else {
                (0, 0, 0)
            };
            if proc_ == 3 || proc_ == 4 {
                let k = (ctl.from.ip, xid);
                if self
                    .calls
                    .insert(
                        k,
                        PendingCall {
                            prog,
                            vers: pv,
                            proc_: proc_ | (vers << 8),
                            prot,
                        },
                    )
                    .is_none()
                {
                    self.call_order.push_back(k);
                }
                while self.calls.len() > MAX_PENDING_CALLS {
                    match self.call_order.pop_front() {
                        Some(old) => {
                            if self.calls.remove(&old).is_some() {
                                self.stats.calls_evicted += 1;
                            }
                        }
                        None => break,
                    }
                }
            }
            return;
        }
        if mtype != 1 || ctl.from.port != 111 {
            return;
        }
        let Some(call) = self.calls.remove(&(ctl.to.ip, xid)) else {
            return;
        };
        // REPLY: MSG_ACCEPTED (0), verifier, SUCCESS (0).
        if r.u32() != Some(0) || r.opaque_auth().is_none() || r.u32() != Some(0) {
            return;
        }
        let vers = call.proc_ >> 8;
        let proc_ = call.proc_ & 0xff;
        let host = ctl.from.ip;
        match (vers, proc_) {
            (2, 3) => {
                if let (Some(port), Some(t)) = (r.u32(), transport_of(call.prot)) {
                    let d = format!(
                        "program {} v{} {}",
                        prog_label(call.prog),
                        call.vers,
                        t.as_str()
                    );
                    if let Ok(port) = u16::try_from(port) {
                        self.announce(t, host, port, "rpcbind", &d, ctl);
                    }
                }
            }
            (2, 4) => {
                for _ in 0..512 {
                    if r.u32() != Some(1) {
                        break;
                    }
                    let (Some(prog), Some(v), Some(prot), Some(port)) =
                        (r.u32(), r.u32(), r.u32(), r.u32())
                    else {
                        break;
                    };
                    if let (Some(t), Ok(port)) = (transport_of(prot), u16::try_from(port)) {
                        let d = format!("program {} v{v} {}", prog_label(prog), t.as_str());
                        self.announce(t, host, port, "rpcbind", &d, ctl);
                    }
                }
            }
            (3 | 4, 3) => {
                if let (Some(addr), Some(t)) = (r.string(64), transport_of(call.prot))
                    && let Some((ip, port)) = universal_addr(addr)
                {
                    let ip = if ip.is_unspecified() { host } else { ip };
                    let d = format!(
                        "program {} v{} {}",
                        prog_label(call.prog),
                        call.vers,
                        t.as_str()
                    );
                    self.announce(t, ip, port, "rpcbind", &d, ctl);
                }
            }
            (3 | 4, 4) => {
                for _ in 0..512 {
                    if r.u32() != Some(1) {
                        break;
                    }
                    let (Some(prog), Some(v)) = (r.u32(), r.u32()) else {
                        break;
                    };
                    let (Some(netid), Some(addr), Some(_owner)) =
                        (r.string(16), r.string(64), r.string(64))
                    else {
                        break;
                    };
                    let t = if netid.starts_with(b"tcp") {
                        Transport::Tcp
                    } else if netid.starts_with(b"udp") {
                        Transport::Udp
                    } else {
                        continue;
                    };
                    if let Some((ip, port)) = universal_addr(addr) {
                        let ip = if ip.is_unspecified() { host } else { ip };
                        let d = format!("program {} v{v} {}", prog_label(prog), t.as_str());
                        self.announce(t, ip, port, "rpcbind", &d, ctl);
                    }
                }
            }
            _ => {}
        }
    }

    // ---------------------------------------------------------------- MSRPC EPM

    fn epm(&mut self, ctl: &ControlFlow, p: &[u8]) {
        // DCE/RPC connection-oriented response: version 5, type 2.
        if p.get(..3) != Some(&[5, 0, 2]) {
            return;
        }
        let mut found: Vec<(Transport, u16, Option<Ipv4Addr>)> = Vec::new();
        let mut i = 16;
        while i + 7 <= p.len() && found.len() < 64 {
            // Floor: lhs length 1 (LE), protocol id, rhs length 2 (LE), port (BE).
            let w = p.get(i..i + 7).unwrap_or(&[]);
            if let [1, 0, proto @ (0x07 | 0x08), 2, 0, hi, lo] = *w {
                let port = u16::from_be_bytes([hi, lo]);
                let t = if proto == 0x07 {
                    Transport::Tcp
                } else {
                    Transport::Udp
                };
                // The address floor follows: 01 00 09 04 00 a b c d.
                let ip = match p.get(i + 7..i + 16) {
                    Some([1, 0, 9, 4, 0, a, b, c, d]) => Some(Ipv4Addr::new(*a, *b, *c, *d)),
                    _ => None,
                };
                found.push((t, port, ip));
                i += 7;
            } else {
                i += 1;
            }
        }
        for (t, port, ip) in found {
            let host = match ip {
                Some(a) if !a.is_unspecified() => IpAddr::V4(a),
                _ => ctl.from.ip,
            };
            let d = format!("dynamic RPC endpoint {} port {port}", t.as_str());
            self.announce(t, host, port, "MSRPC endpoint mapper", &d, ctl);
            if host != ctl.from.ip {
                self.announce(t, ctl.from.ip, port, "MSRPC endpoint mapper", &d, ctl);
            }
        }
    }

    // ---------------------------------------------------------------- RTSP

    fn rtsp(&mut self, ctl: &ControlFlow, p: &[u8]) {
        let from_server = matches!(ctl.from.port, 554 | 8554);
        let (client_ip, server_ip) = if from_server {
            (ctl.to.ip, ctl.from.ip)
        } else {
            (ctl.from.ip, ctl.to.ip)
        };
        for line in p.split(|&b| b == b'\n') {
            let Some(v) = strip_ci(line, b"Transport:") else {
                continue;
            };
            let v = v.strip_suffix(b"\r").unwrap_or(v);
            let mut source = None;
            let mut ranges = Vec::new();
            for param in v.split(|&b| b == b';' || b == b',') {
                let param = trim(param);
                if let Some(x) = strip_ci(param, b"client_port=") {
                    ranges.push((client_ip, x, "client"));
                } else if let Some(x) = strip_ci(param, b"server_port=") {
                    ranges.push((server_ip, x, "server"));
                } else if let Some(x) = strip_ci(param, b"source=") {
                    source = std::str::from_utf8(x)
                        .ok()
                        .and_then(|s| s.parse::<IpAddr>().ok());
                }
            }
            for (ip, range, side) in ranges {
                let ip = if side == "server" {
                    source.unwrap_or(ip)
                } else {
                    ip
                };
                for port in port_range(range) {
                    let d = format!("RTP/RTCP {side} port {port}");
                    self.announce(Transport::Udp, ip, port, "RTSP", &d, ctl);
                }
            }
        }
    }

    // ---------------------------------------------------------------- SIP/SDP

    fn sip(&mut self, ctl: &ControlFlow, p: &[u8]) {
        let mut session_ip: Option<IpAddr> = None;
        let mut media: Vec<(u16, String, Option<IpAddr>)> = Vec::new();
        for line in p.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some(c) = line.strip_prefix(b"c=") {
                let ip = sdp_conn(c);
                match media.last_mut() {
                    Some(m) => m.2 = ip,
                    None => session_ip = ip,
                }
            } else if let Some(m) = line.strip_prefix(b"m=") {
                let mut f = m.split(|&b| b == b' ');
                let kind = f.next().unwrap_or(b"");
                let port = f
                    .next()
                    .and_then(|x| {
                        std::str::from_utf8(x.split(|&b| b == b'/').next().unwrap_or(x)).ok()
                    })
                    .and_then(|x| x.parse::<u16>().ok());
                if let Some(port) = port
                    && media.len() < 16
                {
                    media.push((port, sanitize(kind, 16), None));
                }
            }
        }
        for (port, kind, ip) in media {
            let ip = match ip.or(session_ip) {
                Some(a) if !a.is_unspecified() => a,
                _ => ctl.from.ip,
            };
            let d = format!("{kind} RTP port {port}");
            self.announce(Transport::Udp, ip, port, "SIP/SDP", &d, ctl);
            if let Some(rtcp) = port.checked_add(1) {
                let d = format!("{kind} RTCP port {rtcp}");
                self.announce(Transport::Udp, ip, rtcp, "SIP/SDP", &d, ctl);
            }
        }
    }
}

// ---------------------------------------------------------------- helpers

struct Xdr<'a>(&'a [u8]);

impl<'a> Xdr<'a> {
    fn u32(&mut self) -> Option<u32> {
        let (h, t) = self.0.split_at_checked(4)?;
        self.0 = t;
        Some(u32::from_be_bytes([
            *h.first()?,
            *h.get(1)?,
            *h.get(2)?,
            *h.get(3)?,
        ]))
    }
    /// flavor + opaque body (≤ 400 bytes).
    fn opaque_auth(&mut self) -> Option<()> {
        self.u32()?;
        let n = self.u32()? as usize;
        if n > 400 {
            return None;
        }
        let padded = n.div_ceil(4) * 4;
        self.0 = self.0.get(padded..)?;
        Some(())
    }
    fn string(&mut self, max: usize) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        if n > max {
            return None;
        }
        let s = self.0.get(..n)?;
        self.0 = self.0.get(n.div_ceil(4) * 4..)?;
        Some(s)
    }
}

fn transport_of(prot: u32) -> Option<Transport> {
    match prot {
        6 => Some(Transport::Tcp),
        17 => Some(Transport::Udp),
        _ => None,
    }
}

/// "100005 (mountd)" for well-known ONC RPC program numbers.
fn prog_label(prog: u32) -> String {
    let name = match prog {
        100_000 => "portmapper",
        100_001 => "rstatd",
        100_002 => "rusersd",
        100_003 => "nfs",
        100_004 => "ypserv",
        100_005 => "mountd",
        100_007 => "ypbind",
        100_008 => "walld",
        100_009 => "yppasswdd",
        100_011 => "rquotad",
        100_012 => "sprayd",
        100_021 => "nlockmgr",
        100_024 => "status",
        100_068 => "cmsd",
        100_083 => "ttdbserverd",
        100_099 => "autofsd",
        100_133 => "nsm_addrand",
        100_221 => "kcms_server",
        100_227 => "nfs_acl",
        100_232 => "sadmind",
        100_249 => "snmpXdmid",
        150_001 => "pcnfsd",
        300_019 => "amd",
        _ => return prog.to_string(),
    };
    format!("{prog} ({name})")
}

fn numbers(s: &[u8], max: usize) -> Vec<u32> {
    let mut out = Vec::new();
    let mut cur: Option<u32> = None;
    for &b in s {
        if b.is_ascii_digit() {
            let v = cur
                .unwrap_or(0)
                .saturating_mul(10)
                .saturating_add(u32::from(b - b'0'));
            cur = Some(v.min(1_000_000));
        } else if let Some(v) = cur.take() {
            out.push(v);
            if out.len() >= max {
                return out;
            }
        }
    }
    if let Some(v) = cur {
        out.push(v);
    }
    out
}

/// "h1,h2,h3,h4,p1,p2" anywhere in the text (227 replies, PORT).
fn six_numbers(s: &[u8]) -> Option<(Ipv4Addr, u16)> {
    let start = s.iter().position(|b| b.is_ascii_digit())?;
    let text = s.get(start..)?;
    // Only the comma-separated run.
    let end = text
        .iter()
        .position(|b| !(b.is_ascii_digit() || *b == b','))
        .unwrap_or(text.len());
    let n = numbers(text.get(..end)?, 6);
    let [a, b, c, d, p1, p2] = n.as_slice() else {
        return None;
    };
    let bytes = [*a, *b, *c, *d, *p1, *p2];
    if bytes.iter().any(|&x| x > 255) {
        return None;
    }
    let port = (*p1 as u16) << 8 | *p2 as u16;
    Some((Ipv4Addr::new(*a as u8, *b as u8, *c as u8, *d as u8), port))
}

/// "(|||port|)" in a 229 reply.
fn epsv_port(s: &[u8]) -> Option<u16> {
    let i = s.windows(3).position(|w| w == b"|||")?;
    let rest = s.get(i + 3..)?;
    let end = rest.iter().position(|&b| b == b'|')?;
    std::str::from_utf8(rest.get(..end)?).ok()?.parse().ok()
}

/// "|af|addr|port|" of EPRT.
fn eprt(s: &[u8]) -> Option<(IpAddr, u16)> {
    let s = std::str::from_utf8(trim(s)).ok()?;
    let delim = s.chars().next()?;
    let mut f = s.split(delim).skip(1);
    let af = f.next()?;
    let addr = f.next()?;
    let port: u16 = f.next()?.parse().ok()?;
    let ip: IpAddr = match af {
        "1" => IpAddr::V4(addr.parse::<Ipv4Addr>().ok()?),
        "2" => IpAddr::V6(addr.parse::<Ipv6Addr>().ok()?),
        _ => return None,
    };
    Some((ip, port))
}

/// An RPC universal address: IPv4 "h1.h2.h3.h4.p1.p2" or IPv6 "x:...:x.p1.p2".
fn universal_addr(a: &[u8]) -> Option<(IpAddr, u16)> {
    let s = std::str::from_utf8(a).ok()?;
    let mut parts: Vec<&str> = s.rsplitn(3, '.').collect();
    if parts.len() != 3 {
        return None;
    }
    let host = parts.pop()?;
    let p1: u16 = parts.pop()?.parse().ok()?;
    let p2: u16 = parts.pop()?.parse().ok()?;
    if p1 > 255 || p2 > 255 {
        return None;
    }
    Some((host.parse().ok()?, p1 << 8 | p2))
}

/// "IN IP4 192.0.2.1" (a multicast "/ttl" suffix dropped).
fn sdp_conn(c: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(c).ok()?;
    let mut f = s.split(' ');
    if f.next()? != "IN" {
        return None;
    }
    let _fam = f.next()?;
    let addr = f.next()?.split('/').next()?;
    addr.trim().parse().ok()
}

/// "5000-5001" or "5000" (at most two ports: RTP and RTCP).
fn port_range(r: &[u8]) -> Vec<u16> {
    let n = numbers(r, 2);
    match n.as_slice() {
        [a] => u16::try_from(*a).ok().into_iter().collect(),
        [a, b] if b >= a && b - a <= 1 => (*a..=*b).filter_map(|p| u16::try_from(p).ok()).collect(),
        _ => Vec::new(),
    }
}

fn strip_ci<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or(&[])
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ep(s: &str, port: u16) -> Endpoint {
        Endpoint {
            ip: s.parse().unwrap(),
            port,
        }
    }

    #[test]
    fn ftp_pasv_epsv_port_eprt() {
        let mut n = Negotiations::default();
        let (s, c) = (ep("198.51.100.21", 21), ep("192.0.2.10", 50000));
        n.observe(
            Transport::Tcp,
            s,
            c,
            b"227 Entering Passive Mode (198,51,100,21,195,80).\r\n",
            10,
        );
        let a = n.lookup(Transport::Tcp, s.ip, 50000, 20).unwrap();
        assert_eq!(a.by, "FTP PASV");
        assert_eq!(a.control.ts, 10);
        // Announced later than the flow began: not an explanation.
        assert!(
            n.lookup(Transport::Tcp, s.ip, 50000, -3_000_000_000)
                .is_none()
        );
        n.observe(
            Transport::Tcp,
            s,
            c,
            b"229 Entering Extended Passive Mode (|||40001|)\r\n",
            11,
        );
        assert!(n.lookup(Transport::Tcp, s.ip, 40001, 20).is_some());
        n.observe(Transport::Tcp, c, s, b"PORT 192,0,2,10,7,138\r\n", 12);
        assert!(n.lookup(Transport::Tcp, c.ip, 1930, 20).is_some());
        n.observe(Transport::Tcp, c, s, b"EPRT |2|2001:db8::10|5282|\r\n", 13);
        assert!(
            n.lookup(Transport::Tcp, "2001:db8::10".parse().unwrap(), 5282, 20)
                .is_some()
        );
        // Malformed: out-of-range numbers.
        n.observe(
            Transport::Tcp,
            s,
            c,
            b"227 Entering Passive Mode (300,1,1,1,1,1)\r\n",
            14,
        );
        assert_eq!(n.len(), 4);
    }

    #[test]
    fn sip_sdp_media_and_rtcp() {
        let mut n = Negotiations::default();
        let sdp = b"INVITE sip:bob@example.com SIP/2.0\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nc=IN IP4 192.0.2.20\r\nm=audio 49170 RTP/AVP 0\r\nm=video 51372 RTP/AVP 31\r\nc=IN IP4 192.0.2.21\r\n";
        n.observe(
            Transport::Udp,
            ep("192.0.2.20", 5060),
            ep("198.51.100.5", 5060),
            sdp,
            1,
        );
        let ip20: IpAddr = "192.0.2.20".parse().unwrap();
        let ip21: IpAddr = "192.0.2.21".parse().unwrap();
        assert!(n.lookup(Transport::Udp, ip20, 49170, 2).is_some());
        assert!(n.lookup(Transport::Udp, ip20, 49171, 2).is_some());
        assert!(n.lookup(Transport::Udp, ip21, 51372, 2).is_some());
        assert!(n.lookup(Transport::Udp, ip20, 51372, 2).is_none());
    }

    #[test]
    fn rtsp_transport_and_tftp() {
        let mut n = Negotiations::default();
        let reply = b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nTransport: RTP/AVP;unicast;client_port=4588-4589;server_port=6256-6257\r\n\r\n";
        n.observe(
            Transport::Tcp,
            ep("198.51.100.54", 554),
            ep("192.0.2.10", 50100),
            reply,
            5,
        );
        assert!(
            n.lookup(Transport::Udp, "198.51.100.54".parse().unwrap(), 6257, 6)
                .is_some()
        );
        assert!(
            n.lookup(Transport::Udp, "192.0.2.10".parse().unwrap(), 4588, 6)
                .is_some()
        );
        n.observe(
            Transport::Udp,
            ep("192.0.2.10", 41000),
            ep("198.51.100.69", 69),
            b"\x00\x01boot.img\x00octet\x00",
            7,
        );
        let a = n
            .lookup(Transport::Udp, "192.0.2.10".parse().unwrap(), 41000, 8)
            .unwrap();
        assert_eq!(a.detail, "TFTP read request for boot.img");
        n.observe(
            Transport::Udp,
            ep("192.0.2.10", 41001),
            ep("198.51.100.69", 69),
            b"\x00\x01x\x00bogus\x00",
            7,
        );
        assert!(
            n.lookup(Transport::Udp, "192.0.2.10".parse().unwrap(), 41001, 8)
                .is_none()
        );
    }

    fn rpc_call(xid: u32, proc_: u32, args: &[u32]) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [xid, 0, 2, 100_000, 2, proc_, 0, 0, 0, 0] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        for x in args {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v
    }

    fn rpc_reply(xid: u32, results: &[u32]) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [xid, 1, 0, 0, 0, 0] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        for x in results {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v
    }

    #[test]
    fn rpcbind_getport_and_dump() {
        let mut n = Negotiations::default();
        let (c, s) = (ep("192.0.2.10", 900), ep("198.51.100.111", 111));
        n.observe(
            Transport::Udp,
            c,
            s,
            &rpc_call(7, 3, &[100_005, 3, 17, 0]),
            1,
        );
        n.observe(Transport::Udp, s, c, &rpc_reply(7, &[1048]), 2);
        let a = n.lookup(Transport::Udp, s.ip, 1048, 3).unwrap();
        assert_eq!(a.by, "rpcbind");
        assert_eq!(a.detail, "program 100005 (mountd) v3 udp");
        // A reply nobody asked for announces nothing.
        n.observe(Transport::Udp, s, c, &rpc_reply(8, &[2049]), 2);
        assert!(n.lookup(Transport::Udp, s.ip, 2049, 3).is_none());
        // DUMP over TCP with record marking.
        n.observe(
            Transport::Tcp,
            c,
            s,
            &[&[0x80, 0, 0, 40][..], &rpc_call(9, 4, &[])].concat(),
            4,
        );
        let body = rpc_reply(9, &[1, 100_232, 10, 17, 32773, 1, 100_003, 3, 6, 2049, 0]);
        let mut rec = vec![0x80, 0, 0, body.len() as u8];
        rec.extend_from_slice(&body);
        n.observe(Transport::Tcp, s, c, &rec, 5);
        assert_eq!(
            n.lookup(Transport::Udp, s.ip, 32773, 6).unwrap().detail,
            "program 100232 (sadmind) v10 udp"
        );
        assert!(n.lookup(Transport::Tcp, s.ip, 2049, 6).is_some());
    }

    #[test]
    fn epm_tower_floors() {
        let mut p = vec![5, 0, 2, 3, 0x10, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
        p.extend_from_slice(&[0u8; 40]);
        p.extend_from_slice(&[1, 0, 7, 2, 0, 0xc0, 0x0b, 1, 0, 9, 4, 0, 198, 51, 100, 135]);
        let mut n = Negotiations::default();
        n.observe(
            Transport::Tcp,
            ep("198.51.100.135", 135),
            ep("192.0.2.10", 50200),
            &p,
            1,
        );
        assert_eq!(
            n.lookup(Transport::Tcp, "198.51.100.135".parse().unwrap(), 49163, 2)
                .unwrap()
                .by,
            "MSRPC endpoint mapper"
        );
    }

    #[test]
    fn bounded_and_counted() {
        let mut n = Negotiations::default();
        let (c, s) = (ep("192.0.2.10", 50000), ep("198.51.100.21", 21));
        for i in 0..(MAX_ANNOUNCEMENTS as u32 + 10) {
            let port = 1024 + (i % 60000);
            let ip = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
            let line = format!(
                "227 Entering Passive Mode ({},{},{},{},{},{})\r\n",
                ip[0],
                ip[1],
                ip[2],
                ip[3],
                port >> 8,
                port & 0xff
            );
            n.observe(Transport::Tcp, s, c, line.as_bytes(), i64::from(i));
        }
        assert!(n.len() <= MAX_ANNOUNCEMENTS);
        assert!(n.stats().evicted > 0);
        // The newest are kept.
        assert!(
            n.lookup(
                Transport::Tcp,
                s.ip,
                1024 + MAX_ANNOUNCEMENTS as u16 + 9,
                i64::MAX
            )
            .is_some()
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut n = Negotiations::default();
        let mut seed = 0x1234_5678_u64;
        for len in 0..400 {
            let mut v = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                v.push(seed as u8);
            }
            for (t, port) in CONTROL_PORTS {
                n.observe(*t, ep("192.0.2.1", *port), ep("192.0.2.2", 40000), &v, 1);
                n.observe(*t, ep("192.0.2.2", 40000), ep("192.0.2.1", *port), &v, 1);
            }
        }
    }
}
