//! Shell completions and man pages, generated from the clap definition in
//! [`super::args`] so they cannot drift from the options.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::CommandFactory;

use super::args::{Cli, ManArgs};

/// `ghostport completions SHELL`.
pub fn completions(shell: clap_complete::Shell, w: &mut dyn Write) -> Result<u8> {
    let mut cmd = Cli::command();
    // clap_complete panics on a write error: generate into memory, then write
    // (a closed pipe, e.g. `| grep -q`, then ends quietly like any other output)
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "ghostport", &mut buf);
    w.write_all(&buf)?;
    w.flush()?;
    Ok(0)
}

/// The command tree with bin names set ("ghostport scan", ...).
fn built() -> clap::Command {
    let mut cmd = Cli::command();
    cmd.build();
    cmd
}

/// Every command below `cmd` (depth first, in definition order), with its path.
fn walk(cmd: &clap::Command, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, clap::Command)>) {
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        path.push(sub.get_name().to_owned());
        out.push((path.clone(), sub.clone()));
        walk(sub, path, out);
        path.pop();
    }
}

fn subcommands() -> Vec<(Vec<String>, clap::Command)> {
    let mut out = Vec::new();
    walk(&built(), &mut Vec::new(), &mut out);
    out
}

/// One command's page (`.TH ghostport-scan 1` ...).
fn page(cmd: clap::Command, w: &mut dyn Write) -> Result<()> {
    clap_mangen::Man::new(cmd).render(w)?;
    Ok(())
}

/// The whole manual in one page: the top-level page, then one section per
/// command with its synopsis, description, options and examples.
fn all_in_one(w: &mut dyn Write) -> Result<()> {
    page(built(), w)?;
    for (path, cmd) in subcommands() {
        let man = clap_mangen::Man::new(cmd.clone());
        let mut buf = Vec::new();
        man.render_synopsis_section(&mut buf)?;
        man.render_description_section(&mut buf)?;
        if cmd.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut buf)?;
        }
        if cmd.has_subcommands() {
            man.render_subcommands_section(&mut buf)?;
        }
        if cmd.get_after_help().is_some() || cmd.get_after_long_help().is_some() {
            man.render_extra_section(&mut buf)?;
        }
        let text = String::from_utf8_lossy(&buf);
        writeln!(
            w,
            ".SH \"COMMAND: GHOSTPORT {}\"",
            path.join(" ").to_uppercase()
        )?;
        // the sections of a command become subsections of its section
        for line in text.lines() {
            match line.strip_prefix(".SH ") {
                Some(rest) => writeln!(w, ".SS {rest}")?,
                None => writeln!(w, "{line}")?,
            }
        }
    }
    Ok(())
}

/// `ghostport man [COMMAND...] [--out-dir DIR]`.
pub fn man(a: &ManArgs, w: &mut dyn Write) -> Result<u8> {
    if let Some(dir) = &a.out_dir {
        return write_dir(dir);
    }
    if a.command.is_empty() {
        all_in_one(w)?;
    } else {
        let want: Vec<String> = a
            .command
            .iter()
            .flat_map(|c| c.split_whitespace().map(str::to_owned))
            .collect();
        let Some((_, cmd)) = subcommands().into_iter().find(|(p, _)| *p == want) else {
            let names: Vec<String> = subcommands()
                .into_iter()
                .map(|(p, _)| p.join(" "))
                .collect();
            bail!(
                "no command '{}'; man pages exist for: {}",
                want.join(" ").escape_debug(),
                names.join(", ")
            );
        };
        page(cmd, w)?;
    }
    w.flush()?;
    Ok(0)
}

/// Writes ghostport.1 and ghostport-COMMAND.1 pages into `dir`.
fn write_dir(dir: &Path) -> Result<u8> {
    crate::safefile::no_untrusted_link(dir)
        .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create man page folder {}", dir.display()))?;
    // ghostport.1 is the whole manual, so `man ghostport` finds every option
    let mut pages: Vec<(String, Option<clap::Command>)> = vec![("ghostport".to_owned(), None)];
    for (path, cmd) in subcommands() {
        pages.push((format!("ghostport-{}", path.join("-")), Some(cmd)));
    }
    for (name, cmd) in pages {
        let file = dir.join(format!("{name}.1"));
        let mut buf = Vec::new();
        match cmd {
            Some(cmd) => page(cmd, &mut buf)?,
            None => all_in_one(&mut buf)?,
        }
        // Regenerating replaces a page (a planted link is replaced, never
        // written through).
        crate::report::write::write_file(&file, true, &mut |w| w.write_all(&buf))?;
    }
    Ok(0)
}
