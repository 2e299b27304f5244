//! `ghostport collect`: `softflowd` replays a fixture capture as NetFlow v5,
//! v9 and IPFIX (uni- and bidirectional) to a collector on 127.0.0.1, which
//! must report the same ghost-port endpoints as scanning the capture.
//! softflowd is installed by `.ci/deps --test`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{bin, fixture};
use serde_json::Value;

fn endpoints(report: &Value) -> BTreeSet<(String, String, String, u64)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap_or("").to_owned(),
                f["transport"].as_str().unwrap_or("").to_owned(),
                f["server"]["ip"].as_str().unwrap_or("").to_owned(),
                f["server"]["port"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Starts `ghostport collect` and waits until it listens (its first line on
/// standard error says so), so no datagram is sent before the socket exists.
fn start_collector(args: &[&str]) -> std::process::Child {
    use std::io::BufRead as _;
    let mut child = bin()
        .arg("collect")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start collect");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = std::io::BufReader::new(stderr).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(
        first.contains("collecting"),
        "collect did not start: {first}"
    );
    // keep draining so the collector never blocks on a full pipe
    std::thread::spawn(move || for _ in lines {});
    child
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn collect_replay(capture: &Path, softflowd_args: &[&str]) -> Value {
    let port = free_udp_port();
    let listen = format!("127.0.0.1:{port}");
    let collector = start_collector(&[
        "--listen",
        &listen,
        "--idle",
        "2s",
        "--duration",
        "60s",
        "-F",
        "json",
    ]);
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let tag = format!("{}-{port}", std::process::id());
    let ctl = format!("/tmp/g{port}");
    let mut exporter = Command::new("softflowd")
        .arg("-r")
        .arg(capture)
        .args(["-n", &listen, "-d", "-A", "milli"])
        .arg("-p")
        .arg(tmp.join(format!("softflowd-{tag}.pid")))
        // softflowd 1.1.0 reading a file (-r) waits forever on its control
        // socket when the socket's path is longer than 12 bytes: keep it short
        .arg("-c")
        .arg(&ctl)
        .args(softflowd_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "softflowd could not run ({e}); install the test tools with `bash .ci/deps --test`"
            )
        });
    // softflowd exits once the capture is exported; never wait forever
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(st) = exporter.try_wait().expect("softflowd status") {
            break Some(st);
        }
        if std::time::Instant::now() > deadline {
            let _ = exporter.kill();
            let _ = exporter.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let _ = std::fs::remove_file(&ctl);
    assert!(status.is_some_and(|s| s.success()), "softflowd: {status:?}");
    let done = collector.wait_with_output().expect("collect output");
    assert!(
        done.status.code().is_some_and(|c| c <= 1),
        "collect: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    serde_json::from_slice(&done.stdout).expect("json report")
}

#[test]
fn softflowd_exports_give_the_capture_s_ghost_port_endpoints() {
    for (name, versions) in [
        (
            "demo.pcapng",
            &[
                &["-v", "5"][..],
                &["-v", "9"],
                &["-v", "10"],
                &["-v", "10", "-b"],
            ][..],
        ),
        ("sweep.pcap", &[&["-v", "9"][..], &["-v", "10", "-b"]][..]),
    ] {
        let cap = fixture(name);
        let scan = bin()
            .args(["scan", "--no-config", "-F", "json"])
            .arg(&cap)
            .output()
            .expect("scan");
        let want = endpoints(&serde_json::from_slice(&scan.stdout).expect("scan json"));
        assert!(!want.is_empty(), "{name}");
        for args in versions {
            let got = collect_replay(&cap, args);
            assert_eq!(endpoints(&got), want, "{name} softflowd {args:?}");
            let rec = &got["summary"]["records"];
            assert!(
                rec["flows"].as_u64().unwrap_or(0) > 0,
                "{name} {args:?}: {rec}"
            );
            assert_eq!(got["inputs"][0]["format"], "netflow");
        }
    }
}

#[test]
fn garbage_datagrams_are_counted_not_fatal() {
    let port = free_udp_port();
    let listen = format!("127.0.0.1:{port}");
    let collector = start_collector(&[
        "--listen",
        &listen,
        "--count",
        "3",
        "--duration",
        "30s",
        "-F",
        "json",
    ]);
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("sender");
    for d in [
        &b"\x00\x09\xff\xff"[..],
        b"\x00\x0a\x00\x05garbage",
        b"hello",
    ] {
        s.send_to(d, &listen).expect("send");
    }
    let done = collector.wait_with_output().expect("output");
    assert_eq!(done.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&done.stdout).expect("json");
    assert_eq!(v["summary"]["records"]["lines"], 3);
    assert_eq!(v["summary"]["records"]["skipped"]["malformed_record"], 3);
}
