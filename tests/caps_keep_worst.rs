//! A cap keeps the worst, never the first (issue: hiding behind decoys):
//! 10 000 spoofed one-datagram "findings" to 384/udp, each from and to a
//! distinct host, fill the findings cap; an SSH session on 386/tcp that
//! comes after them is still reported, in every output format, and the
//! folded decoys are counted per port.

mod common;
mod pcapgen;

use std::net::Ipv4Addr;

fn flood_then_ssh(dir: &std::path::Path) -> std::path::PathBuf {
    let cap = dir.join("decoys.pcap");
    let f = std::fs::File::create(&cap).unwrap();
    let mut p = pcapgen::Pcap::new(std::io::BufWriter::new(f)).unwrap();
    let mut b = Vec::new();
    let t0 = 1_705_312_800_000_000u64;
    for i in 0..10_000u32 {
        let src = Ipv4Addr::from(0x0a00_0000 | i);
        let dst = Ipv4Addr::from(0xac10_0000 | i);
        pcapgen::udp((src, 40000), (dst, 384), b"x", &mut b);
        p.record(t0 + u64::from(i), &b).unwrap();
    }
    pcapgen::session(
        &mut p,
        t0 + 20_000,
        (Ipv4Addr::new(192, 0, 2, 10), 50000),
        (Ipv4Addr::new(203, 0, 113, 86), 386),
        b"SSH-2.0-client\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n",
    )
    .unwrap();
    p.into_inner().into_inner().unwrap();
    cap
}

#[test]
fn a_flood_of_decoys_cannot_push_out_a_critical_finding() {
    let dir = std::env::temp_dir().join(format!("gp-decoys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cap = flood_then_ssh(&dir);
    let (code, r) = common::scan_json(std::slice::from_ref(&cap), &[]);
    assert_eq!(code, 1);
    let findings = r["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 10_000);
    let top = &findings[0];
    assert_eq!(top["server"]["port"], 386, "{top}");
    assert_eq!(top["severity"]["level"], "critical");
    // One decoy made room, and it is counted on its port.
    let s = &r["summary"];
    assert_eq!(s["findings_dropped"], 1);
    let folded = s["findings_folded"].as_array().unwrap();
    assert_eq!(folded.len(), 1);
    assert_eq!(folded[0]["port"], 384);
    assert_eq!(folded[0]["transport"], "udp");
    assert_eq!(folded[0]["findings"], 1);
    assert_eq!(folded[0]["flows"], 1);
    let c = cap.display().to_string();
    for fmt in ["text", "jsonl", "csv", "html"] {
        let out = common::run(&["scan", "-q", "-F", fmt, &c]);
        assert_eq!(out.code, 1, "{fmt}");
        assert!(
            out.stdout.contains("203.0.113.86"),
            "{fmt}: the SSH server is missing"
        );
    }
    let text = common::run(&["scan", &c]).stdout;
    assert!(
        text.contains("[CRITICAL"),
        "{}",
        &text[..text.len().min(2000)]
    );
    assert!(text.contains("384/udp ghost-port: 1 finding(s), 1 flow(s)"));
    let _ = std::fs::remove_dir_all(&dir);
}
