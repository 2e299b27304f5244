//! The terminal summary: totals, then findings most severe first, each with
//! its evidence on a few lines. Every string that came from a capture or a
//! data file passes through [`clean`], so control characters and ANSI escape
//! sequences cannot reach the terminal.

use std::io::{self, Write};

use super::Report;
use crate::classify::{Finding, FindingKind};
use crate::timefmt::{human_duration, rfc3339_micros};

/// Styling on or off (ANSI colours).
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    /// Emit ANSI colours.
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    fn level(&self, level: &str, s: &str) -> String {
        let code = match level {
            "critical" => "1;35",
            "high" => "1;31",
            "medium" => "33",
            "low" => "36",
            _ => "2",
        };
        self.paint(code, s)
    }
}

/// Neutralises control characters (including ESC) from untrusted text.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// [`clean`] line by line: the line breaks of a message stay, every other
/// control or bidi character is escaped.
pub fn clean_lines(s: &str) -> String {
    s.split('\n').map(clean).collect::<Vec<_>>().join("\n")
}

/// Prints a message on standard error, [cleaned](clean_lines) (file and
/// interface names in it are attacker-controlled); never panics, also
/// when standard error is closed or full.
pub fn eprint_line(message: &str) {
    use std::io::Write as _;
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{}", clean_lines(message));
}

/// Human-readable byte count.
pub fn bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

/// Writes the terminal summary.
pub fn write(r: &Report, out: &mut dyn Write, style: Style) -> io::Result<()> {
    let s = &r.summary;
    let p = &s.packets;
    writeln!(
        out,
        "{} {} — {} input(s), {} packets{}",
        style.bold("ghostport"),
        r.meta.version,
        r.inputs.len(),
        p.frames,
        match (&s.capture_start, &s.capture_end) {
            (Some(a), Some(b)) => format!(", captured {a} → {b}"),
            _ => String::new(),
        }
    )?;
    writeln!(
        out,
        "{}",
        style.dim(&format!(
            "data: {}, {}",
            clean(&r.meta.data.knowledge_base),
            clean(&r.meta.data.registry)
        ))
    )?;
    writeln!(out)?;
    for i in &r.inputs {
        let sum = &i.summary;
        writeln!(
            out,
            "  input    {}  {}  {}  sha256 {}  {} {}",
            clean(&sum.name),
            bytes(sum.size),
            clean(&sum.format),
            sum.sha256.get(..16).unwrap_or(&sum.sha256),
            sum.frames,
            if sum.linktypes.is_empty() && !sum.format.starts_with("pcap") {
                "flow records"
            } else {
                "frames"
            }
        )?;
        if let Some(e) = &i.error {
            writeln!(
                out,
                "           {} {}",
                style.level("high", "error:"),
                clean(e)
            )?;
        }
    }
    if let Some(c) = &r.capture {
        writeln!(
            out,
            "  capture  {} live{}: libpcap received {}, dropped {} (buffer) + {} (interface), {} analysed{}",
            clean(&c.interface),
            c.filter
                .as_deref()
                .map(|f| format!(", filter '{}'", clean(f)))
                .unwrap_or_default(),
            c.received,
            c.dropped,
            c.if_dropped,
            c.delivered,
            if c.dropped + c.if_dropped > 0 {
                format!(
                    "  {}",
                    style.level("high", "packets were dropped: the picture is incomplete")
                )
            } else {
                String::new()
            }
        )?;
    }
    if let Some(rs) = &r.summary.records {
        let skipped: Vec<String> = rs.skipped.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(
            out,
            "  records  {} lines, {} flows ({} paired from one-way records{}), {} skipped{}; payload is not available from flow records",
            rs.lines,
            rs.flows,
            rs.paired,
            if rs.pairing_evicted > 0 {
                format!(", {} left unpaired: pairing table full", rs.pairing_evicted)
            } else {
                String::new()
            },
            rs.skipped.values().sum::<u64>(),
            if skipped.is_empty() {
                String::new()
            } else {
                format!(" ({})", skipped.join(", "))
            }
        )?;
    }
    let skipped: u64 = p.skipped.values().sum();
    let reasons: Vec<String> = p.skipped.iter().map(|(k, v)| format!("{k} {v}")).collect();
    writeln!(
        out,
        "  packets  {} read, {} TCP, {} UDP, {} ICMP errors, {} skipped{}",
        p.frames,
        p.tcp,
        p.udp,
        p.icmp_errors,
        skipped,
        if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", reasons.join(", "))
        }
    )?;
    let ft = &s.flow_table;
    writeln!(
        out,
        "  flows    {} ({} tcp, {} udp), {} on ghost ports; peak table {} of {}, evicted {}, timed out {}",
        s.flows.total,
        s.flows.tcp,
        s.flows.udp,
        s.flows.ghost,
        ft.stats.peak,
        ft.max_flows,
        ft.stats.evicted,
        ft.stats.timed_out
    )?;
    if ft.stats.evicted > 0 {
        writeln!(
            out,
            "           {} the flow table was full: {} flows were evicted early (their records are split); raise --max-flows",
            style.level("medium", "note:"),
            ft.stats.evicted
        )?;
    }
    for sup in &s.suppressed {
        writeln!(
            out,
            "  policy   {} finding(s), {} flow(s) suppressed by {} ({}){}",
            sup.findings,
            sup.flows,
            clean(&sup.rule),
            clean(&sup.origin),
            if sup.note.is_empty() {
                String::new()
            } else {
                format!(": {}", clean(&sup.note))
            }
        )?;
    }
    if !r.meta.complete {
        writeln!(
            out,
            "  {} the report is INCOMPLETE: an input could not be read to its end",
            style.level("high", "warning:")
        )?;
    }
    writeln!(out)?;
    if r.findings.is_empty() {
        writeln!(out, "No ghost-port traffic found.")?;
        return Ok(());
    }
    let by: Vec<String> = ["critical", "high", "medium", "low", "info"]
        .iter()
        .filter_map(|l| s.findings_by_severity.get(l).map(|n| format!("{n} {l}")))
        .collect();
    writeln!(
        out,
        "{} ({})",
        style.bold(&format!("{} finding(s)", r.findings.len())),
        by.join(", ")
    )?;
    let kinds: Vec<String> = s
        .findings_by_kind
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    writeln!(out, "  by kind: {}", kinds.join(", "))?;
    if s.findings_dropped > 0 {
        writeln!(
            out,
            "  ({} less severe findings were folded: cap reached)",
            s.findings_dropped
        )?;
        for g in s.findings_folded.iter().take(10) {
            writeln!(
                out,
                "    {}/{} {}: {} finding(s), {} flow(s), {} answered, top score {}",
                g.port,
                g.transport,
                g.kind.as_str(),
                g.findings,
                g.flows,
                g.answered,
                g.max_score
            )?;
        }
        if s.findings_folded.len() > 10 {
            writeln!(
                out,
                "    ... {} more port(s): see the JSON report's summary.findings_folded",
                s.findings_folded.len() - 10
            )?;
        }
    }
    let collapsed = |f: &&Finding| f.explained.as_ref().is_some_and(|e| e.collapsed());
    for f in r.findings.iter().filter(|f| !collapsed(f)) {
        writeln!(out)?;
        finding(f, out, style)?;
    }
    explained_section(r.findings.iter().filter(collapsed), out, style)
}

/// The explained findings (known applications, negotiated ports), one line
/// each: kept and counted, out of the way of the ones to investigate. The
/// JSON and HTML reports have every detail.
fn explained_section<'a>(
    fs: impl Iterator<Item = &'a Finding>,
    out: &mut dyn Write,
    style: Style,
) -> io::Result<()> {
    let fs: Vec<&Finding> = fs.collect();
    if fs.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        style.bold(&format!(
            "{} explained finding(s): known applications and negotiated ports (details in the JSON/HTML report)",
            fs.len()
        ))
    )?;
    for f in fs {
        let lvl = f.severity.level.as_str();
        let why = f
            .explained
            .as_ref()
            .map(|e| clean(&e.reason))
            .unwrap_or_default();
        writeln!(
            out,
            "  {} {} {}/{} on {}: {}",
            style.level(
                lvl,
                &format!("[{} {}]", lvl.to_uppercase(), f.severity.score)
            ),
            f.id,
            f.server.port,
            f.transport,
            f.server.ip,
            why
        )?;
    }
    Ok(())
}

fn finding(f: &Finding, out: &mut dyn Write, style: Style) -> io::Result<()> {
    let lvl = f.severity.level.as_str();
    writeln!(
        out,
        "{} {}  {}",
        style.level(
            lvl,
            &format!("[{} {}]", lvl.to_uppercase(), f.severity.score)
        ),
        f.id,
        style.bold(&clean(&f.title))
    )?;
    if let Some(v) = &f.verdict {
        let rec = v
            .record
            .as_ref()
            .map(|r| {
                format!(
                    " — {} \"{}\", assignee {}{}",
                    clean(&r.service_name),
                    clean(&r.description),
                    clean(r.assignee.as_deref().unwrap_or("-")),
                    r.registration_date
                        .as_deref()
                        .map(|d| format!(", registered {}", clean(d)))
                        .unwrap_or_default()
                )
            })
            .unwrap_or_default();
        let label = if f.kind == FindingKind::GhostSourcePort {
            "src port"
        } else {
            "port"
        };
        writeln!(
            out,
            "    {label:<9} {}/{} class {}{}",
            v.port,
            v.transport,
            v.class.as_str(),
            rec
        )?;
        // The negative evidence ("no Wireshark dissector...", "not in ...")
        // folds into one line; the full list stays in JSON and `ghostport port`.
        let is_negative = |t: &str| t.starts_with("no ") || t.starts_with("not in ");
        let negatives: Vec<&str> = v
            .reasons
            .iter()
            .filter(|r| is_negative(&r.text))
            .map(|r| r.source.as_str())
            .collect();
        let mut lines: Vec<String> = Vec::new();
        let mut folded = false;
        for reason in &v.reasons {
            if is_negative(&reason.text) {
                if !folded && negatives.len() > 1 {
                    folded = true;
                    lines.push(format!(
                        "no implementation evidence in {} sources: {} (details: ghostport port {}/{})",
                        negatives.len(),
                        clean(&negatives.join(", ")),
                        v.port,
                        v.transport
                    ));
                } else if negatives.len() <= 1 {
                    lines.push(format!(
                        "{} [{}]",
                        clean(&reason.text),
                        clean(&reason.source)
                    ));
                }
                continue;
            }
            lines.push(format!(
                "{} [{}]",
                clean(&reason.text),
                clean(&reason.source)
            ));
        }
        for (i, line) in lines.iter().enumerate() {
            let head = if i == 0 { "why" } else { "" };
            writeln!(out, "    {head:<9} - {line}")?;
        }
        if !v.tags.is_empty() {
            writeln!(out, "    {:<9} {}", "tags", clean(&v.tags.join(", ")))?;
        }
    }
    let clients: Vec<String> = f.clients.iter().take(5).map(|c| c.to_string()).collect();
    let more = f.clients_total.saturating_sub(clients.len() as u64);
    writeln!(
        out,
        "    {:<9} {} → {} ({}), {} flow(s), {} client(s): {}{}",
        "seen",
        rfc3339_micros(f.first_ts),
        rfc3339_micros(f.last_ts),
        human_duration(f.last_ts - f.first_ts),
        f.totals.flows,
        if f.clients_capped {
            format!("{}+", f.clients_total)
        } else {
            f.clients_total.to_string()
        },
        clients.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )?;
    let t = &f.totals;
    writeln!(
        out,
        "    {:<9} client→server {} pkts {} ({} payload), server→client {} pkts {} ({} payload)",
        "traffic",
        t.c2s.packets,
        bytes(t.c2s.bytes),
        bytes(t.c2s.payload_bytes),
        t.s2c.packets,
        bytes(t.s2c.bytes),
        bytes(t.s2c.payload_bytes)
    )?;
    for b in &f.behaviours {
        writeln!(
            out,
            "    {:<9} {}: {}",
            "behaviour",
            b.kind,
            clean(&b.detail)
        )?;
    }
    if !f.targets.is_empty() {
        let ports: Vec<String> = f
            .targets
            .iter()
            .take(20)
            .map(|t| format!("{}/{}", t.port, t.transport))
            .collect();
        writeln!(
            out,
            "    {:<9} {}{}",
            "targets",
            ports.join(" "),
            if f.targets.len() > 20 {
                format!(" … ({} in all)", f.targets.len())
            } else {
                String::new()
            }
        )?;
    }
    for p in &f.protocols {
        let id = &p.identification;
        writeln!(
            out,
            "    {:<9} {} ({} flow(s)): {}  [{}]",
            "payload",
            id.protocol.as_str(),
            p.flows,
            clean(&id.summary),
            clean(id.evidence.rule)
        )?;
    }
    if let Some(e) = &f.explained {
        let label = if e.collapsed() { "explained" } else { "named" };
        writeln!(out, "    {label:<9} {}", clean(&e.reason))?;
    }
    for x in &f.indicators {
        writeln!(
            out,
            "    {:<9} {} from the {} at offset {}: {}",
            "content",
            x.kind.as_str(),
            x.direction.as_str(),
            x.offset,
            clean(&x.detail)
        )?;
    }
    let reasons: Vec<String> = f.severity.reasons.iter().map(|r| clean(r)).collect();
    for (i, r) in reasons.iter().enumerate() {
        writeln!(out, "    {:<9} {}", if i == 0 { "severity" } else { "" }, r)?;
    }
    let tags: Vec<String> = f
        .attack
        .iter()
        .map(|a| format!("{} {}", a.id, a.name))
        .collect();
    writeln!(out, "    {:<9} {}", "att&ck", tags.join(", "))?;
    if let Some(a) = &f.local_process {
        writeln!(out, "    {:<9} {}", "local", clean(&a.summary()))?;
        for s in &a.sockets {
            for p in &s.processes {
                writeln!(
                    out,
                    "    {:<9} {} {} {} pid {} uid {} {}",
                    "",
                    clean(&s.role),
                    clean(&s.local),
                    clean(&s.state),
                    p.pid,
                    p.uid.map(|u| u.to_string()).unwrap_or_else(|| "?".into()),
                    clean(&p.cmdline.join(" "))
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn clean_neutralises_escapes() {
        assert_eq!(clean("a\x1b[31mb\r\n"), "a\\u{1b}[31mb\\u{d}\\u{a}");
        assert_eq!(clean("ok ü"), "ok ü");
        assert_eq!(clean("x\u{202e}y"), "x\\u{202e}y");
    }
    #[test]
    fn byte_units() {
        assert_eq!(bytes(10), "10 B");
        assert_eq!(bytes(2048), "2.0 KiB");
    }
}
