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
use crate::core::op::Op;
use crate::core::validate::{parse_label_filter, validate_spec, FieldError};
use pb::request::Op as WireOp;

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
    // The POSIX MQ transport's addressing field: checked here like every field of the
    // envelope, read by that transport itself.
    if let Some(q) = message.reply_to.as_deref() {
        parse_reply_to(q).map_err(fail)?;
    }
    let op = message.op.ok_or_else(|| {
        fail(FieldError::new(
            "op",
            format!("no op is set (set one of {})", Op::names()),
        ))
    })?;
    let command = command(op).map_err(fail)?;
    Ok(Request {
        id: request_id,
        runtime,
        command,
    })
}

fn name(value: String) -> Result<crate::core::names::ContainerName, FieldError> {
    parse_required("args", "name", value)
}

/// The name and grace period of stop and restart, checked.
fn grace(
    name_arg: String,
    timeout_s: Option<u32>,
) -> Result<(crate::core::names::ContainerName, Option<u32>), FieldError> {
    let name = name(name_arg)?;
    check_timeout(timeout_s)?;
    Ok((name, timeout_s))
}

fn command(op: WireOp) -> Result<Command, FieldError> {
    Ok(match op {
        WireOp::Create(args) => {
            let (wire_spec, start) = spec::create_args_spec(args);
            let spec = spec::from_wire(wire_spec, "args")?;
            validate_spec(&spec)?;
            Command::Create {
                spec: Box::new(spec),
                start,
            }
        }
        WireOp::Start(a) => Command::Start {
            name: name(a.name)?,
        },
        WireOp::Stop(a) => {
            let (name, timeout_s) = grace(a.name, a.timeout_s)?;
            Command::Stop { name, timeout_s }
        }
        WireOp::Restart(a) => {
            let (name, timeout_s) = grace(a.name, a.timeout_s)?;
            Command::Restart { name, timeout_s }
        }
        WireOp::Kill(a) => Command::Kill {
            name: name(a.name)?,
            signal: match a.signal {
                None => SignalName::KILL,
                Some(s) => parse_str("args.signal", s)?,
            },
        },
        WireOp::Remove(a) => Command::Remove {
            name: name(a.name)?,
            force: a.force,
        },
        WireOp::Inspect(a) => Command::Inspect {
            name: name(a.name)?,
        },
        WireOp::List(a) => Command::List {
            all: a.all,
            label: a.label.as_deref().map(parse_label_filter).transpose()?,
        },
        WireOp::Logs(a) => {
            let name = name(a.name)?;
            Command::Logs {
                since: parse_since(a.since.as_deref())?,
                name,
                tail: a.tail,
            }
        }
        WireOp::Stats(a) => Command::Stats {
            name: name(a.name)?,
        },
        WireOp::Pull(a) => Command::Pull {
            image: parse_required("args", "image", a.image)?,
            auth: a.auth.map(|auth| RegistryAuth {
                username: auth.username,
                password: auth.password,
            }),
            progress: a.progress,
        },
        WireOp::Images(pb::ImagesArgs {}) => Command::Images,
        WireOp::RemoveImage(a) => Command::RemoveImage {
            image: parse_required("args", "image", a.image)?,
            force: a.force,
        },
        WireOp::Info(pb::InfoArgs {}) => Command::Info,
        WireOp::Apply(a) => super::deployment::apply_from_wire(a)?,
        WireOp::Deployment(pb::DeploymentArgs {}) => Command::Deployment,
        WireOp::Rollback(pb::RollbackArgs {}) => Command::Rollback,
        WireOp::PruneImages(a) => Command::PruneImages { dry_run: a.dry_run },
    })
}
