//! IRC client registration and server lines (RFC 1459 / 2812, IRCv3 CAP).

use super::util::{first_line, is_printable_text, lines, sanitize, split_space};
use super::{Confidence, Direction, Evidence, Identification, Protocol};

/// IRC lines are at most 512 bytes with CR LF (more with IRCv3 tags).
const MAX_LINE: usize = 4096;
/// Client lines examined.
const MAX_CLIENT_LINES: usize = 8;

fn valid_nick(n: &[u8]) -> bool {
    (1..=32).contains(&n.len())
        && n.first().is_some_and(|c| !c.is_ascii_digit() && *c != b'-')
        && n.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"[]\\`_^{|}-".contains(&b))
}

/// `USER <user> <mode> <unused> :<realname>` (or a 4th word instead of the
/// trailing parameter).
fn valid_user(args: &[u8]) -> Option<&[u8]> {
    let (user, rest) = split_space(args);
    let (mode, rest) = split_space(rest?);
    let (unused, rest) = split_space(rest?);
    let real = rest?;
    let word = |w: &[u8]| !w.is_empty() && w.iter().all(|&b| (0x21..=0x7e).contains(&b));
    if word(user) && word(mode) && word(unused) && !real.is_empty() && !user.contains(&b':') {
        Some(user)
    } else {
        None
    }
}

/// Recognises an IRC client's registration.
///
/// Requires the first line to be `NICK`, `USER`, `PASS` or `CAP` (upper
/// case, as clients send them) and every complete line among the first
/// eight to be printable and end in CR LF / LF. Evidence is a valid
/// `NICK <nick>` (1..=32 nickname characters, not starting with a digit or
/// `-`) and/or `USER <user> <mode> <unused> :<realname>`: medium
/// confidence with one, high with both. `JOIN #channel` is reported.
/// An unterminated last line is ignored (it may be cut by the capture).
pub fn client(dir: Direction, data: &[u8]) -> Option<Identification> {
    let first = first_line(data)?;
    let (verb0, _) = split_space(first.text);
    if !matches!(verb0, b"NICK" | b"USER" | b"PASS" | b"CAP") {
        return None;
    }
    let mut nick: Option<&[u8]> = None;
    let mut user: Option<&[u8]> = None;
    let mut channel: Option<&[u8]> = None;
    let mut end = 0usize;
    for l in lines(data).take(MAX_CLIENT_LINES) {
        if !l.terminated {
            break;
        }
        if l.raw_len > MAX_LINE || !is_printable_text(l.text) {
            return None;
        }
        let (verb, args) = split_space(l.text);
        match (verb, args) {
            (b"NICK", Some(n)) if valid_nick(n) => nick = nick.or(Some(n)),
            (b"NICK", _) => return None,
            (b"USER", Some(a)) => match valid_user(a) {
                Some(u) => user = user.or(Some(u)),
                None => return None,
            },
            (b"USER", None) => return None,
            (b"JOIN", Some(c)) if c.starts_with(b"#") || c.starts_with(b"&") => {
                channel = channel.or(Some(split_space(c).0));
            }
            _ => {}
        }
        end = l.offset.saturating_add(l.raw_len);
    }
    let confidence = match (nick.is_some(), user.is_some()) {
        (true, true) => Confidence::High,
        (true, false) | (false, true) => Confidence::Medium,
        (false, false) => return None,
    };
    let mut summary = String::from("IRC client registration");
    if let Some(n) = nick {
        summary.push_str(&format!(" NICK {}", sanitize(n, 40)));
    }
    if let Some(u) = user {
        summary.push_str(&format!(" USER {}", sanitize(u, 40)));
    }
    if let Some(c) = channel {
        summary.push_str(&format!(" JOIN {}", sanitize(c, 60)));
    }
    let mut id = Identification::new(
        Protocol::Irc,
        confidence,
        &summary,
        Evidence::new(
            dir,
            data,
            0,
            end,
            "irc client registration 'NICK'/'USER' lines at offset 0",
        ),
    );
    if let Some(n) = nick {
        id.push_bytes("irc.nick", n);
    }
    if let Some(u) = user {
        id.push_bytes("irc.user", u);
    }
    if let Some(c) = channel {
        id.push_bytes("irc.channel", c);
    }
    Some(id)
}

/// Recognises an IRC server's first line.
///
/// Requires a printable first line terminated by CR LF / LF that is either
/// `:<prefix> <command> <target> ...` — prefix non-empty, command a
/// three-digit numeric or `NOTICE`, a target, and a trailing `:` parameter
/// — (high confidence), or `NOTICE AUTH :...` (high), or `PING :...`
/// (low: bare pings are generic).
pub fn server(dir: Direction, data: &[u8]) -> Option<Identification> {
    let l = first_line(data)?;
    if !l.terminated || l.raw_len > MAX_LINE || !is_printable_text(l.text) {
        return None;
    }
    let (confidence, prefix, command, rule): (_, Option<&[u8]>, &[u8], _) = if let Some(rest) =
        l.text.strip_prefix(b":")
    {
        let (prefix, rest) = split_space(rest);
        let (cmd, rest) = split_space(rest?);
        let (target, rest) = split_space(rest?);
        let numeric = cmd.len() == 3 && cmd.iter().all(u8::is_ascii_digit);
        let trailing =
            rest.is_some_and(|r| r.starts_with(b":") || r.windows(2).any(|w| w == b" :"));
        if prefix.is_empty() || target.is_empty() || !(numeric || cmd == b"NOTICE") || !trailing {
            return None;
        }
        (
            Confidence::High,
            Some(prefix),
            cmd,
            "irc server line ':prefix NNN|NOTICE target :text' at offset 0",
        )
    } else if l.text.starts_with(b"NOTICE AUTH :") {
        (
            Confidence::High,
            None,
            &b"NOTICE"[..],
            "irc server line 'NOTICE AUTH :' at offset 0",
        )
    } else if l.text.starts_with(b"PING :") && l.text.len() > 6 {
        (
            Confidence::Low,
            None,
            &b"PING"[..],
            "irc server line 'PING :' at offset 0",
        )
    } else {
        return None;
    };
    let mut id = Identification::new(
        Protocol::Irc,
        confidence,
        &format!("IRC server: {}", sanitize(l.text, 140)),
        Evidence::new(dir, data, 0, l.raw_len, rule),
    );
    if let Some(p) = prefix {
        id.push_bytes("irc.server", p);
    }
    id.push_bytes("irc.command", command);
    Some(id)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::identify::testutil::assert_all_prefixes;

    const CLIENT: &[u8] =
        b"NICK bot123\r\nUSER bot 0 * :Real Bot\r\nJOIN #c2 key\r\nPRIVMSG #c2 :hi\r\n";

    #[test]
    fn client_registration() {
        let id = client(Direction::Client, CLIENT).unwrap();
        assert_eq!(id.confidence, Confidence::High);
        assert_eq!(id.field("irc.nick"), Some("bot123"));
        assert_eq!(id.field("irc.user"), Some("bot"));
        assert_eq!(id.field("irc.channel"), Some("#c2"));
        assert_eq!(
            id.summary,
            "IRC client registration NICK bot123 USER bot JOIN #c2"
        );
        assert_all_prefixes(CLIENT, Protocol::Irc, 13, |p| client(Direction::Client, p));
        assert_eq!(
            client(Direction::Client, &CLIENT[..13]).unwrap().confidence,
            Confidence::Medium
        );
    }

    #[test]
    fn client_look_alikes() {
        for s in [
            &b"NICK\r\n"[..],
            b"NICK 1abc\r\n",
            b"USER anonymous\r\n",
            b"PASS x\r\n",
            b"nick bob\r\n",
            b"NICK bob\x00\r\n",
            b"CAP LS 302\r\n",
            b"JOIN #x\r\n",
        ] {
            assert!(client(Direction::Client, s).is_none(), "{s:?}");
        }
        let id = client(
            Direction::Client,
            b"CAP LS 302\r\nNICK x\r\nUSER x 0 * :x\r\n",
        )
        .unwrap();
        assert_eq!(id.confidence, Confidence::High);
    }

    #[test]
    fn server_lines() {
        let s = b":irc.example.net NOTICE * :*** Looking up your hostname...\r\n";
        let id = server(Direction::Server, s).unwrap();
        assert_eq!(id.confidence, Confidence::High);
        assert_eq!(id.field("irc.server"), Some("irc.example.net"));
        assert_all_prefixes(s, Protocol::Irc, s.len(), |p| server(Direction::Server, p));
        let w = b":irc.example.net 001 bot123 :Welcome to the network bot123\r\n";
        assert_eq!(
            server(Direction::Server, w).unwrap().field("irc.command"),
            Some("001")
        );
        assert!(server(Direction::Server, b"NOTICE AUTH :*** Checking ident\r\n").is_some());
        assert_eq!(
            server(Direction::Server, b"PING :12345\r\n")
                .unwrap()
                .confidence,
            Confidence::Low
        );
        for s in [
            &b":x PRIVMSG y :z\r\n"[..],
            b": 001 y :z\r\n",
            b":x 001\r\n",
            b":x 001 y\r\n",
            b":x 01 y :z\r\n",
            b"PING :\r\n",
        ] {
            assert!(server(Direction::Server, s).is_none(), "{s:?}");
        }
    }
}
