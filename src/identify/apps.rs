//! Consumer applications that use ports of their own choosing: DNSCrypt,
//! TeamSpeak, Steam (Source engine queries, Steam datagrams) and Spotify.

use super::util::{Reader, hex};
use super::{Confidence, Direction, Evidence, Identification, Protocol};

/// DNSCrypt v2 resolver magic (the first 8 bytes of every response).
const DNSCRYPT_RESOLVER_MAGIC: &[u8] = b"r6fnvWj8";

/// Recognises DNSCrypt v2 (UDP, or TCP with a 2-byte length prefix).
///
/// Requires the server's first message to start with the resolver magic
/// `r6fnvWj8`; high confidence when the 12 bytes after it (the client's
/// half of the nonce) equal bytes 40..52 of the client's query (after its
/// 8-byte client magic and 32-byte public key), medium when the client's
/// side is missing. The certificate fetch that precedes a session (a DNS
/// TXT query for `2.dnscrypt-cert.<provider>`) is plain DNS and is
/// recognised there, as DNSCrypt, by [`from_dns`].
pub fn dnscrypt(tcp: bool, client: &[u8], server: &[u8]) -> Option<Identification> {
    let (c, s, off) = if tcp {
        (client.get(2..)?, server.get(2..)?, 2)
    } else {
        (client, server, 0)
    };
    let rest = s.strip_prefix(DNSCRYPT_RESOLVER_MAGIC)?;
    let nonce = rest.get(..12)?;
    let matched = c.get(40..52) == Some(nonce);
    let (conf, rule) = if matched {
        (
            Confidence::High,
            "DNSCrypt resolver magic 'r6fnvWj8' echoing the client's nonce",
        )
    } else if c.is_empty() {
        (Confidence::Medium, "DNSCrypt resolver magic 'r6fnvWj8'")
    } else {
        return None;
    };
    let mut id = Identification::new(
        Protocol::DnsCrypt,
        conf,
        &format!("DNSCrypt v2 response, nonce {}", hex(nonce)),
        Evidence::new(Direction::Server, server, off, 20, rule),
    );
    if let Some(m) = c.get(..8) {
        id.push("dnscrypt.client_magic", &hex(m));
    }
    Some(id)
}

/// Turns a DNS identification of a DNSCrypt certificate fetch (TXT query
/// whose name starts with `2.dnscrypt-cert.`) into DNSCrypt. The DNS
/// fields are kept.
pub fn from_dns(mut id: Identification) -> Identification {
    let is_cert = id
        .field("dns.qname")
        .is_some_and(|q| q.to_ascii_lowercase().starts_with("2.dnscrypt-cert."));
    if is_cert {
        id.protocol = Protocol::DnsCrypt;
        id.summary = super::util::cap_chars(
            &format!("DNSCrypt certificate request: {}", id.summary),
            super::MAX_SUMMARY_CHARS,
        );
        id.evidence.rule =
            "DNS TXT query for '2.dnscrypt-cert.<provider>' (DNSCrypt v2 certificate fetch)";
    }
    id
}

/// Recognises TeamSpeak 3 (UDP): the client's connection init packet,
/// `TS3INIT1` (its fixed MAC) followed by packet id 0x0065, a 2-byte
/// client id and a type byte with the init type (8) in its low nibble.
/// High confidence.
pub fn teamspeak(dir: Direction, data: &[u8]) -> Option<Identification> {
    let rest = data.strip_prefix(b"TS3INIT1")?;
    if rest.get(..2)? != [0x00, 0x65] || rest.get(4).is_some_and(|t| t & 0x0f != 0x08) {
        return None;
    }
    let mut id = Identification::new(
        Protocol::TeamSpeak,
        Confidence::High,
        "TeamSpeak 3 connection init",
        Evidence::new(
            dir,
            data,
            0,
            11,
            "TeamSpeak 3 init packet: 'TS3INIT1', packet id 0x0065, type 8",
        ),
    );
    id.push("teamspeak.version", "3");
    Some(id)
}

/// Recognises Steam / Source engine traffic on UDP.
///
/// Either a Source engine server query (A2S, used by the Steam server
/// browser): the out-of-band header `FF FF FF FF`, a query byte `T` (info,
/// followed by the string `Source Engine Query` and its NUL), `U`
/// (players) or `V` (rules) with a 4-byte challenge, or `W` (challenge
/// request), high confidence for `T`, medium for the others; or a Steam
/// datagram relay packet starting `VS01` with at least 36 bytes (medium).
pub fn steam(dir: Direction, data: &[u8]) -> Option<Identification> {
    if let Some(rest) = data.strip_prefix(&[0xff, 0xff, 0xff, 0xff]) {
        let q = *rest.first()?;
        let (conf, what) = match q {
            b'T' => {
                if !rest.get(1..)?.starts_with(b"Source Engine Query\0") {
                    return None;
                }
                (Confidence::High, "A2S_INFO query")
            }
            b'U' if rest.len() == 5 => (Confidence::Medium, "A2S_PLAYER query"),
            b'V' if rest.len() == 5 => (Confidence::Medium, "A2S_RULES query"),
            _ => return None,
        };
        let mut id = Identification::new(
            Protocol::Steam,
            conf,
            &format!("Source engine server {what} (Steam)"),
            Evidence::new(
                dir,
                data,
                0,
                rest.len().min(24) + 4,
                "Source engine query: FFFFFFFF + 'T' 'Source Engine Query\\0' (or U/V + challenge)",
            ),
        );
        id.push("steam.query", what);
        return Some(id);
    }
    if data.starts_with(b"VS01") && data.len() >= 36 {
        let mut id = Identification::new(
            Protocol::Steam,
            Confidence::Medium,
            "Steam datagram (VS01)",
            Evidence::new(dir, data, 0, 4, "Steam datagram: 'VS01' and ≥ 36 bytes"),
        );
        id.push("steam.query", "datagram");
        return Some(id);
    }
    None
}

/// Recognises Spotify.
///
/// TCP (access point, usually 4070/tcp): the client's hello, protocol
/// version `00 04`, a 4-byte length 9..=4096 that the captured bytes do not
/// contradict, then a protobuf ClientHello whose first field is
/// `build_info` (tag 0x52, field 10 length-delimited) of 1..=127 bytes,
/// whose first field is `product` (tag 0x08, field 1 varint) or
/// `platform` (0x50). Medium confidence, high when the server's first
/// bytes are a 4-byte length that fits them followed by a protobuf field
/// 10/20/30 (challenge, upgrade, login failed; tags 0x52, 0xa2, 0xf2).
/// UDP: the LAN discovery datagram starting `SpotUdp0` (high).
pub fn spotify(tcp: bool, client: &[u8], server: &[u8]) -> Option<Identification> {
    if !tcp {
        if !client.starts_with(b"SpotUdp0") {
            return None;
        }
        return Some(Identification::new(
            Protocol::Spotify,
            Confidence::High,
            "Spotify LAN discovery",
            Evidence::new(
                Direction::Client,
                client,
                0,
                8,
                "Spotify LAN discovery datagram 'SpotUdp0'",
            ),
        ));
    }
    let mut r = Reader::new(client);
    if r.u16()? != 0x0004 {
        return None;
    }
    let len = r.u32()? as usize;
    if !(9..=4096).contains(&len) {
        return None;
    }
    if r.u8()? != 0x52 {
        return None;
    }
    let bi_len = r.u8()?;
    if bi_len == 0 || bi_len > 127 {
        return None;
    }
    let first = r.u8()?;
    if first != 0x08 && first != 0x50 && first != 0x10 {
        return None;
    }
    let mut s = Reader::new(server);
    let answered = s.u32().is_some_and(|l| {
        (5..=65536).contains(&l) && s.u8().is_some_and(|t| matches!(t, 0x52 | 0xa2 | 0xf2))
    });
    let conf = if answered {
        Confidence::High
    } else {
        Confidence::Medium
    };
    let mut id = Identification::new(
        Protocol::Spotify,
        conf,
        "Spotify access point hello",
        Evidence::new(
            Direction::Client,
            client,
            0,
            9,
            "Spotify AP hello: version 0004, length, protobuf build_info (0x52) first",
        ),
    );
    id.push("spotify.hello_length", &len.to_string());
    Some(id)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dnscrypt_nonce_echo() {
        let mut c = vec![0xe3; 8];
        c.extend_from_slice(&[0x11; 32]);
        c.extend_from_slice(b"NONCE-abcdef");
        c.extend_from_slice(&[0x99; 100]);
        let mut s = b"r6fnvWj8NONCE-abcdef".to_vec();
        s.extend_from_slice(&[0x33; 100]);
        assert_eq!(
            dnscrypt(false, &c, &s).unwrap().confidence,
            Confidence::High
        );
        c[45] ^= 1;
        assert!(dnscrypt(false, &c, &s).is_none());
    }

    #[test]
    fn teamspeak3_init() {
        let d = b"TS3INIT1\x00\x65\x00\x00\x88\x0d\xd0";
        assert!(teamspeak(Direction::Client, d).is_some());
        assert!(teamspeak(Direction::Client, b"TS3INIT1\x00\x66").is_none());
    }

    #[test]
    fn steam_source_query() {
        let q = b"\xff\xff\xff\xffTSource Engine Query\x00";
        assert_eq!(
            steam(Direction::Client, q).unwrap().confidence,
            Confidence::High
        );
        assert!(steam(Direction::Client, b"\xff\xff\xff\xffTSource").is_none());
    }

    #[test]
    fn spotify_hello() {
        let c = [0x00, 0x04, 0x00, 0x00, 0x01, 0x2c, 0x52, 0x0e, 0x50, 0x00];
        assert_eq!(
            spotify(true, &c, &[]).unwrap().confidence,
            Confidence::Medium
        );
        assert!(spotify(true, &c[..5], &[]).is_none());
        assert!(spotify(false, b"SpotUdp0xxxx", &[]).is_some());
    }
}
