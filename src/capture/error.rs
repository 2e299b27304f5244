//! Errors of the capture layer. Every message names the input, says where
//! (byte offset, packet number) and, where there is one, what to do about it.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A position in an input, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset {
    /// Byte offset in the (decompressed) capture stream.
    pub byte: u64,
    /// The input was compressed: `byte` counts decompressed bytes.
    pub decompressed: bool,
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.decompressed {
            write!(f, "byte {} of the decompressed data", self.byte)
        } else {
            write!(f, "byte {}", self.byte)
        }
    }
}

/// What the caller can keep after a mid-file error: "results up to packet N
/// are complete".
fn complete_note(packet: u64) -> String {
    match packet.saturating_sub(1) {
        0 => "no packet was read before it".to_string(),
        n => format!("results up to packet {n} are complete"),
    }
}

/// Errors from opening or reading a capture.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The input could not be opened or listed.
    #[error("cannot open {}: {}", path.display(), describe_io(cause))]
    Open {
        /// The path as given.
        path: PathBuf,
        /// The operating system's error.
        cause: io::Error,
    },

    /// A directory given as input held no capture files.
    #[error(
        "{}: directory contains no files to read (hidden files and non-regular files are skipped)",
        path.display()
    )]
    EmptyDirectory {
        /// The directory.
        path: PathBuf,
    },

    /// The input is empty.
    #[error("{name}: empty input (0 bytes); expected a pcap or pcapng file")]
    Empty {
        /// Input name.
        name: String,
    },

    /// The first bytes are not a known capture magic.
    #[error(
        "{name}: {}not a pcap or pcapng file (magic 0x{magic:08x})",
        match compression { Some(c) => format!("decompressed {c} data is "), None => String::new() }
    )]
    NotCapture {
        /// Input name.
        name: String,
        /// The first four bytes, big-endian (as they appear in a hex dump).
        magic: u32,
        /// Compression that was removed first, if any.
        compression: Option<&'static str>,
    },

    /// The input ends in the middle of a header, record or block.
    #[error(
        "{name}: truncated {what} at {offset} (packet {packet}): the file was cut short; {}",
        complete_note(*packet)
    )]
    Truncated {
        /// Input name.
        name: String,
        /// "record", "block", "file header", "gzip stream", ...
        what: &'static str,
        /// Where the incomplete unit starts.
        offset: Offset,
        /// 1-based number of the packet that was being read.
        packet: u64,
    },

    /// A structurally impossible header or block: the rest of the input
    /// cannot be trusted.
    #[error(
        "{name}: corrupt {detail} at {offset} (packet {packet}): the file is damaged from here on; {}",
        complete_note(*packet)
    )]
    Corrupt {
        /// Input name.
        name: String,
        /// E.g. "record length 4294967295 (snaplen 65535, maximum 262144)".
        detail: String,
        /// Where the corrupt unit starts.
        offset: Offset,
        /// 1-based number of the packet that was being read.
        packet: u64,
    },

    /// Reading or decompressing failed.
    #[error(
        "{name}: read error at {offset} (packet {packet}): {}; {}",
        describe_io(cause),
        complete_note(*packet)
    )]
    Read {
        /// Input name.
        name: String,
        /// Where reading stopped.
        offset: Offset,
        /// 1-based number of the packet that was being read.
        packet: u64,
        /// The underlying error (decompressor errors included).
        cause: io::Error,
    },

    /// The chosen reader cannot handle this input.
    #[error("{name}: {detail}")]
    Unsupported {
        /// Input name.
        name: String,
        /// What is unsupported and what to use instead.
        detail: String,
    },

    /// The input's link type cannot be decoded (raised by the analysis when
    /// the first frame of a single-link-type input is refused).
    #[error(
        "unsupported link type {0} ({name}); ghostport decodes ETHERNET, NULL, LOOP, RAW, IPV4, IPV6, LINUX_SLL, LINUX_SLL2, PPP, C_HDLC, NFLOG and PKTAP",
        name = super::linktype::linktype_name(*.0)
    )]
    UnsupportedLinkType(u32),

    /// libpcap failed while reading packets.
    #[error("{name}: libpcap: {message} (packet {packet}); {}", complete_note(*packet))]
    Libpcap {
        /// Input name.
        name: String,
        /// libpcap's message.
        message: String,
        /// 1-based number of the packet that was being read.
        packet: u64,
    },
}

impl CaptureError {
    /// The number of frames that were read completely before the error, when
    /// the error happened mid-input.
    pub fn complete_frames(&self) -> Option<u64> {
        match self {
            CaptureError::Truncated { packet, .. }
            | CaptureError::Corrupt { packet, .. }
            | CaptureError::Read { packet, .. }
            | CaptureError::Libpcap { packet, .. } => Some(packet.saturating_sub(1)),
            _ => None,
        }
    }
}

/// An io::Error in plain words, without "(os error 2)".
pub(crate) fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_string(),
        io::ErrorKind::PermissionDenied => {
            "permission denied (check the file's permissions, or run as a user that can read it)"
                .to_string()
        }
        io::ErrorKind::IsADirectory => "is a directory".to_string(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_thing_and_the_fix() {
        let e = CaptureError::Truncated {
            name: "x.pcap".into(),
            what: "record",
            offset: Offset {
                byte: 5432,
                decompressed: false,
            },
            packet: 7,
        };
        assert_eq!(
            e.to_string(),
            "x.pcap: truncated record at byte 5432 (packet 7): the file was cut short; results up to packet 6 are complete"
        );
        assert_eq!(e.complete_frames(), Some(6));
        let e = CaptureError::NotCapture {
            name: "x.pcap".into(),
            magic: 0x1234_5678,
            compression: None,
        };
        assert_eq!(
            e.to_string(),
            "x.pcap: not a pcap or pcapng file (magic 0x12345678)"
        );
        let e = CaptureError::Open {
            path: "nope.pcap".into(),
            cause: io::Error::from(io::ErrorKind::NotFound),
        };
        assert_eq!(
            e.to_string(),
            "cannot open nope.pcap: no such file or directory"
        );
        let e = CaptureError::Corrupt {
            name: "y.pcap".into(),
            detail: "record length 9999999".into(),
            offset: Offset {
                byte: 24,
                decompressed: true,
            },
            packet: 1,
        };
        assert!(e.to_string().contains(
            "corrupt record length 9999999 at byte 24 of the decompressed data (packet 1)"
        ));
        assert!(e.to_string().ends_with("no packet was read before it"));
    }
}
