//! TLS ClientHello / ServerHello parsing and the JA4 client fingerprint.

use super::util::{Reader, hex, is_grease, sanitize};
use super::{Confidence, Direction, Evidence, Identification, Protocol};
use sha2::{Digest, Sha256};

const RECORD_HANDSHAKE: u8 = 22;
const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
/// Largest plaintext record (RFC 8446 5.1).
const MAX_RECORD: usize = 16_384;
/// Smallest ClientHello body: version 2 + random 32 + sid len 1 +
/// cipher len 2 + one cipher 2 + compression len 1 + one method 1.
const MIN_CLIENT_HELLO: usize = 41;
/// Smallest ServerHello body: version 2 + random 32 + sid len 1 + cipher 2 +
/// compression 1.
const MIN_SERVER_HELLO: usize = 38;
/// Bytes needed before a recogniser answers: record header 5 + handshake
/// type 1 + handshake length 3 + hello version 2.
const MIN_PRESENT: usize = 11;

const EXT_SNI: u16 = 0x0000;
const EXT_SIG_ALGS: u16 = 0x000d;
const EXT_ALPN: u16 = 0x0010;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;

/// SHA-256("HelloRetryRequest"), the ServerHello.random of a HelloRetryRequest.
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// What could be read from a (possibly truncated) ClientHello.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// `legacy_version` of the hello.
    pub legacy_version: u16,
    /// Cipher suites in order, GREASE included.
    pub ciphers: Vec<u16>,
    /// `true` once the whole cipher list has been read.
    pub ciphers_complete: bool,
    /// Extension types in order, GREASE included.
    pub extensions: Vec<u16>,
    /// First host_name of the SNI extension.
    pub sni: Option<Vec<u8>>,
    /// ALPN protocol names in order.
    pub alpn: Vec<Vec<u8>>,
    /// supported_versions list, GREASE included.
    pub supported_versions: Vec<u16>,
    /// signature_algorithms list in order, GREASE included.
    pub sig_algs: Vec<u16>,
    /// `true` when the whole hello was present.
    pub complete: bool,
    /// Declared handshake body length.
    pub declared_len: usize,
    /// Handshake body bytes actually present.
    pub present_len: usize,
}

impl ClientHello {
    /// The highest non-GREASE supported_versions entry, else legacy_version.
    pub fn effective_version(&self) -> u16 {
        self.supported_versions
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .max()
            .unwrap_or(self.legacy_version)
    }

    /// The JA4 fingerprint (FoxIO spec) and its raw (`ja4_r`) form, for a
    /// hello carried over TCP (`t`) or QUIC (`q`).
    ///
    /// Only meaningful for a complete hello; callers check [`Self::complete`].
    pub fn ja4(&self, quic: bool) -> (String, String) {
        let proto = if quic { 'q' } else { 't' };
        let version = ja4_version(self.effective_version());
        let sni = if self.extensions.contains(&EXT_SNI) {
            'd'
        } else {
            'i'
        };
        let mut ciphers: Vec<u16> = self
            .ciphers
            .iter()
            .copied()
            .filter(|c| !is_grease(*c))
            .collect();
        let exts_all: Vec<u16> = self
            .extensions
            .iter()
            .copied()
            .filter(|e| !is_grease(*e))
            .collect();
        let cipher_count = ciphers.len().min(99);
        let ext_count = exts_all.len().min(99);
        let alpn = ja4_alpn(self.alpn.first().map(Vec::as_slice).unwrap_or(&[]));
        let a = format!("{proto}{version}{sni}{cipher_count:02}{ext_count:02}{alpn}");

        ciphers.sort_unstable();
        let cipher_list = hex_list(&ciphers);
        let b = if ciphers.is_empty() {
            "000000000000".to_owned()
        } else {
            sha256_12(&cipher_list)
        };

        let mut exts: Vec<u16> = exts_all
            .into_iter()
            .filter(|e| *e != EXT_SNI && *e != EXT_ALPN)
            .collect();
        exts.sort_unstable();
        let sigs: Vec<u16> = self
            .sig_algs
            .iter()
            .copied()
            .filter(|s| !is_grease(*s))
            .collect();
        let mut c_input = hex_list(&exts);
        if !sigs.is_empty() {
            c_input.push('_');
            c_input.push_str(&hex_list(&sigs));
        }
        let c = if exts.is_empty() {
            "000000000000".to_owned()
        } else {
            sha256_12(&c_input)
        };
        let ja4 = format!("{a}_{b}_{c}");
        let ja4_r = format!("{a}_{cipher_list}_{c_input}");
        (ja4, ja4_r)
    }
}

/// JA4's two-character version code.
fn ja4_version(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// JA4's ALPN characters: first and last byte of the first ALPN value if
/// both are ASCII alphanumeric, else first and last hex digit of the value,
/// `00` if there is none.
fn ja4_alpn(first: &[u8]) -> String {
    match (first.first(), first.last()) {
        (Some(&f), Some(&l)) if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() => {
            format!("{}{}", char::from(f), char::from(l))
        }
        (Some(_), Some(_)) => {
            let h = hex(first);
            let f = h.chars().next().unwrap_or('0');
            let l = h.chars().last().unwrap_or('0');
            format!("{f}{l}")
        }
        _ => "00".to_owned(),
    }
}

fn hex_list(v: &[u16]) -> String {
    v.iter()
        .map(|x| format!("{x:04x}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn sha256_12(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    let bytes: &[u8] = &digest;
    hex(bytes.get(..6).unwrap_or(bytes))
}

/// Human name of a TLS/SSL protocol version.
pub fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".to_owned(),
        0x0301 => "TLS 1.0".to_owned(),
        0x0302 => "TLS 1.1".to_owned(),
        0x0303 => "TLS 1.2".to_owned(),
        0x0304 => "TLS 1.3".to_owned(),
        0x7f00..=0x7fff => format!("TLS 1.3 draft {}", v & 0xff),
        _ => format!("0x{v:04x}"),
    }
}

/// A TLS record header followed by a handshake header of type `hs_type`.
struct HandshakeStart<'a> {
    /// Handshake body bytes present (at most the declared length).
    body: &'a [u8],
    /// Declared handshake body length.
    hs_len: usize,
    /// Bytes of the record present (header included).
    record_present: usize,
}

/// Checks the record and handshake headers. `None` if they are not TLS or
/// fewer than [`MIN_PRESENT`] bytes exist.
fn handshake_start(data: &[u8], hs_type: u8, min_body: usize) -> Option<HandshakeStart<'_>> {
    if data.len() < MIN_PRESENT {
        return None;
    }
    let mut r = Reader::new(data);
    if r.u8()? != RECORD_HANDSHAKE {
        return None;
    }
    let rec_version = r.u16()?;
    if !(0x0301..=0x0304).contains(&rec_version) {
        return None;
    }
    let rec_len = usize::from(r.u16()?);
    if !(4..=MAX_RECORD).contains(&rec_len) {
        return None;
    }
    if r.u8()? != hs_type {
        return None;
    }
    let hs_len = usize::try_from(r.u24()?).ok()?;
    // The handshake message must fit in this record (fragmented hellos are
    // not reassembled) and be long enough for the fixed fields.
    if hs_len < min_body || hs_len.checked_add(4)? > rec_len {
        return None;
    }
    let (body, _) = r.take_up_to(hs_len);
    let record_present = data.len().min(rec_len.saturating_add(5));
    Some(HandshakeStart {
        body,
        hs_len,
        record_present,
    })
}

/// Parses a ClientHello body. `Err(())` when something present contradicts
/// the format; `Ok` with `complete == false` when the bytes ran out first.
fn parse_client_hello(body: &[u8], hs_len: usize) -> Result<ClientHello, ()> {
    let mut ch = ClientHello {
        declared_len: hs_len,
        present_len: body.len(),
        ..ClientHello::default()
    };
    let mut r = Reader::new(body);
    // Does a length field of `n` starting after the current position stay
    // within the declared handshake?
    let fits = |r: &Reader<'_>, n: usize| r.pos().checked_add(n).is_some_and(|e| e <= hs_len);

    let Some(v) = r.u16() else { return Ok(ch) };
    if !(0x0300..=0x0304).contains(&v) {
        return Err(());
    }
    ch.legacy_version = v;
    if !r.take_up_to(32).1 {
        return Ok(ch);
    }
    let Some(sid_len) = r.u8() else { return Ok(ch) };
    if sid_len > 32 {
        return Err(());
    }
    if !r.take_up_to(usize::from(sid_len)).1 {
        return Ok(ch);
    }
    let Some(cl) = r.u16() else { return Ok(ch) };
    let cl = usize::from(cl);
    if cl == 0 || cl % 2 != 0 || !fits(&r, cl) {
        return Err(());
    }
    let (cs, full) = r.take_up_to(cl);
    ch.ciphers = u16_list(cs);
    if !full {
        return Ok(ch);
    }
    ch.ciphers_complete = true;
    let Some(comp_len) = r.u8() else {
        return Ok(ch);
    };
    let comp_len = usize::from(comp_len);
    if comp_len == 0 || !fits(&r, comp_len) {
        return Err(());
    }
    if !r.take_up_to(comp_len).1 {
        return Ok(ch);
    }
    if r.pos() == hs_len {
        // No extensions at all (SSL 3.0 style).
        ch.complete = true;
        return Ok(ch);
    }
    let Some(ext_total) = r.u16() else {
        return Ok(ch);
    };
    if r.pos().checked_add(usize::from(ext_total)) != Some(hs_len) {
        return Err(());
    }
    while r.pos() < hs_len {
        let Some(ty) = r.u16() else { return Ok(ch) };
        ch.extensions.push(ty);
        let Some(len) = r.u16() else { return Ok(ch) };
        let len = usize::from(len);
        if !fits(&r, len) {
            return Err(());
        }
        let (data, full) = r.take_up_to(len);
        if !full {
            return Ok(ch);
        }
        parse_extension(&mut ch, ty, data);
    }
    ch.complete = true;
    Ok(ch)
}

fn u16_list(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2)
        .filter_map(|p| match p {
            [x, y] => Some(u16::from_be_bytes([*x, *y])),
            _ => None,
        })
        .collect()
}

/// Reads the content of the extensions we report. Malformed content is
/// ignored (the outer lengths were already validated).
fn parse_extension(ch: &mut ClientHello, ty: u16, data: &[u8]) {
    let mut r = Reader::new(data);
    match ty {
        EXT_SNI => {
            let Some(list_len) = r.u16() else { return };
            let (mut list, _) = r.take_up_to(usize::from(list_len));
            while !list.is_empty() {
                let mut lr = Reader::new(list);
                let (Some(kind), Some(n)) = (lr.u8(), lr.u16()) else {
                    return;
                };
                let Some(name) = lr.take(usize::from(n)) else {
                    return;
                };
                if kind == 0 && ch.sni.is_none() {
                    ch.sni = Some(name.to_vec());
                }
                list = lr.rest();
            }
        }
        EXT_ALPN => {
            let Some(list_len) = r.u16() else { return };
            let (list, _) = r.take_up_to(usize::from(list_len));
            let mut lr = Reader::new(list);
            while let Some(n) = lr.u8() {
                let Some(p) = lr.take(usize::from(n)) else {
                    return;
                };
                ch.alpn.push(p.to_vec());
            }
        }
        EXT_SUPPORTED_VERSIONS => {
            let Some(n) = r.u8() else { return };
            let (list, _) = r.take_up_to(usize::from(n));
            ch.supported_versions = u16_list(list);
        }
        EXT_SIG_ALGS => {
            let Some(n) = r.u16() else { return };
            let (list, _) = r.take_up_to(usize::from(n));
            ch.sig_algs = u16_list(list);
        }
        _ => {}
    }
}

/// Parses a TLS ClientHello at the start of `data`, truncated or not.
/// Exposed for callers that want the raw lists (e.g. to recompute JA4).
pub fn parse_client_hello_record(data: &[u8]) -> Option<ClientHello> {
    let hs = handshake_start(data, HS_CLIENT_HELLO, MIN_CLIENT_HELLO)?;
    parse_client_hello(hs.body, hs.hs_len).ok()
}

/// Recognises a TLS ClientHello at offset 0.
///
/// Requires: record content type 22, record version 0x0301..=0x0304, record
/// length 4..=16384, handshake type 1 with a length ≥ 41 that fits inside
/// the record, client version 0x0300..=0x0304, and then — as far as the
/// bytes go — session id ≤ 32, an even non-empty cipher list, ≥ 1
/// compression method and an extension block whose length equals the rest
/// of the handshake, with every extension inside it. At least 11 bytes must
/// be present. Confidence is high once the whole cipher list was read,
/// medium before. A truncated hello gets `tls.partial = true` and no JA4
/// (its counts and hashes need every cipher and extension).
pub fn client_hello(dir: Direction, data: &[u8]) -> Option<Identification> {
    let hs = handshake_start(data, HS_CLIENT_HELLO, MIN_CLIENT_HELLO)?;
    let ch = parse_client_hello(hs.body, hs.hs_len).ok()?;
    let confidence = if ch.ciphers_complete {
        Confidence::High
    } else {
        Confidence::Medium
    };
    let mut summary = String::from("TLS ClientHello");
    if !ch.complete {
        summary.push_str(&format!(
            " (truncated: {} of {} handshake bytes)",
            ch.present_len, ch.declared_len
        ));
    }
    let sni = ch.sni.as_deref().map(|s| sanitize(s, 100));
    if let Some(s) = &sni {
        summary.push_str(&format!(" SNI={s}"));
    }
    let alpn: Vec<String> = ch.alpn.iter().map(|p| sanitize(p, 32)).collect();
    if !alpn.is_empty() {
        summary.push_str(&format!(" ALPN={}", alpn.join(",")));
    }
    let ja4 = ch.complete.then(|| ch.ja4(false));
    if let Some((j, _)) = &ja4 {
        summary.push_str(&format!(" (JA4 {j})"));
    }

    let rule = if ch.complete {
        "tls record type 22 + handshake ClientHello at offset 0, lengths consistent"
    } else {
        "tls record type 22 + handshake ClientHello at offset 0 (truncated), lengths consistent so far"
    };
    let mut id = Identification::new(
        Protocol::Tls,
        confidence,
        &summary,
        Evidence::new(dir, data, 0, hs.record_present, rule),
    );
    id.push("tls.handshake", "client_hello");
    let sv_seen = ch.extensions.contains(&EXT_SUPPORTED_VERSIONS);
    if ch.complete || sv_seen {
        id.push("tls.version", &version_name(ch.effective_version()));
    }
    id.push("tls.client_version", &version_name(ch.legacy_version));
    if let Some(s) = &ch.sni {
        id.push_bytes("tls.sni", s);
    }
    if !alpn.is_empty() {
        let joined: Vec<u8> = ch.alpn.join(&b","[..]);
        id.push_bytes("tls.alpn", &joined);
    }
    let n_ciphers = ch.ciphers.iter().filter(|c| !is_grease(**c)).count();
    id.push("tls.cipher_count", &n_ciphers.to_string());
    if let Some((j, jr)) = ja4 {
        id.push("tls.ja4", &j);
        id.push("tls.ja4_r", &jr);
    }
    if !ch.complete {
        id.push("tls.partial", "true");
    }
    Some(id)
}

/// What a ServerHello says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ServerHello {
    legacy_version: u16,
    cipher: Option<u16>,
    selected_version: Option<u16>,
    hello_retry: bool,
    complete: bool,
}

fn parse_server_hello(body: &[u8], hs_len: usize) -> Result<ServerHello, ()> {
    let mut sh = ServerHello::default();
    let mut r = Reader::new(body);
    let fits = |r: &Reader<'_>, n: usize| r.pos().checked_add(n).is_some_and(|e| e <= hs_len);
    let Some(v) = r.u16() else { return Ok(sh) };
    if !(0x0300..=0x0304).contains(&v) {
        return Err(());
    }
    sh.legacy_version = v;
    let (random, full) = r.take_up_to(32);
    if !full {
        return Ok(sh);
    }
    sh.hello_retry = random == HRR_RANDOM;
    let Some(sid_len) = r.u8() else { return Ok(sh) };
    if sid_len > 32 {
        return Err(());
    }
    if !r.take_up_to(usize::from(sid_len)).1 {
        return Ok(sh);
    }
    let Some(cipher) = r.u16() else { return Ok(sh) };
    sh.cipher = Some(cipher);
    let Some(_compression) = r.u8() else {
        return Ok(sh);
    };
    if r.pos() == hs_len {
        sh.complete = true;
        return Ok(sh);
    }
    let Some(ext_total) = r.u16() else {
        return Ok(sh);
    };
    if r.pos().checked_add(usize::from(ext_total)) != Some(hs_len) {
        return Err(());
    }
    while r.pos() < hs_len {
        let (Some(ty), Some(len)) = (r.u16(), r.u16()) else {
            return Ok(sh);
        };
        let len = usize::from(len);
        if !fits(&r, len) {
            return Err(());
        }
        let (data, full) = r.take_up_to(len);
        if !full {
            return Ok(sh);
        }
        if ty == EXT_SUPPORTED_VERSIONS {
            sh.selected_version = Reader::new(data).u16();
        }
    }
    sh.complete = true;
    Ok(sh)
}

/// Recognises a TLS ServerHello at offset 0: the same record and handshake
/// checks as [`client_hello`] with handshake type 2 and a length ≥ 38. The
/// negotiated version is supported_versions' selection if present, else
/// the hello's version. High confidence once the cipher suite was read.
pub fn server_hello(dir: Direction, data: &[u8]) -> Option<Identification> {
    let hs = handshake_start(data, HS_SERVER_HELLO, MIN_SERVER_HELLO)?;
    let sh = parse_server_hello(hs.body, hs.hs_len).ok()?;
    let confidence = if sh.cipher.is_some() {
        Confidence::High
    } else {
        Confidence::Medium
    };
    let version = sh.selected_version.unwrap_or(sh.legacy_version);
    let kind = if sh.hello_retry {
        "HelloRetryRequest"
    } else {
        "ServerHello"
    };
    let mut summary = format!("TLS {kind} {}", version_name(version));
    if let Some(c) = sh.cipher {
        summary.push_str(&format!(" cipher=0x{c:04x}"));
    }
    if !sh.complete {
        summary.push_str(" (truncated)");
    }
    let mut id = Identification::new(
        Protocol::Tls,
        confidence,
        &summary,
        Evidence::new(
            dir,
            data,
            0,
            hs.record_present,
            "tls record type 22 + handshake ServerHello at offset 0, lengths consistent",
        ),
    );
    id.push("tls.handshake", "server_hello");
    id.push("tls.version", &version_name(version));
    if let Some(c) = sh.cipher {
        id.push("tls.cipher", &format!("0x{c:04x}"));
    }
    if sh.hello_retry {
        id.push("tls.hello_retry_request", "true");
    }
    if !sh.complete {
        id.push("tls.partial", "true");
    }
    Some(id)
}

/// Adds the server's negotiated version and cipher to a ClientHello answer.
/// The bytes after any complete Alert (21) or ChangeCipherSpec (20)
/// records at the start (at most 4): a server may send a warning alert
/// before its ServerHello in the same segment.
fn after_alerts(mut data: &[u8]) -> &[u8] {
    for _ in 0..4 {
        match data {
            [20 | 21, 3, _, hi, lo, ..] => {
                let len = usize::from(u16::from_be_bytes([*hi, *lo]));
                if len > MAX_RECORD {
                    break;
                }
                match data.get(5 + len..) {
                    Some(rest) if !rest.is_empty() => data = rest,
                    _ => break,
                }
            }
            _ => break,
        }
    }
    data
}

pub(crate) fn enrich_with_server(id: &mut Identification, server: &[u8]) {
    if let Some(hs) = handshake_start(after_alerts(server), HS_SERVER_HELLO, MIN_SERVER_HELLO)
        && let Ok(sh) = parse_server_hello(hs.body, hs.hs_len)
    {
        let v = sh.selected_version.unwrap_or(sh.legacy_version);
        id.push("tls.server_version", &version_name(v));
        if let Some(c) = sh.cipher {
            id.push("tls.server_cipher", &format!("0x{c:04x}"));
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::identify::testutil::{
        ClientHelloSpec, assert_all_prefixes, build_client_hello, build_server_hello,
    };

    /// The FoxIO JA4 spec's worked example, rebuilt as a ClientHello with
    /// GREASE values sprinkled in (which JA4 must ignore).
    fn spec_example() -> ClientHelloSpec {
        ClientHelloSpec {
            ciphers: vec![
                0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
                0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ],
            // Order from the spec's "original" list, GREASE first and last.
            extensions: vec![
                0x2a2a, 0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005,
                0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015, 0x3a3a,
            ],
            sni: Some(b"evil.example".to_vec()),
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            supported_versions: vec![0x4a4a, 0x0304, 0x0303],
            sig_algs: vec![
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
            ],
        }
    }

    /// JA4 of the spec example.
    ///
    /// Expected value cross-checked two ways: it is the value printed in
    /// FoxIO's JA4.md for this cipher/extension/signature list, and it was
    /// recomputed independently with python3 + hashlib:
    ///
    /// ```text
    /// import hashlib
    /// h = lambda s: hashlib.sha256(s.encode()).hexdigest()[:12]
    /// c = ",".join(sorted(["1301","1302","1303","c02b","c02f","c02c","c030","cca9",
    ///      "cca8","c013","c014","009c","009d","002f","0035"]))
    /// e = ",".join(sorted(["001b","0033","4469","0017","002d","000d","0005","0023",
    ///      "0012","002b","ff01","000b","000a","0015"]))
    /// s = "0403,0804,0401,0503,0805,0501,0806,0601"
    /// print("t13d1516h2_" + h(c) + "_" + h(e + "_" + s))
    /// # -> t13d1516h2_8daaf6152771_e5627efa2ab1
    /// ```
    #[test]
    fn ja4_matches_spec_example_and_python() {
        let bytes = build_client_hello(&spec_example());
        let id = client_hello(Direction::Client, &bytes).unwrap();
        assert_eq!(id.protocol, Protocol::Tls);
        assert_eq!(id.confidence, Confidence::High);
        assert_eq!(
            id.field("tls.ja4"),
            Some("t13d1516h2_8daaf6152771_e5627efa2ab1")
        );
        assert_eq!(
            id.field("tls.ja4_r"),
            Some(
                "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
            )
        );
        assert_eq!(id.field("tls.sni"), Some("evil.example"));
        assert_eq!(id.field("tls.alpn"), Some("h2,http/1.1"));
        assert_eq!(id.field("tls.version"), Some("TLS 1.3"));
        assert_eq!(id.field("tls.client_version"), Some("TLS 1.2"));
        assert_eq!(id.field("tls.cipher_count"), Some("15"));
        assert_eq!(id.field("tls.partial"), None);
        assert_eq!(
            id.summary,
            "TLS ClientHello SNI=evil.example ALPN=h2,http/1.1 (JA4 t13d1516h2_8daaf6152771_e5627efa2ab1)"
        );
        assert_eq!(id.evidence.offset, 0);
        assert_eq!(id.evidence.len, bytes.len());
        assert_eq!(id.evidence.hex.len(), 64);
    }

    /// No SNI, no ALPN, no signature_algorithms, no supported_versions.
    ///
    /// python3:
    /// ```text
    /// import hashlib
    /// h = lambda s: hashlib.sha256(s.encode()).hexdigest()[:12]
    /// print("t12i020200_" + h("002f,c02f") + "_" + h("000a,000b"))
    /// # -> t12i020200_37f356531c84_33a13ba74d1c
    /// ```
    #[test]
    fn ja4_minimal_hello_matches_python() {
        let spec = ClientHelloSpec {
            ciphers: vec![0xc02f, 0x002f],
            extensions: vec![0x000b, 0x000a],
            sni: None,
            alpn: vec![],
            supported_versions: vec![],
            sig_algs: vec![],
        };
        let bytes = build_client_hello(&spec);
        let id = client_hello(Direction::Client, &bytes).unwrap();
        assert_eq!(
            id.field("tls.ja4"),
            Some("t12i020200_37f356531c84_33a13ba74d1c")
        );
        assert_eq!(id.field("tls.version"), Some("TLS 1.2"));
        assert!(id.summary.starts_with("TLS ClientHello (JA4 t12i020200_"));
    }

    #[test]
    fn ja4_no_extensions_and_alpn_edge_cases() {
        let spec = ClientHelloSpec {
            ciphers: vec![0x0035],
            extensions: vec![],
            sni: None,
            alpn: vec![],
            supported_versions: vec![],
            sig_algs: vec![],
        };
        let bytes = build_client_hello(&spec);
        let id = client_hello(Direction::Client, &bytes).unwrap();
        let ja4 = id.field("tls.ja4").unwrap();
        assert!(ja4.starts_with("t12i010000_"), "{ja4}");
        assert!(ja4.ends_with("_000000000000"), "{ja4}");
        assert_eq!(ja4_alpn(b""), "00");
        assert_eq!(ja4_alpn(b"h"), "hh");
        assert_eq!(ja4_alpn(b"http/1.1"), "h1");
        assert_eq!(ja4_alpn(&[0xab]), "ab");
        assert_eq!(ja4_alpn(&[0xab, 0xcd]), "ad");
        assert_eq!(ja4_alpn(&[0x30, 0xab]), "3b");
        assert_eq!(ja4_alpn(&[0x30, 0x31, 0xab, 0xcd]), "3d");
        assert_eq!(ja4_alpn(&[0x30, 0xab, 0xcd, 0x31]), "01");
        assert_eq!(ja4_version(0x0304), "13");
        assert_eq!(ja4_version(0x1234), "00");
    }

    #[test]
    fn every_truncation_of_client_hello() {
        let bytes = build_client_hello(&spec_example());
        assert_all_prefixes(&bytes, Protocol::Tls, MIN_PRESENT, |p| {
            client_hello(Direction::Client, p)
        });
        for n in MIN_PRESENT..bytes.len() {
            let id = client_hello(Direction::Client, &bytes[..n]).unwrap();
            assert_eq!(id.field("tls.partial"), Some("true"), "prefix {n}");
            assert_eq!(id.field("tls.ja4"), None, "prefix {n}");
            assert!(id.summary.contains("truncated"));
        }
        // The SNI is reported as soon as its extension is complete.
        let sni_end = bytes
            .windows(12)
            .position(|w| w == b"evil.example")
            .unwrap()
            + 12;
        let id = client_hello(Direction::Client, &bytes[..sni_end]).unwrap();
        assert_eq!(id.field("tls.sni"), Some("evil.example"));
        assert_eq!(id.confidence, Confidence::High);
    }

    #[test]
    fn server_hello_after_an_alert_record_is_read() {
        // issue 19: a warning alert record, then the ServerHello, in one segment
        let mut server = vec![21, 3, 3, 0, 2, 1, 112];
        server.extend(build_server_hello(0xc02f, None));
        let client = build_client_hello(&spec_example());
        let id = crate::identify::identify(crate::Transport::Tcp, &client, &server);
        assert_eq!(id.field("tls.server_version"), Some("TLS 1.2"));
        assert_eq!(id.field("tls.server_cipher"), Some("0xc02f"));
    }

    #[test]
    fn server_hello_and_truncations() {
        let bytes = build_server_hello(0x1301, Some(0x0304));
        let id = server_hello(Direction::Server, &bytes).unwrap();
        assert_eq!(id.field("tls.version"), Some("TLS 1.3"));
        assert_eq!(id.field("tls.cipher"), Some("0x1301"));
        assert_eq!(id.confidence, Confidence::High);
        assert_all_prefixes(&bytes, Protocol::Tls, MIN_PRESENT, |p| {
            server_hello(Direction::Server, p)
        });
        let tls12 = build_server_hello(0xc02f, None);
        let id = server_hello(Direction::Server, &tls12).unwrap();
        assert_eq!(id.field("tls.version"), Some("TLS 1.2"));
    }

    #[test]
    fn look_alikes_are_rejected() {
        let good = build_client_hello(&spec_example());
        // Wrong record type, version, handshake type.
        for (i, v) in [(0usize, 0x17u8), (1, 0x02), (2, 0x05), (5, 0x02)] {
            let mut b = good.clone();
            b[i] = v;
            assert!(client_hello(Direction::Client, &b).is_none(), "byte {i}");
        }
        // Handshake length larger than the record.
        let mut b = good.clone();
        b[6] = 0x01;
        assert!(client_hello(Direction::Client, &b).is_none());
        // Odd cipher list length.
        let mut b = good.clone();
        let cl_off = 5 + 4 + 2 + 32 + 1 + 32;
        b[cl_off + 1] |= 1;
        assert!(client_hello(Direction::Client, &b).is_none());
        // Extension block length not matching the handshake length.
        let mut b = good.clone();
        let n = b.len();
        b.truncate(n - 1);
        let id = client_hello(Direction::Client, &b).unwrap();
        assert_eq!(id.field("tls.partial"), Some("true"));
        // Random bytes starting with 0x16 0x03 0x01.
        let mut noise = vec![0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0xff];
        noise.extend(std::iter::repeat_n(0x41, 80));
        assert!(client_hello(Direction::Client, &noise).is_none());
        assert!(client_hello(Direction::Client, b"\x16\x03\x01").is_none());
        assert!(server_hello(Direction::Server, &good).is_none());
    }
}
