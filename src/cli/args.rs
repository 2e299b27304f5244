//! Command-line definition (clap derive). Kept in the library so the man page
//! and shell completions are generated from the same definition.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const SCAN_EXAMPLES: &str = "\
Examples:
  ghostport scan capture.pcapng                 terminal summary
  ghostport scan -F json -o report.json *.pcap  one JSON report for several files (flows span files)
  ghostport scan --allow 386/tcp incident/      a folder of rotated captures, with a site exception
  tcpdump -w - -i eth0 | ghostport scan -       read a capture from standard input

Exit status: 0 no findings, 1 findings, 2 error (the report is still written, marked incomplete).";

/// Find traffic hiding on ghost ports: TCP/UDP ports assigned by IANA to
/// services that never shipped.
#[derive(Debug, Parser)]
#[command(
    name = "ghostport",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = "Examples:\n  ghostport scan capture.pcapng      find ghost-port traffic in a capture\n  ghostport port 386                 why 386 is a ghost port\n  ghostport ports --class ghost -F csv\n\nExit status: 0 no findings, 1 findings, 2 error."
)]
pub struct Cli {
    /// Subcommand.
    #[command(subcommand)]
    pub command: Command,
    /// More messages on standard error: -v per-input lines, -vv flow-table events.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse capture files (pcap, pcapng; gzip/zstd; a folder; - for stdin).
    #[command(after_help = SCAN_EXAMPLES)]
    Scan(ScanArgs),
    /// Receive NetFlow v5/v9 or IPFIX over UDP and report ghost-port flows
    /// when it stops (Ctrl-C, --duration, --count).
    #[command(after_help = COLLECT_EXAMPLES)]
    Collect(CollectArgs),
    /// Explain the verdict on one port: `386`, `386/udp` or a service name like `asa`.
    Port(PortArgs),
    /// List ports by class, e.g. `--class ghost --format csv` to feed a firewall.
    Ports(PortsArgs),
    /// Detections for other engines from the knowledge base and site policy:
    /// Suricata rules, a Zeek script, nftables sets, Sigma rules, CSV/JSON.
    #[command(after_help = EXPORT_EXAMPLES)]
    Export(ExportArgs),
    /// Import a newer IANA registry file, or compare two.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Capture on an interface and report ghost-port traffic as it happens.
    #[command(after_help = LIVE_EXAMPLES)]
    Live(LiveArgs),
    /// List capture interfaces with addresses and flags.
    Interfaces(InterfacesArgs),
    /// Internal: the privileged process-attribution helper of `live`.
    #[command(hide = true)]
    AttributionHelper,
    /// Show the effective configuration and where each value came from.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// Shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on standard output, or write one page per command to a folder.
    #[command(after_help = MAN_EXAMPLES)]
    Man(ManArgs),
}

const LIVE_EXAMPLES: &str = "\
Examples:
  sudo ghostport live -i eth0                         findings as they appear, report on Ctrl-C
  sudo ghostport live -i any -f 'not port 22' --duration 10m --format jsonl | jq .
  sudo ghostport live -i eth0 -w evidence.pcap --ring 10:100 -o report.json

Needs root or: sudo setcap cap_net_raw,cap_net_admin=eip $(command -v ghostport)
As root it drops to --user (default nobody) once the capture is open.
Exit status: 0 no findings, 1 findings, 2 error.";

/// Live output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LiveFormat {
    /// Terminal lines as findings appear, then the text report.
    Text,
    /// The JSON report at the end (as `scan -F json`); finding lines on stderr.
    Json,
    /// One JSON object per line: finding/update/drops events, then the report.
    Jsonl,
}

/// Options of `live`.
#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Interface to capture on (`any` on Linux for all; see `ghostport interfaces`).
    #[arg(short, long, value_name = "IFACE")]
    pub interface: String,
    /// BPF capture filter, e.g. 'not port 22'.
    #[arg(short, long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Bytes captured per packet.
    #[arg(long, default_value_t = 262_144, value_name = "BYTES")]
    pub snaplen: i32,
    /// Promiscuous mode (default on).
    #[arg(long, overrides_with = "no_promisc")]
    pub promisc: bool,
    /// Do not put the interface in promiscuous mode.
    #[arg(long)]
    pub no_promisc: bool,
    /// Kernel capture buffer, KiB (as tcpdump -B). libpcap's own default
    /// (2 MiB) holds only a few dozen packets at a large snaplen.
    #[arg(long, value_name = "KIB", default_value_t = 32_768)]
    pub buffer_size: u32,
    /// Deliver every packet at once (lowest latency). Off by default: the
    /// kernel then batches packets in blocks handed over at least every
    /// 100 ms; in immediate mode libpcap's ring holds one snaplen-sized slot
    /// per packet and overflows at high rates (see docs/performance.md).
    #[arg(long, overrides_with = "no_immediate")]
    pub immediate: bool,
    /// Batch packets (the default; kept for scripts that name it).
    #[arg(long, hide = true)]
    pub no_immediate: bool,
    /// Stop after this long: 90 (seconds), 90s, 10m, 1h.
    #[arg(long, value_name = "TIME", value_parser = crate::live::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Stop after this many packets.
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<u64>,
    /// Output format.
    #[arg(short = 'F', long, value_enum, default_value_t = LiveFormat::Text)]
    pub format: LiveFormat,
    /// Least time between two updates of one finding: 5, 5s, 1m.
    #[arg(long, default_value = "5s", value_name = "TIME", value_parser = crate::live::parse_duration)]
    pub update_interval: std::time::Duration,
    /// Also write the captured packets to this pcap file.
    #[arg(short = 'w', long, value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// With -w: a ring of N files of MB megabytes (FILE.0, FILE.1, ...).
    #[arg(long, value_name = "N:MB", requires = "write", value_parser = crate::live::parse_ring)]
    pub ring: Option<(u32, u64)>,
    /// When started as root, drop to this user after opening the capture.
    #[arg(long, default_value = "nobody", value_name = "USER")]
    pub user: String,
    /// Keep root privileges (same as --user root).
    #[arg(long)]
    pub no_drop: bool,
    /// Do not look up local processes behind ghost-port endpoints.
    #[arg(long)]
    pub no_attribution: bool,
    /// Flow-table and policy options shared with `scan`.
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// Write the final report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite an existing output file.
    #[arg(long)]
    pub force: bool,
    /// Site policy file (TOML with [[allow]] / [[deny]] entries).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// No status line and no informational messages.
    #[arg(short, long)]
    pub quiet: bool,
    /// Colour: auto (terminal and no NO_COLOR), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Options of `interfaces`.
#[derive(Debug, Args)]
pub struct InterfacesArgs {
    /// Output format.
    #[arg(short = 'F', long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  ghostport completions bash > ~/.local/share/bash-completion/completions/ghostport
  ghostport completions zsh > ~/.zfunc/_ghostport      (with fpath+=~/.zfunc before compinit)
  ghostport completions fish > ~/.config/fish/completions/ghostport.fish";

const MAN_EXAMPLES: &str = "\
Examples:
  ghostport man | man -l -                 read the whole manual (every command and option)
  ghostport man scan | man -l -            only the scan command
  ghostport man --out-dir /usr/local/share/man/man1   ghostport.1, ghostport-scan.1, ...";

/// Options of `man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Only this command's page (e.g. `scan`, `registry diff`); default: every command in one page.
    #[arg(value_name = "COMMAND", num_args = 0..)]
    pub command: Vec<String>,
    /// Write ghostport.1 and one ghostport-COMMAND.1 per command into DIR instead.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub out_dir: Option<PathBuf>,
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective `scan` settings and the source of each (default, config file, command line, environment).
    #[command(after_help = CONFIG_EXAMPLES)]
    Show(ConfigShowArgs),
}

const CONFIG_EXAMPLES: &str = "\
Config file: --config FILE, else $GHOSTPORT_CONFIG, else $XDG_CONFIG_HOME/ghostport/config.toml
(or ~/.config/ghostport/config.toml) when it exists; --no-config skips it. Precedence: command
line > config file > built-in default.

Examples:
  ghostport config show
  ghostport config show -F json --config site.toml
  ghostport config show -- --max-flows 500000 --allow 386/tcp    (scan options after --)";

/// Options of `config show`.
#[derive(Debug, Args)]
pub struct ConfigShowArgs {
    /// Output format.
    #[arg(short = 'F', long, value_enum, default_value_t = PortFormat::Text)]
    pub format: PortFormat,
    /// Config file (TOML: [scan] defaults, [[allow]] / [[deny]] rules).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Ignore $GHOSTPORT_CONFIG and the default config file.
    #[arg(long, conflicts_with = "config")]
    pub no_config: bool,
    /// `scan` options to resolve as if given to `ghostport scan` (after `--`).
    #[arg(last = true, value_name = "SCAN-OPTION")]
    pub scan_options: Vec<String>,
}

/// Report formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Terminal summary.
    Text,
    /// One JSON document (meta, inputs, summary, findings[, flows]).
    Json,
    /// One self-contained HTML page (inline CSS/JS/SVG, no external fetches).
    Html,
    /// RFC 4180 CSV: one row per finding (and per flow with --all-flows).
    Csv,
    /// JSON Lines: one ECS-style object per finding, for a SIEM.
    Jsonl,
}

/// Output formats of `port`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PortFormat {
    /// Readable text.
    Text,
    /// JSON.
    Json,
}

/// File readers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Reader {
    /// Built-in streaming reader (fast; gzip, zstd, stdin).
    Native,
    /// libpcap (plain pcap/pcapng files only).
    Libpcap,
}

/// Flow-table, classification and policy options: the same for `scan` and
/// `live` (and flattened into both).
#[derive(Debug, Args)]
pub struct AnalysisArgs {
    /// Include every flow in the JSON report (up to --all-flows-cap).
    #[arg(long)]
    pub all_flows: bool,
    /// Most flow records kept with --all-flows.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub all_flows_cap: usize,
    /// Most flows held at once; when full, the least recently active are evicted (and counted).
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub max_flows: usize,
    /// Payload bytes kept per direction of ghost-port flows, for identification.
    #[arg(long, default_value_t = 1024, value_name = "BYTES")]
    pub payload_cap: usize,
    /// Idle timeout for TCP flows, seconds of capture time.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub tcp_timeout: u32,
    /// Idle timeout for UDP flows, seconds of capture time.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub udp_timeout: u32,
    /// Kinds of finding to report, comma-separated: ghost-port (with sweeps and ghost source ports), unregistered-service, port-mismatch, or all.
    #[arg(long, default_value = "all", value_name = "LIST")]
    pub kinds: String,
    /// Site policy: never report this port (e.g. `386/tcp`, `386/tcp@10.0.0.0/8`). Repeatable.
    #[arg(long, value_name = "RULE")]
    pub allow: Vec<String>,
    /// Site policy: treat this port as ghost (e.g. `8080/tcp`). Repeatable.
    #[arg(long, value_name = "RULE")]
    pub deny: Vec<String>,
}

/// Options of `collect`.
#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Address and UDP port to receive export datagrams on, e.g. 0.0.0.0:2055.
    #[arg(short, long, value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,
    /// Stop after this long: 90 (seconds), 90s, 10m, 1h.
    #[arg(long, value_name = "TIME", value_parser = crate::live::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Stop after this many datagrams.
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this long without a datagram, counted from the first one
    /// (e.g. when a replay has ended): 5s, 1m.
    #[arg(long, value_name = "TIME", value_parser = crate::live::parse_duration)]
    pub idle: Option<std::time::Duration>,
    /// Output format of the report.
    #[arg(short = 'F', long, value_enum)]
    pub format: Option<Format>,
    /// Write the report to FILE instead of standard output (atomically).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write the report as FORMAT to FILE (e.g. `html:out.html`). Repeatable.
    #[arg(long, value_name = "FORMAT:FILE")]
    pub report: Vec<String>,
    /// Overwrite existing output files.
    #[arg(long)]
    pub force: bool,
    /// Flow-table and policy options shared with `scan` and `live`.
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// Site policy file (TOML with [[allow]] / [[deny]] entries).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// No messages on standard error.
    #[arg(short, long)]
    pub quiet: bool,
    /// Colour: auto (terminal and no NO_COLOR), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

const COLLECT_EXAMPLES: &str = "Examples:
  ghostport collect --listen 0.0.0.0:2055 --duration 1h -F json -o ghosts.json
  softflowd -r capture.pcap -n 127.0.0.1:2055 -v 10 & ghostport collect -l 127.0.0.1:2055 --idle 5s";

/// Options of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to generate.
    #[arg(value_enum, value_name = "FORMAT")]
    pub format: ExportFormat,
    /// Site policy: never watch this port (`386/tcp`, `386/tcp@10.0.0.0/8`). Repeatable.
    #[arg(long, value_name = "RULE")]
    pub allow: Vec<String>,
    /// Site policy: also watch this port (`8080/tcp`). Repeatable.
    #[arg(long, value_name = "RULE")]
    pub deny: Vec<String>,
    /// Site policy file (TOML with [[allow]] / [[deny]] entries, as for `scan --config`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Formats of `export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Suricata rules (sid 1386001-1386999), established flows to ghost ports.
    Suricata,
    /// A Zeek script raising Ghostport::Ghost_Port_Connection notices.
    Zeek,
    /// An nftables table with named sets ghost_tcp / ghost_udp (inet family).
    Nftables,
    /// Sigma rules for network-connection and firewall logs.
    Sigma,
    /// The watched ports as CSV.
    Csv,
    /// The watched ports as JSON.
    Json,
}

const EXPORT_EXAMPLES: &str = "Examples:
  ghostport export suricata > /etc/suricata/rules/ghostport.rules
  ghostport export nftables > ghostport.nft && nft -f ghostport.nft
  ghostport export zeek --config site.toml > ghostport.zeek
  ghostport export sigma > ghostport.yml && sigma check ghostport.yml";

/// Options of `scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Capture files or folders (walked recursively, sorted); `-` reads standard input.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Output format [default: text, unless only --report outputs are asked for].
    #[arg(short = 'F', long, value_enum)]
    pub format: Option<Format>,
    /// Write the report to FILE instead of standard output (atomically).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write the report as FORMAT to FILE (e.g. `html:out.html`, `jsonl:-`). Repeatable.
    #[arg(long, value_name = "FORMAT:FILE")]
    pub report: Vec<String>,
    /// Write each finding's packets to DIR/GP-nnnn.pcap (plus DIR/index.json); re-reads the inputs.
    #[arg(long, value_name = "DIR")]
    pub evidence: Option<PathBuf>,
    /// Overwrite existing output files.
    #[arg(long)]
    pub force: bool,
    /// Flow-table and policy options shared with `live`.
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// File reader.
    #[arg(long, value_enum, default_value_t = Reader::Native)]
    pub reader: Reader,
    /// Do not compute the SHA-256 of the inputs (saves ~1 s of CPU per GiB;
    /// the report then has sha256 null and says why).
    #[arg(long)]
    pub no_hash: bool,
    /// Threads: 1 does everything on one thread; 2 reads, decompresses,
    /// parses and decodes on a second thread ahead of the flow table (the
    /// pipeline has two stages: more than 2 works like 2). Results are the
    /// same. Default: 2 when the machine has 2 or more cores. The SHA-256
    /// of each input has a thread of its own (see --no-hash).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Config file: TOML with [scan] defaults and [[allow]] / [[deny]] rules (default: $GHOSTPORT_CONFIG, else ~/.config/ghostport/config.toml if present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Ignore $GHOSTPORT_CONFIG and the default config file.
    #[arg(long, conflicts_with = "config")]
    pub no_config: bool,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
    /// Colour: auto (terminal and no NO_COLOR), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Colour choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Options of `port`.
#[derive(Debug, Args)]
pub struct PortArgs {
    /// `386`, `386/tcp`, `386/udp` or a service name (`asa`).
    pub port: String,
    /// Output format.
    #[arg(short = 'F', long, value_enum, default_value_t = PortFormat::Text)]
    pub format: PortFormat,
}

/// List formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// One line per port.
    Text,
    /// RFC 4180 CSV with a header.
    Csv,
    /// JSON array.
    Json,
}

/// Options of `ports`.
#[derive(Debug, Args)]
pub struct PortsArgs {
    /// Class to list.
    #[arg(long, default_value = "ghost")]
    pub class: String,
    /// Print the class-count table (Markdown) instead of a list.
    #[arg(long, conflicts_with_all = ["class", "transport", "format"])]
    pub summary: bool,
    /// Only this transport.
    #[arg(long, value_name = "tcp|udp")]
    pub transport: Option<String>,
    /// Output format.
    #[arg(short = 'F', long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

/// `registry` subcommands.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Load an IANA registry file (CSV or XML) into the user's data dir; later runs use it.
    Import {
        /// The downloaded file.
        file: PathBuf,
    },
    /// Show ports whose class or name changed between two registry files.
    Diff {
        /// Older registry file (CSV or XML).
        old: PathBuf,
        /// Newer registry file (CSV or XML).
        new: PathBuf,
        /// Output format.
        #[arg(short = 'F', long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
}
