//! Flow logs as input: a capture's flows written out as Zeek conn.log (TSV
//! and JSON, plain and gzip), Suricata EVE `flow` and `netflow` events and
//! AWS VPC Flow Logs give the same ghost-port endpoints as scanning the
//! capture itself.

mod common;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use common::{bin, fixture};
use serde_json::Value;

fn scan_json(inputs: &[&Path], extra: &[&str]) -> Value {
    let out = bin()
        .arg("scan")
        .args(inputs)
        .args(["-F", "json", "--no-config"])
        .args(extra)
        .output()
        .expect("run");
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json report")
}

fn endpoints(report: &Value) -> BTreeSet<(String, String, String, u64)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["kind"] == "ghost-port")
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

fn assert_schema_valid(doc: &Value, what: &str) {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema/report.schema.json"),
        )
        .expect("schema"),
    )
    .expect("schema json");
    let v = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .expect("schema compiles");
    let errors: Vec<String> = v
        .iter_errors(doc)
        .take(5)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {}", errors.join("\n"));
}

fn dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("records-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn secs(ns: i64) -> String {
    format!(
        "{}.{:06}",
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) / 1000
    )
}

fn rfc3339(ns: i64) -> String {
    // UTC, from days (inverse of the civil algorithm)
    let s = ns.div_euclid(1_000_000_000);
    let (days, rem) = (s.div_euclid(86_400), s.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}+0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ns.rem_euclid(1_000_000_000) / 1000
    )
}

/// Zeek's history letters from the flags and payload of each direction.
fn history(f: &Value) -> String {
    let (cf, sf) = (
        f["c2s"]["tcp_flags"].as_u64().unwrap_or(0),
        f["s2c"]["tcp_flags"].as_u64().unwrap_or(0),
    );
    let mut h = String::new();
    if cf & 0x02 != 0 {
        h.push('S');
    }
    if sf & 0x02 != 0 {
        h.push('h');
    }
    if f["c2s"]["payload_bytes"].as_u64().unwrap_or(0) > 0 {
        h.push('D');
    }
    if f["s2c"]["payload_bytes"].as_u64().unwrap_or(0) > 0 {
        h.push('d');
    }
    if cf & 0x01 != 0 {
        h.push('F');
    }
    if sf & 0x01 != 0 {
        h.push('f');
    }
    if cf & 0x04 != 0 {
        h.push('R');
    }
    if sf & 0x04 != 0 {
        h.push('r');
    }
    h
}

struct Logs {
    zeek_tsv: String,
    zeek_json: String,
    eve_flow: String,
    eve_netflow: String,
    vpc: String,
    vpc_custom: String,
}

fn logs_of(report: &Value) -> Logs {
    let mut l = Logs {
        zeek_tsv: "#separator \\x09\n#path\tconn\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n".into(),
        zeek_json: String::new(),
        eve_flow: String::new(),
        eve_netflow: String::new(),
        vpc: "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n".into(),
        vpc_custom: "version srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags flow-direction\n".into(),
    };
    for (i, f) in report["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .enumerate()
    {
        let (t, c, s) = (
            f["transport"].as_str().expect("t"),
            &f["client"],
            &f["server"],
        );
        let (first, last) = (
            f["first_ts"].as_i64().expect("ts"),
            f["last_ts"].as_i64().expect("ts"),
        );
        let n = |d: &str, k: &str| f[d][k].as_u64().unwrap_or(0);
        let dur = (last - first) as f64 / 1e9;
        l.zeek_tsv.push_str(&format!(
            "{}\tC{i}\t{}\t{}\t{}\t{}\t{t}\t-\t{dur:.6}\t{}\t{}\tSF\t-\t-\t0\t{}\t{}\t{}\t{}\t{}\t-\n",
            secs(first),
            c["ip"].as_str().unwrap_or(""),
            c["port"],
            s["ip"].as_str().unwrap_or(""),
            s["port"],
            n("c2s", "payload_bytes"),
            n("s2c", "payload_bytes"),
            history(f),
            n("c2s", "packets"),
            n("c2s", "bytes"),
            n("s2c", "packets"),
            n("s2c", "bytes"),
        ));
        l.zeek_json.push_str(&format!(
            "{}\n",
            serde_json::json!({
                "ts": secs(first).parse::<f64>().unwrap_or(0.0), "uid": format!("C{i}"),
                "id.orig_h": c["ip"], "id.orig_p": c["port"], "id.resp_h": s["ip"], "id.resp_p": s["port"],
                "proto": t, "duration": dur, "orig_bytes": n("c2s", "payload_bytes"),
                "resp_bytes": n("s2c", "payload_bytes"), "history": history(f),
                "orig_pkts": n("c2s", "packets"), "orig_ip_bytes": n("c2s", "bytes"),
                "resp_pkts": n("s2c", "packets"), "resp_ip_bytes": n("s2c", "bytes"),
            })
        ));
        let proto = t.to_ascii_uppercase();
        l.eve_flow.push_str(&format!(
            "{}\n",
            serde_json::json!({
                "timestamp": rfc3339(last), "flow_id": i, "event_type": "flow",
                "src_ip": c["ip"], "src_port": c["port"], "dest_ip": s["ip"], "dest_port": s["port"],
                "proto": proto,
                "flow": {"pkts_toserver": n("c2s", "packets"), "pkts_toclient": n("s2c", "packets"),
                         "bytes_toserver": n("c2s", "bytes"), "bytes_toclient": n("s2c", "bytes"),
                         "start": rfc3339(first), "end": rfc3339(last)},
                "tcp": {"tcp_flags_ts": format!("{:02x}", n("c2s", "tcp_flags")),
                        "tcp_flags_tc": format!("{:02x}", n("s2c", "tcp_flags"))},
            })
        ));
        for (d, src, dst) in [("c2s", c, s), ("s2c", s, c)] {
            if n(d, "packets") == 0 {
                continue;
            }
            l.eve_netflow.push_str(&format!(
                "{}\n",
                serde_json::json!({
                    "timestamp": rfc3339(last), "flow_id": i, "event_type": "netflow",
                    "src_ip": src["ip"], "src_port": src["port"], "dest_ip": dst["ip"], "dest_port": dst["port"],
                    "proto": proto,
                    "netflow": {"pkts": n(d, "packets"), "bytes": n(d, "bytes"),
                                "start": rfc3339(first), "end": rfc3339(last)},
                    "tcp": {"tcp_flags": format!("{:02x}", n(d, "tcp_flags"))},
                })
            ));
            l.vpc.push_str(&format!(
                "2 123456789010 eni-0 {} {} {} {} {} {} {} {} {} ACCEPT OK\n",
                src["ip"].as_str().unwrap_or(""),
                dst["ip"].as_str().unwrap_or(""),
                src["port"],
                dst["port"],
                if t == "tcp" { 6 } else { 17 },
                n(d, "packets"),
                ip_bytes(f, d),
                first.div_euclid(1_000_000_000),
                last.div_euclid(1_000_000_000),
            ));
            l.vpc_custom.push_str(&format!(
                "5 {} {} {} {} {} {} {} {} {} ACCEPT OK {} ingress\n",
                src["ip"].as_str().unwrap_or(""),
                dst["ip"].as_str().unwrap_or(""),
                src["port"],
                dst["port"],
                if t == "tcp" { 6 } else { 17 },
                n(d, "packets"),
                ip_bytes(f, d),
                first.div_euclid(1_000_000_000),
                last.div_euclid(1_000_000_000),
                // VPC logs SYN-ACK as 18; other flags as in the TCP header
                n(d, "tcp_flags") & 0x17,
            ));
        }
    }
    l
}

/// IP bytes of a direction: the capture's frame bytes minus the Ethernet
/// header of each packet (the fixtures are Ethernet captures).
fn ip_bytes(f: &Value, d: &str) -> u64 {
    let n = |k: &str| f[d][k].as_u64().unwrap_or(0);
    n("bytes").saturating_sub(14 * n("packets"))
}

fn gzip(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).expect("gz");
    e.finish().expect("gz")
}

#[test]
fn every_flow_log_format_gives_the_capture_s_ghost_port_endpoints() {
    let d = dir();
    for name in [
        "demo.pcapng",
        "ssh-on-386.pcap",
        "tls-on-384.pcap",
        "beacon.pcap",
        "sweep.pcap",
    ] {
        let cap = fixture(name);
        if !cap.exists() {
            continue;
        }
        let report = scan_json(&[&cap], &["--all-flows"]);
        let want = endpoints(&report);
        assert!(
            !want.is_empty(),
            "{name}: no ghost-port findings to compare"
        );
        let logs = logs_of(&report);
        let files: Vec<(String, Vec<u8>)> = vec![
            (
                format!("{name}.conn.log"),
                logs.zeek_tsv.clone().into_bytes(),
            ),
            (
                format!("{name}.conn.json"),
                logs.zeek_json.clone().into_bytes(),
            ),
            (format!("{name}.conn.log.gz"), gzip(&logs.zeek_tsv)),
            (
                format!("{name}.eve.json"),
                logs.eve_flow.clone().into_bytes(),
            ),
            (
                format!("{name}.netflow.json"),
                logs.eve_netflow.clone().into_bytes(),
            ),
            (format!("{name}.vpc.log"), logs.vpc.clone().into_bytes()),
            (
                format!("{name}.vpc5.log"),
                logs.vpc_custom.clone().into_bytes(),
            ),
        ];
        for (file, bytes) in files {
            let p = d.join(&file);
            std::fs::write(&p, bytes).expect("write");
            let got = scan_json(&[&p], &[]);
            assert_eq!(endpoints(&got), want, "{file}");
            assert_schema_valid(&got, &file);
            assert!(
                got["summary"]["records"]["flows"].as_u64().unwrap_or(0) > 0,
                "{file}"
            );
            let input = &got["inputs"][0];
            assert!(input["error"].is_null(), "{file}: {}", input["error"]);
            assert!(
                input["sha256"].as_str().is_some_and(|s| s.len() == 64),
                "{file}"
            );
        }
    }
}

#[test]
fn unknown_text_input_names_the_formats() {
    let p = dir().join("notes.txt");
    std::fs::write(&p, "hello, this is not a flow log\n").expect("write");
    let out = bin()
        .args(["scan", "--no-config", "-F", "json"])
        .arg(&p)
        .output()
        .expect("run");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let err = v["inputs"][0]["error"].as_str().unwrap_or("");
    assert!(
        err.contains("Zeek conn.log") && err.contains("VPC"),
        "{err}"
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
