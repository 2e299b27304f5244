//! Every new recogniser on real packets: captures from nDPI's test suite
//! (LGPL, so read from the shared corpus at test time, never copied into
//! the repository). Each case names a capture, the flow nDPI labels with
//! the application, and the protocol ghostport must recognise on it.
//! Skips cleanly when the corpus is absent (CI has only the repository);
//! the same recognisers are covered by unit tests in `src/identify/` and by
//! generator-built fixtures in `tests/explained.rs`.

use std::path::{Path, PathBuf};

use ghostport::capture::{self, Input, ReaderKind};
use ghostport::decode::{self, LinkType};
use ghostport::flow::{Flow, FlowConfig, FlowTable};
use ghostport::identify::{Protocol, identify};

fn ndpi_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("GHOSTPORT_NDPI_PCAPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pcaps-dev/ndpi"));
    if dir.join("result").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: nDPI captures not found at {} (set GHOSTPORT_NDPI_PCAPS)",
            dir.display()
        );
        None
    }
}

/// All flows of a capture, with payload kept for every one of them.
fn flows(path: &Path) -> Vec<Flow> {
    let input = Input::Path(path.to_path_buf());
    let mut src = capture::open(&input, ReaderKind::Native).expect("capture opens");
    let mut table = FlowTable::new(FlowConfig {
        payload_ports: None,
        ..FlowConfig::default()
    });
    while let Ok(Some(f)) = src.next_frame() {
        if let Ok(p) = decode::decode(LinkType::from_linktype(f.linktype), f.data) {
            table.update(&p, f.ts_nanos, f.orig_len.max(f.caplen));
        }
    }
    table.finish_all();
    table.drain_finished().collect()
}

/// (capture, transport port on either side, expected protocol)
const CASES: &[(&str, u16, Protocol)] = &[
    ("stun.pcap", 3478, Protocol::Stun),
    ("telegram_videocall.pcapng", 1400, Protocol::Stun),
    ("stun_tcp_multiple_msgs_same_pkt.pcap", 3479, Protocol::Stun),
    ("whatsapp_login_call.pcap", 3478, Protocol::Stun),
    ("dtls_session_id_and_coockie_both.pcap", 0, Protocol::Dtls),
    (
        "rtcp_multiple_pkts_in_the_same_datagram.pcap",
        0,
        Protocol::Rtcp,
    ),
    ("openvpn_nohmac.pcapng", 1194, Protocol::OpenVpn),
    ("openvpn_nohmac_tcp.pcapng", 1194, Protocol::OpenVpn),
    ("openvpn-tlscrypt.pcap", 1194, Protocol::OpenVpn),
    ("443-opvn.pcap", 1194, Protocol::OpenVpn),
    ("wireguard.pcap", 51820, Protocol::WireGuard),
    ("bittorrent_utp.pcap", 0, Protocol::Bittorrent),
    ("dnscrypt-v2.pcap", 5353, Protocol::DnsCrypt),
    ("teamspeak3.pcap", 9987, Protocol::TeamSpeak),
    ("source_engine.pcap", 27015, Protocol::Steam),
    ("kerberos.pcap", 88, Protocol::Kerberos),
    ("dcerpc.pcap", 34964, Protocol::DceRpc),
    ("vnc.pcap", 6900, Protocol::Vnc),
    (
        "tls_client_certificate_with_missing_server_one.pcapng",
        443,
        Protocol::AnyDesk,
    ),
];

#[test]
fn recognisers_on_ndpi_captures() {
    let Some(dir) = ndpi_dir() else { return };
    let mut failures = Vec::new();
    for &(file, port, want) in CASES {
        let path = dir.join(file);
        if !path.exists() {
            failures.push(format!("{file}: missing"));
            continue;
        }
        let found: Vec<Protocol> = flows(&path)
            .iter()
            .filter(|f| port == 0 || f.client.port == port || f.server.port == port)
            .map(|f| identify(f.transport, &f.c2s_head().bytes, &f.s2c_head().bytes).protocol)
            .collect();
        if !found.contains(&want) {
            failures.push(format!(
                "{file}: wanted {want} on port {port}, got {found:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Look-alikes: across every nDPI capture, no flow nDPI labels as a plain
/// web or name-service protocol is taken for one of the new applications.
#[test]
fn no_new_recogniser_fires_on_http_tls_dns_flows() {
    let Some(dir) = ndpi_dir() else { return };
    let new = [
        Protocol::Stun,
        Protocol::Rtp,
        Protocol::Rtcp,
        Protocol::Dtls,
        Protocol::OpenVpn,
        Protocol::WireGuard,
        Protocol::TeamSpeak,
        Protocol::Steam,
        Protocol::Spotify,
        Protocol::Vnc,
        Protocol::TeamViewer,
    ];
    let mut bad = Vec::new();
    for file in [
        "http.pcapng",
        "dns.pcap",
        "google_ssl.pcap",
        "1kxun.pcap",
        "ookla.pcap",
        "ssh.pcap",
    ] {
        let path = dir.join(file);
        if !path.exists() {
            continue;
        }
        for f in flows(&path) {
            let id = identify(f.transport, &f.c2s_head().bytes, &f.s2c_head().bytes);
            if new.contains(&id.protocol) {
                bad.push(format!(
                    "{file}: {}:{} → {}: {}",
                    f.client.ip, f.client.port, f.server.port, id.summary
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
