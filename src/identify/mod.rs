//! Payload identification: what protocol is *actually* on a flow, judged from
//! the first bytes each direction carried.
//!
//! A port number only says what *should* be there. [`identify`] looks at the
//! first payload bytes of each direction of a flow (as kept by the flow table:
//! capped, possibly reassembled from several packets, possibly truncated) and
//! says what protocol they look like, how sure it is, which bytes matched and
//! a short, sanitised summary for humans.
//!
//! # Design rules
//!
//! * **Never panics, never reads past a slice.** Every read goes through a
//!   checked cursor or `get`; the module denies `clippy::indexing_slicing`,
//!   `unwrap_used`, `expect_used` and `panic`.
//! * **Truncation is normal.** The capture keeps a few hundred bytes per
//!   direction, so a recogniser that sees a valid prefix of its protocol
//!   still answers, with whatever fields are present, a lower confidence
//!   when the prefix is short, and (for TLS) `tls.partial = true`.
//! * **Strict before generous.** Each recogniser demands structure that
//!   random or look-alike bytes are very unlikely to have: exact magic,
//!   consistent length fields, known command/opcode values, printable
//!   version strings with proper line endings. The text of every
//!   recogniser's doc comment says exactly what it requires.
//! * **Everything from the capture is sanitised** with [`sanitize`] before it
//!   goes in a summary or field: printable ASCII stays, every other byte
//!   (including ESC, CR, LF and backslash) becomes `\xNN`, and lengths are
//!   capped ([`MAX_SUMMARY_CHARS`], [`MAX_FIELD_CHARS`]).
//!
//! # Order of checks
//!
//! 1. Client-side requests that only a client sends and that are highly
//!    structured: TLS ClientHello, HTTP request, QUIC Initial (UDP), DNS
//!    (UDP, or TCP with its 2-byte length prefix), SOCKS4, SOCKS5, RDP
//!    connection request, SMB, BitTorrent handshake. The server's bytes then
//!    enrich the answer (ServerHello version, HTTP status, SOCKS5 method...).
//! 2. Server-side banners, which are more telling than the client's later
//!    commands: SSH, "220" greetings (SMTP or FTP), POP3 "+OK", IMAP "* OK",
//!    IRC server lines, HTTP response, TLS ServerHello, SMB, BitTorrent,
//!    Telnet, DNS response, QUIC. For banner protocols the answer's summary
//!    and evidence come from the server bytes; the client's contribution
//!    (SSH client banner, SMTP HELO name, FTP user) is added as fields.
//! 3. Client-side commands of server-first protocols, for captures where the
//!    server side is missing or not a banner: SSH client banner, SMTP
//!    EHLO/HELO, IMAP tagged command, IRC registration, FTP USER, Telnet.
//! 4. Fallback: `empty` (no bytes either way), `encrypted` (high entropy,
//!    enough bytes), `text` (≥ 90 % printable), else `binary`.
//!
//! Stream-only protocols (everything but HTTP, DNS and QUIC) are only
//! considered for [`Transport::Tcp`](crate::Transport); QUIC only for UDP;
//! HTTP on UDP covers SSDP/UPnP (`M-SEARCH * HTTP/1.1`).
//!
//! # Recognisers and why look-alikes fail
//!
//! * **HTTP request** ([`http::request`]): a known method in upper case
//!   (RFC 9110 methods, WebDAV, SSDP/GENA), exactly one space, a request
//!   target of printable non-space bytes that starts with `/`, `*`, or a
//!   scheme/authority form, one space, and `HTTP/1.0` or `HTTP/1.1`
//!   (or `PRI * HTTP/2.0` for the HTTP/2 preface), then CRLF/LF or the end
//!   of the buffer. "GET" followed by anything else, or lower-case methods,
//!   are not HTTP. A request line cut by the capture is accepted with low
//!   confidence only if what is present is a prefix of that grammar and the
//!   method, space and a target starting with `/` are all there.
//! * **HTTP response** ([`http::response`]): `HTTP/1.0` or `HTTP/1.1`, a space,
//!   three digits 100..=599, then space, CRLF/LF or end of buffer.
//! * **TLS ClientHello** ([`tls::client_hello`]): record type 22, record
//!   version 0x0301..=0x0304, record length 4..=16384, handshake type 1,
//!   handshake length ≥ 41 and fitting inside the record, client version
//!   0x0300..=0x0304, session id ≤ 32 bytes, an even, non-empty cipher list,
//!   ≥ 1 compression method, and extension lengths that nest exactly. When
//!   the buffer ends early the fields seen so far are reported and
//!   `tls.partial = true`; JA4 is only given for complete hellos because
//!   its counts and hashes need every cipher and extension.
//! * **TLS ServerHello** ([`tls::server_hello`]): the same record checks with
//!   handshake type 2 (length ≥ 38); the negotiated version comes from
//!   supported_versions, and a HelloRetryRequest is flagged.
//! * **SSH** ([`ssh::banner`]): `SSH-2.0-`, `SSH-1.99-` or `SSH-1.x-`, then a
//!   non-empty software version of printable non-space ASCII, optional
//!   comments after one space, then CR LF / LF or the end of the buffer,
//!   at most 255 bytes. "SSH" followed by random bytes fails the version or
//!   printable checks. A server may send printable text lines before its
//!   banner (RFC 4253 4.2); up to four are skipped on the server side.
//! * **DNS** ([`dns::udp`], [`dns::tcp`]): 12-byte header with opcode 0, 1, 2,
//!   4 or 5, Z bit clear, QDCOUNT 1..=4, answer/authority/additional counts
//!   ≤ 64; a query has rcode 0 and (standard queries) no authority records
//!   and no answers unless its id is 0 (mDNS known answers); a response has
//!   rcode ≤ 10. Then a question name of uncompressed labels of 1..=63
//!   bytes drawn from letters, digits, `-`, `_`, `*` and `/` (≤ 255 bytes in
//!   all), and a non-zero QTYPE and a known QCLASS (IN, CH, HS, NONE, ANY,
//!   optionally with the mDNS unicast bit). Over TCP a 2-byte length prefix
//!   ≥ 17 must precede it.
//! * **SMTP** ([`banner::greeting_220`], [`banner::smtp_client`]): a server
//!   `220` line (space or `-` continuation) mentioning SMTP/ESMTP, or a
//!   client `EHLO`/`HELO` with one argument. A bare `220` without either
//!   keyword is decided by the client's first command (EHLO/HELO → SMTP,
//!   USER/AUTH/FEAT/SYST/OPTS → FTP).
//! * **FTP**: a `220` line mentioning FTP (or a known FTP server name such
//!   as FileZilla), or a client `USER <name>` line (low confidence: POP3 uses
//!   `USER` too, but a POP3 server would have answered `+OK`, checked first).
//! * **POP3** ([`banner::pop3`]): server `+OK` followed by a space, CRLF/LF or
//!   the end of the buffer, on a printable line.
//! * **IMAP** ([`banner::imap_server`], [`banner::imap_client`]): server
//!   `* OK `, `* PREAUTH ` or `* BYE ` on a printable line; or a client line
//!   of an alphanumeric tag, a space and a known IMAP command.
//! * **IRC** ([`irc::client`], [`irc::server`]): client registration lines
//!   (`NICK n`, `USER u m * :real`, `PASS`, `CAP LS`) or `JOIN #c` /
//!   `PRIVMSG t :msg`, with a valid `NICK` and/or 4-parameter `USER`
//!   required; server lines `:prefix NNN target ... :text` (any three-digit
//!   numeric) or `:prefix NOTICE target :text`, `NOTICE AUTH :...`, or
//!   (low confidence) `PING :...`. Every line considered must be printable
//!   and properly terminated.
//! * **SOCKS4/4a** ([`proxy::socks4`]): `04`, command 1 or 2, port, IPv4
//!   address, a printable user id and a NUL (4a: address 0.0.0.x, then a
//!   hostname and NUL).
//! * **SOCKS5** ([`proxy::socks5`]): `05`, 1..=16 methods, none of them 0xFF
//!   and none duplicated, then nothing or the next client message (a `05`
//!   request with a valid command, reserved zero and address type, or a
//!   `01` username/password sub-negotiation). A server reply `05 m` with `m`
//!   among the offered methods (or 0xFF) raises confidence.
//! * **RDP** ([`windows::rdp`]): TPKT `03 00 len` with len matching the
//!   X.224 length indicator (`LI = len - 5`), X.224 Connection Request
//!   (0xE0), class 0, and a variable part that is a `Cookie: mstshash=`
//!   line, a routing token, and/or an RDP_NEG_REQ (type 1, length 8). A
//!   variable part starting with ISO-TSAP parameters (0xC0..=0xC2, as in
//!   S7comm) is *not* RDP.
//! * **SMB** ([`windows::smb`]): NetBIOS session message `00` + 24-bit
//!   length ≥ 32, then `\xffSMB`, `\xfeSMB` or `\xfdSMB`.
//! * **QUIC** ([`quic::initial`]): UDP only; long header with the fixed bit,
//!   version 1, v2 (0x6b3343cf) or a draft (0xff0000xx), Initial packet type
//!   for that version, DCID 8..=20 bytes from a client (≤ 20 from a
//!   server), SCID ≤ 20, a token length ≤ 1024 (0 from a server) and a
//!   payload length 18..=16383, both valid variable-length integers. The
//!   encrypted ClientHello inside is not decrypted (no QUIC SNI/JA4).
//! * **Gnutella** ([`misc::gnutella`]): a `GNUTELLA CONNECT/x.y` request line
//!   or a `GNUTELLA/x.y NNN` response line (digits required, line ending
//!   or end of buffer after it).
//! * **BitTorrent** ([`misc::bittorrent`]): the 20-byte `\x13BitTorrent
//!   protocol`; info hash and peer id when present.
//! * **Telnet** ([`misc::telnet`]): at least two IAC negotiations in a row
//!   (`FF` + WILL/WONT/DO/DONT + a registered option code 0..=49,
//!   138..=140 or 255, or an `FF FA opt ... FF F0` sub-negotiation of
//!   ≤ 256 bytes) from the first byte; a single negotiation is not enough.
//! * **Applications that pick their own ports, remote access and tunnels**
//!   (each function's doc comment states its exact rule and confidence):
//!   STUN/TURN, DTLS, RTP (two packets of one stream), RTCP
//!   ([`media`]); OpenVPN over UDP and TCP, WireGuard ([`vpn`]); BitTorrent
//!   uTP and DHT ([`p2p`]); DNSCrypt, TeamSpeak 3, Steam, Spotify
//!   ([`apps`]); LDAP/CLDAP, Kerberos, DCE/RPC ([`enterprise`]); VNC,
//!   TeamViewer, and AnyDesk as a TLS session presenting an `AnyDesk
//!   Client` certificate ([`remote`]). UDP rules that pair an opening
//!   message with its answer are tried with both ends as the opener, since
//!   a capture may start after the first datagram. What each means on a
//!   ghost port (benign, dual-use) is [`known_application`].
//!
//! # Fallback
//!
//! With no recogniser matching, each non-empty direction is classed alone.
//! A direction is *encrypted* ("likely encrypted or compressed") when it has
//! at least [`MIN_ENTROPY_BYTES`] bytes and its bias-corrected entropy is at
//! least [`ENTROPY_THRESHOLD`] bits/byte. The plain (plug-in) Shannon
//! estimate is reported as field `entropy`, the Miller–Madow corrected one
//! as `entropy.corrected`. The correction matters: 256 truly random bytes
//! average only ~7.17 plug-in bits/byte (and 128 bytes can never exceed
//! 7.0), so a plain 7.2 threshold would miss most encrypted payloads at the
//! capture cap. With fewer than 128 bytes no claim of encryption is made.
//! Otherwise a direction is *text* when ≥ 90 % of it is printable ASCII,
//! ASCII whitespace or valid non-control UTF-8, else *binary*. The flow is
//! `encrypted` if any direction is, `text` if every non-empty direction is,
//! else `binary`.

#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod apps;
pub mod banner;
pub mod content;
pub mod dns;
pub mod enterprise;
mod fallback;
pub mod http;
pub mod irc;
mod known;
pub mod media;
pub mod misc;
pub mod negotiate;
pub mod p2p;
pub mod proxy;
pub mod quic;
pub mod remote;
pub mod ssh;
pub mod tls;
mod util;
pub mod vpn;
pub mod windows;

pub use known::{KnownApplication, Standing, known_application};

pub use util::sanitize;

use crate::Transport;
use serde::Serialize;

/// Longest summary, in characters.
pub const MAX_SUMMARY_CHARS: usize = 200;
/// Longest field value, in characters.
pub const MAX_FIELD_CHARS: usize = 256;
/// Minimum bytes in one direction before it may be called encrypted.
pub const MIN_ENTROPY_BYTES: usize = 128;
/// Bias-corrected entropy (bits/byte) at or above which a direction is
/// called encrypted or compressed.
pub const ENTROPY_THRESHOLD: f64 = 7.2;

/// What a flow's payload looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Http,
    Tls,
    Ssh,
    Dns,
    Smtp,
    Ftp,
    Pop3,
    Imap,
    Irc,
    Socks4,
    Socks5,
    Rdp,
    Smb,
    Quic,
    Bittorrent,
    /// Gnutella 0.6 handshake (P2P file sharing).
    Gnutella,
    Telnet,
    /// STUN/TURN (NAT traversal for calls and WebRTC).
    Stun,
    /// RTP media.
    Rtp,
    /// RTCP media control.
    Rtcp,
    /// DTLS (WebRTC media keys, VPNs).
    Dtls,
    /// OpenVPN.
    #[serde(rename = "openvpn")]
    OpenVpn,
    /// WireGuard.
    #[serde(rename = "wireguard")]
    WireGuard,
    /// DNSCrypt encrypted DNS.
    #[serde(rename = "dnscrypt")]
    DnsCrypt,
    /// TeamSpeak voice chat.
    #[serde(rename = "teamspeak")]
    TeamSpeak,
    /// Steam / Source engine.
    Steam,
    /// Spotify.
    Spotify,
    /// LDAP / CLDAP.
    Ldap,
    /// DCE/RPC (MS-RPC).
    #[serde(rename = "dcerpc")]
    DceRpc,
    /// Kerberos 5.
    Kerberos,
    /// VNC (RFB).
    Vnc,
    /// AnyDesk remote desktop.
    #[serde(rename = "anydesk")]
    AnyDesk,
    /// TeamViewer remote desktop.
    #[serde(rename = "teamviewer")]
    TeamViewer,
    /// Mostly printable text, no known protocol.
    Text,
    /// Neither text nor high entropy, no known protocol.
    Binary,
    /// High entropy: likely encrypted or compressed.
    Encrypted,
    /// No payload in either direction.
    Empty,
}

impl Protocol {
    /// Lower-case name, identical to the serde representation.
    pub fn as_str(&self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Tls => "tls",
            Protocol::Ssh => "ssh",
            Protocol::Dns => "dns",
            Protocol::Smtp => "smtp",
            Protocol::Ftp => "ftp",
            Protocol::Pop3 => "pop3",
            Protocol::Imap => "imap",
            Protocol::Irc => "irc",
            Protocol::Socks4 => "socks4",
            Protocol::Socks5 => "socks5",
            Protocol::Rdp => "rdp",
            Protocol::Smb => "smb",
            Protocol::Quic => "quic",
            Protocol::Bittorrent => "bittorrent",
            Protocol::Gnutella => "gnutella",
            Protocol::Telnet => "telnet",
            Protocol::Stun => "stun",
            Protocol::Rtp => "rtp",
            Protocol::Rtcp => "rtcp",
            Protocol::Dtls => "dtls",
            Protocol::OpenVpn => "openvpn",
            Protocol::WireGuard => "wireguard",
            Protocol::DnsCrypt => "dnscrypt",
            Protocol::TeamSpeak => "teamspeak",
            Protocol::Steam => "steam",
            Protocol::Spotify => "spotify",
            Protocol::Ldap => "ldap",
            Protocol::DceRpc => "dcerpc",
            Protocol::Kerberos => "kerberos",
            Protocol::Vnc => "vnc",
            Protocol::AnyDesk => "anydesk",
            Protocol::TeamViewer => "teamviewer",
            Protocol::Text => "text",
            Protocol::Binary => "binary",
            Protocol::Encrypted => "encrypted",
            Protocol::Empty => "empty",
        }
    }

    /// `true` for a real application protocol, `false` for the fallback
    /// classes (text, binary, encrypted, empty).
    pub fn is_well_known_application(&self) -> bool {
        !matches!(
            self,
            Protocol::Text | Protocol::Binary | Protocol::Encrypted | Protocol::Empty
        )
    }

    /// MITRE ATT&CK technique (id, name) that traffic of this protocol on an
    /// unexpected port most plausibly indicates, if any.
    pub fn attack_technique(&self) -> Option<(&'static str, &'static str)> {
        match self {
            Protocol::Http => Some(("T1071.001", "Application Layer Protocol: Web Protocols")),
            Protocol::Ftp => Some((
                "T1071.002",
                "Application Layer Protocol: File Transfer Protocols",
            )),
            Protocol::Smtp | Protocol::Pop3 | Protocol::Imap => {
                Some(("T1071.003", "Application Layer Protocol: Mail Protocols"))
            }
            Protocol::Dns => Some(("T1071.004", "Application Layer Protocol: DNS")),
            Protocol::Irc => Some(("T1071", "Application Layer Protocol")),
            Protocol::Tls | Protocol::Ssh | Protocol::Quic => Some(("T1573", "Encrypted Channel")),
            Protocol::Socks4 | Protocol::Socks5 => Some(("T1090", "Proxy")),
            Protocol::Rdp => Some(("T1021.001", "Remote Services: Remote Desktop Protocol")),
            Protocol::Smb => Some(("T1021.002", "Remote Services: SMB/Windows Admin Shares")),
            Protocol::AnyDesk | Protocol::TeamViewer => Some(("T1219", "Remote Access Software")),
            Protocol::Vnc => Some(("T1021.005", "Remote Services: VNC")),
            Protocol::OpenVpn | Protocol::WireGuard => Some(("T1572", "Protocol Tunneling")),
            Protocol::Ldap | Protocol::Kerberos | Protocol::DceRpc => {
                Some(("T1071", "Application Layer Protocol"))
            }
            Protocol::Dtls => Some(("T1573", "Encrypted Channel")),
            Protocol::Bittorrent
            | Protocol::Gnutella
            | Protocol::Telnet
            | Protocol::Stun
            | Protocol::Rtp
            | Protocol::Rtcp
            | Protocol::DnsCrypt
            | Protocol::TeamSpeak
            | Protocol::Steam
            | Protocol::Spotify
            | Protocol::Text
            | Protocol::Binary
            | Protocol::Encrypted
            | Protocol::Empty => None,
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure the recogniser is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    /// Lower-case name, identical to the serde representation.
    pub fn as_str(&self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// Which side of the flow the evidence came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The flow's initiator.
    Client,
    /// The responder.
    Server,
}

impl Direction {
    /// Lower-case name, identical to the serde representation.
    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::Client => "client",
            Direction::Server => "server",
        }
    }
}

/// Which bytes matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub direction: Direction,
    /// Offset of the matched bytes within that direction's buffer.
    pub offset: usize,
    /// Number of matched bytes (only bytes actually present are counted).
    pub len: usize,
    /// Lower-case hex of the matched bytes, at most 32 bytes' worth.
    pub hex: String,
    /// The rule that matched, e.g. "ssh banner 'SSH-2.0-' at offset 0".
    pub rule: &'static str,
}

impl Evidence {
    /// Evidence for `data[offset..offset + len]`, clamped to what exists.
    pub(crate) fn new(
        direction: Direction,
        data: &[u8],
        offset: usize,
        len: usize,
        rule: &'static str,
    ) -> Self {
        let start = offset.min(data.len());
        let end = start.saturating_add(len).min(data.len());
        let matched = data.get(start..end).unwrap_or(&[]);
        let shown = matched.get(..util::EVIDENCE_HEX_BYTES).unwrap_or(matched);
        Evidence {
            direction,
            offset: start,
            len: matched.len(),
            hex: util::hex(shown),
            rule,
        }
    }
}

/// The verdict on one flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Identification {
    pub protocol: Protocol,
    pub confidence: Confidence,
    /// One sanitised line for humans, at most [`MAX_SUMMARY_CHARS`] chars.
    pub summary: String,
    /// Extracted values (sanitised, at most [`MAX_FIELD_CHARS`] chars each),
    /// keyed like `http.host`, `tls.sni`, `ssh.banner`, `entropy`.
    pub fields: Vec<(String, String)>,
    pub evidence: Evidence,
}

impl Identification {
    pub(crate) fn new(
        protocol: Protocol,
        confidence: Confidence,
        summary: &str,
        evidence: Evidence,
    ) -> Self {
        Identification {
            protocol,
            confidence,
            summary: util::cap_chars(summary, MAX_SUMMARY_CHARS),
            fields: Vec::new(),
            evidence,
        }
    }

    /// Adds a field whose value comes from captured bytes (sanitised).
    pub(crate) fn push_bytes(&mut self, key: &str, value: &[u8]) {
        self.fields
            .push((key.to_owned(), sanitize(value, MAX_FIELD_CHARS)));
    }

    /// Adds a field whose value is already a string (sanitised anyway, in
    /// case it embeds captured text).
    pub(crate) fn push(&mut self, key: &str, value: &str) {
        self.push_bytes(key, value.as_bytes());
    }

    /// The first value of field `key`, if any.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Identifies the application protocol of a flow from the first payload
/// bytes of each direction: `client` is what the initiator sent, `server`
/// what the responder sent (each concatenated in order, possibly truncated).
/// Never panics, whatever the input.
pub fn identify(transport: Transport, client: &[u8], server: &[u8]) -> Identification {
    if client.is_empty() && server.is_empty() {
        return fallback::empty();
    }
    let tcp = transport == Transport::Tcp;
    let c = Direction::Client;
    let s = Direction::Server;

    // 0. What listens on a port is what the server says: an SSH server's
    // banner wins over whatever the client sent (a web request to an SSH
    // server is still an SSH server).
    if tcp
        && !client.starts_with(b"SSH-")
        && let Some(mut id) = ssh::banner(s, server)
    {
        ssh::enrich_with_client(&mut id, client);
        return id;
    }

    // 1. Highly structured client requests.
    if tcp && let Some(mut id) = tls::client_hello(c, client) {
        tls::enrich_with_server(&mut id, server);
        return remote::anydesk_from_tls(id, client, server);
    }
    if let Some(mut id) = http::request(c, client) {
        http::enrich_with_response(&mut id, server);
        return id;
    }
    if tcp {
        if let Some(mut id) = dns::tcp(c, client) {
            dns::enrich_with_response(&mut id, server, true);
            return id;
        }
        if let Some(id) = proxy::socks4(c, client, server) {
            return id;
        }
        if let Some(id) = proxy::socks5(c, client, server) {
            return id;
        }
        if let Some(id) = windows::rdp(c, client) {
            return id;
        }
        if let Some(id) = windows::smb(c, client) {
            return id;
        }
        if let Some(id) = misc::bittorrent(c, client) {
            return id;
        }
        if let Some(id) = misc::gnutella(c, client) {
            return id;
        }
        if let Some(id) = client_tcp_apps(client, server) {
            return id;
        }
    } else {
        if let Some(id) = quic::initial(c, client) {
            return id;
        }
        if let Some(mut id) = dns::udp(c, client) {
            dns::enrich_with_response(&mut id, server, false);
            return apps::from_dns(id);
        }
        if let Some(id) = udp_apps(c, client, server) {
            return id;
        }
    }

    // 2. Server banners and responses.
    if tcp {
        if let Some(mut id) = ssh::banner(s, server) {
            ssh::enrich_with_client(&mut id, client);
            return id;
        }
        if let Some(id) = banner::greeting_220(server, client) {
            return id;
        }
        if banner::pop3_client_consistent(client)
            && let Some(mut id) = banner::pop3(s, server)
        {
            banner::enrich_pop3(&mut id, client);
            return id;
        }
        if let Some(id) = banner::imap_server(s, server) {
            return id;
        }
        if let Some(id) = irc::server(s, server) {
            return id;
        }
        if let Some(id) = remote::vnc(s, server) {
            return id;
        }
    }
    if let Some(id) = http::response(s, server) {
        return id;
    }
    if tcp {
        if let Some(id) = tls::server_hello(s, server) {
            return remote::anydesk_from_tls(id, client, server);
        }
        if let Some(id) = windows::smb(s, server) {
            return id;
        }
        if let Some(id) = misc::bittorrent(s, server) {
            return id;
        }
        if let Some(id) = misc::gnutella(s, server) {
            return id;
        }
        if let Some(id) = misc::telnet(s, server) {
            return id;
        }
        if let Some(id) = dns::tcp(s, server) {
            return id;
        }
        if let Some(id) = server_tcp_apps(server) {
            return id;
        }
    } else {
        if let Some(id) = dns::udp(s, server) {
            return apps::from_dns(id);
        }
        if let Some(id) = quic::initial(s, server) {
            return id;
        }
        if let Some(id) = udp_apps(s, server, client) {
            return id;
        }
    }

    // 3. Client commands of server-first protocols.
    if tcp {
        if let Some(id) = ssh::banner(c, client) {
            return id;
        }
        if let Some(id) = banner::smtp_client(c, client) {
            return id;
        }
        if let Some(id) = banner::imap_client(c, client) {
            return id;
        }
        if let Some(id) = irc::client(c, client) {
            return id;
        }
        if let Some(id) = banner::ftp_client(c, client) {
            return id;
        }
        if let Some(id) = misc::telnet(c, client) {
            return id;
        }
        if let Some(id) = remote::vnc(c, client) {
            return id;
        }
    }

    // 4. Nothing recognised.
    fallback::classify(client, server)
}

/// Client-first TCP applications (stage 1), strongest rules first.
fn client_tcp_apps(client: &[u8], server: &[u8]) -> Option<Identification> {
    let c = Direction::Client;
    vpn::openvpn(true, client, server)
        .or_else(|| remote::teamviewer(client, server))
        .or_else(|| apps::dnscrypt(true, client, server))
        .or_else(|| enterprise::kerberos(true, c, client))
        .or_else(|| enterprise::ldap(c, client))
        .or_else(|| enterprise::dcerpc(true, c, client))
        .or_else(|| media::stun(c, client))
        .or_else(|| apps::spotify(true, client, server))
}

/// Server replies of TCP applications (stage 2).
fn server_tcp_apps(server: &[u8]) -> Option<Identification> {
    let s = Direction::Server;
    enterprise::kerberos(true, s, server)
        .or_else(|| enterprise::ldap(s, server))
        .or_else(|| enterprise::dcerpc(true, s, server))
        .or_else(|| media::stun(s, server))
}

/// UDP applications, from one side's first datagrams (`first`) with the
/// other side's (`other`) where a rule needs both. Called for the client
/// side, then for the server side with the roles swapped: which end of a
/// UDP flow spoke first is not always which end opened the session (a
/// capture may start mid-way), so the rules that pair an opening message
/// with its answer are tried both ways.
fn udp_apps(dir: Direction, first: &[u8], other: &[u8]) -> Option<Identification> {
    let pair = |f: fn(&[u8], &[u8]) -> Option<Identification>| {
        f(first, other).map(|mut id| {
            id.evidence.direction = dir;
            id
        })
    };
    media::stun(dir, first)
        .or_else(|| media::dtls(dir, first))
        .or_else(|| pair(vpn::wireguard))
        .or_else(|| pair(|c, s| vpn::openvpn(false, c, s)))
        .or_else(|| pair(p2p::utp))
        .or_else(|| p2p::dht(dir, first))
        .or_else(|| apps::teamspeak(dir, first))
        .or_else(|| apps::steam(dir, first))
        .or_else(|| pair(|c, s| apps::spotify(false, c, s)))
        .or_else(|| {
            if dir == Direction::Client {
                apps::dnscrypt(false, first, other)
            } else {
                apps::dnscrypt(false, other, first)
            }
        })
        .or_else(|| enterprise::kerberos(false, dir, first))
        .or_else(|| enterprise::ldap(dir, first))
        .or_else(|| media::rtcp(dir, first))
        .or_else(|| media::rtp(dir, first))
        .or_else(|| enterprise::dcerpc(false, dir, first))
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests;
