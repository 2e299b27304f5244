//! The severity model (documented with examples in `docs/detections.md`).
//!
//! A score from 0 to 100 is built from named contributions; every
//! contribution is listed as a reason, so the level can be defended.
//! Levels: critical ≥ 80, high ≥ 60, medium ≥ 40, low ≥ 20, info below.

use serde::Serialize;

use super::{Behaviour, FindingKind, FlowTotals, SeenProtocol};
use crate::identify::Protocol;
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

struct Builder {
    score: u32,
    reasons: Vec<String>,
}

impl Builder {
    fn add(&mut self, points: u32, why: impl Into<String>) {
        self.score += points;
        self.reasons.push(format!("+{points} {}", why.into()));
    }
    fn done(self) -> Severity {
        let score = self.score.min(100);
        Severity {
            level: SeverityLevel::of(score),
            score,
            reasons: self.reasons,
        }
    }
}

/// Points for the base state of a ghost-port endpoint.
pub const BASE_DATA_BOTH_WAYS: u32 = 60;
/// Answered (SYN-ACK or datagram back), no data both ways.
pub const BASE_ANSWERED: u32 = 45;
/// Attempt with no answer at all.
pub const BASE_UNANSWERED: u32 = 25;
/// Attempt refused by RST or ICMP unreachable.
pub const BASE_BLOCKED: u32 = 15;

pub(super) fn endpoint(
    kind: FindingKind,
    t: &FlowTotals,
    protos: &[SeenProtocol],
    behaviours: &[Behaviour],
    verdict: &Verdict,
) -> Severity {
    let mut b = Builder {
        score: 0,
        reasons: Vec::new(),
    };
    if kind == FindingKind::GhostSourcePort {
        b.add(35, "a ghost port used as source port towards a well-known service (possible firewall evasion)");
        return b.done();
    }
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
    let p2p = |p: &&SeenProtocol| {
        matches!(
            p.identification.protocol,
            Protocol::Bittorrent | Protocol::Gnutella
        )
    };
    if let Some(p) = protos
        .iter()
        .find(|p| p.identification.protocol.is_well_known_application() && !p2p(p))
    {
        b.add(
            20,
            format!(
                "the payload is {}, a well-known protocol tunnelled on a ghost port",
                p.identification.protocol.as_str().to_uppercase()
            ),
        );
    } else if let Some(p) = protos.iter().find(p2p) {
        b.add(
            5,
            format!(
                "the payload is {}, a peer-to-peer protocol that picks random ports: likely a P2P client, not a tunnel",
                p.identification.protocol.as_str()
            ),
        );
    } else if protos
        .iter()
        .any(|p| p.identification.protocol == Protocol::Encrypted)
    {
        b.add(
            5,
            "the payload looks encrypted or compressed (high entropy)",
        );
    }
    for beh in behaviours {
        match beh.kind {
            "beacon" => b.add(20, format!("beaconing: {}", beh.detail)),
            "long-lived" => b.add(10, format!("long-lived session: {}", beh.detail)),
            "high-volume" => b.add(10, format!("high-volume session: {}", beh.detail)),
            _ => {}
        }
    }
    if verdict.tags.iter().any(|t| t == "abused") {
        b.add(
            10,
            "the port is documented as used by malware (MITRE ATT&CK T1571)",
        );
    }
    if verdict
        .tags
        .iter()
        .any(|t| t == "unauthorized-use-reported")
    {
        b.add(5, "IANA records unauthorized use of this port");
    }
    b.done()
}

pub(super) fn sweep(answered_targets: usize) -> Severity {
    let mut b = Builder {
        score: 0,
        reasons: Vec::new(),
    };
    b.add(
        40,
        "one source touched many ghost ports or hosts (scan/sweep)",
    );
    if answered_targets > 0 {
        b.add(10, format!("{answered_targets} target(s) answered"));
    }
    b.done()
}
