//! Real-time media and its signalling helpers: STUN/TURN (RFC 8489, 8656,
//! classic RFC 3489), DTLS (RFC 6347, 9147) and RTP/RTCP (RFC 3550).
//!
//! These are what voice and video calls (WebRTC, Zoom, Teams, WhatsApp,
//! Telegram, Webex...) put on ports chosen at run time, which is why they
//! so often land on a ghost port by chance.

use super::util::{Reader, hex};
use super::{Confidence, Direction, Evidence, Identification, Protocol};

/// RFC 5389 magic cookie.
const STUN_COOKIE: u32 = 0x2112_a442;

fn stun_method(m: u16) -> Option<&'static str> {
    Some(match m {
        0x001 => "Binding",
        0x002 => "SharedSecret",
        0x003 => "Allocate",
        0x004 => "Refresh",
        0x006 => "Send",
        0x007 => "Data",
        0x008 => "CreatePermission",
        0x009 => "ChannelBind",
        0x00a => "Connect",
        0x00b => "ConnectionBind",
        0x00c => "ConnectionAttempt",
        // Microsoft TURN extensions (MS-TURN) and Google's ping.
        0x080 | 0x200 => "Vendor",
        _ => return None,
    })
}

fn stun_class(t: u16) -> &'static str {
    match ((t >> 7) & 0x2) | ((t >> 4) & 0x1) {
        0 => "request",
        1 => "indication",
        2 => "success response",
        _ => "error response",
    }
}

/// Recognises a STUN or TURN message at offset 0 (UDP datagram or TCP
/// stream, which carries STUN unframed).
///
/// Requires the two top bits of the type to be zero, a known method
/// (Binding, Allocate, Refresh, Send, Data, CreatePermission, ChannelBind,
/// the TCP-allocation methods, or the MS-TURN/Google vendor methods), a
/// message length that is a multiple of 4, and either the RFC 5389 magic
/// cookie 0x2112A442 at offset 4 (high confidence), or, for classic RFC
/// 3489 STUN without the cookie, a Binding request/response whose first
/// attribute header (type ≤ 0x0020 or ≥ 0x8000) fits the message (medium).
/// The attributes, when complete, must tile the message exactly.
pub fn stun(dir: Direction, data: &[u8]) -> Option<Identification> {
    let mut r = Reader::new(data);
    let typ = r.u16()?;
    if typ & 0xc000 != 0 {
        return None;
    }
    let method = (typ & 0x000f) | ((typ & 0x00e0) >> 1) | ((typ & 0x3e00) >> 2);
    let name = stun_method(method)?;
    let len = usize::from(r.u16()?);
    if len % 4 != 0 || len > 4096 {
        return None;
    }
    let cookie = r.u32()?;
    let _tid = r.take(12)?;
    let classic = cookie != STUN_COOKIE;
    if classic && method != 0x001 {
        return None;
    }
    // Attributes: type(2) length(2) value padded to 4.
    let body = r.take_up_to(len).0;
    let mut at = 0usize;
    let mut attrs = 0usize;
    let mut software = None;
    while at + 4 <= body.len() {
        let t = u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]);
        let l = usize::from(u16::from_be_bytes([*body.get(at + 2)?, *body.get(at + 3)?]));
        if classic && attrs == 0 && !(t <= 0x0020 || t >= 0x8000) {
            return None;
        }
        let padded = l.div_ceil(4) * 4;
        if at + 4 + padded > len {
            return None;
        }
        if t == 0x8022 {
            software = body.get(at + 4..(at + 4 + l).min(body.len()));
        }
        attrs += 1;
        at += 4 + padded;
    }
    if classic && (len == 0 || attrs == 0) {
        return None;
    }
    let class = stun_class(typ);
    let (conf, rule) = if classic {
        (
            Confidence::Medium,
            "classic STUN (RFC 3489) Binding message with attributes tiling the length",
        )
    } else {
        (
            Confidence::High,
            "STUN message type, length % 4 == 0 and magic cookie 0x2112a442 at offset 4",
        )
    };
    let label = if matches!(method, 0x003 | 0x004 | 0x006 | 0x007 | 0x008 | 0x009) {
        "TURN"
    } else {
        "STUN"
    };
    let mut id = Identification::new(
        Protocol::Stun,
        conf,
        &format!("{label} {name} {class}"),
        Evidence::new(dir, data, 0, 8, rule),
    );
    id.push("stun.method", name);
    id.push("stun.class", class);
    if let Some(s) = software {
        id.push_bytes("stun.software", s);
    }
    Some(id)
}

fn dtls_version(v: u16) -> Option<&'static str> {
    match v {
        0xfeff => Some("1.0"),
        0xfefd => Some("1.2"),
        0xfefc => Some("1.3"),
        0x0100 => Some("OpenSSL pre-1.0"),
        _ => None,
    }
}

/// Recognises a DTLS record at offset 0 of a datagram.
///
/// Requires content type 20..=25 (change_cipher_spec, alert, handshake,
/// application data, heartbeat, tls12_cid), a DTLS version (0xFEFF 1.0,
/// 0xFEFD 1.2, 0xFEFC, or OpenSSL's pre-standard 0x0100), an epoch of 0
/// for a handshake record that opens a flow, and a record length of
/// 1..=18432. For a handshake record the handshake header must be
/// consistent: a known message type (ClientHello, ServerHello,
/// HelloVerifyRequest, Certificate...), a fragment that fits the message
/// length and the record. High confidence for a complete, consistent
/// handshake header; medium for other record types.
pub fn dtls(dir: Direction, data: &[u8]) -> Option<Identification> {
    let mut r = Reader::new(data);
    let ctype = r.u8()?;
    if !(20..=25).contains(&ctype) {
        return None;
    }
    let version = r.u16()?;
    let vname = dtls_version(version)?;
    let epoch = r.u16()?;
    let _seq = r.take(6)?;
    let len = usize::from(r.u16()?);
    if len == 0 || len > 18_432 {
        return None;
    }
    let mut conf = Confidence::Medium;
    let mut what = match ctype {
        20 => "ChangeCipherSpec",
        21 => "Alert",
        22 => "Handshake",
        23 => "ApplicationData",
        24 => "Heartbeat",
        _ => "ConnectionID record",
    }
    .to_owned();
    if ctype == 22 && epoch == 0 {
        let hs_type = r.u8()?;
        let msg = match hs_type {
            1 => "ClientHello",
            2 => "ServerHello",
            3 => "HelloVerifyRequest",
            4 => "NewSessionTicket",
            11 => "Certificate",
            12 => "ServerKeyExchange",
            13 => "CertificateRequest",
            14 => "ServerHelloDone",
            16 => "ClientKeyExchange",
            _ => return None,
        };
        let msg_len = r.u24()? as usize;
        let _msg_seq = r.u16()?;
        let frag_off = r.u24()? as usize;
        let frag_len = r.u24()? as usize;
        if frag_off + frag_len > msg_len || frag_len + 12 > len {
            return None;
        }
        if hs_type == 1 {
            // client_version must be a DTLS version too.
            let cv = r.u16()?;
            dtls_version(cv)?;
        }
        conf = Confidence::High;
        what = msg.to_owned();
    } else if ctype == 22 {
        // Encrypted handshake (epoch > 0): the record header alone.
        conf = Confidence::Medium;
    }
    let mut id = Identification::new(
        Protocol::Dtls,
        conf,
        &format!("DTLS {vname} {what}"),
        Evidence::new(
            dir,
            data,
            0,
            13,
            "DTLS record: content type 20..=25, version 0xfeff/0xfefd/0xfefc, consistent lengths",
        ),
    );
    id.push("dtls.version", vname);
    id.push("dtls.record", &what);
    Some(id)
}

/// Payload types RTCP uses (RFC 5761 4): an RTP packet with one of these
/// (with the marker bit) would be ambiguous.
fn rtcp_type(pt: u8) -> Option<&'static str> {
    Some(match pt {
        200 => "SR",
        201 => "RR",
        202 => "SDES",
        203 => "BYE",
        204 => "APP",
        205 => "RTPFB",
        206 => "PSFB",
        207 => "XR",
        _ => return None,
    })
}

/// Recognises RTCP at offset 0: version 2, packet type 200..=207 (SR, RR,
/// SDES, BYE, APP, feedback, XR), a report count consistent with the
/// length for SR/RR (SR: 24 + 24 × count bytes of body, RR: 4 + 24 ×
/// count), and the length field's packet ((length + 1) × 4 bytes) fitting
/// in what was captured or ending exactly at it. A compound packet whose
/// next header (at the length the first one gives) is RTCP again raises
/// confidence to high; one packet alone is medium.
pub fn rtcp(dir: Direction, data: &[u8]) -> Option<Identification> {
    let b0 = *data.first()?;
    if b0 >> 6 != 2 {
        return None;
    }
    let count = usize::from(b0 & 0x1f);
    let pt = *data.get(1)?;
    let name = rtcp_type(pt)?;
    let words = usize::from(u16::from_be_bytes([*data.get(2)?, *data.get(3)?]));
    let plen = (words + 1) * 4;
    let min = match pt {
        200 => 28 + 24 * count,
        201 => 8 + 24 * count,
        _ => 8,
    };
    if plen < min || (matches!(pt, 200 | 201) && plen > min + 256) || plen > 1500 {
        return None;
    }
    if data.len() < min {
        return None;
    }
    let next = data.get(plen..plen + 2);
    let compound = next.is_some_and(|n| {
        n.first().is_some_and(|b| b >> 6 == 2) && n.get(1).and_then(|t| rtcp_type(*t)).is_some()
    });
    let conf = if compound {
        Confidence::High
    } else {
        Confidence::Medium
    };
    let mut id = Identification::new(
        Protocol::Rtcp,
        conf,
        &format!("RTCP {name}{}", if compound { " (compound)" } else { "" }),
        Evidence::new(
            dir,
            data,
            0,
            plen.min(8),
            "RTCP: version 2, packet type 200..=207, length consistent with the report count",
        ),
    );
    id.push("rtcp.type", name);
    if let Some(ssrc) = data.get(4..8) {
        id.push("rtcp.ssrc", &hex(ssrc));
    }
    Some(id)
}

/// Recognises RTP at offset 0 of a UDP flow's first datagrams.
///
/// One RTP header (version 2, payload type 0..=34 or 96..=127, 12 + 4 × CC
/// bytes) is too loose to call on its own, so a second packet of the same
/// stream must follow in the same direction's captured bytes: at some
/// offset 12..=1400 a version-2 header with the same SSRC and the next
/// sequence number (or the one after). High confidence.
pub fn rtp(dir: Direction, data: &[u8]) -> Option<Identification> {
    let b0 = *data.first()?;
    if b0 >> 6 != 2 {
        return None;
    }
    let cc = usize::from(b0 & 0x0f);
    let pt = *data.get(1)? & 0x7f;
    if !(pt <= 34 || pt >= 96) {
        return None;
    }
    let seq = u16::from_be_bytes([*data.get(2)?, *data.get(3)?]);
    let ssrc = data.get(8..12)?;
    let hdr = 12 + 4 * cc;
    if data.len() < hdr {
        return None;
    }
    let limit = data.len().min(1400 + 12);
    let mut k = hdr;
    while k + 12 <= limit {
        if data.get(k).is_some_and(|b| b >> 6 == 2)
            && data.get(k + 8..k + 12) == Some(ssrc)
            && data.get(k + 1).is_some_and(|b| b & 0x7f == pt)
        {
            let s2 = u16::from_be_bytes([*data.get(k + 2)?, *data.get(k + 3)?]);
            let d = s2.wrapping_sub(seq);
            if (1..=2).contains(&d) {
                let mut id = Identification::new(
                    Protocol::Rtp,
                    Confidence::High,
                    &format!("RTP payload type {pt} SSRC {}", hex(ssrc)),
                    Evidence::new(
                        dir,
                        data,
                        0,
                        12,
                        "RTP: version 2, payload type 0..=34/96..=127, and a second packet with the same SSRC and the next sequence number",
                    ),
                );
                id.push("rtp.payload_type", &pt.to_string());
                id.push("rtp.ssrc", &hex(ssrc));
                return Some(id);
            }
        }
        k += 1;
    }
    None
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::identify::testutil::assert_sane;

    pub(crate) fn stun_binding() -> Vec<u8> {
        let mut m = vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
        m.extend_from_slice(&[7u8; 12]);
        m.extend_from_slice(&[0x80, 0x22, 0x00, 0x04, b't', b'e', b's', b't']);
        m
    }

    #[test]
    fn stun_binding_request_with_cookie() {
        let m = stun_binding();
        let id = stun(Direction::Client, &m).unwrap();
        assert_eq!(id.protocol, Protocol::Stun);
        assert_eq!(id.confidence, Confidence::High);
        assert_eq!(id.field("stun.method"), Some("Binding"));
        assert_eq!(id.field("stun.software"), Some("test"));
        assert_sane(&id, m.len());
    }

    #[test]
    fn stun_rejects_bad_length_and_unknown_method() {
        let mut m = stun_binding();
        m[3] = 0x07; // not a multiple of 4
        assert!(stun(Direction::Client, &m).is_none());
        let mut m = stun_binding();
        m[1] = 0x7f; // unknown method
        assert!(stun(Direction::Client, &m).is_none());
        // Attribute overrunning the message.
        let mut m = stun_binding();
        m[23] = 0x40;
        assert!(stun(Direction::Client, &m).is_none());
    }

    #[test]
    fn dtls_client_hello() {
        let mut d = vec![22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 40];
        d.extend_from_slice(&[1, 0, 0, 28, 0, 0, 0, 0, 0, 0, 0, 28, 0xfe, 0xfd]);
        d.extend_from_slice(&[0u8; 26]);
        let id = dtls(Direction::Client, &d).unwrap();
        assert_eq!(id.confidence, Confidence::High);
        assert_eq!(id.summary, "DTLS 1.0 ClientHello");
        // TLS (0x0303) is not DTLS.
        d[1] = 0x03;
        d[2] = 0x03;
        assert!(dtls(Direction::Client, &d).is_none());
    }

    #[test]
    fn rtp_needs_a_second_packet_of_the_same_stream() {
        let pkt = |seq: u16| {
            let mut p = vec![0x80, 0x60];
            p.extend_from_slice(&seq.to_be_bytes());
            p.extend_from_slice(&[0, 0, 1, 0, 0xde, 0xad, 0xbe, 0xef]);
            p.extend_from_slice(&[0x55; 40]);
            p
        };
        let one = pkt(100);
        assert!(rtp(Direction::Client, &one).is_none());
        let mut two = pkt(100);
        two.extend_from_slice(&pkt(101));
        let id = rtp(Direction::Client, &two).unwrap();
        assert_eq!(id.field("rtp.ssrc"), Some("deadbeef"));
        let mut gap = pkt(100);
        gap.extend_from_slice(&pkt(140));
        assert!(rtp(Direction::Client, &gap).is_none());
    }

    #[test]
    fn rtcp_receiver_report_and_compound() {
        let mut rr = vec![0x81, 201, 0, 7];
        rr.extend_from_slice(&[1, 2, 3, 4]);
        rr.extend_from_slice(&[0u8; 24]);
        let id = rtcp(Direction::Client, &rr).unwrap();
        assert_eq!(id.confidence, Confidence::Medium);
        rr.extend_from_slice(&[0x81, 202, 0, 1, 1, 2, 3, 4]);
        assert_eq!(
            rtcp(Direction::Client, &rr).unwrap().confidence,
            Confidence::High
        );
        // Report count inconsistent with the length.
        let mut bad = rr.clone();
        bad[0] = 0x85;
        assert!(rtcp(Direction::Client, &bad).is_none());
    }
}
