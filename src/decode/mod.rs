//! Link layer + IP + TCP/UDP decoding into a borrowed [`Packet`] view.
//!
//! The link layer is stripped by hand (a few bytes per link type, see
//! [`LinkType`]); everything from the network layer up is parsed with
//! etherparse's lax slicers, so snaplen-truncated packets still yield the
//! headers that are complete. Nothing here allocates and nothing panics on
//! short or hostile input: every frame ends as a [`Packet`] or as a
//! [`Skip`] reason that the caller counts.
//!
//! Adding a link type: add a variant to [`LinkType`], map its LINKTYPE_
//! number in [`LinkType::from_linktype`], and strip its header in
//! [`strip_link`] (return the EtherType of what follows, or
//! [`Inner::Ip`] when the payload starts with an IP header).

use std::net::IpAddr;

use etherparse::{
    EtherType, IpNumber, LaxIpSlice, LaxNetSlice, LaxSlicedPacket, TcpSlice, TransportSlice,
    UdpSlice,
};

use crate::Transport;

mod fast;

/// Link types ghostport can strip to reach the IP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1), with 802.1Q / 802.1ad tags.
    Ethernet,
    /// LINKTYPE_NULL (0): 4-byte address family in the capturing host's byte order.
    Null,
    /// LINKTYPE_LOOP (108): 4-byte address family in network byte order.
    Loop,
    /// LINKTYPE_RAW (101, and DLT_RAW 12/14 on some systems): IPv4 or IPv6, no link header.
    Raw,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// LINKTYPE_LINUX_SLL (113): 16-byte Linux cooked header.
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276): 20-byte Linux cooked header v2.
    LinuxSll2,
    /// LINKTYPE_PPP (9) and LINKTYPE_PPP_HDLC (50), including Cisco HDLC framing seen under PPP.
    Ppp,
    /// LINKTYPE_C_HDLC (104): Cisco HDLC.
    CiscoHdlc,
    /// LINKTYPE_NFLOG (239): Linux netfilter log TLVs.
    Nflog,
    /// LINKTYPE_PKTAP (258, and DLT 149 on Apple): Apple PKTAP header + inner frame.
    Pktap,
}

impl LinkType {
    /// Maps a LINKTYPE_/DLT number from a capture file to a supported link type.
    pub fn from_linktype(lt: u32) -> Option<LinkType> {
        Some(match lt {
            1 => LinkType::Ethernet,
            0 => LinkType::Null,
            108 => LinkType::Loop,
            101 | 12 | 14 => LinkType::Raw,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            9 | 50 => LinkType::Ppp,
            104 => LinkType::CiscoHdlc,
            239 => LinkType::Nflog,
            258 | 149 => LinkType::Pktap,
            _ => return None,
        })
    }

    /// Names of the supported link types, for error messages and docs.
    pub const SUPPORTED: &'static str = "ETHERNET (1, with 802.1Q/802.1ad), NULL (0), LOOP (108), RAW (101/12/14), IPV4 (228), IPV6 (229), LINUX_SLL (113), LINUX_SLL2 (276), PPP (9/50), C_HDLC (104), NFLOG (239), PKTAP (258/149)";
}

/// Why a frame did not become a TCP/UDP [`Packet`]. Every skipped frame has
/// exactly one reason; the report lists the counts by [`Skip::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    /// The capture's link type is not supported (see [`LinkType::SUPPORTED`]).
    UnsupportedLinkType,
    /// Zero-length frame.
    EmptyFrame,
    /// The frame ended inside the link-layer header.
    TruncatedLinkHeader,
    /// A link-layer payload that is not IP (ARP, LLDP, STP, ...).
    NotIp,
    /// The IP header is malformed (bad version, header length, total length).
    BadIpHeader,
    /// The frame ended inside the IP header or its extension headers.
    TruncatedIpHeader,
    /// IPv6 extension headers that could not be walked (too many, malformed).
    BadIpv6Extensions,
    /// A non-first IP fragment: it has no transport header; counted, not a flow packet.
    FragmentNotFirst,
    /// IP carrying something other than TCP, UDP or ICMP (GRE, ESP, OSPF, ...).
    OtherIpProtocol,
    /// ICMP that is not an error quoting a TCP/UDP header (echo, router advertisement, ...).
    IcmpOther,
    /// The frame ended inside the TCP/UDP header (ports not readable).
    TruncatedTransportHeader,
    /// TCP header with a data offset below 5 or past the end of the segment.
    BadTcpHeader,
    /// Encapsulations nested deeper than [`MAX_TUNNEL_DEPTH`].
    TunnelTooDeep,
}

impl Skip {
    /// Number of variants (for counting arrays).
    pub const COUNT: usize = 13;
    /// All variants in report order.
    pub const ALL: [Skip; Skip::COUNT] = [
        Skip::UnsupportedLinkType,
        Skip::EmptyFrame,
        Skip::TruncatedLinkHeader,
        Skip::NotIp,
        Skip::BadIpHeader,
        Skip::TruncatedIpHeader,
        Skip::BadIpv6Extensions,
        Skip::FragmentNotFirst,
        Skip::OtherIpProtocol,
        Skip::IcmpOther,
        Skip::TruncatedTransportHeader,
        Skip::BadTcpHeader,
        Skip::TunnelTooDeep,
    ];

    /// Stable machine name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::UnsupportedLinkType => "unsupported_link_type",
            Skip::EmptyFrame => "empty_frame",
            Skip::TruncatedLinkHeader => "truncated_link_header",
            Skip::NotIp => "not_ip",
            Skip::BadIpHeader => "bad_ip_header",
            Skip::TruncatedIpHeader => "truncated_ip_header",
            Skip::BadIpv6Extensions => "bad_ipv6_extensions",
            Skip::FragmentNotFirst => "fragment_not_first",
            Skip::OtherIpProtocol => "other_ip_protocol",
            Skip::IcmpOther => "icmp_other",
            Skip::TruncatedTransportHeader => "truncated_transport_header",
            Skip::BadTcpHeader => "bad_tcp_header",
            Skip::TunnelTooDeep => "tunnel_too_deep",
        }
    }

    /// True when the reason means the packet was malformed or truncated (as
    /// opposed to well-formed traffic that is simply not TCP/UDP).
    pub fn is_malformed(self) -> bool {
        !matches!(
            self,
            Skip::NotIp | Skip::FragmentNotFirst | Skip::OtherIpProtocol | Skip::IcmpOther
        )
    }
}

/// TCP flag bits as in the TCP header's flags byte.
pub mod tcp_flags {
    /// FIN
    pub const FIN: u8 = 0x01;
    /// SYN
    pub const SYN: u8 = 0x02;
    /// RST
    pub const RST: u8 = 0x04;
    /// PSH
    pub const PSH: u8 = 0x08;
    /// ACK
    pub const ACK: u8 = 0x10;
    /// URG
    pub const URG: u8 = 0x20;
    /// ECE
    pub const ECE: u8 = 0x40;
    /// CWR
    pub const CWR: u8 = 0x80;
}

/// What kind of TCP/UDP observation a [`Packet`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketKind {
    /// An ordinary TCP segment or UDP datagram.
    Normal,
    /// An ICMP/ICMPv6 destination-unreachable (or other error) quoting this
    /// flow's header. Addresses and ports are those of the *quoted* packet
    /// (so the flow is found), sent by `reporter`.
    IcmpError {
        /// ICMP type
        icmp_type: u8,
        /// ICMP code
        code: u8,
    },
}

/// A decoded TCP or UDP packet, borrowing the frame's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// TCP or UDP.
    pub transport: Transport,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// TCP flags byte (0 for UDP).
    pub tcp_flags: u8,
    /// TCP sequence number (0 for UDP).
    pub seq: u32,
    /// Transport payload bytes present in the capture (may be cut by snaplen).
    pub payload: &'a [u8],
    /// Payload length on the wire according to the IP/UDP headers
    /// (>= `payload.len()` when the frame was truncated).
    pub payload_len: u32,
    /// Outermost VLAN id, if tagged.
    pub vlan: Option<u16>,
    /// The packet was the first fragment of a fragmented IP datagram.
    pub first_fragment: bool,
    /// Normal packet or ICMP error about this flow.
    pub kind: PacketKind,
    /// The packet came out of a tunnel or an encapsulation (the outermost one).
    pub tunnel: Option<Tunnel>,
}

/// An encapsulation a packet was taken out of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TunnelKind {
    /// VXLAN (UDP 4789).
    Vxlan,
    /// Geneve (UDP 6081).
    Geneve,
    /// GRE (IP protocol 47): IPv4, IPv6, transparent Ethernet bridging, PPP (PPTP), MPLS.
    Gre,
    /// ERSPAN type I, II or III (in GRE).
    Erspan,
    /// IPv4 in IPv4 (IP protocol 4).
    Ipip,
    /// IPv6 in IPv4 (IP protocol 41).
    #[serde(rename = "6in4")]
    SixInFour,
    /// IPv4 in IPv6 (IP protocol 4 in IPv6).
    #[serde(rename = "4in6")]
    FourInSix,
    /// IPv6 in IPv6 (IP protocol 41 in IPv6).
    #[serde(rename = "6in6")]
    SixInSix,
    /// Teredo (UDP 3544).
    Teredo,
    /// MPLS label stack (EtherType 0x8847 / 0x8848).
    Mpls,
    /// PPPoE session (EtherType 0x8864).
    Pppoe,
    /// 802.2 LLC/SNAP (an 802.3 length field instead of an EtherType).
    LlcSnap,
}

/// The outermost encapsulation of a decoded packet, kept as context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Tunnel {
    /// The outermost encapsulation.
    pub kind: TunnelKind,
    /// Its outer source address (none for MPLS, PPPoE, LLC/SNAP on the link).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outer_src: Option<IpAddr>,
    /// Its outer destination address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outer_dst: Option<IpAddr>,
    /// Encapsulations taken off (1 = one tunnel).
    pub layers: u8,
}

/// Most encapsulations taken off one frame; deeper nesting is counted as
/// `tunnel_too_deep`.
pub const MAX_TUNNEL_DEPTH: u8 = 4;

/// Where the bytes after the link header start.
enum Inner {
    Ether(EtherType),
    Ip,
}

/// Decodes one frame of the given link type.
#[inline]
pub fn decode(link: Option<LinkType>, frame: &[u8]) -> Result<Packet<'_>, Skip> {
    let fast = match link {
        Some(LinkType::Ethernet) => fast::ethernet(frame),
        Some(LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6) => fast::raw_ip(frame),
        _ => None,
    };
    match fast {
        Some(p) => Ok(p),
        None => decode_general(link, frame),
    }
}

/// [`decode`] without the hand-written fast path for plain Ethernet →
/// IPv4/IPv6 → TCP/UDP frames: every frame through etherparse. Gives the
/// same result as [`decode`] for every input (tested and fuzzed); public
/// for that comparison.
#[doc(hidden)]
pub fn decode_general(link: Option<LinkType>, frame: &[u8]) -> Result<Packet<'_>, Skip> {
    let Some(link) = link else {
        return Err(Skip::UnsupportedLinkType);
    };
    if frame.is_empty() {
        return Err(Skip::EmptyFrame);
    }
    if link == LinkType::Ethernet {
        return decode_inner(Encap::Ether, frame, 0);
    }
    let (inner, rest) = strip_link(link, frame, 0)?;
    match inner {
        Inner::Ether(et) => decode_inner(Encap::EtherType(et.0), rest, 0),
        Inner::Ip => decode_inner(Encap::Ip, rest, 0),
    }
}

/// What the bytes of a (possibly inner) frame start with.
#[derive(Clone, Copy)]
enum Encap {
    /// An Ethernet II / 802.3 header.
    Ether,
    /// The payload of this EtherType.
    EtherType(u16),
    /// An IPv4 or IPv6 header.
    Ip,
}

/// Decodes a frame or a tunnel's inner frame; `depth` encapsulations were
/// taken off to reach it.
fn decode_inner(encap: Encap, b: &[u8], depth: u8) -> Result<Packet<'_>, Skip> {
    match encap {
        Encap::Ether => {
            let sliced =
                LaxSlicedPacket::from_ethernet(b).map_err(|_| Skip::TruncatedLinkHeader)?;
            match from_sliced(&sliced, depth) {
                Err(Skip::NotIp) => ether_encap(b, depth).unwrap_or(Err(Skip::NotIp)),
                r => r,
            }
        }
        Encap::EtherType(et) => {
            match from_sliced(&LaxSlicedPacket::from_ether_type(EtherType(et), b), depth) {
                Err(Skip::NotIp) => ethertype_encap(et, b, depth, None).unwrap_or(Err(Skip::NotIp)),
                r => r,
            }
        }
        Encap::Ip => match LaxSlicedPacket::from_ip(b) {
            Ok(s) => from_sliced(&s, depth),
            Err(e) => Err(ip_error(&e)),
        },
    }
}

/// Marks `r` as taken out of an encapsulation (the outermost one wins).
fn wrap<'a>(
    r: Result<Packet<'a>, Skip>,
    kind: TunnelKind,
    outer: Option<(IpAddr, IpAddr)>,
    vlan: Option<u16>,
) -> Result<Packet<'a>, Skip> {
    r.map(|mut p| {
        let layers = p.tunnel.map_or(0, |t| t.layers).saturating_add(1);
        p.tunnel = Some(Tunnel {
            kind,
            outer_src: outer.map(|o| o.0),
            outer_dst: outer.map(|o| o.1),
            layers,
        });
        p.vlan = vlan.or(p.vlan);
        p
    })
}

/// Takes off one encapsulation: decodes `b` as `encap` one level deeper.
fn descend<'a>(
    encap: Encap,
    b: &'a [u8],
    depth: u8,
    kind: TunnelKind,
    outer: Option<(IpAddr, IpAddr)>,
    vlan: Option<u16>,
) -> Result<Packet<'a>, Skip> {
    if depth >= MAX_TUNNEL_DEPTH {
        return Err(Skip::TunnelTooDeep);
    }
    wrap(decode_inner(encap, b, depth + 1), kind, outer, vlan)
}

/// An Ethernet frame etherparse found no IP in: MPLS, PPPoE session or
/// LLC/SNAP after the MAC header and VLAN tags. None: none of those.
fn ether_encap(b: &[u8], depth: u8) -> Option<Result<Packet<'_>, Skip>> {
    let mut at = 12;
    let mut vlan = None;
    let mut et = be16(b, at)?;
    while matches!(et, 0x8100 | 0x88a8 | 0x9100) {
        if vlan.is_none() {
            vlan = Some(be16(b, at + 2)? & 0x0fff);
        }
        at += 4;
        et = be16(b, at)?;
    }
    let rest = b.get(at + 2..)?;
    if et < 0x0600 {
        // 802.3 length: LLC/SNAP (AA AA 03, OUI, EtherType).
        if rest.get(..3) != Some(&[0xaa, 0xaa, 0x03]) {
            return None;
        }
        let inner_et = be16(rest, 6)?;
        let inner = rest.get(8..)?;
        return Some(descend(
            Encap::EtherType(inner_et),
            inner,
            depth,
            TunnelKind::LlcSnap,
            None,
            vlan,
        ));
    }
    ethertype_encap(et, rest, depth, vlan)
}

/// MPLS or a PPPoE session under EtherType `et`. None: neither.
fn ethertype_encap(
    et: u16,
    b: &[u8],
    depth: u8,
    vlan: Option<u16>,
) -> Option<Result<Packet<'_>, Skip>> {
    match et {
        0x8847 | 0x8848 => {
            let (encap, inner) = mpls(b)?;
            Some(descend(encap, inner, depth, TunnelKind::Mpls, None, vlan))
        }
        0x8864 => {
            // PPPoE: ver/type 0x11, code 0 (session data), session id, length; then PPP.
            if b.first() != Some(&0x11) || b.get(1) != Some(&0) {
                return None;
            }
            let (encap, inner) = ppp(b.get(6..)?)?;
            Some(descend(encap, inner, depth, TunnelKind::Pppoe, None, vlan))
        }
        _ => None,
    }
}

/// An MPLS label stack, then IPv4, IPv6 or (after a zero control word) Ethernet.
fn mpls(b: &[u8]) -> Option<(Encap, &[u8])> {
    let mut at = 0;
    // Each label is 4 bytes; the bottom-of-stack bit ends the stack.
    loop {
        let label = b.get(at..at + 4)?;
        at += 4;
        if label[2] & 0x01 != 0 {
            break;
        }
        if at > 64 {
            return None;
        }
    }
    let rest = b.get(at..)?;
    match rest.first()? >> 4 {
        4 | 6 => Some((Encap::Ip, rest)),
        // Pseudowire control word (RFC 4385), then an Ethernet frame.
        0 => Some((Encap::Ether, rest.get(4..)?)),
        _ => None,
    }
}

/// A PPP frame (optional FF 03, 1- or 2-byte protocol) carrying IPv4 or IPv6.
fn ppp(b: &[u8]) -> Option<(Encap, &[u8])> {
    let mut at = 0;
    if b.get(0..2) == Some(&[0xff, 0x03]) {
        at = 2;
    }
    let first = *b.get(at)?;
    let (proto, len) = if first & 1 == 1 {
        (u16::from(first), 1)
    } else {
        (be16(b, at)?, 2)
    };
    match proto {
        0x0021 | 0x0057 => Some((Encap::Ip, b.get(at + len..)?)),
        _ => None,
    }
}

/// GRE (versions 0 and 1): what follows the header. None: not a GRE
/// payload ghostport decodes (source routing, unknown protocol type).
fn gre(b: &[u8]) -> Option<(TunnelKind, Encap, &[u8])> {
    let flags = be16(b, 0)?;
    let proto = be16(b, 2)?;
    let seq = flags & 0x1000 != 0;
    let mut at = 4;
    match flags & 0x0007 {
        0 => {
            if flags & 0x4000 != 0 {
                return None;
            }
            if flags & 0x8000 != 0 {
                at += 4;
            }
            if flags & 0x2000 != 0 {
                at += 4;
            }
            if seq {
                at += 4;
            }
        }
        1 => {
            // Enhanced GRE (PPTP, RFC 2637): key always, sequence and ack optional, PPP inside.
            at += 4;
            if seq {
                at += 4;
            }
            if flags & 0x0080 != 0 {
                at += 4;
            }
            if proto != 0x880b {
                return None;
            }
        }
        _ => return None,
    }
    let rest = b.get(at..)?;
    Some(match proto {
        0x0800 | 0x86dd => (TunnelKind::Gre, Encap::EtherType(proto), rest),
        0x6558 => (TunnelKind::Gre, Encap::Ether, rest),
        0x8847 | 0x8848 => (TunnelKind::Gre, Encap::EtherType(proto), rest),
        0x880b => {
            let (e, inner) = ppp(rest)?;
            (TunnelKind::Gre, e, inner)
        }
        // ERSPAN type II has an 8-byte header (and GRE sequence numbers);
        // type I has neither.
        0x88be if seq => (TunnelKind::Erspan, Encap::Ether, rest.get(8..)?),
        0x88be => (TunnelKind::Erspan, Encap::Ether, rest),
        // ERSPAN type III: 12 bytes, plus an 8-byte platform subheader when O is set.
        0x22eb => {
            let o = rest.get(11)? & 0x01 != 0;
            (
                TunnelKind::Erspan,
                Encap::Ether,
                rest.get(if o { 20 } else { 12 }..)?,
            )
        }
        _ => return None,
    })
}

/// UDP ports that may carry a tunnel (the fast path leaves them to the general one).
#[inline]
pub(crate) fn tunnel_udp_port(src: u16, dst: u16) -> bool {
    matches!(dst, 4789 | 6081 | 3544) || src == 3544
}

/// A UDP payload that is VXLAN, Geneve or Teredo. None: not one of them
/// (the datagram stays an ordinary UDP packet).
fn udp_tunnel(sp: u16, dp: u16, b: &[u8]) -> Option<(TunnelKind, Encap, &[u8])> {
    if dp == 4789 {
        // VXLAN: flags (I bit set), 3 reserved, VNI, 1 reserved.
        if b.first()? & 0x08 == 0 || b.len() < 8 + 14 {
            return None;
        }
        return Some((TunnelKind::Vxlan, Encap::Ether, b.get(8..)?));
    }
    if dp == 6081 {
        let v = *b.first()?;
        if v >> 6 != 0 {
            return None;
        }
        let at = 8 + usize::from(v & 0x3f) * 4;
        let proto = be16(b, 2)?;
        let rest = b.get(at..)?;
        return match proto {
            0x6558 => Some((TunnelKind::Geneve, Encap::Ether, rest)),
            0x0800 | 0x86dd => Some((TunnelKind::Geneve, Encap::EtherType(proto), rest)),
            _ => None,
        };
    }
    if dp == 3544 || sp == 3544 {
        // Teredo: optional authentication and origin indications, then IPv6.
        let mut at = 0;
        if be16(b, at)? == 0x0001 {
            let id = usize::from(*b.get(2)?);
            let au = usize::from(*b.get(3)?);
            at = 4 + id + au + 8 + 1;
        }
        if be16(b, at)? == 0x0000 {
            at += 8;
        }
        let ip = b.get(at..)?;
        let h = ip.get(..40)?;
        if h[0] >> 4 != 6 || usize::from(u16::from_be_bytes([h[4], h[5]])) + 40 > ip.len() {
            return None;
        }
        return Some((TunnelKind::Teredo, Encap::Ip, ip));
    }
    None
}

fn ip_error(e: &etherparse::err::ip::LaxHeaderSliceError) -> Skip {
    use etherparse::err::ip::LaxHeaderSliceError as E;
    match e {
        E::Len(_) => Skip::TruncatedIpHeader,
        E::Content(_) => Skip::BadIpHeader,
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Strips the link header; `depth` guards PKTAP recursion.
fn strip_link(link: LinkType, frame: &[u8], depth: u8) -> Result<(Inner, &[u8]), Skip> {
    let t = Skip::TruncatedLinkHeader;
    match link {
        LinkType::Ethernet => {
            // Only reached through PKTAP: hand the whole frame back as ethernet.
            let et = be16(frame, 12).ok_or(t)?;
            Ok((Inner::Ether(EtherType(et)), frame.get(14..).ok_or(t)?))
        }
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => Ok((Inner::Ip, frame)),
        LinkType::Null | LinkType::Loop => {
            let b = frame.get(0..4).ok_or(t)?;
            let raw = [b[0], b[1], b[2], b[3]];
            // DLT_NULL is host byte order of the capturing machine: accept both.
            let fam = if link == LinkType::Loop {
                u32::from_be_bytes(raw)
            } else {
                let le = u32::from_le_bytes(raw);
                if le > 0xffff {
                    u32::from_be_bytes(raw)
                } else {
                    le
                }
            };
            match fam {
                2 => Ok((Inner::Ether(EtherType::IPV4), &frame[4..])),
                // AF_INET6 differs per OS: 10 Linux, 24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS.
                10 | 24 | 28 | 30 => Ok((Inner::Ether(EtherType::IPV6), &frame[4..])),
                _ => Err(Skip::NotIp),
            }
        }
        LinkType::LinuxSll => {
            let proto = be16(frame, 14).ok_or(t)?;
            Ok((Inner::Ether(EtherType(proto)), frame.get(16..).ok_or(t)?))
        }
        LinkType::LinuxSll2 => {
            let proto = be16(frame, 0).ok_or(t)?;
            Ok((Inner::Ether(EtherType(proto)), frame.get(20..).ok_or(t)?))
        }
        LinkType::Ppp | LinkType::CiscoHdlc => {
            let b0 = *frame.first().ok_or(t)?;
            if b0 == 0x0f || b0 == 0x8f {
                // Cisco HDLC: address, control, then an EtherType.
                let et = be16(frame, 2).ok_or(t)?;
                return Ok((Inner::Ether(EtherType(et)), frame.get(4..).ok_or(t)?));
            }
            if link == LinkType::CiscoHdlc {
                return Err(Skip::NotIp);
            }
            // PPP: optional 0xff 0x03 address/control, then the protocol (1 or 2 bytes).
            let mut at = 0;
            if frame.get(0..2) == Some(&[0xff, 0x03]) {
                at = 2;
            }
            let first = *frame.get(at).ok_or(t)?;
            let (proto, len) = if first & 1 == 1 {
                (u16::from(first), 1)
            } else {
                (be16(frame, at).ok_or(t)?, 2)
            };
            let rest = frame.get(at + len..).ok_or(t)?;
            match proto {
                0x0021 => Ok((Inner::Ether(EtherType::IPV4), rest)),
                0x0057 => Ok((Inner::Ether(EtherType::IPV6), rest)),
                _ => Err(Skip::NotIp),
            }
        }
        LinkType::Nflog => {
            // 4-byte header (family, version, resource id), then TLVs; TLV 9 is the payload.
            let family = *frame.first().ok_or(t)?;
            let mut at = 4usize;
            loop {
                let len = usize::from(le16(frame, at).ok_or(t)?);
                let ty = le16(frame, at + 2).ok_or(t)?;
                if len < 4 {
                    return Err(t);
                }
                if ty == 9 {
                    let payload = frame.get(at + 4..at + len).ok_or(t)?;
                    let et = if family == 10 {
                        EtherType::IPV6
                    } else {
                        EtherType::IPV4
                    };
                    return Ok((Inner::Ether(et), payload));
                }
                // TLVs are padded to 4 bytes.
                at = at.checked_add(len.div_ceil(4) * 4).ok_or(t)?;
            }
        }
        LinkType::Pktap => {
            if depth > 0 {
                return Err(Skip::NotIp);
            }
            let hdr_len = le32(frame, 0).ok_or(t)? as usize;
            let dlt = le32(frame, 4).ok_or(t)?;
            let inner = frame.get(hdr_len..).ok_or(t)?;
            let inner_link = LinkType::from_linktype(dlt).ok_or(Skip::UnsupportedLinkType)?;
            strip_link(inner_link, inner, depth + 1)
        }
    }
}

fn vlan_of(s: &LaxSlicedPacket<'_>) -> Option<u16> {
    s.vlan().map(|v| match v {
        etherparse::VlanSlice::SingleVlan(s) => s.vlan_identifier().value(),
        etherparse::VlanSlice::DoubleVlan(d) => d.outer.vlan_identifier().value(),
    })
}

fn from_sliced<'a>(s: &LaxSlicedPacket<'a>, depth: u8) -> Result<Packet<'a>, Skip> {
    use etherparse::err::packet::SliceError as SE;
    let Some(net) = &s.net else {
        return Err(match &s.stop_err {
            Some((SE::Len(_), _)) => Skip::TruncatedIpHeader,
            Some((SE::Ipv6Exts(_), _)) => Skip::BadIpv6Extensions,
            Some((SE::LinuxSll(_), _)) | Some((SE::Macsec(_), _)) => Skip::TruncatedLinkHeader,
            Some(_) => Skip::BadIpHeader,
            None => Skip::NotIp,
        });
    };
    let vlan = vlan_of(s);
    let (src, dst, payload, frag_first) = match net {
        LaxNetSlice::Ipv4(ip) => {
            let h = ip.header();
            let first = h.fragments_offset().value() == 0;
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                ip.payload(),
                first,
            )
        }
        LaxNetSlice::Ipv6(ip) => {
            let h = ip.header();
            // Walk the validated extension bytes by hand: etherparse's
            // extension iterator reads past a chain that lax parsing cut
            // short (unchecked slice access), so it is not used here.
            let first = ipv6_fragment_offset(h.next_header().0, ip.extensions().slice())
                .is_none_or(|off| off == 0);
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                ip.payload(),
                first,
            )
        }
        LaxNetSlice::Arp(_) => return Err(Skip::NotIp),
    };
    if let Some((SE::Ipv6Exts(_), _)) = &s.stop_err {
        // Extension headers could not be walked: the "payload" is not a transport header.
        if payload.ip_number != IpNumber::TCP && payload.ip_number != IpNumber::UDP {
            return Err(Skip::BadIpv6Extensions);
        }
    }
    if payload.fragmented && !frag_first {
        return Err(Skip::FragmentNotFirst);
    }
    if !payload.fragmented && !payload.incomplete {
        let v6 = matches!(net, LaxNetSlice::Ipv6(_));
        let ip_tunnel = match payload.ip_number.0 {
            4 if v6 => Some(TunnelKind::FourInSix),
            4 => Some(TunnelKind::Ipip),
            41 if v6 => Some(TunnelKind::SixInSix),
            41 => Some(TunnelKind::SixInFour),
            _ => None,
        };
        if let Some(kind) = ip_tunnel {
            return descend(
                Encap::Ip,
                payload.payload,
                depth,
                kind,
                Some((src, dst)),
                vlan,
            );
        }
        if payload.ip_number.0 == 47
            && let Some((kind, encap, inner)) = gre(payload.payload)
        {
            return descend(encap, inner, depth, kind, Some((src, dst)), vlan);
        }
    }
    let mut p = match &s.transport {
        Some(TransportSlice::Tcp(tcp)) => tcp_packet(src, dst, tcp),
        Some(TransportSlice::Udp(udp)) => udp_packet(src, dst, udp),
        Some(TransportSlice::Icmpv4(icmp)) => {
            return icmp_error(icmp.type_u8(), icmp.code_u8(), icmp.payload(), false);
        }
        Some(TransportSlice::Icmpv6(icmp)) => {
            return icmp_error(icmp.type_u8(), icmp.code_u8(), icmp.payload(), true);
        }
        Some(_) => return Err(Skip::OtherIpProtocol),
        None => transport_fallback(src, dst, payload)?,
    };
    p.vlan = vlan;
    p.first_fragment = payload.fragmented;
    if p.transport == Transport::Udp
        && !payload.fragmented
        && p.kind == PacketKind::Normal
        && tunnel_udp_port(p.src_port, p.dst_port)
        && let Some((kind, encap, inner)) = udp_tunnel(p.src_port, p.dst_port, p.payload)
    {
        return descend(encap, inner, depth, kind, Some((src, dst)), vlan);
    }
    Ok(p)
}

fn tcp_packet<'a>(src: IpAddr, dst: IpAddr, tcp: &TcpSlice<'a>) -> Packet<'a> {
    let flags = tcp.header_slice().get(13).copied().unwrap_or(0);
    Packet {
        src,
        dst,
        transport: Transport::Tcp,
        src_port: tcp.source_port(),
        dst_port: tcp.destination_port(),
        tcp_flags: flags,
        seq: tcp.sequence_number(),
        payload: tcp.payload(),
        payload_len: tcp.payload().len() as u32,
        vlan: None,
        first_fragment: false,
        kind: PacketKind::Normal,
        tunnel: None,
    }
}

fn udp_packet<'a>(src: IpAddr, dst: IpAddr, udp: &UdpSlice<'a>) -> Packet<'a> {
    let wire = u32::from(udp.length()).saturating_sub(8);
    let payload = udp.payload();
    Packet {
        src,
        dst,
        transport: Transport::Udp,
        src_port: udp.source_port(),
        dst_port: udp.destination_port(),
        tcp_flags: 0,
        seq: 0,
        payload,
        payload_len: wire.max(payload.len() as u32),
        vlan: None,
        first_fragment: false,
        kind: PacketKind::Normal,
        tunnel: None,
    }
}

/// etherparse did not produce a transport slice: the IP payload is
/// fragmented (first fragment), truncated, or the TCP header is invalid.
/// Recover the ports from the first bytes when they are present.
fn transport_fallback<'a>(
    src: IpAddr,
    dst: IpAddr,
    payload: &etherparse::LaxIpPayloadSlice<'a>,
) -> Result<Packet<'a>, Skip> {
    let bytes = payload.payload;
    let transport = match payload.ip_number {
        IpNumber::TCP => Transport::Tcp,
        IpNumber::UDP => Transport::Udp,
        IpNumber::ICMP | IpNumber::IPV6_ICMP => {
            return Err(if payload.fragmented {
                Skip::IcmpOther
            } else {
                Skip::TruncatedTransportHeader
            });
        }
        _ => return Err(Skip::OtherIpProtocol),
    };
    let src_port = be16(bytes, 0).ok_or(Skip::TruncatedTransportHeader)?;
    let dst_port = be16(bytes, 2).ok_or(Skip::TruncatedTransportHeader)?;
    let (tcp_flags, seq, data) = match transport {
        Transport::Tcp => {
            let seq_b = bytes.get(4..8).ok_or(Skip::TruncatedTransportHeader)?;
            let seq = u32::from_be_bytes([seq_b[0], seq_b[1], seq_b[2], seq_b[3]]);
            let flags = *bytes.get(13).ok_or(Skip::TruncatedTransportHeader)?;
            let off = usize::from(bytes.get(12).ok_or(Skip::TruncatedTransportHeader)? >> 4) * 4;
            if off < 20 {
                return Err(Skip::BadTcpHeader);
            }
            if !payload.incomplete && !payload.fragmented && off > bytes.len() {
                // The segment is complete, yet the header claims to be longer.
                return Err(Skip::BadTcpHeader);
            }
            (flags, seq, bytes.get(off..).unwrap_or(&[]))
        }
        Transport::Udp => (0, 0, bytes.get(8..).unwrap_or(&[])),
    };
    Ok(Packet {
        src,
        dst,
        transport,
        src_port,
        dst_port,
        tcp_flags,
        seq,
        payload: data,
        payload_len: data.len() as u32,
        vlan: None,
        first_fragment: payload.fragmented,
        kind: PacketKind::Normal,
        tunnel: None,
    })
}

/// Fragment offset (in 8-byte units) from an IPv6 extension-header chain,
/// or None when the chain holds no Fragment header. Bounds-checked; stops at
/// the first header it does not know or that does not fit.
fn ipv6_fragment_offset(first: u8, mut ext: &[u8]) -> Option<u16> {
    let mut next = first;
    // Each header is at least 8 bytes, so the loop ends with the slice.
    while ext.len() >= 8 {
        let len = match next {
            0 | 43 | 60 | 135 | 139 | 140 => (usize::from(ext[1]) + 1) * 8,
            44 => return be16(ext, 2).map(|v| v >> 3),
            51 => (usize::from(ext[1]) + 2) * 4,
            _ => return None,
        };
        next = ext[0];
        ext = ext.get(len..)?;
    }
    None
}

/// ICMP errors that quote an IP header + the first 8 bytes of a TCP/UDP
/// header are attributed to the quoted flow.
fn icmp_error(ty: u8, code: u8, quoted: &[u8], v6: bool) -> Result<Packet<'_>, Skip> {
    // ICMPv4: 3 unreachable, 4 source quench, 5 redirect, 11 time exceeded, 12 parameter problem.
    // ICMPv6: 1 unreachable, 2 packet too big, 3 time exceeded, 4 parameter problem.
    let is_error = if v6 {
        (1..=4).contains(&ty)
    } else {
        matches!(ty, 3 | 4 | 5 | 11 | 12)
    };
    if !is_error {
        return Err(Skip::IcmpOther);
    }
    let (ip, _) = LaxIpSlice::from_slice(quoted).map_err(|_| Skip::IcmpOther)?;
    let (src, dst) = match &ip {
        LaxIpSlice::Ipv4(v4) => (
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
        ),
        LaxIpSlice::Ipv6(v6) => (
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
        ),
    };
    let pl = ip.payload();
    let transport = match pl.ip_number {
        IpNumber::TCP => Transport::Tcp,
        IpNumber::UDP => Transport::Udp,
        _ => return Err(Skip::IcmpOther),
    };
    let src_port = be16(pl.payload, 0).ok_or(Skip::IcmpOther)?;
    let dst_port = be16(pl.payload, 2).ok_or(Skip::IcmpOther)?;
    Ok(Packet {
        src,
        dst,
        transport,
        src_port,
        dst_port,
        tcp_flags: 0,
        seq: 0,
        payload: &[],
        payload_len: 0,
        vlan: None,
        first_fragment: false,
        kind: PacketKind::IcmpError {
            icmp_type: ty,
            code,
        },
        tunnel: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp_eth(dst_port: u16, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .udp(40000, dst_port);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    #[test]
    fn ethernet_udp() {
        let f = udp_eth(384, b"hello");
        let p = decode(Some(LinkType::Ethernet), &f).unwrap();
        assert_eq!(p.transport, Transport::Udp);
        assert_eq!((p.src_port, p.dst_port), (40000, 384));
        assert_eq!(p.payload, b"hello");
    }

    #[test]
    fn every_truncation_is_counted_never_panics() {
        let mut v = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6([0x20; 16], [0x21; 16], 64)
            .tcp(40000, 386, 1, 1000)
            .syn()
            .write(&mut v, b"payload")
            .unwrap();
        for n in 0..=v.len() {
            let r = decode(Some(LinkType::Ethernet), &v[..n]);
            if n >= 14 + 40 + 14 {
                let p = r.unwrap();
                assert_eq!(p.dst_port, 386, "prefix {n}");
            } else {
                assert!(r.is_err(), "prefix {n}");
            }
        }
        for lt in [0u32, 9, 101, 104, 108, 113, 239, 258, 276] {
            for n in 0..v.len() {
                let _ = decode(LinkType::from_linktype(lt), &v[..n]);
            }
        }
    }

    #[test]
    fn null_and_loop_families() {
        let f = udp_eth(386, b"x");
        let ip = &f[14..];
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(ip);
        assert_eq!(decode(Some(LinkType::Null), &null).unwrap().dst_port, 386);
        let mut lp = 2u32.to_be_bytes().to_vec();
        lp.extend_from_slice(ip);
        assert_eq!(decode(Some(LinkType::Loop), &lp).unwrap().dst_port, 386);
        let mut bad = 7u32.to_be_bytes().to_vec();
        bad.extend_from_slice(ip);
        assert_eq!(decode(Some(LinkType::Loop), &bad), Err(Skip::NotIp));
    }

    #[test]
    fn icmp_unreachable_quotes_flow() {
        let inner = udp_eth(384, b"abcd");
        let quoted = &inner[14..14 + 28];
        let mut v = Vec::new();
        PacketBuilder::ethernet2([2; 6], [1; 6])
            .ipv4([192, 0, 2, 2], [192, 0, 2, 1], 64)
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ))
            .write(&mut v, quoted)
            .unwrap();
        let p = decode(Some(LinkType::Ethernet), &v).unwrap();
        assert_eq!(
            p.kind,
            PacketKind::IcmpError {
                icmp_type: 3,
                code: 3
            }
        );
        assert_eq!((p.src_port, p.dst_port), (40000, 384));
        assert_eq!(p.src, "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn ipv6_extension_chain_cut_short_does_not_read_past_it() {
        // Regression (fixtures/corrupt/ipv6-ext-loop.pcap): a chain of
        // Hop-by-Hop headers whose last one points to another header that is
        // not there. etherparse's extension iterator reads past the end here.
        let mut ip = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
        ip.extend_from_slice(&[0x20; 32]);
        let mut exts = Vec::new();
        for _ in 0..30 {
            exts.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        }
        ip[4..6].copy_from_slice(&(exts.len() as u16).to_be_bytes());
        ip.extend_from_slice(&exts);
        for n in 0..=ip.len() {
            let _ = decode(Some(LinkType::Raw), &ip[..n]);
        }
        assert_eq!(ipv6_fragment_offset(0, &exts), None);
        let mut frag = vec![44, 0, 0, 0, 0, 0, 0, 0];
        frag.extend_from_slice(&[17, 0, 0x01, 0x00, 0, 0, 0, 1]);
        assert_eq!(ipv6_fragment_offset(0, &frag), Some(32));
    }

    /// The fast path gives what the general path gives: on every prefix of
    /// IPv4/IPv6 TCP/UDP frames (with options, padding), with and without
    /// the Ethernet header, and on every single-byte change to them.
    #[test]
    fn fast_path_agrees() {
        let mut frames = Vec::new();
        for v6 in [false, true] {
            for tcp in [false, true] {
                for payload in [&b""[..], b"hello world, this is a payload"] {
                    let b = PacketBuilder::ethernet2([1; 6], [2; 6]);
                    let b = if v6 {
                        b.ipv6([0x20; 16], [0x21; 16], 64)
                    } else {
                        b.ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
                    };
                    let mut v = Vec::new();
                    if tcp {
                        b.tcp(40000, 386, 7, 1000)
                            .syn()
                            .ack(9)
                            .options(&[etherparse::TcpOptionElement::MaximumSegmentSize(1460)])
                            .unwrap()
                            .write(&mut v, payload)
                            .unwrap();
                    } else {
                        b.udp(40000, 384).write(&mut v, payload).unwrap();
                    }
                    frames.push(v.clone());
                    // Ethernet padding after the IP datagram.
                    v.extend_from_slice(&[0; 12]);
                    frames.push(v);
                }
            }
        }
        let mut fast_hits = 0;
        for base in &frames {
            let mut check = |f: &[u8]| {
                let general = decode_general(Some(LinkType::Ethernet), f);
                let fast = fast::ethernet(f);
                if let Some(p) = fast {
                    fast_hits += 1;
                    assert_eq!(Ok(p), general, "frame {f:02x?}");
                }
                assert_eq!(decode(Some(LinkType::Ethernet), f), general);
                // The same bytes after the Ethernet header, as a RAW frame.
                let ip = f.get(14..).unwrap_or(&[]);
                for lt in [LinkType::Raw, LinkType::Ipv4, LinkType::Ipv6] {
                    let general = decode_general(Some(lt), ip);
                    if let Some(p) = fast::raw_ip(ip) {
                        fast_hits += 1;
                        assert_eq!(Ok(p), general, "raw frame {ip:02x?}");
                    }
                    assert_eq!(decode(Some(lt), ip), general);
                }
            };
            for n in 0..=base.len() {
                check(&base[..n]);
            }
            let mut m = base.clone();
            for i in 0..m.len() {
                let orig = m[i];
                for v in [
                    0u8, 1, 4, 5, 6, 17, 0x08, 0x45, 0x4f, 0x60, 0x86, 0xdd, 0x20, 0x3f, 0xff,
                ] {
                    m[i] = v;
                    check(&m);
                    m[i] = orig ^ 0x80;
                    check(&m);
                }
                m[i] = orig;
            }
        }
        // The common case does take the fast path.
        assert!(fast_hits > 1000, "{fast_hits}");
    }

    /// VXLAN, GRE, IP-in-IP nested: the inner flow comes out with the
    /// outermost tunnel; deeper than MAX_TUNNEL_DEPTH is counted; the fast
    /// path leaves tunnel ports to the general one.
    #[test]
    fn tunnels_nest_up_to_the_limit() {
        let inner = udp_eth(384, b"ghost");
        let ip = inner[14..].to_vec();
        let outer_ip = |proto: u8, payload: &[u8]| -> Vec<u8> {
            let mut h = etherparse::Ipv4Header::new(
                payload.len() as u16,
                64,
                IpNumber(proto),
                [198, 51, 100, 1],
                [198, 51, 100, 2],
            )
            .unwrap();
            h.header_checksum = h.calc_header_checksum();
            let mut v = h.to_bytes().to_vec();
            v.extend_from_slice(payload);
            v
        };
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        vx.extend_from_slice(&inner);
        let mut frame = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([198, 51, 100, 1], [198, 51, 100, 2], 64)
            .udp(50000, 4789)
            .write(&mut frame, &vx)
            .unwrap();
        assert_eq!(fast::ethernet(&frame), None);
        let p = decode(Some(LinkType::Ethernet), &frame).unwrap();
        assert_eq!(p.dst_port, 384);
        assert_eq!(p.payload, b"ghost");
        let t = p.tunnel.unwrap();
        assert_eq!((t.kind, t.layers), (TunnelKind::Vxlan, 1));
        assert_eq!(t.outer_dst, Some("198.51.100.2".parse().unwrap()));
        // IP-in-IP, nested.
        let mut pkt = ip.clone();
        for depth in 1..=MAX_TUNNEL_DEPTH + 1 {
            pkt = outer_ip(4, &pkt);
            let r = decode(Some(LinkType::Raw), &pkt);
            assert_eq!(r, decode_general(Some(LinkType::Raw), &pkt));
            if depth <= MAX_TUNNEL_DEPTH {
                let t = r.unwrap().tunnel.unwrap();
                assert_eq!((t.kind, t.layers), (TunnelKind::Ipip, depth));
            } else {
                assert_eq!(r, Err(Skip::TunnelTooDeep));
            }
        }
        // GRE with a key, every prefix and every byte changed: no panic,
        // fast == general.
        let mut gre = vec![0x20, 0, 0x08, 0x00, 0, 0, 0, 42];
        gre.extend_from_slice(&ip);
        let g = outer_ip(47, &gre);
        let p = decode(Some(LinkType::Raw), &g).unwrap();
        assert_eq!(p.tunnel.unwrap().kind, TunnelKind::Gre);
        let mut m = g.clone();
        for i in 0..m.len() {
            for n in [i, m.len()] {
                let _ = decode(Some(LinkType::Raw), &m[..n]);
            }
            let orig = m[i];
            for v in [0u8, 0x45, 0x60, 0xff, 47, 4, 41] {
                m[i] = v;
                assert_eq!(
                    decode(Some(LinkType::Raw), &m),
                    decode_general(Some(LinkType::Raw), &m)
                );
            }
            m[i] = orig;
        }
    }

    #[test]
    fn unsupported_link_type() {
        assert_eq!(LinkType::from_linktype(147), None);
        assert_eq!(decode(None, b"abc"), Err(Skip::UnsupportedLinkType));
    }
}
