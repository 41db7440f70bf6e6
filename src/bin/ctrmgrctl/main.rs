//! ctrmgrctl: the command-line client of the ctrmgr agent. It talks to the agent's REST
//! API (unix socket by default, or TCP with a bearer token), one verb per run, and
//! exits with a code per contract error code (see `error.rs` and the README).

mod args;
mod client;
mod completion;
mod containers;
mod deploy;
mod error;
mod events;
mod health;
mod images;
mod logs;
mod output;
mod pull;
mod spec;
mod table;

use args::{Cli, Verb};
use clap::Parser;
use client::{Client, Host, DEFAULT_HOST};
use error::{CtlError, EXIT_USAGE};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version are not errors; clap prints and says which.
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            // Printing can only fail if the terminal went away.
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs the verb; every verb but `completion` talks to the agent.
fn run(cli: Cli) -> Result<(), CtlError> {
    let connect = || connect(&cli);
    let json = cli.json;
    match &cli.verb {
        Verb::Ps(a) => containers::ps(&connect()?, a, json),
        Verb::Create(a) => containers::create(&connect()?, a, false, json),
        Verb::Run(a) => containers::create(&connect()?, a, true, json),
        Verb::Start(a) => containers::start(&connect()?, a, json),
        Verb::Stop(a) => containers::stop(&connect()?, "stop", a, json),
        Verb::Restart(a) => containers::stop(&connect()?, "restart", a, json),
        Verb::Kill(a) => containers::kill(&connect()?, a, json),
        Verb::Rm(a) => containers::rm(&connect()?, a, json),
        Verb::Inspect(a) => containers::inspect(&connect()?, a),
        Verb::Logs(a) => logs::logs(&connect()?, a, json),
        Verb::Stats(a) => containers::stats(&connect()?, a, json),
        Verb::Pull(a) => pull::pull(&connect()?, a, json),
        Verb::Images => images::images(&connect()?, json),
        Verb::Rmi(a) => images::rmi(&connect()?, a, json),
        Verb::Info => images::info(&connect()?, json),
        Verb::Events => events::events(&connect()?, json),
        Verb::Apply(a) => deploy::apply(&connect()?, a, json),
        Verb::Deployment => deploy::status(&connect()?, "deployment", json),
        Verb::Rollback => deploy::status(&connect()?, "rollback", json),
        Verb::Completion(a) => {
            completion::completion(a.shell);
            Ok(())
        }
    }
}

/// A client for the agent the options (`--host`, `--token-file`), else the environment
/// (`CTRMGR_HOST`, `CTRMGR_TOKEN_FILE`), else the default socket name.
fn connect(cli: &Cli) -> Result<Client, CtlError> {
    let host = cli
        .host
        .clone()
        .or_else(|| std::env::var("CTRMGR_HOST").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| DEFAULT_HOST.to_owned());
    let token_file = cli.token_file.clone().or_else(|| {
        std::env::var_os("CTRMGR_TOKEN_FILE")
            .filter(|f| !f.is_empty())
            .map(Into::into)
    });
    let token = token_file.as_deref().map(client::read_token).transpose()?;
    Ok(Client::new(
        &Host::parse(&host)?,
        token,
        cli.runtime.clone(),
    ))
}
