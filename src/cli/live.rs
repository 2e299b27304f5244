//! `live`, `interfaces` and the hidden `attribution-helper`: argument
//! handling around [`crate::live`].

use std::io::IsTerminal;

use anyhow::{Context, Result};

use super::args::{Command, InterfacesArgs, ListFormat, LiveArgs, LiveFormat};
use super::{kb, use_color};
use crate::analysis::AnalysisConfig;
use crate::capture::live::{self, LiveOptions};
use crate::report::text::clean;

/// Errors go to stdout as JSON too (as `scan -F json`).
pub fn json_errors(c: &Command) -> bool {
    matches!(c, Command::Live(a) if a.format != LiveFormat::Text)
}

pub fn live(a: LiveArgs) -> Result<u8> {
    let kb = kb::active()?;
    let acfg = AnalysisConfig {
        flow: a.analysis.flow_config(),
        classify: a.analysis.classify_config(a.config.as_deref())?,
        ..AnalysisConfig::default()
    };
    let to_terminal = a.output.is_none() && std::io::stdout().is_terminal();
    let cfg = crate::live::LiveConfig {
        capture: LiveOptions {
            iface: a.interface.clone(),
            filter: a.filter.clone(),
            snaplen: a.snaplen.max(64),
            promisc: !a.no_promisc,
            buffer_size: Some(i32::try_from(u64::from(a.buffer_size) * 1024).unwrap_or(i32::MAX)),
            immediate: a.immediate && !a.no_immediate,
            timeout_ms: 100,
            savefile: a.write.clone(),
            ring: a.ring,
        },
        duration: a.duration,
        count: a.count,
        format: match a.format {
            LiveFormat::Text => crate::live::LiveFormat::Text,
            LiveFormat::Json => crate::live::LiveFormat::Json,
            LiveFormat::Jsonl => crate::live::LiveFormat::Jsonl,
        },
        update_interval: a.update_interval,
        drop_user: (!a.no_drop && a.user != "root").then(|| a.user.clone()),
        status_line: !a.quiet,
        color: use_color(a.color, to_terminal),
        output: a.output.clone(),
        force: a.force,
        all_flows: a.analysis.all_flows,
        attribution: !a.no_attribution,
        quiet: a.quiet,
    };
    let command_line: Vec<String> = std::env::args().collect();
    crate::live::run(cfg, kb, &acfg, command_line)
}

pub fn interfaces(a: &InterfacesArgs) -> Result<u8> {
    let list = live::interfaces()?;
    let mut out = String::new();
    match a.format {
        ListFormat::Json => {
            out = serde_json::to_string_pretty(&list)?;
            out.push('\n');
        }
        ListFormat::Csv => {
            use crate::knowledge::render::csv_cell;
            out.push_str("name,flags,addresses,description\n");
            for i in &list {
                let cells = [
                    csv_cell(&i.name),
                    csv_cell(&i.flags.join(" ")),
                    csv_cell(&i.addresses.join(" ")),
                    csv_cell(i.description.as_deref().unwrap_or("")),
                ];
                out.push_str(&cells.join(","));
                out.push('\n');
            }
        }
        ListFormat::Text => {
            let width = list.iter().map(|i| i.name.len()).max().unwrap_or(0).min(24);
            for i in &list {
                out.push_str(&format!(
                    "{:<width$}  {:<28}  {}{}\n",
                    clean(&i.name),
                    i.flags.join(","),
                    clean(&i.addresses.join(", ")),
                    i.description
                        .as_deref()
                        .map(|d| format!("  ({})", clean(d)))
                        .unwrap_or_default(),
                ));
            }
            if list.is_empty() {
                out.push_str(
                    "no capture interfaces visible (libpcap lists only those it may open: run as root or grant cap_net_raw,cap_net_admin)\n",
                );
            }
        }
    }
    super::print_out(&out)?;
    Ok(0)
}

pub fn attribution_helper() -> Result<u8> {
    crate::live::attribution::helper_main().context("attribution helper")?;
    Ok(0)
}
