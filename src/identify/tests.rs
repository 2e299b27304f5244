//! Whole-pipeline tests of [`identify`](super::identify): ordering between
//! the two directions, transport gating, serde names, and robustness on
//! random and mutated input.

use super::testutil::{
    ClientHelloSpec, assert_sane, build_client_hello, build_server_hello, pseudo_random,
};
use super::*;
use crate::Transport::{Tcp, Udp};

const ALL: [Protocol; 37] = [
    Protocol::Http,
    Protocol::Tls,
    Protocol::Ssh,
    Protocol::Dns,
    Protocol::Smtp,
    Protocol::Ftp,
    Protocol::Pop3,
    Protocol::Imap,
    Protocol::Irc,
    Protocol::Socks4,
    Protocol::Socks5,
    Protocol::Rdp,
    Protocol::Smb,
    Protocol::Quic,
    Protocol::Bittorrent,
    Protocol::Gnutella,
    Protocol::Telnet,
    Protocol::Stun,
    Protocol::Rtp,
    Protocol::Rtcp,
    Protocol::Dtls,
    Protocol::OpenVpn,
    Protocol::WireGuard,
    Protocol::DnsCrypt,
    Protocol::TeamSpeak,
    Protocol::Steam,
    Protocol::Spotify,
    Protocol::Ldap,
    Protocol::DceRpc,
    Protocol::Kerberos,
    Protocol::Vnc,
    Protocol::AnyDesk,
    Protocol::TeamViewer,
    Protocol::Text,
    Protocol::Binary,
    Protocol::Encrypted,
    Protocol::Empty,
];

fn hello() -> Vec<u8> {
    build_client_hello(&ClientHelloSpec {
        ciphers: vec![0x1301, 0x1302, 0xc02f],
        extensions: vec![0x0000, 0x0010, 0x002b, 0x000d, 0x000a],
        sni: Some(b"c2.evil.example".to_vec()),
        alpn: vec![b"h2".to_vec()],
        supported_versions: vec![0x0304],
        sig_algs: vec![0x0403, 0x0804],
    })
}

/// One positive sample per protocol: (transport, client, server, expected).
fn samples() -> Vec<(Transport, Vec<u8>, Vec<u8>, Protocol)> {
    let quic = {
        let mut v = vec![
            0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x44, 0x9e,
        ];
        v.extend(pseudo_random(5, 100));
        v
    };
    let dns = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x02c2\x04evil\x07example\x00\x00\x10\x00\x01".to_vec();
    let mut dns_tcp = vec![0, u8::try_from(dns.len()).unwrap_or(0)];
    dns_tcp.extend(&dns);
    vec![
        (
            Tcp,
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 OK\r\n".to_vec(),
            Protocol::Http,
        ),
        (
            Tcp,
            hello(),
            build_server_hello(0x1301, Some(0x0304)),
            Protocol::Tls,
        ),
        (
            Tcp,
            b"SSH-2.0-Go\r\n".to_vec(),
            b"SSH-2.0-OpenSSH_9.6\r\n".to_vec(),
            Protocol::Ssh,
        ),
        (Udp, dns.clone(), vec![], Protocol::Dns),
        (Tcp, dns_tcp, vec![], Protocol::Dns),
        (
            Tcp,
            b"EHLO x\r\n".to_vec(),
            b"220 mx ESMTP\r\n".to_vec(),
            Protocol::Smtp,
        ),
        (
            Tcp,
            b"USER ftp\r\n".to_vec(),
            b"220 ProFTPD Server\r\n".to_vec(),
            Protocol::Ftp,
        ),
        (
            Tcp,
            b"USER bob\r\n".to_vec(),
            b"+OK POP3 ready\r\n".to_vec(),
            Protocol::Pop3,
        ),
        (
            Tcp,
            vec![],
            b"* OK IMAP4rev1 ready\r\n".to_vec(),
            Protocol::Imap,
        ),
        (
            Tcp,
            b"NICK a\r\nUSER a 0 * :a\r\n".to_vec(),
            vec![],
            Protocol::Irc,
        ),
        (
            Tcp,
            b"\x04\x01\x00\x50\x01\x02\x03\x04\x00".to_vec(),
            vec![],
            Protocol::Socks4,
        ),
        (
            Tcp,
            b"\x05\x01\x00".to_vec(),
            b"\x05\x00".to_vec(),
            Protocol::Socks5,
        ),
        (
            Tcp,
            b"\x03\x00\x00\x13\x0e\xe0\x00\x00\x00\x00\x00\x01\x00\x08\x00\x03\x00\x00\x00"
                .to_vec(),
            vec![],
            Protocol::Rdp,
        ),
        (
            Tcp,
            b"\x00\x00\x00\x40\xfeSMB\x40\x00".to_vec(),
            vec![],
            Protocol::Smb,
        ),
        (Udp, quic, vec![], Protocol::Quic),
        (
            Tcp,
            b"\x13BitTorrent protocol\x00\x00\x00\x00\x00\x00\x00\x00".to_vec(),
            vec![],
            Protocol::Bittorrent,
        ),
        (
            Tcp,
            vec![],
            b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23".to_vec(),
            Protocol::Telnet,
        ),
        (
            Tcp,
            b"GNUTELLA CONNECT/0.6\r\nUser-Agent: LimeWire\r\n".to_vec(),
            vec![],
            Protocol::Gnutella,
        ),
        (Udp, stun_sample(), vec![], Protocol::Stun),
        (Tcp, stun_sample(), vec![], Protocol::Stun),
        (Udp, rtp_sample(), vec![], Protocol::Rtp),
        (
            Udp,
            [&[0x81u8, 201, 0, 7, 1, 2, 3, 4][..], &[0u8; 24][..]].concat(),
            vec![],
            Protocol::Rtcp,
        ),
        (Udp, dtls_sample(), vec![], Protocol::Dtls),
        (
            Udp,
            vec![0x38, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0],
            vec![
                0x40, 9, 9, 9, 9, 9, 9, 9, 9, 1, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
            ],
            Protocol::OpenVpn,
        ),
        (
            Udp,
            [&[1u8, 0, 0, 0, 7, 7, 7, 7][..], &[0x42; 140][..]].concat(),
            vec![],
            Protocol::WireGuard,
        ),
        (
            Udp,
            [&[0xe3u8; 40][..], b"NONCE-abcdef", &[0x11; 60][..]].concat(),
            [&b"r6fnvWj8NONCE-abcdef"[..], &[0x22; 60][..]].concat(),
            Protocol::DnsCrypt,
        ),
        (
            Udp,
            b"TS3INIT1\x00\x65\x00\x00\x88\x0d\xd0".to_vec(),
            vec![],
            Protocol::TeamSpeak,
        ),
        (
            Udp,
            b"\xff\xff\xff\xffTSource Engine Query\x00".to_vec(),
            vec![],
            Protocol::Steam,
        ),
        (
            Tcp,
            vec![0x00, 0x04, 0x00, 0x00, 0x01, 0x2c, 0x52, 0x0e, 0x50, 0x00],
            vec![],
            Protocol::Spotify,
        ),
        (
            Tcp,
            vec![
                0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
            ],
            vec![],
            Protocol::Ldap,
        ),
        (
            Tcp,
            vec![5, 0, 11, 3, 0x10, 0, 0, 0, 72, 0, 0, 0, 1, 0, 0, 0],
            vec![],
            Protocol::DceRpc,
        ),
        (
            Udp,
            vec![
                0x6a, 0x81, 0xe8, 0x30, 0x81, 0xe5, 0xa1, 0x03, 0x02, 0x01, 0x05, 0xa2, 0x03, 0x02,
                0x01, 0x0a, 0xa3,
            ],
            vec![],
            Protocol::Kerberos,
        ),
        (Tcp, vec![], b"RFB 003.008\n".to_vec(), Protocol::Vnc),
        (
            Tcp,
            hello(),
            [&[0x55u8, 0x04, 0x03, 0x0c, 0x0e][..], b"AnyDesk Client"].concat(),
            Protocol::AnyDesk,
        ),
        (
            Tcp,
            vec![0x17, 0x24, 0x0a, 0x20],
            vec![0x17, 0x24, 0x0b, 0x00],
            Protocol::TeamViewer,
        ),
        (Tcp, b"hello world\r\n".to_vec(), vec![], Protocol::Text),
        (Tcp, vec![0, 1, 2, 3, 0, 1, 2, 3], vec![], Protocol::Binary),
        (Tcp, pseudo_random(1, 256), vec![], Protocol::Encrypted),
        (Tcp, vec![], vec![], Protocol::Empty),
    ]
}

fn stun_sample() -> Vec<u8> {
    let mut m = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
    m.extend_from_slice(&[3u8; 12]);
    m
}

fn rtp_sample() -> Vec<u8> {
    let pkt = |seq: u8| {
        let mut p = vec![0x80, 0x00, 0x00, seq, 0, 0, 0, 160, 0xca, 0xfe, 0xba, 0xbe];
        p.extend_from_slice(&[0xd5; 160]);
        p
    };
    [pkt(1), pkt(2)].concat()
}

fn dtls_sample() -> Vec<u8> {
    let mut d = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 40];
    d.extend_from_slice(&[1, 0, 0, 28, 0, 0, 0, 0, 0, 0, 0, 28, 0xfe, 0xfd]);
    d.extend_from_slice(&[0u8; 26]);
    d
}

#[test]
fn every_protocol_is_reachable_through_identify() {
    let mut seen = Vec::new();
    for (t, c, s, want) in samples() {
        let id = identify(t, &c, &s);
        assert_eq!(id.protocol, want, "{t:?} {:?}: {}", want, id.summary);
        assert_sane(&id, c.len().max(s.len()));
        seen.push(want);
    }
    for p in ALL {
        assert!(seen.contains(&p), "no sample for {p:?}");
    }
}

#[test]
fn names_serde_and_attack_mapping() {
    for p in ALL {
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, format!("\"{}\"", p.as_str()));
        assert_eq!(p.to_string(), p.as_str());
        let app = !matches!(
            p,
            Protocol::Text | Protocol::Binary | Protocol::Encrypted | Protocol::Empty
        );
        assert_eq!(p.is_well_known_application(), app);
        if !app {
            assert_eq!(p.attack_technique(), None);
        }
    }
    assert_eq!(Protocol::Bittorrent.as_str(), "bittorrent");
    assert_eq!(Protocol::Http.attack_technique().unwrap().0, "T1071.001");
    assert_eq!(Protocol::Ftp.attack_technique().unwrap().0, "T1071.002");
    assert_eq!(Protocol::Imap.attack_technique().unwrap().0, "T1071.003");
    assert_eq!(Protocol::Dns.attack_technique().unwrap().0, "T1071.004");
    assert_eq!(Protocol::Irc.attack_technique().unwrap().0, "T1071");
    assert_eq!(
        Protocol::Quic.attack_technique(),
        Some(("T1573", "Encrypted Channel"))
    );
    assert_eq!(
        Protocol::Socks5.attack_technique(),
        Some(("T1090", "Proxy"))
    );

    let id = identify(Tcp, &hello(), &[]);
    let v: serde_json::Value = serde_json::to_value(&id).unwrap();
    assert_eq!(v["protocol"], "tls");
    assert_eq!(v["confidence"], "high");
    assert_eq!(v["evidence"]["direction"], "client");
    assert_eq!(v["evidence"]["offset"], 0);
    assert!(
        v["evidence"]["rule"]
            .as_str()
            .unwrap()
            .contains("ClientHello")
    );
    assert_eq!(v["fields"][0][0], "tls.handshake");
}

#[test]
fn server_banner_wins_for_banner_protocols() {
    let id = identify(
        Tcp,
        b"SSH-2.0-paramiko_3.4.0\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n",
    );
    assert_eq!(id.summary, "SSH-2.0-OpenSSH_9.6");
    assert_eq!(id.evidence.direction, Direction::Server);
    assert_eq!(
        id.field("ssh.client_banner"),
        Some("SSH-2.0-paramiko_3.4.0")
    );
    // Issue 19: an HTTP request answered by an SSH banner is an SSH server.
    let id = identify(
        Tcp,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"SSH-2.0-OpenSSH_8.7\r\n",
    );
    assert_eq!(
        (id.protocol, id.summary.as_str(), id.evidence.direction),
        (Protocol::Ssh, "SSH-2.0-OpenSSH_8.7", Direction::Server)
    );
    // Client banner alone still counts.
    let id = identify(Tcp, b"SSH-2.0-paramiko_3.4.0\r\n", b"");
    assert_eq!(
        (id.protocol, id.evidence.direction),
        (Protocol::Ssh, Direction::Client)
    );

    let id = identify(Tcp, b"EHLO bot\r\n", b"220 mail.example.com ESMTP\r\n");
    assert_eq!(id.evidence.direction, Direction::Server);
    assert_eq!(id.field("smtp.helo"), Some("bot"));
    // USER to a POP3 server is POP3, to an FTP server FTP, alone FTP (low).
    assert_eq!(
        identify(Tcp, b"USER bob\r\n", b"+OK hi\r\n").protocol,
        Protocol::Pop3
    );
    assert_eq!(
        identify(Tcp, b"USER bob\r\n", b"220 FTP\r\n").protocol,
        Protocol::Ftp
    );
    let alone = identify(Tcp, b"USER bob\r\n", b"");
    assert_eq!(
        (alone.protocol, alone.confidence),
        (Protocol::Ftp, Confidence::Low)
    );
    // A Redis "+OK" is not POP3.
    let redis = identify(Tcp, b"*1\r\n$4\r\nPING\r\n", b"+OK\r\n");
    assert_eq!(redis.protocol, Protocol::Text);
}

#[test]
fn client_requests_win_and_are_enriched() {
    let id = identify(Tcp, &hello(), &build_server_hello(0x1302, Some(0x0304)));
    assert_eq!(id.field("tls.server_version"), Some("TLS 1.3"));
    assert_eq!(id.field("tls.server_cipher"), Some("0x1302"));
    assert!(
        id.summary
            .starts_with("TLS ClientHello SNI=c2.evil.example ALPN=h2 (JA4 t13d0305h2_")
    );
    let id = identify(
        Tcp,
        b"GET / HTTP/1.1\r\n\r\n",
        b"HTTP/1.1 302 Found\r\nServer: x\r\n\r\n",
    );
    assert_eq!(id.field("http.status"), Some("302"));
    let id = identify(Tcp, b"\x05\x01\x00", b"\x05\x00");
    assert_eq!(id.field("socks.server_method"), Some("none"));
    // Server-only captures of request/response protocols.
    assert_eq!(
        identify(Tcp, b"", b"HTTP/1.0 200 OK\r\n").protocol,
        Protocol::Http
    );
    assert_eq!(
        identify(Tcp, b"", &build_server_hello(0x1301, None)).protocol,
        Protocol::Tls
    );
}

#[test]
fn transport_gating() {
    // TLS, SSH, SOCKS are stream protocols; QUIC is UDP only; HTTP on UDP is SSDP.
    assert_ne!(identify(Udp, &hello(), b"").protocol, Protocol::Tls);
    assert_ne!(identify(Udp, b"SSH-2.0-x\r\n", b"").protocol, Protocol::Ssh);
    let ssdp = identify(
        Udp,
        b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\r\n",
        b"",
    );
    assert_eq!(ssdp.protocol, Protocol::Http);
    let mut q = vec![
        0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x44, 0x9e,
    ];
    q.extend([0u8; 10]);
    assert_ne!(identify(Tcp, &q, b"").protocol, Protocol::Quic);
    assert_eq!(identify(Udp, &q, b"").protocol, Protocol::Quic);
}

#[test]
fn look_alikes_fall_back() {
    let mut ssh_ish = b"SSH".to_vec();
    ssh_ish.extend(pseudo_random(77, 200));
    let id = identify(Tcp, &ssh_ish, b"");
    assert_ne!(id.protocol, Protocol::Ssh);
    let id = identify(Tcp, b"GET me a coffee please\r\n", b"");
    assert_eq!(id.protocol, Protocol::Text);
    let id = identify(Tcp, b"\x16\x03\x01\x02\x00hello", b"");
    assert_eq!(id.protocol, Protocol::Binary);
}

#[test]
fn empty_and_summary_caps() {
    let id = identify(Tcp, b"", b"");
    assert_eq!(id.protocol, Protocol::Empty);
    assert_eq!(id.confidence, Confidence::High);
    let long_target = [b"GET /".as_slice(), &[b'a'; 5000], b" HTTP/1.1\r\n\r\n"].concat();
    let id = identify(Tcp, &long_target, b"");
    assert_eq!(id.protocol, Protocol::Http);
    assert_sane(&id, long_target.len());
    assert_eq!(id.field("http.target").unwrap().len(), MAX_FIELD_CHARS);
}

/// Random buffers of many lengths, and every sample with each byte
/// replaced by a few values, never panic and always give sane output.
#[test]
fn robustness_random_and_mutated() {
    for seed in 0..300u64 {
        let len = usize::try_from(seed * 7 % 600).unwrap_or(0);
        let a = pseudo_random(seed + 1, len);
        let b = pseudo_random(seed + 1000, len / 2);
        for t in [Tcp, Udp] {
            assert_sane(&identify(t, &a, &b), a.len().max(b.len()));
        }
    }
    for (t, c, s, _) in samples() {
        for i in 0..c.len().max(s.len()) {
            for v in [0x00u8, 0x01, 0x05, 0x0a, 0x20, 0x7f, 0x80, 0xc0, 0xff] {
                let mut c2 = c.clone();
                let mut s2 = s.clone();
                if let Some(x) = c2.get_mut(i) {
                    *x = v;
                }
                if let Some(x) = s2.get_mut(i) {
                    *x = v;
                }
                let id = identify(t, &c2, &s2);
                assert_sane(&id, c2.len().max(s2.len()));
            }
        }
    }
}

#[test]
fn evidence_hex_is_capped_at_32_bytes() {
    let id = identify(Tcp, &hello(), b"");
    assert_eq!(id.evidence.hex.len(), 64);
    assert!(id.evidence.len > 32);
    let id = identify(Tcp, b"SSH-2.0-Go\r\n", b"");
    assert_eq!(id.evidence.hex, "5353482d322e302d476f0d0a");
    assert_eq!(id.evidence.rule, "ssh banner 'SSH-2.0-' at offset 0");
}
