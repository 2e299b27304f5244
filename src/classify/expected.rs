//! What protocol an implemented port is for, for `port-mismatch` findings.
//!
//! Only ports whose protocol is beyond doubt are listed: the IANA service
//! and every tool's default agree (HTTP on 80, TLS on 443, SSH on 22, DNS on
//! 53...). A recognised protocol outside the port's accepted set is a
//! mismatch: TLS or SSH on 80, HTTP on 53, TLS on 8888 (HTTP: Jupyter, Zeek's
//! `http` default), SSH on 443. Protocols that share a port by design are
//! accepted together (HTTP and TLS on 8080/8443 proxies, SMTP with
//! STARTTLS, RDP with its TLS upgrade, ...). Unknown payloads (text, binary,
//! high entropy) are never a mismatch: only a recogniser's answer counts.

use crate::Transport;
use crate::identify::Protocol;

/// The protocols accepted on a port, with the name reports use.
pub(crate) struct Expected {
    /// Name in reasons, e.g. "HTTP".
    pub name: &'static str,
    /// Protocols that do not contradict the port.
    pub accepts: &'static [Protocol],
}

const HTTP: Expected = Expected {
    name: "HTTP",
    accepts: &[Protocol::Http],
};
const HTTP_ALT: Expected = Expected {
    name: "HTTP",
    // Proxies and alternate web servers on 8080/8000 also serve CONNECT and TLS.
    accepts: &[Protocol::Http, Protocol::Tls],
};
const HTTPS: Expected = Expected {
    name: "HTTPS (TLS)",
    accepts: &[Protocol::Tls, Protocol::Http],
};
const SSH: Expected = Expected {
    name: "SSH",
    accepts: &[Protocol::Ssh],
};
const DNS: Expected = Expected {
    name: "DNS",
    accepts: &[Protocol::Dns],
};
const SMTP: Expected = Expected {
    name: "SMTP",
    accepts: &[Protocol::Smtp, Protocol::Tls],
};
const FTP: Expected = Expected {
    name: "FTP",
    accepts: &[Protocol::Ftp, Protocol::Tls],
};
const POP3: Expected = Expected {
    name: "POP3",
    accepts: &[Protocol::Pop3, Protocol::Tls],
};
const IMAP: Expected = Expected {
    name: "IMAP",
    accepts: &[Protocol::Imap, Protocol::Tls],
};
const TLS_ONLY: Expected = Expected {
    name: "TLS",
    accepts: &[Protocol::Tls],
};
const RDP: Expected = Expected {
    name: "RDP",
    accepts: &[Protocol::Rdp, Protocol::Tls],
};
const SMB: Expected = Expected {
    name: "SMB",
    accepts: &[Protocol::Smb],
};
const QUIC: Expected = Expected {
    name: "QUIC",
    accepts: &[Protocol::Quic, Protocol::Dns],
};

/// The accepted protocols of (port, transport), if the port is listed.
pub(crate) fn expected(port: u16, t: Transport) -> Option<&'static Expected> {
    Some(match (t, port) {
        (Transport::Tcp, 80) => &HTTP,
        (Transport::Tcp, 8888) => &HTTP,
        (Transport::Tcp, 8080 | 8000) => &HTTP_ALT,
        (Transport::Tcp, 443 | 8443) => &HTTPS,
        (Transport::Tcp, 22) => &SSH,
        (_, 53) => &DNS,
        (Transport::Tcp, 25 | 587) => &SMTP,
        (Transport::Tcp, 21) => &FTP,
        (Transport::Tcp, 110) => &POP3,
        (Transport::Tcp, 143) => &IMAP,
        (Transport::Tcp, 465 | 993 | 995 | 636 | 853) => &TLS_ONLY,
        (Transport::Tcp, 3389) => &RDP,
        (Transport::Tcp, 445) => &SMB,
        (Transport::Udp, 443) => &QUIC,
        _ => return None,
    })
}

/// Does `p` contradict the port? Only recognised application protocols can.
pub(crate) fn contradicts(e: &Expected, p: Protocol) -> bool {
    p.is_well_known_application() && !e.accepts.contains(&p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_from_the_issue() {
        let e = |p, t| expected(p, t).unwrap_or(&HTTP);
        assert!(contradicts(e(80, Transport::Tcp), Protocol::Tls));
        assert!(contradicts(e(80, Transport::Tcp), Protocol::Ssh));
        assert!(contradicts(e(53, Transport::Udp), Protocol::Http));
        assert!(contradicts(e(8888, Transport::Tcp), Protocol::Tls));
        assert!(!contradicts(e(8080, Transport::Tcp), Protocol::Tls));
        assert!(contradicts(e(443, Transport::Tcp), Protocol::Ssh));
        assert!(!contradicts(e(443, Transport::Tcp), Protocol::Tls));
        assert!(!contradicts(e(80, Transport::Tcp), Protocol::Encrypted));
        assert!(!contradicts(e(25, Transport::Tcp), Protocol::Tls));
        assert!(expected(8888, Transport::Udp).is_none());
    }
}
