//! The native reader and libpcap give identical reports (minus the
//! wall-clock fields, and error wording that names the reader) on every
//! capture in fixtures/ and in the shared corpus that libpcap can open.
//!
//! The shared corpus is $GHOSTPORT_SHARED_PCAPS, else ../shared/pcaps
//! relative to the crate; it is skipped (with a message) when missing.

use std::path::{Path, PathBuf};

use ghostport::analysis::{self, AnalysisConfig};
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
/// runs or readers: wall-clock times, the error wording, and the input
/// position in an error message.
fn report(path: &Path, reader: ReaderKind) -> Value {
    let kb = KnowledgeBase::builtin();
    let cfg = AnalysisConfig {
        reader,
        ..AnalysisConfig::default()
    };
    let a = analysis::scan(&[Input::Path(path.to_path_buf())], kb, &cfg, &mut ());
    let rep = Report::new(a, kb, vec!["ghostport".into()], &cfg, true);
    let mut v = serde_json::to_value(&rep).unwrap_or(Value::Null);
    if let Some(meta) = v.get_mut("meta").and_then(Value::as_object_mut) {
        for k in [
            "analysis_start",
            "analysis_end",
            "elapsed_s",
            "errors",
            "peak_rss_bytes",
        ] {
            meta.remove(k);
        }
    }
    if let Some(inputs) = v.get_mut("inputs").and_then(Value::as_array_mut) {
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
