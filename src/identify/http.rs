//! HTTP/1.x requests and responses (also HTTPU/SSDP over UDP).

use super::util::{first_line, is_printable_text, lines, sanitize, split_space};
use super::{Confidence, Direction, Evidence, Identification, Protocol};

/// Request methods accepted (case-sensitive, as on the wire): RFC 9110,
/// PATCH, WebDAV, and the SSDP/GENA methods used over UDP.
const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"PATCH",
    b"CONNECT",
    b"TRACE",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"REPORT",
    b"SEARCH",
    b"M-SEARCH",
    b"NOTIFY",
    b"SUBSCRIBE",
    b"UNSUBSCRIBE",
    b"PRI",
];

const MAX_TARGET: usize = 8192;

/// One parsed header value of interest.
fn header<'a>(data: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    lines(data)
        .skip(1)
        .take_while(|l| !l.text.is_empty())
        .find_map(|l| {
            let colon = l.text.iter().position(|&b| b == b':')?;
            let (k, v) = l.text.split_at(colon);
            if !k.eq_ignore_ascii_case(name) {
                return None;
            }
            let v = v.get(1..).unwrap_or(&[]);
            Some(v.trim_ascii())
        })
}

fn valid_target(t: &[u8], method: &[u8]) -> bool {
    if t.is_empty() || t.len() > MAX_TARGET || !t.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
        return false;
    }
    match t.first() {
        Some(b'/') => true,
        Some(b'*') => t.len() == 1,
        // absolute-form (proxy requests) or authority-form (CONNECT).
        Some(c) if c.is_ascii_alphanumeric() => {
            method == b"CONNECT" || t.windows(3).any(|w| w == b"://")
        }
        _ => false,
    }
}

/// Recognises an HTTP/1.x request line at offset 0.
///
/// Requires a known method (see the list in the source; upper case only),
/// one space, a request target of printable non-space bytes in origin form
/// (`/...`), asterisk form (`*`), absolute form (`scheme://...`) or, for
/// CONNECT, authority form, one space, and `HTTP/1.0` / `HTTP/1.1` (or
/// `HTTP/2.0` with method `PRI`, the HTTP/2 prior-knowledge preface),
/// ending the line. High confidence.
///
/// If the capture ends inside the request line, a low-confidence answer is
/// given when what is present is a prefix of that grammar with at least the
/// method, a space and a target starting with `/` (a terminated line
/// without a version, e.g. HTTP/0.9 or prose starting with "GET /", is not
/// accepted). Host and User-Agent headers are extracted when present.
pub fn request(dir: Direction, data: &[u8]) -> Option<Identification> {
    let line = first_line(data)?;
    let (method, rest) = split_space(line.text);
    let rest = rest?;
    if !METHODS.contains(&method) {
        return None;
    }
    let (target, after) = split_space(rest);
    let complete_version = match after {
        None => {
            // The buffer ended inside the target.
            if line.terminated || target.first() != Some(&b'/') || !valid_target(target, method) {
                return None;
            }
            false
        }
        Some(version) => {
            if !valid_target(target, method) {
                return None;
            }
            let allowed: &[&[u8]] = if method == b"PRI" {
                &[b"HTTP/2.0"]
            } else {
                &[b"HTTP/1.1", b"HTTP/1.0"]
            };
            if allowed.contains(&version) {
                true
            } else if !line.terminated && allowed.iter().any(|a| a.starts_with(version)) {
                false
            } else {
                return None;
            }
        }
    };
    if method == b"PRI" && complete_version {
        let mut id = Identification::new(
            Protocol::Http,
            Confidence::High,
            "HTTP/2 connection preface (prior knowledge, cleartext)",
            Evidence::new(
                dir,
                data,
                0,
                line.raw_len,
                "http/2 preface 'PRI * HTTP/2.0' at offset 0",
            ),
        );
        id.push("http.version", "HTTP/2.0");
        return Some(id);
    }
    let (confidence, rule) = if complete_version {
        (
            Confidence::High,
            "http request line 'METHOD target HTTP/1.x' at offset 0",
        )
    } else {
        (
            Confidence::Low,
            "http request line prefix 'METHOD /target' at offset 0 (truncated)",
        )
    };
    let version = if complete_version { after } else { None };
    let host = header(data, b"host");
    let ua = header(data, b"user-agent");

    let mut summary = format!("HTTP {} {}", sanitize(method, 16), sanitize(target, 80));
    if let Some(v) = version {
        summary.push(' ');
        summary.push_str(&sanitize(v, 10));
    } else {
        summary.push_str(" (truncated)");
    }
    if let Some(h) = host {
        summary.push_str(&format!(" Host={}", sanitize(h, 60)));
    }
    if let Some(u) = ua {
        summary.push_str(&format!(" UA={}", sanitize(u, 60)));
    }
    let mut id = Identification::new(
        Protocol::Http,
        confidence,
        &summary,
        Evidence::new(dir, data, 0, line.raw_len, rule),
    );
    id.push_bytes("http.method", method);
    id.push_bytes("http.target", target);
    if let Some(v) = version {
        id.push_bytes("http.version", v);
    }
    if let Some(h) = host {
        id.push_bytes("http.host", h);
    }
    if let Some(u) = ua {
        id.push_bytes("http.user_agent", u);
    }
    Some(id)
}

struct Status<'a> {
    version: &'a [u8],
    code: &'a [u8],
    reason: &'a [u8],
    raw_len: usize,
}

fn parse_status(data: &[u8]) -> Option<Status<'_>> {
    let line = first_line(data)?;
    if !is_printable_text(line.text) {
        return None;
    }
    let (version, rest) = split_space(line.text);
    if version != b"HTTP/1.1" && version != b"HTTP/1.0" {
        return None;
    }
    let rest = rest?;
    let code = rest.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) || !(&b"100"[..]..=&b"599"[..]).contains(&code) {
        return None;
    }
    let reason = match rest.get(3..) {
        Some([]) | None => &[][..],
        Some([b' ', r @ ..]) => r,
        Some(_) => return None,
    };
    Some(Status {
        version,
        code,
        reason,
        raw_len: line.raw_len,
    })
}

/// Recognises an HTTP/1.x status line at offset 0: `HTTP/1.0` or `HTTP/1.1`,
/// one space, a status code 100..=599, then a space and reason phrase, the
/// end of the line, or the end of the buffer, on a printable line. High
/// confidence. The Server header is extracted when present.
pub fn response(dir: Direction, data: &[u8]) -> Option<Identification> {
    let st = parse_status(data)?;
    let server = header(data, b"server");
    let mut summary = format!(
        "{} {} {}",
        sanitize(st.version, 10),
        sanitize(st.code, 3),
        sanitize(st.reason, 60)
    );
    if let Some(s) = server {
        summary.push_str(&format!(" Server={}", sanitize(s, 60)));
    }
    let mut id = Identification::new(
        Protocol::Http,
        Confidence::High,
        summary.trim_end(),
        Evidence::new(
            dir,
            data,
            0,
            st.raw_len,
            "http status line 'HTTP/1.x NNN' at offset 0",
        ),
    );
    id.push_bytes("http.version", st.version);
    id.push_bytes("http.status", st.code);
    if !st.reason.is_empty() {
        id.push_bytes("http.reason", st.reason);
    }
    if let Some(s) = server {
        id.push_bytes("http.server", s);
    }
    Some(id)
}

/// Adds the server's status (and Server header) to a request answer.
pub(crate) fn enrich_with_response(id: &mut Identification, server: &[u8]) {
    if let Some(st) = parse_status(server) {
        id.push_bytes("http.status", st.code);
        if let Some(s) = header(server, b"server") {
            id.push_bytes("http.server", s);
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::identify::testutil::assert_all_prefixes;

    const REQ: &[u8] = b"GET /api/v1/beacon?id=42 HTTP/1.1\r\nHost: evil.example\r\nUser-Agent: Mozilla/5.0 \x1b[31mX\r\nAccept: */*\r\n\r\n";
    const RESP: &[u8] =
        b"HTTP/1.1 404 Not Found\r\nServer: nginx/1.24.0\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn request_fields() {
        let id = request(Direction::Client, REQ).unwrap();
        assert_eq!(id.protocol, Protocol::Http);
        assert_eq!(id.confidence, Confidence::High);
        assert_eq!(id.field("http.method"), Some("GET"));
        assert_eq!(id.field("http.target"), Some("/api/v1/beacon?id=42"));
        assert_eq!(id.field("http.version"), Some("HTTP/1.1"));
        assert_eq!(id.field("http.host"), Some("evil.example"));
        assert_eq!(id.field("http.user_agent"), Some("Mozilla/5.0 \\x1b[31mX"));
        assert_eq!(
            id.summary,
            "HTTP GET /api/v1/beacon?id=42 HTTP/1.1 Host=evil.example UA=Mozilla/5.0 \\x1b[31mX"
        );
        assert_eq!(id.evidence.len, 35);
    }

    #[test]
    fn request_every_truncation() {
        // "GET /" is the first prefix with method, space and a '/' target.
        assert_all_prefixes(REQ, Protocol::Http, 5, |p| request(Direction::Client, p));
        let id = request(Direction::Client, b"GET /api/v1/beacon?id=42 HT").unwrap();
        assert_eq!(id.confidence, Confidence::Low);
        let id = request(Direction::Client, b"GET /api/v1/beacon?id=42 HTTP/1.1").unwrap();
        assert_eq!(id.confidence, Confidence::High);
    }

    #[test]
    fn request_look_alikes() {
        for s in [
            &b"GET"[..],
            b"GETX / HTTP/1.1\r\n",
            b"get / HTTP/1.1\r\n",
            b"GET  / HTTP/1.1\r\n",
            b"GET / HTTP/3.0\r\n",
            b"GET / HTTP/1.1x\r\n",
            b"GET /\r\n",
            b"GET / foo\r\n",
            b"GET /\x00 HTTP/1.1\r\n",
            b"GET example.com HTTP/1.1\r\n",
            b"GET * HTTP/1.1\r\n\x00",
            b"POST /x HTTP/1.1 extra\r\n",
            b"PRI * HTTP/1.1\r\n",
        ] {
            let got = request(Direction::Client, s);
            // "GET * HTTP/1.1" is syntactically a request; everything else must fail.
            if s.starts_with(b"GET * ") {
                assert!(got.is_some());
            } else {
                assert!(got.is_none(), "{:?}", String::from_utf8_lossy(s));
            }
        }
        assert!(
            request(
                Direction::Client,
                b"CONNECT evil.example:443 HTTP/1.1\r\n\r\n"
            )
            .is_some()
        );
        assert!(request(Direction::Client, b"GET http://x.example/ HTTP/1.0\r\n\r\n").is_some());
        assert!(
            request(
                Direction::Client,
                b"M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n"
            )
            .is_some()
        );
        let pri = request(Direction::Client, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
        assert_eq!(pri.field("http.version"), Some("HTTP/2.0"));
    }

    #[test]
    fn response_fields_and_truncation() {
        let id = response(Direction::Server, RESP).unwrap();
        assert_eq!(id.field("http.status"), Some("404"));
        assert_eq!(id.field("http.reason"), Some("Not Found"));
        assert_eq!(id.field("http.server"), Some("nginx/1.24.0"));
        assert_eq!(id.summary, "HTTP/1.1 404 Not Found Server=nginx/1.24.0");
        assert_all_prefixes(RESP, Protocol::Http, 12, |p| response(Direction::Server, p));
        for s in [
            &b"HTTP/1.1 99 x\r\n"[..],
            b"HTTP/1.1 600 x\r\n",
            b"HTTP/1.1 2000\r\n",
            b"HTTP/1.1 20a OK\r\n",
            b"HTTP/1.2 200 OK\r\n",
            b"http/1.1 200 OK\r\n",
            b"HTTP/1.1 200 \x1b\r\n",
        ] {
            assert!(response(Direction::Server, s).is_none(), "{s:?}");
        }
    }

    #[test]
    fn enrichment() {
        let mut id = request(Direction::Client, REQ).unwrap();
        enrich_with_response(&mut id, RESP);
        assert_eq!(id.field("http.status"), Some("404"));
        assert_eq!(id.field("http.server"), Some("nginx/1.24.0"));
    }
}
