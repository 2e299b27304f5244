//! The native reader: our own pcap / pcapng record parser over read() with a
//! 1 MiB buffer, frames borrowed from the buffer (no copy).

use super::buf::{DEFAULT_CAPACITY, RecordBuf};
use super::error::CaptureError;
use super::input::{Compression, Decoded, Opened, SideHasher, finish_input};
use super::lines::{LineSource, looks_like_text};
use super::parse::{Ctx, Rec, magic_of};
use super::pcap_file::{PcapFormat, is_pcap_magic};
use super::pcapng::{PcapngFormat, is_pcapng_magic};
use super::{Frame, FrameSource, InputSummary, SkipCounts, Source};

enum Format {
    Pcap(PcapFormat),
    Pcapng(PcapngFormat),
}

/// Native [`FrameSource`] for classic pcap and pcapng, optionally gzip or
/// zstd compressed.
pub struct NativeSource {
    buf: RecordBuf<Decoded>,
    /// Bytes of the last returned frame's record, consumed on the next call.
    pending: usize,
    format: Format,
    ctx: Ctx,
    compression: Compression,
    total_size: Option<u64>,
    side_hasher: Option<SideHasher>,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
    done: bool,
}

impl NativeSource {
    pub(crate) fn new(opened: Opened) -> Result<NativeSource, CaptureError> {
        Self::with_capacity(opened, DEFAULT_CAPACITY)
    }

    pub(crate) fn with_capacity(
        opened: Opened,
        capacity: usize,
    ) -> Result<NativeSource, CaptureError> {
        match Self::open_inner(opened, capacity, false)? {
            Ok(n) => Ok(n),
            // open_inner returns text only when asked to
            Err(l) => Err(CaptureError::NotCapture {
                magic: 0,
                name: l.name().to_owned(),
                compression: None,
            }),
        }
    }

    /// A capture, or (when the input is text) a [`LineSource`].
    pub(crate) fn open_any(opened: Opened) -> Result<Source, CaptureError> {
        Ok(match Self::open_inner(opened, DEFAULT_CAPACITY, true)? {
            Ok(n) => Source::Frames(Box::new(n)),
            Err(l) => Source::Lines(Box::new(l)),
        })
    }

    fn open_inner(
        opened: Opened,
        capacity: usize,
        text: bool,
    ) -> Result<Result<NativeSource, LineSource>, CaptureError> {
        let Opened {
            name,
            stream,
            compression,
            total_size,
            side_hasher,
        } = opened;
        let mut ctx = Ctx {
            name,
            compression: compression.name(),
            frames: 0,
            skipped: SkipCounts::default(),
            linktypes: Vec::new(),
        };
        let mut buf = RecordBuf::new(stream, capacity);
        buf.fill(4).map_err(|e| ctx.read_err(e, 0))?;
        let magic = buf.avail();
        if magic.is_empty() {
            return Err(CaptureError::Empty { name: ctx.name });
        }
        let format = if is_pcap_magic(magic) {
            Format::Pcap(PcapFormat::open(&mut buf, &mut ctx)?)
        } else if is_pcapng_magic(magic) {
            Format::Pcapng(PcapngFormat::new())
        } else if text && looks_like_text(magic) {
            return Ok(Err(LineSource::new(
                buf,
                ctx,
                compression,
                total_size,
                side_hasher,
            )));
        } else {
            return Err(CaptureError::NotCapture {
                magic: magic_of(magic),
                name: ctx.name,
                compression: ctx.compression,
            });
        };
        Ok(Ok(NativeSource {
            buf,
            pending: 0,
            format,
            ctx,
            compression,
            total_size,
            side_hasher,
            first_ts: None,
            last_ts: None,
            done: false,
        }))
    }

    fn format_name(&self) -> String {
        let base = match self.format {
            Format::Pcap(_) => "pcap",
            Format::Pcapng(_) => "pcapng",
        };
        match self.compression.name() {
            Some(c) => format!("{base}+{c}"),
            None => base.to_string(),
        }
    }
}

impl FrameSource for NativeSource {
    #[inline]
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        self.buf.consume(self.pending);
        self.pending = 0;
        if self.done {
            return Ok(None);
        }
        let r = match &mut self.format {
            Format::Pcap(p) => p.next(&mut self.buf, &mut self.ctx),
            Format::Pcapng(p) => p.next(&mut self.buf, &mut self.ctx),
        };
        let rec: Rec = match r {
            Ok(Some(rec)) => rec,
            Ok(None) => {
                self.done = true;
                return Ok(None);
            }
            Err(e) => {
                self.done = true;
                return Err(e);
            }
        };
        self.pending = rec.consume;
        self.ctx.frames += 1;
        if self.first_ts.is_none() {
            self.first_ts = Some(rec.ts_nanos);
        }
        self.last_ts = Some(rec.ts_nanos);
        if self.ctx.linktypes.last() != Some(&rec.linktype) {
            self.ctx.add_linktype(rec.linktype);
        }
        let data = self
            .buf
            .avail()
            .get(rec.start..rec.start + rec.len)
            .unwrap_or(&[]);
        Ok(Some(Frame {
            ts_nanos: rec.ts_nanos,
            linktype: rec.linktype,
            data,
            orig_len: rec.orig_len,
            caplen: data.len() as u32,
        }))
    }

    fn position(&self) -> u64 {
        self.buf.get_ref().raw().count()
    }

    fn total_size(&self) -> Option<u64> {
        self.total_size
    }

    fn linktypes(&self) -> &[u32] {
        &self.ctx.linktypes
    }

    fn skipped(&self) -> &SkipCounts {
        &self.ctx.skipped
    }

    fn name(&self) -> &str {
        &self.ctx.name
    }

    fn finish(mut self: Box<Self>) -> InputSummary {
        let format = self.format_name();
        let (sha256, size) = finish_input(self.side_hasher.take(), &mut self.buf, self.total_size);
        InputSummary {
            name: self.ctx.name.clone(),
            size,
            sha256,
            first_ts_nanos: self.first_ts,
            last_ts_nanos: self.last_ts,
            linktypes: self.ctx.linktypes.clone(),
            frames: self.ctx.frames,
            format,
            skipped: self.ctx.skipped.clone(),
        }
    }
}
