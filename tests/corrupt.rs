//! The corrupt-capture corpus (fixtures/corrupt/, fixtures/fuzz-regressions/)
//! and the shared real captures: every file ends in a report (exit 0/1) or
//! a clear error with the partial report still written (exit 2,
//! `meta.complete == false`) — never a panic (101), never a hang.
//! Expected behaviour per file is in fixtures/README.md.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Deadline for one run (debug build, largest shared capture 2.5 MB).
const DEADLINE: Duration = Duration::from_secs(120);

struct Outcome {
    code: i32,
    stderr: String,
    report: Option<Value>,
}

/// Runs `ghostport scan -q -F json -o TMP/report.json FILE [extra]` with a
/// deadline (killed and failed when it hangs); no panic allowed.
fn scan(file: &Path, extra: &[&str]) -> Outcome {
    let dir = tempdir(file);
    let out = dir.join("report.json");
    let err = dir.join("stderr");
    let mut child = common::bin()
        .args(["scan", "-q", "-F", "json", "-o"])
        .arg(&out)
        .args(extra)
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("spawn ghostport");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{}: no result after {DEADLINE:?} (hang?)", file.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    let code = status.code().unwrap_or(-1);
    assert_ne!(code, 101, "{}: panic\n{stderr}", file.display());
    assert!(
        (0..=2).contains(&code),
        "{}: exit {code} ({status})\n{stderr}",
        file.display()
    );
    let report = std::fs::read_to_string(&out)
        .ok()
        .map(|s| serde_json::from_str(&s).expect("report is JSON"));
    // No temporary file left next to the report.
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains("ghostport-tmp"), "temp file {name} left");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    Outcome {
        code,
        stderr,
        report,
    }
}

fn tempdir(file: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "gp-corrupt-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        file.file_name().unwrap().to_string_lossy()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The contract every file must meet, whatever it contains.
fn check_contract(file: &Path, o: &Outcome) -> Value {
    let r = o
        .report
        .clone()
        .unwrap_or_else(|| panic!("{}: no report written\n{}", file.display(), o.stderr));
    let complete = r["meta"]["complete"].as_bool().unwrap();
    if o.code == 2 {
        assert!(!complete, "{}: exit 2 but complete report", file.display());
        assert!(
            o.stderr.contains("ghostport: error:"),
            "{}: exit 2 without an error message\n{}",
            file.display(),
            o.stderr
        );
        assert!(!r["meta"]["errors"].as_array().unwrap().is_empty());
    } else {
        assert!(complete, "{}", file.display());
        assert_eq!(
            o.code,
            i32::from(!r["findings"].as_array().unwrap().is_empty()),
            "{}: exit status vs findings",
            file.display()
        );
    }
    // Partial results are present (summary, counters) and time never runs
    // backwards inside a flow or finding.
    assert!(r["summary"]["packets"]["frames"].is_u64());
    for f in r["findings"].as_array().unwrap() {
        assert!(f["first_ts"].as_i64() <= f["last_ts"].as_i64(), "{f:#}");
    }
    r
}

fn corrupt(name: &str) -> PathBuf {
    common::fixture("corrupt").join(name)
}

fn skipped(r: &Value, reason: &str) -> u64 {
    r["summary"]["packets"]["skipped"][reason]
        .as_u64()
        .unwrap_or(0)
}

fn frames(r: &Value) -> u64 {
    r["summary"]["packets"]["frames"].as_u64().unwrap()
}

fn flows(r: &Value, t: &str) -> u64 {
    r["summary"]["flows"][t].as_u64().unwrap()
}

/// Exit 2 with a named error, and the frames before the fault in the report.
fn fatal_after(name: &str, want_frames: u64, message: &str) -> Value {
    let f = corrupt(name);
    let o = scan(&f, &[]);
    let r = check_contract(&f, &o);
    assert_eq!(o.code, 2, "{name}");
    assert!(o.stderr.contains(message), "{name}: {}", o.stderr);
    assert!(
        o.stderr.contains(name),
        "{name}: error names the file: {}",
        o.stderr
    );
    assert_eq!(frames(&r), want_frames, "{name}");
    r
}

#[test]
fn truncated_mid_record_keeps_the_two_packets() {
    let r = fatal_after("truncated-mid-record.pcap", 2, "truncated record");
    assert_eq!(flows(&r, "udp"), 1);
}

#[test]
fn bad_magic_is_refused() {
    fatal_after("bad-magic.pcap", 0, "not a pcap or pcapng file");
}

#[test]
fn record_too_long_stops_without_allocating() {
    let r = fatal_after(
        "record-too-long.pcap",
        4,
        "corrupt record length 2147483647",
    );
    // Partial results: the 386/tcp SYN + SYN-ACK before the bad record.
    assert_eq!(common::finding_ports(&r), vec![(386, "tcp".to_string())]);
}

#[test]
fn record_larger_than_file() {
    let r = fatal_after("record-larger-than-file.pcap", 2, "truncated record");
    assert_eq!(flows(&r, "udp"), 1);
}

#[test]
fn pcapng_truncated_block() {
    let r = fatal_after("pcapng-truncated-block.pcapng", 2, "truncated block");
    assert_eq!(flows(&r, "udp"), 1);
}

#[test]
fn empty_file_is_a_clear_error() {
    fatal_after("empty-file.pcap", 0, "empty input");
}

#[test]
fn header_only_is_an_empty_capture() {
    let f = corrupt("header-only.pcap");
    let o = scan(&f, &[]);
    let r = check_contract(&f, &o);
    assert_eq!((o.code, frames(&r)), (0, 0));
}

#[test]
fn zero_length_records_are_counted_and_skipped() {
    let f = corrupt("zero-length-records.pcap");
    let o = scan(&f, &[]);
    let r = check_contract(&f, &o);
    assert_eq!(o.code, 0);
    assert_eq!(frames(&r), 5);
    assert_eq!(
        skipped(&r, "empty_frame"),
        3,
        "{:#}",
        r["summary"]["packets"]
    );
    assert_eq!(flows(&r, "udp"), 1);
}

#[test]
fn time_backwards_is_one_finding_without_negative_durations() {
    let f = corrupt("time-backwards.pcap");
    let o = scan(&f, &["--all-flows"]);
    let r = check_contract(&f, &o);
    assert_eq!(o.code, 1);
    assert_eq!(frames(&r), 11);
    assert_eq!(common::finding_ports(&r), vec![(386, "tcp".to_string())]);
    for fl in r["flows"].as_array().unwrap() {
        assert!(fl["first_ts"].as_i64() <= fl["last_ts"].as_i64(), "{fl:#}");
    }
}

#[test]
fn bogus_ihl_skips_two_and_decodes_dns() {
    let f = corrupt("bogus-ihl.pcap");
    let o = scan(&f, &[]);
    let r = check_contract(&f, &o);
    assert_eq!(o.code, 0);
    assert_eq!(r["summary"]["packets"]["malformed"], 2);
    assert_eq!(
        skipped(&r, "bad_ip_header") + skipped(&r, "truncated_ip_header"),
        2
    );
    assert_eq!((flows(&r, "udp"), flows(&r, "tcp")), (1, 0));
}

#[test]
fn tcp_data_offset_past_end_is_skipped() {
    let f = corrupt("tcp-doff-past-end.pcap");
    let o = scan(&f, &[]);
    let r = check_contract(&f, &o);
    assert_eq!(o.code, 0);
    assert_eq!(skipped(&r, "bad_tcp_header"), 1);
    assert_eq!((flows(&r, "udp"), flows(&r, "tcp")), (1, 0));
}

#[test]
fn ipv6_extension_loop_is_bounded() {
    let f = corrupt("ipv6-ext-loop.pcap");
    let o = scan(&f, &[]);
    let r = check_contract(&f, &o);
    assert_eq!(frames(&r), 2);
    // Frame 2 is always skipped; frame 1 is either skipped or the 386/udp finding.
    let bad = skipped(&r, "bad_ipv6_extensions") + skipped(&r, "truncated_ip_header");
    let found = common::finding_ports(&r);
    assert!(
        (bad == 2 && found.is_empty()) || (bad == 1 && found == vec![(386, "udp".to_string())]),
        "{:#}",
        r["summary"]
    );
}

#[test]
fn one_byte_packets_are_counted() {
    let f = corrupt("one-byte-packets.pcap");
    let o = scan(&f, &[]);
    let r = check_contract(&f, &o);
    assert_eq!(o.code, 0);
    assert_eq!(skipped(&r, "truncated_link_header"), 5);
    assert_eq!(flows(&r, "total"), 0);
}

/// Every file in the corpus directories (including files added later) meets
/// the contract with both readers; the per-file tests above pin the details.
#[test]
fn whole_corpus_meets_the_contract() {
    let mut files = Vec::new();
    for d in ["corrupt", "fuzz-regressions"] {
        if let Ok(rd) = std::fs::read_dir(common::fixture(d)) {
            files.extend(rd.map(|e| e.unwrap().path()).filter(|p| {
                p.is_file() && !p.file_name().unwrap().to_string_lossy().ends_with(".md")
            }));
        }
    }
    files.sort();
    assert!(files.len() >= 13, "corpus missing: {files:?}");
    for f in &files {
        for reader in ["native", "libpcap"] {
            let o = scan(f, &["--reader", reader]);
            check_contract(f, &o);
        }
    }
}

#[test]
fn shared_captures_meet_the_contract() {
    let Some(dir) = common::shared_pcaps() else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "MANIFEST.tsv"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in &files {
        let o = scan(f, &[]);
        let r = check_contract(f, &o);
        eprintln!(
            "{}: exit {}, {} frames",
            f.file_name().unwrap().to_string_lossy(),
            o.code,
            frames(&r)
        );
    }
}
