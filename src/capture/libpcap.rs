//! The libpcap reader (`pcap` crate): `--reader libpcap`, and the base for
//! live capture. Uncompressed files only.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::error::{CaptureError, Offset};
use super::input::{Compression, Input, SideHasher};
use super::linktype::canonical_linktype;
use super::parse::magic_of;
use super::pcap_file::is_pcap_magic;
use super::pcapng::is_pcapng_magic;
use super::{Frame, FrameSource, InputSummary, SkipCounts};

/// [`FrameSource`] over `pcap::Capture::from_file_with_precision(.., Nano)`.
pub struct LibpcapSource {
    cap: pcap::Capture<pcap::Offline>,
    name: String,
    format: &'static str,
    linktypes: Vec<u32>,
    linktype: u32,
    frames: u64,
    /// Estimate of the bytes consumed (libpcap does not say).
    position: u64,
    record_overhead: u64,
    total_size: u64,
    skipped: SkipCounts,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
    side_hasher: Option<SideHasher>,
    done: bool,
}

fn unsupported(name: &str, what: &str) -> CaptureError {
    CaptureError::Unsupported {
        name: name.to_string(),
        detail: format!(
            "the libpcap reader cannot read {what}; use the native reader (`--reader native`, the default)"
        ),
    }
}

impl LibpcapSource {
    pub(crate) fn open(input: &Input, hash: bool) -> Result<LibpcapSource, CaptureError> {
        let name = input.name();
        let path = match input {
            Input::Stdin => return Err(unsupported(&name, "standard input")),
            Input::Path(p) => p,
        };
        let (magic, total_size) = sniff(path)?;
        if magic.is_empty() {
            return Err(CaptureError::Empty { name });
        }
        match Compression::detect(&magic) {
            Compression::None => {}
            c => {
                let what = format!("{}-compressed input", c.name().unwrap_or("compressed"));
                return Err(unsupported(&name, &what));
            }
        }
        let (format, record_overhead) = if is_pcap_magic(&magic) {
            ("pcap", 16)
        } else if is_pcapng_magic(&magic) {
            ("pcapng", 32)
        } else {
            return Err(CaptureError::NotCapture {
                name,
                magic: magic_of(&magic),
                compression: None,
            });
        };
        let cap =
            pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano).map_err(|e| {
                CaptureError::Unsupported {
                    name: name.clone(),
                    detail: format!(
                        "libpcap cannot open it: {e}; try the native reader (`--reader native`)"
                    ),
                }
            })?;
        let linktype = canonical_linktype(cap.get_datalink().0 as u32);
        Ok(LibpcapSource {
            cap,
            name,
            format,
            linktypes: vec![linktype],
            linktype,
            frames: 0,
            position: if format == "pcap" { 24 } else { 0 },
            record_overhead,
            total_size,
            skipped: SkipCounts::default(),
            first_ts: None,
            last_ts: None,
            side_hasher: hash.then(|| SideHasher::spawn(path.clone())),
            done: false,
        })
    }
}

/// The first 4 bytes and the size of a file, with errors that name it.
fn sniff(path: &Path) -> Result<(Vec<u8>, u64), CaptureError> {
    let open_err = |cause| CaptureError::Open {
        path: path.to_path_buf(),
        cause,
    };
    let f = File::open(path).map_err(open_err)?;
    let meta = f.metadata().map_err(open_err)?;
    if meta.is_dir() {
        return Err(open_err(io::Error::from(io::ErrorKind::IsADirectory)));
    }
    if !meta.is_file() {
        return Err(unsupported(
            &path.display().to_string(),
            "a pipe or device (it needs a regular file)",
        ));
    }
    let mut magic = Vec::with_capacity(4);
    f.take(4)
        .read_to_end(&mut magic)
        .map_err(|cause| CaptureError::Read {
            name: path.display().to_string(),
            offset: Offset {
                byte: 0,
                decompressed: false,
            },
            packet: 1,
            cause,
        })?;
    Ok((magic, meta.len()))
}

/// A libpcap packet as a [`Frame`]; `nanos`: the capture's timestamps are
/// in nanoseconds (else microseconds).
pub(crate) fn frame_of<'a>(p: &pcap::Packet<'a>, linktype: u32, nanos: bool) -> Frame<'a> {
    // time_t / suseconds_t are i32 on some targets.
    #[allow(clippy::useless_conversion)]
    let (sec, frac) = (
        i64::from(p.header.ts.tv_sec),
        i64::from(p.header.ts.tv_usec),
    );
    let frac = if nanos {
        frac
    } else {
        frac.saturating_mul(1000)
    };
    Frame {
        ts_nanos: sec.saturating_mul(1_000_000_000).saturating_add(frac),
        linktype,
        data: p.data,
        orig_len: p.header.len,
        caplen: p.data.len() as u32,
    }
}

impl FrameSource for LibpcapSource {
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        match self.cap.next_packet() {
            Ok(p) => {
                // Opened with nanosecond precision.
                let frame = frame_of(&p, self.linktype, true);
                let ts_nanos = frame.ts_nanos;
                self.frames += 1;
                self.position += self.record_overhead + u64::from(p.header.caplen);
                if self.first_ts.is_none() {
                    self.first_ts = Some(ts_nanos);
                }
                self.last_ts = Some(ts_nanos);
                Ok(Some(frame))
            }
            Err(pcap::Error::NoMorePackets) => {
                self.done = true;
                self.position = self.total_size;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(CaptureError::Libpcap {
                    name: self.name.clone(),
                    message: match e {
                        pcap::Error::PcapError(m) => m,
                        other => other.to_string(),
                    },
                    packet: self.frames + 1,
                })
            }
        }
    }

    fn position(&self) -> u64 {
        self.position.min(self.total_size)
    }

    fn total_size(&self) -> Option<u64> {
        Some(self.total_size)
    }

    fn linktypes(&self) -> &[u32] {
        &self.linktypes
    }

    fn skipped(&self) -> &SkipCounts {
        &self.skipped
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn finish(mut self: Box<Self>) -> InputSummary {
        let sha256 = self
            .side_hasher
            .take()
            .map(SideHasher::join)
            .unwrap_or_default();
        InputSummary {
            name: self.name.clone(),
            size: self.total_size,
            sha256,
            first_ts_nanos: self.first_ts,
            last_ts_nanos: self.last_ts,
            linktypes: self.linktypes.clone(),
            frames: self.frames,
            format: self.format.to_string(),
            skipped: self.skipped.clone(),
        }
    }
}
