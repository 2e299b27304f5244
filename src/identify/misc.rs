//! BitTorrent peer handshake and Telnet option negotiation.

use super::util::{Reader, hex, sanitize};
use super::{Confidence, Direction, Evidence, Identification, Protocol};

const BT_MAGIC: &[u8] = b"\x13BitTorrent protocol";

/// Recognises a BitTorrent peer-wire handshake (BEP 3).
///
/// Requires the 20 bytes `\x13BitTorrent protocol` at offset 0 (length byte
/// 19 and the exact protocol string). The 8 reserved bytes, the 20-byte
/// info hash and the 20-byte peer id follow and are reported when complete.
/// High confidence.
/// Gnutella 0.6 handshake: the client's `GNUTELLA CONNECT/<d>.<d>` request
/// line or the servent's `GNUTELLA/<d>.<d> <3 digits>` response line. The
/// version must be digits and the line must end (CR/LF) or the buffer must
/// end right after it, so text that merely starts with "GNUTELLA" is not it.
pub fn gnutella(dir: Direction, data: &[u8]) -> Option<Identification> {
    let (rest, what) = if let Some(r) = data.strip_prefix(b"GNUTELLA CONNECT/") {
        (r, "request")
    } else if let Some(r) = data.strip_prefix(b"GNUTELLA/") {
        (r, "response")
    } else {
        return None;
    };
    // "<digit>+.<digit>+"
    let digits = |b: &[u8]| b.iter().take_while(|c| c.is_ascii_digit()).count();
    let major = digits(rest);
    if major == 0 || rest.get(major) != Some(&b'.') {
        return None;
    }
    let minor = digits(rest.get(major + 1..)?);
    if minor == 0 {
        return None;
    }
    let mut end = major + 1 + minor;
    let version = sanitize(rest.get(..end)?, 16);
    if what == "response" {
        // " NNN"
        let code = rest.get(end..end + 4)?;
        if code.first() != Some(&b' ') || !code.iter().skip(1).all(|c| c.is_ascii_digit()) {
            return None;
        }
        end += 4;
    }
    match rest.get(end) {
        None | Some(b'\r') | Some(b'\n') | Some(b' ') => {}
        Some(_) => return None,
    }
    let prefix = data.len() - rest.len();
    let mut id = Identification::new(
        Protocol::Gnutella,
        Confidence::High,
        &format!("Gnutella {what} {version}"),
        Evidence::new(
            dir,
            data,
            0,
            prefix + end,
            "gnutella handshake line 'GNUTELLA' at offset 0",
        ),
    );
    id.push("gnutella.version", &version);
    Some(id)
}

pub fn bittorrent(dir: Direction, data: &[u8]) -> Option<Identification> {
    let mut r = Reader::new(data);
    if r.take(BT_MAGIC.len())? != BT_MAGIC {
        return None;
    }
    let _reserved = r.take(8);
    let info_hash = r.take(20);
    let peer_id = info_hash.and_then(|_| r.take(20));
    let mut summary = String::from("BitTorrent handshake");
    if let Some(h) = info_hash {
        summary.push_str(&format!(" info_hash={}", hex(h)));
    }
    if let Some(p) = peer_id {
        summary.push_str(&format!(" peer_id={}", sanitize(p, 60)));
    }
    let mut id = Identification::new(
        Protocol::Bittorrent,
        Confidence::High,
        &summary,
        Evidence::new(
            dir,
            data,
            0,
            r.pos(),
            "bittorrent handshake '\\x13BitTorrent protocol' at offset 0",
        ),
    );
    if let Some(h) = info_hash {
        id.push("bittorrent.info_hash", &hex(h));
    }
    if let Some(p) = peer_id {
        id.push_bytes("bittorrent.peer_id", p);
    }
    Some(id)
}

const IAC: u8 = 0xff;
const SB: u8 = 0xfa;
const SE: u8 = 0xf0;
/// Longest sub-negotiation body accepted.
const MAX_SB: usize = 256;

fn telnet_option_known(o: u8) -> bool {
    o <= 49 || (138..=140).contains(&o) || o == 255
}

fn telnet_option_name(o: u8) -> String {
    let s = match o {
        0 => "binary",
        1 => "echo",
        3 => "suppress-go-ahead",
        5 => "status",
        6 => "timing-mark",
        24 => "terminal-type",
        31 => "naws",
        32 => "terminal-speed",
        33 => "remote-flow-control",
        34 => "linemode",
        35 => "x-display-location",
        36 => "environ",
        37 => "authentication",
        38 => "encrypt",
        39 => "new-environ",
        _ => return format!("opt-{o}"),
    };
    s.to_owned()
}

/// Recognises Telnet option negotiation (RFC 854/855) at offset 0.
///
/// Requires at least two complete negotiations in a row from the first
/// byte, each either `IAC` (0xFF) + WILL/WONT/DO/DONT (0xFB..=0xFE) + a
/// registered option code (0..=49, 138..=140 or 255), or a sub-negotiation
/// `IAC SB <option> ... IAC SE` of ≤ 256 bytes. Medium confidence with two,
/// high with three or more. A single `FF FD xx` (3 bytes that random data
/// hits easily enough) is not enough.
pub fn telnet(dir: Direction, data: &[u8]) -> Option<Identification> {
    let mut r = Reader::new(data);
    let mut names: Vec<String> = Vec::new();
    let mut end = 0usize;
    loop {
        let mut t = r;
        if t.u8() != Some(IAC) {
            break;
        }
        let Some(cmd) = t.u8() else { break };
        let Some(opt) = t.u8() else { break };
        if !telnet_option_known(opt) {
            break;
        }
        match cmd {
            0xfb..=0xfe => {
                let verb = match cmd {
                    0xfb => "WILL",
                    0xfc => "WONT",
                    0xfd => "DO",
                    _ => "DONT",
                };
                names.push(format!("{verb} {}", telnet_option_name(opt)));
            }
            SB => {
                let body = t.rest();
                let window = body.get(..body.len().min(MAX_SB)).unwrap_or(body);
                let Some(i) = window.windows(2).position(|w| w == [IAC, SE]) else {
                    break;
                };
                t.take(i.checked_add(2)?)?;
                names.push(format!("SB {}", telnet_option_name(opt)));
            }
            _ => break,
        }
        r = t;
        end = r.pos();
    }
    let confidence = match names.len() {
        0 | 1 => return None,
        2 => Confidence::Medium,
        _ => Confidence::High,
    };
    let mut id = Identification::new(
        Protocol::Telnet,
        confidence,
        &format!("Telnet negotiation: {}", names.join(", ")),
        Evidence::new(
            dir,
            data,
            0,
            end,
            "telnet IAC WILL/WONT/DO/DONT option sequences at offset 0",
        ),
    );
    id.push("telnet.options", &names.join(","));
    Some(id)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::identify::testutil::assert_all_prefixes;

    #[test]
    fn bittorrent_handshake() {
        let mut h = BT_MAGIC.to_vec();
        h.extend([0, 0, 0, 0, 0, 0x10, 0, 0x05]);
        h.extend([0xaa; 20]);
        h.extend(b"-qB4650-abcdefghijkl");
        let id = bittorrent(Direction::Client, &h).unwrap();
        assert_eq!(id.field("bittorrent.peer_id"), Some("-qB4650-abcdefghijkl"));
        assert_eq!(id.field("bittorrent.info_hash").unwrap().len(), 40);
        assert_eq!(id.evidence.len, 68);
        assert_all_prefixes(&h, Protocol::Bittorrent, 20, |p| {
            bittorrent(Direction::Client, p)
        });
        assert!(bittorrent(Direction::Client, b"\x13BitTorrent protocoX").is_none());
        assert!(bittorrent(Direction::Client, b"\x12BitTorrent protocol").is_none());
    }

    #[test]
    fn telnet_negotiation() {
        let s = b"\xff\xfd\x18\xff\xfd\x20\xff\xfa\x18\x01\xff\xf0\xff\xfb\x01login: ";
        let id = telnet(Direction::Server, s).unwrap();
        assert_eq!(id.confidence, Confidence::High);
        assert_eq!(
            id.field("telnet.options"),
            Some("DO terminal-type,DO terminal-speed,SB terminal-type,WILL echo")
        );
        assert_eq!(id.evidence.len, 15);
        assert_all_prefixes(s, Protocol::Telnet, 6, |p| telnet(Direction::Server, p));
        assert_eq!(
            telnet(Direction::Server, &s[..6]).unwrap().confidence,
            Confidence::Medium
        );
    }

    #[test]
    fn telnet_look_alikes() {
        for s in [
            &b"\xff\xfd\x18"[..],
            b"\xff\xfd\x18\xff\xf9\x00",
            b"\xff\xfd\x18\xff\xfd\x80",
            b"\xfe\xfd\x18\xff\xfd\x18",
            b"\xff\xfa\x18\x01\x02\x03\xff\xfd\x01",
            b"\xff\xff\xff\xff\xff\xff",
        ] {
            assert!(telnet(Direction::Client, s).is_none(), "{s:?}");
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod gnutella_tests {
    use super::*;

    #[test]
    fn gnutella_request_and_response() {
        let c = gnutella(Direction::Client, b"GNUTELLA CONNECT/0.6\r\n").unwrap();
        assert_eq!(c.summary, "Gnutella request 0.6");
        assert!(gnutella(Direction::Server, b"GNUTELLA/0.6 200 OK\r\n").is_some());
        assert!(gnutella(Direction::Client, b"GNUTELLA CONNECT/x.6\r\n").is_none());
        assert!(gnutella(Direction::Client, b"GNUTELLA CONNECT/0.6abc").is_none());
        assert!(gnutella(Direction::Server, b"GNUTELLA/0.6 2x0").is_none());
        let full = b"GNUTELLA CONNECT/0.6\r\n";
        for n in 0..full.len() {
            let _ = gnutella(Direction::Client, &full[..n]);
        }
    }
}
