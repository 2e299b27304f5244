//! Community ID v1 (<https://github.com/corelight/community-id-spec>): a
//! direction-free flow hash that Zeek, Suricata, Wireshark, Arkime and most
//! SIEMs compute the same way, so a finding can be pivoted on across tools.
//!
//! `"1:" + base64(sha1(seed_be16 · saddr · daddr · proto · 0 · sport_be16 · dport_be16))`,
//! where the endpoints are ordered so that the smaller (address, port) comes
//! first (addresses compared as network-order bytes, then ports).

use std::net::IpAddr;

use base64::Engine;
use sha1::{Digest, Sha1};

use crate::Transport;

fn addr_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// The Community ID v1 of a TCP/UDP flow with the given seed (0 is the
/// standard one). Either direction of the flow gives the same ID. Mixed
/// address families (never produced by the decoder) hash what is given.
pub fn community_id_v1(
    seed: u16,
    transport: Transport,
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
) -> String {
    let (s, d) = (addr_bytes(&src), addr_bytes(&dst));
    let ordered = (s.as_slice(), sport) <= (d.as_slice(), dport);
    let (a, ap, b, bp) = if ordered {
        (s, sport, d, dport)
    } else {
        (d, dport, s, sport)
    };
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(&a);
    h.update(&b);
    h.update([transport.ip_number(), 0]);
    h.update(ap.to_be_bytes());
    h.update(bp.to_be_bytes());
    let digest = h.finalize();
    format!(
        "1:{}",
        base64::engine::general_purpose::STANDARD.encode(digest.as_slice())
    )
}

/// The standard (seed 0) Community ID.
pub fn of_flow(transport: Transport, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> String {
    community_id_v1(0, transport, src, sport, dst, dport)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Transport::{Tcp, Udp};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The spec's published vectors (community-id-spec baseline, also in
    /// Zeek's `community_id_v1` tests), seeds 0 and 1, both directions.
    #[test]
    fn published_vectors() {
        let cases = [
            (0, Tcp, "1:wCb3OG7yAFWelaUydu0D+125CLM="),
            (0, Udp, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="),
            (1, Tcp, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="),
            (1, Udp, "1:OShq+iKDAMVouh/4bMxB9Sz4amw="),
        ];
        for (seed, t, want) in cases {
            let a = community_id_v1(seed, t, ip("1.2.3.4"), 1122, ip("5.6.7.8"), 3344);
            let b = community_id_v1(seed, t, ip("5.6.7.8"), 3344, ip("1.2.3.4"), 1122);
            assert_eq!(a, want, "seed {seed} {t}");
            assert_eq!(b, want, "seed {seed} {t} reversed");
        }
    }

    /// Vectors computed with the reference Python implementation
    /// (`pip install communityid`, `CommunityID(seed).calc(FlowTuple(...))`):
    /// IPv6, a fixture flow, and equal addresses (ordered by port).
    #[test]
    fn reference_implementation_vectors() {
        let cases = [
            (
                0,
                Tcp,
                "2001:db8::10",
                51501,
                "2001:db8::2",
                386,
                "1:p7qRxQh2ZIkhldlaGCU32m4RdNs=",
            ),
            (
                0,
                Udp,
                "2001:db8::10",
                51501,
                "2001:db8::2",
                386,
                "1:FnKYnlpEKyGipxdR5FNd04/qFsY=",
            ),
            (
                1,
                Tcp,
                "2001:db8::10",
                51501,
                "2001:db8::2",
                386,
                "1:IhdWEmIkjMaa1ZzsSyGk1rAIUxU=",
            ),
            (
                1,
                Udp,
                "2001:db8::10",
                51501,
                "2001:db8::2",
                386,
                "1:VOLikG9C69+1BP/xpcC8D1uMDgM=",
            ),
            (
                0,
                Tcp,
                "192.0.2.10",
                49701,
                "203.0.113.84",
                384,
                "1:mNurlOgcQbT6IgXopupb27W9CxE=",
            ),
            (
                0,
                Tcp,
                "10.0.0.1",
                5000,
                "10.0.0.1",
                80,
                "1:LD76GfTIBU2lu/ZefEgEGuuBPew=",
            ),
            (
                1,
                Tcp,
                "10.0.0.1",
                5000,
                "10.0.0.1",
                80,
                "1:mQCAMcANuYmc70zBQUulDWDG/iE=",
            ),
        ];
        for (seed, t, s, sp, d, dp, want) in cases {
            assert_eq!(
                community_id_v1(seed, t, ip(s), sp, ip(d), dp),
                want,
                "{s} {d}"
            );
            assert_eq!(
                community_id_v1(seed, t, ip(d), dp, ip(s), sp),
                want,
                "{d} {s}"
            );
        }
    }
}
