//! Live capture through libpcap (`pcap::Capture<Active>`): a [`FrameSource`]
//! over an interface, with a read timeout so the caller's loop can check for
//! stop signals between packets ([`FrameSource::next_frame`] returns
//! `Ok(None)` for "no packet yet", never for an end), libpcap's drop
//! counters, and an optional evidence savefile (`-w FILE`, optionally a ring
//! of N files of M MB: FILE.0, FILE.1, ...).
//!
//! Capture time is the packets' timestamps (nanosecond precision when
//! libpcap supports it), exactly as for files.

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
    files: u32,
    bytes_per_file: u64,
    index: u32,
    written: u64,
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
    save: Option<pcap::Savefile>,
    save_path: Option<PathBuf>,
    ring: Option<Ring>,
    rotate: bool,
    save_error: Option<String>,
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
            ring: None,
            rotate: false,
            save_error: None,
            idle: false,
            done: false,
            opts,
        };
        if let Some(path) = src.opts.savefile.clone() {
            match src.opts.ring {
                Some((files, bytes_per_file)) => {
                    let first = ring_path(&path, 0);
                    src.save = Some(open_savefile(&src.cap, &first)?);
                    src.save_path = Some(first);
                    src.ring = Some(Ring {
                        base: path,
                        files: files.max(1),
                        bytes_per_file: bytes_per_file.max(1),
                        index: 0,
                        written: 24,
                        order: vec![0],
                    });
                }
                None => {
                    src.save = Some(open_savefile(&src.cap, &path)?);
                    src.save_path = Some(path);
                }
            }
        }
        Ok(src)
    }

    /// The files a ring will use, for preparing them before a privilege
    /// drop (the first one is already open).
    pub fn ring_files(&self) -> Vec<PathBuf> {
        match &self.ring {
            Some(r) => (0..r.files).map(|i| ring_path(&r.base, i)).collect(),
            None => self.save_path.iter().cloned().collect(),
        }
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

    /// A savefile write or rotation error, if one happened (the capture
    /// goes on without saving).
    pub fn save_error(&self) -> Option<&str> {
        self.save_error.as_deref()
    }

    /// Flushes the savefile.
    pub fn flush(&mut self) {
        if let Some(s) = self.save.as_mut()
            && let Err(e) = s.flush()
        {
            self.save_error = Some(e.to_string());
        }
    }

    fn do_rotate(&mut self) {
        self.rotate = false;
        let Some(r) = self.ring.as_mut() else {
            return;
        };
        if let Some(mut s) = self.save.take() {
            let _ = s.flush();
        }
        r.index = (r.index + 1) % r.files;
        r.written = 24;
        let path = ring_path(&r.base, r.index);
        r.order.retain(|i| *i != r.index);
        r.order.push(r.index);
        match open_savefile(&self.cap, &path) {
            Ok(s) => {
                self.save = Some(s);
                self.save_path = Some(path);
            }
            Err(e) => self.save_error = Some(e.to_string()),
        }
    }
}

fn open_savefile(
    cap: &pcap::Capture<pcap::Active>,
    path: &Path,
) -> Result<pcap::Savefile, LiveError> {
    cap.savefile(path).map_err(|e| LiveError::Savefile {
        path: path.to_path_buf(),
        message: match e {
            pcap::Error::PcapError(m) => m,
            other => other.to_string(),
        },
    })
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
            // The last read found nothing: wait for the descriptor.
            self.idle = false;
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
                    return Err(CaptureError::Libpcap {
                        name: self.opts.iface.clone(),
                        message: format!("poll: {e}"),
                        packet: self.frames + 1,
                    });
                }
            }
        }
        match self.cap.next_packet() {
            Ok(p) => {
                // time_t / suseconds_t are i32 on some targets.
                #[allow(clippy::useless_conversion)]
                let frac = i64::from(p.header.ts.tv_usec);
                #[allow(clippy::useless_conversion)]
                let ts_nanos = i64::from(p.header.ts.tv_sec)
                    .saturating_mul(1_000_000_000)
                    .saturating_add(if self.nanos {
                        frac
                    } else {
                        frac.saturating_mul(1000)
                    });
                self.frames += 1;
                self.bytes += u64::from(p.header.len);
                if self.first_ts.is_none() {
                    self.first_ts = Some(ts_nanos);
                }
                self.last_ts = Some(ts_nanos);
                if let Some(s) = self.save.as_mut() {
                    s.write(&p);
                    if let Some(r) = self.ring.as_mut() {
                        r.written += 16 + u64::from(p.header.caplen);
                        if r.written >= r.bytes_per_file {
                            self.rotate = true;
                        }
                    }
                }
                Ok(Some(Frame {
                    ts_nanos,
                    linktype: self.linktype,
                    data: p.data,
                    orig_len: p.header.len,
                    caplen: p.data.len() as u32,
                }))
            }
            Err(pcap::Error::TimeoutExpired) => {
                self.idle = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(CaptureError::Libpcap {
                    name: self.opts.iface.clone(),
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
