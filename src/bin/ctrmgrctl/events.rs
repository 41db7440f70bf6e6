//! `events`: the agent's event stream (`GET /v1/events`), one line per event: JSON lines
//! with `--json`, a short sentence for people otherwise. Runs until the agent ends the
//! stream (it shuts down) or the user presses Ctrl-C.

use crate::client::Client;
use crate::error::CtlError;
use crate::output::{line, text};
use serde_json::Value;

/// `events`
pub fn events(client: &Client, as_json: bool) -> Result<(), CtlError> {
    for event in client.events()? {
        let event = event?;
        if as_json {
            line(&event.to_string())?;
        } else {
            line(&describe(&event))?;
        }
    }
    Err(CtlError::Transport(
        "the agent ended the event stream (it is shutting down)".into(),
    ))
}

/// One event for people: container changes, pull progress and deployment phases by
/// their fields; anything else as its JSON.
pub fn describe(event: &Value) -> String {
    if let Some(progress) = crate::pull::Progress::from_event(event) {
        return format!(
            "{}  pull {}  layer {}  {}/{}",
            text(&event["time"]),
            progress.image,
            progress.layer,
            progress.current,
            progress
                .total
                .map_or_else(|| "?".to_owned(), |t| t.to_string()),
        );
    }
    if event.get("generation").is_some() && event.get("phase").is_some() {
        let mut s = format!(
            "{}  deployment {}  {}",
            text(&event["time"]),
            text(&event["generation"]),
            text(&event["phase"]),
        );
        if let (Some(name), Some(action)) = (event["name"].as_str(), event["action"].as_str()) {
            s.push_str(&format!("  {action} {name}"));
        }
        return s;
    }
    if event.get("action").is_some() && event.get("name").is_some() {
        let mut s = format!(
            "{}  {}  {}  {}",
            text(&event["time"]),
            text(&event["action"]),
            text(&event["name"]),
            text(&event["state"]),
        );
        if let Some(code) = event["exit_code"].as_i64() {
            s.push_str(&format!(" (exit {code})"));
        }
        return s;
    }
    event.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sentences() {
        let e = json!({"action":"engine:die","name":"web","runtime":"docker-api","state":"exited",
                       "exit_code":137,"time":"2026-11-29T10:00:00Z"});
        assert_eq!(
            describe(&e),
            "2026-11-29T10:00:00Z  engine:die  web  exited (exit 137)"
        );
        let d = json!({"generation": 4, "phase": "done"});
        assert_eq!(describe(&d), "-  deployment 4  done");
        let step = json!({"kind":"deployment","generation": 5, "phase": "switching",
                          "name": "app", "action": "recreate", "time": "t"});
        assert_eq!(describe(&step), "t  deployment 5  switching  recreate app");
        assert_eq!(describe(&json!({"x": 1})), r#"{"x":1}"#);
    }
}
