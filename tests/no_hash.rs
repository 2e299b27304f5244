//! `--no-hash` (ScanOptions::hash(false)) skips SHA-256 and the report says
//! so; the findings are the same as with hashing.

use std::path::PathBuf;

use ghostport::analysis::{self, AnalysisConfig, SHA256_SKIPPED, ScanOptions};
use ghostport::capture::Input;
use ghostport::knowledge::KnowledgeBase;
use ghostport::report::Report;
use serde_json::Value;

fn report(hash: bool) -> Value {
    let kb = KnowledgeBase::builtin();
    let cfg = AnalysisConfig::default();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo.pcapng");
    let opts = ScanOptions::default().hash(hash);
    let a = analysis::scan_with(&[Input::Path(path)], kb, &cfg, opts, &mut ());
    serde_json::to_value(Report::new(a, kb, vec!["ghostport".into()], &cfg, false))
        .unwrap_or(Value::Null)
}

#[test]
fn no_hash_reports_null_with_reason_and_same_findings() {
    let with = report(true);
    let without = report(false);
    let (a, b) = (&with["inputs"][0], &without["inputs"][0]);
    assert_eq!(a["sha256"].as_str().map(str::len), Some(64));
    assert!(a.get("sha256_skipped").is_none());
    assert!(b["sha256"].is_null());
    assert_eq!(b["sha256_skipped"], SHA256_SKIPPED);
    assert!(!with["findings"].as_array().is_none_or(Vec::is_empty));
    assert_eq!(with["findings"], without["findings"]);
    assert_eq!(with["summary"], without["summary"]);
}
