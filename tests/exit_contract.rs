//! The exit-status and error contract (README "Exit status",
//! docs/robustness.md): 0 no findings, 1 findings, 2 error; messages on
//! stderr; with `-F json` a fatal error is a `{"error": {...}}` object on
//! stdout; a failed write leaves no file behind.

mod common;
use common::*;

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("gp-exit-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("ghostport-tmp"))
        .collect()
}

#[test]
fn zero_without_findings_one_with_findings() {
    let r = run(&["scan", "-q", fixture("normal.pcap").to_str().unwrap()]);
    assert_eq!(r.code, 0);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    let r = run(&["scan", "-q", fixture("demo.pcapng").to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
}

/// A JSON-mode fatal error: exit 2, message on stderr, one JSON error
/// object (and nothing else) on stdout.
fn json_error(args: &[&str], needle: &str) -> serde_json::Value {
    let r = run(args);
    assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
    assert!(r.stderr.starts_with("ghostport: error:"), "{}", r.stderr);
    assert!(r.stderr.contains(needle), "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["error"]["exit_code"], 2);
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains(needle), "{msg}");
    assert_eq!(v.as_object().unwrap().len(), 1);
    v
}

#[test]
fn missing_input_is_exit_2_with_json_error() {
    json_error(
        &["scan", "-q", "-F", "json", "/nonexistent/x.pcap"],
        "/nonexistent/x.pcap",
    );
    // Text mode: message on stderr, nothing on stdout.
    let r = run(&["scan", "-q", "/nonexistent/x.pcap"]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(r.stderr.contains("/nonexistent/x.pcap"), "{}", r.stderr);
}

#[test]
fn bad_allow_rule_is_exit_2_with_json_error() {
    let demo = fixture("demo.pcapng");
    json_error(
        &[
            "scan",
            "-q",
            "-F",
            "json",
            "--allow",
            "99999/tcp",
            demo.to_str().unwrap(),
        ],
        "99999",
    );
}

#[test]
fn bad_policy_file_is_exit_2_with_json_error() {
    let d = tmp("policy");
    let p = d.join("policy.toml");
    std::fs::write(&p, "[[allow]]\nport = \"not a port\"\n").unwrap();
    let demo = fixture("demo.pcapng");
    json_error(
        &[
            "scan",
            "-q",
            "-F",
            "json",
            "--config",
            p.to_str().unwrap(),
            demo.to_str().unwrap(),
        ],
        "policy.toml",
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn input_error_still_writes_the_partial_report() {
    let d = tmp("partial");
    let out = d.join("r.json");
    let f = fixture("corrupt/truncated-mid-record.pcap");
    let r = run(&[
        "scan",
        "-q",
        "-F",
        "json",
        "-o",
        out.to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("truncated record"), "{}", r.stderr);
    assert!(r.stderr.contains("incomplete"), "{}", r.stderr);
    let rep: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(rep["meta"]["complete"], false);
    assert_eq!(rep["summary"]["packets"]["frames"], 2);
    assert!(
        rep["meta"]["errors"][0]
            .as_str()
            .unwrap()
            .contains("truncated record")
    );
    assert!(leftovers(&d).is_empty());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn failed_write_leaves_no_file_behind() {
    let d = tmp("write");
    // The target is a directory: the temporary file is written, the rename
    // fails, and the temporary file must be gone.
    let target = d.join("report.json");
    std::fs::create_dir(&target).unwrap();
    let demo = fixture("demo.pcapng");
    let v = json_error(
        &[
            "scan",
            "-q",
            "-F",
            "json",
            "--force",
            "-o",
            target.to_str().unwrap(),
            demo.to_str().unwrap(),
        ],
        "report.json",
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot write")
    );
    assert!(leftovers(&d).is_empty(), "{:?}", leftovers(&d));
    assert!(target.is_dir());
    // A missing directory: clear error naming the path, nothing created.
    let missing = d.join("no/such/dir/r.json");
    let r = run(&[
        "scan",
        "-q",
        "-o",
        missing.to_str().unwrap(),
        demo.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no/such/dir"), "{}", r.stderr);
    assert!(!d.join("no").exists());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn usage_errors_are_exit_2() {
    let r = run(&["scan", "--no-such-flag", "x.pcap"]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("--no-such-flag"), "{}", r.stderr);
}

#[test]
fn usage_errors_in_json_modes_are_json_error_objects() {
    // Every spelling of the format, scan and live, jsonl too.
    for args in [
        &["scan", "--bogus", "-F", "json", "x.pcap"][..],
        &["scan", "-Fjson", "--bogus", "x.pcap"],
        &["scan", "--format=jsonl", "--bogus", "x.pcap"],
        &[
            "scan",
            "-q",
            "--format",
            "json",
            "--max-flows",
            "many",
            "x.pcap",
        ],
        &["live", "-i", "lo", "-F", "jsonl", "--bogus"],
    ] {
        let v = json_error(args, "");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("--bogus") || msg.contains("many"),
            "{args:?}: {msg}"
        );
        assert!(!msg.contains('\n'), "one line: {msg}");
    }
    // A missing input: clap's "required arguments" error, as JSON.
    let v = json_error(&["scan", "-F", "json"], "<INPUT>");
    assert!(v["error"]["message"].as_str().unwrap().contains("required"));
    // The config file's format counts when -F is not given.
    let d = tmp("usage-config");
    let cfg = d.join("c.toml");
    std::fs::write(&cfg, "[scan]\nformat = \"json\"\n").unwrap();
    json_error(
        &[
            "scan",
            "--config",
            cfg.to_str().unwrap(),
            "--bogus",
            "x.pcap",
        ],
        "--bogus",
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn help_and_version_are_unchanged_in_json_modes() {
    let r = run(&["scan", "-F", "json", "--help"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Usage: ghostport scan"), "{}", r.stdout);
    assert!(!r.stdout.contains("\"error\""));
    let r = run(&["scan", "-F", "json", "--version"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("ghostport") && r.stdout.contains(env!("CARGO_PKG_VERSION")),
        "{}",
        r.stdout
    );
    // Text mode: clap's own message on stderr, nothing on stdout.
    let r = run(&["scan", "-F", "text", "--bogus", "x.pcap"]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr.starts_with("error: unexpected argument '--bogus'"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_full_device_as_output_is_a_clear_error() {
    let p = std::path::Path::new("/dev/full");
    if !std::fs::metadata(p).is_ok_and(|m| !m.is_file()) {
        eprintln!("skipping: /dev/full is missing or not a device on this machine");
        return;
    }
    let demo = fixture("demo.pcapng");
    let v = json_error(
        &[
            "scan",
            "-q",
            "-F",
            "json",
            "-o",
            "/dev/full",
            demo.to_str().unwrap(),
        ],
        "/dev/full",
    );
    let msg = v["error"]["message"].as_str().unwrap().to_ascii_lowercase();
    assert!(
        msg.contains("no space left on device (free space, or write the report elsewhere)"),
        "{msg}"
    );
}

#[test]
fn a_full_disk_leaves_no_report_behind() {
    let Some(fs) = TinyFs::mount("fulldisk", "64k") else {
        return;
    };
    fs.fill();
    let demo = fixture("demo.pcapng");
    let out = fs.0.join("r.json");
    let html = fs.0.join("r.html");
    let v = json_error(
        &[
            "scan",
            "-q",
            "-F",
            "json",
            "-o",
            out.to_str().unwrap(),
            "--report",
            &format!("html:{}", html.display()),
            demo.to_str().unwrap(),
        ],
        "r.json",
    );
    let msg = v["error"]["message"].as_str().unwrap().to_ascii_lowercase();
    assert!(
        msg.contains("no space left on device (free space, or write the report elsewhere)"),
        "{msg}"
    );
    assert!(!out.exists(), "a failed report was left behind");
    assert!(!html.exists());
    assert!(leftovers(&fs.0).is_empty(), "{:?}", leftovers(&fs.0));
}
