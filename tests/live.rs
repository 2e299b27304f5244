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

/// Starts `ghostport live ARGS`, waits for its "capturing on lo" line, and
/// returns it with a channel of its stdout lines.
fn start(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let (child, lines, _stderr) = start_on("lo", args);
    (child, lines)
}

/// Starts `ghostport live ARGS`, waits for its "capturing on IFACE" line,
/// and returns it with a channel of its stdout lines and one that gets the
/// rest of its stderr when it ends.
fn start_on(iface: &str, args: &[&str]) -> (Child, mpsc::Receiver<String>, mpsc::Receiver<String>) {
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
        first.contains(&format!("capturing on {iface} ")),
        "unexpected first stderr line: {first}"
    );
    let (etx, erx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
        if !rest.is_empty() {
            eprintln!("ghostport stderr: {rest}");
        }
        let _ = etx.send(rest);
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
    (child, rx, erx)
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
    eprintln!("finding streamed {latency:?} after the connection");
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

/// `ip ARGS`, Ok when it succeeded, else its message.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip ({e}); install iproute2"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A veth pair `gpt-PID` / `gpp-PID` whose peer end is in a network
/// namespace `gpt-PID` of its own, 198.51.100.1/24 here and .2 there.
/// Removed on drop (also when the test fails).
struct Veth {
    name: String,
    ns: String,
}

impl Veth {
    fn create() -> Result<Veth, String> {
        let pid = std::process::id();
        let v = Veth {
            name: format!("gpt-{pid}"),
            ns: format!("gpt-{pid}"),
        };
        let peer = format!("gpp-{pid}");
        ip(&["netns", "add", &v.ns])?;
        ip(&[
            "link", "add", &v.name, "type", "veth", "peer", "name", &peer,
        ])?;
        ip(&["link", "set", &peer, "netns", &v.ns])?;
        ip(&["-n", &v.ns, "addr", "add", "198.51.100.2/24", "dev", &peer])?;
        ip(&["-n", &v.ns, "link", "set", &peer, "up"])?;
        ip(&["addr", "add", "198.51.100.1/24", "dev", &v.name])?;
        ip(&["link", "set", &v.name, "up"])?;
        Ok(v)
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.name]);
        let _ = ip(&["netns", "del", &self.ns]);
    }
}

#[test]
fn an_interface_that_goes_away_ends_the_capture_with_the_report() {
    if !can_capture() {
        return;
    }
    let veth = match Veth::create() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("skipping: cannot create a veth pair in a namespace here: {e}");
            return;
        }
    };
    let iface = veth.name.clone();
    // --duration 60: only the interface going away ends this run in time.
    let (mut child, lines, stderr) = start_on(
        &iface,
        &[
            "-i",
            &iface,
            "-f",
            "udp and host 198.51.100.2",
            "--duration",
            "60",
            "--format",
            "jsonl",
        ],
    );
    // Traffic through the interface (into the namespace, where nothing
    // listens on the ghost port 384/udp) until the finding is streamed.
    let sock = std::net::UdpSocket::bind("198.51.100.1:0").unwrap();
    let mut finding = None;
    for _ in 0..50 {
        let _ = sock.send_to(b"ghost", "198.51.100.2:384");
        if let Ok(l) = lines.recv_timeout(Duration::from_millis(200)) {
            finding = Some(l);
            break;
        }
    }
    let finding = finding.expect("no finding streamed for the traffic through the veth");
    let ev: serde_json::Value = serde_json::from_str(&finding).unwrap();
    assert_eq!(ev["key"], "ghost-port/udp/198.51.100.2:384", "{finding}");

    ip(&["link", "del", &iface]).unwrap();
    let code = wait(&mut child, Duration::from_secs(20));
    let err = stderr.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(code, 2, "incomplete capture → exit 2: {err}");
    let want = format!("ghostport: error: interface {iface} went away (device removed; libpcap: ");
    assert!(err.contains(&want), "{err}");
    assert!(
        err.contains("capture stopped; the report covers what was seen before"),
        "{err}"
    );
    assert!(err.contains("the report is incomplete"), "{err}");

    let rest: Vec<String> = lines.try_iter().collect();
    let last = rest.last().expect("no report line");
    let rep: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(rep["event"], "report");
    let r = &rep["report"];
    assert_eq!(r["meta"]["complete"], false);
    let e = r["meta"]["errors"][0].as_str().unwrap();
    assert!(
        e.starts_with(&format!("interface {iface} went away")),
        "{e}"
    );
    assert_eq!(r["inputs"][0]["error"], e);
    assert_eq!(r["capture"]["interface"], iface.as_str());
    assert!(r["summary"]["packets"]["frames"].as_u64().unwrap() >= 1);
    let f = &r["findings"][0];
    assert_eq!(f["server"]["ip"], "198.51.100.2");
    assert_eq!(f["server"]["port"], 384);
    assert_matches_report_schema(r);
    drop(veth);
}

#[test]
fn an_unwritable_evidence_file_stops_before_capturing() {
    if !can_capture() {
        return;
    }
    if !std::fs::metadata("/dev/full").is_ok_and(|m| !m.is_file()) {
        eprintln!("skipping: /dev/full is missing or not a device on this machine");
        return;
    }
    let r = run(&[
        "live",
        "-i",
        "lo",
        "-w",
        "/dev/full",
        "-F",
        "json",
        "--duration",
        "30",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let msg = "cannot write the capture file /dev/full: no space left on device (free space, or bound the evidence with --ring N:MB)";
    assert!(r.stderr.contains(msg), "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["error"]["message"], msg);
    assert_eq!(v["error"]["exit_code"], 2);
}

#[test]
fn a_full_disk_for_the_evidence_stops_the_capture_and_keeps_the_report() {
    if !can_capture() {
        return;
    }
    let Some(fs) = common::TinyFs::mount("live-w", "32k") else {
        return;
    };
    let ev = fs.0.join("ev.pcap");
    let (mut child, lines, stderr) = start_on(
        "lo",
        &[
            "-i",
            "lo",
            "-f",
            "udp and host 127.0.0.77",
            "-w",
            ev.to_str().unwrap(),
            "--duration",
            "60",
            "--format",
            "jsonl",
        ],
    );
    // 1000-byte datagrams until the 32 KiB file system is full and the
    // capture stops (about 30); the bound only guards against a hang.
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let payload = [0x47u8; 1000];
    for _ in 0..5000 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        let _ = sock.send_to(&payload, "127.0.0.77:384");
        std::thread::sleep(Duration::from_millis(2));
    }
    let code = wait(&mut child, Duration::from_secs(20));
    let err = stderr.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(code, 2, "{err}");
    let want = format!(
        "ghostport: error: cannot write capture to {}: no space left on device (free space, or bound the evidence with --ring N:MB) — capture stopped; the report covers what was seen before",
        ev.display()
    );
    assert!(err.contains(&want), "{err}");

    let all: Vec<String> = lines.try_iter().collect();
    let rep: serde_json::Value = serde_json::from_str(all.last().expect("no report")).unwrap();
    let r = &rep["report"];
    assert_eq!(r["meta"]["complete"], false);
    let frames = r["summary"]["packets"]["frames"].as_u64().unwrap();
    assert!(frames > 30, "more was seen than fits in 32 KiB: {frames}");
    assert_eq!(r["findings"][0]["server"]["port"], 384);

    // What reached the disk is a whole pcap: no record cut short.
    let scan = run(&["scan", "-q", "-F", "json", ev.to_str().unwrap()]);
    assert_ne!(scan.code, 2, "{}", scan.stderr);
    let s = scan.json();
    assert_eq!(s["meta"]["complete"], true);
    assert!(s["summary"]["packets"]["frames"].as_u64().unwrap() <= frames);
    drop(fs);
}

#[test]
fn a_report_that_does_not_fit_is_not_left_half_written() {
    if !can_capture() {
        return;
    }
    let Some(fs) = common::TinyFs::mount("live-o", "16k") else {
        return;
    };
    fs.fill();
    let out = fs.0.join("r.json");
    // --count 0: the capture ends at once, then the report is written.
    let r = run(&[
        "live",
        "-i",
        "lo",
        "--count",
        "0",
        "-F",
        "json",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let msg = format!(
        "cannot write {}: no space left on device (free space, or write the report elsewhere); the partial file was removed",
        out.display()
    );
    assert!(r.stderr.contains(&msg), "{}", r.stderr);
    assert_eq!(r.json()["error"]["message"], msg.as_str());
    assert!(!out.exists(), "the report file was left behind");
    drop(fs);
}

/// `live -F jsonl -o r.json | head -1`: the reader goes away after the
/// first line. The capture ends as on Ctrl-C, the report is still written
/// to `-o`, and the status is the report's (1: a finding), not 0.
#[test]
fn a_closed_stdout_ends_the_capture_and_still_writes_the_report_file() {
    if !can_capture() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("gp-live-epipe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("r.json");
    let _server = serve("127.0.0.3:386");
    let (r, w) = nix::unistd::pipe().unwrap();
    drop(r);
    let mut child = bin()
        .args([
            "live",
            "-i",
            "lo",
            "-f",
            "tcp and host 127.0.0.3 and port 386",
            "--duration",
            "15",
            "-F",
            "jsonl",
            "-o",
            report.to_str().unwrap(),
        ])
        .stdout(Stdio::from(w))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    assert!(first.contains("capturing on lo "), "{first}");
    let t0 = Instant::now();
    {
        let mut c = TcpStream::connect("127.0.0.3:386").unwrap();
        let mut banner = [0u8; 21];
        c.read_exact(&mut banner).unwrap();
        c.write_all(b"SSH-2.0-client\r\n").unwrap();
    }
    let code = wait(&mut child, Duration::from_secs(25));
    let mut rest = String::new();
    let _ = err.read_to_string(&mut rest);
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "the capture should end when stdout closes, not at --duration"
    );
    assert_eq!(code, 1, "the report's status (a finding): {rest}");
    assert!(!rest.contains("panicked"), "{rest}");
    let rep: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).expect("report written");
    assert_eq!(rep["findings"][0]["server"]["port"], 386, "{rep}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One `Name: value` field of /proc/PID/status (or of a task's).
fn status_field(status_path: &str, field: &str) -> Option<String> {
    let text = std::fs::read_to_string(status_path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// Polls until `check` holds (or 3 s pass); returns the last value seen.
fn eventually(mut check: impl FnMut() -> Result<(), String>) -> Result<(), String> {
    let t = Instant::now();
    loop {
        let r = check();
        if r.is_ok() || t.elapsed() > Duration::from_secs(3) {
            return r;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// After the drop, the capture process has no capability in any set (the
/// bounding set included) and `no_new_privs`; the attribution helper keeps
/// only CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, `no_new_privs`, and no
/// socket (the capture socket is not inherited).
#[test]
fn the_dropped_capture_and_its_helper_keep_no_privileges() {
    if !can_capture() {
        return;
    }
    let (mut child, _lines) = start(&[
        "-i",
        "lo",
        "-f",
        "tcp and host 127.0.0.4 and port 386",
        "--duration",
        "4",
        "-F",
        "jsonl",
    ]);
    let pid = child.id();
    let r = eventually(|| {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).map_err(|e| e.to_string())?;
        for t in tasks {
            let st = format!("{}/status", t.map_err(|e| e.to_string())?.path().display());
            for (field, want) in [
                ("CapBnd", "0000000000000000"),
                ("CapPrm", "0000000000000000"),
                ("CapEff", "0000000000000000"),
                ("CapInh", "0000000000000000"),
                ("NoNewPrivs", "1"),
            ] {
                let got = status_field(&st, field).unwrap_or_default();
                if got != want {
                    return Err(format!("{st}: {field} {got}, want {want}"));
                }
            }
        }
        Ok(())
    });
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let helper: u32 = children
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("no attribution helper process");
    let h = eventually(|| {
        let st = format!("/proc/{helper}/status");
        // CAP_DAC_READ_SEARCH (2) and CAP_SYS_PTRACE (19).
        for (field, want) in [
            ("CapBnd", "0000000000080004"),
            ("CapPrm", "0000000000080004"),
            ("CapEff", "0000000000080004"),
            ("CapInh", "0000000000000000"),
            ("NoNewPrivs", "1"),
        ] {
            let got = status_field(&st, field).unwrap_or_default();
            if got != want {
                return Err(format!("helper {field} {got}, want {want}"));
            }
        }
        for fd in std::fs::read_dir(format!("/proc/{helper}/fd")).map_err(|e| e.to_string())? {
            let target = std::fs::read_link(fd.map_err(|e| e.to_string())?.path())
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            if target.starts_with("socket:") {
                return Err(format!("the helper holds {target}"));
            }
        }
        Ok(())
    });
    let code = wait(&mut child, Duration::from_secs(20));
    r.unwrap();
    h.unwrap();
    assert_eq!(code, 0);
}

/// Installed with `setcap cap_net_raw,cap_net_admin=eip` and run by a
/// normal user, `scan` reads a (hostile) file without those capabilities.
#[test]
fn scan_drops_file_capabilities() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipping: needs root to setcap a copy and run it as nobody");
        return;
    }
    let dir = std::env::temp_dir().join(format!("gp-setcap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = dir.join("ghostport");
    std::fs::copy(env!("CARGO_BIN_EXE_ghostport"), &exe).unwrap();
    match std::process::Command::new("setcap")
        .args(["cap_net_raw,cap_net_admin=eip"])
        .arg(&exe)
        .output()
    {
        Ok(o) if o.status.success() => {}
        other => {
            eprintln!("skipping: setcap not usable here (install libcap2-bin): {other:?}");
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
    }
    let fifo = dir.join("in.pcap");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    let mut child = match std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(&exe)
        .args(["scan", "-q"])
        .arg(&fifo)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("skipping: setpriv not available ({e}); install util-linux");
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
    };
    let pid = child.id();
    // It blocks opening the FIFO; by then the capabilities must be gone.
    let r = eventually(|| {
        let st = format!("/proc/{pid}/status");
        if status_field(&st, "Name").as_deref() != Some("ghostport") {
            return Err("not started yet".into());
        }
        for field in ["CapPrm", "CapEff"] {
            let got = status_field(&st, field).unwrap_or_default();
            if got != "0000000000000000" {
                return Err(format!("scan runs with {field} {got}"));
            }
        }
        Ok(())
    });
    // Unblock it with an empty input and let it end.
    drop(std::fs::OpenOptions::new().write(true).open(&fifo));
    let _ = wait(&mut child, Duration::from_secs(20));
    let _ = std::fs::remove_dir_all(&dir);
    r.unwrap();
}
