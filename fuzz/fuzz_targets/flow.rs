//! Flow table under a stream of packets built from arbitrary bytes (few
//! addresses and ports so flows collide, tiny `max_flows` so eviction runs,
//! timestamps that may go backwards). Invariants: the table never holds more
//! than `max_flows`; every created flow is either active or finished exactly
//! once; per-flow counters are consistent.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ghostport::Transport;
use ghostport::decode::{Packet, PacketKind};
use ghostport::flow::{EndReason, Flow, FlowConfig, FlowTable};
use libfuzzer_sys::fuzz_target;

const ADDRS: [IpAddr; 4] = [
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, 86)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2)),
];
const PORTS: [u16; 8] = [386, 384, 443, 53, 1023, 1024, 49152, 65535];

fn check(f: &Flow, cap: usize, finished: &mut u64) {
    *finished += 1;
    assert!(f.first_ts <= f.last_ts);
    assert!(f.packets() + u64::from(f.icmp_errors) >= 1 || f.packets() >= 1);
    assert!(f.c2s_head().bytes.len() <= cap && f.s2c_head().bytes.len() <= cap);
    assert!(f.c2s.payload_bytes >= f.c2s_head().bytes.len() as u64);
    assert!(f.s2c.payload_bytes >= f.s2c_head().bytes.len() as u64);
}

fuzz_target!(|data: &[u8]| {
    let Some((&cfg_byte, mut rest)) = data.split_first() else {
        return;
    };
    let max_flows = usize::from(cfg_byte % 8) + 1;
    let cap = usize::from(cfg_byte >> 3) % 16;
    let mut t = FlowTable::new(FlowConfig {
        max_flows,
        tcp_timeout_ns: 3_000_000_000,
        udp_timeout_ns: 1_000_000_000,
        payload_cap: cap,
        payload_ports: None,
        ..FlowConfig::default()
    });
    let mut ts: i64 = 1_700_000_000_000_000_000;
    let mut finished = 0u64;
    // Each packet: 6 header bytes + up to 15 payload bytes.
    while let [a, b, c, d, e, g, tail @ ..] = rest {
        let plen = usize::from(g & 0x0f).min(tail.len());
        let (payload, next) = tail.split_at(plen);
        rest = next;
        let transport = if e & 1 == 0 {
            Transport::Tcp
        } else {
            Transport::Udp
        };
        let p = Packet {
            src: ADDRS[usize::from(a & 3)],
            dst: ADDRS[usize::from((a >> 2) & 3)],
            transport,
            src_port: PORTS[usize::from(b & 7)],
            dst_port: PORTS[usize::from((b >> 3) & 7)],
            tcp_flags: if transport == Transport::Tcp { *c } else { 0 },
            seq: u32::from(*d).wrapping_mul(0x0101_0101),
            payload,
            payload_len: payload.len() as u32 + u32::from(g >> 4),
            vlan: None,
            first_fragment: e & 2 != 0,
            kind: if e & 4 != 0 {
                PacketKind::IcmpError {
                    icmp_type: 3,
                    code: 3,
                }
            } else {
                PacketKind::Normal
            },
            tunnel: None,
        };
        // Time moves by -1..+6 s in 1/8 s steps (backwards jumps included).
        ts = ts.saturating_add((i64::from(e >> 3) - 8) * 125_000_000 * 2);
        t.update(&p, ts, 60 + payload.len() as u32);
        assert!(t.len() <= max_flows, "{} > {max_flows}", t.len());
        for f in t.drain_finished() {
            assert!(matches!(
                f.end,
                EndReason::Evicted | EndReason::IdleTimeout | EndReason::Reused
            ));
            check(&f, cap, &mut finished);
        }
        let s = t.stats();
        assert_eq!(s.created, finished + t.len() as u64);
        assert_eq!(s.evicted + s.timed_out + s.reused, finished);
        assert!(s.peak <= max_flows as u64);
    }
    t.expire(ts);
    t.finish_all();
    assert!(t.is_empty());
    for f in t.drain_finished() {
        check(&f, cap, &mut finished);
    }
    assert_eq!(t.stats().created, finished);
});
