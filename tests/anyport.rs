//! The attacker who picks any port: unregistered-service and port-mismatch
//! findings on synthetic look-alikes of real malware traffic
//! (fixtures/gen, "any-port look-alikes"), `--kinds`, counts per kind.

mod common;
use common::*;

fn findings(name: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let (_, r) = scan_json(&[fixture(name)], extra);
    r["findings"].as_array().unwrap().clone()
}

fn reasons(f: &serde_json::Value) -> String {
    f["severity"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The one finding on `port`, which must be of `kind` and medium or worse;
/// its severity reasons must name every rule in `rules`.
fn medium_or_worse(file: &str, port: u64, kind: &str, rules: &[&str]) {
    let f = findings(file, &[]);
    let on: Vec<_> = f.iter().filter(|x| x["server"]["port"] == port).collect();
    assert_eq!(on.len(), 1, "{file}: {f:#?}");
    let x = on[0];
    assert_eq!(x["kind"], kind, "{file}: {x:#}");
    let score = x["severity"]["score"].as_u64().unwrap();
    assert!(score >= 40, "{file}: score {score}\n{}", reasons(x));
    let r = reasons(x);
    for rule in rules {
        assert!(
            r.contains(&format!("[{rule}]")),
            "{file}: no [{rule}] in\n{r}"
        );
    }
}

#[test]
fn njrat_on_15145() {
    medium_or_worse(
        "anyport-njrat-15145.pcap",
        15145,
        "unregistered-service",
        &["unregistered-data-both-ways", "check-in"],
    );
}

#[test]
fn asyncrat_tls_on_7084_and_4782() {
    for (file, port) in [
        ("anyport-asyncrat-7084.pcap", 7084),
        ("anyport-asyncrat-4782.pcap", 4782),
    ] {
        medium_or_worse(
            file,
            port,
            "unregistered-service",
            &["well-known-protocol-unregistered", "tls-no-sni"],
        );
    }
}

#[test]
fn strrat_one_way_on_8219() {
    medium_or_worse(
        "anyport-strrat-8219.pcap",
        8219,
        "unregistered-service",
        &["unregistered-one-way", "check-in"],
    );
}

#[test]
fn monero_on_18080() {
    medium_or_worse(
        "anyport-monero-18080.pcap",
        18080,
        "unregistered-service",
        &["monero-p2p"],
    );
}

#[test]
fn attacker_ftp_on_8884() {
    medium_or_worse(
        "anyport-ftp-8884.pcap",
        8884,
        "unregistered-service",
        &["well-known-protocol-unregistered", "executable"],
    );
}

#[test]
fn tls_c2_on_8888_is_a_port_mismatch() {
    medium_or_worse(
        "anyport-tls-8888.pcap",
        8888,
        "port-mismatch",
        &["port-mismatch", "tls-no-sni"],
    );
    let f = findings("anyport-tls-8888.pcap", &[]);
    let b: Vec<String> = f[0]["behaviours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["detail"].as_str().unwrap().to_string())
        .collect();
    assert!(
        b.iter().any(|d| d
            .starts_with("registry: ddi-tcp-1 (implemented for HTTP); traffic: TLS without SNI")),
        "{b:?}"
    );
}

#[test]
fn kinds_selects_and_reports_count_each_kind() {
    let files = [
        fixture("anyport-tls-8888.pcap"),
        fixture("anyport-njrat-15145.pcap"),
        fixture("ssh-on-386.pcap"),
    ];
    let (_, all) = scan_json(&files, &[]);
    let by = &all["summary"]["findings_by_kind"];
    assert_eq!(by["ghost-port"], 1, "{by}");
    assert_eq!(by["unregistered-service"], 1, "{by}");
    assert_eq!(by["port-mismatch"], 1, "{by}");
    // The ghost port stays the headline: it ranks first.
    assert_eq!(all["findings"][0]["kind"], "ghost-port");

    let (_, only) = scan_json(&files, &["--kinds", "port-mismatch"]);
    let kinds: Vec<&str> = only["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["port-mismatch"]);

    let (_, two) = scan_json(&files, &["--kinds", "ghost-port,unregistered-service"]);
    assert_eq!(two["findings"].as_array().unwrap().len(), 2);

    let r = run(&["scan", "--kinds", "ghost", &files[0].display().to_string()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("unknown finding kind 'ghost'"),
        "{}",
        r.stderr
    );

    let text = run(&[
        "scan",
        "-q",
        &files[0].display().to_string(),
        &files[2].display().to_string(),
    ]);
    assert!(
        text.stdout
            .contains("by kind: 1 ghost-port, 1 port-mismatch"),
        "{}",
        text.stdout
    );
}

#[test]
fn ordinary_traffic_on_implemented_ports_is_no_finding() {
    // HTTPS on 443, HTTP on 80, DNS on 53, SSH on 22, NTP, MySQL: no mismatch.
    let f = findings("normal.pcap", &[]);
    assert!(f.is_empty(), "{f:#?}");
}
