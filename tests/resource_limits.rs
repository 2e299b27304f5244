//! Bounded memory: a capture with 2 million distinct flows (generated here,
//! not committed) scanned with `--max-flows 50000` stays under
//! `RSS_BOUND_BYTES` of peak RSS, and the report counts the evictions.
//! The bound is documented in docs/robustness.md. Only this test runs in
//! this binary, so RUSAGE_CHILDREN is the scan's own peak.

mod common;
mod pcapgen;

use std::io::BufWriter;
use std::net::Ipv4Addr;

const FLOWS: u32 = 2_000_000;
const MAX_FLOWS: u64 = 50_000;
/// Peak RSS allowed for the scan (see docs/robustness.md).
const RSS_BOUND_BYTES: u64 = 200 * 1024 * 1024;

fn children_max_rss_bytes() -> u64 {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a plain C struct we own.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, ru.as_mut_ptr()) };
    assert_eq!(rc, 0);
    // SAFETY: initialised by the successful call above.
    let ru = unsafe { ru.assume_init() };
    // Linux reports ru_maxrss in KiB.
    ru.ru_maxrss as u64 * 1024
}

#[test]
fn two_million_flows_stay_bounded() {
    if !cfg!(target_os = "linux") {
        eprintln!("skipping: peak RSS is checked on Linux only");
        return;
    }
    let dir = std::env::temp_dir().join(format!("gp-rss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cap = dir.join("many-flows.pcap");
    {
        let f = std::fs::File::create(&cap).unwrap();
        let mut p = pcapgen::Pcap::new(BufWriter::with_capacity(1 << 20, f)).unwrap();
        let server = (Ipv4Addr::new(203, 0, 113, 84), 384);
        let mut b = Vec::new();
        for i in 0..FLOWS {
            // Distinct source address per flow (10.0.0.0/8), 1 µs apart.
            let src = Ipv4Addr::from(0x0a00_0000 | i);
            pcapgen::udp(
                (src, 40000 + (i % 20000) as u16),
                server,
                b"ghostly!",
                &mut b,
            );
            p.record(1_705_312_800_000_000 + u64::from(i), &b).unwrap();
        }
        p.into_inner().into_inner().unwrap();
    }
    let before = children_max_rss_bytes();
    let r = common::run(&[
        "scan",
        "-q",
        "-F",
        "json",
        "--max-flows",
        &MAX_FLOWS.to_string(),
        cap.to_str().unwrap(),
    ]);
    let rss = children_max_rss_bytes();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(before < rss, "the scan is the largest child");
    assert_eq!(r.code, 1, "{}", r.stderr);
    let rep = r.json();
    let ft = &rep["summary"]["flow_table"];
    assert_eq!(ft["created"], u64::from(FLOWS), "{ft:#}");
    assert_eq!(ft["max_flows"], MAX_FLOWS);
    assert!(ft["peak"].as_u64().unwrap() <= MAX_FLOWS, "{ft:#}");
    let evicted = ft["evicted"].as_u64().unwrap();
    assert!(evicted >= u64::from(FLOWS) - MAX_FLOWS, "{ft:#}");
    let own = rep["meta"]["peak_rss_bytes"].as_u64().unwrap();
    eprintln!(
        "2M flows, --max-flows {MAX_FLOWS}: evicted {evicted}, peak RSS {} MiB (rusage), {} MiB (report)",
        rss >> 20,
        own >> 20
    );
    assert!(own <= rss, "report figure {own} vs rusage {rss}");
    assert!(
        rss < RSS_BOUND_BYTES,
        "peak RSS {} MiB over the {} MiB bound",
        rss >> 20,
        RSS_BOUND_BYTES >> 20
    );
}
