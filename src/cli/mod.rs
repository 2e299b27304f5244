//! The command line: argument definitions ([`args`]) and the code that turns
//! them into library calls. `main.rs` only calls [`main`].

pub mod args;
pub mod config;
mod docgen;
mod errors;
mod kb;
mod live;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::analysis::{self, AnalysisConfig};
use crate::capture::{self, ReaderKind};
use crate::classify::ClassifyConfig;
use crate::flow::FlowConfig;
use crate::knowledge::{self, policy::Policy};
use crate::report::{self, Report, text::Style};
use args::{Cli, ColorChoice, Command, ConfigCommand, Format, ScanArgs};

/// Exit status for errors (as clamscan: 0 clean, 1 findings, 2 error).
pub const EXIT_ERROR: u8 = 2;

/// Runs the command line; returns the process exit status.
pub fn main() -> ExitCode {
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return errors::usage_error(e),
    };
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    init_logging(cli.verbose);
    // config file defaults first, so its `format = "json"` also shapes errors
    let prepared = match &mut cli.command {
        Command::Scan(a) => {
            config::apply(a, matches.subcommand_matches("scan"), &config::env_lookup).map(|_| ())
        }
        _ => Ok(()),
    };
    let json_errors = matches!(&cli.command, Command::Scan(s) if matches!(s.format, Some(Format::Json | Format::Jsonl)))
        || live::json_errors(&cli.command);
    match prepared.and_then(|()| run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            let message = format!("{e:#}");
            errors::print_error(&message, &message, json_errors);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Standard output for a subcommand's result. A failed write names
/// standard output (and the fix when it is full); a closed pipe keeps its
/// kind, so that [`main`] ends quietly with the status the run would have
/// had. Never panics, unlike `print!`.
pub(crate) struct Stdout(std::io::StdoutLock<'static>);

pub(crate) fn stdout() -> Stdout {
    Stdout(std::io::stdout().lock())
}

fn stdout_error(e: std::io::Error) -> std::io::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return e;
    }
    let w = report::write::WriteError::Io("standard output".into(), e);
    std::io::Error::other(w.to_string())
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).map_err(stdout_error)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().map_err(stdout_error)
    }
}

/// Writes `text` to standard output and flushes it (see [`Stdout`]).
pub(crate) fn print_out(text: &str) -> Result<()> {
    let mut o = stdout();
    o.write_all(text.as_bytes())?;
    o.flush()?;
    Ok(())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> Result<u8> {
    // Only live capture (and listing what may be captured on) uses file
    // capabilities (`setcap` install); everything else, a scan of a
    // hostile file first, runs without them.
    if !matches!(
        cli.command,
        Command::Live(_) | Command::Interfaces(_) | Command::AttributionHelper
    ) {
        crate::live::privdrop::shed_file_capabilities()
            .context("cannot drop the file capabilities of this program")?;
    }
    match cli.command {
        Command::Scan(a) => scan(a),
        Command::Collect(a) => collect(a),
        Command::Port(a) => kb::port(&a),
        Command::Ports(a) => kb::ports(&a),
        Command::Export(a) => kb::export(&a),
        Command::Registry(c) => kb::registry(&c),
        Command::Live(a) => live::live(a),
        Command::Interfaces(a) => live::interfaces(&a),
        Command::AttributionHelper => live::attribution_helper(),
        Command::Config(ConfigCommand::Show(a)) => config_show(&a),
        Command::Completions { shell } => docgen::completions(shell, &mut stdout()),
        Command::Man(a) => docgen::man(&a, &mut stdout()),
    }
}

/// `-v`: info (per-input lines), `-vv`: debug (flow-table events), `-vvv`: trace.
/// Quiet by default; `GHOSTPORT_LOG` (env_logger syntax) overrides.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Info,
        2 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    let mut b = env_logger::Builder::new();
    b.filter_level(log::LevelFilter::Off)
        .filter_module("ghostport", level)
        .parse_env(env_logger::Env::new().filter("GHOSTPORT_LOG"))
        .format(|buf, r| {
            writeln!(
                buf,
                "ghostport: {}: {}",
                r.level().as_str().to_ascii_lowercase(),
                report::text::clean_lines(&r.args().to_string())
            )
        });
    let _ = b.try_init();
}

/// `ghostport config show`: resolves the scan options as `scan` would.
fn config_show(a: &args::ConfigShowArgs) -> Result<u8> {
    let mut argv: Vec<String> = vec!["ghostport".into(), "scan".into()];
    if let Some(c) = &a.config {
        argv.push("--config".into());
        argv.push(c.display().to_string());
    }
    if a.no_config {
        argv.push("--no-config".into());
    }
    argv.extend(a.scan_options.iter().cloned());
    argv.extend(["--".to_owned(), "-".to_owned()]);
    let m: ArgMatches = Cli::command().try_get_matches_from(&argv).map_err(|e| {
        anyhow::anyhow!(
            "config show: the scan options do not parse: {}",
            e.render().to_string().trim_end()
        )
    })?;
    let cli = Cli::from_arg_matches(&m).map_err(|e| anyhow::anyhow!("{e}"))?;
    let Command::Scan(mut sa) = cli.command else {
        anyhow::bail!("config show: internal error: not a scan command line");
    };
    let eff = config::apply(&mut sa, m.subcommand_matches("scan"), &config::env_lookup)?;
    let pol = build_policy(sa.config.as_deref(), &sa.analysis.allow, &sa.analysis.deny)?;
    let out = &mut stdout();
    match a.format {
        args::PortFormat::Json => {
            let obj = serde_json::json!({
                "config_file": eff.config_file,
                "config_file_source": eff.config_file_source,
                "scan": eff.settings,
                "policy": pol.rules(),
            });
            serde_json::to_writer_pretty(&mut *out, &obj)?;
            writeln!(out)?;
        }
        args::PortFormat::Text => {
            match (&eff.config_file, &eff.config_file_source) {
                (Some(p), Some(s)) => writeln!(out, "config file: {p} (from {s})")?,
                _ => writeln!(
                    out,
                    "config file: none (looked at --config, $GHOSTPORT_CONFIG, $XDG_CONFIG_HOME/ghostport/config.toml or ~/.config/ghostport/config.toml)"
                )?,
            }
            writeln!(out, "\n[scan]")?;
            let width = eff.settings.iter().map(|e| e.key.len()).max().unwrap_or(0);
            for e in &eff.settings {
                let v = match &e.value {
                    serde_json::Value::String(s) => s.clone(),
                    v => v.to_string(),
                };
                writeln!(out, "{:width$} = {v:<8} # {}", e.key, e.source)?;
            }
            writeln!(out, "\npolicy: {} rule(s)", pol.rules().len())?;
            for r in pol.rules() {
                let note = if r.note.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", r.note.escape_debug())
                };
                writeln!(out, "  {}{note}   # {}", r.spec(), r.origin.escape_debug())?;
            }
        }
    }
    out.flush()?;
    Ok(0)
}

/// Builds the site policy from `--allow`, `--deny` and `--config` (shared by
/// `scan`, `live` and `config show`).
pub(crate) fn build_policy(
    config: Option<&std::path::Path>,
    allow: &[String],
    deny: &[String],
) -> Result<Policy> {
    let mut p = match config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read policy file {}", path.display()))?;
            Policy::from_toml(&text, &path.display().to_string())?
        }
        None => Policy::default(),
    };
    for s in allow {
        p.push(knowledge::policy::Rule::parse_cli(
            s,
            knowledge::policy::Action::Allow,
        )?);
    }
    for s in deny {
        p.push(knowledge::policy::Rule::parse_cli(
            s,
            knowledge::policy::Action::Deny,
        )?);
    }
    Ok(p)
}

impl args::AnalysisArgs {
    /// Flow-table settings.
    pub(crate) fn flow_config(&self) -> FlowConfig {
        FlowConfig {
            max_flows: self.max_flows.max(1),
            tcp_timeout_ns: i64::from(self.tcp_timeout) * 1_000_000_000,
            udp_timeout_ns: i64::from(self.udp_timeout) * 1_000_000_000,
            payload_cap: self.payload_cap,
            payload_ports: None,
            service_ports: None,
            ghost_ports: None,
            ..FlowConfig::default()
        }
    }

    /// Classifier settings, with the site policy from the command line and
    /// the config file `config` (when given).
    pub(crate) fn classify_config(
        &self,
        config: Option<&std::path::Path>,
    ) -> Result<ClassifyConfig> {
        Ok(ClassifyConfig {
            policy: build_policy(config, &self.allow, &self.deny)?,
            all_flows_cap: if self.all_flows {
                self.all_flows_cap
            } else {
                0
            },
            kinds: crate::classify::Kinds::parse(&self.kinds).map_err(anyhow::Error::msg)?,
            ..ClassifyConfig::default()
        })
    }
}

struct Bar(indicatif::ProgressBar, std::time::Instant);

impl analysis::Progress for Bar {
    fn update(&mut self, bytes: u64, frames: u64) {
        self.0.set_position(bytes);
        let secs = self.1.elapsed().as_secs_f64().max(1e-3);
        self.0.set_message(format!(
            "{frames} packets, {:.0} packets/s",
            frames as f64 / secs
        ));
    }
}

pub(crate) fn use_color(choice: ColorChoice, to_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// Parses `--report FORMAT:FILE`.
fn parse_report_spec(spec: &str) -> Result<(Format, std::path::PathBuf)> {
    use clap::ValueEnum;
    let Some((f, path)) = spec.split_once(':').filter(|(_, p)| !p.is_empty()) else {
        anyhow::bail!(
            "--report {spec:?}: expected FORMAT:FILE, e.g. html:report.html (formats: text, json, html, csv, jsonl)"
        );
    };
    let format = Format::from_str(f, true).map_err(|_| {
        anyhow::anyhow!(
            "--report {spec:?}: unknown format {f:?}; use one of text, json, html, csv, jsonl"
        )
    })?;
    Ok((format, path.into()))
}

/// Renders the report in one format.
fn render(rep: &Report, format: Format, w: &mut dyn Write, style: Style) -> std::io::Result<()> {
    match format {
        Format::Text => report::text::write(rep, w, style),
        Format::Json => report::json::write(rep, w),
        Format::Html => report::html::write(rep, w),
        Format::Csv => report::csv::write(rep, w),
        Format::Jsonl => report::jsonl::write(rep, w),
    }
}

/// The outputs of a report: `-F`/`-o` (the default: text on standard
/// output) and every `--report FORMAT:FILE`; refuses a file named twice, and
/// an existing file without `--force`.
fn report_outputs(
    format: Option<Format>,
    output: Option<&std::path::Path>,
    report: &[String],
    force: bool,
) -> Result<Vec<(Format, std::path::PathBuf)>> {
    let mut outputs: Vec<(Format, std::path::PathBuf)> = report
        .iter()
        .map(|s| parse_report_spec(s))
        .collect::<Result<_>>()?;
    if output.is_some() || format.is_some() || outputs.is_empty() {
        outputs.insert(
            0,
            (
                format.unwrap_or(Format::Text),
                output.map_or_else(|| "-".into(), std::path::Path::to_path_buf),
            ),
        );
    }
    for (i, (_, p)) in outputs.iter().enumerate() {
        if outputs[..i].iter().any(|(_, q)| q == p) {
            anyhow::bail!(
                "{} is named by two outputs; give each --report/-o its own file",
                p.display()
            );
        }
        if p.as_os_str() != "-"
            && !force
            && std::fs::metadata(p).is_ok_and(|m| m.is_file() || m.is_dir())
        {
            anyhow::bail!("{}: file exists (use --force to overwrite)", p.display());
        }
    }
    Ok(outputs)
}

/// Writes the report to each output.
fn write_outputs(
    rep: &Report,
    outputs: &[(Format, std::path::PathBuf)],
    force: bool,
    color: args::ColorChoice,
) -> Result<()> {
    for (format, out) in outputs {
        let to_terminal = out.as_os_str() == "-" && std::io::stdout().is_terminal();
        let style = Style {
            color: use_color(color, to_terminal),
        };
        report::write::write_file(out, force, &mut |w: &mut dyn Write| {
            render(rep, *format, w, style)
        })?;
    }
    Ok(())
}

/// `ghostport collect`: NetFlow v5/v9 and IPFIX over UDP.
fn collect(a: args::CollectArgs) -> Result<u8> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let outputs = report_outputs(a.format, a.output.as_deref(), &a.report, a.force)?;
    let kb = kb::active()?;
    let cfg = AnalysisConfig {
        flow: a.analysis.flow_config(),
        classify: a.analysis.classify_config(a.config.as_deref())?,
        reader: ReaderKind::Native,
    };
    let sock = std::net::UdpSocket::bind(a.listen).with_context(|| {
        format!(
            "cannot listen on udp {}: is the port in use, or below 1024 without privileges?",
            a.listen
        )
    })?;
    sock.set_read_timeout(Some(std::time::Duration::from_millis(100)))?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    if !a.quiet {
        report::text::eprint_line(&format!(
            "ghostport: collecting NetFlow/IPFIX on udp {} (Ctrl-C ends and reports)",
            a.listen
        ));
    }
    let started_ns = analysis::now_ns();
    let t0 = std::time::Instant::now();
    let mut az = analysis::Analyzer::new(kb, &cfg);
    let idle_ns = cfg.flow.tcp_timeout_ns.max(cfg.flow.udp_timeout_ns);
    let mut reader = crate::records::RecordReader::new(1 << 48, cfg.flow.max_flows, idle_ns);
    let mut templates = crate::records::netflow::Templates::default();
    let mut buf = vec![0u8; 65_536];
    let (mut datagrams, mut bytes) = (0u64, 0u64);
    // --idle counts from the first datagram: a slow exporter start is not idleness
    let mut last_datagram: Option<std::time::Instant> = None;
    let mut error = None;
    while !stop.load(Ordering::Relaxed)
        && a.duration.is_none_or(|d| t0.elapsed() < d)
        && a.count.is_none_or(|n| datagrams < n)
        && a.idle
            .is_none_or(|d| last_datagram.is_none_or(|t| t.elapsed() < d))
    {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                datagrams += 1;
                bytes += n as u64;
                last_datagram = Some(std::time::Instant::now());
                let data = buf.get(..n).unwrap_or(&[]);
                reader.netflow(&mut templates, from, data, &mut |f| az.add_flow(&f));
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                error = Some(format!("udp {}: {e}", a.listen));
                break;
            }
        }
    }
    reader.finish(&mut |f| az.add_flow(&f));
    az.absorb_records(reader.stats());
    let (first, last) = reader.span();
    let summary = capture::InputSummary {
        name: format!("udp:{}", a.listen),
        size: bytes,
        sha256: String::new(),
        first_ts_nanos: first,
        last_ts_nanos: last,
        linktypes: Vec::new(),
        frames: reader.stats().flows,
        format: "netflow".to_owned(),
        skipped: capture::SkipCounts::default(),
    };
    let inputs = vec![analysis::InputResult {
        summary,
        sha256_skipped: Some("not computed: a network input"),
        error,
    }];
    let an = az.into_analysis(inputs, started_ns, t0);
    let command_line: Vec<String> = std::env::args().collect();
    let rep = Report::new(an, kb, command_line, &cfg, a.analysis.all_flows);
    if !a.quiet {
        report::text::eprint_line(&format!(
            "ghostport: {datagrams} datagram(s), {} flow record(s), {} template(s)",
            rep.summary.records.as_ref().map_or(0, |r| r.flows),
            templates.len()
        ));
    }
    write_outputs(&rep, &outputs, a.force, a.color)?;
    Ok(rep.exit_code())
}

fn scan(a: ScanArgs) -> Result<u8> {
    let outputs = report_outputs(a.format, a.output.as_deref(), &a.report, a.force)?;
    let kb = kb::active()?;
    let cfg = AnalysisConfig {
        flow: a.analysis.flow_config(),
        classify: a.analysis.classify_config(a.config.as_deref())?,
        reader: match a.reader {
            args::Reader::Native => ReaderKind::Native,
            args::Reader::Libpcap => ReaderKind::Libpcap,
        },
    };
    let inputs = capture::expand_inputs(&a.inputs)?;
    if inputs.is_empty() {
        anyhow::bail!("no capture files found in {}", a.inputs.join(", "));
    }
    let mut scan_opts = analysis::ScanOptions::default().hash(!a.no_hash);
    if let Some(n) = a.threads {
        scan_opts = scan_opts.threads(usize::from(n));
    }
    let total: u64 = inputs.iter().filter_map(|i| i.size()).sum();
    let show_bar = !a.quiet && std::io::stderr().is_terminal();
    let analysis = if show_bar {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let mut p = Bar(bar, std::time::Instant::now());
        let an = analysis::scan_with(&inputs, kb, &cfg, scan_opts, &mut p);
        p.0.finish_and_clear();
        an
    } else {
        analysis::scan_with(&inputs, kb, &cfg, scan_opts, &mut ())
    };
    let command_line: Vec<String> = std::env::args().collect();
    let mut rep = Report::new(analysis, kb, command_line, &cfg, a.analysis.all_flows);
    for e in rep.inputs.iter().filter_map(|i| i.error.as_ref()) {
        report::text::eprint_line(&format!("ghostport: error: {e}"));
    }
    if let Some(dir) = &a.evidence {
        let index = report::evidence::write(&rep, &inputs, cfg.reader, dir, a.force)?;
        for e in &index.errors {
            report::text::eprint_line(&format!("ghostport: evidence: {e}"));
        }
        rep.evidence = Some(index);
    }
    write_outputs(&rep, &outputs, a.force, a.color)?;
    if !rep.meta.complete {
        report::text::eprint_line(
            "ghostport: the report is incomplete (see the errors above); exit status 2",
        );
    }
    let code = rep.exit_code();
    // The process ends next: freeing every finding one by one costs a few
    // percent of a large scan and returns nothing to anyone.
    std::mem::forget(rep);
    Ok(code)
}
