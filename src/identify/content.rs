//! Content indicators: what the first payload bytes *show*, whatever the
//! protocol: interactive shell text, a check-in message carrying host, user
//! or OS strings, an executable file, a Monero node's handshake. Each
//! indicator names the direction, offset and bytes that matched, so a
//! severity point that it earns can be defended (`docs/detections.md`).
//!
//! Computed once per flow (never per packet) over the bytes the flow table
//! kept. Strict enough that ordinary protocol traffic does not trip it:
//! a shell needs a shell banner, prompt or a command known from intrusions,
//! a check-in needs several delimited fields of which at least two are
//! host/user/OS facts, an executable needs its format's magic and a
//! consistent header.

use serde::Serialize;

use super::util::sanitize;
use super::{Direction, MAX_FIELD_CHARS};

/// The kinds of indicator (machine names in reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IndicatorKind {
    /// Interactive shell text: a `cmd.exe`/`sh` banner, a prompt, a command line.
    ShellText,
    /// A delimiter- or JSON-formatted message carrying host, user or OS strings.
    CheckIn,
    /// An executable file (PE, ELF, Mach-O) in the stream.
    Executable,
    /// The Monero P2P (levin) handshake: a cryptocurrency node or miner.
    MoneroP2p,
}

impl IndicatorKind {
    /// Machine name, identical to the serde representation.
    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::ShellText => "shell-text",
            IndicatorKind::CheckIn => "check-in",
            IndicatorKind::Executable => "executable",
            IndicatorKind::MoneroP2p => "monero-p2p",
        }
    }
}

/// One indicator with the bytes that showed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Indicator {
    /// What was seen.
    pub kind: IndicatorKind,
    /// Which side sent it.
    pub direction: Direction,
    /// Offset of the match in that direction's kept bytes.
    pub offset: usize,
    /// The matched text, sanitised (at most 256 characters).
    pub detail: String,
}

/// Longest stretch of a direction that is searched.
const SCAN_BYTES: usize = 4096;

/// All indicators in the first bytes of each direction (at most one of each
/// kind per direction).
pub fn indicators(client: &[u8], server: &[u8]) -> Vec<Indicator> {
    let mut out = Vec::new();
    for (dir, data) in [(Direction::Client, client), (Direction::Server, server)] {
        let data = data.get(..SCAN_BYTES).unwrap_or(data);
        if data.is_empty() {
            continue;
        }
        if let Some((offset, detail)) = shell_text(data) {
            out.push(Indicator {
                kind: IndicatorKind::ShellText,
                direction: dir,
                offset,
                detail,
            });
        }
        if let Some((offset, detail)) = check_in(data) {
            out.push(Indicator {
                kind: IndicatorKind::CheckIn,
                direction: dir,
                offset,
                detail,
            });
        }
        if let Some((offset, detail)) = executable(data) {
            out.push(Indicator {
                kind: IndicatorKind::Executable,
                direction: dir,
                offset,
                detail,
            });
        }
        if let Some(detail) = monero_levin(data) {
            out.push(Indicator {
                kind: IndicatorKind::MoneroP2p,
                direction: dir,
                offset: 0,
                detail,
            });
        }
    }
    out
}

/// Case-insensitive search.
fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// The line (or up to 120 bytes) around `at`, sanitised.
fn context(data: &[u8], at: usize) -> String {
    let start = data
        .get(..at)
        .and_then(|b| b.iter().rposition(|&c| c == b'\n'))
        .map_or(0, |p| p + 1)
        .max(at.saturating_sub(40));
    let rest = data.get(at..).unwrap_or(&[]);
    let end = at
        + rest
            .iter()
            .position(|&c| c == b'\n')
            .unwrap_or(rest.len())
            .min(120);
    sanitize(data.get(start..end).unwrap_or(&[]), MAX_FIELD_CHARS)
}

/// Shell banners and prompts (case-insensitive).
const SHELL_MARKERS: &[&[u8]] = &[
    b"Microsoft Windows [Version",
    b"(c) Microsoft Corporation. All rights reserved",
    b"(c) Microsoft Corp.",
    b"/bin/sh",
    b"/bin/bash",
    b"uid=0(root)",
    b"cmd.exe /c",
    b"cmd /c ",
    b"powershell -",
    b"powershell.exe",
    b"echo open ",
    b"whoami",
    b"net user ",
    b"chmod +x ",
    b"wget http",
    b"curl -s",
    b"| sh",
    b"|sh",
    b"tftp -i ",
    b"certutil -urlcache",
    b"bitsadmin /transfer",
];

/// Interactive shell text: a known banner or command, or a Windows prompt
/// (`C:\...>` at a line start).
fn shell_text(data: &[u8]) -> Option<(usize, String)> {
    let mut best: Option<usize> = None;
    for m in SHELL_MARKERS {
        if let Some(p) = find_ci(data, m) {
            best = Some(best.map_or(p, |b| b.min(p)));
        }
    }
    if best.is_none() {
        best = windows_prompt(data);
    }
    let at = best?;
    Some((at, context(data, at)))
}

/// `X:\` at a line start, printable path bytes, then `>` (a cmd.exe prompt).
fn windows_prompt(data: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for (i, &c) in data.iter().enumerate() {
        if c == b'\n' {
            line_start = i + 1;
            continue;
        }
        if i != line_start {
            continue;
        }
        let l = data.get(i..)?;
        if l.len() >= 4
            && l.first().is_some_and(u8::is_ascii_uppercase)
            && l.get(1..3) == Some(b":\\")
        {
            let rest = l.get(3..).unwrap_or(&[]);
            let end = rest
                .iter()
                .position(|&b| b == b'>' || b == b'\n' || b == b'\r');
            if let Some(e) = end
                && rest.get(e) == Some(&b'>')
                && rest
                    .get(..e)
                    .is_some_and(|p| p.iter().all(|b| (0x20..0x7f).contains(b)))
            {
                return Some(i);
            }
        }
    }
    None
}

/// Operating-system strings a check-in reports (case-insensitive).
const OS_MARKERS: &[&[u8]] = &[
    b"windows xp",
    b"windows 7",
    b"windows 8",
    b"windows 10",
    b"windows 11",
    b"windows server",
    b"windows vista",
    b"win 7",
    b"win 10",
    b"win 11",
    b"win xp",
    b"microsoft windows",
    b"service pack",
    b"linux",
    b"ubuntu",
    b"debian",
    b"darwin",
    b"macos",
    b"mac os x",
];

/// User names check-ins report.
const USER_MARKERS: &[&[u8]] = &[b"administrator", b"admin", b"root", b"system"];

/// JSON keys of a check-in (lower case, with the quotes).
const JSON_KEYS: &[&[u8]] = &[
    b"\"hostname\"",
    b"\"host\"",
    b"\"computer\"",
    b"\"computername\"",
    b"\"machine\"",
    b"\"user\"",
    b"\"username\"",
    b"\"os\"",
    b"\"osversion\"",
    b"\"platform\"",
    b"\"hwid\"",
    b"\"pc\"",
    b"\"pcname\"",
    b"\"domain\"",
    b"\"arch\"",
    b"\"pid\"",
    b"\"ip\"",
];

/// Field delimiters of check-ins, longest first.
const DELIMITERS: &[&[u8]] = &[b"|'|'|", b"<|>", b"||", b"|", b"\0", b";"];

/// A check-in: at least four fields split by one delimiter with at least two
/// host/user/OS facts among them (an OS string, an IPv4 address, a user
/// name), or a JSON object with at least two host/user/OS keys.
fn check_in(data: &[u8]) -> Option<(usize, String)> {
    // JSON: the object may follow a length prefix or HTTP headers.
    if let Some(brace) = data.iter().position(|&b| b == b'{') {
        let obj = data.get(brace..)?;
        let lower: Vec<u8> = obj.iter().map(u8::to_ascii_lowercase).collect();
        let keys = JSON_KEYS
            .iter()
            .filter(|k| lower.windows(k.len()).any(|w| w == **k))
            .count();
        if keys >= 2 {
            return Some((brace, context(data, brace)));
        }
    }
    for d in DELIMITERS {
        let fields: Vec<&[u8]> = split(data, d);
        if fields.len() < 4 {
            continue;
        }
        let facts = facts(&fields);
        if facts >= 2 {
            let at = fields
                .first()
                .map_or(0, |f| f.as_ptr() as usize - data.as_ptr() as usize);
            return Some((at, sanitize(data.get(at..)?, MAX_FIELD_CHARS)));
        }
    }
    None
}

fn split<'a>(data: &'a [u8], d: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(p) = rest.windows(d.len()).position(|w| w == d) {
        out.push(rest.get(..p).unwrap_or(&[]));
        rest = rest.get(p + d.len()..).unwrap_or(&[]);
        if out.len() > 64 {
            break;
        }
    }
    if !out.is_empty() {
        out.push(rest);
    }
    out
}

/// How many distinct kinds of host/user/OS fact the fields carry.
fn facts(fields: &[&[u8]]) -> usize {
    let mut os = false;
    let mut ip = false;
    let mut user = false;
    for f in fields {
        let f = f.get(..128).unwrap_or(f);
        os |= OS_MARKERS.iter().any(|m| find_ci(f, m).is_some());
        ip |= is_ipv4(f.trim_ascii());
        user |= USER_MARKERS
            .iter()
            .any(|m| f.trim_ascii().eq_ignore_ascii_case(m));
    }
    usize::from(os) + usize::from(ip) + usize::from(user)
}

fn is_ipv4(s: &[u8]) -> bool {
    std::str::from_utf8(s)
        .ok()
        .and_then(|s| s.parse::<std::net::Ipv4Addr>().ok())
        .is_some()
}

/// An executable file's header: PE (`MZ` with `PE\0\0` at `e_lfanew`, or the
/// DOS stub text), ELF (`\x7fELF` with class 1 or 2 and data 1 or 2),
/// Mach-O (thin 32/64-bit magic in either byte order). Searched at the start
/// of the stream and after an HTTP header block.
fn executable(data: &[u8]) -> Option<(usize, String)> {
    let mut starts = vec![0usize];
    if let Some(p) = data.windows(4).position(|w| w == b"\r\n\r\n") {
        starts.push(p + 4);
    }
    for s in starts {
        let d = data.get(s..)?;
        if let Some(what) = exe_header(d) {
            return Some((s, what.to_owned()));
        }
    }
    if let Some(hit) = exe_by_name(data) {
        return Some(hit);
    }
    // A PE's DOS stub anywhere (a file after a protocol's own framing).
    let stub = b"This program cannot be run in DOS mode";
    if let Some(p) = data.windows(stub.len()).position(|w| w == stub)
        && let Some(mz) = data
            .get(..p)
            .and_then(|b| b.windows(2).rposition(|w| w == b"MZ"))
    {
        return Some((mz, "PE executable (MZ header and DOS stub)".to_owned()));
    }
    None
}

/// Transfer commands naming an executable file: FTP `RETR`/`STOR`, an
/// HTTP `GET`/`POST`, a `get`/`put` of a scripted FTP session.
const TRANSFER_VERBS: &[&[u8]] = &[b"RETR ", b"STOR ", b"GET /", b"get ", b"put "];
/// Executable file extensions (lower case).
const EXE_EXTENSIONS: &[&[u8]] = &[
    b".exe", b".dll", b".scr", b".bat", b".ps1", b".vbs", b".hta", b".msi", b".elf", b".sh",
];

/// A transfer command whose file name ends in an executable extension.
fn exe_by_name(data: &[u8]) -> Option<(usize, String)> {
    for v in TRANSFER_VERBS {
        let mut from = 0;
        while let Some(p) = data
            .get(from..)
            .and_then(|d| d.windows(v.len()).position(|w| w == *v))
        {
            let at = from + p;
            let rest = data.get(at + v.len()..).unwrap_or(&[]);
            let end = rest
                .iter()
                .position(|&b| matches!(b, b' ' | b'\r' | b'\n' | b'?' | b'>' | b'&'))
                .unwrap_or(rest.len());
            let name = rest.get(..end).unwrap_or(&[]);
            let lower: Vec<u8> = name.iter().map(u8::to_ascii_lowercase).collect();
            if EXE_EXTENSIONS
                .iter()
                .any(|e| lower.ends_with(e) && lower.len() > e.len())
            {
                return Some((
                    at,
                    format!(
                        "transfer of an executable by name: {}",
                        sanitize(data.get(at..at + v.len() + end).unwrap_or(&[]), 120)
                    ),
                ));
            }
            from = at + v.len();
        }
    }
    None
}

fn exe_header(d: &[u8]) -> Option<&'static str> {
    if d.starts_with(b"MZ") {
        let lfanew = d
            .get(0x3c..0x40)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|b| u32::from_le_bytes(b) as usize);
        if let Some(off) = lfanew
            && d.get(off..off + 4) == Some(b"PE\0\0")
        {
            return Some("PE executable (MZ header, PE signature)");
        }
        let stub = b"This program cannot be run";
        if d.windows(stub.len()).take(256).any(|w| w == stub) {
            return Some("PE executable (MZ header and DOS stub)");
        }
    }
    if d.starts_with(b"\x7fELF")
        && matches!(d.get(4), Some(1 | 2))
        && matches!(d.get(5), Some(1 | 2))
    {
        return Some("ELF executable");
    }
    match d.get(..4) {
        Some([0xfe, 0xed, 0xfa, 0xce | 0xcf]) | Some([0xce | 0xcf, 0xfa, 0xed, 0xfe]) => {
            Some("Mach-O executable")
        }
        _ => None,
    }
}

/// Monero's levin header: signature 0x0101010101012101 (little-endian),
/// then body length (8 bytes), have-to-return (1) and the command (u32 LE
/// at offset 17; 1001 is the P2P handshake).
fn monero_levin(d: &[u8]) -> Option<String> {
    const SIG: [u8; 8] = [0x01, 0x21, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01];
    if d.get(..8)? != SIG {
        return None;
    }
    let cmd = d
        .get(17..21)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes);
    Some(match cmd {
        Some(1001) => "levin signature, command 1001 (handshake)".to_owned(),
        Some(c) => format!("levin signature, command {c}"),
        None => "levin signature".to_owned(),
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn kinds(c: &[u8], s: &[u8]) -> Vec<IndicatorKind> {
        indicators(c, s).into_iter().map(|i| i.kind).collect()
    }

    #[test]
    fn rat_check_in_with_pipes() {
        let c = b"ANABILGI|192.168.126.143|US|rat1|NO|Administrator|Microsoft Windows XP Professional|Windows XP Service Pack 3";
        assert_eq!(kinds(c, b""), vec![IndicatorKind::CheckIn]);
    }

    #[test]
    fn njrat_check_in() {
        let c = b"145\0ll|'|'|SGFjS2VkXzQ1|'|'|WIN-7PC|'|'|Administrator|'|'|19-05-02|'|'||'|'|Win 7 Professional SP1 x86|'|'|No|'|'|0.7d|'|'|..";
        assert!(kinds(c, b"").contains(&IndicatorKind::CheckIn));
    }

    #[test]
    fn json_check_in() {
        let c = br#"{"type":"hello","hostname":"DESKTOP-1","username":"bob","os":"Windows 10"}"#;
        assert_eq!(kinds(c, b""), vec![IndicatorKind::CheckIn]);
    }

    #[test]
    fn ordinary_text_is_not_a_check_in() {
        assert!(kinds(b"GET /a|b|c|d HTTP/1.1\r\nHost: x\r\n\r\n", b"").is_empty());
        assert!(kinds(br#"{"jsonrpc":"2.0","method":"login","id":1}"#, b"").is_empty());
        assert!(kinds(b"a|b|c|d|e|f", b"").is_empty());
    }

    #[test]
    fn shell_banner_prompt_and_commands() {
        let s = b"Microsoft Windows [Version 6.1.7601]\r\nCopyright (c) 2009 Microsoft Corporation.\r\n\r\nC:\\Users\\bob>";
        assert_eq!(kinds(b"", s), vec![IndicatorKind::ShellText]);
        let s = b"C:\\WINDOWS\\system32>";
        assert_eq!(kinds(b"", s), vec![IndicatorKind::ShellText]);
        let c = b"echo open 0.0.0.0 8884 > o&echo user 1 1 >> o &echo get ssms.exe >> o";
        assert_eq!(
            kinds(c, b""),
            vec![IndicatorKind::ShellText, IndicatorKind::Executable]
        );
        assert!(kinds(b"USER anonymous\r\n", b"220 FTP ready\r\n").is_empty());
    }

    #[test]
    fn executables() {
        let mut pe = vec![0u8; 0x100];
        pe[..2].copy_from_slice(b"MZ");
        pe[0x3c] = 0x80;
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        assert_eq!(kinds(b"", &pe), vec![IndicatorKind::Executable]);
        let mut http = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n".to_vec();
        http.extend_from_slice(b"\x7fELF\x02\x01\x01\0");
        assert_eq!(kinds(b"", &http), vec![IndicatorKind::Executable]);
        assert_eq!(
            kinds(b"", &[0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1]),
            vec![IndicatorKind::Executable]
        );
        assert_eq!(
            kinds(b"USER 1\r\nPASS 1\r\nTYPE I\r\nRETR ssms.exe\r\n", b""),
            vec![IndicatorKind::Executable]
        );
        assert!(kinds(b"RETR notes.txt\r\nGET /index.html HTTP/1.1\r\n", b"").is_empty());
        // "MZ" alone is not an executable.
        assert!(kinds(b"", b"MZ hello world").is_empty());
    }

    #[test]
    fn monero() {
        let mut d = vec![0x01, 0x21, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01];
        d.extend_from_slice(&[0xe2, 0, 0, 0, 0, 0, 0, 0, 1, 0xe9, 0x03, 0, 0]);
        assert_eq!(kinds(&d, b""), vec![IndicatorKind::MoneroP2p]);
        assert!(indicators(&d, b"")[0].detail.contains("1001"));
    }

    #[test]
    fn never_panics_on_short_or_odd_input() {
        for n in 0..64 {
            let d: Vec<u8> = (0..n).map(|i| (i * 37) as u8).collect();
            let _ = indicators(&d, &d);
        }
        let _ = indicators(b"MZ", b"\x7fEL");
        let _ = indicators(b"C:\\", b"{");
    }
}
