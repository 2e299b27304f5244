//! Reading captures: classic pcap and pcapng files, optionally gzip or zstd
//! compressed, from files or stdin, through one interface ([`FrameSource`])
//! with two implementations:
//!
//! - [`ReaderKind::Native`] (default): our own record parser over read()
//!   with a 1 MiB buffer; frames are borrowed from the buffer, nothing is
//!   copied. Handles every format and compression here.
//! - [`ReaderKind::Libpcap`]: libpcap through the `pcap` crate, for
//!   uncompressed files (and, later, live capture).
//!
//! Inputs are hostile: no input makes the readers panic or allocate more
//! than a bounded amount (a 1 MiB buffer, growing to at most 16 MiB for one
//! pcapng block). A fatal error (truncated or corrupt file) comes after all
//! complete frames before it, and says how many are complete.
//!
//! The SHA-256 of every input (bytes as stored, compressed if compressed) is
//! computed while reading: on a side thread for regular files, inline for
//! stdin and pipes; [`FrameSource::finish`] returns it in an
//! [`InputSummary`].

mod buf;
mod error;
mod input;
mod libpcap;
mod lines;
mod linktype;
pub mod live;
mod native;
mod parse;
mod pcap_file;
mod pcapng;

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;

use std::path::{Path, PathBuf};

pub use error::{CaptureError, Offset};
pub use input::Input;
pub use libpcap::LibpcapSource;
pub use lines::{LineSource, MAX_LINE};
pub use linktype::{canonical_linktype, linktype_name};
pub use native::NativeSource;
pub use parse::MAX_SNAPLEN;

/// Link-type numbers (LINKTYPE_*), e.g. `linktypes::ETHERNET`.
pub mod linktypes {
    pub use super::linktype::{
        C_HDLC, ETHERNET, IEEE802_11, IEEE802_11_RADIOTAP, IPV4, IPV6, LINUX_SLL, LINUX_SLL2, LOOP,
        NFLOG, NULL, PKTAP, PPP, RAW,
    };
}

/// One captured frame, borrowed from the source's buffer until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_nanos: i64,
    /// LINKTYPE_* number of the frame's interface, as in the file (the
    /// libpcap reader maps platform DLT_* values back to LINKTYPE_*).
    pub linktype: u32,
    /// The captured bytes (possibly empty).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
    /// `data.len()`: captured length after clamping to the snaplen.
    pub caplen: u32,
}

/// Non-fatal things a reader skipped or repaired.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct SkipCounts {
    /// pcapng blocks of unknown type (skipped).
    pub unknown_blocks: u64,
    /// Records whose captured length exceeded the snaplen (but not 256 KiB):
    /// data clamped to the snaplen, as libpcap does.
    pub clamped_records: u64,
    /// pcapng packet blocks naming an interface with no description block
    /// (skipped).
    pub unknown_interface: u64,
    /// Text inputs (flow logs): lines longer than [`MAX_LINE`] (skipped).
    #[serde(skip_serializing_if = "is_zero")]
    pub overlong_lines: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl SkipCounts {
    /// True when nothing was skipped.
    pub fn is_empty(&self) -> bool {
        *self == SkipCounts::default()
    }
}

/// Provenance and extent of one input, for the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputSummary {
    /// Path as given, or "<stdin>".
    pub name: String,
    /// Bytes as stored (compressed size if compressed).
    pub size: u64,
    /// SHA-256 of the bytes as stored, lower-case hex; empty if the input
    /// could not be read again to hash it or hashing was turned off
    /// (serialised as null then).
    #[serde(serialize_with = "empty_as_null")]
    pub sha256: String,
    /// Timestamp of the first frame returned.
    pub first_ts_nanos: Option<i64>,
    /// Timestamp of the last frame returned.
    pub last_ts_nanos: Option<i64>,
    /// Link types of the frames, in order of first appearance (classic pcap:
    /// the header's, even with no frames).
    pub linktypes: Vec<u32>,
    /// Frames returned.
    pub frames: u64,
    /// "pcap", "pcapng", "pcap+gzip", "pcapng+zstd", ...
    pub format: String,
    /// What was skipped.
    pub skipped: SkipCounts,
}

fn empty_as_null<S: serde::Serializer>(s: &str, ser: S) -> Result<S::Ok, S::Error> {
    if s.is_empty() {
        ser.serialize_none()
    } else {
        ser.serialize_str(s)
    }
}

impl InputSummary {
    /// The summary of an input that could not be opened or read as a
    /// capture: its name, and its size and SHA-256 when it is a readable
    /// regular file (what was given is still worth identifying); format
    /// "unreadable".
    pub fn unreadable(input: &Input) -> InputSummary {
        let (size, sha256) = match input {
            Input::Path(p) => match std::fs::metadata(p) {
                Ok(m) if m.is_file() => (
                    m.len(),
                    input::hash_file(p, &std::sync::atomic::AtomicBool::new(false))
                        .unwrap_or_default(),
                ),
                _ => (0, String::new()),
            },
            Input::Stdin => (0, String::new()),
        };
        InputSummary {
            name: input.name(),
            size,
            sha256,
            first_ts_nanos: None,
            last_ts_nanos: None,
            linktypes: Vec::new(),
            frames: 0,
            format: "unreadable".to_string(),
            skipped: SkipCounts::default(),
        }
    }
}

/// A source of frames: a capture file or stdin (later, a live interface).
pub trait FrameSource {
    /// The next frame; Ok(None) at the clean end of input. Err for a fatal
    /// read/format error (truncated file, corrupt block): every complete
    /// frame before it was returned, the caller keeps what it has and
    /// reports the error. After Err or Ok(None), further calls return
    /// Ok(None).
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError>;
    /// Bytes of the (possibly compressed) input consumed so far, for a
    /// progress bar (read-ahead included; an estimate for libpcap).
    fn position(&self) -> u64;
    /// File size, if known (None for stdin and pipes).
    fn total_size(&self) -> Option<u64>;
    /// Link types of the frames returned so far (pcapng has one per
    /// interface; interfaces without packets are not listed), in order of
    /// first appearance. Classic pcap lists its header's link type from the
    /// start.
    fn linktypes(&self) -> &[u32];
    /// Non-fatal things skipped so far.
    fn skipped(&self) -> &SkipCounts;
    /// Input name for messages: the path as given, or "<stdin>".
    fn name(&self) -> &str;
    /// Ends reading and returns the summary with the input's SHA-256. For
    /// stdin and pipes this reads the rest of the input to hash it.
    fn finish(self: Box<Self>) -> InputSummary;
}

/// Which implementation reads the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReaderKind {
    /// Own parser, all formats, gzip/zstd, stdin. Fastest.
    #[default]
    Native,
    /// libpcap: uncompressed regular files only.
    Libpcap,
}

/// How to open an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenOptions {
    /// Which implementation reads the input.
    pub reader: ReaderKind,
    /// Compute the SHA-256 of the input (default true). SHA-256 costs about
    /// 1 s of CPU per GiB even with SHA-NI, more than parsing: regular files
    /// are hashed on a side thread, stdin and pipes inline. When false,
    /// [`InputSummary::sha256`] is empty.
    pub hash: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            reader: ReaderKind::Native,
            hash: true,
        }
    }
}

impl OpenOptions {
    /// Default options with the given reader.
    pub fn reader(kind: ReaderKind) -> Self {
        OpenOptions {
            reader: kind,
            ..OpenOptions::default()
        }
    }

    /// Sets whether the input is hashed.
    pub fn hash(mut self, hash: bool) -> Self {
        self.hash = hash;
        self
    }
}

/// Opens an input with the chosen reader, hashing it. The file header is
/// read (and checked) here.
pub fn open(input: &Input, kind: ReaderKind) -> Result<Box<dyn FrameSource + Send>, CaptureError> {
    open_with(input, OpenOptions::reader(kind))
}

/// Opens an input with options.
pub fn open_with(
    input: &Input,
    opts: OpenOptions,
) -> Result<Box<dyn FrameSource + Send>, CaptureError> {
    match opts.reader {
        ReaderKind::Native => Ok(Box::new(NativeSource::new(input::open_input(
            input, opts.hash,
        )?)?)),
        ReaderKind::Libpcap => Ok(Box::new(LibpcapSource::open(input, opts.hash)?)),
    }
}

/// An opened input: a capture, or a text input (flow records) for
/// `crate::records`.
pub enum Source {
    /// pcap / pcapng.
    Frames(Box<dyn FrameSource + Send>),
    /// Text, line by line.
    Lines(Box<LineSource>),
}

/// Opens an input that may be a capture or a text flow log. The libpcap
/// reader reads captures only.
pub fn open_any(input: &Input, opts: OpenOptions) -> Result<Source, CaptureError> {
    match opts.reader {
        ReaderKind::Native => NativeSource::open_any(input::open_input(input, opts.hash)?),
        ReaderKind::Libpcap => Ok(Source::Frames(Box::new(LibpcapSource::open(
            input, opts.hash,
        )?))),
    }
}

/// Reads a capture from any reader with the native reader (compression
/// detected, SHA-256 computed inline). `name` is used in messages.
pub fn open_reader(
    name: &str,
    reader: Box<dyn std::io::Read + Send>,
) -> Result<Box<dyn FrameSource + Send>, CaptureError> {
    let opened = input::open_stream(name.to_string(), reader, None, None, true)?;
    Ok(Box::new(NativeSource::new(opened)?))
}

/// Turns command-line arguments into inputs: "-" is stdin; a directory is
/// walked recursively (files sorted by path, only regular files, hidden
/// files and directories skipped, symlinked directories not followed); any
/// other path is taken as given (it may be a pipe such as /dev/fd/3).
pub fn expand_inputs(args: &[String]) -> Result<Vec<Input>, CaptureError> {
    let mut out = Vec::new();
    for arg in args {
        if arg == "-" {
            out.push(Input::Stdin);
            continue;
        }
        let path = PathBuf::from(arg);
        let meta = std::fs::metadata(&path).map_err(|cause| CaptureError::Open {
            path: path.clone(),
            cause,
        })?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(&path, &mut files)?;
            if files.is_empty() {
                return Err(CaptureError::EmptyDirectory { path });
            }
            files.sort();
            out.extend(files.into_iter().map(Input::Path));
        } else {
            out.push(Input::Path(path));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), CaptureError> {
    let open_err = |cause| CaptureError::Open {
        path: dir.to_path_buf(),
        cause,
    };
    for entry in std::fs::read_dir(dir).map_err(open_err)? {
        let entry = entry.map_err(open_err)?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let ft = entry.file_type().map_err(|cause| CaptureError::Open {
            path: path.clone(),
            cause,
        })?;
        if ft.is_dir() {
            walk(&path, files)?;
        } else if ft.is_file() {
            files.push(path);
        } else if ft.is_symlink() {
            // A symlink to a regular file is read; to a directory, not
            // followed (no loops); dangling ones are ignored.
            if std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                files.push(path);
            }
        }
    }
    Ok(())
}
