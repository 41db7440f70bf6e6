//! `completion bash|zsh|fish`: the shell's completion script for every verb and flag,
//! generated from the command line's own definition (clap_complete).

use crate::args::{Cli, Shell};
use clap::CommandFactory;

/// Writes the completion script for `shell` to stdout.
pub fn completion(shell: Shell) {
    let mut command = Cli::command();
    let mut out = std::io::stdout();
    match shell {
        Shell::Bash => clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut command,
            "ctrmgrctl",
            &mut out,
        ),
        Shell::Zsh => clap_complete::generate(
            clap_complete::Shell::Zsh,
            &mut command,
            "ctrmgrctl",
            &mut out,
        ),
        Shell::Fish => clap_complete::generate(
            clap_complete::Shell::Fish,
            &mut command,
            "ctrmgrctl",
            &mut out,
        ),
    }
}
