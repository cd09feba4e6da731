//! `exelock completions` and `exelock man`: shell completion scripts and man pages, generated
//! from the clap definition the parser itself uses, so they always list the flags that exist.
//!
//! Generation only: nothing here installs files into the system; the README says where each
//! shell and `man` look for them.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, ValueEnum};

use super::{Cli, ExitStatus};

/// The shells `exelock completions` writes scripts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum CompletionShell {
    /// Bash (bash-completion).
    Bash,
    /// Zsh (a `_exelock` function for `fpath`).
    Zsh,
    /// Fish.
    Fish,
    /// PowerShell.
    Powershell,
    /// Elvish.
    Elvish,
}

impl From<CompletionShell> for clap_complete::Shell {
    fn from(shell: CompletionShell) -> Self {
        match shell {
            CompletionShell::Bash => Self::Bash,
            CompletionShell::Zsh => Self::Zsh,
            CompletionShell::Fish => Self::Fish,
            CompletionShell::Powershell => Self::PowerShell,
            CompletionShell::Elvish => Self::Elvish,
        }
    }
}

/// `exelock completions`'s help after the options: where each script goes.
pub(super) const COMPLETIONS_AFTER_HELP: &str = r"Install (see the README for more):
  bash        exelock completions bash > ~/.local/share/bash-completion/completions/exelock
  zsh         exelock completions zsh > ~/.zfunc/_exelock   (with fpath+=(~/.zfunc) before compinit)
  fish        exelock completions fish > ~/.config/fish/completions/exelock.fish
  powershell  exelock completions powershell >> $PROFILE
  elvish      exelock completions elvish > ~/.config/elvish/lib/exelock.elv   (then: use exelock)

Examples:
  $ exelock completions bash
  $ exelock completions zsh
  $ exelock completions fish";

#[derive(Args, Debug)]
pub(super) struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    shell: CompletionShell,
}

/// `exelock man`'s help after the options.
pub(super) const MAN_AFTER_HELP: &str = r"Writes exelock.1 and one page per subcommand (exelock-scan.1, exelock-gate.1, …) into DIR,
replacing pages of the same name. Read one without installing it: man -l DIR/exelock-scan.1.
Install: exelock man ~/.local/share/man/man1 (on MANPATH by default on most systems).

Examples:
  $ exelock man /tmp/exelock-man-example";

#[derive(Args, Debug)]
pub(super) struct ManArgs {
    /// The directory to write the pages into (created when missing).
    #[arg(value_name = "DIR", default_value = ".")]
    dir: PathBuf,
}

/// Writes the completion script for one shell to stdout.
pub(super) fn run_completions(args: &CompletionsArgs) -> Result<ExitStatus> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(
        clap_complete::Shell::from(args.shell),
        &mut command,
        "exelock",
        &mut script,
    );
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&script)?;
    stdout.flush()?;
    Ok(ExitStatus::Success)
}

/// Writes one man page per command into the directory, nested subcommands included.
pub(super) fn run_man(args: &ManArgs) -> Result<ExitStatus> {
    fs_err::create_dir_all(&args.dir)?;
    let mut command = Cli::command().disable_help_subcommand(true);
    // Building gives every subcommand its full name (`exelock-scan`), which names its page.
    command.build();
    write_pages(&command, &args.dir)?;
    Ok(ExitStatus::Success)
}

fn write_pages(command: &clap::Command, dir: &Path) -> Result<()> {
    let page = clap_mangen::Man::new(command.clone());
    let path = dir.join(page.get_filename());
    let mut roff = Vec::new();
    page.render(&mut roff)
        .with_context(|| format!("cannot render {}", path.display()))?;
    super::write_atomically(&path, &roff)?;
    for subcommand in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        write_pages(subcommand, dir)?;
    }
    Ok(())
}
