//! QUIC Initial packets (RFC 9000 17.2.2, RFC 9369 for v2).

use super::util::{Reader, hex};
use super::{Confidence, Direction, Evidence, Identification, Protocol};

const V1: u32 = 0x0000_0001;
const V2: u32 = 0x6b33_43cf;
const MAX_CID: u8 = 20;
/// RFC 9000 7.2: a client's first Destination Connection ID is ≥ 8 bytes.
const MIN_CLIENT_DCID: u8 = 8;
/// Packet number (≥ 1) + AEAD tag (16) + at least one byte of frames.
const MIN_PAYLOAD: u64 = 18;
/// A single Initial never exceeds a (jumbo) UDP datagram.
const MAX_PAYLOAD: u64 = 16_383;
/// Longest address-validation token accepted (real ones are < 200 bytes).
const MAX_TOKEN: u64 = 1024;

/// Reads a QUIC variable-length integer; `Ok(None)` if the buffer ends.
fn varint(r: &mut Reader<'_>) -> Option<Option<u64>> {
    let Some(first) = r.u8() else {
        return Some(None);
    };
    let extra = match first >> 6 {
        0 => 0usize,
        1 => 1,
        2 => 3,
        _ => 7,
    };
    let mut v = u64::from(first & 0x3f);
    let (rest, full) = r.take_up_to(extra);
    if !full {
        return Some(None);
    }
    for &b in rest {
        v = v.checked_shl(8)? | u64::from(b);
    }
    Some(Some(v))
}

fn version_name(v: u32) -> Option<String> {
    match v {
        V1 => Some("1".to_owned()),
        V2 => Some("2".to_owned()),
        0xff00_0000..=0xff00_00ff => Some(format!("draft-{}", v & 0xff)),
        _ => None,
    }
}

/// Recognises a QUIC Initial packet at the start of a UDP payload.
///
/// Requires the long-header and fixed bits (0xC0), version 1, v2
/// (0x6b3343cf) or an IETF draft (0xff0000xx), the Initial packet type for
/// that version (0 for v1/drafts, 1 for v2), a Destination Connection ID
/// of 8..=20 bytes from a client (≤ 20 from a server, RFC 9000 7.2), and,
/// as far as present, a Source Connection ID ≤ 20 bytes, a token length
/// ≤ 1024 (a server's Initial carries no token) and a payload length 18..=16383,
/// both valid variable-length integers. The DCID must be complete. High
/// confidence when the whole header up to the length was read, medium when
/// the capture ended inside it. The ClientHello inside is encrypted with
/// keys derived from the DCID and is not decrypted here (so no SNI/JA4).
pub fn initial(dir: Direction, data: &[u8]) -> Option<Identification> {
    let mut r = Reader::new(data);
    let b0 = r.u8()?;
    if b0 & 0xc0 != 0xc0 {
        return None;
    }
    let version = r.u32()?;
    let vname = version_name(version)?;
    let initial_type = if version == V2 { 1 } else { 0 };
    if (b0 >> 4) & 0x03 != initial_type {
        return None;
    }
    let dcid_len = r.u8()?;
    let min_dcid = if dir == Direction::Client {
        MIN_CLIENT_DCID
    } else {
        0
    };
    if !(min_dcid..=MAX_CID).contains(&dcid_len) {
        return None;
    }
    let dcid = r.take(usize::from(dcid_len))?;
    let mut scid: Option<&[u8]> = None;
    let mut token_len: Option<u64> = None;
    let mut payload_len: Option<u64> = None;
    if let Some(scid_len) = r.u8() {
        if scid_len > MAX_CID {
            return None;
        }
        let (s, full) = r.take_up_to(usize::from(scid_len));
        if full {
            scid = Some(s);
            if let Some(t) = varint(&mut r)? {
                if dir == Direction::Server && t != 0 {
                    return None;
                }
                if t > MAX_TOKEN {
                    return None;
                }
                let t_usize = usize::try_from(t).ok()?;
                token_len = Some(t);
                let (_, full) = r.take_up_to(t_usize);
                if full && let Some(l) = varint(&mut r)? {
                    if !(MIN_PAYLOAD..=MAX_PAYLOAD).contains(&l) {
                        return None;
                    }
                    payload_len = Some(l);
                }
            }
        }
    }
    let confidence = if payload_len.is_some() {
        Confidence::High
    } else {
        Confidence::Medium
    };
    let side = match dir {
        Direction::Client => "client",
        Direction::Server => "server",
    };
    let mut summary = format!("QUIC v{vname} Initial from {side} DCID={}", hex(dcid));
    if payload_len.is_none() {
        summary.push_str(" (truncated header)");
    }
    let mut id = Identification::new(
        Protocol::Quic,
        confidence,
        &summary,
        Evidence::new(
            dir,
            data,
            0,
            r.pos(),
            "quic long header (fixed bit) + known version + initial type + cid lengths at offset 0",
        ),
    );
    id.push("quic.version", &vname);
    id.push("quic.dcid", &hex(dcid));
    if let Some(s) = scid {
        id.push("quic.scid", &hex(s));
    }
    if let Some(t) = token_len {
        id.push("quic.token_len", &t.to_string());
    }
    if let Some(l) = payload_len {
        id.push("quic.length", &l.to_string());
    }
    Some(id)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::identify::testutil::{assert_all_prefixes, pseudo_random};

    fn client_initial(version: u32, first: u8) -> Vec<u8> {
        let mut v = vec![first];
        v.extend(version.to_be_bytes());
        v.push(8);
        v.extend([0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08]);
        v.push(0); // SCID len
        v.push(0); // token len
        v.extend([0x44, 0x9e]); // length 1182 (2-byte varint)
        v.extend(pseudo_random(9, 200));
        v
    }

    #[test]
    fn v1_initial() {
        let p = client_initial(V1, 0xc3);
        let id = initial(Direction::Client, &p).unwrap();
        assert_eq!(id.confidence, Confidence::High);
        assert_eq!(id.field("quic.version"), Some("1"));
        assert_eq!(id.field("quic.dcid"), Some("8394c8f03e515708"));
        assert_eq!(id.field("quic.length"), Some("1182"));
        assert_eq!(id.evidence.len, 18);
        // Header + complete 8-byte DCID = 14 bytes.
        assert_all_prefixes(&p, Protocol::Quic, 14, |x| initial(Direction::Client, x));
    }

    #[test]
    fn v2_and_drafts() {
        let p = client_initial(V2, 0xd3);
        assert_eq!(
            initial(Direction::Client, &p)
                .unwrap()
                .field("quic.version"),
            Some("2")
        );
        // v2 uses type 1 for Initial; type 0 is 0-RTT.
        assert!(initial(Direction::Client, &client_initial(V2, 0xc3)).is_none());
        let d = client_initial(0xff00_001d, 0xc0);
        assert_eq!(
            initial(Direction::Client, &d)
                .unwrap()
                .field("quic.version"),
            Some("draft-29")
        );
    }

    #[test]
    fn look_alikes() {
        // Handshake packet type, unknown version, short DCID, no fixed bit.
        assert!(initial(Direction::Client, &client_initial(V1, 0xe3)).is_none());
        assert!(initial(Direction::Client, &client_initial(0x1234_5678, 0xc3)).is_none());
        assert!(initial(Direction::Client, &client_initial(V1, 0x83)).is_none());
        let mut short = client_initial(V1, 0xc3);
        short[5] = 4;
        assert!(initial(Direction::Client, &short).is_none());
        let mut big = client_initial(V1, 0xc3);
        big[5] = 21;
        assert!(initial(Direction::Client, &big).is_none());
        let mut tiny_len = client_initial(V1, 0xc3);
        tiny_len[16] = 0x40;
        tiny_len[17] = 0x05;
        assert!(initial(Direction::Client, &tiny_len).is_none());
        assert!(initial(Direction::Client, &pseudo_random(3, 256)).is_none());
    }
}
