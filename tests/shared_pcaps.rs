//! Every real capture in the shared corpus is read without a panic, and
//! ghostport's packet and TCP/UDP flow counts agree with tshark's
//! (tests/golden/tshark-counts.tsv, made by tests/golden/make-tshark-counts.sh).
//!
//! Differences that are right by design (docs/accuracy.md):
//! * ghostport starts a new TCP flow when a closed connection's 4-tuple is
//!   reused by a new SYN; tshark keeps one conversation. The test subtracts
//!   `flow_table.reused`.
//! * Idle timeouts split flows; the test runs with very long timeouts.
//! * CAPWAP is not decoded (GRE, VXLAN, Geneve, Teredo, IP-in-IP, MPLS,
//!   PPPoE and LLC/SNAP are): the inner DHCP flow tshark counts there is not
//!   a flow for ghostport.
//! * A corrupt file where tshark reads one more frame than libpcap and
//!   ghostport, and a link type (182) neither tshark nor ghostport decodes.

mod common;
use common::*;

/// file → (packets, tcp, udp) that ghostport reports instead of tshark's, with the reason.
const BY_DESIGN: &[(&str, (u64, u64, u64), &str)] = &[
    (
        "ndpi__capwap.pcap",
        (422, 0, 5),
        "DHCP inside the CAPWAP tunnel not decoded",
    ),
    (
        "suricata__fuzz-6875.pcap",
        (1, 0, 0),
        "corrupt record: reading stops where libpcap stops",
    ),
    (
        "tcpdump__kday6.pcap",
        (1, 0, 0),
        "link type 182 unsupported: error after the first frame",
    ),
];

#[test]
fn counts_agree_with_tshark() {
    let Some(dir) = shared_pcaps() else { return };
    let golden = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/tshark-counts.tsv"),
    )
    .unwrap();
    let mut checked = 0;
    for line in golden
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("file\t"))
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, want) = (
            cols[0],
            (
                cols[1].parse::<u64>().unwrap(),
                cols[2].parse().unwrap(),
                cols[3].parse().unwrap(),
            ),
        );
        let path = dir.join(file);
        if !path.exists() {
            eprintln!("skipping {file}: not in {}", dir.display());
            continue;
        }
        let (code, r) = scan_json(
            &[path],
            &["--tcp-timeout", "100000000", "--udp-timeout", "100000000"],
        );
        assert!(code <= 2, "{file}: exit {code}");
        let s = &r["summary"];
        let got = (
            s["packets"]["frames"].as_u64().unwrap(),
            s["flows"]["tcp"].as_u64().unwrap() - s["flow_table"]["reused"].as_u64().unwrap(),
            s["flows"]["udp"].as_u64().unwrap(),
        );
        let want = BY_DESIGN
            .iter()
            .find(|(f, _, _)| *f == file)
            .map(|(_, w, _)| *w)
            .unwrap_or(want);
        assert_eq!(
            got, want,
            "{file}: (packets, tcp flows, udp flows) ghostport vs tshark"
        );
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} captures checked");
}

#[test]
fn every_shared_capture_gives_a_report_or_a_clear_error() {
    let Some(dir) = shared_pcaps() else { return };
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    names.sort();
    for p in names
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e != "tsv"))
    {
        let (code, r) = scan_json(std::slice::from_ref(p), &[]);
        assert!(code <= 2, "{}: exit {code}", p.display());
        assert_eq!(
            r["meta"]["complete"] == true,
            code != 2,
            "{}: complete flag vs exit {code}",
            p.display()
        );
    }
}
