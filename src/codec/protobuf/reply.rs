//! The core's `Reply` to `ctrmgr.v1.Reply` and back: encoding is what the agent sends;
//! decoding is for clients written in Rust (the tests), with the same checks as requests.

use super::spec::{self, parse_required, parse_str};
use super::unknown_fields::{refuse_unknown, REPLY};
use super::wire::ctrmgr_v1 as pb;
use super::{invalid, not_protobuf};
use crate::codec::checks::field_error;
use crate::codec::DecodeError;
use crate::core::error::{ErrorBody, ErrorCode};
use crate::core::model::{Container, Health, ImageInfo, Intent, RuntimeStatus, Stats};
use crate::core::names::printable;
use crate::core::reply::{Info, OpResult, Outcome, Reply};
use crate::core::validate::FieldError;
use pb::reply::Result as Wire;
use prost::Message;

/// The prost form of a reply.
pub(super) fn to_wire(reply: &Reply) -> pb::Reply {
    let (ok, result) = match &reply.outcome {
        Outcome::Ok { result, .. } => (true, result_to_wire(result)),
        Outcome::Err { error, .. } => (
            false,
            Wire::Error(pb::Error {
                code: error.code.as_str().to_owned(),
                message: error.message.clone(),
            }),
        ),
    };
    pb::Reply {
        id: reply.id.clone(),
        ok,
        result: Some(result),
    }
}

fn result_to_wire(result: &OpResult) -> Wire {
    match result {
        OpResult::Deployment(s) => Wire::Deployment(super::deployment::status_to_wire(s)),
        OpResult::Container(c) => Wire::Container(container_to_wire(c)),
        OpResult::Containers { containers } => Wire::List(pb::ListResult {
            containers: containers.iter().map(container_to_wire).collect(),
        }),
        OpResult::Logs { lines } => Wire::Logs(pb::LogsResult {
            lines: lines.clone(),
        }),
        OpResult::Stats(s) => Wire::Stats(pb::StatsResult {
            cpu_percent: s.cpu_percent,
            memory_bytes: s.memory_bytes,
            memory_limit_bytes: s.memory_limit_bytes,
            pids: s.pids,
        }),
        OpResult::Pulled { image, id } => Wire::Pull(pb::PullResult {
            image: image.to_string(),
            id: id.clone(),
        }),
        OpResult::Images { images } => Wire::Images(pb::ImagesResult {
            images: images
                .iter()
                .map(|i| pb::Image {
                    id: i.id.clone(),
                    tags: i.tags.clone(),
                    size_bytes: i.size_bytes,
                })
                .collect(),
        }),
        OpResult::Removed { name } => Wire::Remove(pb::RemoveResult {
            name: name.to_string(),
        }),
        OpResult::ImageRemoved { image } => Wire::RemoveImage(pb::RemoveImageResult {
            image: image.to_string(),
        }),
        OpResult::ImagesPruned {
            removed,
            reclaimed_bytes,
        } => Wire::PruneImages(pb::PruneImagesResult {
            removed: removed.clone(),
            reclaimed_bytes: *reclaimed_bytes,
        }),
        OpResult::Info(info) => Wire::Info(pb::InfoResult {
            version: info.version.clone(),
            device_id: info.device_id.clone(),
            store: info.store.clone(),
            runtimes: info
                .runtimes
                .iter()
                .map(|r| pb::RuntimeStatus {
                    name: r.name.as_str().to_owned(),
                    available: r.available,
                    version: r.version.clone(),
                })
                .collect(),
        }),
    }
}

fn container_to_wire(c: &Container) -> pb::Container {
    pb::Container {
        name: c.name.to_string(),
        runtime: c.runtime.as_str().to_owned(),
        id: c.id.clone(),
        image: c.image.to_string(),
        state: enum_word(&c.state),
        exit_code: c.exit_code,
        created_at: c.created_at.clone(),
        updated_at: c.updated_at.clone(),
        spec: Some(spec::to_wire(&c.spec)),
        health: c.health.as_str().to_owned(),
        restart_count: c.restart_count,
        last_exit_code: c.last_exit_code,
        started_at: c.started_at.clone(),
    }
}

/// A unit enum's JSON spelling (`running`, `on-failure`...).
pub(super) fn enum_word<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Decodes a `ctrmgr.v1.Reply` into the core's `Reply`, refusing what the agent would
/// never send (unknown fields, bad names, an unknown error code, `ok` contradicting the
/// result) as `invalid_request`.
pub fn decode_reply(bytes: &[u8]) -> Result<Reply, DecodeError> {
    let message = pb::Reply::decode(bytes).map_err(|e| DecodeError {
        id: None,
        error: invalid(not_protobuf("reply", &e)),
    })?;
    let id = message.id.clone();
    let fail = |e: FieldError| DecodeError {
        id: id.clone(),
        error: field_error(e),
    };
    refuse_unknown(bytes, REPLY, "reply").map_err(fail)?;
    let result = message.result.ok_or_else(|| {
        fail(FieldError::new(
            "result",
            "neither a result nor an error is set",
        ))
    })?;
    let is_error = matches!(result, Wire::Error(_));
    if message.ok == is_error {
        return Err(fail(FieldError::new(
            "ok",
            format!(
                "is {} but the reply holds {}",
                message.ok,
                if is_error { "an error" } else { "a result" }
            ),
        )));
    }
    let reply = match result {
        Wire::Error(e) => {
            let code = ErrorCode::parse(&e.code).ok_or_else(|| {
                fail(FieldError::new(
                    "error.code",
                    format!("'{}' is not an error code", printable(&e.code)),
                ))
            })?;
            Reply::err(message.id, ErrorBody::new(code, e.message))
        }
        other => Reply::ok(message.id, result_from_wire(other).map_err(fail)?),
    };
    Ok(reply)
}

fn result_from_wire(result: Wire) -> Result<OpResult, FieldError> {
    Ok(match result {
        Wire::Container(c) => OpResult::Container(Box::new(container_from_wire(c, "result")?)),
        Wire::List(l) => OpResult::Containers {
            containers: l
                .containers
                .into_iter()
                .enumerate()
                .map(|(i, c)| container_from_wire(c, &format!("result.containers[{i}]")))
                .collect::<Result<_, _>>()?,
        },
        Wire::Logs(l) => OpResult::Logs { lines: l.lines },
        Wire::Stats(s) => OpResult::Stats(Stats {
            cpu_percent: s.cpu_percent,
            memory_bytes: s.memory_bytes,
            memory_limit_bytes: s.memory_limit_bytes,
            pids: s.pids,
        }),
        Wire::Pull(p) => OpResult::Pulled {
            image: parse_required("result", "image", p.image)?,
            id: p.id,
        },
        Wire::Images(i) => OpResult::Images {
            images: i
                .images
                .into_iter()
                .map(|i| ImageInfo {
                    id: i.id,
                    tags: i.tags,
                    size_bytes: i.size_bytes,
                })
                .collect(),
        },
        Wire::Remove(r) => OpResult::Removed {
            name: parse_required("result", "name", r.name)?,
        },
        Wire::RemoveImage(r) => OpResult::ImageRemoved {
            image: parse_required("result", "image", r.image)?,
        },
        Wire::PruneImages(p) => OpResult::ImagesPruned {
            removed: p.removed,
            reclaimed_bytes: p.reclaimed_bytes,
        },
        Wire::Info(i) => OpResult::Info(Info {
            version: i.version,
            device_id: i.device_id,
            store: i.store,
            runtimes: i
                .runtimes
                .into_iter()
                .enumerate()
                .map(|(n, r)| {
                    Ok(RuntimeStatus {
                        name: parse_required(&format!("result.runtimes[{n}]"), "name", r.name)?,
                        available: r.available,
                        version: r.version,
                    })
                })
                .collect::<Result<_, FieldError>>()?,
        }),
        Wire::Deployment(s) => {
            OpResult::Deployment(Box::new(super::deployment::status_from_wire(s, "result")?))
        }
        Wire::Error(_) => return Err(FieldError::new("result", "is an error, not a result")),
    })
}

fn container_from_wire(c: pb::Container, at: &str) -> Result<Container, FieldError> {
    let spec = c
        .spec
        .ok_or_else(|| FieldError::new(at, "missing field `spec`"))?;
    Ok(Container {
        name: parse_required(at, "name", c.name)?,
        runtime: parse_required(at, "runtime", c.runtime)?,
        id: c.id,
        image: parse_required(at, "image", c.image)?,
        state: parse_str(&format!("{at}.state"), c.state)?,
        exit_code: c.exit_code,
        created_at: c.created_at,
        updated_at: c.updated_at,
        spec: spec::from_wire(spec, &format!("{at}.spec"))?,
        health: if c.health.is_empty() {
            Health::None
        } else {
            parse_str(&format!("{at}.health"), c.health)?
        },
        restart_count: c.restart_count,
        last_exit_code: c.last_exit_code,
        started_at: c.started_at,
        // Not on the wire (as in JSON, where they are `#[serde(skip)]`).
        intent: Intent::default(),
        supervision: Default::default(),
    })
}
