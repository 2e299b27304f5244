//! SSH identification strings (RFC 4253 section 4.2).

use super::util::{Line, is_printable_text, lines, sanitize, split_space};
use super::{Confidence, Direction, Evidence, Identification, Protocol};

/// RFC 4253: the identification line is at most 255 bytes with CR LF.
const MAX_BANNER: usize = 255;
/// Text lines a server may send before its banner that we skip.
const MAX_PRE_LINES: usize = 4;

struct Banner<'a> {
    line: Line<'a>,
    proto: &'a [u8],
    software: &'a [u8],
    comments: Option<&'a [u8]>,
}

/// Parses one line as an SSH identification string.
fn parse(line: Line<'_>) -> Option<Banner<'_>> {
    if line.raw_len > MAX_BANNER {
        return None;
    }
    let rest = line.text.strip_prefix(b"SSH-")?;
    let dash = rest.iter().position(|&b| b == b'-')?;
    let proto = rest.get(..dash)?;
    let valid_proto =
        matches!(proto, b"2.0" | b"1.99") || matches!(proto, [b'1', b'.', d] if d.is_ascii_digit());
    if !valid_proto {
        return None;
    }
    let after = rest.get(dash.checked_add(1)?..)?;
    let (software, comments) = split_space(after);
    if !software.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
        return None;
    }
    if let Some(c) = comments
        && !is_printable_text(c)
    {
        return None;
    }
    // An empty software version is only tolerated while the line is still
    // being cut off by the capture.
    if software.is_empty() && (line.terminated || comments.is_some()) {
        return None;
    }
    Some(Banner {
        line,
        proto,
        software,
        comments,
    })
}

fn find(dir: Direction, data: &[u8]) -> Option<Banner<'_>> {
    let max_pre = match dir {
        Direction::Client => 0,
        Direction::Server => MAX_PRE_LINES,
    };
    for (i, line) in lines(data).enumerate() {
        if line.text.starts_with(b"SSH-") {
            return parse(line);
        }
        // A pre-banner line must be complete, printable text.
        if i >= max_pre || !line.terminated || !is_printable_text(line.text) {
            return None;
        }
    }
    None
}

/// Recognises an SSH identification string (either side).
///
/// Requires a line `SSH-<proto>-<software>[ <comments>]` where proto is
/// `2.0`, `1.99` or `1.<digit>`, software is non-empty printable ASCII
/// without spaces, comments are printable, and the line (≤ 255 bytes with
/// its terminator) ends with CR LF / LF or at the end of the buffer. Client
/// banners must start at offset 0; a server may precede its banner with up
/// to four printable text lines (RFC 4253 4.2). High confidence with a line
/// terminator, medium when the buffer ends in the software version, low
/// when it ends right after `SSH-x.y-`.
pub fn banner(dir: Direction, data: &[u8]) -> Option<Identification> {
    let b = find(dir, data)?;
    let confidence = if b.software.is_empty() {
        Confidence::Low
    } else if b.line.terminated {
        Confidence::High
    } else {
        Confidence::Medium
    };
    let rule = match (b.line.offset, b.proto) {
        (0, b"2.0") => "ssh banner 'SSH-2.0-' at offset 0",
        (0, b"1.99") => "ssh banner 'SSH-1.99-' at offset 0",
        (0, _) => "ssh banner 'SSH-1.x-' at offset 0",
        _ => "ssh banner 'SSH-x.y-' after server pre-banner text lines",
    };
    let mut summary = sanitize(b.line.text, 120);
    if !b.line.terminated {
        summary.push_str(" (truncated)");
    }
    let mut id = Identification::new(
        Protocol::Ssh,
        confidence,
        &summary,
        Evidence::new(dir, data, b.line.offset, b.line.raw_len, rule),
    );
    id.push_bytes("ssh.banner", b.line.text);
    id.push_bytes("ssh.version", b.proto);
    if !b.software.is_empty() {
        id.push_bytes("ssh.software", b.software);
    }
    if let Some(c) = b.comments {
        id.push_bytes("ssh.comments", c);
    }
    Some(id)
}

/// Adds the client's banner to a server-banner answer.
pub(crate) fn enrich_with_client(id: &mut Identification, client: &[u8]) {
    if let Some(b) = find(Direction::Client, client) {
        id.push_bytes("ssh.client_banner", b.line.text);
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::identify::testutil::assert_all_prefixes;

    const SERVER: &[u8] = b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n\x00\x00\x04\x5c\x0a\x14";

    #[test]
    fn server_banner_fields() {
        let id = banner(Direction::Server, SERVER).unwrap();
        assert_eq!(id.protocol, Protocol::Ssh);
        assert_eq!(id.confidence, Confidence::High);
        assert_eq!(id.summary, "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13");
        assert_eq!(id.field("ssh.software"), Some("OpenSSH_9.6p1"));
        assert_eq!(id.field("ssh.comments"), Some("Ubuntu-3ubuntu13"));
        assert_eq!(id.field("ssh.version"), Some("2.0"));
        assert_eq!(id.evidence.rule, "ssh banner 'SSH-2.0-' at offset 0");
        assert_eq!(id.evidence.len, 40);
    }

    #[test]
    fn every_truncation() {
        assert_all_prefixes(SERVER, Protocol::Ssh, 8, |p| banner(Direction::Server, p));
        assert_eq!(
            banner(Direction::Client, b"SSH-2.0-").unwrap().confidence,
            Confidence::Low
        );
        assert_eq!(
            banner(Direction::Client, b"SSH-2.0-Go").unwrap().confidence,
            Confidence::Medium
        );
        let v1 = b"SSH-1.5-OpenSSH_3.9p1\n";
        assert_all_prefixes(v1, Protocol::Ssh, 8, |p| banner(Direction::Client, p));
    }

    #[test]
    fn look_alikes() {
        for s in [
            &b"SSH"[..],
            b"SSH-3.0-x\r\n",
            b"SSH-2.1-x\r\n",
            b"SSH-2.0-\r\n",
            b"SSH-2.0- x\r\n",
            b"SSH-2.0-Open\x01SSH\r\n",
            b"SSH-2.0-x \x1b[2J\r\n",
            b"SSH\x8f\x11\x00\x99random",
            b"SSHX-2.0-x\r\n",
            b" SSH-2.0-x\r\n",
        ] {
            assert!(banner(Direction::Client, s).is_none(), "{s:?}");
        }
        let long = [b"SSH-2.0-".as_slice(), &[b'a'; 300], b"\r\n"].concat();
        assert!(banner(Direction::Server, &long).is_none());
    }

    #[test]
    fn pre_banner_lines_server_only() {
        let s = b"Welcome to host\r\nAuthorised use only\r\nSSH-2.0-dropbear_2022.83\r\n";
        let id = banner(Direction::Server, s).unwrap();
        assert_eq!(id.evidence.offset, 38);
        assert_eq!(id.field("ssh.software"), Some("dropbear_2022.83"));
        assert!(banner(Direction::Client, s).is_none());
        let binary_first = b"\x00\x01\r\nSSH-2.0-x\r\n";
        assert!(banner(Direction::Server, binary_first).is_none());
    }

    #[test]
    fn client_enrichment() {
        let mut id = banner(Direction::Server, SERVER).unwrap();
        enrich_with_client(&mut id, b"SSH-2.0-libssh-0.9.6\r\n");
        assert_eq!(id.field("ssh.client_banner"), Some("SSH-2.0-libssh-0.9.6"));
    }
}
