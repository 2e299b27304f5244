//! ghostport: find traffic hiding on ghost ports.
//!
//! A ghost port is a TCP/UDP port that IANA assigned to a service that never
//! shipped: nothing legitimate should speak there, so traffic on it is
//! something else wearing its number. The library is a pipeline whose modules
//! follow the data:
//!
//! [`capture`] (files, live interfaces → frames) → [`decode`] (link layer +
//! etherparse → borrowed packet view) → [`flow`] (bounded bidirectional
//! table) → [`identify`] (what the payload really speaks) → [`knowledge`]
//! (port registry, verdicts with reasons) → [`classify`] (findings, severity)
//! → [`report`] (text, JSON, ...). [`analysis`] wires the stages together and
//! [`cli`] is the command line on top.

#![deny(unsafe_code)]
// Input from a capture or a user must end as an error, never a panic: no
// unwrap/expect/panic! outside tests (clippy in CI enforces it).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod analysis;
pub mod capture;
pub mod classify;
pub mod cli;
pub mod community_id;
pub mod decode;
pub mod flow;
pub mod identify;
pub mod knowledge;
pub mod live;
pub mod records;
pub mod report;
pub mod safefile;
pub mod timefmt;

use serde::{Deserialize, Serialize};

/// Transport protocol of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TCP (IP protocol 6).
    Tcp,
    /// UDP (IP protocol 17).
    Udp,
}

impl Transport {
    /// "tcp" or "udp".
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }

    /// IANA protocol number.
    pub fn ip_number(self) -> u8 {
        match self {
            Transport::Tcp => 6,
            Transport::Udp => 17,
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
