//! Shared pieces of the native pcap and pcapng parsers.

use std::io;

use super::SkipCounts;
use super::error::{CaptureError, Offset};

/// Largest record libpcap accepts for ordinary link types (its
/// `max_snaplen_for_dlt`); also the snaplen used when a header says 0 or more.
pub const MAX_SNAPLEN: u32 = 256 * 1024;

/// The snaplen that applies when a header gives `snaplen`, as libpcap does it.
pub(crate) fn effective_snaplen(snaplen: u32) -> u32 {
    if snaplen == 0 || snaplen > MAX_SNAPLEN {
        MAX_SNAPLEN
    } else {
        snaplen
    }
}

/// "record length N (snaplen S, maximum M)" for corrupt-length errors.
pub(crate) fn record_length_detail(caplen: u32, snaplen: u32) -> String {
    if snaplen >= MAX_SNAPLEN {
        format!("record length {caplen} (maximum {MAX_SNAPLEN})")
    } else {
        format!("record length {caplen} (snaplen {snaplen}, maximum {MAX_SNAPLEN})")
    }
}

/// One record located in the read buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rec {
    pub(crate) ts_nanos: i64,
    pub(crate) linktype: u32,
    /// Start of the frame data in `avail()`.
    pub(crate) start: usize,
    /// Frame bytes returned (after clamping to the snaplen).
    pub(crate) len: usize,
    pub(crate) orig_len: u32,
    /// Bytes to consume once the frame is no longer borrowed.
    pub(crate) consume: usize,
}

/// What the parsers need to know for messages and counters.
pub(crate) struct Ctx {
    pub(crate) name: String,
    pub(crate) compression: Option<&'static str>,
    /// Frames returned so far.
    pub(crate) frames: u64,
    pub(crate) skipped: SkipCounts,
    pub(crate) linktypes: Vec<u32>,
}

impl Ctx {
    fn at(&self, byte: u64) -> Offset {
        Offset {
            byte,
            decompressed: self.compression.is_some(),
        }
    }

    pub(crate) fn truncated(&self, what: &'static str, byte: u64) -> CaptureError {
        CaptureError::Truncated {
            name: self.name.clone(),
            what,
            offset: self.at(byte),
            packet: self.frames + 1,
        }
    }

    pub(crate) fn corrupt(&self, detail: String, byte: u64) -> CaptureError {
        CaptureError::Corrupt {
            name: self.name.clone(),
            detail,
            offset: self.at(byte),
            packet: self.frames + 1,
        }
    }

    /// A read error; a compressed stream that ends early is a truncation.
    pub(crate) fn read_err(&self, cause: io::Error, byte: u64) -> CaptureError {
        match self.compression {
            Some("gzip") if cause.kind() == io::ErrorKind::UnexpectedEof => {
                self.truncated("gzip stream", byte)
            }
            Some("zstd") if cause.kind() == io::ErrorKind::UnexpectedEof => {
                self.truncated("zstd stream", byte)
            }
            _ => CaptureError::Read {
                name: self.name.clone(),
                offset: self.at(byte),
                packet: self.frames + 1,
                cause,
            },
        }
    }

    pub(crate) fn add_linktype(&mut self, lt: u32) {
        if !self.linktypes.contains(&lt) {
            self.linktypes.push(lt);
        }
    }
}

#[inline]
pub(crate) fn u16_at(b: &[u8], off: usize, be: bool) -> u16 {
    match b.get(off..off + 2) {
        Some(&[x, y]) => {
            if be {
                u16::from_be_bytes([x, y])
            } else {
                u16::from_le_bytes([x, y])
            }
        }
        _ => 0,
    }
}

#[inline]
pub(crate) fn u32_at(b: &[u8], off: usize, be: bool) -> u32 {
    match b.get(off..off + 4) {
        Some(&[w, x, y, z]) => {
            if be {
                u32::from_be_bytes([w, x, y, z])
            } else {
                u32::from_le_bytes([w, x, y, z])
            }
        }
        _ => 0,
    }
}

#[inline]
pub(crate) fn u64_at(b: &[u8], off: usize, be: bool) -> u64 {
    let hi = u64::from(u32_at(b, off, be));
    let lo = u64::from(u32_at(b, off + 4, be));
    if be { (hi << 32) | lo } else { (lo << 32) | hi }
}

/// Raw 4 bytes as a big-endian number, for messages ("magic 0x...").
pub(crate) fn magic_of(b: &[u8]) -> u32 {
    let mut m = [0u8; 4];
    for (d, s) in m.iter_mut().zip(b) {
        *d = *s;
    }
    u32::from_be_bytes(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_never_panic_on_short_input() {
        assert_eq!(u32_at(&[1, 2, 3], 0, false), 0);
        assert_eq!(u16_at(&[1], 0, true), 0);
        assert_eq!(u32_at(&[1, 0, 0, 0], 0, false), 1);
        assert_eq!(u32_at(&[0, 0, 0, 1], 0, true), 1);
        assert_eq!(u64_at(&[1, 0, 0, 0, 2, 0, 0, 0], 0, false), (2 << 32) | 1);
        assert_eq!(u64_at(&[0, 0, 0, 1, 0, 0, 0, 2], 0, true), (1 << 32) | 2);
        assert_eq!(magic_of(&[0xab]), 0xab00_0000);
        assert_eq!(effective_snaplen(0), MAX_SNAPLEN);
        assert_eq!(effective_snaplen(65535), 65535);
        assert_eq!(effective_snaplen(u32::MAX), MAX_SNAPLEN);
    }
}
