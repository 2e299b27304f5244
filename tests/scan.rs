//! `ghostport scan` end to end on the generated fixtures (see fixtures/README.md).

mod common;
use common::*;

#[test]
fn demo_reports_exactly_the_two_ghost_ports() {
    let (code, r) = scan_json(&[fixture("demo.pcapng")], &[]);
    assert_eq!(code, 1, "findings → exit 1");
    assert_eq!(
        finding_ports(&r),
        vec![(384, "udp".into()), (386, "tcp".into())]
    );
    let f386 = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["server"]["port"] == 386)
        .unwrap();
    assert_eq!(f386["verdict"]["class"], "ghost");
    assert_eq!(f386["verdict"]["record"]["service_name"], "asa");
    assert!(f386["totals"]["answered"].as_u64().unwrap() >= 1);
    assert!(!f386["verdict"]["reasons"].as_array().unwrap().is_empty());
    let f384 = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["server"]["port"] == 384)
        .unwrap();
    assert_eq!(f384["verdict"]["record"]["service_name"], "arns");
    assert_eq!(f384["totals"]["answered"], 0);
    // answered + data ranks above an unanswered attempt
    assert!(f386["severity"]["score"].as_u64() > f384["severity"]["score"].as_u64());
    assert_eq!(r["meta"]["complete"], true);
    assert!(
        r["meta"]["data"]["registry"]
            .as_str()
            .unwrap()
            .contains("2026-02-25")
    );
    assert_eq!(r["inputs"][0]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn normal_traffic_has_no_findings() {
    let (code, r) = scan_json(&[fixture("normal.pcap")], &[]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["findings"].as_array().unwrap().len(), 0);
    assert!(r["summary"]["flows"]["total"].as_u64().unwrap() > 0);
}

#[test]
fn text_output_names_the_finding() {
    let r = run(&["scan", "-q", fixture("demo.pcapng").to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("386/tcp (asa)"), "{}", r.stdout);
    assert!(r.stdout.contains("384/udp (arns)"), "{}", r.stdout);
    assert!(!r.stdout.contains('\x1b'), "no colour when piped");
}

#[test]
fn every_link_type_decodes() {
    for name in [
        "link-ethernet.pcap",
        "link-vlan.pcap",
        "link-qinq.pcap",
        "link-sll.pcap",
        "link-sll2.pcap",
        "link-raw.pcap",
        "link-ipv4.pcap",
        "link-ipv6.pcap",
        "link-null.pcap",
        "link-loop.pcap",
    ] {
        let (code, r) = scan_json(&[fixture(name)], &[]);
        assert_eq!(code, 1, "{name}: {r:#}");
        assert!(
            finding_ports(&r).contains(&(386, "tcp".into())),
            "{name}: {:?}",
            finding_ports(&r)
        );
        assert_eq!(r["summary"]["packets"]["malformed"], 0, "{name}");
        assert!(
            r["summary"]["flows"]["udp"].as_u64().unwrap() >= 1,
            "{name}: DNS flow"
        );
    }
}

#[test]
fn unsupported_link_type_is_a_clear_error() {
    let r = run(&[
        "scan",
        "-q",
        fixture("link-unsupported.pcap").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("unsupported link type 147"),
        "{}",
        r.stderr
    );
}

#[test]
fn several_files_are_one_analysis() {
    let (code, r) = scan_json(&[fixture("demo.pcapng"), fixture("normal.pcap")], &[]);
    assert_eq!(code, 1);
    assert_eq!(r["inputs"].as_array().unwrap().len(), 2);
    assert_eq!(finding_ports(&r).len(), 2);
}

#[test]
fn report_is_deterministic_apart_from_analysis_time() {
    let strip = |mut v: serde_json::Value| {
        for k in [
            "analysis_start",
            "analysis_end",
            "elapsed_s",
            "peak_rss_bytes",
        ] {
            v["meta"][k] = serde_json::Value::Null;
        }
        v
    };
    let a = strip(
        scan_json(
            &[fixture("demo.pcapng"), fixture("sweep.pcap")],
            &["--all-flows"],
        )
        .1,
    );
    let b = strip(
        scan_json(
            &[fixture("demo.pcapng"), fixture("sweep.pcap")],
            &["--all-flows"],
        )
        .1,
    );
    assert_eq!(a, b);
}

#[test]
fn allow_rule_suppresses_and_counts() {
    let (code, r) = scan_json(&[fixture("demo.pcapng")], &["--allow", "386/tcp"]);
    assert_eq!(code, 1);
    assert_eq!(finding_ports(&r), vec![(384, "udp".into())]);
    let sup = &r["summary"]["suppressed"][0];
    assert_eq!(sup["findings"], 1);
    assert!(sup["rule"].as_str().unwrap().contains("386"));
}

#[test]
fn deny_rule_makes_a_port_ghost() {
    let (code, r) = scan_json(&[fixture("normal.pcap")], &["--deny", "3306/tcp"]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(finding_ports(&r), vec![(3306, "tcp".into())]);
}

#[test]
fn output_file_is_not_overwritten_without_force() {
    let dir = std::env::temp_dir().join(format!("gp-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("r.json");
    let demo = fixture("demo.pcapng");
    let args = [
        "scan",
        "-q",
        "-F",
        "json",
        "-o",
        out.to_str().unwrap(),
        demo.to_str().unwrap(),
    ];
    assert_eq!(run(&args).code, 1);
    let r = run(&args);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    let mut forced = args.to_vec();
    forced.insert(1, "--force");
    assert_eq!(run(&forced).code, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
