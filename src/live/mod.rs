//! `ghostport live`: capture on an interface, stream findings as they are
//! detected, end with the same report `scan` writes (see `docs/live.md`).
//!
//! Order of a run: open the interface, set the filter, open the evidence
//! savefile(s) and the report file, start the attribution helper — all
//! while still privileged — then drop to `--user` (default `nobody` when
//! root), then capture until Ctrl-C/SIGTERM, `--duration` or `--count`.
//! Frames go through the same [`Analyzer`] as offline scans; every few
//! hundred milliseconds (and at once when a flow on a ghost port appears)
//! the loop peeks at the findings so far ([`Analyzer::peek`]) and streams
//! what is new.

pub mod attribution;
pub mod privdrop;
pub mod stream;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::analysis::{AnalysisConfig, Analyzer, InputResult, now_ns};
use crate::capture::FrameSource;
use crate::capture::live::{CaptureStats, LiveOptions, LiveSource};
use crate::classify::{Finding, FindingKind};
use crate::knowledge::KnowledgeBase;
use crate::report::{self, Report, text::Style};
use attribution::{Attributor, LocalAttribution};

/// Output of a live run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveFormat {
    /// Terminal lines, then the text report.
    Text,
    /// No stream on stdout (text lines on stderr), then the JSON report.
    Json,
    /// One JSON object per line: events, then `{"event":"report",...}`.
    Jsonl,
}

/// Everything a live run needs besides the analysis settings.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    /// Interface and libpcap settings.
    pub capture: LiveOptions,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after this many packets.
    pub count: Option<u64>,
    /// Output format.
    pub format: LiveFormat,
    /// Least time between two updates of one finding.
    pub update_interval: Duration,
    /// Drop root to this account after opening the capture (None: keep).
    pub drop_user: Option<String>,
    /// Status line on stderr.
    pub status_line: bool,
    /// ANSI colours in text output.
    pub color: bool,
    /// Write the final report here instead of stdout.
    pub output: Option<PathBuf>,
    /// Overwrite an existing output file.
    pub force: bool,
    /// Include every flow in the report.
    pub all_flows: bool,
    /// Local process attribution.
    pub attribution: bool,
    /// No informational messages on stderr.
    pub quiet: bool,
}

/// How often the loop looks at the clock-driven work (peeks, stats).
const TICK: Duration = Duration::from_millis(100);

struct Out {
    bar: Option<indicatif::ProgressBar>,
    /// Standard output was closed (the reader went away, `| head -1`):
    /// nothing more is written there and the capture ends as on Ctrl-C.
    closed: std::cell::Cell<bool>,
}

impl Out {
    fn stdout(&self, text: &str) -> std::io::Result<()> {
        if self.closed.get() {
            return Ok(());
        }
        let r = self.write_stdout(text);
        match r {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed.set(true);
                Ok(())
            }
            r => r.map_err(|e| {
                std::io::Error::other(
                    report::write::WriteError::Io("standard output".into(), e).to_string(),
                )
            }),
        }
    }
    fn write_stdout(&self, text: &str) -> std::io::Result<()> {
        let write = || -> std::io::Result<()> {
            let mut o = std::io::stdout().lock();
            o.write_all(text.as_bytes())?;
            o.flush()
        };
        match &self.bar {
            Some(b) => b.suspend(write),
            None => write(),
        }
    }
    fn stderr(&self, text: &str) {
        match &self.bar {
            Some(b) => b.suspend(|| report::text::eprint_line(text)),
            None => report::text::eprint_line(text),
        }
    }
}

/// Runs a live capture to its end; returns the exit status (as `scan`).
pub fn run(
    cfg: LiveConfig,
    kb: &KnowledgeBase,
    acfg: &AnalysisConfig,
    command_line: Vec<String>,
) -> Result<u8> {
    // Everything that needs privileges first.
    let mut source = LiveSource::open(cfg.capture.clone())?;
    let mut report_file = match &cfg.output {
        Some(p) if p.as_os_str() != "-" => {
            // Opened in place now (the drop user may not create files
            // there), never through a link; created new without --force.
            let out = crate::safefile::open_output(p, cfg.force).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    anyhow::anyhow!("{}: file exists (use --force to overwrite)", p.display())
                } else {
                    anyhow::anyhow!("cannot write the report file {}: {e}", p.display())
                }
            })?;
            Some((p.clone(), out))
        }
        _ => None,
    };
    let drop_acct = match &cfg.drop_user {
        Some(u) if privdrop::is_root() => {
            let a = privdrop::account(u)?;
            (a.uid != 0).then_some(a)
        }
        _ => None,
    };
    let mut attributor = if !cfg.attribution {
        None
    } else if drop_acct.is_some() {
        let exe = std::env::current_exe().context("cannot find this executable")?;
        Some(
            Attributor::spawn_helper(&exe)
                .unwrap_or_else(|e| Attributor::Broken(format!("cannot start it: {e}"))),
        )
    } else {
        Some(Attributor::in_process())
    };
    if let Some(acct) = &drop_acct {
        // The files this run created are handed to the user through their
        // descriptors (a file that existed before keeps its owner).
        source
            .hand_savefiles_to(acct.uid, acct.gid)
            .with_context(|| format!("cannot hand the capture files to {}", acct.name))?;
        if let Some((p, out)) = &report_file {
            out.hand_to(acct.uid, acct.gid)
                .with_context(|| format!("cannot hand {} to {}", p.display(), acct.name))?;
        }
        privdrop::drop_to(acct)?;
    } else {
        // Started unprivileged with file capabilities (`setcap`): the
        // capture is open, they are not needed any more.
        privdrop::shed_file_capabilities()
            .context("cannot drop the file capabilities after opening the capture")?;
    }

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal ends the process at once.
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))
            .context("cannot install the signal handler")?;
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("cannot install the signal handler")?;
    }

    let bar = (cfg.status_line && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        b
    });
    let out = Out {
        bar,
        closed: std::cell::Cell::new(false),
    };
    if !cfg.quiet {
        out.stderr(&format!(
            "ghostport: capturing on {} ({}){}{}; Ctrl-C to stop",
            report::text::clean(&cfg.capture.iface),
            crate::capture::linktype_name(source.linktypes().first().copied().unwrap_or(0)),
            cfg.capture
                .filter
                .as_deref()
                .map(|f| format!(", filter '{}'", report::text::clean(f)))
                .unwrap_or_default(),
            match &drop_acct {
                Some(a) => format!(", privileges dropped to {} (uid {})", a.name, a.uid),
                None => String::new(),
            }
        ));
    }

    let started_ns = now_ns();
    let t0 = Instant::now();
    let mut az = Analyzer::new(kb, acfg);
    az.watch(kb, acfg);
    let mut tracker = stream::Tracker::default();
    let mut next_tick = t0 + TICK;
    let mut last_peek = t0;
    let mut pending = false;
    let mut last_drops = 0u64;
    let mut next_stats = t0 + Duration::from_secs(1);
    let mut capture_error = None;
    let mut attribute = |f: &Finding| -> Option<LocalAttribution> {
        if f.kind == FindingKind::Sweep {
            return None;
        }
        attributor
            .as_mut()
            .map(|a| a.lookup(f.transport, f.server.ip, f.server.port))
    };
    loop {
        if stop.load(Ordering::Relaxed)
            || out.closed.get()
            || cfg.duration.is_some_and(|d| t0.elapsed() >= d)
            || cfg.count.is_some_and(|n| az.packet_stats().frames >= n)
        {
            break;
        }
        match source.next_frame() {
            Ok(Some(frame)) => {
                az.frame(&frame);
            }
            Ok(None) => {}
            Err(e) => {
                capture_error = Some(e.to_string());
            }
        }
        // The interface went away, reading failed or the evidence file
        // could not be written: stop, and report what was seen.
        if let Some(f) = source.fault() {
            capture_error = Some(f.to_string());
        }
        if capture_error.is_some() {
            break;
        }
        let now = Instant::now();
        if now < next_tick {
            continue;
        }
        next_tick = now + TICK;
        let (news, packets) = az.take_news();
        pending |= packets > 0;
        if news > 0 || (pending && now.duration_since(last_peek) >= cfg.update_interval) {
            let mut outcome = az.peek();
            last_peek = now;
            let (events, held) = tracker.observe(
                &mut outcome.findings,
                now,
                cfg.update_interval,
                &mut attribute,
            );
            pending = held;
            emit(&out, &cfg, &events, &outcome.findings)?;
        }
        if now >= next_stats {
            next_stats = now + Duration::from_secs(1);
            let st = source.stats();
            let drops = st.dropped + st.if_dropped;
            if drops > last_drops {
                warn_drops(&out, &cfg, &st, drops - last_drops)?;
                last_drops = drops;
            }
            if let Some(b) = &out.bar {
                b.set_message(format!(
                    "{}: {} packets, {} flows, {} findings, {} dropped",
                    report::text::clean(&cfg.capture.iface),
                    st.delivered,
                    az.active_flows(),
                    tracker.new_findings,
                    drops
                ));
                b.tick();
            }
        }
    }
    if let Some(b) = &out.bar {
        b.finish_and_clear();
    }
    let stats = source.stats();
    let drops = stats.dropped + stats.if_dropped;
    if drops > last_drops {
        warn_drops(&out, &cfg, &stats, drops - last_drops)?;
    }
    // The last evidence bytes: a full disk now also makes the report
    // incomplete (the evidence file is short).
    source.flush();
    if capture_error.is_none() {
        capture_error = source.fault().map(|f| f.to_string());
    }
    let summary = Box::new(source).finish();
    let inputs = vec![InputResult {
        summary,
        error: capture_error,
        sha256_skipped: None,
    }];
    let analysis = az.into_analysis(inputs, started_ns, t0);
    let mut rep = Report::new(analysis, kb, command_line, acfg, cfg.all_flows);
    rep.capture = Some(stats);
    for f in &mut rep.findings {
        let k = stream::key(f);
        f.local_process = match tracker.attribution(&k) {
            Some(a) => Some(a.clone()),
            // Seen only at the end: attribute now.
            None => attribute(f),
        };
    }
    for e in rep.inputs.iter().filter_map(|i| i.error.as_ref()) {
        report::text::eprint_line(&format!("ghostport: error: {e}"));
    }
    write_report(&rep, &cfg, report_file.as_mut(), &out)?;
    if drops > 0 {
        report::text::eprint_line(&format!(
            "ghostport: warning: libpcap dropped {drops} packet(s): the report does not cover all traffic"
        ));
    }
    if !rep.meta.complete {
        report::text::eprint_line(
            "ghostport: the report is incomplete (see the errors above); exit status 2",
        );
    }
    Ok(rep.exit_code())
}

fn emit(
    out: &Out,
    cfg: &LiveConfig,
    events: &[(&'static str, usize)],
    findings: &[Finding],
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let time = crate::timefmt::rfc3339_micros(now_ns());
    let mut buf = Vec::new();
    let mut err_lines = String::new();
    for (event, i) in events {
        let Some(f) = findings.get(*i) else {
            continue;
        };
        match cfg.format {
            LiveFormat::Jsonl => {
                let ev = stream::Event {
                    event,
                    time: time.clone(),
                    key: stream::key_text(&stream::key(f)),
                    finding: f,
                };
                stream::write_jsonl(&mut buf, &ev)?;
            }
            LiveFormat::Text => {
                let t = time.get(11..19).unwrap_or(&time);
                writeln!(buf, "{}", stream::text_line(event, f, t, cfg.color))?;
            }
            LiveFormat::Json => {
                let t = time.get(11..19).unwrap_or(&time);
                err_lines.push_str(&stream::text_line(event, f, t, false));
                err_lines.push('\n');
            }
        }
    }
    if !buf.is_empty() {
        out.stdout(&String::from_utf8_lossy(&buf))?;
    }
    if !err_lines.is_empty() && !cfg.quiet {
        out.stderr(err_lines.trim_end());
    }
    Ok(())
}

fn warn_drops(out: &Out, cfg: &LiveConfig, st: &CaptureStats, new: u64) -> Result<()> {
    out.stderr(&format!(
        "ghostport: warning: {new} more packet(s) dropped (total: {} by the buffer, {} by the interface, of {} received): the picture is incomplete; try a larger --buffer-size or a narrower -f filter",
        st.dropped, st.if_dropped, st.received
    ));
    if cfg.format == LiveFormat::Jsonl {
        let line = serde_json::json!({
            "event": "drops",
            "time": crate::timefmt::rfc3339_micros(now_ns()),
            "capture": st,
        });
        out.stdout(&format!("{line}\n"))?;
    }
    Ok(())
}

fn write_report(
    rep: &Report,
    cfg: &LiveConfig,
    file: Option<&mut (PathBuf, crate::safefile::Output)>,
    out: &Out,
) -> Result<()> {
    let mut text = Vec::new();
    let to_file = file.is_some();
    match cfg.format {
        LiveFormat::Text => report::text::write(
            rep,
            &mut text,
            Style {
                color: cfg.color && !to_file,
            },
        )?,
        LiveFormat::Json => report::json::write(rep, &mut text)?,
        LiveFormat::Jsonl if to_file => report::json::write(rep, &mut text)?,
        LiveFormat::Jsonl => {
            let line = serde_json::json!({"event": "report", "report": rep});
            serde_json::to_writer(&mut text, &line)?;
            text.push(b'\n');
        }
    }
    match file {
        Some((path, out)) => {
            let f = &mut out.file;
            if let Err(e) = f.write_all(&text).and_then(|_| f.sync_all()) {
                // No half-written report: empty the file and remove it if
                // this run created it (before the capture, while privileged).
                let _ = f.set_len(0);
                let removed = out.created && std::fs::remove_file(&*path).is_ok();
                anyhow::bail!(
                    "{}; the partial file was {}",
                    report::write::WriteError::Io(path.clone(), e),
                    if removed { "removed" } else { "emptied" }
                );
            }
        }
        None => out.stdout(&String::from_utf8_lossy(&text))?,
    }
    Ok(())
}

/// Parses `--duration`: `90` (seconds), `90s`, `10m`, `1h30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("'{s}' is not a duration ({e}); use seconds or a unit: 30s, 10m, 1h"))
}

/// Parses `--ring N:MB`: N files of MB megabytes (10^6 bytes).
pub fn parse_ring(s: &str) -> Result<(u32, u64), String> {
    let bad = || format!("'{s}' is not N:MB (e.g. 10:100 for ten files of 100 MB)");
    let (n, mb) = s.split_once(':').ok_or_else(bad)?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    let mb: u64 = mb.trim().parse().map_err(|_| bad())?;
    if n == 0 || mb == 0 {
        return Err(bad());
    }
    Ok((n, mb.saturating_mul(1_000_000)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_rings() {
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("soon").unwrap_err().contains("'soon'"));
        assert_eq!(parse_ring("3:10"), Ok((3, 10_000_000)));
        assert!(parse_ring("3").is_err());
        assert!(parse_ring("0:10").is_err());
    }
}
