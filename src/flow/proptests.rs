//! Property tests: flow canonicalisation and timeouts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (0u8..4).prop_map(|x| IpAddr::V4(Ipv4Addr::new(192, 0, 2, x))),
        (0u16..4).prop_map(|x| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, x))),
    ]
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    (
        ip(),
        prop_oneof![
            Just(386u16),
            Just(443),
            Just(1024),
            Just(49152),
            any::<u16>()
        ],
    )
        .prop_map(|(ip, port)| Endpoint { ip, port })
}

fn transport() -> impl Strategy<Value = Transport> {
    prop_oneof![Just(Transport::Tcp), Just(Transport::Udp)]
}

/// One packet: endpoints, transport, TCP flags, time step (ns, may be 0).
#[derive(Clone, Debug)]
struct Pkt {
    a: Endpoint,
    b: Endpoint,
    t: Transport,
    flags: u8,
    step: i64,
}

fn pkt() -> impl Strategy<Value = Pkt> {
    (
        endpoint(),
        endpoint(),
        transport(),
        any::<u8>(),
        0i64..20_000_000_000,
    )
        .prop_map(|(a, b, t, flags, step)| Pkt {
            a,
            b,
            t,
            flags,
            step,
        })
}

fn packet(p: &Pkt, reverse: bool) -> Packet<'static> {
    let (s, d) = if reverse { (p.b, p.a) } else { (p.a, p.b) };
    Packet {
        src: s.ip,
        dst: d.ip,
        transport: p.t,
        src_port: s.port,
        dst_port: d.port,
        tcp_flags: if p.t == Transport::Tcp { p.flags } else { 0 },
        seq: 1,
        payload: b"",
        payload_len: 0,
        vlan: None,
        first_fragment: false,
        kind: PacketKind::Normal,
        tunnel: None,
    }
}

fn small_table(max_flows: usize) -> FlowTable {
    FlowTable::new(FlowConfig {
        max_flows,
        tcp_timeout_ns: 30_000_000_000,
        udp_timeout_ns: 10_000_000_000,
        ..FlowConfig::default()
    })
}

fn timeout(cfg: &FlowConfig, t: Transport) -> i64 {
    match t {
        Transport::Tcp => cfg.tcp_timeout_ns,
        Transport::Udp => cfg.udp_timeout_ns,
    }
}

proptest! {
    // Failing seeds are kept beside this file (src/flow/proptests.regressions),
    // not in a top-level proptest-regressions/ folder.
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("regressions"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn key_is_symmetric(t in transport(), a in endpoint(), b in endpoint()) {
        let k = FlowKey::of(t, a, b);
        prop_assert_eq!(k, FlowKey::of(t, b, a));
        prop_assert!(k.lo <= k.hi);
        prop_assert!((k.lo == a && k.hi == b) || (k.lo == b && k.hi == a));
    }

    #[test]
    fn both_directions_make_one_flow(p in pkt(), dirs in prop::collection::vec(any::<bool>(), 1..12)) {
        prop_assume!(p.a != p.b);
        // No RST/FIN: a SYN after a close is a new connection on purpose (reuse).
        let p = Pkt { flags: p.flags & !(tcp_flags::RST | tcp_flags::FIN), ..p };
        let mut t = small_table(16);
        for (i, &rev) in dirs.iter().enumerate() {
            t.update(&packet(&p, rev), i as i64, 60);
        }
        prop_assert_eq!(t.len(), 1);
        prop_assert_eq!(t.stats().created, 1);
        t.finish_all();
        let f: Vec<Flow> = t.drain_finished().collect();
        prop_assert_eq!(f.len(), 1);
        let f = &f[0];
        // Orientation is consistent: client and server are the two endpoints,
        // and the per-direction counters add up to every packet.
        prop_assert!((f.client == p.a && f.server == p.b) || (f.client == p.b && f.server == p.a));
        prop_assert_eq!(f.packets(), dirs.len() as u64);
        let from_a = dirs.iter().filter(|&&r| !r).count() as u64;
        let a_count = if f.client == p.a { f.c2s.packets } else { f.s2c.packets };
        prop_assert_eq!(a_count, from_a);
    }

    #[test]
    fn syn_names_the_client(a in endpoint(), b in endpoint(), noise in prop::collection::vec(any::<bool>(), 0..6)) {
        prop_assume!(a != b);
        let p = Pkt { a, b, t: Transport::Tcp, flags: tcp_flags::ACK, step: 0 };
        let mut t = small_table(4);
        for (i, &rev) in noise.iter().enumerate() {
            t.update(&packet(&p, rev), i as i64, 60);
        }
        let syn = Pkt { flags: tcp_flags::SYN, ..p.clone() };
        t.update(&packet(&syn, false), 100, 60);
        t.finish_all();
        let f: Vec<Flow> = t.drain_finished().collect();
        prop_assert_eq!(f.len(), 1);
        prop_assert_eq!(f[0].client, a);
        prop_assert_eq!(f[0].orientation, Orientation::Syn);
    }

    #[test]
    fn sweeps_and_eviction_keep_the_books(pkts in prop::collection::vec(pkt(), 1..200), max_flows in 1usize..12) {
        let mut t = small_table(max_flows);
        let mut now = 0i64;
        let mut finished = 0u64;
        for p in &pkts {
            now += p.step;
            t.update(&packet(p, false), now, 60);
            prop_assert!(t.len() <= max_flows);
            finished += t.drain_finished().count() as u64;
            let s = t.stats();
            // evicted + timed out + reused + active = created
            prop_assert_eq!(s.evicted + s.timed_out + s.reused + t.len() as u64, s.created);
            prop_assert_eq!(finished + t.len() as u64, s.created);
        }
        // No flow idle longer than its timeout survives a sweep.
        t.expire(now);
        for f in t.iter() {
            let to = timeout(&t.cfg, f.transport);
            prop_assert!(now - f.last_ts <= to, "flow idle {} ns > {} survived", now - f.last_ts, to);
        }
        let cfg = t.cfg.clone();
        for f in t.drain_finished() {
            prop_assert_eq!(f.end, EndReason::IdleTimeout);
            let to = timeout(&cfg, f.transport);
            prop_assert!(now - f.last_ts > to);
        }
    }
}
