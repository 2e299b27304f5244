//! What a recognised application means on a ghost port.
//!
//! Some applications pick their ports at run time or from their own
//! configuration, so on a ghost port they are expected, not a sign of
//! something hiding: calls (STUN/TURN, RTP/RTCP, DTLS media), peer-to-peer
//! clients, encrypted DNS resolvers, game and voice-chat servers, music
//! streaming. Those are *benign*: the finding stays, explained, at low
//! severity. Remote-access and tunnelling tools are *dual-use*: legitimate
//! software that attackers also install (MITRE ATT&CK T1219 Remote Access
//! Software, T1572 Protocol Tunneling); they are named and scored medium.
//! Every other protocol (HTTP, TLS, SSH, LDAP, Kerberos, DCE/RPC, ...) on a
//! ghost port is what ghostport exists to find and is not listed here.

use super::Protocol;

/// How a recognised application stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standing {
    /// Expected on arbitrary ports: explains the finding.
    Benign,
    /// Legitimate but abusable (remote access, tunnels): named, medium.
    DualUse,
}

/// A recognised application's standing, with the sentence that says why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownApplication {
    /// Display name ("STUN", "AnyDesk").
    pub name: &'static str,
    /// Benign or dual-use.
    pub standing: Standing,
    /// Why it is on an arbitrary port, completing "the traffic is NAME; ...".
    pub why: &'static str,
}

/// The standing of a recognised protocol, if it is one of the applications
/// above.
pub fn known_application(p: Protocol) -> Option<KnownApplication> {
    let (name, standing, why) = match p {
        Protocol::Stun => (
            "STUN",
            Standing::Benign,
            "NAT traversal for voice and video calls (WebRTC, Zoom, Teams, WhatsApp, Telegram), whose servers and peers use many ports",
        ),
        Protocol::Rtp => (
            "RTP",
            Standing::Benign,
            "call media, sent between ports negotiated at call set-up",
        ),
        Protocol::Rtcp => (
            "RTCP",
            Standing::Benign,
            "call media control, sent between ports negotiated at call set-up",
        ),
        Protocol::Dtls => (
            "DTLS",
            Standing::Benign,
            "the key exchange of WebRTC call media, on ports negotiated at call set-up",
        ),
        Protocol::Bittorrent => (
            "BitTorrent",
            Standing::Benign,
            "peer-to-peer file sharing, whose peers listen on random ports",
        ),
        Protocol::Gnutella => (
            "Gnutella",
            Standing::Benign,
            "peer-to-peer file sharing, whose peers listen on random ports",
        ),
        Protocol::DnsCrypt => (
            "DNSCrypt",
            Standing::Benign,
            "encrypted DNS, whose resolvers listen on ports of their choosing (443, 5353, 8443...)",
        ),
        Protocol::TeamSpeak => (
            "TeamSpeak",
            Standing::Benign,
            "voice chat, whose servers are configured on any port",
        ),
        Protocol::Steam => (
            "Steam",
            Standing::Benign,
            "game servers and Steam datagrams, on ports each game picks",
        ),
        Protocol::Spotify => (
            "Spotify",
            Standing::Benign,
            "music streaming, whose access points listen on 4070 as well as 443 and 80",
        ),
        Protocol::AnyDesk => (
            "AnyDesk",
            Standing::DualUse,
            "remote desktop software (ATT&CK T1219 Remote Access Software when an attacker installs it)",
        ),
        Protocol::TeamViewer => (
            "TeamViewer",
            Standing::DualUse,
            "remote desktop software (ATT&CK T1219 Remote Access Software when an attacker installs it)",
        ),
        Protocol::Vnc => (
            "VNC",
            Standing::DualUse,
            "remote desktop (ATT&CK T1219 / T1021.005 when an attacker uses it)",
        ),
        Protocol::OpenVpn => (
            "OpenVPN",
            Standing::DualUse,
            "a VPN tunnel (ATT&CK T1572 Protocol Tunneling when an attacker uses it)",
        ),
        Protocol::WireGuard => (
            "WireGuard",
            Standing::DualUse,
            "a VPN tunnel (ATT&CK T1572 Protocol Tunneling when an attacker uses it)",
        ),
        _ => return None,
    };
    Some(KnownApplication {
        name,
        standing,
        why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shells_and_web_protocols_are_never_explained() {
        for p in [
            Protocol::Http,
            Protocol::Tls,
            Protocol::Ssh,
            Protocol::Ldap,
            Protocol::Irc,
            Protocol::Socks5,
            Protocol::Encrypted,
            Protocol::Binary,
        ] {
            assert_eq!(known_application(p), None, "{p}");
        }
        assert_eq!(
            known_application(Protocol::AnyDesk).map(|a| a.standing),
            Some(Standing::DualUse)
        );
    }
}
