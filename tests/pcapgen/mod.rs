//! Writes small synthetic pcap files for tests that generate captures on
//! the fly (LINKTYPE_RAW, IPv4, hand-built headers; checksums left zero:
//! ghostport does not check them).
#![allow(dead_code)]

use std::io::{self, Write};
use std::net::Ipv4Addr;

pub const TCP_SYN: u8 = 0x02;
pub const TCP_ACK: u8 = 0x10;
pub const TCP_PSH: u8 = 0x08;

/// Classic pcap (µs, LINKTYPE_RAW 101) writer.
pub struct Pcap<W: Write> {
    w: W,
}

impl<W: Write> Pcap<W> {
    pub fn new(mut w: W) -> io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&65535u32.to_le_bytes());
        h.extend_from_slice(&101u32.to_le_bytes());
        w.write_all(&h)?;
        Ok(Pcap { w })
    }

    pub fn record(&mut self, ts_us: u64, data: &[u8]) -> io::Result<()> {
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
        h[4..8].copy_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
        h[8..12].copy_from_slice(&(data.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&(data.len() as u32).to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(data)
    }

    pub fn into_inner(self) -> W {
        self.w
    }
}

fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, l4: &[u8], out: &mut Vec<u8>) {
    let total = (20 + l4.len()) as u16;
    out.clear();
    out.extend_from_slice(&[0x45, 0]);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    out.extend_from_slice(l4);
}

/// IPv4 + UDP datagram into `out`.
pub fn udp(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), payload: &[u8], out: &mut Vec<u8>) {
    let mut l4 = Vec::with_capacity(8 + payload.len());
    l4.extend_from_slice(&src.1.to_be_bytes());
    l4.extend_from_slice(&dst.1.to_be_bytes());
    l4.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    l4.extend_from_slice(&[0, 0]);
    l4.extend_from_slice(payload);
    ipv4(src.0, dst.0, 17, &l4, out);
}

/// IPv4 + TCP segment (20-byte header) into `out`.
pub fn tcp(
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    flags: u8,
    seq: u32,
    ack: u32,
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    let mut l4 = Vec::with_capacity(20 + payload.len());
    l4.extend_from_slice(&src.1.to_be_bytes());
    l4.extend_from_slice(&dst.1.to_be_bytes());
    l4.extend_from_slice(&seq.to_be_bytes());
    l4.extend_from_slice(&ack.to_be_bytes());
    l4.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    l4.extend_from_slice(payload);
    ipv4(src.0, dst.0, 6, &l4, out);
}

/// A whole TCP session: handshake, client data, server data.
pub fn session<W: Write>(
    p: &mut Pcap<W>,
    ts_us: u64,
    client: (Ipv4Addr, u16),
    server: (Ipv4Addr, u16),
    c_data: &[u8],
    s_data: &[u8],
) -> io::Result<()> {
    let mut b = Vec::new();
    tcp(client, server, TCP_SYN, 1000, 0, b"", &mut b);
    p.record(ts_us, &b)?;
    tcp(server, client, TCP_SYN | TCP_ACK, 5000, 1001, b"", &mut b);
    p.record(ts_us + 1000, &b)?;
    tcp(
        client,
        server,
        TCP_ACK | TCP_PSH,
        1001,
        5001,
        c_data,
        &mut b,
    );
    p.record(ts_us + 2000, &b)?;
    tcp(
        server,
        client,
        TCP_ACK | TCP_PSH,
        5001,
        1001 + c_data.len() as u32,
        s_data,
        &mut b,
    );
    p.record(ts_us + 3000, &b)
}
