//! The JSON codec: the contract's envelope and every op's arguments as serde DTOs with
//! unknown fields refused; each failure names the field.

use super::checks::{check_timeout, field_error, invalid, parse_id, parse_runtime};
use super::{DecodeError, MAX_ID_BYTES};
use crate::core::command::{Command, Request};
use crate::core::deployment::{validate_deployment, Deployment};
use crate::core::error::{ErrorBody, ErrorCode};
use crate::core::model::{ContainerSpec, RegistryAuth};
use crate::core::names::{printable, ContainerName, ImageRef, SignalName};
use crate::core::op::Op;
use crate::core::queue_name::QueueName;
use crate::core::reply::Reply;
use crate::core::request_id::RequestId;
use crate::core::since::Since;
use crate::core::validate::{parse_label_filter, validate_spec, FieldError};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The request envelope.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    #[serde(default)]
    id: Option<RequestId>,
    op: String,
    #[serde(default)]
    runtime: Option<String>,
    #[serde(default)]
    args: Option<Map<String, Value>>,
    /// POSIX MQ addressing: checked here (a `QueueName`) like every envelope field, and
    /// read by that transport from the bytes itself.
    #[serde(default)]
    #[allow(dead_code)]
    reply_to: Option<QueueName>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameArgs {
    name: ContainerName,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StopArgs {
    name: ContainerName,
    #[serde(default)]
    timeout_s: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KillArgs {
    name: ContainerName,
    #[serde(default)]
    signal: Option<SignalName>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoveArgs {
    name: ContainerName,
    #[serde(default)]
    force: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    #[serde(default)]
    all: bool,
    #[serde(default)]
    label: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogsArgs {
    name: ContainerName,
    #[serde(default)]
    tail: Option<u32>,
    #[serde(default)]
    since: Option<Since>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PullArgs {
    image: ImageRef,
    #[serde(default)]
    auth: Option<RegistryAuth>,
    #[serde(default)]
    progress: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageArgs {
    image: ImageRef,
    #[serde(default)]
    force: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyArgs {
    deployment: Deployment,
    #[serde(default = "yes")]
    wait: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PruneArgs {
    #[serde(default)]
    dry_run: bool,
}

pub use super::checks::MAX_TIMEOUT_S;

/// Decodes a JSON request.
pub fn decode_request(bytes: &[u8]) -> Result<Request, DecodeError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| DecodeError {
        id: None,
        error: invalid(format!(
            "request is not valid JSON: {}",
            strip_position(&e.to_string())
        )),
    })?;
    decode_value(value)
}

/// Decodes a request already parsed as JSON.
fn decode_value(value: Value) -> Result<Request, DecodeError> {
    let id = match value.get("id") {
        Some(Value::String(s)) if s.len() <= MAX_ID_BYTES => Some(s.clone()),
        _ => None,
    };
    let fail = |error: ErrorBody| DecodeError {
        id: id.clone(),
        error,
    };
    if !value.is_object() {
        return Err(fail(invalid(
            "request must be a JSON object (the envelope)",
        )));
    }
    let env: Envelope = from_value(value, "").map_err(|e| fail(field_error(e)))?;
    let runtime = env
        .runtime
        .as_deref()
        .map(parse_runtime)
        .transpose()
        .map_err(|e| fail(field_error(e)))?;
    // `reply_to`, the POSIX MQ transport's addressing field, was checked by serde (a
    // `QueueName`) like every field of the envelope; that transport reads it itself.
    let op = Op::parse(&env.op).ok_or_else(|| {
        fail(field_error(FieldError::new(
            "op",
            format!("'{}' is not an op ({})", printable(&env.op), Op::names()),
        )))
    })?;
    let args = env.args.unwrap_or_default();
    let command = decode_args(op, args).map_err(|e| fail(field_error(e)))?;
    Ok(Request {
        id: env.id,
        runtime,
        command,
    })
}

/// Builds a request from parts a transport has already split, with the envelope's
/// checks and messages: REST's resource routes take the op from the route, the id from
/// `Idempotency-Key`, the runtime from `?runtime=` and the args from the path, the query
/// and the body.
pub fn decode_parts(
    id: Option<String>,
    op: Op,
    runtime: Option<&str>,
    args: Map<String, Value>,
) -> Result<Request, DecodeError> {
    let fail = |e: FieldError| DecodeError {
        id: id.clone().filter(|id| id.len() <= MAX_ID_BYTES),
        error: field_error(e),
    };
    let id = id.as_deref().map(parse_id).transpose().map_err(fail)?;
    let runtime = runtime.map(parse_runtime).transpose().map_err(fail)?;
    let command = decode_args(op, args).map_err(fail)?;
    Ok(Request {
        id,
        runtime,
        command,
    })
}

/// One op's JSON args to its command.
fn decode_args(op: Op, args: Map<String, Value>) -> Result<Command, FieldError> {
    let mut args = args;
    Ok(match op {
        Op::Create => {
            let start = match args.remove("start") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => b,
                Some(other) => {
                    return Err(FieldError::new(
                        "args.start",
                        format!("expected a boolean, got {}", kind_of(&other)),
                    ))
                }
            };
            let spec: ContainerSpec = from_args(args)?;
            validate_spec(&spec)?;
            Command::Create {
                spec: Box::new(spec),
                start,
            }
        }
        Op::Start => Command::Start {
            name: from_args::<NameArgs>(args)?.name,
        },
        Op::Stop | Op::Restart => {
            let StopArgs { name, timeout_s } = from_args(args)?;
            check_timeout(timeout_s)?;
            if op == Op::Stop {
                Command::Stop { name, timeout_s }
            } else {
                Command::Restart { name, timeout_s }
            }
        }
        Op::Kill => {
            let a: KillArgs = from_args(args)?;
            Command::Kill {
                name: a.name,
                signal: a.signal.unwrap_or(SignalName::KILL),
            }
        }
        Op::Remove => {
            let RemoveArgs { name, force } = from_args(args)?;
            Command::Remove { name, force }
        }
        Op::Inspect => Command::Inspect {
            name: from_args::<NameArgs>(args)?.name,
        },
        Op::List => {
            let a: ListArgs = from_args(args)?;
            let label = a.label.as_deref().map(parse_label_filter).transpose()?;
            Command::List { all: a.all, label }
        }
        Op::Logs => {
            let LogsArgs { name, tail, since } = from_args(args)?;
            Command::Logs { name, tail, since }
        }
        Op::Stats => Command::Stats {
            name: from_args::<NameArgs>(args)?.name,
        },
        Op::Pull => {
            let PullArgs {
                image,
                auth,
                progress,
            } = from_args(args)?;
            Command::Pull {
                image,
                auth,
                progress,
            }
        }
        Op::RemoveImage => {
            let ImageArgs { image, force } = from_args(args)?;
            Command::RemoveImage { image, force }
        }
        Op::PruneImages => {
            let PruneArgs { dry_run } = from_args(args)?;
            Command::PruneImages { dry_run }
        }
        Op::Images | Op::Info | Op::Deployment | Op::Rollback => {
            from_args::<NoArgs>(args)?;
            match op {
                Op::Images => Command::Images,
                Op::Deployment => Command::Deployment,
                Op::Rollback => Command::Rollback,
                _ => Command::Info,
            }
        }
        Op::Apply => {
            let ApplyArgs { deployment, wait } = from_args(args)?;
            validate_deployment(&deployment, "args.deployment")?;
            Command::Apply {
                deployment: Box::new(deployment),
                wait,
            }
        }
    })
}

/// Deserializes an op's `args` into `T`, naming the failing field.
fn from_args<T: DeserializeOwned>(args: Map<String, Value>) -> Result<T, FieldError> {
    from_value(Value::Object(args), "args")
}

/// Deserializes `value` into `T`, naming the failing field with `prefix`.
fn from_value<T: DeserializeOwned>(value: Value, prefix: &str) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = match (prefix.is_empty(), path == ".") {
            (true, true) => "request".to_owned(),
            (true, false) => path,
            (false, true) => prefix.to_owned(),
            (false, false) => format!("{prefix}.{path}"),
        };
        FieldError::new(field, strip_position(&e.into_inner().to_string()))
    })
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Encodes a reply.
pub fn encode_reply(reply: &Reply) -> Vec<u8> {
    serde_json::to_vec(reply).unwrap_or_else(|e| {
        let fallback = Reply::err(
            reply.id.clone(),
            ErrorBody::new(
                ErrorCode::Internal,
                format!("reply could not be encoded: {e}"),
            ),
        );
        serde_json::to_vec(&fallback).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::RuntimeKind;

    fn decode(s: &str) -> Result<Request, DecodeError> {
        decode_request(s.as_bytes())
    }

    fn err_msg(s: &str) -> String {
        let e = decode(s).unwrap_err();
        assert_eq!(e.error.code, ErrorCode::InvalidRequest, "{s}");
        e.error.message
    }

    #[test]
    fn decodes_create() {
        let r = decode(
            r#"{"id":"a1","op":"create","runtime":"docker-api","args":{"name":"web",
            "image":"127.0.0.1:5000/nginx:1","ports":[{"host":8080,"container":80}],"start":true}}"#,
        )
        .unwrap();
        assert_eq!(r.id.as_deref(), Some("a1"));
        assert_eq!(r.runtime, Some(RuntimeKind::DockerApi));
        let Command::Create { spec, start } = r.command else {
            panic!()
        };
        assert!(start);
        assert_eq!(spec.ports[0].host, 8080);
    }

    #[test]
    fn contract_example_message_for_bad_name() {
        assert_eq!(
            err_msg(r#"{"op":"create","args":{"name":"--privileged","image":"busybox"}}"#),
            "args.name: '--privileged' is not a valid container name (letters, digits, '_', \
             '.', '-'; must start with a letter or digit)"
        );
    }

    #[test]
    fn names_the_field() {
        assert!(
            err_msg(r#"{"op":"stop","args":{"name":"a","timeout_s":"x"}}"#)
                .starts_with("args.timeout_s:")
        );
        assert!(err_msg(r#"{"op":"create","args":{"name":"a","image":"b","ports":[{"host":"x","container":1}]}}"#)
            .starts_with("args.ports[0].host:"));
        assert!(err_msg(r#"{"op":"start","args":{"name":"a","bogus":1}}"#).contains("bogus"));
        assert!(err_msg(r#"{"op":"start","bogus":1}"#).contains("bogus"));
        assert!(err_msg(r#"{"op":"fly"}"#).starts_with("op:"));
        assert!(
            err_msg(r#"{"op":"start","runtime":"lxc","args":{"name":"a"}}"#)
                .starts_with("runtime:")
        );
        assert!(
            err_msg(r#"{"op":"create","args":{"name":"a","image":"-x"}}"#)
                .starts_with("args.image:")
        );
        assert!(
            err_msg(r#"{"op":"create","args":{"name":"a","image":"b","start":"yes"}}"#)
                .starts_with("args.start:")
        );
        assert!(
            err_msg(r#"{"op":"logs","args":{"name":"a","since":"--x"}}"#)
                .starts_with("args.since:")
        );
        assert!(err_msg(r#"{"op":"create","args":{"name":"a","image":"b","mounts":[{"source":"../x","target":"/x"}]}}"#)
            .starts_with("args.mounts[0].source:"));
    }

    #[test]
    fn refuses_non_objects_and_bad_json() {
        assert!(err_msg("{nope").starts_with("request is not valid JSON"));
        err_msg("[1,2]");
        err_msg("\"x\"");
        err_msg(r#"{"op":"start","args":[1]}"#);
    }

    #[test]
    fn keeps_id_on_errors() {
        let e = decode(r#"{"id":"x9","op":"start","args":{"name":"-a"}}"#).unwrap_err();
        assert_eq!(e.id.as_deref(), Some("x9"));
        let long = "a".repeat(129);
        let e = decode(&format!(r#"{{"id":"{long}","op":"info"}}"#)).unwrap_err();
        assert_eq!(e.id, None);
    }

    #[test]
    fn defaults() {
        let r = decode(r#"{"op":"kill","args":{"name":"a"}}"#).unwrap();
        assert_eq!(
            r.command,
            Command::Kill {
                name: ContainerName::parse("a").unwrap(),
                signal: SignalName::KILL
            }
        );
        let r = decode(r#"{"op":"info"}"#).unwrap();
        assert_eq!(r.command, Command::Info);
        let r = decode(r#"{"op":"list","args":{"label":"app=x"}}"#).unwrap();
        assert_eq!(
            r.command,
            Command::List {
                all: false,
                label: Some(("app".into(), "x".into()))
            }
        );
    }

    #[test]
    fn encodes_replies_as_the_contract() {
        let r = Reply::err(
            Some("a3".into()),
            ErrorBody::new(ErrorCode::NotFound, "container 'nope' not found"),
        );
        assert_eq!(
            String::from_utf8(encode_reply(&r)).unwrap(),
            r#"{"id":"a3","ok":false,"error":{"code":"not_found","message":"container 'nope' not found"}}"#
        );
    }
}
