//! Live capture through libpcap (`pcap::Capture<Active>`): a [`FrameSource`]
//! over an interface, with a read timeout so the caller's loop can check for
//! stop signals between packets ([`FrameSource::next_frame`] returns
//! `Ok(None)` for "no packet yet", never for an end), libpcap's drop
//! counters, and an optional evidence savefile (`-w FILE`, optionally a ring
//! of N files of M MB: FILE.0, FILE.1, ...).
//!
//! Capture time is the packets' timestamps (nanosecond precision when
//! libpcap supports it), exactly as for files.

use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::linktype::canonical_linktype;
use super::{CaptureError, Frame, FrameSource, InputSummary, SkipCounts};

/// Errors opening a live capture, with the fix in the message.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The interface does not exist.
    #[error("cannot open {0}: no such device (see `ghostport interfaces`)")]
    NoSuchDevice(String),
    /// Not allowed to capture.
    #[error(
        "permission denied capturing on {0}: run as root or grant the capabilities: sudo setcap cap_net_raw,cap_net_admin=eip $(command -v ghostport)"
    )]
    PermissionDenied(String),
    /// The BPF filter does not compile.
    #[error("invalid capture filter '{filter}': {message}")]
    Filter {
        /// The filter as given.
        filter: String,
        /// libpcap's message.
        message: String,
    },
    /// Cannot create the evidence savefile.
    #[error("cannot write the capture file {path}: {message}")]
    Savefile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The interface was removed (or went down for good) while capturing.
    #[error(
        "interface {iface} went away ({reason}) — capture stopped; the report covers what was seen before"
    )]
    InterfaceGone {
        /// The interface.
        iface: String,
        /// "device removed", "interface went down" (and libpcap's words).
        reason: String,
    },
    /// Writing the evidence savefile failed while capturing (disk full, ...).
    #[error(
        "cannot write capture to {}: {message} — capture stopped; the report covers what was seen before",
        path.display()
    )]
    SaveWrite {
        /// The file being written.
        path: PathBuf,
        /// What went wrong, with the fix.
        message: String,
    },
    /// Reading from the interface failed for another reason.
    #[error(
        "capture on {iface} failed: {message} — capture stopped; the report covers what was seen before"
    )]
    Read {
        /// The interface.
        iface: String,
        /// libpcap's (or poll's) message.
        message: String,
    },
    /// Anything else libpcap refused.
    #[error("cannot open {iface}: {message}")]
    Other {
        /// The interface.
        iface: String,
        /// libpcap's message.
        message: String,
    },
}

/// How to open the interface.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Interface name (`any` on Linux for all).
    pub iface: String,
    /// BPF filter expression.
    pub filter: Option<String>,
    /// Bytes captured per packet.
    pub snaplen: i32,
    /// Promiscuous mode.
    pub promisc: bool,
    /// Kernel buffer size in bytes (None: libpcap's default).
    pub buffer_size: Option<i32>,
    /// Deliver packets as they arrive instead of batching them.
    pub immediate: bool,
    /// Read timeout in milliseconds: how long `next_frame` may block.
    pub timeout_ms: i32,
    /// Evidence savefile.
    pub savefile: Option<PathBuf>,
    /// Ring of (files, bytes per file) for the savefile.
    pub ring: Option<(u32, u64)>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            iface: "any".into(),
            filter: None,
            snaplen: 262_144,
            promisc: true,
            buffer_size: None,
            immediate: true,
            timeout_ms: 100,
            savefile: None,
            ring: None,
        }
    }
}

/// libpcap's counters and the capture settings, for the report's `capture`
/// object (live runs only).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct CaptureStats {
    /// Interface.
    pub interface: String,
    /// BPF filter, if any.
    pub filter: Option<String>,
    /// Snaplen.
    pub snaplen: i32,
    /// Promiscuous mode requested.
    pub promisc: bool,
    /// Packets libpcap received (on Linux: that passed the filter).
    pub received: u64,
    /// Packets dropped because the buffer was full (the picture is incomplete).
    pub dropped: u64,
    /// Packets the interface or its driver dropped.
    pub if_dropped: u64,
    /// Packets handed to the analysis.
    pub delivered: u64,
    /// Evidence files written (`-w`), oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub savefiles: Vec<String>,
}

struct Ring {
    base: PathBuf,
    /// The ring's files, all opened (and created) before any privilege
    /// drop; rotation truncates the next one through its descriptor.
    handles: Vec<std::fs::File>,
    files: u32,
    bytes_per_file: u64,
    index: u32,
    /// Files written, in order (a ring reuses names).
    order: Vec<u32>,
}

/// The path of ring file `i` (`FILE.i`).
pub fn ring_path(base: &Path, i: u32) -> PathBuf {
    let mut s = base.as_os_str().to_os_string();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

/// [`FrameSource`] over a live interface.
pub struct LiveSource {
    cap: pcap::Capture<pcap::Active>,
    opts: LiveOptions,
    linktype: u32,
    linktypes: Vec<u32>,
    frames: u64,
    bytes: u64,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
    skipped: SkipCounts,
    nanos: bool,
    save: Option<Evidence>,
    save_path: Option<PathBuf>,
    /// The savefile(s) as opened, to hand over the ones created.
    outputs: Vec<crate::safefile::Output>,
    ring: Option<Ring>,
    rotate: bool,
    fault: Option<LiveError>,
    idle: bool,
    done: bool,
}

fn map_open_error(iface: &str, e: pcap::Error) -> LiveError {
    let msg = match e {
        pcap::Error::PcapError(m) => m,
        other => other.to_string(),
    };
    let lower = msg.to_ascii_lowercase();
    if lower.contains("no such device") || lower.contains("doesn't exist") {
        LiveError::NoSuchDevice(iface.to_string())
    } else if lower.contains("permission")
        || lower.contains("not permitted")
        || lower.contains("eperm")
    {
        LiveError::PermissionDenied(iface.to_string())
    } else {
        LiveError::Other {
            iface: iface.to_string(),
            message: msg,
        }
    }
}

/// libpcap sometimes says only "failed" for a missing device: an
/// unexplained error on a name the device list does not have is that.
fn unknown_device(iface: &str, err: LiveError) -> LiveError {
    if matches!(err, LiveError::Other { .. })
        && pcap::Device::list().is_ok_and(|l| l.iter().all(|d| d.name != iface))
    {
        return LiveError::NoSuchDevice(iface.to_string());
    }
    err
}

impl LiveSource {
    /// Opens and activates the interface, sets the filter and opens the
    /// savefile (all before any privilege drop).
    pub fn open(opts: LiveOptions) -> Result<LiveSource, LiveError> {
        let iface = opts.iface.clone();
        let inactive =
            pcap::Capture::from_device(iface.as_str()).map_err(|e| map_open_error(&iface, e))?;
        let mut inactive = inactive
            .promisc(opts.promisc)
            .snaplen(opts.snaplen)
            .timeout(opts.timeout_ms.max(1))
            .immediate_mode(opts.immediate)
            .precision(pcap::Precision::Nano);
        if let Some(b) = opts.buffer_size {
            inactive = inactive.buffer_size(b);
        }
        let (cap, nanos) = match inactive.open() {
            Ok(c) => (c, true),
            Err(e) => {
                let err = unknown_device(&iface, map_open_error(&iface, e));
                if !matches!(err, LiveError::Other { .. }) {
                    return Err(err);
                }
                // Nanosecond precision unsupported: retry with microseconds.
                let mut retry = pcap::Capture::from_device(iface.as_str())
                    .map_err(|e| map_open_error(&iface, e))?
                    .promisc(opts.promisc)
                    .snaplen(opts.snaplen)
                    .timeout(opts.timeout_ms.max(1))
                    .immediate_mode(opts.immediate);
                if let Some(b) = opts.buffer_size {
                    retry = retry.buffer_size(b);
                }
                let cap = retry
                    .open()
                    .map_err(|e| unknown_device(&iface, map_open_error(&iface, e)))?;
                (cap, false)
            }
        };
        // Non-blocking reads and our own poll() with a timeout: libpcap's
        // blocking read retries its own timeout internally and would not
        // return to check for stop signals.
        let mut cap = cap.setnonblock().map_err(|e| LiveError::Other {
            iface: iface.clone(),
            message: format!("cannot set non-blocking mode: {e}"),
        })?;
        if let Some(f) = &opts.filter {
            cap.filter(f, true).map_err(|e| LiveError::Filter {
                filter: f.clone(),
                message: match e {
                    pcap::Error::PcapError(m) => m,
                    other => other.to_string(),
                },
            })?;
        }
        // The packet socket must not leak into programs started later (the
        // attribution helper): close-on-exec.
        nix::fcntl::fcntl(
            cap.as_fd(),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .map_err(|e| LiveError::Other {
            iface: iface.clone(),
            message: format!("cannot set close-on-exec on the capture socket: {e}"),
        })?;
        let linktype = canonical_linktype(cap.get_datalink().0 as u32);
        let mut src = LiveSource {
            cap,
            linktype,
            linktypes: vec![linktype],
            frames: 0,
            bytes: 0,
            first_ts: None,
            last_ts: None,
            skipped: SkipCounts::default(),
            nanos,
            save: None,
            save_path: None,
            outputs: Vec::new(),
            ring: None,
            rotate: false,
            fault: None,
            idle: false,
            done: false,
            opts,
        };
        if let Some(path) = src.opts.savefile.clone() {
            match src.opts.ring {
                Some((files, bytes_per_file)) => {
                    // Every file of the ring is opened now (each a valid
                    // empty pcap until used), while still privileged.
                    let files = files.max(1);
                    let mut handles = Vec::with_capacity(files as usize);
                    for i in (0..files).rev() {
                        let p = ring_path(&path, i);
                        let ev = src.open_savefile(&p)?;
                        handles.push(ev.file.try_clone().map_err(|e| LiveError::Savefile {
                            path: p.clone(),
                            message: describe_write_error(&e),
                        })?);
                        src.save = Some(ev);
                        src.save_path = Some(p);
                    }
                    handles.reverse();
                    src.ring = Some(Ring {
                        base: path,
                        handles,
                        files,
                        bytes_per_file: bytes_per_file.max(1),
                        index: 0,
                        order: vec![0],
                    });
                }
                None => {
                    src.save = Some(src.open_savefile(&path)?);
                    src.save_path = Some(path);
                }
            }
        }
        Ok(src)
    }

    /// Hands the savefiles this run created to `uid:gid` (`fchown` on their
    /// descriptors; a file that existed before keeps its owner).
    pub fn hand_savefiles_to(&self, uid: u32, gid: u32) -> std::io::Result<()> {
        self.outputs.iter().try_for_each(|o| o.hand_to(uid, gid))
    }

    /// libpcap's counters now.
    pub fn stats(&mut self) -> CaptureStats {
        let (received, dropped, if_dropped) = match self.cap.stats() {
            Ok(s) => (
                u64::from(s.received),
                u64::from(s.dropped),
                u64::from(s.if_dropped),
            ),
            Err(_) => (0, 0, 0),
        };
        CaptureStats {
            interface: self.opts.iface.clone(),
            filter: self.opts.filter.clone(),
            snaplen: self.opts.snaplen,
            promisc: self.opts.promisc,
            received,
            dropped,
            if_dropped,
            delivered: self.frames,
            savefiles: match &self.ring {
                Some(r) => r
                    .order
                    .iter()
                    .map(|i| ring_path(&r.base, *i).display().to_string())
                    .collect(),
                None => self
                    .save_path
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect(),
            },
        }
    }

    /// Why the capture stopped by itself, if it did: the interface went
    /// away, reading failed, or the evidence file could not be written
    /// (disk full). The caller ends the capture and reports this.
    pub fn fault(&self) -> Option<&LiveError> {
        self.fault.as_ref()
    }

    /// Writes what the evidence savefile holds in memory to disk; a failure
    /// becomes the [`fault`](Self::fault).
    pub fn flush(&mut self) {
        if let Some(s) = self.save.as_mut()
            && let Err(e) = s.flush()
        {
            self.save_failed(e);
        }
    }

    fn save_failed(&mut self, e: std::io::Error) {
        let path = self
            .save
            .take()
            .map(|s| s.path)
            .or_else(|| self.save_path.clone())
            .unwrap_or_default();
        if self.fault.is_none() {
            self.fault = Some(LiveError::SaveWrite {
                path,
                message: describe_write_error(&e),
            });
        }
        self.done = true;
    }

    fn open_savefile(&mut self, path: &Path) -> Result<Evidence, LiveError> {
        let err = |e: std::io::Error| LiveError::Savefile {
            path: path.to_path_buf(),
            message: describe_write_error(&e),
        };
        // Overwritten like tcpdump -w, but never through a link.
        let out = crate::safefile::open_output(path, true).map_err(err)?;
        let file = out.file.try_clone().map_err(err)?;
        self.outputs.push(out);
        Evidence::start(path, file, self.linktype, self.opts.snaplen, self.nanos).map_err(err)
    }

    fn do_rotate(&mut self) {
        self.rotate = false;
        let Some(r) = self.ring.as_ref() else {
            return;
        };
        let next = (r.index + 1) % r.files;
        let path = ring_path(&r.base, next);
        self.flush();
        if self.fault.is_some() {
            return;
        }
        // Close the full file before truncating the next (with one file,
        // the same one).
        self.save = None;
        let file = self
            .ring
            .as_ref()
            .and_then(|r| r.handles.get(next as usize))
            .map(|f| f.try_clone())
            .unwrap_or_else(|| Err(std::io::Error::other("ring file not open")));
        match file
            .and_then(|f| Evidence::start(&path, f, self.linktype, self.opts.snaplen, self.nanos))
        {
            Ok(s) => {
                self.save = Some(s);
                self.save_path = Some(path);
                if let Some(r) = self.ring.as_mut() {
                    r.index = next;
                    r.order.retain(|i| *i != next);
                    r.order.push(next);
                }
            }
            Err(e) => {
                self.save_path = Some(path);
                self.save_failed(e);
            }
        }
    }
}

/// An I/O error as a message with the fix: "no space left on device (free
/// space, or bound the evidence with --ring N:MB)".
fn describe_write_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    // "No space left on device (os error 28)" -> "no space left on device"
    let text = match text.find(" (os error") {
        Some(i) => text.get(..i).unwrap_or(&text).to_string(),
        None => text,
    };
    let mut chars = text.chars();
    let text = match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => text,
    };
    use std::io::ErrorKind as K;
    match e.kind() {
        K::StorageFull | K::QuotaExceeded | K::FileTooLarge => {
            format!("{text} (free space, or bound the evidence with --ring N:MB)")
        }
        K::PermissionDenied | K::ReadOnlyFilesystem => {
            format!("{text} (write it to a folder you may write to)")
        }
        _ => text,
    }
}

/// A libpcap read error as the reason the capture stopped.
fn read_fault(iface: &str, message: &str) -> LiveError {
    let lower = message.to_ascii_lowercase();
    let reason = if lower.contains("disappeared")
        || lower.contains("no such device")
        || lower.contains("enodev")
        || lower.contains("enxio")
    {
        Some("device removed")
    } else if lower.contains("went down")
        || lower.contains("network is down")
        || lower.contains("enetdown")
    {
        Some("interface went down")
    } else {
        None
    };
    match reason {
        Some(r) => LiveError::InterfaceGone {
            iface: iface.to_string(),
            reason: format!("{r}; libpcap: {}", message.trim_end_matches('.')),
        },
        None => LiveError::Read {
            iface: iface.to_string(),
            message: message.to_string(),
        },
    }
}

/// Bytes the evidence writer holds in memory before writing them.
const EVIDENCE_BUF: usize = 64 * 1024;

/// The evidence savefile (`-w`): a classic pcap written here rather than by
/// libpcap's `pcap_dump`, which cannot report a failed write, so that a
/// full disk is noticed at the write that failed. The file always ends on
/// a complete record: a failed write is cut back to the last one written
/// whole, so what is there stays readable.
struct Evidence {
    path: PathBuf,
    file: std::fs::File,
    buf: Vec<u8>,
    /// Bytes in the file, always at a record boundary.
    on_disk: u64,
}

impl Evidence {
    /// Starts the file over (truncated, when it is a regular file) and
    /// writes the header at once, so an unwritable file fails before the
    /// capture starts.
    fn start(
        path: &Path,
        mut file: std::fs::File,
        linktype: u32,
        snaplen: i32,
        nanos: bool,
    ) -> std::io::Result<Evidence> {
        if file.metadata()?.is_file() {
            file.set_len(0)?;
            std::io::Seek::rewind(&mut file)?;
        }
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut hdr = Vec::with_capacity(24);
        hdr.extend_from_slice(&magic.to_le_bytes());
        hdr.extend_from_slice(&2u16.to_le_bytes());
        hdr.extend_from_slice(&4u16.to_le_bytes());
        hdr.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        hdr.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        hdr.extend_from_slice(&u32::try_from(snaplen).unwrap_or(262_144).to_le_bytes());
        hdr.extend_from_slice(&linktype.to_le_bytes());
        file.write_all(&hdr)?;
        Ok(Evidence {
            path: path.to_path_buf(),
            file,
            buf: Vec::with_capacity(EVIDENCE_BUF),
            on_disk: 24,
        })
    }

    /// Adds one record; writes the buffer out when it is full.
    fn push(&mut self, sec: i64, frac: i64, orig_len: u32, data: &[u8]) -> std::io::Result<()> {
        let caplen = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let data = data.get(..caplen as usize).unwrap_or(data);
        self.buf
            .extend_from_slice(&u32::try_from(sec).unwrap_or(0).to_le_bytes());
        self.buf
            .extend_from_slice(&u32::try_from(frac).unwrap_or(0).to_le_bytes());
        self.buf.extend_from_slice(&caplen.to_le_bytes());
        self.buf.extend_from_slice(&orig_len.to_le_bytes());
        self.buf.extend_from_slice(data);
        if self.buf.len() >= EVIDENCE_BUF {
            self.flush()
        } else {
            Ok(())
        }
    }

    /// Writes the buffered records; on failure cuts the file back to its
    /// last complete record (not possible on a device, where it does not
    /// matter).
    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let r = self.file.write_all(&self.buf);
        let n = self.buf.len() as u64;
        self.buf.clear();
        match r {
            Ok(()) => {
                self.on_disk += n;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.on_disk);
                Err(e)
            }
        }
    }

    /// Size of the file once the buffer is written.
    fn size(&self) -> u64 {
        self.on_disk + self.buf.len() as u64
    }
}

impl FrameSource for LiveSource {
    /// The next packet, or Ok(None) when none arrived within the read
    /// timeout (not an end: call again).
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        if self.rotate {
            self.do_rotate();
        }
        if self.idle {
            // The last read found nothing: put the evidence on disk, then
            // wait for the descriptor.
            self.idle = false;
            self.flush();
            if self.done {
                return Ok(None);
            }
            let timeout = u16::try_from(self.opts.timeout_ms.max(1)).unwrap_or(u16::MAX);
            let mut fds = [nix::poll::PollFd::new(
                self.cap.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            match nix::poll::poll(&mut fds, timeout) {
                Ok(0) => return Ok(None),
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => {
                    self.done = true;
                    let message = format!("poll: {e}");
                    self.fault = Some(read_fault(&self.opts.iface, &message));
                    return Err(CaptureError::Libpcap {
                        name: self.opts.iface.clone(),
                        message,
                        packet: self.frames + 1,
                    });
                }
            }
        }
        match self.cap.next_packet() {
            Ok(p) => {
                let frame = super::libpcap::frame_of(&p, self.linktype, self.nanos);
                let ts_nanos = frame.ts_nanos;
                self.frames += 1;
                self.bytes += u64::from(p.header.len);
                if self.first_ts.is_none() {
                    self.first_ts = Some(ts_nanos);
                }
                self.last_ts = Some(ts_nanos);
                if let Some(s) = self.save.as_mut() {
                    // time_t / suseconds_t are i32 on some targets.
                    #[allow(clippy::useless_conversion)]
                    let (sec, frac) = (
                        i64::from(p.header.ts.tv_sec),
                        i64::from(p.header.ts.tv_usec),
                    );
                    match s.push(sec, frac, p.header.len, p.data) {
                        Ok(()) => {
                            if let Some(r) = self.ring.as_ref()
                                && s.size() >= r.bytes_per_file
                            {
                                self.rotate = true;
                            }
                        }
                        Err(e) => {
                            // This packet is still analysed; the capture
                            // stops before the next one.
                            let path = s.path.clone();
                            self.save = None;
                            self.fault = Some(LiveError::SaveWrite {
                                path,
                                message: describe_write_error(&e),
                            });
                            self.done = true;
                        }
                    }
                }
                Ok(Some(frame))
            }
            Err(pcap::Error::TimeoutExpired) => {
                self.idle = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                let message = match e {
                    pcap::Error::PcapError(m) => m,
                    other => other.to_string(),
                };
                self.fault = Some(read_fault(&self.opts.iface, &message));
                Err(CaptureError::Libpcap {
                    name: self.opts.iface.clone(),
                    message,
                    packet: self.frames + 1,
                })
            }
        }
    }

    fn position(&self) -> u64 {
        self.bytes
    }

    fn total_size(&self) -> Option<u64> {
        None
    }

    fn linktypes(&self) -> &[u32] {
        &self.linktypes
    }

    fn skipped(&self) -> &SkipCounts {
        &self.skipped
    }

    fn name(&self) -> &str {
        &self.opts.iface
    }

    fn finish(mut self: Box<Self>) -> InputSummary {
        self.flush();
        InputSummary {
            name: self.opts.iface.clone(),
            size: self.bytes,
            sha256: String::new(),
            first_ts_nanos: self.first_ts,
            last_ts_nanos: self.last_ts,
            linktypes: self.linktypes.clone(),
            frames: self.frames,
            format: "live".to_string(),
            skipped: self.skipped.clone(),
        }
    }
}

/// One capture interface, for `ghostport interfaces`.
#[derive(Clone, Debug, Serialize)]
pub struct Interface {
    /// Name to pass to `-i`.
    pub name: String,
    /// libpcap's description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Addresses with prefix length (`10.0.0.2/24`).
    pub addresses: Vec<String>,
    /// up, running, loopback, wireless, connected, disconnected.
    pub flags: Vec<&'static str>,
}

/// Lists the capture interfaces (`pcap::Device::list()`).
pub fn interfaces() -> Result<Vec<Interface>, LiveError> {
    let devs = pcap::Device::list().map_err(|e| LiveError::Other {
        iface: "the interface list".into(),
        message: e.to_string(),
    })?;
    Ok(devs
        .into_iter()
        .map(|d| {
            let mut flags = Vec::new();
            if d.flags.is_up() {
                flags.push("up");
            }
            if d.flags.is_running() {
                flags.push("running");
            }
            if d.flags.is_loopback() {
                flags.push("loopback");
            }
            if d.flags.is_wireless() {
                flags.push("wireless");
            }
            match d.flags.connection_status {
                pcap::ConnectionStatus::Connected => flags.push("connected"),
                pcap::ConnectionStatus::Disconnected => flags.push("disconnected"),
                _ => {}
            }
            let addresses = d
                .addresses
                .iter()
                .map(|a| match a.netmask.map(prefix_len) {
                    Some(p) => format!("{}/{p}", a.addr),
                    None => a.addr.to_string(),
                })
                .collect();
            Interface {
                name: d.name,
                description: d.desc,
                addresses,
                flags,
            }
        })
        .collect())
}

/// Addresses of this host's interfaces (for local attribution).
pub fn local_addresses() -> Vec<std::net::IpAddr> {
    pcap::Device::list()
        .map(|v| {
            v.into_iter()
                .flat_map(|d| d.addresses.into_iter().map(|a| a.addr))
                .collect()
        })
        .unwrap_or_default()
}

fn prefix_len(mask: std::net::IpAddr) -> u32 {
    match mask {
        std::net::IpAddr::V4(m) => u32::from(m).count_ones(),
        std::net::IpAddr::V6(m) => u128::from(m).count_ones(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_names_and_prefixes() {
        assert_eq!(
            ring_path(Path::new("/tmp/ev.pcap"), 3),
            PathBuf::from("/tmp/ev.pcap.3")
        );
        assert_eq!(prefix_len("255.255.255.0".parse().unwrap()), 24);
        assert_eq!(prefix_len("ffff:ffff::".parse().unwrap()), 32);
    }

    #[test]
    fn read_errors_say_the_interface_went_away() {
        let e = read_fault("gpt-1", "The interface disappeared");
        assert_eq!(
            e.to_string(),
            "interface gpt-1 went away (device removed; libpcap: The interface disappeared) — capture stopped; the report covers what was seen before"
        );
        assert!(matches!(
            read_fault("eth0", "The interface went down"),
            LiveError::InterfaceGone { .. }
        ));
        assert!(matches!(
            read_fault("eth0", "recvfrom: Bad address"),
            LiveError::Read { .. }
        ));
        assert_eq!(
            describe_write_error(&std::io::Error::from_raw_os_error(28)),
            "no space left on device (free space, or bound the evidence with --ring N:MB)"
        );
    }

    #[test]
    fn evidence_files_are_pcaps_libpcap_reads() {
        let dir = std::env::temp_dir().join(format!("gp-evidence-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("ev.pcap");
        let f = crate::safefile::open_output(&p, true).unwrap().file;
        let mut ev = Evidence::start(&p, f, 1, 65535, true).unwrap();
        ev.push(1_700_000_000, 123_456_789, 60, &[0xab; 42])
            .unwrap();
        ev.push(1_700_000_001, 5, 14, &[0xcd; 14]).unwrap();
        assert_eq!(ev.size(), 24 + 16 + 42 + 16 + 14);
        ev.flush().unwrap();
        drop(ev);
        let mut cap = pcap::Capture::from_file_with_precision(&p, pcap::Precision::Nano).unwrap();
        assert_eq!(cap.get_datalink().0, 1);
        let a = cap.next_packet().unwrap();
        assert_eq!(
            (a.header.ts.tv_sec, a.header.ts.tv_usec),
            (1_700_000_000, 123_456_789)
        );
        assert_eq!((a.header.caplen, a.header.len), (42, 60));
        assert_eq!(a.data, &[0xab; 42][..]);
        let b = cap.next_packet().unwrap();
        assert_eq!(b.data, &[0xcd; 14][..]);
        assert!(cap.next_packet().is_err(), "two records only");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_name_the_interface_and_the_fix() {
        let e = map_open_error(
            "eth9",
            pcap::Error::PcapError("eth9: No such device exists (SIOCGIFHWADDR)".into()),
        );
        assert_eq!(
            e.to_string(),
            "cannot open eth9: no such device (see `ghostport interfaces`)"
        );
        let e = map_open_error(
            "lo",
            pcap::Error::PcapError(
                "lo: You don't have permission to perform this capture on that device (socket: Operation not permitted)".into(),
            ),
        );
        assert!(
            e.to_string()
                .starts_with("permission denied capturing on lo: run as root")
        );
    }
}
