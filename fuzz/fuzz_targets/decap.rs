//! Tunnel decapsulation: the first byte picks a stack of encapsulations
//! (VXLAN, Geneve, GRE with every payload type, ERSPAN I/II/III, IP-in-IP,
//! 6in4, 4in6, Teredo, MPLS, PPPoE, LLC/SNAP, up to 6 deep: deeper than
//! `MAX_TUNNEL_DEPTH`), built with consistent outer lengths around the
//! fuzzer's bytes; the result is also decoded raw. `decode` must never
//! panic, the fast path must agree with the general path, a packet's payload
//! must lie inside the frame and no packet may come out of more than
//! `MAX_TUNNEL_DEPTH` encapsulations.
#![no_main]

use ghostport::decode::{LinkType, MAX_TUNNEL_DEPTH, decode, decode_general};
use libfuzzer_sys::fuzz_target;

fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()).min(0xffff) as u16;
    let mut v = vec![0x45, 0];
    v.extend_from_slice(&total.to_be_bytes());
    v.extend_from_slice(&[0, 1, 0, 0, 64, proto, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
    v.extend_from_slice(payload);
    v
}

fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let len = payload.len().min(0xffff) as u16;
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(&[next, 64]);
    v.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    v.extend_from_slice(&[0; 11]);
    v.push(1);
    v.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    v.extend_from_slice(&[0; 11]);
    v.push(2);
    v.extend_from_slice(payload);
    v
}

fn udp(dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = (8 + payload.len()).min(0xffff) as u16;
    let mut v = Vec::new();
    v.extend_from_slice(&40000u16.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

fn ether(et: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    v.extend_from_slice(&et.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn gre(flags: u16, proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&flags.to_be_bytes());
    v.extend_from_slice(&proto.to_be_bytes());
    let extra = [flags & 0x8000, flags & 0x2000, flags & 0x1000]
        .iter()
        .filter(|f| **f != 0)
        .count();
    v.extend(std::iter::repeat_n(0u8, extra * 4));
    v.extend_from_slice(payload);
    v
}

/// Wraps `inner` (an IP packet or an Ethernet frame, as `is_ether` says) in
/// one encapsulation chosen by `sel`; returns the new packet and its kind.
fn wrap(sel: u8, inner: Vec<u8>, is_ether: bool) -> (Vec<u8>, bool) {
    let ip_inner = if is_ether { inner.get(14..).unwrap_or(&[]).to_vec() } else { inner.clone() };
    let eth_inner = if is_ether { inner } else { ether(0x0800, &ip_inner) };
    match sel % 14 {
        0 => {
            let mut h = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
            h.extend_from_slice(&eth_inner);
            (ipv4(17, &udp(4789, &h)), false)
        }
        1 => {
            let mut h = vec![0, 0, 0x65, 0x58, 0, 0, 1, 0];
            h.extend_from_slice(&eth_inner);
            (ipv4(17, &udp(6081, &h)), false)
        }
        2 => (ipv4(47, &gre(0x2000, 0x0800, &ip_inner)), false),
        3 => (ipv4(47, &gre(0x0000, 0x6558, &eth_inner)), false),
        4 => {
            let mut h = vec![0x10, 0, 0, 1, 0, 0, 0, 0];
            h.extend_from_slice(&eth_inner);
            (ipv4(47, &gre(0x1000, 0x88be, &h)), false)
        }
        5 => {
            let mut h = vec![0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
            h.extend_from_slice(&[0; 8]);
            h.extend_from_slice(&eth_inner);
            (ipv4(47, &gre(0x1000, 0x22eb, &h)), false)
        }
        6 => (ipv4(4, &ip_inner), false),
        7 => (ipv4(41, &ip_inner), false),
        8 => (ipv6(4, &ip_inner), false),
        9 => (ipv4(17, &udp(3544, &ip_inner)), false),
        10 => {
            let mut h = vec![0, 1, 0x01, 0x40];
            h.extend_from_slice(&ip_inner);
            (ether(0x8847, &h), true)
        }
        11 => {
            let mut h = vec![0x11, 0, 0, 1];
            h.extend_from_slice(&((ip_inner.len() + 2).min(0xffff) as u16).to_be_bytes());
            h.extend_from_slice(&[0, 0x21]);
            h.extend_from_slice(&ip_inner);
            (ether(0x8864, &h), true)
        }
        12 => {
            let mut h = vec![0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00];
            h.extend_from_slice(&ip_inner);
            let len = h.len().min(1500) as u16;
            (ether(len, &h), true)
        }
        _ => {
            let mut h = vec![0x30, 0x81, 0x88, 0x0b, 0, 0, 0, 1, 0, 0, 0, 1];
            h.extend_from_slice(&[0xff, 0x03, 0x00, 0x21]);
            h.extend_from_slice(&ip_inner);
            (ipv4(47, &h), false)
        }
    }
}

fn check(link: Option<LinkType>, frame: &[u8]) {
    let result = decode(link, frame);
    assert_eq!(result, decode_general(link, frame), "fast path disagrees");
    if let Ok(p) = result {
        let start = p.payload.as_ptr() as usize;
        let fstart = frame.as_ptr() as usize;
        assert!(
            p.payload.is_empty()
                || (start >= fstart && start + p.payload.len() <= fstart + frame.len())
        );
        if let Some(t) = p.tunnel {
            assert!(t.layers >= 1 && t.layers <= MAX_TUNNEL_DEPTH, "{t:?}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Some((&layers, inner)) = rest.split_first() else {
        return;
    };
    check(Some(LinkType::Ethernet), inner);
    check(Some(LinkType::Raw), inner);
    let mut pkt = inner.to_vec();
    let mut is_ether = false;
    for i in 0..(layers % 7) {
        let (p, e) = wrap(sel.wrapping_add(i.wrapping_mul(layers | 1)), pkt, is_ether);
        pkt = p;
        is_ether = e;
        if is_ether {
            check(Some(LinkType::Ethernet), &pkt);
        } else {
            check(Some(LinkType::Raw), &pkt);
            check(Some(LinkType::Ethernet), &ether(0x0800, &pkt));
        }
    }
});
