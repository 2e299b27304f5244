//! Line-oriented mail and file-transfer protocols: SMTP, FTP, POP3, IMAP.

use super::util::{
    Line, first_line, is_printable_text, lines, sanitize, split_space, starts_with_ci,
};
use super::{Confidence, Direction, Evidence, Identification, Protocol};

/// Longest greeting/command line considered (SMTP allows 512 with CRLF).
const MAX_LINE: usize = 1024;
/// Continuation lines of a multi-line `220-` greeting considered.
const MAX_GREETING_LINES: usize = 8;

/// Alphanumeric words of `text` that are certainly complete: when the line
/// was cut by the end of the buffer, its last word may be a fragment and is
/// dropped, so a longer capture never un-matches a word.
fn words(text: &[u8], terminated: bool) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = text
        .split(|b| !b.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if !terminated && text.last().is_some_and(u8::is_ascii_alphanumeric) {
        out.pop();
    }
    out
}

fn is_smtp_word(w: &[u8]) -> bool {
    w.eq_ignore_ascii_case(b"smtp") || w.eq_ignore_ascii_case(b"esmtp")
}

fn is_ftp_word(w: &[u8]) -> bool {
    w.windows(3).any(|x| x.eq_ignore_ascii_case(b"ftp")) || w.eq_ignore_ascii_case(b"filezilla")
}

/// What a client's first command line says about SMTP vs FTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientHint {
    Smtp,
    Ftp,
    None,
}

fn client_hint(client: &[u8]) -> ClientHint {
    let Some(l) = first_line(client) else {
        return ClientHint::None;
    };
    let (verb, _) = split_space(l.text);
    let is = |v: &[u8]| verb.eq_ignore_ascii_case(v);
    if is(b"EHLO") || is(b"HELO") {
        ClientHint::Smtp
    } else if is(b"USER") || is(b"AUTH") || is(b"FEAT") || is(b"SYST") || is(b"OPTS") {
        ClientHint::Ftp
    } else {
        ClientHint::None
    }
}

/// Recognises a server `220` greeting as SMTP or FTP.
///
/// Requires the first server line to be printable, start with `220` and
/// continue with a space or `-` (multi-line greeting; continuation lines
/// `220-...` up to a final `220 ...` are read too). The greeting is SMTP if
/// a complete word is `SMTP` or `ESMTP`, FTP if a complete word contains
/// `FTP` (FTP, ProFTPD, vsFTPd, Pure-FTPd) or is `FileZilla`; if both or
/// neither appear, the client's first command decides (EHLO/HELO → SMTP;
/// USER/AUTH/FEAT/SYST/OPTS → FTP); if both appear and the client is
/// silent, `ESMTP` wins. High confidence for a keyword on a complete line,
/// medium when the line is cut or the client decided. A bare `220` with no
/// keyword and no telling client is left to the fallback.
///
/// The client's EHLO/HELO name (`smtp.helo`) or FTP user name (`ftp.user`)
/// is added when present.
pub fn greeting_220(server: &[u8], client: &[u8]) -> Option<Identification> {
    let dir = Direction::Server;
    let first = first_line(server)?;
    if first.raw_len > MAX_LINE || !is_printable_text(first.text) {
        return None;
    }
    let cont = match first.text.get(..4) {
        Some(b"220 ") => false,
        Some(b"220-") => true,
        _ => return None,
    };
    let mut smtp_kw = false;
    let mut ftp_kw = false;
    let mut esmtp = false;
    let mut all_terminated = true;
    let mut end = first.raw_len;
    let greeting_lines: Vec<Line<'_>> = if cont {
        let mut v = Vec::new();
        for l in lines(server).take(MAX_GREETING_LINES) {
            if !is_printable_text(l.text) || !l.text.starts_with(b"220") {
                break;
            }
            let last = !l.text.starts_with(b"220-");
            v.push(l);
            if last {
                break;
            }
        }
        v
    } else {
        vec![first]
    };
    for l in &greeting_lines {
        all_terminated &= l.terminated;
        end = l.offset.saturating_add(l.raw_len);
        for w in words(l.text.get(4..).unwrap_or(&[]), l.terminated) {
            smtp_kw |= is_smtp_word(w);
            esmtp |= w.eq_ignore_ascii_case(b"esmtp");
            ftp_kw |= is_ftp_word(w);
        }
    }
    let hint = client_hint(client);
    let (protocol, by_client) = match (smtp_kw, ftp_kw, hint) {
        (true, false, _) => (Protocol::Smtp, false),
        (false, true, _) => (Protocol::Ftp, false),
        (_, _, ClientHint::Smtp) => (Protocol::Smtp, true),
        (_, _, ClientHint::Ftp) => (Protocol::Ftp, true),
        (true, true, ClientHint::None) => {
            if esmtp {
                (Protocol::Smtp, false)
            } else {
                (Protocol::Ftp, false)
            }
        }
        (false, false, ClientHint::None) => return None,
    };
    let confidence = if by_client || !all_terminated {
        Confidence::Medium
    } else {
        Confidence::High
    };
    let (name, rule) = match (protocol, by_client) {
        (Protocol::Smtp, false) => (
            "SMTP",
            "smtp greeting '220' mentioning SMTP/ESMTP at offset 0",
        ),
        (Protocol::Smtp, true) => (
            "SMTP",
            "'220' greeting at offset 0 answered by client EHLO/HELO",
        ),
        (_, false) => ("FTP", "ftp greeting '220' mentioning FTP at offset 0"),
        (_, true) => (
            "FTP",
            "'220' greeting at offset 0 answered by client FTP command",
        ),
    };
    let mut summary = format!("{name} greeting: {}", sanitize(first.text, 140));
    if !first.terminated {
        summary.push_str(" (truncated)");
    }
    let mut id = Identification::new(
        protocol,
        confidence,
        &summary,
        Evidence::new(dir, server, 0, end, rule),
    );
    if protocol == Protocol::Smtp {
        id.push_bytes("smtp.banner", first.text);
        add_smtp_client_fields(&mut id, client);
    } else {
        id.push_bytes("ftp.banner", first.text);
        add_ftp_client_fields(&mut id, client);
    }
    Some(id)
}

fn add_smtp_client_fields(id: &mut Identification, client: &[u8]) {
    for l in lines(client).take(16) {
        let (verb, arg) = split_space(l.text);
        if (verb.eq_ignore_ascii_case(b"EHLO") || verb.eq_ignore_ascii_case(b"HELO"))
            && let Some(a) = arg
        {
            id.push_bytes("smtp.helo", a);
        } else if starts_with_ci(l.text, b"MAIL FROM:") {
            id.push_bytes(
                "smtp.mail_from",
                l.text.get(10..).unwrap_or(&[]).trim_ascii(),
            );
        } else if starts_with_ci(l.text, b"RCPT TO:") {
            id.push_bytes("smtp.rcpt_to", l.text.get(8..).unwrap_or(&[]).trim_ascii());
        }
    }
}

fn add_ftp_client_fields(id: &mut Identification, client: &[u8]) {
    for l in lines(client).take(16) {
        let (verb, arg) = split_space(l.text);
        if verb.eq_ignore_ascii_case(b"USER")
            && let Some(a) = arg
        {
            id.push_bytes("ftp.user", a);
        } else if verb.eq_ignore_ascii_case(b"PASS") {
            // Record that a password crossed the wire, not the password.
            id.push("ftp.pass_present", "true");
        }
    }
}

/// Recognises an SMTP client's opening command (server side missing).
///
/// Requires the first line to be `EHLO` or `HELO` (any case), one space and
/// a non-empty printable argument, the line terminated by CR LF / LF. Medium
/// confidence (client-only evidence). MAIL FROM / RCPT TO lines that follow
/// are reported too.
pub fn smtp_client(dir: Direction, data: &[u8]) -> Option<Identification> {
    let l = first_line(data)?;
    if !l.terminated || l.raw_len > MAX_LINE || !is_printable_text(l.text) {
        return None;
    }
    let (verb, arg) = split_space(l.text);
    if !(verb.eq_ignore_ascii_case(b"EHLO") || verb.eq_ignore_ascii_case(b"HELO")) {
        return None;
    }
    let arg = arg.filter(|a| !a.trim_ascii().is_empty())?;
    let mut id = Identification::new(
        Protocol::Smtp,
        Confidence::Medium,
        &format!("SMTP client {}", sanitize(l.text, 140)),
        Evidence::new(
            dir,
            data,
            0,
            l.raw_len,
            "smtp client 'EHLO/HELO <name>' line at offset 0",
        ),
    );
    id.push_bytes("smtp.helo", arg.trim_ascii());
    for l in lines(data).skip(1).take(16) {
        if starts_with_ci(l.text, b"MAIL FROM:") {
            id.push_bytes(
                "smtp.mail_from",
                l.text.get(10..).unwrap_or(&[]).trim_ascii(),
            );
        } else if starts_with_ci(l.text, b"RCPT TO:") {
            id.push_bytes("smtp.rcpt_to", l.text.get(8..).unwrap_or(&[]).trim_ascii());
        }
    }
    Some(id)
}

/// Recognises an FTP client's opening command (server side missing or not
/// a greeting).
///
/// Requires the first line, terminated by CR LF / LF, to be `USER <name>`
/// with a single printable word, or exactly `AUTH TLS`, `AUTH SSL`, `FEAT`
/// or `SYST` (any case). Low confidence: POP3 also uses `USER`, and only the
/// server side could tell them apart for sure.
pub fn ftp_client(dir: Direction, data: &[u8]) -> Option<Identification> {
    let l = first_line(data)?;
    if !l.terminated || l.raw_len > MAX_LINE || !is_printable_text(l.text) {
        return None;
    }
    let (verb, arg) = split_space(l.text);
    let ok = if verb.eq_ignore_ascii_case(b"USER") {
        arg.is_some_and(|a| !a.is_empty() && a.iter().all(|&b| (0x21..=0x7e).contains(&b)))
    } else {
        [&b"AUTH TLS"[..], b"AUTH SSL", b"FEAT", b"SYST"]
            .iter()
            .any(|c| l.text.eq_ignore_ascii_case(c))
    };
    if !ok {
        return None;
    }
    let mut id = Identification::new(
        Protocol::Ftp,
        Confidence::Low,
        &format!("FTP client {}", sanitize(l.text, 140)),
        Evidence::new(
            dir,
            data,
            0,
            l.raw_len,
            "ftp client command 'USER <name>'/'AUTH TLS'/'FEAT'/'SYST' at offset 0",
        ),
    );
    add_ftp_client_fields(&mut id, data);
    Some(id)
}

/// Recognises a POP3 server greeting.
///
/// Requires the first line to be printable and start with `+OK`, followed
/// by a space, the end of the line or the end of the buffer. High confidence
/// when the greeting mentions POP or carries an APOP timestamp `<...@...>`,
/// medium for other text, low for a bare `+OK` (which other protocols, e.g.
/// Redis, also send).
pub fn pop3(dir: Direction, data: &[u8]) -> Option<Identification> {
    let l = first_line(data)?;
    if l.raw_len > MAX_LINE || !is_printable_text(l.text) {
        return None;
    }
    let rest = l.text.strip_prefix(b"+OK")?;
    let text = match rest {
        [] => &[][..],
        [b' ', t @ ..] => t,
        _ => return None,
    };
    let apop = text.iter().position(|&b| b == b'<').is_some_and(|lt| {
        let tail = text.get(lt..).unwrap_or(&[]);
        tail.contains(&b'@') && tail.contains(&b'>')
    });
    let confidence = if words(text, l.terminated)
        .iter()
        .any(|w| w.len() >= 3 && w.get(..3).is_some_and(|p| p.eq_ignore_ascii_case(b"pop")))
        || apop
    {
        Confidence::High
    } else if text.trim_ascii().is_empty() {
        Confidence::Low
    } else {
        Confidence::Medium
    };
    let mut id = Identification::new(
        Protocol::Pop3,
        confidence,
        &format!("POP3 greeting: {}", sanitize(l.text, 140)),
        Evidence::new(dir, data, 0, l.raw_len, "pop3 greeting '+OK' at offset 0"),
    );
    id.push_bytes("pop3.banner", l.text);
    Some(id)
}

/// POP3 client commands (RFC 1939, 2449, 2595, 5034).
const POP3_COMMANDS: &[&[u8]] = &[
    b"USER", b"PASS", b"APOP", b"CAPA", b"STLS", b"AUTH", b"QUIT", b"STAT", b"LIST", b"RETR",
    b"UIDL", b"TOP", b"NOOP", b"DELE", b"RSET",
];

/// `true` if the client's bytes are compatible with a POP3 session (empty,
/// or a first line starting with a POP3 command). Used to avoid calling a
/// Redis-style `+OK` reply POP3.
pub(crate) fn pop3_client_consistent(client: &[u8]) -> bool {
    let Some(l) = first_line(client) else {
        return true;
    };
    let (verb, _) = split_space(l.text);
    POP3_COMMANDS.iter().any(|c| verb.eq_ignore_ascii_case(c))
}

/// Adds the POP3 user name from the client side.
pub(crate) fn enrich_pop3(id: &mut Identification, client: &[u8]) {
    for l in lines(client).take(16) {
        let (verb, arg) = split_space(l.text);
        if verb.eq_ignore_ascii_case(b"USER")
            && let Some(a) = arg
        {
            id.push_bytes("pop3.user", a);
        }
    }
}

/// Recognises an IMAP server greeting.
///
/// Requires the first line to be printable and start with `* OK`,
/// `* PREAUTH` or `* BYE`, followed by a space, the end of the line or the
/// end of the buffer. High confidence when the line is complete and
/// mentions IMAP (e.g. `[CAPABILITY IMAP4rev1 ...]`), medium when it is
/// complete without it or cut but mentioning it, low otherwise.
pub fn imap_server(dir: Direction, data: &[u8]) -> Option<Identification> {
    let l = first_line(data)?;
    if l.raw_len > MAX_LINE || !is_printable_text(l.text) {
        return None;
    }
    let rest = [&b"* OK"[..], b"* PREAUTH", b"* BYE"]
        .iter()
        .find_map(|p| l.text.strip_prefix(*p))?;
    if !(rest.is_empty() || rest.starts_with(b" ")) {
        return None;
    }
    let imap_word = words(rest, l.terminated)
        .iter()
        .any(|w| starts_with_ci(w, b"imap"));
    let confidence = match (l.terminated, imap_word) {
        (true, true) => Confidence::High,
        (true, false) | (false, true) => Confidence::Medium,
        (false, false) => Confidence::Low,
    };
    let mut id = Identification::new(
        Protocol::Imap,
        confidence,
        &format!("IMAP greeting: {}", sanitize(l.text, 140)),
        Evidence::new(
            dir,
            data,
            0,
            l.raw_len,
            "imap untagged greeting '* OK' at offset 0",
        ),
    );
    id.push_bytes("imap.banner", l.text);
    Some(id)
}

/// IMAP commands a client may open with (RFC 9051 and common extensions).
const IMAP_COMMANDS: &[&[u8]] = &[
    b"CAPABILITY",
    b"LOGIN",
    b"AUTHENTICATE",
    b"STARTTLS",
    b"ID",
    b"NOOP",
    b"LOGOUT",
    b"SELECT",
    b"EXAMINE",
    b"LIST",
    b"LSUB",
    b"STATUS",
    b"NAMESPACE",
    b"ENABLE",
];

/// Recognises an IMAP client's first tagged command.
///
/// Requires a terminated printable first line `<tag> <COMMAND>[ args]`,
/// the tag 1..=16 ASCII letters, digits or `.`, the command one a client
/// plausibly opens with (CAPABILITY, LOGIN, AUTHENTICATE, STARTTLS, ID,
/// NOOP, LOGOUT, SELECT, EXAMINE, LIST, LSUB, STATUS, NAMESPACE, ENABLE;
/// any case). Medium confidence. The LOGIN user name is reported.
pub fn imap_client(dir: Direction, data: &[u8]) -> Option<Identification> {
    let l = first_line(data)?;
    if !l.terminated || l.raw_len > MAX_LINE || !is_printable_text(l.text) {
        return None;
    }
    let (tag, rest) = split_space(l.text);
    let rest = rest?;
    if tag.is_empty()
        || tag.len() > 16
        || !tag.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'.')
    {
        return None;
    }
    let (cmd, args) = split_space(rest);
    if !IMAP_COMMANDS.iter().any(|c| cmd.eq_ignore_ascii_case(c)) {
        return None;
    }
    let mut id = Identification::new(
        Protocol::Imap,
        Confidence::Medium,
        &format!("IMAP client {} {}", sanitize(tag, 16), sanitize(cmd, 16)),
        Evidence::new(
            dir,
            data,
            0,
            l.raw_len,
            "imap tagged command '<tag> <COMMAND>' at offset 0",
        ),
    );
    id.push_bytes("imap.tag", tag);
    id.push_bytes("imap.command", cmd);
    if cmd.eq_ignore_ascii_case(b"LOGIN")
        && let Some(a) = args
    {
        id.push_bytes("imap.user", split_space(a).0);
    }
    Some(id)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::identify::testutil::assert_all_prefixes;

    const SMTP: &[u8] = b"220 mx.example.org ESMTP Postfix (Ubuntu)\r\n";
    const FTP: &[u8] = b"220 (vsFTPd 3.0.5)\r\n";

    #[test]
    fn smtp_greeting() {
        let id = greeting_220(SMTP, b"EHLO client.example\r\nMAIL FROM:<a@b.c>\r\n").unwrap();
        assert_eq!(id.protocol, Protocol::Smtp);
        assert_eq!(id.confidence, Confidence::High);
        assert_eq!(
            id.field("smtp.banner"),
            Some("220 mx.example.org ESMTP Postfix (Ubuntu)")
        );
        assert_eq!(id.field("smtp.helo"), Some("client.example"));
        assert_eq!(id.field("smtp.mail_from"), Some("<a@b.c>"));
        // "220 mx.example.org ESMTP" + delimiter is the first prefix with a
        // complete SMTP keyword.
        assert_all_prefixes(SMTP, Protocol::Smtp, 25, |p| greeting_220(p, b""));
    }

    #[test]
    fn multi_line_and_client_decided_greetings() {
        let s = b"220-mail.example.com\r\n220-Welcome\r\n220 ESMTP ready\r\n";
        let id = greeting_220(s, b"").unwrap();
        assert_eq!(id.protocol, Protocol::Smtp);
        assert_eq!(id.evidence.len, s.len());
        let bare = b"220 Service ready\r\n";
        assert!(greeting_220(bare, b"").is_none());
        let id = greeting_220(bare, b"HELO x\r\n").unwrap();
        assert_eq!(
            (id.protocol, id.confidence),
            (Protocol::Smtp, Confidence::Medium)
        );
        let id = greeting_220(bare, b"USER anonymous\r\nPASS secret\r\n").unwrap();
        assert_eq!(id.protocol, Protocol::Ftp);
        assert_eq!(id.field("ftp.user"), Some("anonymous"));
        assert_eq!(id.field("ftp.pass_present"), Some("true"));
        assert!(id.fields.iter().all(|(_, v)| v != "secret"));
    }

    #[test]
    fn ftp_greeting() {
        let id = greeting_220(FTP, b"").unwrap();
        assert_eq!(id.protocol, Protocol::Ftp);
        assert_eq!(id.confidence, Confidence::High);
        // "220 (vsFTPd " is the first prefix with a complete FTP word.
        assert_all_prefixes(FTP, Protocol::Ftp, 12, |p| greeting_220(p, b""));
        let fz = greeting_220(b"220-FileZilla Server 1.8.0\r\n220 Please visit\r\n", b"").unwrap();
        assert_eq!(fz.protocol, Protocol::Ftp);
    }

    #[test]
    fn greeting_look_alikes() {
        for s in [
            &b"220\r\n"[..],
            b"2200 ESMTP\r\n",
            b"221 ESMTP bye\r\n",
            b"220 \x1b[2J ESMTP\r\n",
            b"220ESMTP\r\n",
        ] {
            assert!(greeting_220(s, b"EHLO x\r\n").is_none(), "{s:?}");
        }
        // "smtpx" is not the word SMTP.
        assert!(greeting_220(b"220 smtpx.example ready\r\n", b"").is_none());
    }

    #[test]
    fn smtp_client_only() {
        let c = b"EHLO [192.0.2.1]\r\nMAIL FROM:<x@evil.example>\r\nRCPT TO:<y@z.example>\r\n";
        let id = smtp_client(Direction::Client, c).unwrap();
        assert_eq!(id.field("smtp.helo"), Some("[192.0.2.1]"));
        assert_eq!(id.field("smtp.rcpt_to"), Some("<y@z.example>"));
        assert_all_prefixes(c, Protocol::Smtp, 18, |p| smtp_client(Direction::Client, p));
        assert!(smtp_client(Direction::Client, b"EHLO\r\n").is_none());
        assert!(smtp_client(Direction::Client, b"EHLOX y\r\n").is_none());
    }

    #[test]
    fn ftp_client_only() {
        let c = b"USER anonymous\r\nPASS guest@\r\n";
        let id = ftp_client(Direction::Client, c).unwrap();
        assert_eq!(id.confidence, Confidence::Low);
        assert_eq!(id.field("ftp.user"), Some("anonymous"));
        assert_all_prefixes(c, Protocol::Ftp, 16, |p| ftp_client(Direction::Client, p));
        assert!(ftp_client(Direction::Client, b"USER a b c :real\r\n").is_none());
        assert!(ftp_client(Direction::Client, b"USER\r\n").is_none());
        assert!(ftp_client(Direction::Client, b"AUTH TLS\r\n").is_some());
    }

    #[test]
    fn pop3_greeting() {
        let s = b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n";
        let id = pop3(Direction::Server, s).unwrap();
        assert_eq!(id.confidence, Confidence::High);
        assert_all_prefixes(s, Protocol::Pop3, 3, |p| pop3(Direction::Server, p));
        assert_eq!(
            pop3(Direction::Server, b"+OK\r\n").unwrap().confidence,
            Confidence::Low
        );
        assert_eq!(
            pop3(Direction::Server, b"+OK Dovecot ready.\r\n")
                .unwrap()
                .confidence,
            Confidence::Medium
        );
        assert!(pop3(Direction::Server, b"+OKAY\r\n").is_none());
        assert!(pop3(Direction::Server, b"+OK \x00\r\n").is_none());
        assert!(pop3_client_consistent(b""));
        assert!(pop3_client_consistent(b"USER bob\r\n"));
        assert!(!pop3_client_consistent(b"*3\r\n$3\r\nSET\r\n"));
        let mut id = pop3(Direction::Server, s).unwrap();
        enrich_pop3(&mut id, b"USER bob\r\n");
        assert_eq!(id.field("pop3.user"), Some("bob"));
    }

    #[test]
    fn imap_greeting_and_client() {
        let s = b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE] Dovecot ready.\r\n";
        let id = imap_server(Direction::Server, s).unwrap();
        assert_eq!(id.confidence, Confidence::High);
        assert_all_prefixes(s, Protocol::Imap, 4, |p| imap_server(Direction::Server, p));
        assert!(imap_server(Direction::Server, b"* OKAY\r\n").is_none());
        assert!(imap_server(Direction::Server, b"*  OK\r\n").is_none());

        let c = b"a001 LOGIN alice secret\r\n";
        let id = imap_client(Direction::Client, c).unwrap();
        assert_eq!(id.field("imap.user"), Some("alice"));
        assert_eq!(id.field("imap.command"), Some("LOGIN"));
        assert_all_prefixes(c, Protocol::Imap, c.len(), |p| {
            imap_client(Direction::Client, p)
        });
        assert!(imap_client(Direction::Client, b"a001 FROB\r\n").is_none());
        assert!(imap_client(Direction::Client, b"a-1 LOGIN x y\r\n").is_none());
        assert!(imap_client(Direction::Client, b"GET / HTTP/1.1\r\n").is_none());
    }
}
