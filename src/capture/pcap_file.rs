//! Classic pcap: 24-byte file header, then 16-byte record headers (24 for
//! the "modified" Kuznetzov format) each followed by `caplen` bytes.

use std::io::Read;

use super::buf::RecordBuf;
use super::error::CaptureError;
use super::parse::{Ctx, MAX_SNAPLEN, Rec, effective_snaplen, u32_at};

const FILE_HEADER: usize = 24;

/// The byte patterns of the classic pcap magics, as they appear in a file.
pub(crate) fn is_pcap_magic(m: &[u8]) -> bool {
    matches!(
        m,
        [0xd4, 0xc3, 0xb2, 0xa1, ..]
            | [0xa1, 0xb2, 0xc3, 0xd4, ..]
            | [0x4d, 0x3c, 0xb2, 0xa1, ..]
            | [0xa1, 0xb2, 0x3c, 0x4d, ..]
            | [0x34, 0xcd, 0xb2, 0xa1, ..]
            | [0xa1, 0xb2, 0xcd, 0x34, ..]
    )
}

#[derive(Debug)]
pub(crate) struct PcapFormat {
    be: bool,
    nanos: bool,
    rec_header: usize,
    snaplen: u32,
    linktype: u32,
}

impl PcapFormat {
    /// Parses the file header (the magic has been checked) and consumes it.
    pub(crate) fn open<R: Read>(
        buf: &mut RecordBuf<R>,
        ctx: &mut Ctx,
    ) -> Result<PcapFormat, CaptureError> {
        if !buf.fill(FILE_HEADER).map_err(|e| ctx.read_err(e, 0))? {
            return Err(ctx.truncated("file header", 0));
        }
        let h = buf.avail();
        let (be, nanos, rec_header) = match h.get(..4) {
            Some([0xd4, 0xc3, 0xb2, 0xa1]) => (false, false, 16),
            Some([0xa1, 0xb2, 0xc3, 0xd4]) => (true, false, 16),
            Some([0x4d, 0x3c, 0xb2, 0xa1]) => (false, true, 16),
            Some([0xa1, 0xb2, 0x3c, 0x4d]) => (true, true, 16),
            Some([0x34, 0xcd, 0xb2, 0xa1]) => (false, false, 24),
            Some([0xa1, 0xb2, 0xcd, 0x34]) => (true, false, 24),
            _ => {
                return Err(CaptureError::NotCapture {
                    name: ctx.name.clone(),
                    magic: super::parse::magic_of(h),
                    compression: ctx.compression,
                });
            }
        };
        let snaplen = effective_snaplen(u32_at(h, 16, be));
        // The upper 16 bits hold FCS-length flags (libpcap's LT_LINKTYPE).
        let linktype = u32_at(h, 20, be) & 0xffff;
        buf.consume(FILE_HEADER);
        ctx.add_linktype(linktype);
        Ok(PcapFormat {
            be,
            nanos,
            rec_header,
            snaplen,
            linktype,
        })
    }

    /// Locates the next record in the buffer.
    #[inline]
    pub(crate) fn next<R: Read>(
        &self,
        buf: &mut RecordBuf<R>,
        ctx: &mut Ctx,
    ) -> Result<Option<Rec>, CaptureError> {
        let off = buf.offset();
        if !buf
            .fill(self.rec_header)
            .map_err(|e| ctx.read_err(e, off))?
        {
            if buf.avail().is_empty() {
                return Ok(None);
            }
            return Err(ctx.truncated("record", off));
        }
        let h = buf.avail();
        let be = self.be;
        let sec = i64::from(u32_at(h, 0, be));
        let frac = i64::from(u32_at(h, 4, be));
        let caplen = u32_at(h, 8, be);
        let orig_len = u32_at(h, 12, be);
        let mut keep = caplen;
        if caplen > self.snaplen {
            if caplen > MAX_SNAPLEN {
                return Err(ctx.corrupt(
                    super::parse::record_length_detail(caplen, self.snaplen),
                    off,
                ));
            }
            keep = self.snaplen;
            ctx.skipped.clamped_records += 1;
        }
        let total = self.rec_header + caplen as usize;
        if !buf.fill(total).map_err(|e| ctx.read_err(e, off))? {
            return Err(ctx.truncated("record", off));
        }
        let ts_nanos = sec * 1_000_000_000 + if self.nanos { frac } else { frac * 1000 };
        Ok(Some(Rec {
            ts_nanos,
            linktype: self.linktype,
            start: self.rec_header,
            len: keep as usize,
            orig_len,
            consume: total,
        }))
    }
}
