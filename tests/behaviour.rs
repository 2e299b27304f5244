//! Payload identification and behaviour detectors on labelled captures
//! (fixtures/README.md), including look-alikes that must not trigger.

mod common;
use common::*;

fn findings(name: &str) -> Vec<serde_json::Value> {
    let (_, r) = scan_json(&[fixture(name)], &[]);
    r["findings"].as_array().unwrap().clone()
}

fn behaviour_kinds(f: &serde_json::Value) -> Vec<String> {
    f["behaviours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["kind"].as_str().unwrap().to_string())
        .collect()
}

fn attack_ids(f: &serde_json::Value) -> Vec<String> {
    f["attack"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn ssh_on_386_is_named() {
    let f = findings("ssh-on-386.pcap");
    assert_eq!(f.len(), 1);
    let p = &f[0]["protocols"][0];
    assert_eq!(p["protocol"], "ssh");
    assert!(
        p["summary"]
            .as_str()
            .unwrap()
            .contains("SSH-2.0-OpenSSH_9.6")
    );
    assert!(
        f[0]["title"]
            .as_str()
            .unwrap()
            .contains("SSH-2.0-OpenSSH_9.6")
    );
    assert!(attack_ids(&f[0]).contains(&"T1573".to_string()));
    assert!(
        f[0]["severity"]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("SSH"))
    );
}

#[test]
fn tls_on_384_names_the_sni() {
    let f = findings("tls-on-384.pcap");
    assert_eq!(f.len(), 1);
    let p = &f[0]["protocols"][0];
    assert_eq!(p["protocol"], "tls");
    let fields = p["fields"].as_array().unwrap();
    assert!(
        fields
            .iter()
            .any(|kv| kv[0] == "tls.sni" && kv[1] == "c2.evil.example"),
        "{fields:?}"
    );
    assert!(fields.iter().any(|kv| kv[0] == "tls.ja4"));
    assert!(f[0]["server"]["port"] == 384);
}

#[test]
fn sweep_of_50_ghost_ports() {
    let f = findings("sweep.pcap");
    let sweep: Vec<_> = f.iter().filter(|f| f["kind"] == "sweep").collect();
    assert_eq!(sweep.len(), 1);
    let ev = &sweep[0]["behaviours"][0]["evidence"];
    assert_eq!(ev["distinct_ports"], 50);
    assert_eq!(ev["answered_targets"], 3);
    assert!(attack_ids(sweep[0]).contains(&"T1046".to_string()));
    // The 47 unanswered probes are folded into the sweep; the 3 ports that
    // answered stay separate findings (a server is present there).
    let answered: Vec<_> = f.iter().filter(|f| f["kind"] == "ghost-port").collect();
    assert_eq!(answered.len(), 3);
    assert!(
        answered
            .iter()
            .all(|f| behaviour_kinds(f).contains(&"server-present".to_string()))
    );
}

#[test]
fn beacon_every_60_seconds() {
    let f = findings("beacon.pcap");
    assert_eq!(f.len(), 1);
    let b = f[0]["behaviours"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == "beacon")
        .expect("beacon");
    let iv = b["evidence"]["interval_s"].as_f64().unwrap();
    assert!((59.0..=61.5).contains(&iv), "interval {iv}");
    assert_eq!(b["evidence"]["connections"], 12);
    assert!(
        f[0]["severity"]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("beaconing"))
    );
}

#[test]
fn lookalikes_claim_nothing() {
    let f = findings("lookalikes.pcap");
    for x in &f {
        let kinds = behaviour_kinds(x);
        assert!(!kinds.contains(&"beacon".to_string()), "{x:#}");
        assert!(x["kind"] != "sweep", "{x:#}");
        for p in x["protocols"].as_array().unwrap() {
            assert_ne!(
                p["protocol"], "ssh",
                "random bytes starting with SSH are not SSH"
            );
        }
        assert_ne!(x["server"]["port"], 443, "ordinary HTTPS is not a finding");
    }
}

#[test]
fn ghost_source_port_towards_http() {
    let f = findings("evasion-srcport.pcap");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["kind"], "ghost-source-port");
    assert_eq!(f[0]["server"]["port"], 386);
}

/// A well-known client source port (53, 123, 5353 over UDP; 443 on a TCP
/// session caught mid-stream) does not demote the ghost-port server.
#[test]
fn wellknown_client_source_port_does_not_demote_a_ghost_server() {
    let f = findings("evasion-wellknown-srcport.pcap");
    assert_eq!(f.len(), 2, "{f:#?}");
    for x in &f {
        assert_eq!(x["kind"], "ghost-port", "{x:#}");
        assert_ne!(x["severity"]["level"], "low", "{x:#}");
    }
    let udp = f.iter().find(|x| x["server"]["port"] == 384).unwrap();
    assert_eq!(udp["clients_total"], 3);
    assert_eq!(udp["totals"]["answered"], 3);
    let tcp = f.iter().find(|x| x["server"]["port"] == 386).unwrap();
    assert_eq!(tcp["flows"][0]["client"]["port"], 443);
    assert_eq!(tcp["protocols"][0]["protocol"], "ssh");
}

/// Ghost traffic inside every supported tunnel or encapsulation is found,
/// as the inner flow, with the outer addresses kept as context.
#[test]
fn ghost_traffic_inside_tunnels_is_found() {
    let (_, r) = scan_json(&[fixture("tunnels.pcap")], &[]);
    let p = &r["summary"]["packets"];
    assert_eq!(p["frames"], 143);
    assert_eq!(p["decoded"], 143, "{p:#}");
    let f = r["findings"].as_array().unwrap();
    assert_eq!(f.len(), 13);
    let mut kinds = Vec::new();
    for x in f {
        assert_eq!(x["server"]["port"], 386, "{x:#}");
        assert_eq!(x["severity"]["level"], "critical", "{x:#}");
        assert_eq!(x["protocols"][0]["protocol"], "ssh");
        let t = &x["flows"][0]["tunnel"];
        kinds.push(t["kind"].as_str().unwrap().to_string());
        if !matches!(t["kind"].as_str(), Some("mpls" | "pppoe" | "llc-snap")) {
            assert!(t["outer_src"].is_string(), "{t}");
        }
    }
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "4in6", "6in4", "erspan", "geneve", "gre", "ipip", "llc-snap", "mpls", "pppoe",
            "teredo", "vxlan"
        ]
    );
    assert_eq!(p["tunnelled"]["erspan"], 22);
    assert_eq!(p["tunnelled"]["gre"], 22);
}

#[test]
fn icmp_unreachable_is_attributed_and_low() {
    let (_, r) = scan_json(&[fixture("icmp-unreachable.pcap")], &[]);
    assert_eq!(r["summary"]["packets"]["icmp_errors"], 2);
    for f in r["findings"].as_array().unwrap() {
        assert_eq!(f["totals"]["icmp_errors"], 1, "{f:#}");
        assert!(behaviour_kinds(f).contains(&"blocked".to_string()));
        assert!(f["severity"]["score"].as_u64().unwrap() < 20);
    }
}

#[test]
fn fragments_take_ports_from_the_first() {
    let (_, r) = scan_json(&[fixture("fragments.pcap")], &[]);
    assert_eq!(
        finding_ports(&r),
        vec![(384, "udp".into()), (386, "udp".into())]
    );
    assert_eq!(r["summary"]["packets"]["skipped"]["fragment_not_first"], 4);
}

#[test]
fn truncated_packets_keep_their_headers() {
    let (_, r) = scan_json(&[fixture("truncated.pcap")], &[]);
    let p = &r["summary"]["packets"];
    assert_eq!(p["skipped"]["truncated_ip_header"], 1);
    assert_eq!(p["skipped"]["truncated_transport_header"], 1);
    assert!(p["truncated_frames"].as_u64().unwrap() >= 3);
    assert_eq!(r["findings"].as_array().unwrap().len(), 2);
}

/// Issue 19: the sweep's Wireshark filter must be accepted by tshark (set
/// members need commas in Wireshark 4.x) and select the sweep's packets.
/// tshark is installed by `.ci/deps --test`.
#[test]
fn sweep_wireshark_filter_runs_in_tshark() {
    let (_, r) = common::scan_json(&[common::fixture("sweep.pcap")], &[]);
    let sweep = r["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["kind"] == "sweep")
        .expect("a sweep finding")
        .clone();
    let filter = sweep["filter"]["wireshark"]
        .as_str()
        .expect("filter")
        .to_string();
    assert!(filter.contains("tcp.port in {"), "{filter}");
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(common::fixture("sweep.pcap"))
        .args(["-Y", &filter])
        .output()
        .unwrap_or_else(|e| {
            panic!("tshark could not run ({e}); install the test tools with `bash .ci/deps --test`")
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tshark rejected {filter}: {stderr}");
    let lines = String::from_utf8_lossy(&out.stdout).lines().count();
    // 50 SYNs, 44 RST/ACKs, 3 SYN-ACKs and 3 client RSTs (fixtures/README.md).
    assert_eq!(lines, 100, "{filter}");
}
