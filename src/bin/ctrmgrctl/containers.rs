//! The container verbs: `ps`, `create`/`run`, `start`, `stop`, `restart`, `kill`, `rm`,
//! `inspect`, `stats`. Each sends one op and prints the result: a table or the name for
//! people, the reply's `result` with `--json`.

use crate::args::{CreateArgs, KillArgs, NameArg, PsArgs, RmArgs, StopArgs};
use crate::client::Client;
use crate::error::CtlError;
use crate::output::{line, print_json, text};
use crate::table::{human_bytes, Table};
use serde_json::{json, Value};

/// `ps`: the containers as a table.
pub fn ps(client: &Client, args: &PsArgs, as_json: bool) -> Result<(), CtlError> {
    let mut op_args = json!({"all": args.all});
    if let Some(label) = &args.label {
        op_args["label"] = json!(label);
    }
    let result = client.execute("list", op_args)?;
    if as_json {
        return print_json(&result);
    }
    let mut table = Table::new(
        &["NAME", "IMAGE", "STATE", "RUNTIME", "ID", "CREATED"],
        &["IMAGE", "NAME"],
    );
    for c in result["containers"].as_array().into_iter().flatten() {
        let mut state = text(&c["state"]);
        if let Some(code) = c["exit_code"].as_i64() {
            state.push_str(&format!(" ({code})"));
        }
        table.row(vec![
            text(&c["name"]),
            text(&c["image"]),
            state,
            text(&c["runtime"]),
            text(&c["id"]).chars().take(12).collect(),
            text(&c["created_at"]),
        ]);
    }
    table.print()
}

/// `create` and `run` (`start`: run).
pub fn create(
    client: &Client,
    args: &CreateArgs,
    start: bool,
    as_json: bool,
) -> Result<(), CtlError> {
    let mut spec = args.flags.to_spec()?;
    if start {
        spec["start"] = json!(true);
    }
    let result = client.execute("create", spec)?;
    print_container(&result, as_json)
}

/// `start`
pub fn start(client: &Client, args: &NameArg, as_json: bool) -> Result<(), CtlError> {
    let result = client.execute("start", json!({"name": args.name}))?;
    print_container(&result, as_json)
}

/// `stop` and `restart` (`op` says which).
pub fn stop(client: &Client, op: &str, args: &StopArgs, as_json: bool) -> Result<(), CtlError> {
    let mut op_args = json!({"name": args.name});
    if let Some(t) = args.timeout {
        op_args["timeout_s"] = json!(t);
    }
    let result = client.execute(op, op_args)?;
    print_container(&result, as_json)
}

/// `kill`
pub fn kill(client: &Client, args: &KillArgs, as_json: bool) -> Result<(), CtlError> {
    let mut op_args = json!({"name": args.name});
    if let Some(signal) = &args.signal {
        op_args["signal"] = json!(signal);
    }
    let result = client.execute("kill", op_args)?;
    print_container(&result, as_json)
}

/// `rm`
pub fn rm(client: &Client, args: &RmArgs, as_json: bool) -> Result<(), CtlError> {
    let result = client.execute("remove", json!({"name": args.name, "force": args.force}))?;
    if as_json {
        return print_json(&result);
    }
    line(&text(&result["name"]))
}

/// `inspect`: always JSON (as `docker inspect`), the same with or without `--json`.
pub fn inspect(client: &Client, args: &NameArg) -> Result<(), CtlError> {
    let result = client.execute("inspect", json!({"name": args.name}))?;
    print_json(&result)
}

/// `stats`: one line of usage.
pub fn stats(client: &Client, args: &NameArg, as_json: bool) -> Result<(), CtlError> {
    let result = client.execute("stats", json!({"name": args.name}))?;
    if as_json {
        return print_json(&result);
    }
    let bytes = |v: &Value| v.as_u64().map_or_else(|| "-".to_owned(), human_bytes);
    let mut table = Table::new(&["NAME", "CPU %", "MEMORY", "LIMIT", "PIDS"], &[]);
    table.row(vec![
        args.name.clone(),
        result["cpu_percent"]
            .as_f64()
            .map_or_else(|| "-".to_owned(), |p| format!("{p:.2}")),
        bytes(&result["memory_bytes"]),
        bytes(&result["memory_limit_bytes"]),
        text(&result["pids"]),
    ]);
    table.print()
}

/// A Container result: its name for people, the whole record with `--json`.
fn print_container(container: &Value, as_json: bool) -> Result<(), CtlError> {
    if as_json {
        return print_json(container);
    }
    line(&text(&container["name"]))
}
