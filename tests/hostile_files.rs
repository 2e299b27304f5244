//! Output files in folders another user can write to (issue: "root follows
//! symlinks, then gives the target away"). Each test makes a world-writable
//! folder, plants there what an attacker would (a symbolic link owned by
//! `nobody` when the tests run as root, as CI does), runs the binary, and
//! checks that the link's target is untouched: same bytes, same owner.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{bin, fixture, run};

fn root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// A world-writable sticky folder like /tmp, and a victim file outside it.
fn shared_dir(tag: &str) -> (PathBuf, PathBuf) {
    let base = std::env::temp_dir().join(format!("gp-hostile-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    let shared = base.join("shared");
    fs::create_dir_all(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
    let victim = base.join("victim");
    fs::write(&victim, b"root:secret\n").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
    (shared, victim)
}

/// A symbolic link as another user plants it.
fn plant(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
    if root() {
        std::os::unix::fs::lchown(link, Some(65534), Some(65534)).unwrap();
    }
}

fn assert_untouched(victim: &Path) {
    assert_eq!(
        fs::read(victim).unwrap(),
        b"root:secret\n",
        "victim rewritten"
    );
    let m = fs::metadata(victim).unwrap();
    assert_eq!(
        m.uid(),
        nix::unistd::Uid::effective().as_raw(),
        "victim handed away"
    );
    assert_eq!(m.mode() & 0o7777, 0o600);
}

fn cleanup(shared: &Path) {
    if let Some(base) = shared.parent() {
        let _ = fs::remove_dir_all(base);
    }
}

#[test]
fn scan_output_replaces_a_planted_link_and_never_writes_through_it() {
    let (shared, victim) = shared_dir("scan-o");
    let out = shared.join("r.json");
    plant(&victim, &out);
    // Links at the old predictable temporary names of the next process ids.
    let next = std::process::id();
    for pid in next..next + 300 {
        plant(
            &victim,
            &shared.join(format!(".r.json.ghostport-tmp-{pid}")),
        );
    }
    let demo = fixture("demo.pcapng");
    let d = demo.to_str().unwrap();
    let o = out.to_str().unwrap();
    let r = run(&["scan", "-q", "-F", "json", "-o", o, d]);
    assert_eq!(
        r.code, 2,
        "an existing name (a link) needs --force: {}",
        r.stderr
    );
    assert!(r.stderr.contains("file exists"), "{}", r.stderr);
    assert_untouched(&victim);
    let r = run(&["scan", "-q", "-F", "json", "--force", "-o", o, d]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_untouched(&victim);
    let m = fs::symlink_metadata(&out).unwrap();
    assert!(
        m.is_file(),
        "the link should have been replaced by the report"
    );
    let rep: serde_json::Value = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
    assert!(rep["findings"].as_array().is_some_and(|f| !f.is_empty()));
    // No temporary file is left behind.
    let names: Vec<String> = fs::read_dir(&shared)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.contains(".ghostport-tmp-"))
        .collect();
    assert_eq!(names, ["r.json"]);
    cleanup(&shared);
}

#[test]
fn evidence_files_replace_planted_links_and_never_write_through_them() {
    let (shared, victim) = shared_dir("evidence");
    let ev = shared.join("ev");
    fs::create_dir_all(&ev).unwrap();
    fs::set_permissions(&ev, fs::Permissions::from_mode(0o1777)).unwrap();
    // Links at every name the run will write, and at the old predictable
    // temporary names for the next few hundred process ids.
    let next = std::process::id();
    for i in 1..=50 {
        plant(&victim, &ev.join(format!("GP-{i:04}.pcap")));
    }
    plant(&victim, &ev.join("index.json"));
    for pid in next..next + 300 {
        plant(
            &victim,
            &ev.join(format!(".index.json.ghostport-tmp-{pid}")),
        );
        plant(
            &victim,
            &ev.join(format!(".GP-0001.pcap.ghostport-tmp-{pid}")),
        );
    }
    let demo = fixture("demo.pcapng");
    let r = run(&[
        "scan",
        "-q",
        "-F",
        "json",
        "--force",
        "--evidence",
        ev.to_str().unwrap(),
        demo.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_untouched(&victim);
    for name in ["GP-0001.pcap", "index.json"] {
        let m = fs::symlink_metadata(ev.join(name)).unwrap();
        assert!(m.is_file(), "{name} should be the evidence, not the link");
    }
    assert!(
        !fs::read_dir(&ev).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".ghostport-tmp")),
        "private temporary folder left behind"
    );
    cleanup(&shared);
}

#[test]
fn an_evidence_folder_that_is_a_planted_link_is_refused() {
    let (shared, victim) = shared_dir("evidence-dir");
    let elsewhere = victim.parent().unwrap().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    plant(&elsewhere, &shared.join("ev"));
    let demo = fixture("demo.pcapng");
    let r = run(&[
        "scan",
        "-q",
        "--evidence",
        shared.join("ev").to_str().unwrap(),
        demo.to_str().unwrap(),
    ]);
    if root() {
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("symbolic link"), "{}", r.stderr);
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
    } else {
        // Not root: the link is our own, so it is trusted.
        assert_ne!(r.code, 101);
    }
    cleanup(&shared);
}

#[test]
fn man_out_dir_replaces_a_planted_link() {
    let (shared, victim) = shared_dir("man");
    plant(&victim, &shared.join("ghostport.1"));
    plant(&victim, &shared.join("ghostport-scan.1"));
    let r = run(&["man", "--out-dir", shared.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_untouched(&victim);
    let page = fs::read_to_string(shared.join("ghostport-scan.1")).unwrap();
    assert!(page.contains(".TH"), "not a man page");
    cleanup(&shared);
}

#[test]
fn an_imported_registry_is_stored_0644_whatever_the_source_mode() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/knowledge/data/sources/service-names-port-numbers.csv");
    let base = std::env::temp_dir().join(format!("gp-hostile-reg-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(&base).unwrap();
    let copy = base.join("iana.csv");
    fs::copy(&src, &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o6777)).unwrap();
    let data = base.join("data");
    let out = bin()
        .env("GHOSTPORT_DATA_DIR", &data)
        .args(["registry", "import", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = fs::metadata(data.join("registry.csv")).unwrap().mode() & 0o7777;
    // 0644 before the umask: never setuid, executable or writable by others.
    assert_eq!(mode & !0o644, 0, "stored with mode {mode:o}");
    let _ = fs::remove_dir_all(&base);
}

// ---- live (root and a capturable lo; CI runs as root) ----

fn can_capture() -> bool {
    if !root() {
        eprintln!("skipping: live file tests need root (CI runs them as root)");
        return false;
    }
    let r = run(&["live", "-i", "lo", "--count", "0", "-q", "--no-drop"]);
    if r.code != 0 {
        eprintln!("skipping: cannot capture on lo here: {}", r.stderr.trim());
        return false;
    }
    true
}

#[test]
fn live_never_opens_a_planted_link_as_root() {
    if !can_capture() {
        return;
    }
    let (shared, victim) = shared_dir("live");
    let s = |n: &str| shared.join(n).to_str().unwrap().to_string();
    plant(&victim, &shared.join("ev.pcap"));
    plant(&victim, &shared.join("ring.pcap.1"));
    plant(&victim, &shared.join("r.json"));
    for args in [
        vec!["-w".to_string(), s("ev.pcap")],
        vec![
            "-w".to_string(),
            s("ring.pcap"),
            "--ring".into(),
            "2:1".into(),
        ],
        vec![
            "-F".into(),
            "json".into(),
            "-o".into(),
            s("r.json"),
            "--force".into(),
        ],
    ] {
        let mut a: Vec<&str> = vec!["live", "-i", "lo", "--count", "0", "-q"];
        a.extend(args.iter().map(String::as_str));
        let r = run(&a);
        assert_eq!(r.code, 2, "{a:?} should refuse the link: {}", r.stderr);
        assert!(r.stderr.contains("symbolic link"), "{a:?}: {}", r.stderr);
        assert_untouched(&victim);
    }
    cleanup(&shared);
}

#[test]
fn live_hands_over_only_the_files_it_created() {
    if !can_capture() {
        return;
    }
    let (shared, _victim) = shared_dir("live-own");
    let old = shared.join("old.pcap");
    fs::write(&old, b"old").unwrap();
    let new = shared.join("new.pcap");
    let report = shared.join("r.json");
    for (w, expect_uid) in [(&old, 0), (&new, 65534)] {
        let r = run(&[
            "live",
            "-i",
            "lo",
            "--count",
            "0",
            "-q",
            "-F",
            "json",
            "--force",
            "-o",
            report.to_str().unwrap(),
            "-w",
            w.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let m = fs::metadata(w).unwrap();
        assert_eq!(m.uid(), expect_uid, "{}", w.display());
        // Either way it holds a pcap header now.
        assert_eq!(m.len(), 24);
    }
    // The report was created by the first run (handed over), kept its
    // owner in the second, and holds the report.
    assert_eq!(fs::metadata(&report).unwrap().uid(), 65534);
    let rep: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    assert!(rep["meta"].is_object());
    cleanup(&shared);
}
