//! Exec over the engines' REST APIs, the same calls on Docker and libpod: create an exec
//! instance (`POST /containers/{name}/exec`), start it attached (`POST /exec/{id}/start`,
//! which answers when the command ends: libpod 4 does not support detached starts), then
//! read its exit code (`GET /exec/{id}/json`). The start call is bounded by the caller's
//! timeout, so a hung command holds a `ctrmgr-io` thread for that long at most.

use super::replies::{from_json, parse_id, ReplyError};
use super::{bad_reply, call, call_name, container, request, Dialect, EngineApi};
use crate::core::error::RuntimeError;
use crate::core::names::ContainerName;
use crate::runtime::engine_http::container_path;
use serde::Deserialize;
use std::time::Duration;

/// Runs `cmd` in `name`; its exit code.
pub(super) async fn exec<D: Dialect>(
    api: &EngineApi<D>,
    name: &ContainerName,
    cmd: &[String],
    timeout: Duration,
) -> Result<i64, RuntimeError> {
    let mut req = request(api, "POST", &container_path(name, "/exec")).await?;
    req.body = Some(serde_json::json!({
        "Cmd": cmd,
        "AttachStdout": true,
        "AttachStderr": true,
    }));
    let reply = api.client.send(req).await?;
    let reply = api.dialect.classify(reply, container(name))?;
    let id = parse_id(
        &reply.body,
        &call_name::<D>("POST", "/containers/{name}/exec"),
    )
    .map_err(|e| bad_reply(D::KIND, e))?;
    let mut req = request(api, "POST", &format!("/exec/{id}/start")).await?;
    req.body = Some(serde_json::json!({"Detach": false, "Tty": false}));
    req.timeout = timeout;
    let reply = api.client.send(req).await?;
    api.dialect.classify(reply, container(name))?;
    let reply = call(api, "GET", &format!("/exec/{id}/json"), container(name)).await?;
    parse_exit(&reply.body, &call_name::<D>("GET", "/exec/{id}/json"))
        .map_err(|e| bad_reply(D::KIND, e))
}

/// The exit code of a finished exec instance; an error while it still runs.
fn parse_exit(body: &[u8], call: &str) -> Result<i64, ReplyError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct ExecDto {
        running: bool,
        exit_code: Option<i64>,
    }
    let dto: ExecDto = from_json(body, call)?;
    match (dto.running, dto.exit_code) {
        (false, Some(code)) => Ok(code),
        _ => Err(ReplyError::ExecRunning {
            call: call.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_of_a_finished_exec() {
        let done = br#"{"ID":"7e","Running":false,"ExitCode":3,"ProcessConfig":{}}"#;
        assert_eq!(parse_exit(done, "GET /exec/{id}/json").unwrap(), 3);
        let running = br#"{"ID":"7e","Running":true,"ExitCode":null}"#;
        assert!(parse_exit(running, "GET /exec/{id}/json").is_err());
    }
}
