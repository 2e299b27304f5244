//! Text inputs (flow logs: Zeek conn.log, Suricata EVE, VPC flow logs) read
//! line by line from the same opened stream as a capture: gzip/zstd removed,
//! SHA-256 computed the same way. What a line means is `crate::records`'s job.

use super::buf::RecordBuf;
use super::error::CaptureError;
use super::input::{Compression, Decoded, SideHasher, finish_input};
use super::parse::Ctx;
use super::{InputSummary, SkipCounts};

/// Longest line kept (bytes); longer lines are skipped and counted.
pub const MAX_LINE: usize = 64 << 10;

/// A text input, line by line.
pub struct LineSource {
    buf: RecordBuf<Decoded>,
    ctx: Ctx,
    compression: Compression,
    total_size: Option<u64>,
    side_hasher: Option<SideHasher>,
    pending: usize,
    lines: u64,
    overlong: u64,
    done: bool,
}

/// The first bytes of a text input: printable ASCII, tab, newline, or a
/// UTF-8 byte order mark.
pub(crate) fn looks_like_text(prefix: &[u8]) -> bool {
    let p = prefix.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(prefix);
    !p.is_empty()
        && p.iter()
            .all(|&b| b == b'\t' || b == b'\n' || b == b'\r' || (0x20..0x7f).contains(&b))
}

impl LineSource {
    pub(crate) fn new(
        buf: RecordBuf<Decoded>,
        ctx: Ctx,
        compression: Compression,
        total_size: Option<u64>,
        side_hasher: Option<SideHasher>,
    ) -> LineSource {
        LineSource {
            buf,
            ctx,
            compression,
            total_size,
            side_hasher,
            pending: 0,
            lines: 0,
            overlong: 0,
            done: false,
        }
    }

    /// The next line without its end (`\n` or `\r\n`); Ok(None) at the end
    /// of input. Lines longer than [`MAX_LINE`] are skipped and counted.
    pub fn next_line(&mut self) -> Result<Option<&[u8]>, CaptureError> {
        self.buf.consume(self.pending);
        self.pending = 0;
        if self.done {
            return Ok(None);
        }
        let mut skipping = false;
        let mut want = 1usize;
        // Find the end of the next kept line: (length, bytes to consume).
        let (len, used) = loop {
            let more = match self.buf.fill(want) {
                Ok(m) => m,
                Err(e) => {
                    self.done = true;
                    let at = self.buf.offset();
                    return Err(self.ctx.read_err(e, at));
                }
            };
            let have = self.buf.avail().len();
            let newline = self.buf.avail().iter().position(|&b| b == b'\n');
            if let Some(i) = newline {
                if skipping || i > MAX_LINE {
                    if !skipping {
                        self.overlong += 1;
                    }
                    self.buf.consume(i + 1);
                    skipping = false;
                    want = 1;
                    continue;
                }
                break (i, i + 1);
            }
            if !more {
                // the last line has no end
                self.done = true;
                if skipping || have == 0 {
                    return Ok(None);
                }
                if have > MAX_LINE {
                    self.overlong += 1;
                    return Ok(None);
                }
                break (have, have);
            }
            if have > MAX_LINE {
                if !skipping {
                    self.overlong += 1;
                    skipping = true;
                }
                self.buf.consume(have);
                want = 1;
                continue;
            }
            want = have + 1;
        };
        self.pending = used;
        self.lines += 1;
        let line = self.buf.avail().get(..len).unwrap_or(&[]);
        Ok(Some(line.strip_suffix(b"\r").unwrap_or(line)))
    }

    /// Input name for messages.
    pub fn name(&self) -> &str {
        &self.ctx.name
    }

    /// Lines returned so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Bytes of the (possibly compressed) input consumed so far.
    pub fn position(&self) -> u64 {
        self.buf.get_ref().raw().count()
    }

    /// File size, if known.
    pub fn total_size(&self) -> Option<u64> {
        self.total_size
    }

    /// Ends reading: the summary, with `format` (e.g. "zeek-conn"), the
    /// number of flow records taken and their time span.
    pub fn finish(
        mut self,
        format: &str,
        records: u64,
        first_ts: Option<i64>,
        last_ts: Option<i64>,
    ) -> InputSummary {
        let (sha256, size) = finish_input(self.side_hasher.take(), &mut self.buf, self.total_size);
        let format = match self.compression.name() {
            Some(c) => format!("{format}+{c}"),
            None => format.to_owned(),
        };
        InputSummary {
            name: self.ctx.name.clone(),
            size,
            sha256,
            first_ts_nanos: first_ts,
            last_ts_nanos: last_ts,
            linktypes: Vec::new(),
            frames: records,
            format,
            skipped: SkipCounts {
                overlong_lines: self.overlong,
                ..SkipCounts::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{Input, OpenOptions, Source, open_any};

    fn lines_of(data: &[u8]) -> (Vec<Vec<u8>>, InputSummary) {
        let dir = std::env::temp_dir().join(format!("ghostport-lines-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let p = dir.join(format!("{}.log", data.len()));
        std::fs::write(&p, data).expect("write");
        let Ok(Source::Lines(mut src)) = open_any(&Input::Path(p), OpenOptions::default()) else {
            panic!("not text");
        };
        let mut out = Vec::new();
        while let Ok(Some(l)) = src.next_line() {
            out.push(l.to_vec());
        }
        let n = out.len() as u64;
        (out, src.finish("test", n, None, None))
    }

    #[test]
    fn lines_with_and_without_final_newline_and_crlf() {
        let (l, s) = lines_of(b"#a\tb\r\nsecond\n\nlast");
        assert_eq!(
            l,
            vec![
                b"#a\tb".to_vec(),
                b"second".to_vec(),
                b"".to_vec(),
                b"last".to_vec()
            ]
        );
        assert_eq!(s.format, "test");
        assert!(!s.sha256.is_empty());
    }

    #[test]
    fn overlong_lines_are_skipped_and_counted() {
        let mut data = b"first\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', MAX_LINE * 3));
        data.extend_from_slice(b"\nafter\n");
        let (l, s) = lines_of(&data);
        assert_eq!(l, vec![b"first".to_vec(), b"after".to_vec()]);
        assert_eq!(s.skipped.overlong_lines, 1);
    }

    #[test]
    fn text_detection() {
        assert!(looks_like_text(b"#sep"));
        assert!(looks_like_text(b"{\"ts"));
        assert!(!looks_like_text(&[0xd4, 0xc3, 0xb2, 0xa1]));
        assert!(!looks_like_text(b""));
    }
}
