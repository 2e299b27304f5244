//! Bounds-checked helpers shared by the recognisers: a byte cursor, line
//! splitting, sanitising, hex and entropy.

use std::fmt::Write as _;

/// Maximum number of bytes rendered in [`super::Evidence::hex`].
pub(crate) const EVIDENCE_HEX_BYTES: usize = 32;

/// Keeps printable ASCII (0x20..=0x7e) and renders every other byte as
/// `\xNN` (lower-case hex), so the result is safe to print on a terminal
/// (no ESC, CR, LF, DEL, or raw UTF-8). The backslash itself is rendered as
/// `\x5c` so an escape in the output can never be confused with captured
/// text that merely looks like one.
///
/// The result is at most `max_chars` characters long. When the input does
/// not fit, it is cut at an escape boundary (an escape is never split) and
/// `...` is appended within the budget (if `max_chars < 3` the output is
/// simply cut).
pub fn sanitize(bytes: &[u8], max_chars: usize) -> String {
    let mut full_len: usize = 0;
    for &b in bytes {
        full_len = full_len.saturating_add(escaped_len(b));
    }
    let fits = full_len <= max_chars;
    let budget = if fits || max_chars < 3 {
        max_chars
    } else {
        max_chars.saturating_sub(3)
    };
    let mut out = String::with_capacity(full_len.min(max_chars));
    let mut used: usize = 0;
    for &b in bytes {
        let n = escaped_len(b);
        if used.saturating_add(n) > budget {
            break;
        }
        push_escaped(&mut out, b);
        used = used.saturating_add(n);
    }
    if !fits && max_chars >= 3 {
        out.push_str("...");
    }
    out
}

fn escaped_len(b: u8) -> usize {
    if is_plain(b) { 1 } else { 4 }
}

fn is_plain(b: u8) -> bool {
    (0x20..=0x7e).contains(&b) && b != b'\\'
}

fn push_escaped(out: &mut String, b: u8) {
    if is_plain(b) {
        out.push(char::from(b));
    } else {
        // Writing to a String cannot fail.
        let _ = write!(out, "\\x{b:02x}");
    }
}

/// Lower-case hex of `bytes` (no separators).
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Truncates an ASCII-or-not string to at most `max` characters, appending
/// `...` (within the budget) when something was cut.
pub(crate) fn cap_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let keep = max.saturating_sub(3);
    let mut out: String = s.chars().take(keep).collect();
    if max >= 3 {
        out.push_str("...");
    }
    out
}

/// Shannon entropy in bits per byte (plug-in estimate) and the
/// Miller–Madow bias-corrected estimate. Returns `(0.0, 0.0)` for empty input.
///
/// The plug-in estimate is biased low for short samples: 256 uniformly
/// random bytes score about 7.17 on average (and 128 random bytes can never
/// exceed log2(128) = 7.0), so the classifier decides on the corrected value
/// `H + (m - 1) / (2 n ln 2)` (m = distinct byte values seen) and reports both.
pub(crate) fn entropy(bytes: &[u8]) -> (f64, f64) {
    if bytes.is_empty() {
        return (0.0, 0.0);
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        if let Some(c) = counts.get_mut(usize::from(b)) {
            *c = c.saturating_add(1);
        }
    }
    let n = bytes.len() as f64;
    let mut h = 0.0f64;
    let mut distinct = 0u32;
    for &c in &counts {
        if c > 0 {
            distinct = distinct.saturating_add(1);
            let p = f64::from(c) / n;
            h -= p * p.log2();
        }
    }
    let corrected = h + (f64::from(distinct) - 1.0) / (2.0 * n * std::f64::consts::LN_2);
    (h.max(0.0), corrected.clamp(0.0, 8.0))
}

/// A forward-only cursor over a byte slice where every read is checked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Everything not yet read.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    /// Takes `n` bytes or, if fewer remain, all that remain. The flag is
    /// `true` when the full `n` bytes were available.
    pub(crate) fn take_up_to(&mut self, n: usize) -> (&'a [u8], bool) {
        let k = n.min(self.remaining());
        let s = self.take(k).unwrap_or(&[]);
        (s, k == n)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        let s = self.take(2)?;
        match s {
            [a, b] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        }
    }

    pub(crate) fn u24(&mut self) -> Option<u32> {
        let s = self.take(3)?;
        match s {
            [a, b, c] => Some(u32::from_be_bytes([0, *a, *b, *c])),
            _ => None,
        }
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        let s = self.take(4)?;
        match s {
            [a, b, c, d] => Some(u32::from_be_bytes([*a, *b, *c, *d])),
            _ => None,
        }
    }
}

/// One line of a text protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Line<'a> {
    /// Offset of the first byte of the line within the buffer.
    pub offset: usize,
    /// The line without its terminator (`\r\n` or `\n`).
    pub text: &'a [u8],
    /// `true` when a `\n` terminator was present, `false` when the buffer
    /// ended first (truncated capture).
    pub terminated: bool,
    /// Length including the terminator.
    pub raw_len: usize,
}

/// Splits `data` into lines (terminated by LF, with an optional CR before
/// it). The last line may be unterminated.
pub(crate) fn lines(data: &[u8]) -> impl Iterator<Item = Line<'_>> {
    let mut offset = 0usize;
    std::iter::from_fn(move || {
        let rest = data.get(offset..)?;
        if rest.is_empty() {
            return None;
        }
        let start = offset;
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let raw = rest.get(..i)?;
                let text = raw.strip_suffix(b"\r").unwrap_or(raw);
                let raw_len = i.checked_add(1)?;
                offset = start.checked_add(raw_len)?;
                Some(Line {
                    offset: start,
                    text,
                    terminated: true,
                    raw_len,
                })
            }
            None => {
                offset = data.len();
                // A lone trailing CR is a terminator that lost its LF.
                let text = rest.strip_suffix(b"\r").unwrap_or(rest);
                Some(Line {
                    offset: start,
                    text,
                    terminated: false,
                    raw_len: rest.len(),
                })
            }
        }
    })
}

/// The first line of `data` (see [`lines`]); `None` for empty input.
pub(crate) fn first_line(data: &[u8]) -> Option<Line<'_>> {
    lines(data).next()
}

/// `true` if every byte is printable ASCII (0x20..=0x7e) or a tab.
pub(crate) fn is_printable_text(s: &[u8]) -> bool {
    s.iter().all(|&b| (0x20..=0x7e).contains(&b) || b == b'\t')
}

/// Case-insensitive ASCII prefix test.
pub(crate) fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// Splits `s` at the first space: `(head, Some(tail))` or `(s, None)`.
pub(crate) fn split_space(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|&b| b == b' ') {
        Some(i) => (
            s.get(..i).unwrap_or(&[]),
            Some(s.get(i.saturating_add(1)..).unwrap_or(&[])),
        ),
        None => (s, None),
    }
}

/// `true` if `v` is a TLS GREASE value (RFC 8701: 0x0a0a, 0x1a1a, ... 0xfafa).
pub(crate) fn is_grease(v: u16) -> bool {
    let [hi, lo] = v.to_be_bytes();
    hi == lo && lo & 0x0f == 0x0a
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_escapes_controls_and_non_ascii() {
        assert_eq!(
            sanitize(b"ab\x1b[31m\r\n\xff", 100),
            "ab\\x1b[31m\\x0d\\x0a\\xff"
        );
        assert_eq!(sanitize(b"a\\b", 100), "a\\x5cb");
        assert_eq!(sanitize(b"", 10), "");
    }

    #[test]
    fn sanitize_caps_length_without_splitting_escapes() {
        assert_eq!(sanitize(b"abcdef", 6), "abcdef");
        assert_eq!(sanitize(b"abcdefg", 6), "abc...");
        assert_eq!(sanitize(b"ab\x00\x00", 6), "ab...");
        assert_eq!(sanitize(b"abcdef", 2), "ab");
        assert_eq!(sanitize(b"abcdef", 0), "");
        for n in 0..40 {
            let s = sanitize(b"\x00\x01hello\xffworld\x1b", n);
            assert!(s.len() <= n, "{n}: {s}");
            assert!(s.bytes().all(|b| (0x20..=0x7e).contains(&b)));
        }
    }

    #[test]
    fn entropy_figures() {
        assert_eq!(entropy(b""), (0.0, 0.0));
        let (h, _) = entropy(&[7u8; 100]);
        assert!(h.abs() < 1e-9);
        let all: Vec<u8> = (0..=255u8).collect();
        let (h, c) = entropy(&all);
        assert!((h - 8.0).abs() < 1e-9);
        assert!(c <= 8.0);
    }

    #[test]
    fn reader_is_bounds_checked() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16(), Some(0x0102));
        assert_eq!(r.u16(), None);
        assert_eq!(r.u8(), Some(3));
        assert_eq!(r.u8(), None);
        assert_eq!(r.remaining(), 0);
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.take(usize::MAX), None);
        assert_eq!(r.take_up_to(10), (&[1u8, 2, 3][..], false));
        let mut r = Reader::new(&[0, 0, 1, 0, 0, 0, 2]);
        assert_eq!(r.u24(), Some(1));
        assert_eq!(r.u32(), Some(2));
    }

    #[test]
    fn line_splitting() {
        let v: Vec<_> = lines(b"a\r\nbc\nd").collect();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].text, b"a");
        assert!(v[0].terminated);
        assert_eq!(v[1].offset, 3);
        assert_eq!(v[2].text, b"d");
        assert!(!v[2].terminated);
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(first_line(b"x\r").unwrap().text, b"x");
    }

    #[test]
    fn grease_values() {
        assert!(is_grease(0x0a0a));
        assert!(is_grease(0xfafa));
        assert!(!is_grease(0x0a1a));
        assert!(!is_grease(0x1301));
    }

    #[test]
    fn ci_helpers() {
        assert!(starts_with_ci(b"EhLo x", b"ehlo"));
        assert!(!starts_with_ci(b"EH", b"ehlo"));
        assert_eq!(split_space(b"a b c"), (&b"a"[..], Some(&b"b c"[..])));
        assert_eq!(split_space(b"abc"), (&b"abc"[..], None));
    }
}
