//! NetFlow v5, v9 and IPFIX (RFC 7011) export datagrams → one-way (or, for
//! RFC 5103 biflows, two-way) flow records.
//!
//! Templates (v9, IPFIX) are kept per exporter address, observation domain
//! and template id, at most [`MAX_TEMPLATES`] of them (more are refused and
//! counted). Data sets whose template is not known yet are counted and
//! skipped, as collectors do. Everything is bounds-checked: a datagram is
//! attacker-controlled input.
//!
//! Fields used (IANA IPFIX information elements; NetFlow v9 uses the same
//! numbers): 1 octetDeltaCount, 2 packetDeltaCount, 4 protocolIdentifier,
//! 6 tcpControlBits, 7/11 source/destination port, 8/12 IPv4 and 27/28 IPv6
//! addresses, 21/22 flowEnd/StartSysUpTime (ms since the exporter's boot,
//! v9 and v5), 150/151 flowStart/EndSeconds, 152/153 flowStart/EndMilliseconds,
//! and with the reverse enterprise number 29305 (RFC 5103) the reverse
//! octets, packets and TCP flags.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::Transport;
use crate::flow::{DirStats, Endpoint};

/// Most templates kept across all exporters.
pub const MAX_TEMPLATES: usize = 4096;
/// RFC 5103 reverse information element enterprise number.
const REVERSE_PEN: u32 = 29305;

/// One decoded flow record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetflowRecord {
    pub transport: Transport,
    pub src: Endpoint,
    pub dst: Endpoint,
    /// Source → destination.
    pub fwd: DirStats,
    /// Destination → source (biflows only).
    pub rev: Option<DirStats>,
    pub first_ts: i64,
    pub last_ts: i64,
}

/// What a datagram held besides records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatagramStats {
    /// Data records decoded.
    pub records: u64,
    /// Records skipped: not TCP/UDP.
    pub not_tcp_udp: u64,
    /// Data sets skipped: template not (yet) known.
    pub unknown_template: u64,
    /// Templates refused: the table is full.
    pub templates_refused: u64,
    /// The datagram (or a set in it) was malformed.
    pub malformed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Field {
    id: u16,
    len: u16,
    pen: u32,
}

/// Template state of a collector.
#[derive(Default)]
pub struct Templates {
    map: HashMap<(SocketAddr, u32, u16, u8), Vec<Field>>,
    /// Options templates (exporter statistics, sampling...): their data
    /// sets carry no flows and are skipped without being counted.
    options: std::collections::HashSet<(SocketAddr, u32, u16, u8)>,
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(b: &'a [u8]) -> Self {
        Cursor { b, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|s| s[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|s| u16::from_be_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn rest(&self) -> usize {
        self.b.len().saturating_sub(self.pos)
    }
}

fn be(s: &[u8]) -> u64 {
    s.iter().take(8).fold(0u64, |a, &b| (a << 8) | u64::from(b))
}

impl Templates {
    /// Templates held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when none is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Decodes one export datagram from `exporter`.
    pub fn datagram(
        &mut self,
        exporter: SocketAddr,
        data: &[u8],
        out: &mut dyn FnMut(NetflowRecord),
    ) -> DatagramStats {
        let mut st = DatagramStats::default();
        let ok = match data.get(..2).map(|v| u16::from_be_bytes([v[0], v[1]])) {
            Some(5) => v5(data, &mut st, out),
            Some(9) => self.v9(exporter, data, &mut st, out),
            Some(10) => self.ipfix(exporter, data, &mut st, out),
            _ => None,
        };
        if ok.is_none() {
            st.malformed = true;
        }
        st
    }

    fn v9(
        &mut self,
        exporter: SocketAddr,
        data: &[u8],
        st: &mut DatagramStats,
        out: &mut dyn FnMut(NetflowRecord),
    ) -> Option<()> {
        let mut c = Cursor::new(data);
        let (_v, _count) = (c.u16()?, c.u16()?);
        let uptime = c.u32()?;
        let secs = c.u32()?;
        let _seq = c.u32()?;
        let source = c.u32()?;
        let boot_ms = i64::from(secs) * 1000 - i64::from(uptime);
        let time = Time::Uptime { boot_ms };
        while c.rest() >= 4 {
            let id = c.u16()?;
            let len = usize::from(c.u16()?);
            let body = c.take(len.checked_sub(4)?)?;
            match id {
                0 => self.templates(exporter, source, 9, body, false, st)?,
                1 => self.options_templates(exporter, source, 9, body, st)?,
                256.. => self.data_set(exporter, source, 9, id, body, time, st, out),
                _ => {}
            }
        }
        Some(())
    }

    fn ipfix(
        &mut self,
        exporter: SocketAddr,
        data: &[u8],
        st: &mut DatagramStats,
        out: &mut dyn FnMut(NetflowRecord),
    ) -> Option<()> {
        let mut c = Cursor::new(data);
        let _v = c.u16()?;
        let len = usize::from(c.u16()?);
        let export = c.u32()?;
        let _seq = c.u32()?;
        let domain = c.u32()?;
        let body = data.get(16..len.min(data.len()))?;
        let mut c = Cursor::new(body);
        let time = Time::Export {
            export_ms: i64::from(export) * 1000,
        };
        while c.rest() >= 4 {
            let id = c.u16()?;
            let len = usize::from(c.u16()?);
            let set = c.take(len.checked_sub(4)?)?;
            match id {
                2 => self.templates(exporter, domain, 10, set, true, st)?,
                3 => self.options_templates(exporter, domain, 10, set, st)?,
                256.. => self.data_set(exporter, domain, 10, id, set, time, st, out),
                _ => {}
            }
        }
        Some(())
    }

    fn templates(
        &mut self,
        exporter: SocketAddr,
        domain: u32,
        version: u8,
        body: &[u8],
        ipfix: bool,
        st: &mut DatagramStats,
    ) -> Option<()> {
        let mut c = Cursor::new(body);
        while c.rest() >= 4 {
            let tid = c.u16()?;
            let n = c.u16()?;
            if tid < 256 {
                // padding at the end of the set
                break;
            }
            let mut fields = Vec::with_capacity(usize::from(n).min(256));
            for _ in 0..n {
                let raw = c.u16()?;
                let len = c.u16()?;
                let (id, pen) = if ipfix && raw & 0x8000 != 0 {
                    (raw & 0x7fff, c.u32()?)
                } else {
                    (raw, 0)
                };
                fields.push(Field { id, len, pen });
            }
            let key = (exporter, domain, tid, version);
            if !self.map.contains_key(&key) && self.map.len() + self.options.len() >= MAX_TEMPLATES
            {
                st.templates_refused += 1;
                continue;
            }
            self.map.insert(key, fields);
        }
        Some(())
    }

    /// Notes the ids of an options template set (v9: id, scope length,
    /// option length in bytes; IPFIX: id, field count, scope count, fields).
    fn options_templates(
        &mut self,
        exporter: SocketAddr,
        domain: u32,
        version: u8,
        body: &[u8],
        st: &mut DatagramStats,
    ) -> Option<()> {
        let mut c = Cursor::new(body);
        while c.rest() >= 6 {
            let tid = c.u16()?;
            if tid < 256 {
                break;
            }
            if version == 9 {
                let scope_len = usize::from(c.u16()?);
                let opt_len = usize::from(c.u16()?);
                c.take(scope_len.checked_add(opt_len)?)?;
            } else {
                let n = c.u16()?;
                let _scope = c.u16()?;
                for _ in 0..n {
                    let raw = c.u16()?;
                    let _len = c.u16()?;
                    if raw & 0x8000 != 0 {
                        c.u32()?;
                    }
                }
            }
            let key = (exporter, domain, tid, version);
            if !self.options.contains(&key) && self.map.len() + self.options.len() >= MAX_TEMPLATES
            {
                st.templates_refused += 1;
                continue;
            }
            self.options.insert(key);
        }
        Some(())
    }

    #[allow(clippy::too_many_arguments)]
    fn data_set(
        &self,
        exporter: SocketAddr,
        domain: u32,
        version: u8,
        tid: u16,
        body: &[u8],
        time: Time,
        st: &mut DatagramStats,
        out: &mut dyn FnMut(NetflowRecord),
    ) {
        let key = (exporter, domain, tid, version);
        if self.options.contains(&key) {
            return;
        }
        let Some(fields) = self.map.get(&key) else {
            st.unknown_template += 1;
            return;
        };
        let min: usize = fields
            .iter()
            .map(|f| {
                if f.len == 0xffff {
                    1
                } else {
                    usize::from(f.len)
                }
            })
            .sum();
        if min == 0 {
            st.malformed = true;
            return;
        }
        let mut c = Cursor::new(body);
        while c.rest() >= min {
            let Some(rec) = record(fields, &mut c, time) else {
                st.malformed = true;
                return;
            };
            match rec {
                Some(r) => {
                    st.records += 1;
                    out(r);
                }
                None => st.not_tcp_udp += 1,
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Time {
    /// v5/v9: sysUpTime-relative milliseconds.
    Uptime { boot_ms: i64 },
    /// IPFIX: absolute fields; the export time when there are none.
    Export { export_ms: i64 },
}

#[derive(Default)]
struct Acc {
    bytes: u64,
    packets: u64,
    proto: u8,
    flags: u8,
    sport: u16,
    dport: u16,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    start_up: Option<i64>,
    end_up: Option<i64>,
    rev_bytes: Option<u64>,
    rev_packets: Option<u64>,
    rev_flags: u8,
}

/// One data record: Some(Some(r)) decoded, Some(None) not TCP/UDP, None malformed.
fn record(fields: &[Field], c: &mut Cursor<'_>, time: Time) -> Option<Option<NetflowRecord>> {
    let mut a = Acc::default();
    for f in fields {
        let len = if f.len == 0xffff {
            match c.u8()? {
                255 => usize::from(c.u16()?),
                n => usize::from(n),
            }
        } else {
            usize::from(f.len)
        };
        let v = c.take(len)?;
        match (f.pen, f.id) {
            (0, 1) => a.bytes = be(v),
            (0, 2) => a.packets = be(v),
            (0, 4) => a.proto = be(v) as u8,
            (0, 6) => a.flags = be(v) as u8,
            (0, 7) => a.sport = be(v) as u16,
            (0, 11) => a.dport = be(v) as u16,
            (0, 8) if len == 4 => a.src = Some(IpAddr::V4(Ipv4Addr::from(be(v) as u32))),
            (0, 12) if len == 4 => a.dst = Some(IpAddr::V4(Ipv4Addr::from(be(v) as u32))),
            (0, 27) if len == 16 => {
                a.src = <[u8; 16]>::try_from(v)
                    .ok()
                    .map(|b| IpAddr::V6(Ipv6Addr::from(b)))
            }
            (0, 28) if len == 16 => {
                a.dst = <[u8; 16]>::try_from(v)
                    .ok()
                    .map(|b| IpAddr::V6(Ipv6Addr::from(b)))
            }
            (0, 22) => a.start_up = Some(be(v) as i64),
            (0, 21) => a.end_up = Some(be(v) as i64),
            (0, 150) => a.start_ms = Some(be(v) as i64 * 1000),
            (0, 151) => a.end_ms = Some(be(v) as i64 * 1000),
            (0, 152) => a.start_ms = Some(be(v) as i64),
            (0, 153) => a.end_ms = Some(be(v) as i64),
            (REVERSE_PEN, 1) => a.rev_bytes = Some(be(v)),
            (REVERSE_PEN, 2) => a.rev_packets = Some(be(v)),
            (REVERSE_PEN, 6) => a.rev_flags = be(v) as u8,
            _ => {}
        }
    }
    let transport = match a.proto {
        6 => Transport::Tcp,
        17 => Transport::Udp,
        _ => return Some(None),
    };
    let (Some(src), Some(dst)) = (a.src, a.dst) else {
        return Some(None);
    };
    let (start, end) = match time {
        Time::Uptime { boot_ms } => (
            a.start_ms.or(a.start_up.map(|u| boot_ms + u)),
            a.end_ms.or(a.end_up.map(|u| boot_ms + u)),
        ),
        Time::Export { export_ms } => {
            (a.start_ms.or(Some(export_ms)), a.end_ms.or(Some(export_ms)))
        }
    };
    let start = start.unwrap_or(0);
    let end = end.unwrap_or(start).max(start);
    let dir = |packets: u64, bytes: u64, flags: u8| DirStats {
        packets,
        bytes,
        payload_bytes: bytes.saturating_sub(packets.saturating_mul(match transport {
            Transport::Tcp => super::IP_TCP_OVERHEAD,
            Transport::Udp => super::IP_UDP_OVERHEAD,
        })),
        tcp_flags: if transport == Transport::Tcp {
            flags
        } else {
            0
        },
        rsts: u32::from(transport == Transport::Tcp && flags & 0x04 != 0),
    };
    let rev = match (a.rev_packets, a.rev_bytes) {
        (None, None) => None,
        (p, b) => Some(dir(p.unwrap_or(0), b.unwrap_or(0), a.rev_flags)),
    };
    Some(Some(NetflowRecord {
        transport,
        src: Endpoint {
            ip: src,
            port: a.sport,
        },
        dst: Endpoint {
            ip: dst,
            port: a.dport,
        },
        fwd: dir(a.packets, a.bytes, a.flags),
        rev,
        first_ts: start.saturating_mul(1_000_000),
        last_ts: end.saturating_mul(1_000_000),
    }))
}

fn v5(data: &[u8], st: &mut DatagramStats, out: &mut dyn FnMut(NetflowRecord)) -> Option<()> {
    let mut c = Cursor::new(data);
    let _v = c.u16()?;
    let count = usize::from(c.u16()?);
    let uptime = c.u32()?;
    let secs = c.u32()?;
    let nsecs = c.u32()?;
    let _ = c.take(8)?;
    let boot_ms = i64::from(secs) * 1000 + i64::from(nsecs) / 1_000_000 - i64::from(uptime);
    for _ in 0..count.min(30) {
        let r = c.take(48)?;
        let mut rc = Cursor::new(r);
        let src = Ipv4Addr::from(rc.u32()?);
        let dst = Ipv4Addr::from(rc.u32()?);
        let _ = rc.take(8)?;
        let packets = u64::from(rc.u32()?);
        let bytes = u64::from(rc.u32()?);
        let first = i64::from(rc.u32()?);
        let last = i64::from(rc.u32()?);
        let sport = rc.u16()?;
        let dport = rc.u16()?;
        let _ = rc.u8()?;
        let flags = rc.u8()?;
        let proto = rc.u8()?;
        let fields = [
            (1u16, bytes),
            (2, packets),
            (4, u64::from(proto)),
            (6, u64::from(flags)),
            (7, u64::from(sport)),
            (11, u64::from(dport)),
            (8, u64::from(u32::from(src))),
            (12, u64::from(u32::from(dst))),
            (22, first as u64),
            (21, last as u64),
        ];
        // re-encode as a template record so v5 shares the v9 decoding
        let mut buf = Vec::with_capacity(48);
        let mut tmpl = Vec::with_capacity(fields.len());
        for (id, v) in fields {
            let len: u16 = if matches!(id, 4 | 6) {
                1
            } else if matches!(id, 7 | 11) {
                2
            } else if matches!(id, 1 | 2 | 8 | 12 | 21 | 22) {
                4
            } else {
                8
            };
            buf.extend_from_slice(&v.to_be_bytes()[8 - usize::from(len)..]);
            tmpl.push(Field { id, len, pen: 0 });
        }
        match record(&tmpl, &mut Cursor::new(&buf), Time::Uptime { boot_ms })? {
            Some(rec) => {
                st.records += 1;
                out(rec);
            }
            None => st.not_tcp_udp += 1,
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exporter() -> SocketAddr {
        "127.0.0.1:9995".parse().expect("addr")
    }

    fn v9_datagram(with_template: bool) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&9u16.to_be_bytes());
        d.extend_from_slice(&2u16.to_be_bytes());
        d.extend_from_slice(&10_000u32.to_be_bytes()); // uptime ms
        d.extend_from_slice(&1_705_312_800u32.to_be_bytes());
        d.extend_from_slice(&1u32.to_be_bytes());
        d.extend_from_slice(&7u32.to_be_bytes());
        let fields: [(u16, u16); 9] = [
            (8, 4),
            (12, 4),
            (7, 2),
            (11, 2),
            (4, 1),
            (6, 1),
            (2, 4),
            (1, 4),
            (22, 4),
        ];
        if with_template {
            d.extend_from_slice(&0u16.to_be_bytes());
            d.extend_from_slice(&((4 + 4 + 4 * fields.len()) as u16).to_be_bytes());
            d.extend_from_slice(&300u16.to_be_bytes());
            d.extend_from_slice(&(fields.len() as u16).to_be_bytes());
            for (id, len) in fields {
                d.extend_from_slice(&id.to_be_bytes());
                d.extend_from_slice(&len.to_be_bytes());
            }
        }
        let mut rec = Vec::new();
        rec.extend_from_slice(&[192, 0, 2, 10, 203, 0, 113, 86]);
        rec.extend_from_slice(&50000u16.to_be_bytes());
        rec.extend_from_slice(&386u16.to_be_bytes());
        rec.extend_from_slice(&[6, 0x1b]);
        rec.extend_from_slice(&6u32.to_be_bytes());
        rec.extend_from_slice(&357u32.to_be_bytes());
        rec.extend_from_slice(&4000u32.to_be_bytes());
        d.extend_from_slice(&300u16.to_be_bytes());
        d.extend_from_slice(&((4 + rec.len() + 1) as u16).to_be_bytes());
        d.extend_from_slice(&rec);
        d.push(0); // padding
        d
    }

    #[test]
    fn v9_template_then_data() {
        let mut t = Templates::default();
        let mut recs = Vec::new();
        let st = t.datagram(exporter(), &v9_datagram(false), &mut |r| recs.push(r));
        assert_eq!((st.unknown_template, st.records), (1, 0));
        let st = t.datagram(exporter(), &v9_datagram(true), &mut |r| recs.push(r));
        assert_eq!(st.records, 1, "{st:?}");
        let r = &recs[0];
        assert_eq!((r.dst.port, r.transport), (386, Transport::Tcp));
        assert_eq!(
            (r.fwd.packets, r.fwd.bytes, r.fwd.tcp_flags),
            (6, 357, 0x1b)
        );
        // boot at 1705312800 s - 10 s; start 4 s after boot
        assert_eq!(r.first_ts, (1_705_312_800_000 - 10_000 + 4000) * 1_000_000);
        // another exporter's template is not used
        let other: SocketAddr = "127.0.0.2:9995".parse().expect("addr");
        let st = t.datagram(other, &v9_datagram(false), &mut |_| {});
        assert_eq!(st.unknown_template, 1);
    }

    #[test]
    fn every_prefix_and_mutation_is_safe() {
        let good = v9_datagram(true);
        for n in 0..good.len() {
            let mut t = Templates::default();
            t.datagram(exporter(), &good[..n], &mut |_| {});
        }
        for i in 0..good.len() {
            for b in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut d = good.clone();
                d[i] = b;
                let mut t = Templates::default();
                t.datagram(exporter(), &d, &mut |_| {});
                d[0] = 0;
                d[1] = 10;
                t.datagram(exporter(), &d, &mut |_| {});
            }
        }
    }

    #[test]
    fn templates_are_bounded() {
        let mut t = Templates::default();
        let mut refused = 0;
        for i in 0..(MAX_TEMPLATES as u32 + 10) {
            let ex: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(i)), 2055);
            refused += t
                .datagram(ex, &v9_datagram(true), &mut |_| {})
                .templates_refused;
        }
        assert_eq!(t.len(), MAX_TEMPLATES);
        assert_eq!(refused, 10);
    }
}
