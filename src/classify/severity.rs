//! The severity model (documented with examples in `docs/detections.md`).
//!
//! A score from 0 to 100 is built from named contributions ([`Rule`]s);
//! every contribution is listed as a reason, so the level can be defended.
//! Levels: critical ≥ 80, high ≥ 60, medium ≥ 40, low ≥ 20, info below.
//!
//! Every rule is a constant in [`RULES`] with its name, points and a
//! one-line description; `docs/detections.md` carries the same table (a
//! test checks that it does).

use serde::Serialize;

use super::{Behaviour, FindingKind, FlowTotals, SeenProtocol};
use crate::identify::Protocol;
use crate::identify::content::{Indicator, IndicatorKind};
use crate::knowledge::Verdict;

/// Severity level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SeverityLevel {
    /// Below 20.
    Info,
    /// 20-39.
    Low,
    /// 40-59.
    Medium,
    /// 60-79.
    High,
    /// 80 and above.
    Critical,
}

impl SeverityLevel {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SeverityLevel::Info => "info",
            SeverityLevel::Low => "low",
            SeverityLevel::Medium => "medium",
            SeverityLevel::High => "high",
            SeverityLevel::Critical => "critical",
        }
    }

    pub(super) fn of(score: u32) -> SeverityLevel {
        match score {
            80.. => SeverityLevel::Critical,
            60..=79 => SeverityLevel::High,
            40..=59 => SeverityLevel::Medium,
            20..=39 => SeverityLevel::Low,
            _ => SeverityLevel::Info,
        }
    }
}

/// A severity with the contributions that made it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Severity {
    /// Level.
    pub level: SeverityLevel,
    /// Score 0-100.
    pub score: u32,
    /// One line per contribution, e.g. "+20 the payload is SSH, a well-known protocol, on a ghost port".
    pub reasons: Vec<String>,
}

/// One named, documented contribution to a score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Machine name (stable; used in docs and tests).
    pub name: &'static str,
    /// Points added (negative: removed).
    pub points: i32,
    /// What it means, one line (the docs table's text).
    pub doc: &'static str,
}

macro_rules! rules {
    ($($(#[$m:meta])* $id:ident = ($name:expr, $pts:expr, $doc:expr);)*) => {
        $($(#[$m])* pub const $id: Rule = Rule { name: $name, points: $pts, doc: $doc };)*
        /// Every rule, in the order of the docs table.
        pub const RULES: &[Rule] = &[$($id),*];
    };
}

rules! {
    /// Ghost port: answered, data both ways.
    BASE_DATA_BOTH_WAYS = ("ghost-data-both-ways", 60, "base: the ghost port answered and data flowed both ways");
    /// Ghost port: answered, no data both ways.
    BASE_ANSWERED = ("ghost-answered", 45, "base: the ghost port answered (a server is present)");
    /// Ghost port: attempts, no answer.
    BASE_UNANSWERED = ("ghost-unanswered", 25, "base: attempts to a ghost port, no answer seen");
    /// Ghost port: refused.
    BASE_BLOCKED = ("ghost-blocked", 15, "base: attempts refused (RST) or ICMP unreachable");
    /// Unregistered service: data both ways.
    UNREG_DATA_BOTH_WAYS = ("unregistered-data-both-ways", 30, "base: a server on a port IANA never assigned answered and data flowed both ways");
    /// Unregistered service: one way.
    UNREG_ONE_WAY = ("unregistered-one-way", 25, "base: a one-way stream carrying data to or from a port IANA never assigned");
    /// Unregistered service: answered only.
    UNREG_ANSWERED = ("unregistered-answered", 15, "base: a server on a port IANA never assigned answered, no data");
    /// Port mismatch.
    MISMATCH = ("port-mismatch", 30, "base: a recognised protocol on a port implemented for a different protocol");
    /// Ghost source port.
    GHOST_SOURCE_PORT = ("ghost-source-port", 35, "base: a ghost port below 1024 used as source port towards a well-known service");
    /// Sweep.
    SWEEP = ("sweep", 40, "base: one source touched many ghost ports or hosts");
    /// Sweep with answers.
    SWEEP_ANSWERED = ("sweep-answered", 10, "a target of the sweep answered");
    /// A well-known protocol tunnelled on a ghost port.
    WELL_KNOWN_ON_GHOST = ("well-known-protocol", 20, "the payload is a well-known protocol (SSH, TLS, HTTP, ...) on a ghost port");
    /// A well-known protocol on an unregistered port.
    WELL_KNOWN_ON_UNREGISTERED = ("well-known-protocol-unregistered", 10, "the payload is a well-known protocol other than HTTP (SSH, TLS, FTP, IRC, ...) on a port IANA never assigned (web servers on arbitrary ports are too common to count)");
    /// P2P.
    P2P = ("p2p", 5, "the payload is a P2P protocol (BitTorrent, Gnutella), which picks random ports");
    /// High entropy.
    ENCRYPTED = ("high-entropy", 5, "the payload looks encrypted or compressed (high entropy)");
    /// Interactive shell text.
    SHELL_TEXT = ("shell-text", 30, "interactive shell text: a cmd.exe or sh banner, a prompt, or an intrusion command line");
    /// Check-in message.
    CHECK_IN = ("check-in", 25, "a delimiter- or JSON-formatted check-in carrying host, user or OS strings");
    /// Executable transfer.
    EXECUTABLE = ("executable", 20, "an executable crossed the connection (PE/MZ, ELF, Mach-O header, or a transfer command naming an .exe/.dll/.ps1/... file)");
    /// Monero P2P.
    MONERO = ("monero-p2p", 15, "a Monero node's P2P handshake (levin): cryptocurrency mining or a node");
    /// TLS with no SNI.
    TLS_NO_SNI = ("tls-no-sni", 10, "a complete TLS ClientHello without SNI: the client connected to a bare IP address");
    /// Beaconing.
    BEACON = ("beacon", 20, "beaconing: one client reconnects at a regular interval (low jitter)");
    /// Repeated sessions.
    REPEATED = ("repeated-sessions", 10, "many repeated sessions from one client (at least repeated_sessions_min)");
    /// Long-lived session.
    LONG_LIVED = ("long-lived", 10, "a session lasted at least long_session_s");
    /// High-volume session.
    HIGH_VOLUME = ("high-volume", 10, "a session moved at least high_volume_bytes");
    /// ATT&CK abused port.
    ABUSED_PORT = ("abused-port", 10, "the port is documented as used by malware (MITRE ATT&CK T1571 data)");
    /// IANA unauthorized use.
    UNAUTHORIZED_USE = ("unauthorized-use", 5, "IANA records unauthorized use of the port");
    /// Short unknown UDP exchange.
    SHORT_UDP = ("short-udp-exchange", -10, "a short unknown UDP exchange on a port IANA never assigned (at most 4 datagrams a flow, nothing recognised)");
}

struct Builder {
    score: i32,
    reasons: Vec<String>,
}

impl Builder {
    fn new() -> Self {
        Builder {
            score: 0,
            reasons: Vec::new(),
        }
    }
    fn add(&mut self, rule: Rule, why: impl Into<String>) {
        self.score += rule.points;
        let sign = if rule.points < 0 { "" } else { "+" };
        self.reasons.push(format!(
            "{sign}{} {} [{}]",
            rule.points,
            why.into(),
            rule.name
        ));
    }
    fn done(self) -> Severity {
        let score = self.score.clamp(0, 100) as u32;
        Severity {
            level: SeverityLevel::of(score),
            score,
            reasons: self.reasons,
        }
    }
}

/// Everything the endpoint model looks at.
pub(super) struct Input<'a> {
    pub kind: FindingKind,
    pub totals: &'a FlowTotals,
    pub protocols: &'a [SeenProtocol],
    pub behaviours: &'a [Behaviour],
    pub verdict: &'a Verdict,
    pub indicators: &'a [Indicator],
    /// Most flows from one client.
    pub max_sessions_per_client: usize,
    /// Threshold for [`REPEATED`].
    pub repeated_sessions_min: usize,
    /// Most packets (both ways) in one flow.
    pub max_flow_packets: u64,
    /// UDP endpoint.
    pub udp: bool,
    /// Port mismatch: the protocol the port is implemented for.
    pub expected: Option<&'static str>,
}

pub(super) fn endpoint(i: &Input<'_>) -> Severity {
    let mut b = Builder::new();
    let t = i.totals;
    match i.kind {
        FindingKind::GhostSourcePort => {
            b.add(
                GHOST_SOURCE_PORT,
                "a ghost port used as source port towards a well-known service (possible firewall evasion)",
            );
            return b.done();
        }
        FindingKind::GhostPort | FindingKind::Sweep => {
            if t.data_exchanged > 0 {
                b.add(
                    BASE_DATA_BOTH_WAYS,
                    "the ghost port answered and data flowed both ways",
                );
            } else if t.answered > 0 {
                b.add(
                    BASE_ANSWERED,
                    "the ghost port answered (a server is present)",
                );
            } else if t.rejected > 0 || t.icmp_errors > 0 {
                b.add(
                    BASE_BLOCKED,
                    "attempts were refused (RST) or unreachable (ICMP): blocked or dead",
                );
            } else {
                b.add(BASE_UNANSWERED, "attempts to a ghost port, no answer seen");
            }
        }
        FindingKind::UnregisteredService => {
            if t.data_exchanged > 0 {
                b.add(
                    UNREG_DATA_BOTH_WAYS,
                    "a server on a port IANA never assigned answered and data flowed both ways",
                );
            } else if t.c2s.payload_bytes > 0 || t.s2c.payload_bytes > 0 {
                b.add(
                    UNREG_ONE_WAY,
                    "a one-way stream carried data on a port IANA never assigned",
                );
            } else {
                b.add(
                    UNREG_ANSWERED,
                    "a server on a port IANA never assigned answered (no data)",
                );
            }
        }
        FindingKind::PortMismatch => {
            let seen = i
                .protocols
                .iter()
                .find(|p| p.identification.protocol.is_well_known_application())
                .map_or("?", |p| p.identification.protocol.as_str());
            b.add(
                MISMATCH,
                format!(
                    "the port is implemented for {}, the traffic is {}",
                    i.expected.unwrap_or("another protocol"),
                    seen.to_uppercase()
                ),
            );
        }
    }
    protocol_rules(&mut b, i);
    content_rules(&mut b, i);
    for beh in i.behaviours {
        match beh.kind {
            "beacon" => b.add(BEACON, format!("beaconing: {}", beh.detail)),
            "long-lived" => b.add(LONG_LIVED, format!("long-lived session: {}", beh.detail)),
            "high-volume" => b.add(HIGH_VOLUME, format!("high-volume session: {}", beh.detail)),
            _ => {}
        }
    }
    if i.max_sessions_per_client >= i.repeated_sessions_min.max(2)
        && !i.behaviours.iter().any(|b| b.kind == "beacon")
    {
        b.add(
            REPEATED,
            format!("{} sessions from one client", i.max_sessions_per_client),
        );
    }
    if i.verdict.tags.iter().any(|t| t == "abused") {
        b.add(
            ABUSED_PORT,
            "the port is documented as used by malware (MITRE ATT&CK T1571)",
        );
    }
    if i.verdict
        .tags
        .iter()
        .any(|t| t == "unauthorized-use-reported")
    {
        b.add(
            UNAUTHORIZED_USE,
            "IANA records unauthorized use of this port",
        );
    }
    let recognised = i
        .protocols
        .iter()
        .any(|p| p.identification.protocol.is_well_known_application());
    if i.udp
        && !recognised
        && i.indicators.is_empty()
        && t.flows > 0
        && i.max_flow_packets <= 4
        && i.kind == FindingKind::UnregisteredService
    {
        b.add(
            SHORT_UDP,
            format!(
                "short unknown UDP exchange: at most {} datagram(s) a flow",
                i.max_flow_packets
            ),
        );
    }
    b.done()
}

fn protocol_rules(b: &mut Builder, i: &Input<'_>) {
    let p2p = |p: &&SeenProtocol| {
        matches!(
            p.identification.protocol,
            Protocol::Bittorrent | Protocol::Gnutella
        )
    };
    let known = i
        .protocols
        .iter()
        .find(|p| p.identification.protocol.is_well_known_application() && !p2p(p));
    match (i.kind, known) {
        (FindingKind::GhostPort, Some(p)) => b.add(
            WELL_KNOWN_ON_GHOST,
            format!(
                "the payload is {}, a well-known protocol tunnelled on a ghost port",
                p.identification.protocol.as_str().to_uppercase()
            ),
        ),
        (FindingKind::UnregisteredService, Some(p))
            if p.identification.protocol != Protocol::Http =>
        {
            b.add(
                WELL_KNOWN_ON_UNREGISTERED,
                format!(
                    "the payload is {}, a well-known protocol on a port IANA never assigned",
                    p.identification.protocol.as_str().to_uppercase()
                ),
            )
        }
        (FindingKind::PortMismatch | FindingKind::UnregisteredService, Some(_)) => {}
        _ => {
            if let Some(p) = i.protocols.iter().find(p2p) {
                b.add(
                    P2P,
                    format!(
                        "the payload is {}, a peer-to-peer protocol that picks random ports: likely a P2P client, not a tunnel",
                        p.identification.protocol.as_str()
                    ),
                );
            } else if i
                .protocols
                .iter()
                .any(|p| p.identification.protocol == Protocol::Encrypted)
                && i.indicators.is_empty()
            {
                b.add(
                    ENCRYPTED,
                    "the payload looks encrypted or compressed (high entropy)",
                );
            }
        }
    }
    // TLS to a bare IP: a complete ClientHello without SNI.
    if let Some(p) = i.protocols.iter().find(|p| {
        let id = &p.identification;
        id.protocol == Protocol::Tls
            && id.field("tls.handshake") == Some("client_hello")
            && id.field("tls.partial").is_none()
            && id.field("tls.sni").is_none()
    }) {
        b.add(
            TLS_NO_SNI,
            format!(
                "TLS ClientHello without SNI ({} flow(s)): the client connected to a bare IP address",
                p.flows
            ),
        );
    }
}

fn content_rules(b: &mut Builder, i: &Input<'_>) {
    let first = |k: IndicatorKind| i.indicators.iter().find(|x| x.kind == k);
    if let Some(x) = first(IndicatorKind::ShellText) {
        b.add(
            SHELL_TEXT,
            format!(
                "interactive shell text from the {} at offset {}: \"{}\"",
                x.direction.as_str(),
                x.offset,
                x.detail
            ),
        );
    }
    if let Some(x) = first(IndicatorKind::CheckIn) {
        b.add(
            CHECK_IN,
            format!(
                "a check-in with host/user/OS strings from the {}: \"{}\"",
                x.direction.as_str(),
                x.detail
            ),
        );
    }
    if let Some(x) = first(IndicatorKind::Executable) {
        b.add(
            EXECUTABLE,
            format!(
                "{} sent by the {} at offset {}",
                x.detail,
                x.direction.as_str(),
                x.offset
            ),
        );
    }
    if let Some(x) = first(IndicatorKind::MoneroP2p) {
        b.add(MONERO, format!("Monero P2P: {}", x.detail));
    }
}

pub(super) fn sweep(answered_targets: usize) -> Severity {
    let mut b = Builder::new();
    b.add(
        SWEEP,
        "one source touched many ghost ports or hosts (scan/sweep)",
    );
    if answered_targets > 0 {
        b.add(
            SWEEP_ANSWERED,
            format!("{answered_targets} target(s) answered"),
        );
    }
    b.done()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Transport;
    use crate::identify::content::indicators;
    use crate::knowledge::KnowledgeBase;

    fn totals(both_ways: bool) -> FlowTotals {
        let mut t = FlowTotals {
            flows: 1,
            answered: 1,
            data_exchanged: u64::from(both_ways),
            ..FlowTotals::default()
        };
        t.c2s.payload_bytes = 100;
        t.s2c.payload_bytes = if both_ways { 100 } else { 0 };
        t
    }

    fn seen(client: &[u8], server: &[u8], transport: Transport) -> Vec<SeenProtocol> {
        vec![SeenProtocol {
            flows: 1,
            identification: crate::identify::identify(transport, client, server),
        }]
    }

    fn score(
        kind: FindingKind,
        t: &FlowTotals,
        protos: &[SeenProtocol],
        ind: &[Indicator],
    ) -> Severity {
        score_with(kind, t, protos, ind, &[], 1, 1)
    }

    fn score_with(
        kind: FindingKind,
        t: &FlowTotals,
        protos: &[SeenProtocol],
        ind: &[Indicator],
        behaviours: &[Behaviour],
        sessions: usize,
        packets: u64,
    ) -> Severity {
        let v = KnowledgeBase::builtin().verdict(15145, Transport::Tcp);
        endpoint(&Input {
            kind,
            totals: t,
            protocols: protos,
            behaviours,
            verdict: &v,
            indicators: ind,
            max_sessions_per_client: sessions,
            repeated_sessions_min: 10,
            max_flow_packets: packets,
            udp: false,
            expected: Some("HTTP"),
        })
    }

    fn hello(sni: Option<&[u8]>) -> Vec<u8> {
        let mut extensions = vec![0x000d, 0x002b];
        if sni.is_some() {
            extensions.insert(0, 0x0000);
        }
        crate::identify::testutil::build_client_hello(&crate::identify::testutil::ClientHelloSpec {
            ciphers: vec![0x1301, 0xc02f],
            extensions,
            sni: sni.map(<[u8]>::to_vec),
            alpn: vec![],
            supported_versions: vec![0x0304],
            sig_algs: vec![0x0403],
        })
    }

    fn has(s: &Severity, r: Rule) -> bool {
        s.reasons
            .iter()
            .any(|x| x.ends_with(&format!("[{}]", r.name)))
    }

    #[test]
    fn new_kinds_start_below_ghost_port() {
        for r in [
            UNREG_DATA_BOTH_WAYS,
            UNREG_ONE_WAY,
            UNREG_ANSWERED,
            MISMATCH,
        ] {
            assert!(
                r.points < BASE_ANSWERED.points && r.points < SeverityLevel::Medium as i32 * 20
            );
        }
        let s = score(FindingKind::UnregisteredService, &totals(true), &[], &[]);
        assert_eq!(s.score, 30);
        assert_eq!(s.level, SeverityLevel::Low);
        let s = score(FindingKind::UnregisteredService, &totals(false), &[], &[]);
        assert!(has(&s, UNREG_ONE_WAY));
    }

    #[test]
    fn shell_text_raises() {
        let c = b"Microsoft Windows [Version 6.1.7601]\r\n\r\nC:\\Users\\bob>";
        let ind = indicators(c, b"");
        let s = score(FindingKind::UnregisteredService, &totals(true), &[], &ind);
        assert!(has(&s, SHELL_TEXT), "{s:?}");
        assert_eq!(s.score, 30 + SHELL_TEXT.points as u32);
    }

    #[test]
    fn check_in_raises_instead_of_high_entropy() {
        let c = b"ANABILGI|192.168.126.143|US|rat1|NO|Administrator|XP|Windows XP Service Pack 3";
        let ind = indicators(c, b"");
        let s = score(
            FindingKind::GhostPort,
            &totals(true),
            &seen(c, b"", Transport::Tcp),
            &ind,
        );
        assert!(has(&s, CHECK_IN), "{s:?}");
        assert!(!has(&s, ENCRYPTED));
        assert_eq!(s.level, SeverityLevel::Critical);
    }

    #[test]
    fn executable_raises() {
        let mut pe = vec![0u8; 0x100];
        pe[..2].copy_from_slice(b"MZ");
        pe[0x3c] = 0x80;
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        let ind = indicators(b"", &pe);
        let s = score(FindingKind::UnregisteredService, &totals(true), &[], &ind);
        assert!(has(&s, EXECUTABLE));
        assert_eq!(s.score, 50);
    }

    #[test]
    fn monero_raises() {
        let d = [1u8, 0x21, 1, 1, 1, 1, 1, 1, 0, 0];
        let s = score(
            FindingKind::UnregisteredService,
            &totals(true),
            &[],
            &indicators(&d, b""),
        );
        assert!(has(&s, MONERO));
        assert_eq!(s.level, SeverityLevel::Medium);
    }

    #[test]
    fn tls_without_sni_raises_with_sni_does_not() {
        let h = hello(None);
        let s = score(
            FindingKind::UnregisteredService,
            &totals(true),
            &seen(&h, b"", Transport::Tcp),
            &[],
        );
        assert!(has(&s, TLS_NO_SNI), "{s:?}");
        let h = hello(Some(b"example.com"));
        let s = score(
            FindingKind::UnregisteredService,
            &totals(true),
            &seen(&h, b"", Transport::Tcp),
            &[],
        );
        assert!(!has(&s, TLS_NO_SNI), "{s:?}");
    }

    #[test]
    fn repeated_sessions_raise_unless_beaconing() {
        let t = totals(true);
        let s = score_with(FindingKind::UnregisteredService, &t, &[], &[], &[], 12, 10);
        assert!(has(&s, REPEATED));
        let s = score_with(FindingKind::UnregisteredService, &t, &[], &[], &[], 3, 10);
        assert!(!has(&s, REPEATED));
        let beacon = Behaviour {
            kind: "beacon",
            detail: "x".into(),
            evidence: Default::default(),
        };
        let s = score_with(
            FindingKind::UnregisteredService,
            &t,
            &[],
            &[],
            &[beacon],
            12,
            10,
        );
        assert!(has(&s, BEACON) && !has(&s, REPEATED));
    }

    #[test]
    fn short_unknown_udp_lowers() {
        let v = KnowledgeBase::builtin().verdict(15145, Transport::Udp);
        let t = totals(true);
        let mk = |packets, protos: &[SeenProtocol]| {
            endpoint(&Input {
                kind: FindingKind::UnregisteredService,
                totals: &t,
                protocols: protos,
                behaviours: &[],
                verdict: &v,
                indicators: &[],
                max_sessions_per_client: 1,
                repeated_sessions_min: 10,
                max_flow_packets: packets,
                udp: true,
                expected: None,
            })
        };
        let s = mk(2, &[]);
        assert!(has(&s, SHORT_UDP));
        assert_eq!(s.score, 20);
        assert!(!has(&mk(40, &[]), SHORT_UDP));
        let dns = seen(
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01",
            b"",
            Transport::Udp,
        );
        assert!(!has(&mk(2, &dns), SHORT_UDP));
    }

    #[test]
    fn mismatch_names_both_protocols() {
        let h = hello(None);
        let s = score(
            FindingKind::PortMismatch,
            &totals(true),
            &seen(&h, b"", Transport::Tcp),
            &[],
        );
        assert!(has(&s, MISMATCH));
        assert!(
            s.reasons[0].contains("implemented for HTTP, the traffic is TLS"),
            "{s:?}"
        );
    }

    #[test]
    fn every_rule_is_in_the_docs_table() {
        let doc = include_str!("../../docs/detections.md");
        let mut names = std::collections::BTreeSet::new();
        for r in RULES {
            assert!(names.insert(r.name), "duplicate rule name {}", r.name);
            let sign = if r.points < 0 { "" } else { "+" };
            let row = format!("| `{}` | {sign}{} |", r.name, r.points);
            assert!(doc.contains(&row), "docs/detections.md lacks the row {row}");
        }
    }
}
