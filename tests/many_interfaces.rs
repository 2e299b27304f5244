//! A pcapng declaring 200,000 interfaces (each a 20-byte block; libpcap
//! reads it) and a packet on the last one: the native reader reads it as
//! libpcap does, in bounded memory (interface ids are 4 bytes each, their
//! descriptions shared). Packets on interfaces beyond what is kept are
//! counted as `unknown_interface` (unit test in `src/capture/pcapng.rs`).

mod common;

use std::io::Write;

use common::run;

fn block(out: &mut Vec<u8>, btype: u32, body: &[u8]) {
    let len = (12 + body.len().div_ceil(4) * 4) as u32;
    out.extend_from_slice(&btype.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(body);
    out.resize(out.len() + (body.len().div_ceil(4) * 4 - body.len()), 0);
    out.extend_from_slice(&len.to_le_bytes());
}

/// Ethernet/IPv4/UDP 192.0.2.10:40000 → 203.0.113.86:386, 4 payload bytes.
fn udp_to_386() -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00]);
    let payload = b"ping";
    let total = (20 + 8 + payload.len()) as u16;
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 192, 0, 2, 10, 203, 0, 113, 86,
    ];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    let mut sum = 0u32;
    for c in ip.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&386u16.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

fn epb(out: &mut Vec<u8>, iface: u32, ts_us: u64, data: &[u8]) {
    let mut b = Vec::new();
    b.extend_from_slice(&iface.to_le_bytes());
    b.extend_from_slice(&((ts_us >> 32) as u32).to_le_bytes());
    b.extend_from_slice(&(ts_us as u32).to_le_bytes());
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(data);
    block(out, 6, &b);
}

#[test]
fn two_hundred_thousand_interfaces_are_read_like_libpcap() {
    const N: u32 = 200_000;
    let mut f = Vec::with_capacity(N as usize * 20 + 4096);
    // SHB: byte-order magic, version 1.0, section length unknown.
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut f, 0x0a0d_0d0a, &shb);
    // IDB: Ethernet, snaplen 262144, no options.
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&262_144u32.to_le_bytes());
    for _ in 0..N {
        block(&mut f, 1, &idb);
    }
    let pkt = udp_to_386();
    let t0 = 1_705_312_800_000_000u64;
    epb(&mut f, 0, t0, &pkt);
    epb(&mut f, N - 1, t0 + 1000, &pkt);
    let dir = std::env::temp_dir().join(format!("gp-many-ifaces-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("many-interfaces.pcapng");
    std::fs::File::create(&path).unwrap().write_all(&f).unwrap();
    let mut frames = Vec::new();
    for reader in ["native", "libpcap"] {
        let r = run(&[
            "scan",
            "-q",
            "-F",
            "json",
            "--reader",
            reader,
            path.to_str().unwrap(),
        ]);
        let rep = r.json();
        assert_eq!(r.code, 1, "{reader}: {}", r.stderr);
        assert_eq!(rep["meta"]["complete"], true, "{reader}: {}", rep["meta"]);
        assert_eq!(rep["findings"][0]["server"]["port"], 386, "{reader}");
        frames.push(rep["summary"]["packets"]["frames"].as_u64().unwrap());
        if reader == "native" {
            assert_eq!(
                rep["inputs"][0]["skipped"]["unknown_interface"], 0,
                "{}",
                rep["inputs"]
            );
        }
    }
    assert_eq!(frames, [2, 2], "native, libpcap");
    std::fs::remove_dir_all(&dir).unwrap();
}
