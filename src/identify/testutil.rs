//! Test helpers: sample builders and the all-prefixes truncation checker.
#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use super::{Identification, MAX_FIELD_CHARS, MAX_SUMMARY_CHARS, Protocol, identify};
use crate::Transport;

/// Asserts that an identification is safe to print: summary and field
/// values are printable ASCII within their caps, evidence hex is sane.
pub(crate) fn assert_sane(id: &Identification, input_len: usize) {
    let printable = |s: &str| s.bytes().all(|b| (0x20..=0x7e).contains(&b));
    assert!(
        printable(&id.summary),
        "summary not printable: {:?}",
        id.summary
    );
    assert!(id.summary.chars().count() <= MAX_SUMMARY_CHARS);
    for (k, v) in &id.fields {
        assert!(printable(k) && printable(v), "field {k}={v:?}");
        assert!(v.chars().count() <= MAX_FIELD_CHARS, "field {k} too long");
    }
    assert!(id.evidence.hex.len() <= 64);
    assert_eq!(id.evidence.hex.len() % 2, 0);
    assert!(id.evidence.hex.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(id.evidence.offset.saturating_add(id.evidence.len) <= input_len);
    assert!(!id.evidence.rule.is_empty());
}

/// Runs `f` on every prefix of `sample` (lengths 0..=len). Every answer
/// must be `expected` and sane; prefixes shorter than `from` must give
/// `None` and every prefix of length ≥ `from` must give `Some`. Also runs
/// [`identify`] on every prefix in both directions and transports to show
/// the whole pipeline never panics and always answers sanely.
pub(crate) fn assert_all_prefixes(
    sample: &[u8],
    expected: Protocol,
    from: usize,
    f: impl Fn(&[u8]) -> Option<Identification>,
) {
    assert!(from <= sample.len());
    for n in 0..=sample.len() {
        let p = &sample[..n];
        match f(p) {
            Some(id) => {
                assert!(
                    n >= from,
                    "prefix {n} < {from} unexpectedly matched: {id:?}"
                );
                assert_eq!(id.protocol, expected, "prefix {n}");
                assert_sane(&id, n);
            }
            None => assert!(n < from, "prefix {n} (>= {from}) not recognised"),
        }
        for t in [Transport::Tcp, Transport::Udp] {
            let a = identify(t, p, &[]);
            assert_sane(&a, n);
            let b = identify(t, &[], p);
            assert_sane(&b, n);
            let c = identify(t, p, p);
            assert_sane(&c, n);
        }
    }
}

/// What to put in a synthetic ClientHello.
pub(crate) struct ClientHelloSpec {
    pub ciphers: Vec<u16>,
    /// Extension types in order; SNI/ALPN/supported_versions/
    /// signature_algorithms get their content from the fields below,
    /// others are empty.
    pub extensions: Vec<u16>,
    pub sni: Option<Vec<u8>>,
    pub alpn: Vec<Vec<u8>>,
    pub supported_versions: Vec<u16>,
    pub sig_algs: Vec<u16>,
}

fn be16(v: usize) -> [u8; 2] {
    u16::try_from(v).unwrap().to_be_bytes()
}

fn u16s(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}

/// Builds a TLS record holding one ClientHello (legacy version TLS 1.2,
/// 32-byte session id, null compression).
pub(crate) fn build_client_hello(spec: &ClientHelloSpec) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend((0..32u8).map(|i| i.wrapping_mul(7)));
    body.push(32);
    body.extend([0xab; 32]);
    let cs = u16s(&spec.ciphers);
    body.extend(be16(cs.len()));
    body.extend(cs);
    body.extend([1, 0]);
    if !spec.extensions.is_empty() {
        let mut exts = Vec::new();
        for &ty in &spec.extensions {
            let content: Vec<u8> = match ty {
                0x0000 => {
                    let name = spec.sni.clone().unwrap_or_default();
                    let mut entry = vec![0];
                    entry.extend(be16(name.len()));
                    entry.extend(name);
                    let mut c = be16(entry.len()).to_vec();
                    c.extend(entry);
                    c
                }
                0x0010 => {
                    let mut list = Vec::new();
                    for p in &spec.alpn {
                        list.push(u8::try_from(p.len()).unwrap());
                        list.extend(p);
                    }
                    let mut c = be16(list.len()).to_vec();
                    c.extend(list);
                    c
                }
                0x002b => {
                    let l = u16s(&spec.supported_versions);
                    let mut c = vec![u8::try_from(l.len()).unwrap()];
                    c.extend(l);
                    c
                }
                0x000d => {
                    let l = u16s(&spec.sig_algs);
                    let mut c = be16(l.len()).to_vec();
                    c.extend(l);
                    c
                }
                t if super::util::is_grease(t) => vec![0],
                _ => vec![],
            };
            exts.extend(ty.to_be_bytes());
            exts.extend(be16(content.len()));
            exts.extend(content);
        }
        body.extend(be16(exts.len()));
        body.extend(exts);
    }
    wrap_handshake(1, &body)
}

/// Builds a TLS record holding one ServerHello.
pub(crate) fn build_server_hello(cipher: u16, supported_version: Option<u16>) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend([0x5a; 32]);
    body.push(0);
    body.extend(cipher.to_be_bytes());
    body.push(0);
    let mut exts = Vec::new();
    if let Some(v) = supported_version {
        exts.extend([0x00, 0x2b, 0x00, 0x02]);
        exts.extend(v.to_be_bytes());
    }
    exts.extend([0xff, 0x01, 0x00, 0x01, 0x00]);
    body.extend(be16(exts.len()));
    body.extend(exts);
    wrap_handshake(2, &body)
}

fn wrap_handshake(hs_type: u8, body: &[u8]) -> Vec<u8> {
    let mut hs = vec![hs_type];
    hs.extend(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
    hs.extend(body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend(be16(hs.len()));
    rec.extend(hs);
    rec
}

/// A deterministic pseudo-random byte stream (xorshift), for entropy tests
/// and fuzz-style robustness loops.
pub(crate) fn pseudo_random(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
