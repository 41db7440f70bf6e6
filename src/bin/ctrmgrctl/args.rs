//! The command line: global options and one subcommand per verb (clap derive). The
//! flags of `create`/`run` live in `spec.rs` with their conversion to a ContainerSpec.

use crate::spec::ContainerFlags;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// ctrmgrctl: the command-line client of the ctrmgr agent.
#[derive(Debug, Parser)]
#[command(
    name = "ctrmgrctl",
    version,
    about = "Command-line client of the ctrmgr container manager agent",
    long_about = "Command-line client of the ctrmgr container manager agent.\n\n\
        Finds the agent like docker finds dockerd: --host, else CTRMGR_HOST, else \
        unix:///run/ctrmgr/api.sock. Over TCP (--host http://HOST:PORT) the agent wants a \
        bearer token: --token-file or CTRMGR_TOKEN_FILE.",
    after_help = crate::error::exit_code_help()
)]
pub struct Cli {
    /// The agent: unix:///PATH or http://HOST:PORT [env: CTRMGR_HOST]
    #[arg(long, global = true, value_name = "URL")]
    pub host: Option<String>,
    /// File holding the bearer token for a TCP agent [env: CTRMGR_TOKEN_FILE]
    #[arg(long, global = true, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Print the reply's result as JSON (for scripts) instead of tables
    #[arg(long, global = true)]
    pub json: bool,
    /// Engine access path: docker, docker-api, podman, podman-api (default: the agent's)
    #[arg(long, global = true, value_name = "RUNTIME")]
    pub runtime: Option<String>,
    /// What to do
    #[command(subcommand)]
    pub verb: Verb,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// List containers
    Ps(PsArgs),
    /// Create a container
    Create(CreateArgs),
    /// Create and start a container
    Run(CreateArgs),
    /// Start a container
    Start(NameArg),
    /// Stop a container
    Stop(StopArgs),
    /// Restart a container
    Restart(StopArgs),
    /// Send a signal to a container
    Kill(KillArgs),
    /// Remove a container
    Rm(RmArgs),
    /// Show a container (live state from the engine) as JSON
    Inspect(NameArg),
    /// Print a container's logs
    Logs(LogsArgs),
    /// Show a container's resource usage
    Stats(NameArg),
    /// Pull an image (a progress bar on a terminal)
    Pull(PullArgs),
    /// List images
    Images,
    /// Remove an image
    Rmi(RmiArgs),
    /// Show the agent's version, store and runtimes
    Info,
    /// Print the agent's events as they happen (Ctrl-C to stop)
    Events,
    /// Apply a deployment (desired state) from a JSON or TOML file
    Apply(ApplyArgs),
    /// Show the current deployment's status
    Deployment,
    /// Roll back to the previous deployment generation
    Rollback,
    /// Print a shell completion script
    Completion(CompletionArgs),
}

/// A container name.
#[derive(Debug, Args)]
pub struct NameArg {
    /// Container name
    pub name: String,
}

/// `ps`
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Include stopped containers
    #[arg(short, long)]
    pub all: bool,
    /// Only containers with this label (KEY=VALUE)
    #[arg(long, value_name = "KEY=VALUE")]
    pub label: Option<String>,
}

/// `create` and `run`
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The container's settings
    #[command(flatten)]
    pub flags: ContainerFlags,
}

/// `stop` and `restart`
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Container name
    pub name: String,
    /// Seconds to wait for the container to stop before it is killed
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    pub timeout: Option<u32>,
}

/// `kill`
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Container name
    pub name: String,
    /// Signal to send (default SIGKILL)
    #[arg(short, long, value_name = "SIGNAL")]
    pub signal: Option<String>,
}

/// `rm`
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Container name
    pub name: String,
    /// Remove a running container too (it is killed)
    #[arg(short, long)]
    pub force: bool,
}

/// `logs`
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Container name
    pub name: String,
    /// Only the last N lines
    #[arg(long, value_name = "N")]
    pub tail: Option<u64>,
    /// Only lines since this RFC 3339 time (e.g. 2026-11-29T10:00:00Z)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Keep printing new lines until the container stops (see README: how it follows);
    /// with --json each line is printed as a JSON string
    #[arg(short, long)]
    pub follow: bool,
}

/// `pull`
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Image reference, e.g. 127.0.0.1:5000/app:1
    pub image: String,
}

/// `rmi`
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Image reference or id
    pub image: String,
    /// Remove it even if containers use it
    #[arg(short, long)]
    pub force: bool,
}

/// `apply`
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The deployment: a JSON or TOML file (by extension; else sniffed)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    /// Answer at once (phase `pending`) instead of waiting for the generation to settle
    #[arg(long)]
    pub no_wait: bool,
}

/// `completion`
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell
    pub shell: Shell,
}

/// Shells with completion scripts.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    /// bash: `source <(ctrmgrctl completion bash)`
    Bash,
    /// zsh: `ctrmgrctl completion zsh > "${fpath[1]}/_ctrmgrctl"`
    Zsh,
    /// fish: `ctrmgrctl completion fish > ~/.config/fish/completions/ctrmgrctl.fish`
    Fish,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn globals_after_the_verb() {
        let cli = Cli::try_parse_from(["ctrmgrctl", "ps", "-a", "--json", "--host", "unix:///x"])
            .unwrap();
        assert!(cli.json);
        assert_eq!(cli.host.as_deref(), Some("unix:///x"));
        assert!(matches!(cli.verb, Verb::Ps(PsArgs { all: true, .. })));
    }
}
