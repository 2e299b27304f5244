//! Remote-access tools: VNC (RFB), TeamViewer and AnyDesk. Dual-use: a
//! responder wants them named, not explained away.

use super::util::sanitize;
use super::{Confidence, Direction, Evidence, Identification, Protocol};

/// Recognises VNC's RFB protocol version handshake (RFC 6143 7.1.1): the
/// server's first 12 bytes are `RFB xxx.yyy\n` with three digits on each
/// side of the dot (the client answers with the same form). High
/// confidence; server side first, then the client's.
pub fn vnc(dir: Direction, data: &[u8]) -> Option<Identification> {
    let v = data.get(..12)?;
    if !v.starts_with(b"RFB ") || v.get(7) != Some(&b'.') || v.get(11) != Some(&b'\n') {
        return None;
    }
    let digits =
        |r: std::ops::Range<usize>| v.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if !digits(4..7) || !digits(8..11) {
        return None;
    }
    let version = sanitize(v.get(4..11)?, 16);
    let mut id = Identification::new(
        Protocol::Vnc,
        Confidence::High,
        &format!("VNC (RFB {version}) handshake"),
        Evidence::new(
            dir,
            data,
            0,
            12,
            "RFB version string 'RFB ddd.ddd\\n' at offset 0",
        ),
    );
    id.push("vnc.version", &version);
    Some(id)
}

/// Recognises TeamViewer's own protocol (TCP, usually 5938).
///
/// Requires both directions to start with a TeamViewer command header:
/// `17 24` (protocol version 1 commands) or `11 30` (version 2), the third
/// byte a command code below 0x80, on each side. High confidence; a single
/// side is not enough (two bytes are too few to stand alone).
pub fn teamviewer(client: &[u8], server: &[u8]) -> Option<Identification> {
    let head = |d: &[u8]| {
        matches!(d.get(..2), Some([0x17, 0x24]) | Some([0x11, 0x30]))
            && d.get(2).is_some_and(|c| *c < 0x80)
    };
    if !head(client) || !head(server) {
        return None;
    }
    let mut id = Identification::new(
        Protocol::TeamViewer,
        Confidence::High,
        "TeamViewer session",
        Evidence::new(
            Direction::Client,
            client,
            0,
            3,
            "TeamViewer command header 1724/1130 at the start of both directions",
        ),
    );
    id.push(
        "teamviewer.header",
        if client.first() == Some(&0x17) {
            "1724"
        } else {
            "1130"
        },
    );
    Some(id)
}

/// Turns a TLS identification into AnyDesk when the captured handshake
/// names AnyDesk: AnyDesk's peers and relays present self-signed
/// certificates whose subject common name is `AnyDesk Client` (sent in
/// clear in TLS 1.2). Requires the TLS recogniser to have matched and the
/// DER of `CN=AnyDesk Client` (OID 2.5.4.3, UTF8String or PrintableString
/// of "AnyDesk Client") in either direction's captured bytes. High
/// confidence; the TLS fields are kept.
pub fn anydesk_from_tls(mut id: Identification, client: &[u8], server: &[u8]) -> Identification {
    const CN: &[u8] = b"AnyDesk Client";
    let has = |d: &[u8]| {
        d.windows(CN.len() + 5).any(|w| {
            w.starts_with(&[0x55, 0x04, 0x03])
                && matches!(w.get(3), Some(0x0c) | Some(0x13))
                && w.get(4) == Some(&(CN.len() as u8))
                && w.get(5..) == Some(CN)
        })
    };
    if id.protocol == Protocol::Tls && (has(server) || has(client)) {
        id.protocol = Protocol::AnyDesk;
        id.confidence = Confidence::High;
        id.summary = super::util::cap_chars(
            &format!("AnyDesk ({})", id.summary),
            super::MAX_SUMMARY_CHARS,
        );
        id.evidence.rule = "TLS handshake whose certificate subject is CN=AnyDesk Client";
        id.push("anydesk.certificate_cn", "AnyDesk Client");
    }
    id
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rfb_version() {
        let id = vnc(Direction::Server, b"RFB 003.008\n").unwrap();
        assert_eq!(id.field("vnc.version"), Some("003.008"));
        assert!(vnc(Direction::Server, b"RFB 3.8\n0000").is_none());
        assert!(vnc(Direction::Server, b"RFB 003.008").is_none());
    }

    #[test]
    fn teamviewer_needs_both_sides() {
        assert!(teamviewer(&[0x17, 0x24, 0x0a, 0x20], &[0x17, 0x24, 0x0b, 0x00]).is_some());
        assert!(teamviewer(&[0x17, 0x24, 0x0a, 0x20], &[]).is_none());
    }
}
