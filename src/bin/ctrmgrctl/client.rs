//! The agent's REST API as ctrmgrctl uses it: finding the agent (`--host`, `CTRMGR_HOST`,
//! the default socket), the bearer token, `POST /v1/execute` with the contract's
//! envelope, and the `GET /v1/events` server-sent-event stream.
//!
//! Every op goes through `/v1/execute` (one route, the contract's envelope and reply),
//! never the resource routes, so an op the agent does not know yet (`apply`) is answered
//! by the agent's own `invalid_request`.

use crate::error::CtlError;
use ctrmgr::runtime::unix_socket::unix_socket_agent;
use serde_json::{json, Map, Value};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the agent listens when neither `--host` nor `CTRMGR_HOST` says.
pub const DEFAULT_HOST: &str = "unix:///run/ctrmgr/api.sock";

/// Where the agent listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// The REST unix socket at this path.
    Unix(PathBuf),
    /// A TCP listener; the base URL, e.g. `http://127.0.0.1:7470`.
    Tcp(String),
}

impl Host {
    /// Parses `unix:///path`, `http://host:port` or `tcp://host:port` (as docker does).
    pub fn parse(text: &str) -> Result<Host, CtlError> {
        let bad = |why: &str| CtlError::Local(format!("--host '{text}': {why}"));
        if let Some(path) = text.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(bad(
                    "a unix socket path must be absolute (unix:///run/ctrmgr/api.sock)",
                ));
            }
            return Ok(Host::Unix(PathBuf::from(path)));
        }
        let rest = text
            .strip_prefix("http://")
            .or_else(|| text.strip_prefix("tcp://"));
        match rest {
            Some(authority) if !authority.is_empty() => {
                let authority = authority.trim_end_matches('/');
                if authority.contains('/') {
                    return Err(bad("give only host:port, no path"));
                }
                Ok(Host::Tcp(format!("http://{authority}")))
            }
            Some(_) => Err(bad("no host:port after the scheme")),
            None if text.starts_with("https://") => Err(bad(
                "the agent serves plain HTTP; reach a remote agent through an SSH tunnel",
            )),
            None => Err(bad("use unix:///path or http://host:port")),
        }
    }
}

/// A connection setting to one agent.
#[derive(Clone)]
pub struct Client {
    http: ureq::Agent,
    base: String,
    token: Option<String>,
    runtime: Option<String>,
    describe: String,
}

impl Client {
    /// A client for `host`, sending `token` (when given) as `Authorization: Bearer` and
    /// `runtime` (when given) in every envelope.
    pub fn new(host: &Host, token: Option<String>, runtime: Option<String>) -> Client {
        // No overall timeout: a pull or a followed stream may take long. A connection
        // that cannot be made fails fast.
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .build();
        let (http, base, describe) = match host {
            Host::Unix(path) => (
                unix_socket_agent(path, config),
                "http://localhost".to_owned(),
                format!("unix://{}", path.display()),
            ),
            Host::Tcp(url) => (
                ureq::Agent::new_with_config(config),
                url.clone(),
                url.clone(),
            ),
        };
        Client {
            http,
            base,
            token,
            runtime,
            describe,
        }
    }

    /// Runs one op; `Ok` is the reply's `result`, `Err` the reply's error or why the
    /// agent could not be asked.
    pub fn execute(&self, op: &str, args: Value) -> Result<Value, CtlError> {
        let mut envelope = Map::new();
        envelope.insert("op".into(), json!(op));
        if let Some(runtime) = &self.runtime {
            envelope.insert("runtime".into(), json!(runtime));
        }
        if args.as_object().is_some_and(|a| !a.is_empty()) {
            envelope.insert("args".into(), args);
        }
        let mut req = self
            .http
            .post(format!("{}/v1/execute", self.base))
            .header("Content-Type", "application/json");
        if let Some(token) = &self.token {
            req = req.header("Authorization", format!("Bearer {token}"));
        }
        let mut res = req
            .send(Value::Object(envelope).to_string())
            .map_err(|e| self.unreachable(e))?;
        let status = res.status().as_u16();
        let body = res
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| self.unreachable(e))?;
        parse_reply(status, &body)
    }

    /// Opens the agent's event stream; each item is one event's JSON.
    pub fn events(&self) -> Result<Events, CtlError> {
        let mut req = self.http.get(format!("{}/v1/events", self.base));
        if let Some(token) = &self.token {
            req = req.header("Authorization", format!("Bearer {token}"));
        }
        let mut res = req.call().map_err(|e| self.unreachable(e))?;
        let status = res.status().as_u16();
        if status != 200 {
            let body = res.body_mut().read_to_string().unwrap_or_default();
            return Err(parse_reply(status, &body)
                .err()
                .unwrap_or_else(|| CtlError::Transport(format!("events: HTTP {status}"))));
        }
        Ok(Events {
            reader: BufReader::new(Box::new(res.into_body().into_reader())),
        })
    }

    fn unreachable(&self, e: ureq::Error) -> CtlError {
        let hint = if self.describe == DEFAULT_HOST {
            " (is the agent running? point --host or CTRMGR_HOST at its socket)"
        } else {
            ""
        };
        let why = match e {
            ureq::Error::Io(io) => io.to_string(),
            other => other.to_string(),
        };
        CtlError::Transport(format!(
            "cannot reach the agent at {}: {why}{hint}",
            self.describe
        ))
    }
}

/// Turns an HTTP answer into the reply's result or its error.
fn parse_reply(status: u16, body: &str) -> Result<Value, CtlError> {
    let reply: Value = serde_json::from_str(body).map_err(|_| {
        CtlError::Transport(format!(
            "the agent answered HTTP {status} with something that is not a reply: {}",
            body.chars().take(200).collect::<String>()
        ))
    })?;
    if reply["ok"] == true {
        return Ok(reply.get("result").cloned().unwrap_or(Value::Null));
    }
    let error = &reply["error"];
    match (error["code"].as_str(), error["message"].as_str()) {
        (Some(code), Some(message)) => Err(CtlError::Agent {
            code: code.to_owned(),
            message: message.to_owned(),
        }),
        _ => Err(CtlError::Transport(format!(
            "the agent answered HTTP {status} without a result or an error: {reply}"
        ))),
    }
}

/// The server-sent events of `GET /v1/events`, read as they arrive.
pub struct Events {
    reader: BufReader<Box<dyn Read + Send>>,
}

impl Events {
    /// The next event's JSON; `None` when the agent ends the stream. Comments
    /// (heartbeats) are skipped; an event's `data:` lines are joined as SSE says.
    pub fn next_event(&mut self) -> Option<Result<Value, CtlError>> {
        let mut data = String::new();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    return Some(Err(CtlError::Transport(format!(
                        "the event stream broke: {e}"
                    ))))
                }
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if data.is_empty() {
                    continue;
                }
                return Some(serde_json::from_str(&data).map_err(|e| {
                    CtlError::Transport(format!("an event is not JSON ({e}): {data}"))
                }));
            }
            if let Some(value) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value.strip_prefix(' ').unwrap_or(value));
            }
        }
    }
}

impl Iterator for Events {
    type Item = Result<Value, CtlError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_event()
    }
}

/// Reads the token from `path`: its first line, trimmed (as the agent reads its own).
pub fn read_token(path: &Path) -> Result<String, CtlError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CtlError::Local(format!(
            "cannot read the token file {}: {e}",
            path.display()
        ))
    })?;
    let token = text.lines().next().unwrap_or_default().trim().to_owned();
    if token.is_empty() {
        return Err(CtlError::Local(format!(
            "the token file {} is empty",
            path.display()
        )));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            Host::parse("unix:///run/ctrmgr/api.sock").unwrap(),
            Host::Unix("/run/ctrmgr/api.sock".into())
        );
        assert_eq!(
            Host::parse("http://127.0.0.1:7470/").unwrap(),
            Host::Tcp("http://127.0.0.1:7470".into())
        );
        assert_eq!(
            Host::parse("tcp://gw:7470").unwrap(),
            Host::Tcp("http://gw:7470".into())
        );
        for bad in [
            "unix://rel.sock",
            "http://",
            "https://gw:1",
            "gw:7470",
            "http://gw/x",
        ] {
            assert!(Host::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn replies() {
        assert_eq!(
            parse_reply(200, r#"{"ok":true,"result":{"a":1}}"#).unwrap(),
            json!({"a": 1})
        );
        let err = parse_reply(
            404,
            r#"{"ok":false,"error":{"code":"not_found","message":"m"}}"#,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "not_found: m");
        assert!(matches!(
            parse_reply(502, "Bad Gateway"),
            Err(CtlError::Transport(_))
        ));
    }

    #[test]
    fn sse_events() {
        let text =
            ": ctrmgr events\n\ndata: {\"a\":1}\n\n: keep-alive\n\ndata: {\"b\":\ndata: 2}\n\n";
        let mut events = Events {
            reader: BufReader::new(Box::new(std::io::Cursor::new(text.as_bytes().to_vec()))),
        };
        assert_eq!(events.next_event().unwrap().unwrap(), json!({"a": 1}));
        assert_eq!(events.next_event().unwrap().unwrap(), json!({"b": 2}));
        assert!(events.next_event().is_none());
    }
}
