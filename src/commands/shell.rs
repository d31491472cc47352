//! `atlas-invite completions` and `atlas-invite man`: shell completion scripts and manual pages,
//! generated from the same clap definitions as `--help` (`cli.rs`), so they never drift from
//! the options the binary accepts.

use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, anyhow};
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::exit::{Failure, SUCCESS};

/// The name the binary is installed under: what completions complete and pages are named after.
const BIN: &str = "atlas-invite";

pub(super) fn completions(args: &CompletionsArgs) -> Result<i32, Failure> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), BIN, &mut script);
    write_stdout(&script)?;
    Ok(SUCCESS)
}

pub(super) fn man(args: &ManArgs) -> Result<i32, Failure> {
    // `help` is a command of the parser, not of the tool: it gets no page.
    let mut cli = Cli::command().disable_help_subcommand(true);
    // Built, subcommands get their display names (`atlas-invite-run`), which name their pages.
    cli.build();
    if let Some(dir) = &args.out {
        let written = write_pages(&cli, dir).map_err(Failure::usage)?;
        eprintln!(
            "wrote {} manual pages to {} (e.g. man {}/{BIN}.1)",
            written,
            crate::terminal::safe(&dir.display().to_string()),
            crate::terminal::safe(&dir.display().to_string()),
        );
        return Ok(SUCCESS);
    }
    let page = match &args.command {
        None => cli,
        Some(name) => cli.find_subcommand(name).cloned().ok_or_else(|| {
            let names: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
            Failure::usage(anyhow!(
                "no command {:?}: pass one of {}",
                crate::terminal::safe(name),
                names.join(", ")
            ))
        })?,
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut roff)
        .map_err(|e| Failure::usage(anyhow!("failed to render the manual page: {e}")))?;
    write_stdout(&roff)?;
    Ok(SUCCESS)
}

/// Writes the page of `cli` and of each of its commands into `dir`; returns how many.
fn write_pages(cli: &clap::Command, dir: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = 0;
    let commands = cli.get_subcommands().filter(|c| !c.is_hide_set());
    for page in std::iter::once(cli).chain(commands) {
        let man = clap_mangen::Man::new(page.clone());
        let path = dir.join(man.get_filename());
        let mut roff = Vec::new();
        man.render(&mut roff)?;
        std::fs::write(&path, roff).with_context(|| format!("cannot write {}", path.display()))?;
        written += 1;
    }
    Ok(written)
}

/// Writes generated text to stdout; a closed pipe (`… | head`) ends it quietly.
fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::usage(anyhow!("failed to write to stdout: {e}"))),
    }
}
