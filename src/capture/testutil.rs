//! Builders of small pcap / pcapng byte blobs for tests.

/// A classic pcap file.
pub(crate) struct PcapBlob {
    be: bool,
    nanos: bool,
    modified: bool,
    pub(crate) out: Vec<u8>,
}

impl PcapBlob {
    pub(crate) fn new(be: bool, nanos: bool, linktype: u32, snaplen: u32) -> PcapBlob {
        Self::with_magic(be, nanos, false, linktype, snaplen)
    }

    /// `modified`: the Kuznetzov format with 24-byte record headers.
    pub(crate) fn with_magic(
        be: bool,
        nanos: bool,
        modified: bool,
        linktype: u32,
        snaplen: u32,
    ) -> PcapBlob {
        let magic: u32 = match (nanos, modified) {
            (_, true) => 0xa1b2_cd34,
            (true, false) => 0xa1b2_3c4d,
            (false, false) => 0xa1b2_c3d4,
        };
        let mut b = PcapBlob {
            be,
            nanos,
            modified,
            out: Vec::new(),
        };
        b.u32(magic);
        b.u16(2);
        b.u16(4);
        b.u32(0);
        b.u32(0);
        b.u32(snaplen);
        b.u32(linktype);
        b
    }

    fn u16(&mut self, v: u16) {
        let bytes = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.out.extend_from_slice(&bytes);
    }

    pub(crate) fn u32(&mut self, v: u32) {
        let bytes = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.out.extend_from_slice(&bytes);
    }

    /// A record with an explicit caplen field (may lie about `data`).
    pub(crate) fn raw_record(&mut self, sec: u32, frac: u32, caplen: u32, orig: u32, data: &[u8]) {
        self.u32(sec);
        self.u32(frac);
        self.u32(caplen);
        self.u32(orig);
        if self.modified {
            self.out.extend_from_slice(&[0; 8]);
        }
        self.out.extend_from_slice(data);
    }

    /// A record with timestamp `ts_nanos` (split per the file's resolution).
    pub(crate) fn record(&mut self, ts_nanos: u64, data: &[u8]) -> &mut Self {
        let sec = (ts_nanos / 1_000_000_000) as u32;
        let sub = ts_nanos % 1_000_000_000;
        let frac = if self.nanos { sub } else { sub / 1000 } as u32;
        self.raw_record(sec, frac, data.len() as u32, data.len() as u32 + 4, data);
        self
    }
}

/// A pcapng file built block by block.
pub(crate) struct NgBlob {
    be: bool,
    pub(crate) out: Vec<u8>,
}

fn pad4(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

impl NgBlob {
    pub(crate) fn new() -> NgBlob {
        NgBlob {
            be: false,
            out: Vec::new(),
        }
    }

    fn b16(&self, v: u16) -> [u8; 2] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn b32(&self, v: u32) -> [u8; 4] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    /// A block with the given body (padded to 4).
    pub(crate) fn block(&mut self, btype: u32, body: &[u8]) -> &mut Self {
        let mut body = body.to_vec();
        pad4(&mut body);
        let len = (body.len() + 12) as u32;
        let t = self.b32(btype);
        let l = self.b32(len);
        self.out.extend_from_slice(&t);
        self.out.extend_from_slice(&l);
        self.out.extend_from_slice(&body);
        self.out.extend_from_slice(&l);
        self
    }

    /// Starts a section in the given byte order.
    pub(crate) fn shb(&mut self, be: bool) -> &mut Self {
        self.be = be;
        let mut body = Vec::new();
        body.extend_from_slice(&self.b32(0x1a2b_3c4d));
        body.extend_from_slice(&self.b16(1));
        body.extend_from_slice(&self.b16(0));
        body.extend_from_slice(&[0xff; 8]);
        self.block(0x0a0d_0d0a, &body)
    }

    fn option(&self, body: &mut Vec<u8>, code: u16, val: &[u8]) {
        body.extend_from_slice(&self.b16(code));
        body.extend_from_slice(&self.b16(val.len() as u16));
        body.extend_from_slice(val);
        pad4(body);
    }

    pub(crate) fn idb(
        &mut self,
        linktype: u16,
        snaplen: u32,
        tsresol: Option<u8>,
        tsoffset: Option<i64>,
    ) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.b16(linktype));
        body.extend_from_slice(&self.b16(0));
        body.extend_from_slice(&self.b32(snaplen));
        // A name option first, so options are really walked.
        self.option(&mut body, 2, b"eth0");
        if let Some(r) = tsresol {
            self.option(&mut body, 9, &[r]);
        }
        if let Some(o) = tsoffset {
            let v = if self.be {
                o.to_be_bytes()
            } else {
                o.to_le_bytes()
            };
            self.option(&mut body, 14, &v);
        }
        self.option(&mut body, 0, &[]);
        self.block(1, &body)
    }

    /// An EPB; `ts` in the interface's units.
    pub(crate) fn epb(&mut self, iface: u32, ts: u64, data: &[u8]) -> &mut Self {
        self.epb_raw(iface, ts, data.len() as u32, data.len() as u32 + 10, data)
    }

    pub(crate) fn epb_raw(
        &mut self,
        iface: u32,
        ts: u64,
        caplen: u32,
        orig: u32,
        data: &[u8],
    ) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.b32(iface));
        body.extend_from_slice(&self.b32((ts >> 32) as u32));
        body.extend_from_slice(&self.b32(ts as u32));
        body.extend_from_slice(&self.b32(caplen));
        body.extend_from_slice(&self.b32(orig));
        body.extend_from_slice(data);
        pad4(&mut body);
        // An epb_flags option.
        self.option(&mut body, 2, &self.b32(1));
        self.option(&mut body, 0, &[]);
        self.block(6, &body)
    }

    pub(crate) fn spb(&mut self, orig: u32, data: &[u8]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.b32(orig));
        body.extend_from_slice(data);
        self.block(3, &body)
    }

    /// Obsolete Packet Block.
    pub(crate) fn pb(&mut self, iface: u16, ts: u64, data: &[u8]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.b16(iface));
        body.extend_from_slice(&self.b16(0));
        body.extend_from_slice(&self.b32((ts >> 32) as u32));
        body.extend_from_slice(&self.b32(ts as u32));
        body.extend_from_slice(&self.b32(data.len() as u32));
        body.extend_from_slice(&self.b32(data.len() as u32));
        body.extend_from_slice(data);
        self.block(2, &body)
    }
}

/// A small deterministic PRNG (xorshift64*).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}
