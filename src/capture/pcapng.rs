//! pcapng: sections (SHB) with their own byte order, interfaces (IDB) with
//! their own link type, snaplen, timestamp resolution and offset, and packet
//! blocks (EPB, SPB, obsolete PB). Other blocks are skipped without being
//! held in memory.

use std::io::Read;

use super::buf::RecordBuf;
use super::error::CaptureError;
use super::parse::{Ctx, MAX_SNAPLEN, Rec, effective_snaplen, magic_of, u16_at, u32_at, u64_at};

const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 1;
const PB: u32 = 2;
const SPB: u32 = 3;
const NRB: u32 = 4;
const ISB: u32 = 5;
const EPB: u32 = 6;
const SYSTEMD_JOURNAL: u32 = 9;
const DSB: u32 = 10;
const CUSTOM: u32 = 0x0000_0bad;
const CUSTOM_NOCOPY: u32 = 0x4000_0bad;

/// Largest block parsed in memory (SHB, IDB, packet blocks).
const MAX_BLOCK: u32 = 16 << 20;
/// Largest block skipped (streamed past, not held).
const MAX_SKIPPED_BLOCK: u32 = 256 << 20;
/// Interface ids kept per section (4 bytes each: 16 MiB at most). libpcap
/// reads any number; a file declaring more is read, and packets on the
/// interfaces beyond are counted as `unknown_interface`.
const MAX_INTERFACES: usize = 1 << 22;
/// Distinct interface descriptions (link type, snaplen, time base) per
/// section; the interfaces of a section mostly share a few. Beyond, new
/// descriptions are not kept and their packets are counted as the input's
/// `unknown_interface`.
const MAX_DISTINCT_INTERFACES: usize = 1 << 16;
/// An interface id whose description was not kept.
const NOT_KEPT: u32 = u32::MAX;

pub(crate) fn is_pcapng_magic(m: &[u8]) -> bool {
    matches!(m, [0x0a, 0x0d, 0x0d, 0x0a, ..])
}

/// How an interface's timestamp units turn into nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct TsConv {
    mul: u64,
    div: u64,
    shift: u32,
    offset_ns: i128,
}

impl TsConv {
    fn new(tsresol: u8, offset_s: i64) -> TsConv {
        let offset_ns = i128::from(offset_s) * 1_000_000_000;
        let exp = u32::from(tsresol & 0x7f);
        if tsresol & 0x80 != 0 {
            // 2^-exp seconds per unit.
            TsConv {
                mul: 1_000_000_000,
                div: 1,
                shift: exp,
                offset_ns,
            }
        } else if exp <= 9 {
            TsConv {
                mul: 10u64.pow(9 - exp),
                div: 1,
                shift: 0,
                offset_ns,
            }
        } else {
            // 10^-exp with exp > 9; beyond 10^19 every u64 count is < 1 ns.
            match 10u64.checked_pow(exp - 9) {
                Some(div) => TsConv {
                    mul: 1,
                    div,
                    shift: 0,
                    offset_ns,
                },
                None => TsConv {
                    mul: 0,
                    div: 1,
                    shift: 0,
                    offset_ns,
                },
            }
        }
    }

    #[inline]
    fn nanos(&self, ts: u64) -> i64 {
        let mut v = u128::from(ts) * u128::from(self.mul);
        if self.div != 1 {
            v /= u128::from(self.div);
        }
        if self.shift != 0 {
            v = v.checked_shr(self.shift).unwrap_or(0);
        }
        // v < 2^94: fits i128.
        let ns = (v as i128).saturating_add(self.offset_ns);
        ns.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Interface {
    linktype: u32,
    snaplen: u32,
    ts: TsConv,
}

#[derive(Debug)]
pub(crate) struct PcapngFormat {
    be: bool,
    /// Per interface id, the index of its description in `kinds` (or
    /// [`NOT_KEPT`]): 200,000 interfaces of one kind cost 800 KB.
    interfaces: Vec<u32>,
    kinds: Vec<Interface>,
    kind_index: std::collections::HashMap<Interface, u32>,
    last_ts: i64,
}

impl PcapngFormat {
    pub(crate) fn new() -> PcapngFormat {
        PcapngFormat {
            be: false,
            interfaces: Vec::new(),
            kinds: Vec::new(),
            kind_index: std::collections::HashMap::new(),
            last_ts: 0,
        }
    }

    /// Returns the next packet, parsing section and interface blocks and
    /// skipping others on the way.
    pub(crate) fn next<R: Read>(
        &mut self,
        buf: &mut RecordBuf<R>,
        ctx: &mut Ctx,
    ) -> Result<Option<Rec>, CaptureError> {
        loop {
            let off = buf.offset();
            if !buf.fill(12).map_err(|e| ctx.read_err(e, off))? {
                if buf.avail().is_empty() {
                    return Ok(None);
                }
                return Err(ctx.truncated("block", off));
            }
            let b = buf.avail();
            if b.get(..4) == Some(&[0x0a, 0x0d, 0x0d, 0x0a]) {
                self.be = match b.get(8..12) {
                    Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
                    Some([0x4d, 0x3c, 0x2b, 0x1a]) => false,
                    _ => {
                        return Err(ctx.corrupt(
                            format!(
                                "pcapng section header (byte-order magic 0x{:08x})",
                                magic_of(b.get(8..12).unwrap_or(&[]))
                            ),
                            off,
                        ));
                    }
                };
            } else if off == 0 {
                return Err(CaptureError::NotCapture {
                    name: ctx.name.clone(),
                    magic: magic_of(b),
                    compression: ctx.compression,
                });
            }
            let be = self.be;
            let btype = u32_at(b, 0, be);
            let len = u32_at(b, 4, be);
            if len < 12 || !len.is_multiple_of(4) {
                return Err(ctx.corrupt(
                    format!("pcapng block length {len} (block type 0x{btype:08x})"),
                    off,
                ));
            }
            match btype {
                SHB | IDB | EPB | SPB | PB => {}
                _ => {
                    if len > MAX_SKIPPED_BLOCK {
                        return Err(ctx.corrupt(
                            format!(
                                "pcapng block length {len} (block type 0x{btype:08x}, maximum {MAX_SKIPPED_BLOCK})"
                            ),
                            off,
                        ));
                    }
                    if !matches!(
                        btype,
                        NRB | ISB | SYSTEMD_JOURNAL | DSB | CUSTOM | CUSTOM_NOCOPY
                    ) {
                        ctx.skipped.unknown_blocks += 1;
                    }
                    if !buf.skip(u64::from(len)).map_err(|e| ctx.read_err(e, off))? {
                        return Err(ctx.truncated("block", off));
                    }
                    continue;
                }
            }
            if len > MAX_BLOCK {
                return Err(ctx.corrupt(
                    format!(
                        "pcapng block length {len} (block type 0x{btype:08x}, maximum {MAX_BLOCK})"
                    ),
                    off,
                ));
            }
            let ulen = len as usize;
            if !buf.fill(ulen).map_err(|e| ctx.read_err(e, off))? {
                return Err(ctx.truncated("block", off));
            }
            let b = buf.avail().get(..ulen).unwrap_or(&[]);
            let trailer = u32_at(b, ulen - 4, be);
            if trailer != len {
                return Err(ctx.corrupt(
                    format!(
                        "pcapng block (type 0x{btype:08x}): trailing length {trailer} does not match leading length {len}"
                    ),
                    off,
                ));
            }
            match btype {
                SHB => {
                    self.interfaces.clear();
                    self.kinds.clear();
                    self.kind_index.clear();
                }
                IDB => {
                    let iface = self.parse_idb(b, ctx, off)?;
                    self.add_interface(iface);
                }
                _ => {
                    if let Some(rec) = self.packet(btype, b, ctx, off)? {
                        return Ok(Some(rec));
                    }
                }
            }
            buf.consume(ulen);
        }
    }

    /// Declares the next interface id (bounded: see [`MAX_INTERFACES`]).
    fn add_interface(&mut self, iface: Interface) {
        if self.interfaces.len() >= MAX_INTERFACES {
            return;
        }
        let kind = match self.kind_index.get(&iface) {
            Some(&k) => k,
            None if self.kinds.len() < MAX_DISTINCT_INTERFACES => {
                let k = self.kinds.len() as u32;
                self.kinds.push(iface);
                self.kind_index.insert(iface, k);
                k
            }
            None => NOT_KEPT,
        };
        self.interfaces.push(kind);
    }

    /// The description of interface `id`, if declared and kept.
    fn interface(&self, id: usize) -> Option<Interface> {
        let k = *self.interfaces.get(id)?;
        self.kinds.get(k as usize).copied()
    }

    fn parse_idb(&self, b: &[u8], ctx: &Ctx, off: u64) -> Result<Interface, CaptureError> {
        if b.len() < 20 {
            return Err(ctx.corrupt(
                format!(
                    "pcapng interface description block ({} bytes, minimum 20)",
                    b.len()
                ),
                off,
            ));
        }
        let be = self.be;
        let linktype = u32::from(u16_at(b, 8, be));
        let snaplen = effective_snaplen(u32_at(b, 12, be));
        let mut tsresol = 6u8;
        let mut offset_s = 0i64;
        // Options run from byte 16 to the trailer. Malformed options end the
        // list (they are not worth rejecting the file for).
        let opts = b.get(16..b.len() - 4).unwrap_or(&[]);
        let mut i = 0usize;
        while i + 4 <= opts.len() {
            let code = u16_at(opts, i, be);
            let olen = usize::from(u16_at(opts, i + 2, be));
            if code == 0 {
                break;
            }
            let Some(val) = opts.get(i + 4..i + 4 + olen) else {
                break;
            };
            match code {
                9 if !val.is_empty() => tsresol = val[0],
                14 if val.len() >= 8 => offset_s = u64_at(val, 0, be) as i64,
                _ => {}
            }
            i += 4 + olen.div_ceil(4) * 4;
        }
        Ok(Interface {
            linktype,
            snaplen,
            ts: TsConv::new(tsresol, offset_s),
        })
    }

    /// A packet block `b` (whole block, trailer checked). None if skipped.
    #[inline]
    fn packet(
        &mut self,
        btype: u32,
        b: &[u8],
        ctx: &mut Ctx,
        off: u64,
    ) -> Result<Option<Rec>, CaptureError> {
        let be = self.be;
        let blen = b.len();
        if btype == SPB {
            // Simple Packet Block: interface 0, no timestamp, captured length
            // implied by the block length and the interface's snaplen.
            if blen < 16 {
                return Err(ctx.corrupt(
                    format!("pcapng simple packet block ({blen} bytes, minimum 16)"),
                    off,
                ));
            }
            let Some(iface) = self.interface(0) else {
                ctx.skipped.unknown_interface += 1;
                return Ok(None);
            };
            let orig_len = u32_at(b, 8, be);
            let room = blen - 16;
            let caplen = (orig_len as usize).min(room).min(iface.snaplen as usize);
            return Ok(Some(Rec {
                ts_nanos: self.last_ts,
                linktype: iface.linktype,
                start: 12,
                len: caplen,
                orig_len,
                consume: blen,
            }));
        }
        // EPB and the obsolete PB share the layout, except PB's interface id
        // is 16 bits followed by a 16-bit drop count.
        if blen < 32 {
            return Err(ctx.corrupt(
                format!("pcapng packet block ({blen} bytes, minimum 32)"),
                off,
            ));
        }
        let iface_id = if btype == PB {
            u32::from(u16_at(b, 8, be))
        } else {
            u32_at(b, 8, be)
        };
        let ts = (u64::from(u32_at(b, 12, be)) << 32) | u64::from(u32_at(b, 16, be));
        let caplen = u32_at(b, 20, be);
        let orig_len = u32_at(b, 24, be);
        let Some(iface) = self.interface(iface_id as usize) else {
            ctx.skipped.unknown_interface += 1;
            return Ok(None);
        };
        if caplen > iface.snaplen && caplen > MAX_SNAPLEN {
            return Err(ctx.corrupt(
                super::parse::record_length_detail(caplen, iface.snaplen),
                off,
            ));
        }
        let room = blen - 32;
        if caplen as usize > room {
            return Err(ctx.corrupt(
                format!("record length {caplen} (larger than its {blen}-byte block)"),
                off,
            ));
        }
        let mut keep = caplen;
        if caplen > iface.snaplen {
            keep = iface.snaplen;
            ctx.skipped.clamped_records += 1;
        }
        let ts_nanos = iface.ts.nanos(ts);
        self.last_ts = ts_nanos;
        Ok(Some(Rec {
            ts_nanos,
            linktype: iface.linktype,
            start: 28,
            len: keep as usize,
            orig_len,
            consume: blen,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_resolutions() {
        let micro = TsConv::new(6, 0);
        assert_eq!(micro.nanos(1_500_000), 1_500_000_000);
        let nano = TsConv::new(9, 0);
        assert_eq!(nano.nanos(42), 42);
        let milli = TsConv::new(3, 10);
        assert_eq!(milli.nanos(1), 10_001_000_000);
        let pico = TsConv::new(12, 0);
        assert_eq!(pico.nanos(5_000), 5);
        let bin = TsConv::new(0x80 | 10, 0); // 1/1024 s
        assert_eq!(bin.nanos(1024), 1_000_000_000);
        assert_eq!(bin.nanos(512), 500_000_000);
        let absurd = TsConv::new(0x7f, 0);
        assert_eq!(absurd.nanos(u64::MAX), 0);
        let absurd2 = TsConv::new(0xff, 0);
        assert_eq!(absurd2.nanos(u64::MAX), 0);
        let huge = TsConv::new(0, i64::MAX);
        assert_eq!(huge.nanos(u64::MAX), i64::MAX);
        let neg = TsConv::new(0, i64::MIN);
        assert_eq!(neg.nanos(0), i64::MIN);
    }

    #[test]
    fn interface_descriptions_are_shared_and_bounded() {
        let mut f = PcapngFormat::new();
        let iface = |snaplen| Interface {
            linktype: 1,
            snaplen,
            ts: TsConv::new(6, 0),
        };
        // 200,000 interfaces of one kind: one description.
        for _ in 0..200_000 {
            f.add_interface(iface(65535));
        }
        assert_eq!(f.kinds.len(), 1);
        assert_eq!(f.interface(199_999), Some(iface(65535)));
        assert_eq!(f.interface(200_000), None);
        // Distinct descriptions beyond the bound are declared but not kept.
        for i in 0..MAX_DISTINCT_INTERFACES as u32 {
            f.add_interface(iface(100_000 + i));
        }
        assert_eq!(f.kinds.len(), MAX_DISTINCT_INTERFACES);
        let last = f.interfaces.len() - 1;
        assert_eq!(f.interface(last), None, "beyond the bound: not kept");
        assert_eq!(
            f.interface(last - 1),
            Some(iface(100_000 + MAX_DISTINCT_INTERFACES as u32 - 2))
        );
    }
}
