//! Windows remote-access protocols: RDP connection request and SMB.

use super::util::{Reader, first_line, sanitize};
use super::{Confidence, Direction, Evidence, Identification, Protocol};

/// NetBIOS session header in front of an SMB message.
const NB_HEADER: usize = 4;
/// TPKT header + X.224 fixed part of a Connection Request.
const RDP_MIN: usize = 11;
/// Largest Connection Request accepted (cookie/routing token included).
const RDP_MAX: usize = 4096;
const COOKIE: &[u8] = b"Cookie: mstshash=";
const ROUTING: &[u8] = b"Cookie: msts=";
/// RDP_NEG_REQ: type 1, flags, length 8 (LE), requestedProtocols (LE u32).
const NEG_REQ_LEN: usize = 8;

fn protocols_name(p: u32) -> String {
    if p == 0 {
        return "rdp".to_owned();
    }
    let names = [
        (1u32, "tls"),
        (2, "credssp"),
        (4, "rdstls"),
        (8, "credssp-ex"),
        (0x10, "rdsaad"),
    ];
    let mut v: Vec<String> = names
        .iter()
        .filter(|(bit, _)| p & bit != 0)
        .map(|(_, n)| (*n).to_owned())
        .collect();
    let known: u32 = names.iter().map(|(b, _)| *b).sum();
    if p & !known != 0 {
        v.push(format!("0x{:x}", p & !known));
    }
    v.join(",")
}

/// Recognises an RDP X.224 Connection Request from the client.
///
/// Requires a TPKT header `03 00` with a length 11..=4096, an X.224 length
/// indicator equal to that length minus 5, the Connection Request code
/// 0xE0, destination reference 0, class 0, and a variable part that is,
/// as far as present: nothing, a `Cookie: mstshash=<user>` line, a
/// `Cookie: msts=<token>` routing-token line, and/or an RDP_NEG_REQ
/// (type 1, length 8). ISO-TSAP parameters (0xC0..=0xC2, e.g. S7comm on
/// port 102) or anything else are rejected. High confidence with a complete
/// cookie line or negotiation request, medium otherwise.
pub fn rdp(dir: Direction, data: &[u8]) -> Option<Identification> {
    let mut r = Reader::new(data);
    if r.u8()? != 3 || r.u8()? != 0 {
        return None;
    }
    let len = usize::from(r.u16()?);
    if !(RDP_MIN..=RDP_MAX).contains(&len) {
        return None;
    }
    let li = usize::from(r.u8()?);
    if li.checked_add(5) != Some(len) {
        return None;
    }
    if r.u8()? != 0xe0 || r.u16()? != 0 {
        return None;
    }
    let _src_ref = r.u16()?;
    if r.u8()? != 0 {
        return None;
    }
    let var_len = len.checked_sub(RDP_MIN)?;
    let (var, _) = r.take_up_to(var_len);

    let mut cookie: Option<(&[u8], bool)> = None;
    let mut routing = false;
    let mut rest = var;
    for prefix in [COOKIE, ROUTING] {
        if rest.starts_with(prefix) {
            let line = first_line(rest)?;
            let value = line.text.get(prefix.len()..).unwrap_or(&[]);
            if !value.iter().all(|&b| (0x20..=0x7e).contains(&b)) {
                return None;
            }
            routing = prefix == ROUTING;
            cookie = Some((value, line.terminated));
            rest = rest.get(line.raw_len..).unwrap_or(&[]);
            if !line.terminated {
                // The line (and the rest) was cut by the capture.
                rest = &[];
            }
            break;
        } else if !rest.is_empty() && (COOKIE.starts_with(rest) || ROUTING.starts_with(rest)) {
            // The capture ended inside the cookie's keyword.
            rest = &[];
            break;
        }
    }
    let mut protocols: Option<u32> = None;
    if !rest.is_empty() {
        let mut nr = Reader::new(rest);
        if nr.u8()? != 1 {
            return None;
        }
        let _flags = nr.u8();
        if let Some(l) = nr.take(2) {
            if l != [0x08, 0x00] {
                return None;
            }
            if let Some(p) = nr.take(4) {
                let p: [u8; 4] = p.try_into().ok()?;
                protocols = Some(u32::from_le_bytes(p));
            }
        }
        if rest.len() > NEG_REQ_LEN {
            // Only RDP_NEG_REQ (and an optional correlation info) may follow.
            if rest.get(NEG_REQ_LEN) != Some(&0x06) {
                return None;
            }
        }
    }
    let cookie_done = cookie.is_some_and(|(_, t)| t);
    let confidence = if cookie_done || protocols.is_some() {
        Confidence::High
    } else {
        Confidence::Medium
    };
    let mut summary = String::from("RDP connection request");
    if let Some((v, done)) = cookie {
        let what = if routing { "routing-token" } else { "mstshash" };
        summary.push_str(&format!(" {what}={}", sanitize(v, 60)));
        if !done {
            summary.push_str("...");
        }
    }
    if let Some(p) = protocols {
        summary.push_str(&format!(" protocols={}", protocols_name(p)));
    }
    let mut id = Identification::new(
        Protocol::Rdp,
        confidence,
        &summary,
        Evidence::new(
            dir,
            data,
            0,
            len,
            "tpkt 03 00 + x.224 connection request (0xe0) at offset 0",
        ),
    );
    if let Some((v, _)) = cookie {
        id.push_bytes(
            if routing {
                "rdp.routing_token"
            } else {
                "rdp.cookie"
            },
            v,
        );
    }
    if let Some(p) = protocols {
        id.push("rdp.requested_protocols", &protocols_name(p));
    }
    Some(id)
}

fn smb2_command(c: u16) -> String {
    let s = match c {
        0 => "negotiate",
        1 => "session_setup",
        2 => "logoff",
        3 => "tree_connect",
        4 => "tree_disconnect",
        5 => "create",
        6 => "close",
        8 => "read",
        9 => "write",
        11 => "ioctl",
        14 => "query_directory",
        16 => "query_info",
        _ => return format!("0x{c:04x}"),
    };
    s.to_owned()
}

fn smb1_command(c: u8) -> String {
    let s = match c {
        0x72 => "negotiate",
        0x73 => "session_setup_andx",
        0x75 => "tree_connect_andx",
        0x25 => "trans",
        0x32 => "trans2",
        0xa2 => "nt_create_andx",
        _ => return format!("0x{c:02x}"),
    };
    s.to_owned()
}

/// Recognises SMB over a NetBIOS session (TCP 139/445).
///
/// Requires a NetBIOS session message `00` with a 24-bit length ≥ 32, then
/// `\xffSMB` (SMB1), `\xfeSMB` (SMB2/3, whose header structure size, when
/// present, must be 64) or `\xfdSMB` (SMB3 transform header, i.e.
/// encrypted). Needs the 8 bytes up to the magic; high confidence. Reports
/// the command and, for an SMB2 NEGOTIATE request, the offered dialects.
pub fn smb(dir: Direction, data: &[u8]) -> Option<Identification> {
    let mut r = Reader::new(data);
    if r.u8()? != 0 {
        return None;
    }
    let len = usize::try_from(r.u24()?).ok()?;
    if len < 32 {
        return None;
    }
    let magic = r.take(4)?;
    let (version, rule) = match magic {
        b"\xffSMB" => ("SMB1", "netbios session 00 + '\\xffSMB' at offset 4"),
        b"\xfeSMB" => ("SMB2/3", "netbios session 00 + '\\xfeSMB' at offset 4"),
        b"\xfdSMB" => (
            "SMB3 encrypted",
            "netbios session 00 + '\\xfdSMB' transform at offset 4",
        ),
        _ => return None,
    };
    let mut command: Option<String> = None;
    let mut dialects: Vec<u16> = Vec::new();
    match magic.first() {
        Some(0xff) => command = r.u8().map(smb1_command),
        Some(0xfe) => {
            let hdr = data.get(NB_HEADER..).unwrap_or(&[]);
            let mut h = Reader::new(hdr);
            let _ = h.take(4);
            if let Some(size) = h.take(2) {
                if size != [64, 0] {
                    return None;
                }
                let _credit_charge = h.take(2);
                let _status = h.take(4);
                if let Some(c) = h.take(2) {
                    let c = u16::from_le_bytes([
                        c.first().copied().unwrap_or(0),
                        c.get(1).copied().unwrap_or(0),
                    ]);
                    command = Some(smb2_command(c));
                    let flags = hdr.get(16).copied().unwrap_or(0);
                    let is_request = flags & 1 == 0;
                    if c == 0 && is_request {
                        dialects = smb2_dialects(hdr);
                    }
                }
            }
        }
        _ => {}
    }
    let mut summary = version.to_owned();
    if let Some(c) = &command {
        summary.push(' ');
        summary.push_str(c);
    }
    let dialect_list: Vec<String> = dialects.iter().map(|d| format!("0x{d:04x}")).collect();
    if !dialect_list.is_empty() {
        summary.push_str(&format!(" dialects={}", dialect_list.join(",")));
    }
    let mut id = Identification::new(
        Protocol::Smb,
        Confidence::High,
        &summary,
        Evidence::new(dir, data, 0, len.saturating_add(4), rule),
    );
    id.push("smb.version", version);
    if let Some(c) = command {
        id.push("smb.command", &c);
    }
    if !dialect_list.is_empty() {
        id.push("smb.dialects", &dialect_list.join(","));
    }
    Some(id)
}

/// Dialects of an SMB2 NEGOTIATE request: after the 64-byte header,
/// StructureSize 36, DialectCount, ..., dialects at body offset 36.
fn smb2_dialects(hdr: &[u8]) -> Vec<u16> {
    let mut r = Reader::new(hdr.get(64..).unwrap_or(&[]));
    let (Some(size), Some(count)) = (r.take(2), r.take(2)) else {
        return Vec::new();
    };
    if size != [36, 0] {
        return Vec::new();
    }
    let count = usize::from(u16::from_le_bytes([
        count.first().copied().unwrap_or(0),
        count.get(1).copied().unwrap_or(0),
    ]))
    .min(64);
    if r.take(32).is_none() {
        return Vec::new();
    }
    let (list, _) = r.take_up_to(count.saturating_mul(2));
    list.chunks_exact(2)
        .filter_map(|p| match p {
            [a, b] => Some(u16::from_le_bytes([*a, *b])),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::identify::testutil::assert_all_prefixes;

    fn rdp_cr(var: &[u8]) -> Vec<u8> {
        let len = 11 + var.len();
        let mut v = vec![3, 0, 0, u8::try_from(len).unwrap()];
        v.push(u8::try_from(len - 5).unwrap());
        v.extend([0xe0, 0, 0, 0x12, 0x34, 0]);
        v.extend(var);
        v
    }

    #[test]
    fn rdp_request() {
        let var = b"Cookie: mstshash=administrator\r\n\x01\x00\x08\x00\x0b\x00\x00\x00";
        let cr = rdp_cr(var);
        let id = rdp(Direction::Client, &cr).unwrap();
        assert_eq!(id.confidence, Confidence::High);
        assert_eq!(id.field("rdp.cookie"), Some("administrator"));
        assert_eq!(
            id.field("rdp.requested_protocols"),
            Some("tls,credssp,credssp-ex")
        );
        assert_eq!(
            id.summary,
            "RDP connection request mstshash=administrator protocols=tls,credssp,credssp-ex"
        );
        assert_all_prefixes(&cr, Protocol::Rdp, 11, |p| rdp(Direction::Client, p));
        let bare = rdp_cr(b"");
        assert_eq!(
            rdp(Direction::Client, &bare).unwrap().confidence,
            Confidence::Medium
        );
        let neg_only = rdp_cr(b"\x01\x00\x08\x00\x00\x00\x00\x00");
        assert_eq!(
            rdp(Direction::Client, &neg_only)
                .unwrap()
                .field("rdp.requested_protocols"),
            Some("rdp")
        );
    }

    #[test]
    fn rdp_look_alikes() {
        // S7comm COTP connection request with TSAP parameters.
        let s7 = rdp_cr(b"\xc1\x02\x01\x00\xc2\x02\x01\x02\xc0\x01\x0a");
        assert!(rdp(Direction::Client, &s7).is_none());
        let mut bad_li = rdp_cr(b"");
        bad_li[4] = 7;
        assert!(rdp(Direction::Client, &bad_li).is_none());
        let mut cc = rdp_cr(b"");
        cc[5] = 0xd0;
        assert!(rdp(Direction::Client, &cc).is_none());
        assert!(rdp(Direction::Client, &rdp_cr(b"hello")).is_none());
        assert!(
            rdp(
                Direction::Client,
                &rdp_cr(b"\x01\x00\x09\x00\x00\x00\x00\x00")
            )
            .is_none()
        );
    }

    fn smb2_negotiate() -> Vec<u8> {
        let mut hdr = b"\xfeSMB".to_vec();
        hdr.extend([64, 0, 0, 0]); // structure size, credit charge
        hdr.extend([0; 4]); // status
        hdr.extend([0, 0]); // command NEGOTIATE
        hdr.extend([0; 2]); // credits
        hdr.extend([0; 4]); // flags (request)
        hdr.extend([0; 64 - 20]);
        let mut body = vec![36, 0, 3, 0];
        body.extend([0; 32]);
        body.extend([0x02, 0x02, 0x10, 0x02, 0x11, 0x03]);
        let mut msg = vec![0, 0];
        let len = hdr.len() + body.len();
        msg.extend(u16::try_from(len).unwrap().to_be_bytes());
        msg.extend(hdr);
        msg.extend(body);
        msg
    }

    #[test]
    fn smb_negotiate() {
        let m = smb2_negotiate();
        let id = smb(Direction::Client, &m).unwrap();
        assert_eq!(id.field("smb.version"), Some("SMB2/3"));
        assert_eq!(id.field("smb.command"), Some("negotiate"));
        assert_eq!(id.field("smb.dialects"), Some("0x0202,0x0210,0x0311"));
        assert_all_prefixes(&m, Protocol::Smb, 8, |p| smb(Direction::Client, p));
        let smb1 = b"\x00\x00\x00\x2f\xffSMB\x72\x00\x00\x00\x00\x18\x53\xc8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xfe\x00\x00\x00\x00\x00\x0c\x00\x02NT LM 0.12\x00";
        let id = smb(Direction::Client, smb1).unwrap();
        assert_eq!(id.field("smb.command"), Some("negotiate"));
        assert_all_prefixes(smb1, Protocol::Smb, 8, |p| smb(Direction::Client, p));
    }

    #[test]
    fn smb_look_alikes() {
        assert!(smb(Direction::Client, b"\x00\x00\x00\x10\xffSMB").is_none());
        assert!(smb(Direction::Client, b"\x01\x00\x00\x40\xffSMB").is_none());
        assert!(smb(Direction::Client, b"\x00\x00\x00\x40\xfeSMX").is_none());
        assert!(smb(Direction::Client, b"\x00\x00\x00\x40\xfeSMB\x20\x00").is_none());
    }
}
