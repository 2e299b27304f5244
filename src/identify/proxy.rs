//! SOCKS4/4a and SOCKS5 proxy handshakes.

use super::util::{Reader, sanitize};
use super::{Confidence, Direction, Evidence, Identification, Protocol};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest SOCKS4 user id / SOCKS4a host name accepted.
const MAX_ID: usize = 255;
/// Largest SOCKS5 method count accepted (clients offer a handful).
const MAX_METHODS: u8 = 16;

/// Reads a NUL-terminated printable string. `Ok(Some)` when terminated,
/// `Ok(None)` when the buffer ends first, `Err` when a byte is not printable
/// or the string is too long.
fn c_string<'a>(r: &mut Reader<'a>) -> Result<Option<&'a [u8]>, ()> {
    let rest = r.rest();
    let window = rest
        .get(..rest.len().min(MAX_ID.saturating_add(1)))
        .unwrap_or(rest);
    match window.iter().position(|&b| b == 0) {
        Some(i) => {
            let s = r.take(i).ok_or(())?;
            r.take(1).ok_or(())?;
            if s.iter().all(|&b| (0x20..=0x7e).contains(&b)) {
                Ok(Some(s))
            } else {
                Err(())
            }
        }
        None => {
            if window.len() > MAX_ID || !window.iter().all(|&b| (0x20..=0x7e).contains(&b)) {
                Err(())
            } else {
                Ok(None)
            }
        }
    }
}

/// Recognises a SOCKS4 or SOCKS4a request from the client.
///
/// Requires `04`, command 1 (CONNECT) or 2 (BIND), a non-zero port, an IPv4
/// address other than 0.0.0.0, and a printable user id (≤ 255 bytes)
/// terminated by NUL. SOCKS4a (address 0.0.0.x, x ≠ 0) is followed by a
/// printable host name and NUL (reported as far as present). Medium
/// confidence from the client alone; high when the server's first byte is
/// 0 and its second a reply code 0x5a..=0x5d; a server that answers
/// anything else makes this not SOCKS4.
pub fn socks4(dir: Direction, client: &[u8], server: &[u8]) -> Option<Identification> {
    let mut r = Reader::new(client);
    if r.u8()? != 4 {
        return None;
    }
    let cmd = r.u8()?;
    if cmd != 1 && cmd != 2 {
        return None;
    }
    let port = r.u16()?;
    let ip = r.take(4)?;
    let [a, b, c, d] = <[u8; 4]>::try_from(ip).ok()?;
    if port == 0 || [a, b, c, d] == [0, 0, 0, 0] {
        return None;
    }
    let user = c_string(&mut r).ok()??;
    let socks4a = a == 0 && b == 0 && c == 0;
    let host = if socks4a {
        match c_string(&mut r) {
            Ok(Some(h)) => Some((h, true)),
            Ok(None) => Some((r.rest(), false)),
            Err(()) => return None,
        }
    } else {
        None
    };
    let reply = match server {
        [] | [0] => None,
        [0, code, ..] if (0x5a..=0x5d).contains(code) => Some(*code),
        _ => return None,
    };
    let dest = match host {
        Some((h, done)) => {
            let mut s = sanitize(h, 120);
            if !done {
                s.push_str("...");
            }
            format!("{s}:{port}")
        }
        None => format!("{}:{port}", Ipv4Addr::new(a, b, c, d)),
    };
    let command = if cmd == 1 { "connect" } else { "bind" };
    let version = if socks4a { "SOCKS4a" } else { "SOCKS4" };
    let mut summary = format!("{version} {} {dest}", command.to_uppercase());
    if !user.is_empty() {
        summary.push_str(&format!(" user={}", sanitize(user, 40)));
    }
    if let Some(code) = reply {
        summary.push_str(if code == 0x5a {
            " (granted)"
        } else {
            " (rejected)"
        });
    }
    let confidence = if reply.is_some() {
        Confidence::High
    } else {
        Confidence::Medium
    };
    let mut id = Identification::new(
        Protocol::Socks4,
        confidence,
        &summary,
        Evidence::new(
            dir,
            client,
            0,
            r.pos(),
            "socks4 request 04 01|02 port ip userid NUL at offset 0",
        ),
    );
    id.push("socks.version", version);
    id.push("socks.command", command);
    id.push("socks.dest", &dest);
    id.push_bytes("socks.userid", user);
    if let Some(code) = reply {
        id.push("socks.reply", &format!("0x{code:02x}"));
    }
    Some(id)
}

fn method_name(m: u8) -> String {
    match m {
        0x00 => "none".to_owned(),
        0x01 => "gssapi".to_owned(),
        0x02 => "userpass".to_owned(),
        0x03..=0x09 => format!("iana-0x{m:02x}"),
        _ => format!("private-0x{m:02x}"),
    }
}

/// A SOCKS5 request as far as present.
struct Request {
    command: u8,
    dest: String,
    complete: bool,
}

/// Parses `05 cmd 00 atyp addr port`. `Err` on invalid bytes; `Ok(None)` if
/// nothing beyond the version byte is known yet.
fn socks5_request(r: &mut Reader<'_>) -> Result<Option<Request>, ()> {
    // Version already consumed by the caller.
    let Some(cmd) = r.u8() else { return Ok(None) };
    if !(1..=3).contains(&cmd) {
        return Err(());
    }
    let mut req = Request {
        command: cmd,
        dest: String::from("?"),
        complete: false,
    };
    let Some(rsv) = r.u8() else {
        return Ok(Some(req));
    };
    if rsv != 0 {
        return Err(());
    }
    let Some(atyp) = r.u8() else {
        return Ok(Some(req));
    };
    let host = match atyp {
        1 => {
            let (a, full) = r.take_up_to(4);
            if !full {
                return Ok(Some(req));
            }
            let ip: [u8; 4] = a.try_into().map_err(|_| ())?;
            Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let Some(n) = r.u8() else {
                return Ok(Some(req));
            };
            if n == 0 {
                return Err(());
            }
            let (h, full) = r.take_up_to(usize::from(n));
            if !h.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
                return Err(());
            }
            if !full {
                req.dest = format!("{}...", sanitize(h, 120));
                return Ok(Some(req));
            }
            sanitize(h, 120)
        }
        4 => {
            let (a, full) = r.take_up_to(16);
            if !full {
                return Ok(Some(req));
            }
            let ip: [u8; 16] = a.try_into().map_err(|_| ())?;
            format!("[{}]", Ipv6Addr::from(ip))
        }
        _ => return Err(()),
    };
    req.dest = host.clone();
    let Some(port) = r.u16() else {
        return Ok(Some(req));
    };
    req.dest = format!("{host}:{port}");
    req.complete = true;
    Ok(Some(req))
}

/// Recognises a SOCKS5 client greeting (RFC 1928).
///
/// Requires `05`, a method count 1..=16, and that many method codes, all
/// present, none 0xFF, none repeated. Whatever follows in the client stream
/// must be the next client message: a username/password sub-negotiation
/// (`01 ulen uname plen passwd`, RFC 1929, only if method 2 was offered;
/// the user name must be printable) and/or a request `05 cmd(1..=3) 00
/// atyp(1|3|4) address port`, as far as present. If the server answered,
/// its reply must be `05` and one of the offered methods (or 0xFF, no
/// acceptable method), else this is not SOCKS5. Medium confidence for a
/// bare greeting, high with a consistent server reply or a parsed request.
pub fn socks5(dir: Direction, client: &[u8], server: &[u8]) -> Option<Identification> {
    let mut r = Reader::new(client);
    if r.u8()? != 5 {
        return None;
    }
    let n = r.u8()?;
    if !(1..=MAX_METHODS).contains(&n) {
        return None;
    }
    let methods = r.take(usize::from(n))?;
    let mut seen = [false; 256];
    for &m in methods {
        let slot = seen.get_mut(usize::from(m))?;
        if m == 0xff || *slot {
            return None;
        }
        *slot = true;
    }
    let greeting_len = r.pos();
    let mut user: Option<&[u8]> = None;
    let mut request: Option<Request> = None;
    if let Some(next) = r.u8() {
        if next == 1 {
            if !methods.contains(&2) {
                return None;
            }
            if let Some(ulen) = r.u8() {
                let (u, full) = r.take_up_to(usize::from(ulen));
                if ulen == 0 || !u.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
                    return None;
                }
                user = Some(u);
                if full && let Some(plen) = r.u8() {
                    let _password = r.take_up_to(usize::from(plen));
                    if let Some(v) = r.u8() {
                        if v != 5 {
                            return None;
                        }
                        request = socks5_request(&mut r).ok()?;
                    }
                }
            }
        } else if next == 5 {
            request = socks5_request(&mut r).ok()?;
        } else {
            return None;
        }
    }
    let chosen = match server {
        [] => None,
        [5] => None,
        [5, m, ..] if *m == 0xff || methods.contains(m) => Some(*m),
        _ => return None,
    };
    let confidence = if chosen.is_some() || request.is_some() {
        Confidence::High
    } else {
        Confidence::Medium
    };
    let method_names: Vec<String> = methods.iter().map(|&m| method_name(m)).collect();
    let mut summary = format!("SOCKS5 greeting methods={}", method_names.join(","));
    if let Some(req) = &request {
        let cmd = match req.command {
            1 => "CONNECT",
            2 => "BIND",
            _ => "UDP-ASSOCIATE",
        };
        summary = format!("SOCKS5 {cmd} {}", req.dest);
        if !req.complete {
            summary.push_str(" (truncated)");
        }
    }
    if let Some(u) = user {
        summary.push_str(&format!(" user={}", sanitize(u, 40)));
    }
    let mut id = Identification::new(
        Protocol::Socks5,
        confidence,
        &summary,
        Evidence::new(
            dir,
            client,
            0,
            greeting_len,
            "socks5 greeting 05 nmethods methods at offset 0",
        ),
    );
    id.push("socks.version", "SOCKS5");
    id.push("socks.methods", &method_names.join(","));
    if let Some(m) = chosen {
        id.push(
            "socks.server_method",
            &if m == 0xff {
                "no-acceptable".to_owned()
            } else {
                method_name(m)
            },
        );
    }
    if let Some(u) = user {
        id.push_bytes("socks.user", u);
    }
    if let Some(req) = request {
        let cmd = match req.command {
            1 => "connect",
            2 => "bind",
            _ => "udp-associate",
        };
        id.push("socks.command", cmd);
        id.push("socks.dest", &req.dest);
    }
    Some(id)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::identify::testutil::assert_all_prefixes;

    const S4: &[u8] = b"\x04\x01\x01\xbb\xc0\x00\x02\x01alice\x00GET";
    const S4A: &[u8] = b"\x04\x01\x00\x50\x00\x00\x00\x01\x00evil.example\x00";
    const S5: &[u8] =
        b"\x05\x02\x00\x02\x01\x04user\x04pass\x05\x01\x00\x03\x0cevil.example\x01\xbb";

    #[test]
    fn socks4_request() {
        let id = socks4(Direction::Client, S4, b"\x00\x5a\x00\x00\x00\x00\x00\x00").unwrap();
        assert_eq!(id.confidence, Confidence::High);
        assert_eq!(id.field("socks.dest"), Some("192.0.2.1:443"));
        assert_eq!(id.field("socks.userid"), Some("alice"));
        assert_eq!(id.evidence.len, 14);
        // The request is recognised once the user id's NUL is present.
        assert_all_prefixes(S4, Protocol::Socks4, 14, |p| {
            socks4(Direction::Client, p, b"")
        });
        assert!(socks4(Direction::Client, S4, b"HTTP/1.1 200 OK\r\n").is_none());
    }

    #[test]
    fn socks4a_request() {
        let id = socks4(Direction::Client, S4A, b"").unwrap();
        assert_eq!(id.field("socks.dest"), Some("evil.example:80"));
        assert_eq!(id.field("socks.version"), Some("SOCKS4a"));
        assert_all_prefixes(S4A, Protocol::Socks4, 9, |p| {
            socks4(Direction::Client, p, b"")
        });
        let id = socks4(Direction::Client, &S4A[..13], b"").unwrap();
        assert_eq!(id.field("socks.dest"), Some("evil...:80"));
    }

    #[test]
    fn socks4_look_alikes() {
        for s in [
            &b"\x04\x03\x00\x50\x01\x02\x03\x04\x00"[..],
            b"\x04\x01\x00\x00\x01\x02\x03\x04\x00",
            b"\x04\x01\x00\x50\x00\x00\x00\x00\x00",
            b"\x04\x01\x00\x50\x01\x02\x03\x04\x01\x02\x00",
            b"\x04\x01\x00\x50\x01\x02\x03\x04",
        ] {
            assert!(socks4(Direction::Client, s, b"").is_none(), "{s:?}");
        }
    }

    #[test]
    fn socks5_handshake() {
        let id = socks5(Direction::Client, S5, b"\x05\x02\x01\x00").unwrap();
        assert_eq!(id.confidence, Confidence::High);
        assert_eq!(id.field("socks.methods"), Some("none,userpass"));
        assert_eq!(id.field("socks.server_method"), Some("userpass"));
        assert_eq!(id.field("socks.user"), Some("user"));
        assert_eq!(id.field("socks.dest"), Some("evil.example:443"));
        assert_eq!(id.summary, "SOCKS5 CONNECT evil.example:443 user=user");
        assert!(id.fields.iter().all(|(_, v)| v != "pass"));
        assert_all_prefixes(S5, Protocol::Socks5, 4, |p| {
            socks5(Direction::Client, p, b"")
        });
        let g = socks5(Direction::Client, b"\x05\x01\x00", b"").unwrap();
        assert_eq!(g.confidence, Confidence::Medium);
        let v6 = b"\x05\x01\x00\x05\x01\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x35";
        let id = socks5(Direction::Client, v6, b"").unwrap();
        assert_eq!(id.field("socks.dest"), Some("[2001:db8::1]:53"));
    }

    #[test]
    fn socks5_look_alikes() {
        for (c, s) in [
            (&b"\x05\x00"[..], &b""[..]),
            (b"\x05\x01\xff", b""),
            (b"\x05\x02\x00\x00", b""),
            (b"\x05\x11\x00", b""),
            (b"\x05\x01\x00\x07", b""),
            (b"\x05\x01\x00\x05\x04", b""),
            (b"\x05\x01\x00\x05\x01\x01", b""),
            (b"\x05\x01\x00\x01\x04user", b""),
            (b"\x05\x01\x00", b"\x05\x02"),
            (b"\x05\x01\x00", b"SSH-2.0-x\r\n"),
        ] {
            assert!(socks5(Direction::Client, c, s).is_none(), "{c:?} / {s:?}");
        }
    }
}
