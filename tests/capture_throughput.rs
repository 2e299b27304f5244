//! Throughput of the two readers (a measurement, not a timed test):
//!
//! ```sh
//! python3 ../shared/bench/gen_pcap.py /tmp/bench/big.pcap --size 1G
//! GHOSTPORT_BENCH_PCAP=/tmp/bench/big.pcap \
//!   cargo test --release --test capture_throughput -- --ignored --nocapture
//! ```
//!
//! Prints frames/s for the native reader (with and without SHA-256) and
//! libpcap, each touching every frame's first byte and timestamp.

use std::time::Instant;

use ghostport::capture::{Input, OpenOptions, ReaderKind, open_with};

#[test]
#[ignore = "measurement; set GHOSTPORT_BENCH_PCAP and run with --release --ignored"]
fn reader_throughput() {
    let Some(path) = std::env::var_os("GHOSTPORT_BENCH_PCAP") else {
        eprintln!("skipping: set GHOSTPORT_BENCH_PCAP to a capture file");
        return;
    };
    let input = Input::Path(path.into());
    let runs = [
        (
            "native, no hash",
            OpenOptions::reader(ReaderKind::Native).hash(false),
        ),
        ("native + sha256", OpenOptions::reader(ReaderKind::Native)),
        (
            "libpcap, no hash",
            OpenOptions::reader(ReaderKind::Libpcap).hash(false),
        ),
        ("libpcap + sha256", OpenOptions::reader(ReaderKind::Libpcap)),
    ];
    for (label, opts) in runs {
        let t = Instant::now();
        let mut src = match open_with(&input, opts) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{label}: {e}");
                continue;
            }
        };
        let (mut frames, mut check) = (0u64, 0u64);
        loop {
            match src.next_frame() {
                Ok(Some(f)) => {
                    frames += 1;
                    check ^= u64::from(f.data.first().copied().unwrap_or(0)) ^ f.ts_nanos as u64;
                }
                Ok(None) => break,
                Err(e) => {
                    eprintln!("{label}: {e}");
                    break;
                }
            }
        }
        let read_s = t.elapsed().as_secs_f64();
        let sum = src.finish();
        let total_s = t.elapsed().as_secs_f64();
        eprintln!(
            "{label:18} {frames} frames in {total_s:.3} s ({:.2} M frames/s; reading alone {read_s:.3} s) sha256 {} check {check:x}",
            frames as f64 / total_s / 1e6,
            sum.sha256.get(..12).unwrap_or("-"),
        );
    }
}
