//! `watch` for the CLI runtime: `docker events --format '{{json .}}'` or `podman events
//! --format json`, filtered to managed containers, as a long-running child whose stdout
//! is read line by line on the executor (no thread). Dropping the stream kills the child.

use super::{CliFlavor, CliRuntime};
use crate::core::error::RuntimeError;
use crate::core::runtime::{EngineEvents, Runtime};
use crate::runtime::event_lines::{managed_label_filter, parse_event_line};
use futures_lite::io::{AsyncBufReadExt, BufReader};
use futures_lite::StreamExt;
use smol::process::{Command, Stdio};

/// The argv (after the binary) of the event stream.
fn events_argv(flavor: CliFlavor) -> Vec<String> {
    let format = match flavor {
        CliFlavor::Docker => "{{json .}}",
        CliFlavor::Podman => "json",
    };
    [
        "events",
        "--format",
        format,
        "--filter",
        "type=container",
        "--filter",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([format!("label={}", managed_label_filter())])
    .collect()
}

/// Opens the event stream: checks that the engine answers (the events command prints
/// nothing until an event comes), then runs the events command.
pub(super) async fn watch(rt: &CliRuntime) -> Result<EngineEvents, RuntimeError> {
    rt.version().await?;
    let unavailable = |reason: String| RuntimeError::Unavailable {
        runtime: rt.flavor.kind(),
        reason,
    };
    let mut child = Command::new(&rt.binary)
        .args(events_argv(rt.flavor))
        .envs(rt.call_env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| unavailable(format!("cannot run '{} events': {e}", rt.binary_name())))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| unavailable("the events command has no stdout".into()))?;
    let lines = BufReader::new(stdout).lines();
    Ok(Box::pin(futures_lite::stream::unfold(
        (lines, child),
        |(mut lines, child)| async move {
            while let Some(Ok(line)) = lines.next().await {
                if let Some(event) = parse_event_line(&line) {
                    return Some((event, (lines, child)));
                }
            }
            None
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_per_flavor() {
        assert_eq!(
            events_argv(CliFlavor::Docker).join(" "),
            "events --format {{json .}} --filter type=container \
             --filter label=io.ctrmgr.managed=true"
        );
        assert_eq!(
            events_argv(CliFlavor::Podman)[..3].join(" "),
            "events --format json"
        );
    }
}
