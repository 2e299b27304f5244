//! A hand-written decoder for the common case: Ethernet II (or no link
//! header) → IPv4 (not fragmented) or IPv6 (no extension headers) → a complete TCP or UDP
//! header, with the IP and UDP lengths consistent with the frame.
//!
//! It exists for speed only (the lax etherparse slicers copy large structs
//! per packet) and must give exactly what the general path gives: it
//! returns `None` for anything outside that case, and the general path
//! decides. `tests::fast_path_agrees` and the `decode` fuzz target check
//! the two against each other on every frame they see.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Packet, PacketKind};
use crate::Transport;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const TCP: u8 = 6;
const UDP: u8 = 17;

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// The Ethernet fast path; `None` means "use the general path".
#[inline]
pub(super) fn ethernet(frame: &[u8]) -> Option<Packet<'_>> {
    let ip = frame.get(14..)?;
    match be16(frame, 12)? {
        ETHERTYPE_IPV4 => ipv4(ip),
        ETHERTYPE_IPV6 => ipv6(ip),
        _ => None,
    }
}

/// The fast path for frames that start with the IP header (RAW, IPV4,
/// IPV6 link types); `None` means "use the general path".
#[inline]
pub(super) fn raw_ip(frame: &[u8]) -> Option<Packet<'_>> {
    match frame.first()? >> 4 {
        4 => ipv4(frame),
        6 => ipv6(frame),
        _ => None,
    }
}

#[inline]
fn ipv4(ip: &[u8]) -> Option<Packet<'_>> {
    let h = ip.get(..20)?;
    if h[0] >> 4 != 4 {
        return None;
    }
    let hlen = usize::from(h[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    // More-fragments flag or a fragment offset: general path.
    if u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0 {
        return None;
    }
    if hlen < 20 || total < hlen || total > ip.len() {
        return None;
    }
    let src = IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19]));
    transport(h[9], src, dst, ip.get(hlen..total)?)
}

#[inline]
fn ipv6(ip: &[u8]) -> Option<Packet<'_>> {
    let h = ip.get(..40)?;
    if h[0] >> 4 != 6 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
    // Zero is a jumbogram (or a lie): general path.
    if len == 0 {
        return None;
    }
    let payload = ip.get(40..40 + len)?;
    let addr = |at: usize| -> Option<IpAddr> {
        let b: [u8; 16] = h.get(at..at + 16)?.try_into().ok()?;
        Some(IpAddr::V6(Ipv6Addr::from(b)))
    };
    transport(h[6], addr(8)?, addr(24)?, payload)
}

#[inline]
fn transport<'a>(proto: u8, src: IpAddr, dst: IpAddr, seg: &'a [u8]) -> Option<Packet<'a>> {
    let src_port = be16(seg, 0)?;
    let dst_port = be16(seg, 2)?;
    match proto {
        TCP => {
            let h = seg.get(..20)?;
            let off = usize::from(h[12] >> 4) * 4;
            if off < 20 {
                return None;
            }
            let payload = seg.get(off..)?;
            Some(Packet {
                src,
                dst,
                transport: Transport::Tcp,
                src_port,
                dst_port,
                tcp_flags: h[13],
                seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                payload,
                payload_len: payload.len() as u32,
                vlan: None,
                first_fragment: false,
                kind: PacketKind::Normal,
                tunnel: None,
            })
        }
        UDP => {
            let len = usize::from(be16(seg, 4)?);
            if len < 8 || len > seg.len() || super::tunnel_udp_port(src_port, dst_port) {
                return None;
            }
            let payload = seg.get(8..len)?;
            Some(Packet {
                src,
                dst,
                transport: Transport::Udp,
                src_port,
                dst_port,
                tcp_flags: 0,
                seq: 0,
                payload,
                payload_len: payload.len() as u32,
                vlan: None,
                first_fragment: false,
                kind: PacketKind::Normal,
                tunnel: None,
            })
        }
        _ => None,
    }
}
