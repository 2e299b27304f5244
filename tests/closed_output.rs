//! Output that cannot be written: every subcommand with its standard output
//! a pipe whose reader has gone (`| head -1` after the first line) ends
//! quietly with the status it would have had; with a full standard output
//! (`/dev/full`) it exits 2 naming standard output. Never a panic (101).

mod common;

use std::process::{Command, Output, Stdio};

use common::{bin, fixture};

/// A pipe whose read end is already closed: every write gets EPIPE.
fn closed_pipe() -> Stdio {
    let (r, w) = nix::unistd::pipe().unwrap();
    drop(r);
    Stdio::from(w)
}

fn dev_full() -> Option<Stdio> {
    match std::fs::OpenOptions::new().write(true).open("/dev/full") {
        Ok(f) => Some(Stdio::from(f)),
        Err(e) => {
            eprintln!("skipping /dev/full cases: {e}");
            None
        }
    }
}

fn run_to(mut cmd: Command, out: Stdio) -> Output {
    cmd.stdout(out).stderr(Stdio::piped()).output().unwrap()
}

/// Commands and the status each has when its output is read in full.
fn commands() -> Vec<(Vec<String>, i32)> {
    let demo = fixture("demo.pcapng").display().to_string();
    let normal = fixture("normal.pcap").display().to_string();
    let csv = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/knowledge/data/sources/service-names-port-numbers.csv")
        .display()
        .to_string();
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        (v(&["ports", "--class", "ghost", "-F", "csv"]), 0),
        (v(&["ports", "--class", "ghost"]), 0),
        (v(&["port", "386"]), 0),
        (v(&["port", "386", "-F", "json"]), 0),
        (v(&["interfaces"]), 0),
        (v(&["interfaces", "-F", "csv"]), 0),
        (v(&["scan", "-q", "-F", "json", &demo]), 1),
        (v(&["scan", "-q", &normal]), 0),
        (v(&["scan", "-q", "-F", "json", "/nonexistent/x.pcap"]), 2),
        (v(&["registry", "diff", &csv, &csv, "-F", "csv"]), 0),
        (v(&["man"]), 0),
        (v(&["completions", "bash"]), 0),
        (v(&["config", "show", "--no-config"]), 0),
        (v(&["export", "csv"]), 0),
    ]
}

#[test]
fn a_closed_pipe_ends_quietly_with_the_status_the_run_has() {
    for (args, status) in commands() {
        let mut cmd = bin();
        cmd.args(&args);
        let out = run_to(cmd, closed_pipe());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(status), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            !err.contains("Broken pipe"),
            "{args:?} should end quietly: {err}"
        );
    }
}

#[test]
fn a_full_stdout_is_an_error_naming_standard_output() {
    for (args, status) in commands() {
        let Some(full) = dev_full() else {
            return;
        };
        let mut cmd = bin();
        cmd.args(&args);
        let out = run_to(cmd, full);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        if status != 2 {
            assert!(
                err.contains("cannot write standard output: no space left on device"),
                "{args:?}: {err}"
            );
        }
    }
}
