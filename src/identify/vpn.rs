//! VPN tunnels: OpenVPN (UDP, and TCP with its 2-byte length prefix) and
//! WireGuard. Both are dual-use: named, never explained away.

use super::util::hex;
use super::{Confidence, Direction, Evidence, Identification, Protocol};

const OVPN_HARD_RESET_CLIENT_V1: u8 = 1;
const OVPN_HARD_RESET_SERVER_V1: u8 = 2;
const OVPN_HARD_RESET_CLIENT_V2: u8 = 7;
const OVPN_HARD_RESET_SERVER_V2: u8 = 8;
const OVPN_HARD_RESET_CLIENT_V3: u8 = 10;

/// Strips the TCP framing: a 2-byte length that must cover at least the
/// opcode and session id and at most 1600 bytes.
fn ovpn_tcp_packet(data: &[u8]) -> Option<&[u8]> {
    let len = usize::from(u16::from_be_bytes([*data.first()?, *data.get(1)?]));
    if !(9..=1600).contains(&len) {
        return None;
    }
    let body = data.get(2..)?;
    Some(body.get(..len).unwrap_or(body))
}

/// Recognises an OpenVPN session start from both directions' first bytes.
///
/// Requires the client's first packet to be a hard reset (opcode 7, 10, or
/// 1 for the old V1 protocol, key id 0: first byte 0x38, 0x50 or 0x08)
/// followed by an 8-byte session id, and either the server's first packet
/// to be the matching hard-reset reply (opcode 8, or 2; first byte 0x40
/// or 0x10), or the client to repeat its session id in a later packet (a
/// retransmitted reset or the next control packet) when the server side is
/// missing (the repeat must follow a client control opcode, 0x20, 0x28,
/// 0x38 or 0x50). Over TCP each packet carries a 2-byte length prefix
/// (9..=1600) first. High confidence when the server's reply acknowledges
/// the client's session id (plain or tls-auth modes); medium otherwise
/// (tls-crypt hides the acknowledgement). The old V1 reset (first byte
/// 0x08, also VXLAN's flags byte) counts only when acknowledged.
pub fn openvpn(tcp: bool, client: &[u8], server: &[u8]) -> Option<Identification> {
    let c = if tcp {
        ovpn_tcp_packet(client)?
    } else {
        client
    };
    let op = *c.first()?;
    if op & 0x07 != 0
        || !matches!(
            op >> 3,
            OVPN_HARD_RESET_CLIENT_V1 | OVPN_HARD_RESET_CLIENT_V2 | OVPN_HARD_RESET_CLIENT_V3
        )
    {
        return None;
    }
    let sid = c.get(1..9)?;
    if sid.iter().all(|&b| b == 0) {
        return None;
    }
    let s = if tcp {
        ovpn_tcp_packet(server)
    } else {
        Some(server)
    };
    let s_ok = s.and_then(|s| s.first()).is_some_and(|&b| {
        b & 0x07 == 0
            && matches!(
                b >> 3,
                OVPN_HARD_RESET_SERVER_V1 | OVPN_HARD_RESET_SERVER_V2
            )
    });
    let acked = s_ok
        && s.and_then(|s| s.get(9..))
            .is_some_and(|rest| rest.windows(8).any(|w| w == sid));
    // The session id again in a later client packet, right after a client
    // control opcode (P_CONTROL_V1 0x20, P_ACK_V1 0x28, or the reset
    // itself 0x38/0x50 when retransmitted), key id 0.
    let repeated = client
        .windows(9)
        .skip(1)
        .any(|w| matches!(w.first(), Some(0x20 | 0x28 | 0x38 | 0x50)) && w.get(1..) == Some(sid));
    let old = op >> 3 == OVPN_HARD_RESET_CLIENT_V1;
    let (conf, rule, dir) = if acked {
        (
            Confidence::High,
            "OpenVPN hard reset (client opcode 7/10/1) answered by a server hard reset acknowledging the client's session id",
            Direction::Client,
        )
    } else if s_ok && !old {
        (
            Confidence::Medium,
            "OpenVPN hard reset from the client (opcode 7/10/1) and from the server (opcode 8/2)",
            Direction::Client,
        )
    } else if repeated && !old {
        (
            Confidence::Medium,
            "OpenVPN hard reset from the client (opcode 7/10/1), its session id repeated in a later packet",
            Direction::Client,
        )
    } else {
        return None;
    };
    let offset = if tcp { 2 } else { 0 };
    let mut id = Identification::new(
        Protocol::OpenVpn,
        conf,
        &format!(
            "OpenVPN {} session start, client session {}",
            if tcp { "TCP" } else { "UDP" },
            hex(sid)
        ),
        Evidence::new(dir, client, offset, 9, rule),
    );
    id.push("openvpn.opcode", &(op >> 3).to_string());
    id.push("openvpn.session_id", &hex(sid));
    Some(id)
}

/// Recognises a WireGuard handshake (UDP).
///
/// Requires a handshake initiation from the client: type 1 and three zero
/// reserved bytes (`01 00 00 00`), a non-zero sender index and at least
/// the 148 bytes of the message. High confidence when the server's first
/// datagram is a handshake response (`02 00 00 00`, 92 bytes) whose
/// receiver index equals the initiator's sender index; medium with the
/// initiation alone. A flow caught mid-session (transport data only) is
/// left to the fallback.
pub fn wireguard(client: &[u8], server: &[u8]) -> Option<Identification> {
    if client.get(..4)? != [1, 0, 0, 0] || client.len() < 148 {
        return None;
    }
    let sender = client.get(4..8)?;
    if sender == [0, 0, 0, 0] {
        return None;
    }
    let answered = server.get(..4) == Some(&[2, 0, 0, 0][..])
        && server.len() >= 92
        && server.get(8..12) == Some(sender);
    let (conf, rule) = if answered {
        (
            Confidence::High,
            "WireGuard handshake initiation (01000000, 148 bytes) answered by a response (02000000) to the same sender index",
        )
    } else {
        (
            Confidence::Medium,
            "WireGuard handshake initiation: 01000000, non-zero sender index, 148 bytes",
        )
    };
    let mut id = Identification::new(
        Protocol::WireGuard,
        conf,
        &format!("WireGuard handshake, sender index {}", hex(sender)),
        Evidence::new(Direction::Client, client, 0, 8, rule),
    );
    id.push("wireguard.sender_index", &hex(sender));
    Some(id)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn openvpn_udp_no_hmac_from_ndpi_bytes() {
        // Shapes of nDPI's openvpn_nohmac.pcapng first two datagrams.
        let c = [
            0x38, 0x39, 0xfd, 0xed, 0x2d, 0xaa, 0x10, 0xa4, 0x37, 0, 0, 0, 0, 0,
        ];
        let s = [
            0x40, 0x94, 0x21, 0x91, 0x7d, 0xe7, 0x26, 0x77, 0x29, 0x01, 0, 0, 0, 0, 0x39, 0xfd,
            0xed, 0x2d, 0xaa, 0x10, 0xa4, 0x37, 0, 0, 0, 0,
        ];
        let id = openvpn(false, &c, &s).unwrap();
        assert_eq!(id.confidence, Confidence::High);
        assert_eq!(id.field("openvpn.session_id"), Some("39fded2daa10a437"));
        // Without the server: not enough.
        assert!(openvpn(false, &c, &[]).is_none());
        // Over TCP with the length prefix.
        let mut ct = vec![0, 14];
        ct.extend_from_slice(&c);
        let mut st = vec![0, 26];
        st.extend_from_slice(&s);
        assert!(openvpn(true, &ct, &st).is_some());
        assert!(openvpn(true, &c, &s).is_none());
    }

    #[test]
    fn wireguard_initiation_and_response() {
        let mut c = vec![1, 0, 0, 0, 0xd8, 0x37, 0xd0, 0x30];
        c.resize(148, 0x42);
        let mut s = vec![2, 0, 0, 0, 6, 0xf4, 0x7d, 0xab, 0xd8, 0x37, 0xd0, 0x30];
        s.resize(92, 0x17);
        assert_eq!(wireguard(&c, &s).unwrap().confidence, Confidence::High);
        assert_eq!(wireguard(&c, &[]).unwrap().confidence, Confidence::Medium);
        assert!(wireguard(&c[..100], &[]).is_none());
    }
}
