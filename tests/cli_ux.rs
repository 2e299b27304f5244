//! The Unix-tool surface: completions, man page, config file, -v logging.

mod common;
use common::*;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use clap::CommandFactory;
use ghostport::cli::args::Cli;

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run ghostport: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A binary run isolated from the user's config file and colour settings.
fn gp() -> Command {
    let mut c = bin();
    c.env_remove("GHOSTPORT_CONFIG")
        .env_remove("NO_COLOR")
        .env_remove("GHOSTPORT_LOG")
        .env("XDG_CONFIG_HOME", tmpdir("xdg-empty"));
    c
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ghostport-ux-{}-{name}", std::process::id()));
    let _ = std::fs::create_dir_all(&d);
    d
}

fn subcommand_names() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect()
}

fn scan_long_options() -> Vec<String> {
    let cmd = Cli::command();
    let scan = cmd
        .find_subcommand("scan")
        .unwrap_or_else(|| panic!("no scan subcommand"));
    scan.get_arguments()
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect()
}

#[test]
fn completions_name_every_subcommand() {
    let subs = subcommand_names();
    assert!(subs.len() >= 7, "{subs:?}");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, out, err) = run(gp().args(["completions", shell]));
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(out.len() > 500, "{shell}: output too short");
        for s in &subs {
            assert!(out.contains(s.as_str()), "{shell} completion lacks {s}");
        }
        assert!(
            out.contains("max-flows"),
            "{shell} completion lacks scan options"
        );
    }
    let (code, _, err) = run(gp().args(["completions", "tcsh"]));
    assert_eq!(code, 2);
    assert!(err.contains("bash"), "{err}");
}

#[test]
fn man_page_has_every_scan_option() {
    let (code, roff, err) = run(gp().arg("man"));
    assert_eq!(code, 0, "{err}");
    assert!(
        roff.starts_with(".ie") || roff.contains(".TH ghostport 1"),
        "not roff"
    );
    let longs = scan_long_options();
    assert!(longs.len() >= 15, "{longs:?}");
    for l in &longs {
        let escaped = format!("\\-\\-{}", l.replace('-', "\\-"));
        assert!(roff.contains(&escaped), "man page lacks --{l}");
    }
    for s in subcommand_names() {
        assert!(
            roff.contains(&format!("COMMAND: GHOSTPORT {}", s.to_uppercase())),
            "man page lacks a section for {s}"
        );
    }
    // one command's page
    let (code, scan_page, _) = run(gp().args(["man", "scan"]));
    assert_eq!(code, 0);
    assert!(
        scan_page.contains(".TH ghostport\\-scan 1") || scan_page.contains(".TH ghostport-scan")
    );
    let (code, _, err) = run(gp().args(["man", "nosuch"]));
    assert_eq!(code, 2);
    assert!(err.contains("man pages exist for: scan"), "{err}");

    // render it the way a user would, when man is installed
    let man_ok = Command::new("man")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !man_ok {
        eprintln!("skipping the man -l - rendering check: man is not installed");
        return;
    }
    let mut child = Command::new("man")
        .args(["-l", "-"])
        .env("LC_ALL", "C")
        .env("MANWIDTH", "200")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start man: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        let _ = stdin.write_all(roff.as_bytes());
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("man: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "man -l - failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for l in &longs {
        assert!(
            text.contains(&format!("--{l}")),
            "rendered man page lacks --{l}"
        );
    }
    assert!(
        text.contains("tcpdump -w - -i eth0 | ghostport scan -"),
        "examples missing"
    );
}

#[test]
fn closed_pipe_is_not_a_panic() {
    for args in [["completions", "bash"], ["man", "scan"]] {
        let mut child = gp()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        drop(child.stdout.take()); // the reader goes away, like `| grep -q`
        let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}

#[test]
fn man_out_dir_writes_one_page_per_command() {
    let dir = tmpdir("man");
    let (code, _, err) = run(gp().args(["man", "--out-dir"]).arg(&dir));
    assert_eq!(code, 0, "{err}");
    for p in [
        "ghostport.1",
        "ghostport-scan.1",
        "ghostport-registry-diff.1",
        "ghostport-config-show.1",
    ] {
        let len = std::fs::metadata(dir.join(p)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 200, "{p} missing or empty");
    }
}

#[test]
fn config_file_defaults_and_show() {
    let dir = tmpdir("cfg");
    let cfg = dir.join("site.toml");
    std::fs::write(
        &cfg,
        "[scan]\nformat = \"json\"\nmax_flows = 200000\nquiet = true\n\n[[allow]]\nport = \"386/tcp\"\nnote = \"lab ASA\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // via $GHOSTPORT_CONFIG: format json comes from the file, the allow rule suppresses 386/tcp
    let (code, out, err) = run(gp()
        .env("GHOSTPORT_CONFIG", &cfg)
        .arg("scan")
        .arg(fixture("demo.pcapng")));
    assert_eq!(code, 1, "{err}");
    let r: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"));
    let ports: Vec<u64> = r["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["server"]["port"].as_u64())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(ports, vec![384], "{ports:?}");
    // the command line wins over the file
    let (_, out, _) = run(gp()
        .env("GHOSTPORT_CONFIG", &cfg)
        .args(["scan", "-F", "text"])
        .arg(fixture("demo.pcapng")));
    assert!(!out.trim_start().starts_with('{'), "{out}");
    // --no-config: built-in defaults
    let (_, out, _) = run(gp()
        .env("GHOSTPORT_CONFIG", &cfg)
        .args(["scan", "--no-config"])
        .arg(fixture("demo.pcapng")));
    assert!(out.contains("386"), "{out}");
    assert!(!out.trim_start().starts_with('{'), "{out}");

    let (code, out, err) = run(gp().env("GHOSTPORT_CONFIG", &cfg).args([
        "config",
        "show",
        "-F",
        "json",
        "--",
        "--max-flows",
        "9",
    ]));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["config_file_source"], "environment GHOSTPORT_CONFIG");
    let get = |k: &str| {
        v["scan"]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["key"] == k).cloned())
            .unwrap_or_default()
    };
    assert_eq!(get("max_flows")["value"], 9);
    assert_eq!(get("max_flows")["source"], "command line");
    assert_eq!(get("format")["value"], "json");
    assert_eq!(
        get("format")["source"],
        format!("config file {}", cfg.display())
    );
    assert_eq!(get("tcp_timeout")["source"], "default");
    assert_eq!(v["policy"][0]["note"], "lab ASA");

    let (code, out, _) =
        run(gp()
            .env("GHOSTPORT_CONFIG", &cfg)
            .args(["config", "show", "--no-config"]));
    assert_eq!(code, 0);
    assert!(out.starts_with("config file: none"), "{out}");
    assert!(out.contains("max_flows     = 100000   # default"), "{out}");

    // a missing file named by the environment is an error that names the fix
    let (code, _, err) = run(gp()
        .env("GHOSTPORT_CONFIG", dir.join("nope.toml"))
        .args(["config", "show"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("nope.toml") && err.contains("--no-config"),
        "{err}"
    );
}

#[test]
fn verbose_logs_per_input_only_when_asked() {
    let (_, _, err) = run(gp().args(["scan", "-q"]).arg(fixture("demo.pcapng")));
    assert!(!err.contains("frames in"), "quiet by default: {err}");
    let (_, _, err) = run(gp().args(["scan", "-v", "-q"]).arg(fixture("demo.pcapng")));
    assert!(
        err.lines().any(|l| l.starts_with("ghostport: info: ")
            && l.contains("demo.pcapng: ")
            && l.contains(" frames in ")
            && l.contains("frames/s")),
        "{err}"
    );
    // -vv: flow-table events (a 1-flow table must evict on the demo capture)
    let (_, _, err) = run(gp()
        .args(["-vv", "scan", "-q", "--max-flows", "1"])
        .arg(fixture("demo.pcapng")));
    assert!(err.contains("ghostport: debug: flow table: full"), "{err}");
}
