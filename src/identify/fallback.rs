//! What to say when no recogniser matched: empty, text, encrypted, binary.

use super::util::{entropy, first_line, sanitize};
use super::{
    Confidence, Direction, ENTROPY_THRESHOLD, Evidence, Identification, MIN_ENTROPY_BYTES, Protocol,
};

/// Share of printable bytes at or above which a direction is text.
const TEXT_RATIO: f64 = 0.90;

/// The verdict for a flow with no payload at all.
pub(crate) fn empty() -> Identification {
    Identification::new(
        Protocol::Empty,
        Confidence::High,
        "no payload in either direction",
        Evidence::new(
            Direction::Client,
            &[],
            0,
            0,
            "no payload bytes in either direction",
        ),
    )
}

/// Share of `data` that is printable: ASCII 0x20..=0x7e, tab, CR, LF, FF,
/// and bytes of valid UTF-8 characters that are not control characters.
/// An incomplete UTF-8 sequence cut by the end of the buffer is ignored.
fn printable_ratio(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut good: usize = 0;
    let mut considered: usize = 0;
    let mut chunks = data.utf8_chunks().peekable();
    while let Some(chunk) = chunks.next() {
        for c in chunk.valid().chars() {
            let n = c.len_utf8();
            considered = considered.saturating_add(n);
            if !c.is_control() || matches!(c, '\t' | '\r' | '\n' | '\x0c') {
                good = good.saturating_add(n);
            }
        }
        let bad = chunk.invalid().len();
        let is_last = chunks.peek().is_none();
        // A 1..=3 byte tail that could be the start of a cut multi-byte char.
        let cut_tail = is_last && bad < 4 && chunk.invalid().first().is_some_and(|b| *b >= 0xc2);
        if !cut_tail {
            considered = considered.saturating_add(bad);
        }
    }
    if considered == 0 {
        return 0.0;
    }
    good as f64 / considered as f64
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Class {
    Text(f64),
    Encrypted(f64, f64),
    Binary(f64, f64),
}

fn class_of(data: &[u8]) -> Class {
    let ratio = printable_ratio(data);
    if ratio >= TEXT_RATIO {
        return Class::Text(ratio);
    }
    let (h, hc) = entropy(data);
    if data.len() >= MIN_ENTROPY_BYTES && hc >= ENTROPY_THRESHOLD {
        Class::Encrypted(h, hc)
    } else {
        Class::Binary(h, hc)
    }
}

/// Classifies a flow no recogniser matched (at least one side non-empty).
pub(crate) fn classify(client: &[u8], server: &[u8]) -> Identification {
    let sides: Vec<(Direction, &[u8], Class)> =
        [(Direction::Client, client), (Direction::Server, server)]
            .into_iter()
            .filter(|(_, d)| !d.is_empty())
            .map(|(dir, d)| (dir, d, class_of(d)))
            .collect();
    let Some(&first) = sides.first() else {
        return empty();
    };
    let pick = |want: fn(&Class) -> bool| sides.iter().copied().find(|(_, _, c)| want(c));

    let mut id = if let Some((dir, data, Class::Encrypted(h, hc))) =
        pick(|c| matches!(c, Class::Encrypted(..)))
    {
        let mut id = Identification::new(
            Protocol::Encrypted,
            Confidence::Medium,
            &format!(
                "likely encrypted or compressed: entropy {h:.2} bits/byte over {} {} bytes (bias-corrected {hc:.2})",
                data.len(),
                dir.as_str()
            ),
            Evidence::new(
                dir,
                data,
                0,
                data.len(),
                "shannon entropy >= 7.2 bits/byte (bias-corrected) over >= 128 bytes",
            ),
        );
        id.push("entropy", &format!("{h:.2}"));
        id.push("entropy.corrected", &format!("{hc:.2}"));
        id.push("entropy.direction", dir.as_str());
        id.push("entropy.bytes", &data.len().to_string());
        id
    } else if sides.iter().all(|(_, _, c)| matches!(c, Class::Text(_))) {
        let (dir, data, class) = first;
        let ratio = match class {
            Class::Text(r) => r,
            _ => 1.0,
        };
        let preview = first_line(data).map(|l| l.text).unwrap_or(data);
        let mut id = Identification::new(
            Protocol::Text,
            Confidence::Medium,
            &format!(
                "unrecognised printable text ({:.0}% printable): \"{}\"",
                ratio * 100.0,
                sanitize(preview, 100)
            ),
            Evidence::new(
                dir,
                data,
                0,
                data.len(),
                ">= 90% printable ascii/utf-8 text, no protocol matched",
            ),
        );
        id.push("text.printable", &format!("{:.0}%", ratio * 100.0));
        id.push_bytes("text.first_line", preview);
        id
    } else {
        let (dir, data, class) = pick(|c| matches!(c, Class::Binary(..))).unwrap_or(first);
        let (h, hc) = match class {
            Class::Binary(h, hc) | Class::Encrypted(h, hc) => (h, hc),
            Class::Text(_) => entropy(data),
        };
        let mut summary = format!(
            "unrecognised binary: entropy {h:.2} bits/byte over {} {} bytes",
            data.len(),
            dir.as_str()
        );
        if data.len() < MIN_ENTROPY_BYTES {
            summary.push_str(" (too few bytes to judge encryption)");
        }
        let mut id = Identification::new(
            Protocol::Binary,
            Confidence::Low,
            &summary,
            Evidence::new(
                dir,
                data,
                0,
                data.len(),
                "no protocol matched; not text, not high entropy",
            ),
        );
        id.push("entropy", &format!("{h:.2}"));
        id.push("entropy.corrected", &format!("{hc:.2}"));
        id.push("entropy.direction", dir.as_str());
        id.push("entropy.bytes", &data.len().to_string());
        id
    };
    // Note the other direction's class too, for the analyst.
    for (dir, data, class) in &sides {
        if *dir == id.evidence.direction {
            continue;
        }
        let label = match class {
            Class::Text(_) => "text",
            Class::Encrypted(..) => "encrypted",
            Class::Binary(..) => "binary",
        };
        id.push(&format!("{}.class", dir.as_str()), label);
        id.push(&format!("{}.bytes", dir.as_str()), &data.len().to_string());
    }
    id
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::identify::testutil::pseudo_random;

    #[test]
    fn empty_flow() {
        let id = classify(b"", b"");
        assert_eq!(id.protocol, Protocol::Empty);
        assert_eq!(id.evidence.len, 0);
    }

    #[test]
    fn random_256_bytes_is_encrypted() {
        for seed in 1..50u64 {
            let r = pseudo_random(seed, 256);
            let id = classify(&r, b"");
            assert_eq!(
                id.protocol,
                Protocol::Encrypted,
                "seed {seed}: {}",
                id.summary
            );
            assert!(
                id.summary
                    .starts_with("likely encrypted or compressed: entropy 7.")
            );
            let e: f64 = id.field("entropy").unwrap().parse().unwrap();
            assert!(e > 6.9 && e < 8.0);
            assert_eq!(
                id.field("entropy")
                    .unwrap()
                    .split('.')
                    .nth(1)
                    .unwrap()
                    .len(),
                2
            );
        }
    }

    #[test]
    fn short_random_is_not_called_encrypted() {
        let r = pseudo_random(7, 100);
        let id = classify(&r, b"");
        assert_eq!(id.protocol, Protocol::Binary);
        assert!(id.summary.contains("too few bytes"));
    }

    #[test]
    fn structured_binary_is_binary() {
        let mut b = Vec::new();
        for i in 0..300u32 {
            b.extend([0, 0, (i % 7) as u8, 0x10]);
        }
        assert_eq!(classify(&b, b"").protocol, Protocol::Binary);
    }

    #[test]
    fn text_and_utf8() {
        let id = classify(b"hello there\r\nhow are you\r\n", b"");
        assert_eq!(id.protocol, Protocol::Text);
        assert_eq!(id.field("text.first_line"), Some("hello there"));
        let utf8 = "héllo wörld — ça va? 日本語のテキスト\n".as_bytes();
        assert_eq!(classify(utf8, b"").protocol, Protocol::Text);
        // A multi-byte character cut at the end does not count against it.
        let cut = &utf8[..utf8.len() - 3];
        assert_eq!(classify(cut, b"").protocol, Protocol::Text);
        let mostly = [b"abcdefgh".as_slice(), &[0u8, 1, 2]].concat();
        assert_eq!(classify(&mostly, b"").protocol, Protocol::Binary);
        assert!(printable_ratio(b"") == 0.0);
    }

    #[test]
    fn mixed_directions() {
        let r = pseudo_random(11, 300);
        let id = classify(b"hello\r\n", &r);
        assert_eq!(id.protocol, Protocol::Encrypted);
        assert_eq!(id.evidence.direction, Direction::Server);
        assert_eq!(id.field("client.class"), Some("text"));
        let id = classify(b"hello\r\n", &[0u8, 1, 2, 3]);
        assert_eq!(id.protocol, Protocol::Binary);
        assert_eq!(id.evidence.direction, Direction::Server);
    }
}
