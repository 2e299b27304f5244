//! Zero allocation per packet on the hot path: after warm-up, frames of
//! established flows go through `Analyzer::frame` without a single heap
//! allocation (counted by a global allocator in this test binary); and a
//! two-thread scan of a file allocates no more for many packets than for
//! few (its batches are recycled).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ghostport::analysis::{AnalysisConfig, Analyzer};
use ghostport::capture::{Frame, linktypes};
use ghostport::knowledge::KnowledgeBase;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

/// Counting on every thread (the two-thread scan test).
static COUNT_ALL: AtomicBool = AtomicBool::new(false);
static ALL_ALLOCS: AtomicU64 = AtomicU64::new(0);

fn note() {
    if COUNT_ALL.load(Ordering::Relaxed) {
        ALL_ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
    // try_with: the thread-locals may be gone while a thread exits.
    let on = COUNTING.try_with(Cell::get).unwrap_or(false);
    if on {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Ethernet + IPv4/IPv6 + TCP or UDP frame.
#[allow(clippy::too_many_arguments)]
fn frame(
    v6: bool,
    udp: bool,
    client: bool,
    i: u16,
    port: u16,
    seq: u32,
    flags: u8,
    payload: usize,
) -> Vec<u8> {
    let (mac_a, mac_b) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let eth = if client {
        etherparse::PacketBuilder::ethernet2(mac_a, mac_b)
    } else {
        etherparse::PacketBuilder::ethernet2(mac_b, mac_a)
    };
    let (c_port, s_port) = (50_000 + i, port);
    let (sp, dp) = if client {
        (c_port, s_port)
    } else {
        (s_port, c_port)
    };
    let c4 = [192, 0, 2, (i % 200) as u8 + 1];
    let s4 = [198, 51, 100, 7];
    let mut c6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    c6[15] = (i % 200) as u8 + 1;
    let mut s6 = c6;
    s6[15] = 250;
    let ip = match (v6, client) {
        (false, true) => eth.ipv4(c4, s4, 64),
        (false, false) => eth.ipv4(s4, c4, 64),
        (true, true) => eth.ipv6(c6, s6, 64),
        (true, false) => eth.ipv6(s6, c6, 64),
    };
    let data = vec![0x41u8; payload];
    let mut out = Vec::new();
    if udp {
        let b = ip.udp(sp, dp);
        out.reserve(b.size(payload));
        b.write(&mut out, &data).ok();
    } else {
        let mut b = ip.tcp(sp, dp, seq, 64240);
        if flags & 0x02 != 0 {
            b = b.syn();
        }
        if flags & 0x10 != 0 {
            b = b.ack(1);
        }
        out.reserve(b.size(payload));
        b.write(&mut out, &data).ok();
    }
    out
}

#[test]
fn established_flows_allocate_nothing_per_packet() {
    let kb = KnowledgeBase::builtin();
    let mut az = Analyzer::new(kb, &AnalysisConfig::default());
    // 64 flows: TCP and UDP, IPv4 and IPv6, on a normal port (443) and on
    // ghost ports (386, 384: payload is kept for identification).
    let mut setup: Vec<Vec<u8>> = Vec::new();
    let mut steady: Vec<Vec<u8>> = Vec::new();
    for i in 0..64u16 {
        let v6 = i % 4 == 1;
        let udp = i % 3 == 2;
        let port = [443, 386, 384, 53][usize::from(i % 4)];
        if !udp {
            setup.push(frame(v6, false, true, i, port, 1000, 0x02, 0));
            setup.push(frame(v6, false, false, i, port, 5000, 0x12, 0));
        }
        // Enough payload both ways to fill the 1024-byte payload heads.
        for k in 0..3u32 {
            setup.push(frame(v6, udp, true, i, port, 1001 + k * 600, 0x10, 600));
            setup.push(frame(v6, udp, false, i, port, 5001 + k * 600, 0x10, 600));
        }
        for k in 3..40u32 {
            steady.push(frame(
                v6,
                udp,
                k % 2 == 0,
                i,
                port,
                1001 + k * 600,
                0x10,
                600,
            ));
            steady.push(frame(v6, udp, true, i, port, 1001 + k * 600, 0x10, 0));
        }
    }
    let mut ts = 1_700_000_000_000_000_000i64;
    let feed = |az: &mut Analyzer<'_>, frames: &[Vec<u8>], ts: &mut i64| {
        for f in frames {
            *ts += 1_000_000; // 1 ms apart: idle sweeps run (every 5 s), nothing times out
            let fr = Frame {
                ts_nanos: *ts,
                linktype: linktypes::ETHERNET,
                data: f,
                orig_len: f.len() as u32,
                caplen: f.len() as u32,
            };
            assert_eq!(az.frame(&fr), None, "test frame did not decode");
        }
    };
    feed(&mut az, &setup, &mut ts);
    // Warm-up: one pass of the steady frames (the sweep's scratch vector grows).
    feed(&mut az, &steady, &mut ts);
    let before = az.packet_stats().frames;

    COUNTING.with(|c| c.set(true));
    feed(&mut az, &steady, &mut ts);
    feed(&mut az, &steady, &mut ts);
    COUNTING.with(|c| c.set(false));
    let allocs = ALLOCS.with(Cell::get);

    let packets = az.packet_stats().frames - before;
    assert_eq!(packets, 2 * steady.len() as u64);
    assert_eq!(az.active_flows(), 64);
    assert_eq!(
        allocs, 0,
        "{allocs} heap allocations for {packets} packets of established flows"
    );
    // The flows are still there and were classified at the end.
    let (stats, flows, _outcome) = az.finish();
    assert_eq!(flows.created, 64);
    assert!(stats.decoded >= packets);
}

/// Classic pcap, Ethernet, 1 ms between frames.
fn pcap_file(frames: &[&Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        let us = 1_000 * i as u64;
        out.extend_from_slice(&(1_700_000_000 + (us / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

#[test]
fn two_thread_scan_allocates_nothing_per_packet() {
    use ghostport::analysis::{ScanOptions, scan_with};
    use ghostport::capture::Input;
    let kb = KnowledgeBase::builtin();
    let cfg = AnalysisConfig::default();
    let mut setup = Vec::new();
    let mut steady = Vec::new();
    for i in 0..32u16 {
        let port = [443, 386][usize::from(i % 2)];
        setup.push(frame(false, false, true, i, port, 1000, 0x02, 0));
        setup.push(frame(false, false, false, i, port, 5000, 0x12, 0));
        for k in 1..20u32 {
            steady.push(frame(
                false,
                false,
                k % 2 == 0,
                i,
                port,
                1001 + k * 600,
                0x10,
                600,
            ));
        }
    }
    let dir = std::env::temp_dir().join(format!("ghostport-alloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let count = |passes: usize| -> (u64, u64) {
        let mut frames: Vec<&Vec<u8>> = setup.iter().collect();
        for _ in 0..passes {
            frames.extend(steady.iter());
        }
        let path = dir.join(format!("{passes}.pcap"));
        std::fs::write(&path, pcap_file(&frames)).unwrap();
        let opts = ScanOptions::default().hash(false).threads(2);
        ALL_ALLOCS.store(0, Ordering::Relaxed);
        COUNT_ALL.store(true, Ordering::Relaxed);
        let a = scan_with(&[Input::Path(path)], kb, &cfg, opts, &mut ());
        COUNT_ALL.store(false, Ordering::Relaxed);
        (ALL_ALLOCS.load(Ordering::Relaxed), a.packets.frames)
    };
    let (few, few_frames) = count(20);
    let (many, many_frames) = count(200);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(many_frames - few_frames, 180 * steady.len() as u64);
    // 10x the packets (over 100 000 more): the same allocations, give or
    // take the few that depend on timing (a batch made when none was free).
    assert!(
        many <= few + 16,
        "{few} allocations for {few_frames} frames, {many} for {many_frames}"
    );
}
