//! Negotiated ports: a port a control channel announced earlier in the
//! capture (rpcbind, FTP, SIP/SDP, RTSP, TFTP) is expected, not a ghost.
//! The finding stays, explained and scored info; a port on the same host
//! that nothing announced keeps its severity. Built on the generator
//! fixture `negotiated.pcap` (`fixtures/gen/benign.rs`).

mod common;

use common::*;
use serde_json::Value;

fn finding<'a>(r: &'a Value, ip: &str, port: u64, transport: &str) -> &'a Value {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["server"]["ip"] == ip && f["server"]["port"] == port && f["transport"] == transport
        })
        .unwrap_or_else(|| panic!("no finding on {ip}:{port}/{transport}"))
}

#[test]
fn announced_ports_are_explained_at_info() {
    let (_, r) = scan_json(&[fixture("negotiated.pcap")], &[]);
    for (ip, port, t, by, detail) in [
        (
            "198.51.100.111",
            1048,
            "udp",
            "rpcbind",
            "program 100005 (mountd) v3 udp",
        ),
        (
            "198.51.100.21",
            1048,
            "tcp",
            "FTP PASV",
            "passive-mode data port 198.51.100.21:1048",
        ),
        ("192.0.2.10", 1400, "udp", "SIP/SDP", "audio RTP port 1400"),
        (
            "198.51.100.54",
            1234,
            "udp",
            "RTSP",
            "RTP/RTCP server port 1234",
        ),
        (
            "192.0.2.10",
            32773,
            "udp",
            "TFTP",
            "TFTP read request for pxelinux.0",
        ),
    ] {
        let f = finding(&r, ip, port, t);
        let e = &f["explained"];
        assert_eq!(e["by"], "negotiated-port", "{ip}:{port}");
        assert_eq!(e["application"], by, "{ip}:{port}");
        assert_eq!(f["severity"]["level"], "info", "{ip}:{port}");
        let reason = e["reason"].as_str().unwrap();
        assert!(
            reason.starts_with(&format!("port announced by {by} in flow 1:")),
            "{reason}"
        );
        assert!(reason.ends_with(detail), "{reason}");
        // The control flow is named by its Community ID, with its time.
        let cid = e["control"]["community_id"].as_str().unwrap();
        assert!(reason.contains(cid), "{reason}");
        assert!(e["control"]["ts"].as_i64().unwrap() <= f["first_ts"].as_i64().unwrap());
    }
    assert_eq!(r["summary"]["findings_explained"], 5);
    assert_eq!(r["summary"]["negotiated_ports"]["evicted"], 0);
}

#[test]
fn an_unannounced_port_on_the_same_host_stays_high() {
    let (_, r) = scan_json(&[fixture("negotiated.pcap")], &[]);
    let f = finding(&r, "198.51.100.111", 32774, "udp");
    assert!(f.get("explained").is_none());
    assert_eq!(f["severity"]["level"], "high");
}

#[test]
fn one_and_two_thread_scans_agree() {
    let (_, a) = scan_json(
        &[fixture("negotiated.pcap")],
        &["--threads", "1", "--no-hash"],
    );
    let (_, b) = scan_json(
        &[fixture("negotiated.pcap")],
        &["--threads", "2", "--no-hash"],
    );
    assert_eq!(a["findings"], b["findings"]);
    assert_eq!(
        a["summary"]["negotiated_ports"],
        b["summary"]["negotiated_ports"]
    );
}

/// Real captures (nDPI's test suite, LGPL: read from the shared corpus,
/// skipped when it is absent): NFS mountd on the port rpcbind gave, RTP on
/// the port SIP/SDP offered, a TFTP transfer.
#[test]
fn real_negotiations_from_ndpi_captures() {
    let dir = std::env::var_os("GHOSTPORT_NDPI_PCAPS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pcaps-dev/ndpi")
        });
    if !dir.join("result").is_dir() {
        eprintln!("skipping: nDPI captures not found at {}", dir.display());
        return;
    }
    for (file, port, by) in [
        ("nfsv2.pcap", 1048, "rpcbind"),
        ("sip.pcap", 30001, "SIP/SDP"),
        ("tftp.pcap", 3445, "TFTP"),
    ] {
        let (_, r) = scan_json(&[dir.join(file)], &["--no-hash"]);
        let f = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["server"]["port"] == port)
            .unwrap_or_else(|| panic!("{file}: no finding on port {port}"));
        assert_eq!(f["explained"]["application"], by, "{file}");
        assert_eq!(f["severity"]["level"], "info", "{file}");
    }
}
