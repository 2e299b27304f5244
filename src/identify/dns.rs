//! DNS messages over UDP and over TCP (RFC 1035 4.2.2 length prefix).

use super::util::Reader;
use super::{Confidence, Direction, Evidence, Identification, Protocol};

const HEADER: usize = 12;
/// Largest QDCOUNT accepted (real traffic uses 1).
const MAX_QDCOUNT: u16 = 4;
/// Largest answer/authority/additional count accepted.
const MAX_RR_COUNT: u16 = 64;
const MAX_NAME: usize = 255;
/// Smallest message with a question: header + root name + type + class.
const MIN_TCP_LEN: usize = HEADER + 1 + 4;

/// A parsed (possibly truncated) DNS message start.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Dns {
    id: u16,
    response: bool,
    opcode: u8,
    rcode: u8,
    ancount: u16,
    /// Labels of the first question name (validated characters only).
    labels: Vec<Vec<u8>>,
    name_complete: bool,
    qtype: Option<u16>,
    qclass: Option<u16>,
    /// Bytes of the message consumed through the first question.
    used: usize,
}

fn label_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'*' | b'/')
}

fn valid_class(c: u16) -> bool {
    matches!(c & 0x7fff, 1 | 3 | 4 | 254 | 255)
}

/// Parses a DNS header and first question. `whole` says `msg` is the whole
/// message (so running out of bytes is an error, not truncation).
fn parse(msg: &[u8], whole: bool) -> Option<Dns> {
    let mut r = Reader::new(msg);
    let id = r.u16()?;
    let flags = r.u16()?;
    let qd = r.u16()?;
    let an = r.u16()?;
    let ns = r.u16()?;
    let ar = r.u16()?;
    let response = flags & 0x8000 != 0;
    let opcode = u8::try_from((flags >> 11) & 0x0f).ok()?;
    let rcode = u8::try_from(flags & 0x000f).ok()?;
    if !matches!(opcode, 0 | 1 | 2 | 4 | 5) || flags & 0x0040 != 0 {
        return None;
    }
    if !(1..=MAX_QDCOUNT).contains(&qd)
        || an > MAX_RR_COUNT
        || ns > MAX_RR_COUNT
        || ar > MAX_RR_COUNT
    {
        return None;
    }
    if response {
        if rcode > 10 {
            return None;
        }
    } else {
        // A plain query carries no answers or authority records (mDNS, id 0,
        // may list known answers) and no error code.
        if rcode != 0 {
            return None;
        }
        if opcode == 0 && (ns != 0 || (an != 0 && id != 0)) {
            return None;
        }
    }
    let mut dns = Dns {
        id,
        response,
        opcode,
        rcode,
        ancount: an,
        labels: Vec::new(),
        name_complete: false,
        qtype: None,
        qclass: None,
        used: HEADER,
    };
    let mut name_len: usize = 0;
    loop {
        let Some(len) = r.u8() else {
            return if whole { None } else { Some(dns) };
        };
        if len == 0 {
            dns.name_complete = true;
            break;
        }
        // Pointers (0xc0) cannot occur in the first name; 0x40/0x80 are
        // reserved label types.
        if len > 63 {
            return None;
        }
        name_len = name_len.saturating_add(usize::from(len)).saturating_add(1);
        if name_len > MAX_NAME {
            return None;
        }
        let (label, full) = r.take_up_to(usize::from(len));
        if !label.iter().all(|&b| label_char(b)) {
            return None;
        }
        if !full {
            dns.used = r.pos();
            return if whole { None } else { Some(dns) };
        }
        dns.labels.push(label.to_vec());
        dns.used = r.pos();
    }
    dns.used = r.pos();
    let Some(qtype) = r.u16() else {
        return if whole { None } else { Some(dns) };
    };
    if qtype == 0 {
        return None;
    }
    dns.qtype = Some(qtype);
    let Some(qclass) = r.u16() else {
        return if whole { None } else { Some(dns) };
    };
    if !valid_class(qclass) {
        return None;
    }
    dns.qclass = Some(qclass);
    dns.used = r.pos();
    Some(dns)
}

impl Dns {
    fn qname(&self) -> String {
        if self.labels.is_empty() && self.name_complete {
            return ".".to_owned();
        }
        let mut s = self
            .labels
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect::<Vec<_>>()
            .join(".");
        if !self.name_complete {
            s.push_str("...");
        }
        s
    }

    /// Enough of the question to call it DNS: a complete name with type and
    /// class, or at least one complete label.
    fn enough(&self) -> bool {
        self.qclass.is_some() || !self.labels.is_empty()
    }
}

/// Name of a query type.
pub fn qtype_name(t: u16) -> String {
    let s = match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        10 => "NULL",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        43 => "DS",
        48 => "DNSKEY",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        252 => "AXFR",
        251 => "IXFR",
        255 => "ANY",
        257 => "CAA",
        _ => return format!("TYPE{t}"),
    };
    s.to_owned()
}

fn rcode_name(r: u8) -> &'static str {
    match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        _ => "NOTZONE",
    }
}

fn opcode_name(o: u8) -> &'static str {
    match o {
        0 => "QUERY",
        1 => "IQUERY",
        2 => "STATUS",
        4 => "NOTIFY",
        _ => "UPDATE",
    }
}

fn build(
    dir: Direction,
    data: &[u8],
    offset: usize,
    dns: &Dns,
    rule: &'static str,
) -> Identification {
    let expected_response = dir == Direction::Server;
    let confidence = if !dns.labels.is_empty() && !dns.name_complete {
        Confidence::Low
    } else if dns.qclass.is_some() && dns.response == expected_response {
        Confidence::High
    } else {
        Confidence::Medium
    };
    let kind = if dns.response { "response" } else { "query" };
    let qname = dns.qname();
    let mut summary = format!("DNS {kind}");
    if dns.opcode != 0 {
        summary.push(' ');
        summary.push_str(opcode_name(dns.opcode));
    }
    if dns.response {
        summary.push(' ');
        summary.push_str(rcode_name(dns.rcode));
    }
    if let Some(t) = dns.qtype {
        summary.push(' ');
        summary.push_str(&qtype_name(t));
    }
    summary.push(' ');
    summary.push_str(&super::sanitize(qname.as_bytes(), 120));
    if !dns.name_complete || dns.qclass.is_none() {
        summary.push_str(" (truncated)");
    }
    let mut id = Identification::new(
        Protocol::Dns,
        confidence,
        &summary,
        Evidence::new(dir, data, offset, dns.used, rule),
    );
    id.push("dns.id", &format!("0x{:04x}", dns.id));
    id.push("dns.kind", kind);
    id.push("dns.opcode", opcode_name(dns.opcode));
    id.push("dns.qname", &qname);
    if let Some(t) = dns.qtype {
        id.push("dns.qtype", &qtype_name(t));
    }
    if let Some(c) = dns.qclass {
        id.push("dns.qclass", &c.to_string());
    }
    if dns.response {
        id.push("dns.rcode", rcode_name(dns.rcode));
        id.push("dns.answers", &dns.ancount.to_string());
    }
    if !dns.name_complete || dns.qclass.is_none() {
        id.push("dns.partial", "true");
    }
    id
}

/// Recognises a DNS message in a UDP payload.
///
/// Requires a 12-byte header with opcode QUERY, IQUERY, STATUS, NOTIFY or
/// UPDATE, the Z bit clear, QDCOUNT 1..=4, other counts ≤ 64 (a plain query
/// has rcode 0, no authority records, and no answers unless its id is 0 as
/// in mDNS), responses rcode ≤ 10; then the first question: uncompressed
/// labels of 1..=63 bytes from `[A-Za-z0-9-_*/]`, ≤ 255 bytes in all, a
/// non-zero QTYPE and a QCLASS of IN, CH, HS, NONE or ANY (the mDNS
/// unicast-response bit allowed). The capture may cut the question: at
/// least one complete label (or a complete root question) must be present.
/// High confidence when the whole question is present and QR matches the
/// direction (query from the client, response from the server), medium
/// otherwise, low when the name itself is cut.
pub fn udp(dir: Direction, data: &[u8]) -> Option<Identification> {
    let dns = parse(data, false)?;
    if !dns.enough() {
        return None;
    }
    Some(build(
        dir,
        data,
        0,
        &dns,
        "dns header sane + question name labels valid at offset 0",
    ))
}

/// Recognises a DNS message over TCP: a 2-byte length ≥ 17, then a message
/// meeting the same checks as [`udp`]. If the declared length ends inside
/// the question the bytes are not DNS; if the capture ends first, the
/// question may be partial.
pub fn tcp(dir: Direction, data: &[u8]) -> Option<Identification> {
    let mut r = Reader::new(data);
    let len = usize::from(r.u16()?);
    if len < MIN_TCP_LEN {
        return None;
    }
    let (msg, whole) = r.take_up_to(len);
    let dns = parse(msg, whole)?;
    if !dns.enough() {
        return None;
    }
    let mut id = build(
        dir,
        data,
        2,
        &dns,
        "dns-over-tcp length prefix + header sane + question name labels valid",
    );
    id.evidence = Evidence::new(dir, data, 0, dns.used.saturating_add(2), id.evidence.rule);
    Some(id)
}

/// Adds the response code and answer count from the server side.
pub(crate) fn enrich_with_response(id: &mut Identification, server: &[u8], over_tcp: bool) {
    let msg = if over_tcp {
        server.get(2..).unwrap_or(&[])
    } else {
        server
    };
    if let Some(d) = parse(msg, false)
        && d.response
    {
        id.push("dns.rcode", rcode_name(d.rcode));
        id.push("dns.answers", &d.ancount.to_string());
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::identify::testutil::assert_all_prefixes;

    /// Query for `evil.example` type A class IN with an EDNS OPT record.
    const QUERY: &[u8] = b"\x12\x34\x01\x20\x00\x01\x00\x00\x00\x00\x00\x01\
\x04evil\x07example\x00\x00\x01\x00\x01\
\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00";

    #[test]
    fn udp_query() {
        let id = udp(Direction::Client, QUERY).unwrap();
        assert_eq!(id.confidence, Confidence::High);
        assert_eq!(id.field("dns.qname"), Some("evil.example"));
        assert_eq!(id.field("dns.qtype"), Some("A"));
        assert_eq!(id.summary, "DNS query A evil.example");
        assert_eq!(id.evidence.len, 12 + 14 + 4);
        // First complete label "evil" ends at 12 + 5.
        assert_all_prefixes(QUERY, Protocol::Dns, 17, |p| udp(Direction::Client, p));
        let mid = udp(Direction::Client, &QUERY[..20]).unwrap();
        assert_eq!(mid.confidence, Confidence::Low);
        assert_eq!(mid.field("dns.qname"), Some("evil..."));
        let no_type = udp(Direction::Client, &QUERY[..26]).unwrap();
        assert_eq!(no_type.confidence, Confidence::Medium);
    }

    #[test]
    fn tcp_query_and_response() {
        let mut msg = vec![0x00, u8::try_from(QUERY.len()).unwrap()];
        msg.extend(QUERY);
        let id = tcp(Direction::Client, &msg).unwrap();
        assert_eq!(id.field("dns.qname"), Some("evil.example"));
        assert_eq!(id.evidence.offset, 0);
        assert_eq!(id.evidence.len, 2 + 30);
        assert_all_prefixes(&msg, Protocol::Dns, 19, |p| tcp(Direction::Client, p));
        // A declared length that ends inside the question is not DNS.
        let mut short = msg.clone();
        short[1] = 20;
        assert!(tcp(Direction::Client, &short).is_none());

        let mut resp = QUERY.to_vec();
        resp[2] = 0x81;
        resp[3] = 0x83; // QR, RD, RA, NXDOMAIN
        let r = udp(Direction::Server, &resp).unwrap();
        assert_eq!(r.field("dns.rcode"), Some("NXDOMAIN"));
        assert_eq!(r.confidence, Confidence::High);
        let mut q = udp(Direction::Client, QUERY).unwrap();
        enrich_with_response(&mut q, &resp, false);
        assert_eq!(q.field("dns.rcode"), Some("NXDOMAIN"));
    }

    #[test]
    fn look_alikes() {
        let bad_edits: &[(usize, u8)] = &[
            (2, 0x19),  // opcode 3
            (3, 0x40),  // Z bit
            (5, 0x00),  // QDCOUNT 0
            (4, 0x01),  // QDCOUNT 257
            (7, 0x01),  // answers in a query
            (12, 0xc0), // pointer in first name
            (12, 0x40), // reserved label type
            (14, b'!'), // bad label character
            (27, 0x00), // QTYPE 0 (bytes 26..28)
            (29, 0x09), // QCLASS 9 (bytes 28..30)
        ];
        for &(i, v) in bad_edits {
            let mut b = QUERY.to_vec();
            b[i] = v;
            assert!(udp(Direction::Client, &b).is_none(), "edit {i}");
        }
        assert!(udp(Direction::Client, b"GET / HTTP/1.1\r\nHost: x\r\n").is_none());
        assert!(udp(Direction::Client, &[0u8; 40]).is_none());
        // Root priming query: NS for "."
        let root = b"\xab\xcd\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x01";
        let id = udp(Direction::Client, root).unwrap();
        assert_eq!(id.field("dns.qname"), Some("."));
        assert!(udp(Direction::Client, &root[..13]).is_none());
    }
}
