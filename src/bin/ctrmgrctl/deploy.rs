//! `apply -f FILE`, `deployment` and `rollback`: the desired-state ops of DESIGN.md
//! "Desired state", sent as the contract's envelopes; the agent's errors (`conflict` for
//! an old generation or nothing to roll back to) are printed as any error.

use crate::args::ApplyArgs;
use crate::client::Client;
use crate::error::CtlError;
use crate::output::{line, print_json, text};
use crate::table::Table;
use serde_json::{json, Value};
use std::path::Path;

/// `apply -f FILE [--no-wait]`
pub fn apply(client: &Client, args: &ApplyArgs, as_json: bool) -> Result<(), CtlError> {
    let deployment = read_deployment(&args.file)?;
    let result = client.execute(
        "apply",
        json!({"deployment": deployment, "wait": !args.no_wait}),
    )?;
    print_status(&result, as_json)
}

/// `deployment` (`op` = `deployment`) and `rollback` (`op` = `rollback`): no args.
pub fn status(client: &Client, op: &str, as_json: bool) -> Result<(), CtlError> {
    let result = client.execute(op, json!({}))?;
    print_status(&result, as_json)
}

/// The deployment in `path`: TOML for a `.toml` file, JSON for `.json`, else JSON when
/// the first non-blank character is `{` and TOML otherwise.
pub fn read_deployment(path: &Path) -> Result<Value, CtlError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CtlError::Local(format!("cannot read {}: {e}", path.display())))?;
    let is_toml = match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => true,
        Some("json") => false,
        _ => !text.trim_start().starts_with('{'),
    };
    let value: Value = if is_toml {
        toml::from_str(&text)
            .map_err(|e| CtlError::Local(format!("{}: not valid TOML: {e}", path.display())))?
    } else {
        serde_json::from_str(&text)
            .map_err(|e| CtlError::Local(format!("{}: not valid JSON: {e}", path.display())))?
    };
    if !value.is_object() {
        return Err(CtlError::Local(format!(
            "{}: a deployment is an object with generation, containers and policy",
            path.display()
        )));
    }
    Ok(value)
}

/// A DeploymentStatus: a summary line and a table of its containers.
fn print_status(status: &Value, as_json: bool) -> Result<(), CtlError> {
    if as_json {
        return print_json(status);
    }
    let mut head = format!(
        "generation {}  phase {}",
        text(&status["generation"]),
        text(&status["phase"])
    );
    if let Some(previous) = status["previous_generation"].as_u64() {
        head.push_str(&format!("  (previous {previous})"));
    }
    if status["in_progress"].is_object() {
        head.push_str("  (another generation is being applied)");
    }
    line(&head)?;
    if let Some(message) = status["message"].as_str() {
        line(message)?;
    }
    let mut table = Table::new(
        &["NAME", "ACTION", "STATE", "HEALTH", "RESTARTS", "MESSAGE"],
        &["MESSAGE", "NAME"],
    );
    for c in status["containers"].as_array().into_iter().flatten() {
        table.row(
            [
                "name",
                "action",
                "state",
                "health",
                "restart_count",
                "message",
            ]
            .iter()
            .map(|k| text(&c[*k]))
            .collect(),
        );
    }
    table.print()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_toml_files() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("d.toml");
        std::fs::write(
            &toml_path,
            "generation = 3\n[[containers]]\nname = \"app\"\nimage = \"i:1\"\n",
        )
        .unwrap();
        let want = json!({"generation": 3, "containers": [{"name": "app", "image": "i:1"}]});
        assert_eq!(read_deployment(&toml_path).unwrap(), want);
        let sniffed = dir.path().join("deployment");
        std::fs::write(&sniffed, want.to_string()).unwrap();
        assert_eq!(read_deployment(&sniffed).unwrap(), want);
        std::fs::write(&sniffed, "generation = [").unwrap();
        assert!(read_deployment(&sniffed).is_err());
        let list = dir.path().join("d.json");
        std::fs::write(&list, "[1]").unwrap();
        assert!(read_deployment(&list).is_err());
    }
}
