//! Directory and RPC protocols of Windows and Unix networks: LDAP (and
//! CLDAP), Kerberos and DCE/RPC (connection-oriented and connectionless).

use super::util::hex;
use super::{Confidence, Direction, Evidence, Identification, Protocol};

/// Reads a BER length at `*at`: short form, or long form with 1..=4
/// bytes. `None` when malformed or cut.
fn ber_len(d: &[u8], at: &mut usize) -> Option<usize> {
    let b = *d.get(*at)?;
    *at += 1;
    if b < 0x80 {
        return Some(usize::from(b));
    }
    let n = usize::from(b & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let mut v = 0usize;
    for _ in 0..n {
        v = (v << 8) | usize::from(*d.get(*at)?);
        *at += 1;
    }
    Some(v)
}

fn ldap_op(tag: u8) -> Option<&'static str> {
    Some(match tag {
        0x60 => "BindRequest",
        0x61 => "BindResponse",
        0x42 => "UnbindRequest",
        0x63 => "SearchRequest",
        0x64 => "SearchResultEntry",
        0x65 => "SearchResultDone",
        0x73 => "SearchResultReference",
        0x66 => "ModifyRequest",
        0x67 => "ModifyResponse",
        0x68 => "AddRequest",
        0x69 => "AddResponse",
        0x4a => "DelRequest",
        0x6b => "DelResponse",
        0x6c => "ModifyDNRequest",
        0x6d => "ModifyDNResponse",
        0x6e => "CompareRequest",
        0x6f => "CompareResponse",
        0x50 => "AbandonRequest",
        0x77 => "ExtendedRequest",
        0x78 => "ExtendedResponse",
        _ => return None,
    })
}

/// Recognises an LDAP message (RFC 4511) at offset 0, over TCP or UDP
/// (CLDAP).
///
/// Requires a BER SEQUENCE (0x30) with a valid length of 5..=16 MiB, a
/// messageID INTEGER (0x02) of 1..=4 bytes, then a protocolOp with a known
/// LDAP application tag whose own length fits inside the SEQUENCE. For a
/// BindRequest the version INTEGER (1..=3) must follow. High confidence
/// when the operation's length ends exactly at the SEQUENCE's end (or past
/// the captured bytes); medium otherwise.
pub fn ldap(dir: Direction, data: &[u8]) -> Option<Identification> {
    if data.first() != Some(&0x30) {
        return None;
    }
    let mut at = 1;
    let seq_len = ber_len(data, &mut at)?;
    if !(5..=16 << 20).contains(&seq_len) {
        return None;
    }
    let seq_end = at + seq_len;
    if *data.get(at)? != 0x02 {
        return None;
    }
    at += 1;
    let id_len = ber_len(data, &mut at)?;
    if !(1..=4).contains(&id_len) {
        return None;
    }
    let msg_id = data.get(at..at + id_len)?;
    at += id_len;
    let tag = *data.get(at)?;
    let op = ldap_op(tag)?;
    at += 1;
    let op_len = ber_len(data, &mut at)?;
    let op_end = at + op_len;
    if op_end > seq_end {
        return None;
    }
    if tag == 0x60 {
        // version INTEGER 1..=3
        if data.get(at..at + 3)?.first() != Some(&0x02) || data.get(at + 1) != Some(&1) {
            return None;
        }
        if !(1..=3).contains(data.get(at + 2)?) {
            return None;
        }
    }
    // Controls ([0] 0xa0) may follow the operation.
    let exact = op_end == seq_end || data.get(op_end) == Some(&0xa0);
    let conf = if exact {
        Confidence::High
    } else {
        Confidence::Medium
    };
    let mut id = Identification::new(
        Protocol::Ldap,
        conf,
        &format!("LDAP {op}"),
        Evidence::new(
            dir,
            data,
            0,
            at,
            "LDAP: BER SEQUENCE, messageID INTEGER, LDAP application tag with nested lengths",
        ),
    );
    id.push("ldap.operation", op);
    id.push("ldap.message_id", &hex(msg_id));
    Some(id)
}

fn krb_msg(tag: u8) -> Option<(&'static str, u8)> {
    // (name, msg-type) for APPLICATION tags 10..=30.
    Some(match tag {
        0x6a => ("AS-REQ", 10),
        0x6b => ("AS-REP", 11),
        0x6c => ("TGS-REQ", 12),
        0x6d => ("TGS-REP", 13),
        0x6e => ("AP-REQ", 14),
        0x6f => ("AP-REP", 15),
        0x7e => ("KRB-ERROR", 30),
        _ => return None,
    })
}

/// Recognises a Kerberos v5 message (RFC 4120) at offset 0 (UDP) or after
/// the 4-byte record length (TCP, whose value must be the BER length +
/// header, give or take the bytes the capture cut).
///
/// Requires an APPLICATION tag of a KDC/AP message (AS-REQ 0x6a, AS-REP,
/// TGS-REQ, TGS-REP, AP-REQ, AP-REP, KRB-ERROR 0x7e), a valid BER length,
/// a SEQUENCE, and the `pvno` field `[n] INTEGER 5` followed by the
/// `msg-type` field `[n+1] INTEGER` equal to the tag's number
/// (`a1 03 02 01 05 a2 03 02 01 0a` for an AS-REQ). High confidence.
pub fn kerberos(tcp: bool, dir: Direction, data: &[u8]) -> Option<Identification> {
    let off = if tcp { 4 } else { 0 };
    let d = data.get(off..)?;
    if tcp {
        let rec = u32::from_be_bytes([*data.first()?, *data.get(1)?, *data.get(2)?, *data.get(3)?]);
        if rec == 0 || rec > 65_535 {
            return None;
        }
    }
    let (name, mtype) = krb_msg(*d.first()?)?;
    let mut at = 1;
    let len = ber_len(d, &mut at)?;
    if len < 10 {
        return None;
    }
    if *d.get(at)? != 0x30 {
        return None;
    }
    at += 1;
    ber_len(d, &mut at)?;
    // pvno and msg-type: AS/TGS-REQ use [1],[2]; the others [0],[1].
    let fields = d.get(at..at + 10)?;
    let pvno_tag = *fields.first()?;
    if !(pvno_tag == 0xa0 || pvno_tag == 0xa1)
        || fields.get(1..5)? != [0x03, 0x02, 0x01, 0x05]
        || *fields.get(5)? != pvno_tag + 1
        || fields.get(6..9)? != [0x03, 0x02, 0x01]
        || *fields.get(9)? != mtype
    {
        return None;
    }
    let mut id = Identification::new(
        Protocol::Kerberos,
        Confidence::High,
        &format!("Kerberos 5 {name}"),
        Evidence::new(
            dir,
            data,
            off,
            at + 10,
            "Kerberos: APPLICATION tag, SEQUENCE, pvno 5 and a msg-type matching the tag",
        ),
    );
    id.push("kerberos.message", name);
    Some(id)
}

fn dcerpc_ptype(p: u8) -> Option<&'static str> {
    Some(match p {
        0 => "request",
        2 => "response",
        3 => "fault",
        11 => "bind",
        12 => "bind_ack",
        13 => "bind_nak",
        14 => "alter_context",
        15 => "alter_context_resp",
        16 => "auth3",
        17 => "shutdown",
        18 => "co_cancel",
        19 => "orphaned",
        _ => return None,
    })
}

/// Recognises DCE/RPC (MS-RPC) at offset 0.
///
/// Connection-oriented (TCP): version 5, minor version 0 or 1, a known
/// packet type (bind, bind_ack, request, response...), a data
/// representation whose integer byte is 0x10 (little-endian) or 0x00, and
/// a fragment length ≥ 16 whose auth length fits inside it. High
/// confidence for a bind (whose first context's interface UUID is
/// reported), medium for other types. Connectionless (UDP): version 4,
/// packet type 0..=10, and a complete 80-byte header whose body length
/// fits in 65535 (medium).
pub fn dcerpc(tcp: bool, dir: Direction, data: &[u8]) -> Option<Identification> {
    if !tcp {
        if *data.first()? != 4 || *data.get(1)? > 10 {
            return None;
        }
        let drep = *data.get(4)?;
        if drep & 0xef != 0 || *data.get(6)? != 0 || data.len() < 80 {
            return None;
        }
        let iface = data.get(24..40)?;
        let mut id = Identification::new(
            Protocol::DceRpc,
            Confidence::Medium,
            "DCE/RPC connectionless",
            Evidence::new(
                dir,
                data,
                0,
                80,
                "DCE/RPC connectionless: version 4, packet type 0..=10, 80-byte header",
            ),
        );
        id.push("dcerpc.interface", &uuid(iface, drep == 0x10));
        return Some(id);
    }
    if *data.first()? != 5 || *data.get(1)? > 1 {
        return None;
    }
    let ptype = *data.get(2)?;
    let name = dcerpc_ptype(ptype)?;
    let drep = *data.get(4)?;
    if drep & 0xef != 0 {
        return None;
    }
    let le = drep == 0x10;
    let rd = |a: u8, b: u8| {
        if le {
            u16::from_le_bytes([a, b])
        } else {
            u16::from_be_bytes([a, b])
        }
    };
    let frag = rd(*data.get(8)?, *data.get(9)?);
    let auth = rd(*data.get(10)?, *data.get(11)?);
    if frag < 16 || auth > frag - 16 {
        return None;
    }
    let conf = if ptype == 11 || ptype == 12 {
        Confidence::High
    } else {
        Confidence::Medium
    };
    let mut id = Identification::new(
        Protocol::DceRpc,
        conf,
        &format!("DCE/RPC {name}"),
        Evidence::new(
            dir,
            data,
            0,
            16,
            "DCE/RPC: version 5.0/5.1, known packet type, drep 0x10/0x00, consistent fragment and auth lengths",
        ),
    );
    id.push("dcerpc.ptype", name);
    if ptype == 11 || ptype == 14 {
        // bind: max_xmit(2) max_recv(2) assoc(4) n_ctx(1) pad(3) ctx_id(2) n_items(1) pad(1) uuid(16)
        if let Some(u) = data.get(32..48) {
            id.push("dcerpc.interface", &uuid(u, le));
        }
    }
    Some(id)
}

/// A UUID in its usual text form; `le` for NDR little-endian fields.
pub(crate) fn uuid(b: &[u8], le: bool) -> String {
    let g = |r: std::ops::Range<usize>, rev: bool| {
        let mut v: Vec<u8> = b.get(r).unwrap_or(&[]).to_vec();
        if rev {
            v.reverse();
        }
        hex(&v)
    };
    format!(
        "{}-{}-{}-{}-{}",
        g(0..4, le),
        g(4..6, le),
        g(6..8, le),
        g(8..10, false),
        g(10..16, false)
    )
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ldap_bind_request() {
        // SEQUENCE { 1, BindRequest { 3, "", simple "" } }
        let m = [
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
        ];
        let id = ldap(Direction::Client, &m).unwrap();
        assert_eq!(id.summary, "LDAP BindRequest");
        assert_eq!(id.confidence, Confidence::High);
        let mut bad = m;
        bad[9] = 7; // LDAP version 7
        assert!(ldap(Direction::Client, &bad).is_none());
        let mut bad = m;
        bad[6] = 0x40; // operation longer than the message
        assert!(ldap(Direction::Client, &bad).is_none());
    }

    #[test]
    fn kerberos_as_req_tcp() {
        // Head of nDPI's kerberos.pcap first AS-REQ.
        let d = [
            0x00, 0x00, 0x00, 0xeb, 0x6a, 0x81, 0xe8, 0x30, 0x81, 0xe5, 0xa1, 0x03, 0x02, 0x01,
            0x05, 0xa2, 0x03, 0x02, 0x01, 0x0a, 0xa3,
        ];
        let id = kerberos(true, Direction::Client, &d).unwrap();
        assert_eq!(id.summary, "Kerberos 5 AS-REQ");
        assert!(kerberos(false, Direction::Client, &d[4..]).is_some());
        let mut bad = d;
        bad[19] = 0x0c; // msg-type TGS-REQ under an AS-REQ tag
        assert!(kerberos(true, Direction::Client, &bad).is_none());
    }

    #[test]
    fn dcerpc_bind() {
        let mut b = vec![5, 0, 11, 3, 0x10, 0, 0, 0, 72, 0, 0, 0, 1, 0, 0, 0];
        b.extend_from_slice(&[0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0]);
        b.extend_from_slice(&[
            0x08, 0x83, 0xaf, 0xe1, 0x1f, 0x5d, 0xc9, 0x11, 0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14,
            0xa0, 0xfa,
        ]);
        let id = dcerpc(true, Direction::Client, &b).unwrap();
        assert_eq!(
            id.field("dcerpc.interface"),
            Some("e1af8308-5d1f-11c9-91a4-08002b14a0fa")
        );
        b[8] = 4; // fragment shorter than a header
        assert!(dcerpc(true, Direction::Client, &b).is_none());
    }
}
