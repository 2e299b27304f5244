//! How run-fatal errors are printed (README "Exit status"): a message on
//! standard error, prefixed `ghostport: error:`, and in JSON modes (`scan`
//! or `live` with `-F json` / `-F jsonl`) also one error object on standard
//! output: `{"error": {"message": "...", "exit_code": 2}}`. Command lines
//! that clap refuses get the same treatment; the JSON mode is then read from
//! the raw arguments (and, for `scan`, the config file's `format`).

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;

use super::EXIT_ERROR;
use super::args::Cli;
use super::config;

/// Prints a run-fatal error: `text` on stderr after `ghostport: error: `,
/// and with `json` the error object with `message` on stdout.
pub(crate) fn print_error(text: &str, message: &str, json: bool) {
    crate::report::text::eprint_line(&format!("ghostport: error: {text}"));
    if json {
        let obj = serde_json::json!({"error": {"message": message, "exit_code": EXIT_ERROR}});
        // A closed or full standard output changes nothing: the status is 2.
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{obj}").and_then(|_| o.flush());
    }
}

/// A command line clap refused. `--help`, `--version` and text modes are
/// left to clap (its output and status, 2 for usage errors); in a JSON mode
/// the usage error is printed as every other error, with exit status 2.
pub(crate) fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind as K;
    let shown_as_clap = matches!(
        e.kind(),
        K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand
    );
    let args: Vec<OsString> = std::env::args_os().collect();
    if shown_as_clap || !raw_json_mode(&args, &config::env_lookup) {
        e.exit();
    }
    let rendered = e.render().to_string();
    let text = rendered.trim_end();
    let text = text.strip_prefix("error: ").unwrap_or(text);
    print_error(text, &one_line(text), true);
    ExitCode::from(EXIT_ERROR)
}

/// clap's multi-line message as one line: non-empty lines joined by "; "
/// (by a space after a colon).
fn one_line(text: &str) -> String {
    let mut out = String::new();
    for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(l);
    }
    out
}

/// Whether a raw command line asks for JSON output: `scan` or `live` with
/// `-F json|jsonl` (`-Fjson`, `-F=json`, `--format json`, `--format=json`,
/// in a cluster as `-qF json`; the last one counts), or `scan` without
/// `-F` whose config file sets `format = "json"` or `"jsonl"`. Values of
/// other options are skipped, so `-o -F` is not read as a format.
pub(crate) fn raw_json_mode(args: &[OsString], lookup: &dyn Fn(&str) -> Option<String>) -> bool {
    let args: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let Some(sub_at) = args.iter().position(|a| !a.starts_with('-')) else {
        return false;
    };
    let Some(sub) = args.get(sub_at).map(String::as_str) else {
        return false;
    };
    if sub != "scan" && sub != "live" {
        return false;
    }
    let cmd = Cli::command();
    let Some(sc) = cmd.find_subcommand(sub) else {
        return false;
    };
    let takes_value_long = |name: &str| {
        sc.get_arguments()
            .any(|a| a.get_long() == Some(name) && a.get_action().takes_values())
    };
    let takes_value_short = |c: char| {
        sc.get_arguments()
            .any(|a| a.get_short() == Some(c) && a.get_action().takes_values())
    };
    let mut format: Option<String> = None;
    let mut config_file: Option<String> = None;
    let mut no_config = false;
    let mut rest = args.iter().skip(sub_at + 1);
    while let Some(a) = rest.next() {
        if a == "--" {
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let value = if takes_value_long(name) {
                inline.or_else(|| rest.next().cloned())
            } else {
                None
            };
            match name {
                "format" => format = value,
                "config" => config_file = value,
                "no-config" => no_config = true,
                _ => {}
            }
        } else if let Some(cluster) = a.strip_prefix('-') {
            // -q, -qF json, -Fjson, -F=json, -oFILE
            for (i, c) in cluster.char_indices() {
                if !takes_value_short(c) {
                    continue;
                }
                let tail = cluster.get(i + c.len_utf8()..).unwrap_or("");
                let tail = tail.strip_prefix('=').unwrap_or(tail);
                let value = if tail.is_empty() {
                    rest.next().cloned()
                } else {
                    Some(tail.to_string())
                };
                if c == 'F' {
                    format = value;
                }
                break;
            }
        }
    }
    let is_json = |f: &str| f == "json" || f == "jsonl";
    match format {
        Some(f) => is_json(&f),
        None if sub == "scan" => config::locate(
            config_file.as_deref().map(std::path::Path::new),
            no_config,
            lookup,
        )
        .and_then(|l| config::read_defaults(&l.path).ok())
        .and_then(|d| d.format().map(is_json))
        .unwrap_or(false),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(line: &[&str]) -> bool {
        let args: Vec<OsString> = std::iter::once("ghostport")
            .chain(line.iter().copied())
            .map(OsString::from)
            .collect();
        raw_json_mode(&args, &|_| None)
    }

    #[test]
    fn the_format_is_found_in_every_spelling() {
        assert!(json(&["scan", "--bogus", "-F", "json", "x.pcap"]));
        assert!(json(&["scan", "-Fjson", "--bogus"]));
        assert!(json(&["scan", "-F=jsonl", "--bogus"]));
        assert!(json(&["scan", "--format=json", "--bogus"]));
        assert!(json(&["-v", "scan", "--format", "json"]));
        assert!(json(&["scan", "-qF", "json", "--bogus"]));
        assert!(json(&["live", "-i", "lo", "-F", "jsonl", "--bogus"]));
        assert!(!json(&["scan", "--bogus", "x.pcap"]));
        assert!(!json(&["scan", "-F", "text", "--bogus"]));
        assert!(!json(&["scan", "-F", "jsn"]));
        assert!(!json(&["port", "-F", "json", "--bogus"]));
        // values of other options and positionals after -- are not formats
        assert!(!json(&["scan", "-o", "-F", "json"]));
        assert!(!json(&["live", "-f", "-F", "json"]));
        assert!(!json(&["scan", "--", "-F", "json"]));
        assert!(!json(&["scan", "-oFjson"]));
        // the last one counts
        assert!(!json(&["scan", "-F", "json", "-F", "text"]));
    }

    #[test]
    fn the_config_file_format_counts_for_scan() {
        let dir = std::env::temp_dir().join(format!("gp-rawjson-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.toml");
        std::fs::write(&p, "[scan]\nformat = \"json\"\n").unwrap();
        let ps = p.to_str().unwrap();
        assert!(json(&["scan", "--config", ps, "--bogus"]));
        assert!(json(&["scan", &format!("--config={ps}"), "--bogus"]));
        assert!(!json(&["scan", "--config", ps, "-F", "text", "--bogus"]));
        assert!(!json(&["live", "--config", ps, "--bogus"]));
        let env = |k: &str| (k == "GHOSTPORT_CONFIG").then(|| ps.to_string());
        let args: Vec<OsString> = ["ghostport", "scan", "--bogus"]
            .iter()
            .map(OsString::from)
            .collect();
        assert!(raw_json_mode(&args, &env));
        let args: Vec<OsString> = ["ghostport", "scan", "--no-config", "--bogus"]
            .iter()
            .map(OsString::from)
            .collect();
        assert!(!raw_json_mode(&args, &env));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn clap_messages_become_one_line() {
        assert_eq!(
            one_line("unexpected argument '--bogus' found\n\nUsage: ghostport scan\n"),
            "unexpected argument '--bogus' found; Usage: ghostport scan"
        );
        assert_eq!(
            one_line("the following required arguments were not provided:\n  <INPUT>...\n"),
            "the following required arguments were not provided: <INPUT>..."
        );
    }
}
