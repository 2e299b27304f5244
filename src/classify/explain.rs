//! The "explained" outcome: a ghost-port finding whose traffic has an
//! innocent explanation keeps its place in the report, with the reason, at
//! a low severity (documented in `docs/detections.md`).
//!
//! Two things explain a finding:
//!
//! * **a recognised application that picks its own ports** (calls, P2P,
//!   encrypted DNS, games; see [`crate::identify::known_application`]):
//!   every flow with payload on the endpoint must be recognised as one, with
//!   medium or high confidence. Such a finding is scored at most
//!   [`BENIGN_APPLICATION_MAX`] (low). Dual-use remote-access and tunnel
//!   tools (AnyDesk, TeamViewer, VNC, OpenVPN, WireGuard) are *named*
//!   instead, and scored medium ([`DUAL_USE_MIN`]..=[`DUAL_USE_MAX`]);
//! * **a port announced by a control channel** earlier in the capture
//!   (rpcbind, MSRPC endpoint mapper, FTP, SIP/SDP, RTSP, TFTP): every flow
//!   of the endpoint must have been announced. Scored at most
//!   [`NEGOTIATED_MAX`] (info).

use serde::Serialize;

use super::SeenProtocol;
use super::severity::{Severity, SeverityLevel};
use crate::identify::negotiate::{Announcement, ControlFlow};
use crate::identify::{Confidence, Protocol, Standing, known_application};

/// Highest score of a finding explained by a benign application (low).
pub const BENIGN_APPLICATION_MAX: u32 = 20;
/// Highest score of a finding whose port was negotiated (info).
pub const NEGOTIATED_MAX: u32 = 10;
/// Dual-use tools are scored within this band (medium).
pub const DUAL_USE_MIN: u32 = 40;
/// See [`DUAL_USE_MIN`].
pub const DUAL_USE_MAX: u32 = 55;

/// What explained a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExplainedBy {
    /// The payload is a recognised application.
    Application,
    /// A control channel announced the port.
    NegotiatedPort,
}

/// Why a finding is expected traffic (or, for dual-use tools, what it is).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// What explained it.
    pub by: ExplainedBy,
    /// Benign (collapsed in reports) or dual-use (named, medium).
    pub standing: Standing,
    /// The application or control protocol ("STUN", "AnyDesk", "rpcbind").
    pub application: String,
    /// One line for humans.
    pub reason: String,
    /// For a negotiated port: the control flow that announced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control: Option<ControlFlow>,
}

impl Explanation {
    /// Benign explanations are shown collapsed; dual-use tools are not.
    pub fn collapsed(&self) -> bool {
        self.standing == Standing::Benign
    }
}

/// The application explanation of an endpoint's payload identifications,
/// if every one of them is a known application recognised with at least
/// medium confidence.
pub(super) fn by_application(protos: &[SeenProtocol]) -> Option<Explanation> {
    let seen: Vec<&SeenProtocol> = protos
        .iter()
        .filter(|p| p.identification.protocol != Protocol::Empty)
        .collect();
    if seen.is_empty() {
        return None;
    }
    let mut apps = Vec::new();
    for p in &seen {
        let id = &p.identification;
        let app = known_application(id.protocol)?;
        if id.confidence < Confidence::Medium {
            return None;
        }
        apps.push((app, id));
    }
    let (app, id) = apps
        .iter()
        .find(|(a, _)| a.standing == Standing::DualUse)
        .or_else(|| apps.first())?;
    let mut names: Vec<&str> = apps.iter().map(|(a, _)| a.name).collect();
    names.dedup();
    let reason = match app.standing {
        Standing::Benign => format!(
            "the traffic is {} ({}); {} is {}",
            names.join(" and "),
            id.summary,
            app.name,
            app.why
        ),
        Standing::DualUse => format!("the traffic is {} ({}): {}", app.name, id.summary, app.why),
    };
    Some(Explanation {
        by: ExplainedBy::Application,
        standing: app.standing,
        application: app.name.to_owned(),
        reason,
        control: None,
    })
}

/// The explanation of a finding whose every flow went to a port a control
/// channel announced first.
pub(super) fn by_negotiation(a: &Announcement) -> Explanation {
    let c = &a.control;
    let mut control = c.clone();
    control.community_id =
        crate::community_id::of_flow(c.transport, c.from.ip, c.from.port, c.to.ip, c.to.port);
    let reason = format!(
        "port announced by {} in flow {} ({} → {}/{}) at {}: {}",
        a.by,
        control.community_id,
        endpoint(c.from.ip, c.from.port),
        endpoint(c.to.ip, c.to.port),
        c.transport,
        crate::timefmt::rfc3339_micros(c.ts),
        a.detail
    );
    Explanation {
        by: ExplainedBy::NegotiatedPort,
        standing: Standing::Benign,
        application: a.by.to_owned(),
        reason,
        control: Some(control),
    }
}

fn endpoint(ip: std::net::IpAddr, port: u16) -> String {
    match ip {
        std::net::IpAddr::V4(a) => format!("{a}:{port}"),
        std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// Which explanation a finding gets: a dual-use tool is always named; else
/// a negotiated port (the stronger evidence: the capture shows the
/// announcement); else a benign application.
pub(super) fn choose(
    app: Option<Explanation>,
    negotiated: Option<Explanation>,
) -> Option<Explanation> {
    match (app, negotiated) {
        (Some(a), _) if a.standing == Standing::DualUse => Some(a),
        (_, Some(n)) => Some(n),
        (a, None) => a,
    }
}

/// The severity of an explained finding: the computed one, capped (benign,
/// negotiated) or brought into the medium band (dual-use), with the step
/// listed among the reasons.
pub(super) fn apply(mut s: Severity, e: &Explanation) -> Severity {
    let (score, why) = match (e.by, e.standing) {
        (ExplainedBy::NegotiatedPort, _) => (
            s.score.min(NEGOTIATED_MAX),
            format!(
                "= at most {NEGOTIATED_MAX}: explained, the port was negotiated by {}",
                e.application
            ),
        ),
        (ExplainedBy::Application, Standing::Benign) => (
            s.score.min(BENIGN_APPLICATION_MAX),
            format!(
                "= at most {BENIGN_APPLICATION_MAX}: explained, the traffic is {}",
                e.application
            ),
        ),
        (ExplainedBy::Application, Standing::DualUse) => (
            s.score.clamp(DUAL_USE_MIN, DUAL_USE_MAX),
            format!(
                "= {DUAL_USE_MIN}..{DUAL_USE_MAX}: {} is a dual-use tool, named rather than alarmed on",
                e.application
            ),
        ),
    };
    s.score = score;
    s.level = SeverityLevel::of(score);
    s.reasons.push(why);
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::identify::identify;

    fn seen(client: &[u8], server: &[u8]) -> SeenProtocol {
        SeenProtocol {
            flows: 1,
            identification: identify(crate::Transport::Udp, client, server),
        }
    }

    fn stun() -> Vec<u8> {
        let mut m = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        m.extend_from_slice(&[9u8; 12]);
        m
    }

    #[test]
    fn stun_explains_but_stun_plus_unknown_does_not() {
        let e = by_application(&[seen(&stun(), &[])]).unwrap();
        assert_eq!(e.standing, Standing::Benign);
        assert!(e.reason.starts_with("the traffic is STUN"), "{}", e.reason);
        let other = seen(&[0x42; 300], &[]);
        assert!(by_application(&[seen(&stun(), &[]), other]).is_none());
        assert!(by_application(&[]).is_none());
    }

    #[test]
    fn caps_and_bands() {
        let sev = |score| Severity {
            level: SeverityLevel::of(score),
            score,
            reasons: vec![],
        };
        let e = by_application(&[seen(&stun(), &[])]).unwrap();
        let s = apply(sev(65), &e);
        assert_eq!((s.score, s.level), (20, SeverityLevel::Low));
        assert_eq!(s.reasons.len(), 1);
        let dual = Explanation {
            by: ExplainedBy::Application,
            standing: Standing::DualUse,
            application: "AnyDesk".into(),
            reason: "x".into(),
            control: None,
        };
        assert_eq!(apply(sev(80), &dual).level, SeverityLevel::Medium);
        assert_eq!(apply(sev(25), &dual).score, DUAL_USE_MIN);
        let neg = Explanation {
            by: ExplainedBy::NegotiatedPort,
            ..dual
        };
        assert_eq!(apply(sev(60), &neg).level, SeverityLevel::Info);
    }
}
