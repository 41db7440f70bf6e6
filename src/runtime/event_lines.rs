//! Reading the engines' container event streams, one JSON object per line: the Docker
//! Engine API and `docker events --format '{{json .}}'` (`Action`, `Actor.Attributes.name`),
//! the libpod API (the same Docker-compatible shape) and `podman events --format json`
//! (`Status`, `Name`). Only the container's name and the action word are kept: the core
//! re-inspects the container on each event.

use crate::core::runtime::{EngineEvent, MANAGED_LABEL};
use serde_json::Value;

/// The filter both engines take to stream only managed containers' events.
pub(crate) fn managed_label_filter() -> String {
    format!("{MANAGED_LABEL}=true")
}

/// The event of one line of a stream, if it is a container event with a name.
pub(crate) fn parse_event_line(line: &str) -> Option<EngineEvent> {
    let v: Value = serde_json::from_str(line.trim()).ok()?;
    let kind = v.get("Type").and_then(Value::as_str).unwrap_or("container");
    if !kind.eq_ignore_ascii_case("container") {
        return None;
    }
    let name = v
        .pointer("/Actor/Attributes/name")
        .or_else(|| v.get("Name"))
        .and_then(Value::as_str)?;
    let action = ["Action", "Status", "status"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .unwrap_or_default();
    Some(EngineEvent {
        name: name.trim_start_matches('/').to_owned(),
        action: action.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, action: &str) -> Option<EngineEvent> {
        Some(EngineEvent {
            name: name.into(),
            action: action.into(),
        })
    }

    #[test]
    fn docker_api_and_cli_lines() {
        let line = r#"{"status":"die","id":"d0","from":"busybox","Type":"container","Action":"die","Actor":{"ID":"d0","Attributes":{"exitCode":"137","image":"busybox","io.ctrmgr.managed":"true","name":"web"}},"scope":"local","time":1795924518}"#;
        assert_eq!(parse_event_line(line), event("web", "die"));
        let network = r#"{"Type":"network","Action":"connect","Actor":{"ID":"n","Attributes":{"name":"bridge"}}}"#;
        assert_eq!(parse_event_line(network), None);
    }

    #[test]
    fn libpod_and_podman_cli_lines() {
        let api = r#"{"status":"died","id":"8e","from":"localhost/busybox:latest","Type":"container","Action":"died","Actor":{"ID":"8e","Attributes":{"containerExitCode":"0","name":"exp1"}},"scope":"local"}"#;
        assert_eq!(parse_event_line(api), event("exp1", "died"));
        let cli = r#"{"ID":"8e","Image":"localhost/busybox:latest","Name":"exp1","Status":"start","Time":"2026-11-29T03:41:46Z","Type":"container","Attributes":{"io.ctrmgr.managed":"true"}}"#;
        assert_eq!(parse_event_line(cli), event("exp1", "start"));
    }

    #[test]
    fn unreadable_lines_are_skipped() {
        assert_eq!(parse_event_line(""), None);
        assert_eq!(parse_event_line("not json"), None);
        assert_eq!(
            parse_event_line(r#"{"Type":"container","Action":"die"}"#),
            None
        );
    }
}
