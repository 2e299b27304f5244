//! The native reader and libpcap give identical reports (minus the
//! wall-clock fields, and error wording that names the reader) on every
//! capture in fixtures/ and in the shared corpus that libpcap can open; and
//! a scan with one thread gives the same report as a scan with two (the
//! native reader reading ahead on a second thread), errors included, on
//! every capture there, the corrupt corpus, and compressed copies.
//!
//! The shared corpus is $GHOSTPORT_SHARED_PCAPS, else ../shared/pcaps
//! relative to the crate; it is skipped (with a message) when missing.

use std::path::{Path, PathBuf};

use ghostport::analysis::{self, AnalysisConfig, ScanOptions};
use ghostport::capture::{Input, ReaderKind};
use ghostport::knowledge::KnowledgeBase;
use ghostport::report::Report;
use serde_json::Value;

fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| {
        let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        p.is_file() && (n.ends_with(".pcap") || n.ends_with(".pcapng"))
    });
    v.sort();
    v
}

fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("GHOSTPORT_SHARED_PCAPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/pcaps"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping the shared corpus: {} is missing (set GHOSTPORT_SHARED_PCAPS)",
            dir.display()
        );
        None
    }
}

/// The JSON report of one scan, without the fields that may differ between
/// runs or readers: wall-clock times, and (`blank_errors`) the error wording
/// and the input position in an error message.
fn report(path: &Path, reader: ReaderKind) -> Value {
    report_with(path, reader, 1, true)
}

fn report_with(path: &Path, reader: ReaderKind, threads: usize, blank_errors: bool) -> Value {
    let kb = KnowledgeBase::builtin();
    let cfg = AnalysisConfig {
        reader,
        ..AnalysisConfig::default()
    };
    let opts = ScanOptions::default().threads(threads);
    let input = Input::Path(path.to_path_buf());
    let a = analysis::scan_with(&[input], kb, &cfg, opts, &mut ());
    let rep = Report::new(a, kb, vec!["ghostport".into()], &cfg, true);
    let mut v = serde_json::to_value(&rep).unwrap_or(Value::Null);
    if let Some(meta) = v.get_mut("meta").and_then(Value::as_object_mut) {
        for k in [
            "analysis_start",
            "analysis_end",
            "elapsed_s",
            "peak_rss_bytes",
            "errors",
        ]
        .iter()
        .filter(|k| blank_errors || **k != "errors")
        {
            meta.remove(*k);
        }
    }
    if let Some(inputs) = v
        .get_mut("inputs")
        .and_then(Value::as_array_mut)
        .filter(|_| blank_errors)
    {
        for i in inputs.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(e) = i.get_mut("error")
                && !e.is_null()
            {
                *e = Value::String("error".into());
            }
        }
    }
    v
}

fn first_diff(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let p = format!("{path}.{k}");
                match y.get(k) {
                    Some(vb) => {
                        if let Some(d) = first_diff(va, vb, &p) {
                            return Some(d);
                        }
                    }
                    None => return Some(format!("{p}: only in native")),
                }
            }
            y.keys()
                .find(|k| !x.contains_key(*k))
                .map(|k| format!("{path}.{k}: only in libpcap"))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (va, vb))| first_diff(va, vb, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{path}: native {a} vs libpcap {b}")),
    }
}

#[test]
fn native_and_libpcap_reports_are_identical() {
    let mut files = captures(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures"));
    if let Some(d) = shared_dir() {
        files.extend(captures(&d));
    }
    assert!(!files.is_empty(), "no captures found");
    let (mut compared, mut failures) = (0, Vec::new());
    for f in &files {
        let lib = report(f, ReaderKind::Libpcap);
        let lib_input = &lib["inputs"][0];
        if lib_input["format"] == "unreadable"
            || (!lib_input["error"].is_null() && lib_input["frames"] == 0)
        {
            eprintln!("libpcap cannot read {}: not compared", f.display());
            continue;
        }
        let nat = report(f, ReaderKind::Native);
        compared += 1;
        if let Some(d) = first_diff(&nat, &lib, "") {
            failures.push(format!("{}: {d}", f.display()));
        }
    }
    eprintln!("{compared} of {} captures compared", files.len());
    assert!(compared >= 10, "only {compared} captures could be compared");
    assert!(
        failures.is_empty(),
        "reports differ:\n{}",
        failures.join("\n")
    );
}

#[test]
fn one_thread_and_two_give_identical_reports() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut files = captures(&root);
    files.extend(captures(&root.join("corrupt")));
    if let Some(d) = shared_dir() {
        files.extend(captures(&d));
    }
    // Compressed copies: decompression runs on the reader thread too.
    let tmp = std::env::temp_dir().join(format!("ghostport-threads-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for name in ["demo.pcapng", "tls-on-384.pcap", "truncated.pcap"] {
        let data = std::fs::read(root.join(name)).unwrap();
        let out = tmp.join(format!("{name}.gz"));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &data).unwrap();
        std::fs::write(&out, gz.finish().unwrap()).unwrap();
        files.push(out);
    }
    let mut failures = Vec::new();
    for f in &files {
        let one = report_with(f, ReaderKind::Native, 1, false);
        let two = report_with(f, ReaderKind::Native, 2, false);
        if let Some(d) = first_diff(&one, &two, "") {
            failures.push(format!("{}: {d}", f.display()));
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    eprintln!("{} captures compared", files.len());
    assert!(files.len() >= 30, "only {} captures", files.len());
    assert!(
        failures.is_empty(),
        "reports differ (\"native\" = 1 thread, \"libpcap\" = 2 threads):\n{}",
        failures.join("\n")
    );
}
