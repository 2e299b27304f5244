//! `ghostport live` on the loopback interface: the test opens a listener on
//! a ghost port (127.0.0.1:386, 127.0.0.2:384), talks to it, and checks the
//! streamed finding, the process attribution and the final report. Needs
//! root (CI runs as root); skips with a printed reason otherwise. Every run
//! is bounded by --duration and a kill deadline; traffic stays on 127/8.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{bin, fixture, run};

fn can_capture() -> bool {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipping: live capture tests need root (CI runs them as root)");
        return false;
    }
    let r = run(&["live", "-i", "lo", "--count", "0", "-q", "--no-drop"]);
    if r.code != 0 {
        eprintln!("skipping: cannot capture on lo here: {}", r.stderr.trim());
        return false;
    }
    true
}

/// Starts `ghostport live ARGS`, waits for its "capturing on" line, and
/// returns it with a channel of its stdout lines.
fn start(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = bin()
        .arg("live")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ghostport live");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    assert!(
        first.contains("capturing on lo"),
        "unexpected first stderr line: {first}"
    );
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
        if !rest.is_empty() {
            eprintln!("ghostport stderr: {rest}");
        }
    });
    let out = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits for the child with a deadline (then kills it and fails).
fn wait(child: &mut Child, limit: Duration) -> i32 {
    let t = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ghostport live did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A ghost-port server answering like SSH.
fn serve(addr: &str) -> TcpListener {
    let l = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    let l2 = l.try_clone().unwrap();
    std::thread::spawn(move || {
        for mut c in l2.incoming().map_while(Result::ok) {
            let _ = c.write_all(b"SSH-2.0-OpenSSH_9.6\r\n");
            let mut buf = [0u8; 64];
            let _ = c.read(&mut buf);
        }
    });
    l
}

#[test]
fn streams_a_finding_with_the_local_process_and_ends_with_the_report() {
    if !can_capture() {
        return;
    }
    let _server = serve("127.0.0.1:386");
    let (mut child, lines) = start(&[
        "-i",
        "lo",
        "-f",
        "tcp and host 127.0.0.1 and port 386",
        "--duration",
        "5",
        "--format",
        "jsonl",
    ]);
    let t0 = Instant::now();
    {
        let mut c = TcpStream::connect("127.0.0.1:386").unwrap();
        let mut banner = [0u8; 21];
        c.read_exact(&mut banner).unwrap();
        c.write_all(b"SSH-2.0-client\r\n").unwrap();
    }
    let first = lines
        .recv_timeout(Duration::from_secs(3))
        .expect("no streamed finding within 3 s of the connection");
    let latency = t0.elapsed();
    let ev: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(ev["event"], "finding", "{first}");
    assert_eq!(ev["key"], "ghost-port/tcp/127.0.0.1:386");
    assert!(latency < Duration::from_secs(2), "latency {latency:?}");
    let lp = &ev["finding"]["local_process"];
    assert_eq!(lp["status"], "found", "{lp}");
    let me = std::process::id();
    let exe = std::env::current_exe().unwrap();
    let procs: Vec<&serde_json::Value> = lp["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["processes"].as_array().unwrap())
        .collect();
    assert!(
        procs
            .iter()
            .any(|p| p["pid"] == me && p["exe"] == exe.display().to_string()),
        "this test (pid {me}, {}) not named: {lp}",
        exe.display()
    );
    assert_eq!(lp["sockets"][0]["state"], "LISTEN");

    let code = wait(&mut child, Duration::from_secs(20));
    let rest: Vec<String> = lines.try_iter().collect();
    let last = rest.last().expect("no report line");
    let rep: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(rep["event"], "report");
    let r = &rep["report"];
    assert_eq!(code, 1, "findings → exit 1");
    assert_eq!(r["summary"]["flows"]["total"], 1);
    assert_eq!(r["summary"]["flows"]["ghost"], 1);
    assert_eq!(r["summary"]["findings"], 1);
    let f = &r["findings"][0];
    assert_eq!(f["server"]["port"], 386);
    assert_eq!(f["local_process"], *lp, "attribution kept from detection");
    assert!(f["title"].as_str().unwrap().contains("answered"));
    let frames = r["summary"]["packets"]["frames"].as_u64().unwrap();
    let t = &f["totals"];
    assert_eq!(
        frames,
        t["c2s"]["packets"].as_u64().unwrap() + t["s2c"]["packets"].as_u64().unwrap(),
        "every captured packet belongs to the one flow"
    );
    assert!(frames >= 6, "handshake, data both ways, close: {frames}");
    let cap = &r["capture"];
    assert_eq!(cap["interface"], "lo");
    assert_eq!(cap["delivered"], frames);
    assert_eq!(cap["dropped"], 0);
    assert_eq!(cap["if_dropped"], 0);
    assert!(cap["received"].as_u64().unwrap() >= frames);
    assert_eq!(r["inputs"][0]["format"], "live");
    assert_matches_report_schema(r);
}

/// The live report (with `capture` and `local_process`) is a valid report.
fn assert_matches_report_schema(r: &serde_json::Value) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema/report.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let v = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = v
        .iter_errors(r)
        .take(10)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "live report vs schema:\n{}",
        errors.join("\n")
    );
}

#[test]
fn sigterm_flushes_active_flows_into_the_report() {
    if !can_capture() {
        return;
    }
    let _server = serve("127.0.0.2:384");
    let (mut child, lines) = start(&[
        "-i",
        "lo",
        "-f",
        "tcp and host 127.0.0.2 and port 384",
        "--duration",
        "30",
        "--format",
        "json",
    ]);
    // A connection left open: its flow is still in the table at the end.
    let mut c = TcpStream::connect("127.0.0.2:384").unwrap();
    let mut banner = [0u8; 21];
    c.read_exact(&mut banner).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let code = wait(&mut child, Duration::from_secs(10));
    assert!(t.elapsed() < Duration::from_secs(5), "slow to stop");
    drop(c);
    let text: Vec<String> = lines.try_iter().collect();
    let r: serde_json::Value = serde_json::from_str(&text.join("\n")).unwrap();
    assert_eq!(code, 1);
    assert_eq!(r["meta"]["complete"], true);
    assert_eq!(r["summary"]["findings"], 1);
    let f = &r["findings"][0];
    assert_eq!(f["server"]["ip"], "127.0.0.2");
    assert_eq!(f["flows"][0]["end"], "end-of-input");
    // Same shape as `scan -F json`, plus the capture object.
    let scan = run(&[
        "scan",
        "-q",
        "-F",
        "json",
        fixture("demo.pcapng").to_str().unwrap(),
    ])
    .json();
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    let mut live_keys = keys(&r);
    live_keys.retain(|k| k != "capture");
    assert_eq!(live_keys, keys(&scan));
    assert_eq!(keys(&r["summary"]), keys(&scan["summary"]));
    assert!(
        scan.get("capture").is_none(),
        "offline scans have no capture object"
    );
    assert!(scan["findings"][0].get("local_process").is_none());
}

#[test]
fn a_missing_interface_names_the_fix() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipping: without root libpcap reports permission before the device");
        return;
    }
    let r = run(&["live", "-i", "eth9", "--duration", "1"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("cannot open eth9: no such device (see `ghostport interfaces`)"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_bad_filter_is_named() {
    if !can_capture() {
        return;
    }
    let r = run(&["live", "-i", "lo", "-f", "port 386 and", "--duration", "1"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("invalid capture filter 'port 386 and'"),
        "{}",
        r.stderr
    );
}

#[test]
fn unprivileged_capture_gives_the_documented_error() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipping: needs root to run the binary as nobody with setpriv");
        return;
    }
    let exe = env!("CARGO_BIN_EXE_ghostport");
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--inh-caps=-all",
            exe,
            "live",
            "-i",
            "lo",
            "--duration",
            "1",
        ])
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skipping: setpriv not available ({e}); install util-linux");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("Permission denied") && !stderr.contains("ghostport") {
        eprintln!("skipping: nobody cannot execute {exe}: {stderr}");
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "permission denied capturing on lo: run as root or grant the capabilities: sudo setcap cap_net_raw,cap_net_admin=eip $(command -v ghostport)"
        ),
        "{stderr}"
    );
}

#[test]
fn interfaces_lists_loopback() {
    let r = run(&["interfaces", "-F", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let list = r.json();
    if !cfg!(target_os = "linux") {
        return;
    }
    let lo = list.as_array().unwrap().iter().find(|i| i["name"] == "lo");
    match lo {
        Some(lo) => {
            assert!(
                lo["flags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| f == "loopback")
            );
            assert!(
                lo["addresses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a == "127.0.0.1/8")
            );
        }
        None => eprintln!("skipping: libpcap lists no lo here (not permitted?)"),
    }
}
