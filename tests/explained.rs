//! Explained is not hidden: benign applications on ghost ports keep their
//! finding, explained, at low severity, in a collapsed section of the text
//! and HTML reports; dual-use tools are named and scored medium. Built on
//! generator fixtures (`fixtures/gen/benign.rs`).

mod common;

use common::*;
use serde_json::Value;

fn finding<'a>(r: &'a Value, port: u64, transport: &str) -> &'a Value {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["server"]["port"] == port && f["transport"] == transport)
        .unwrap_or_else(|| panic!("no finding on {port}/{transport}"))
}

#[test]
fn benign_applications_are_explained_low_and_dual_use_named_medium() {
    let (code, r) = scan_json(&[fixture("benign-apps.pcap")], &[]);
    assert_eq!(code, 1);
    for (port, app) in [(3480, "STUN"), (8443, "DNSCrypt"), (1400, "TeamSpeak")] {
        let f = finding(&r, port, "udp");
        assert_eq!(f["explained"]["by"], "application", "{port}");
        assert_eq!(f["explained"]["standing"], "benign", "{port}");
        assert_eq!(f["explained"]["application"], app, "{port}");
        assert_eq!(f["severity"]["level"], "low", "{port}");
        let reason = f["explained"]["reason"].as_str().unwrap();
        assert!(
            reason.starts_with(&format!("the traffic is {app}")),
            "{reason}"
        );
    }
    for (port, t, app, technique) in [
        (7071, "tcp", "AnyDesk", "T1219"),
        (1234, "udp", "OpenVPN", "T1572"),
    ] {
        let f = finding(&r, port, t);
        assert_eq!(f["explained"]["standing"], "dual-use");
        assert_eq!(f["explained"]["application"], app);
        assert_eq!(f["severity"]["level"], "medium", "{app}");
        assert!(f["title"].as_str().unwrap().contains(app), "{}", f["title"]);
        let tags: Vec<&str> = f["attack"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        assert!(tags.contains(&technique), "{app}: {tags:?}");
    }
    // Dual-use first, explained last.
    let levels: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["severity"]["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["medium", "medium", "low", "low", "low"]);
}

#[test]
fn text_and_html_collapse_the_explained_findings() {
    let r = run(&["scan", "-q", fixture("benign-apps.pcap").to_str().unwrap()]);
    let out = &r.stdout;
    let (main, section) = out
        .split_once("3 explained finding(s)")
        .expect("explained section");
    assert!(main.contains("GP-0001") && main.contains("GP-0002"));
    assert!(
        !main.contains("GP-0003"),
        "explained finding in the main list"
    );
    for id in ["GP-0003", "GP-0004", "GP-0005"] {
        assert!(section.contains(id), "{id} missing from the section");
    }
    assert!(section.contains("the traffic is STUN"));
    let h = run(&[
        "scan",
        "-q",
        "-F",
        "html",
        fixture("benign-apps.pcap").to_str().unwrap(),
    ]);
    let html = &h.stdout;
    let at = html
        .find("<details id=\"explained\">")
        .expect("collapsed block");
    assert!(html[at..].contains("3 explained findings"));
}

/// A shell protocol on a ghost port is never explained away.
#[test]
fn ssh_on_a_ghost_port_is_not_explained() {
    let (_, r) = scan_json(&[fixture("demo.pcapng")], &[]);
    let f = finding(&r, 386, "tcp");
    assert!(f.get("explained").is_none());
    assert_eq!(f["severity"]["level"], "critical");
}
