//! `ctrmgr.v1.Request` to the core's validated `Request`: the envelope checks and every
//! op's arguments, with the JSON codec's checks and messages.

use super::spec::{self, parse_required, parse_str};
use super::unknown_fields::{refuse_unknown, REQUEST};
use super::wire::ctrmgr_v1 as pb;
use crate::codec::checks::{
    check_timeout, field_error, parse_id, parse_reply_to, parse_runtime, parse_since,
};
use crate::codec::DecodeError;
use crate::core::command::{Command, Request};
use crate::core::model::RegistryAuth;
use crate::core::names::SignalName;
use crate::core::validate::{parse_label_filter, validate_spec, FieldError};
use pb::request::Op;

/// Validates a decoded request; `bytes` are its encoding, walked for unknown fields.
pub(super) fn from_wire(message: pb::Request, bytes: &[u8]) -> Result<Request, DecodeError> {
    let id = message.id.clone().filter(|id| parse_id(id).is_ok());
    let fail = |e: FieldError| DecodeError {
        id: id.clone(),
        error: field_error(e),
    };
    refuse_unknown(bytes, REQUEST, "request").map_err(fail)?;
    let request_id = message
        .id
        .as_deref()
        .map(parse_id)
        .transpose()
        .map_err(fail)?;
    let runtime = message
        .runtime
        .as_deref()
        .map(parse_runtime)
        .transpose()
        .map_err(fail)?;
    let reply_to = message
        .reply_to
        .as_deref()
        .map(parse_reply_to)
        .transpose()
        .map_err(fail)?;
    let op = message.op.ok_or_else(|| {
        fail(FieldError::new(
            "op",
            "no op is set (set one of create, start, stop, restart, kill, remove, inspect, \
             list, logs, stats, pull, images, remove_image, info)",
        ))
    })?;
    let command = command(op).map_err(fail)?;
    Ok(Request {
        id: request_id,
        runtime,
        reply_to,
        command,
    })
}

fn name(value: String) -> Result<crate::core::names::ContainerName, FieldError> {
    parse_required("args", "name", value)
}

fn command(op: Op) -> Result<Command, FieldError> {
    Ok(match op {
        Op::Create(args) => {
            let (wire_spec, start) = spec::create_args_spec(args);
            let spec = spec::from_wire(wire_spec, "args")?;
            validate_spec(&spec)?;
            Command::Create {
                spec: Box::new(spec),
                start,
            }
        }
        Op::Start(a) => Command::Start {
            name: name(a.name)?,
        },
        Op::Stop(a) => {
            let name = name(a.name)?;
            check_timeout(a.timeout_s)?;
            Command::Stop {
                name,
                timeout_s: a.timeout_s,
            }
        }
        Op::Restart(a) => {
            let name = name(a.name)?;
            check_timeout(a.timeout_s)?;
            Command::Restart {
                name,
                timeout_s: a.timeout_s,
            }
        }
        Op::Kill(a) => Command::Kill {
            name: name(a.name)?,
            signal: match a.signal {
                None => SignalName::KILL,
                Some(s) => parse_str("args.signal", s)?,
            },
        },
        Op::Remove(a) => Command::Remove {
            name: name(a.name)?,
            force: a.force,
        },
        Op::Inspect(a) => Command::Inspect {
            name: name(a.name)?,
        },
        Op::List(a) => Command::List {
            all: a.all,
            label: a.label.as_deref().map(parse_label_filter).transpose()?,
        },
        Op::Logs(a) => {
            let name = name(a.name)?;
            Command::Logs {
                since: parse_since(a.since.as_deref())?,
                name,
                tail: a.tail,
            }
        }
        Op::Stats(a) => Command::Stats {
            name: name(a.name)?,
        },
        Op::Pull(a) => Command::Pull {
            image: parse_required("args", "image", a.image)?,
            auth: a.auth.map(|auth| RegistryAuth {
                username: auth.username,
                password: auth.password,
            }),
        },
        Op::Images(pb::ImagesArgs {}) => Command::Images,
        Op::RemoveImage(a) => Command::RemoveImage {
            image: parse_required("args", "image", a.image)?,
            force: a.force,
        },
        Op::Info(pb::InfoArgs {}) => Command::Info,
    })
}
