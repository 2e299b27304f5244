//! Attacker-controlled bytes (HTTP Host, request line, banners, raw
//! payload) carrying ANSI escapes and control characters never reach the
//! terminal raw: the text report holds no ESC/BEL/CR except ghostport's own
//! colour codes with `--color always`.

mod common;
mod pcapgen;

use std::net::Ipv4Addr;

use pcapgen::*;

fn hostile_capture(path: &std::path::Path) {
    let f = std::fs::File::create(path).unwrap();
    let mut p = Pcap::new(std::io::BufWriter::new(f)).unwrap();
    let client = Ipv4Addr::new(192, 0, 2, 10);
    let t0 = 1_705_312_800_000_000u64;
    // HTTP on 386/tcp: escapes in Host, User-Agent and the Server header.
    session(
        &mut p,
        t0,
        (client, 49152),
        (Ipv4Addr::new(203, 0, 113, 86), 386),
        b"GET /x HTTP/1.1\r\nHost: evil\x1b]0;pwned\x07.example\r\nUser-Agent: \x1b[31mred\x1b[0m\x08\x08\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nServer: srv\x1b[5m\x9b31m\r\n\r\n",
    )
    .unwrap();
    // SSH banner on 384/tcp with an OSC sequence and a carriage return.
    session(
        &mut p,
        t0 + 1_000_000,
        (client, 49153),
        (Ipv4Addr::new(203, 0, 113, 84), 384),
        b"SSH-2.0-evil\x1b]52;c;Zm9v\x07\rclean\r\n",
        b"SSH-2.0-OpenSSH_9.6\x1b[8m\r\n",
    )
    .unwrap();
    // Raw text on 384/udp.
    let mut b = Vec::new();
    udp(
        (client, 51000),
        (Ipv4Addr::new(203, 0, 113, 84), 384),
        b"hello \x1b[1;31mterminal\x1b[0m \x1bP+q\x1b\\ bell\x07\x07",
        &mut b,
    );
    p.record(t0 + 2_000_000, &b).unwrap();
    p.into_inner().into_inner().unwrap();
}

/// Removes the SGR colour sequences ghostport itself writes.
fn strip_sgr(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\x1b[") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 2..];
        let n = tail
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap_or(tail.len());
        if tail[n..].starts_with('m') {
            rest = &tail[n + 1..];
        } else {
            out.push_str("\x1b[");
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

fn assert_no_controls(s: &str) {
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let around: String = chars[i.saturating_sub(60)..(i + 20).min(chars.len())]
            .iter()
            .collect();
        assert!(
            c == '\n' || !(c.is_control() || matches!(c, '\u{202a}'..='\u{202e}')),
            "control char {c:?} at {i}: ...{around:?}..."
        );
    }
}

#[test]
fn escapes_in_captured_text_are_neutralised() {
    let dir = std::env::temp_dir().join(format!("gp-term-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cap = dir.join("hostile.pcap");
    hostile_capture(&cap);
    let plain = common::run(&["scan", "-q", "--color", "never", cap.to_str().unwrap()]);
    assert_eq!(plain.code, 1, "{}", plain.stderr);
    // The hostile strings did reach the report (escaped), so the check below means something.
    assert!(plain.stdout.contains("evil"), "{}", plain.stdout);
    assert!(plain.stdout.contains("pwned"), "{}", plain.stdout);
    assert!(
        plain.stdout.contains("x1b") || plain.stdout.contains("u{1b}"),
        "{}",
        plain.stdout
    );
    assert_no_controls(&plain.stdout);

    let color = common::run(&["scan", "-q", "--color", "always", cap.to_str().unwrap()]);
    assert_eq!(color.code, 1);
    assert!(color.stdout.contains("\x1b["), "colour codes expected");
    let stripped = strip_sgr(&color.stdout);
    assert_no_controls(&stripped);
    assert_eq!(stripped, plain.stdout, "only colour codes differ");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// File and interface names are attacker-controlled too (a capture handed
/// over as `\x1b]0;…\x07.pcap`, a directory of them): no message on
/// standard error carries their escape, control or bidi characters raw.
#[test]
fn file_and_interface_names_in_messages_are_escaped() {
    let dir = std::env::temp_dir().join(format!("gp-names-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let evil = "x\u{1b}]0;pwned\u{7}\u{202e}gpj.\r";
    // A corrupt input: the error names it (exit 2, per-input error line).
    let bad = dir.join(format!("{evil}.pcap"));
    std::fs::write(&bad, b"not a capture at all").unwrap();
    // A missing input, an existing output, an unknown interface.
    let missing = dir.join(format!("{evil}-missing.pcap"));
    let exists = dir.join(format!("{evil}.json"));
    std::fs::write(&exists, b"{}").unwrap();
    let demo = common::fixture("demo.pcapng");
    let runs: Vec<Vec<String>> = vec![
        vec!["scan".into(), "-q".into(), bad.display().to_string()],
        vec!["scan".into(), "-q".into(), missing.display().to_string()],
        vec![
            "scan".into(),
            "-q".into(),
            "-o".into(),
            exists.display().to_string(),
            demo.display().to_string(),
        ],
        vec![
            "live".into(),
            "-i".into(),
            evil.into(),
            "--count".into(),
            "1".into(),
        ],
    ];
    for args in runs {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = common::run(&a);
        assert_eq!(r.code, 2, "{a:?}: {}", r.stderr);
        for bad_char in ['\u{1b}', '\u{7}', '\u{202e}', '\r'] {
            assert!(
                !r.stderr.contains(bad_char),
                "{a:?}: raw {:?} on stderr: {:?}",
                bad_char,
                r.stderr
            );
        }
        assert!(r.stderr.contains("\\u{1b}"), "{a:?}: {:?}", r.stderr);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
