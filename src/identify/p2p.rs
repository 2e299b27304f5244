//! BitTorrent over UDP: uTP (BEP 29) and the Mainline DHT (BEP 5), whose
//! peers listen on random ports. The TCP peer handshake is in `misc`.

use super::util::{hex, sanitize};
use super::{Confidence, Direction, Evidence, Identification, Protocol};

/// Recognises a uTP connection start (BEP 29): the client's ST_SYN (first
/// byte 0x41: type 4, version 1), an extension byte 0..=2, and a 20-byte
/// header. High confidence when the server's first packet is an ST_STATE
/// (0x21) with the same connection id and an ack_nr equal to the SYN's
/// seq_nr; medium when the SYN's timestamp difference is zero as a SYN's
/// must be and the server side is missing or different.
pub fn utp(client: &[u8], server: &[u8]) -> Option<Identification> {
    let h = client.get(..20)?;
    if h.first() != Some(&0x41) || *h.get(1)? > 2 {
        return None;
    }
    let conn_id = h.get(2..4)?;
    let ts_diff = h.get(8..12)?;
    let seq = h.get(16..18)?;
    let answered = server.first() == Some(&0x21)
        && server.get(1).is_some_and(|&e| e <= 2)
        && server.get(2..4) == Some(conn_id)
        && server.get(18..20) == Some(seq);
    let conf = if answered {
        Confidence::High
    } else if ts_diff == [0, 0, 0, 0] {
        Confidence::Medium
    } else {
        return None;
    };
    let mut id = Identification::new(
        Protocol::Bittorrent,
        conf,
        &format!("BitTorrent uTP connection {}", hex(conn_id)),
        Evidence::new(
            Direction::Client,
            client,
            0,
            20,
            "uTP ST_SYN (0x41, extension 0..=2, 20-byte header) answered by ST_STATE with the same connection id and ack = seq",
        ),
    );
    id.push("bittorrent.transport", "utp");
    id.push("utp.connection_id", &hex(conn_id));
    Some(id)
}

/// Parses one bencoded value at `*at`, at most `depth` levels deep; `None`
/// if malformed or cut. Returns the byte string when it is one.
fn bvalue<'a>(d: &'a [u8], at: &mut usize, depth: u8) -> Option<Option<&'a [u8]>> {
    let c = *d.get(*at)?;
    match c {
        b'i' => {
            let end = d.get(*at + 1..)?.iter().position(|&b| b == b'e')?;
            let digits = d.get(*at + 1..*at + 1 + end)?;
            if digits.is_empty() || digits.len() > 20 {
                return None;
            }
            if !digits
                .iter()
                .enumerate()
                .all(|(i, b)| b.is_ascii_digit() || (i == 0 && *b == b'-'))
            {
                return None;
            }
            *at += end + 2;
            Some(None)
        }
        b'0'..=b'9' => {
            let colon = d.get(*at..)?.iter().take(7).position(|&b| b == b':')?;
            let n: usize = std::str::from_utf8(d.get(*at..*at + colon)?)
                .ok()?
                .parse()
                .ok()?;
            let start = *at + colon + 1;
            let s = d.get(start..start.checked_add(n)?)?;
            *at = start + n;
            Some(Some(s))
        }
        b'l' | b'd' if depth > 0 => {
            *at += 1;
            let mut key = true;
            loop {
                if *d.get(*at)? == b'e' {
                    *at += 1;
                    return Some(None);
                }
                let v = bvalue(d, at, depth - 1)?;
                if c == b'd' && key && v.is_none() {
                    return None; // dictionary keys are byte strings
                }
                key = !key || c == b'l';
            }
        }
        _ => None,
    }
}

/// Recognises a Mainline DHT (BEP 5) KRPC message at offset 0 of a UDP
/// datagram: a complete, well-formed bencoded dictionary (depth ≤ 4) that
/// contains the key `y` with value `q` (query), `r` (response) or `e`
/// (error), and `t` (transaction id). High confidence; the query name
/// (`ping`, `find_node`, `get_peers`, `announce_peer`...) is reported.
pub fn dht(dir: Direction, data: &[u8]) -> Option<Identification> {
    if data.first() != Some(&b'd') {
        return None;
    }
    let mut at = 0usize;
    bvalue(data, &mut at, 4)?;
    let msg = data.get(..at)?;
    let kind = if contains(msg, b"1:y1:q") {
        "query"
    } else if contains(msg, b"1:y1:r") {
        "response"
    } else if contains(msg, b"1:y1:e") {
        "error"
    } else {
        return None;
    };
    if !contains(msg, b"1:t") {
        return None;
    }
    let query = find_after(msg, b"1:q").and_then(|rest| {
        let mut k = 0usize;
        bvalue(rest, &mut k, 0).flatten()
    });
    let mut summary = format!("BitTorrent DHT {kind}");
    if let Some(q) = query {
        summary.push(' ');
        summary.push_str(&sanitize(q, 24));
    }
    let mut id = Identification::new(
        Protocol::Bittorrent,
        Confidence::High,
        &summary,
        Evidence::new(
            dir,
            data,
            0,
            at,
            "bencoded dictionary with 'y' = q/r/e and a transaction id 't' (BitTorrent DHT KRPC)",
        ),
    );
    id.push("bittorrent.transport", "dht");
    if let Some(q) = query {
        id.push_bytes("dht.query", q);
    }
    Some(id)
}

fn contains(h: &[u8], n: &[u8]) -> bool {
    h.windows(n.len()).any(|w| w == n)
}

fn find_after<'a>(h: &'a [u8], n: &[u8]) -> Option<&'a [u8]> {
    let i = h.windows(n.len()).position(|w| w == n)?;
    h.get(i + n.len()..)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dht_query_and_response() {
        let q = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
        let id = dht(Direction::Client, q).unwrap();
        assert_eq!(id.summary, "BitTorrent DHT query ping");
        let r = b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re";
        assert!(dht(Direction::Server, r).is_some());
        // Cut short, or not KRPC.
        assert!(dht(Direction::Client, &q[..30]).is_none());
        assert!(dht(Direction::Client, b"d3:foo3:bare").is_none());
        assert!(dht(Direction::Client, b"d1:y1:qe").is_none());
    }

    #[test]
    fn utp_syn_and_state() {
        // nDPI's bittorrent_utp.pcap, first SYN and its STATE.
        let c = [
            0x41, 0x00, 0x53, 0x02, 0x10, 0xee, 0xb2, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0xf5, 0,
            0,
        ];
        let s = [
            0x21, 0x02, 0x53, 0x02, 0x06, 0xff, 0x3f, 0x5f, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0xf0, 0,
            0x49, 0xc7, 0xe7, 0xf5,
        ];
        assert_eq!(utp(&c, &s).unwrap().confidence, Confidence::High);
        assert_eq!(utp(&c, &[]).unwrap().confidence, Confidence::Medium);
        let mut bad = c;
        bad[1] = 9;
        assert!(utp(&bad, &s).is_none());
    }
}
