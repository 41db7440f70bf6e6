//! `ContainerSpec` between its prost form and the core's, and the value helpers that give
//! every refused value the same message as the JSON codec (both go through the core
//! types' serde impls).

use super::wire::ctrmgr_v1 as pb;
use crate::core::model::{
    ContainerSpec, Mount, NetworkMode, PortMapping, Protocol, Resources, RestartKind, RestartPolicy,
};
use crate::core::names::AbsPath;
use crate::core::validate::FieldError;
use serde::de::value::Error as ValueError;
use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::Deserialize;

/// Parses a string into a core type through its serde impl (validated newtypes, enums
/// spelled as in JSON), naming `field` on failure.
pub(super) fn parse_str<T: DeserializeOwned>(field: &str, value: String) -> Result<T, FieldError> {
    T::deserialize(IntoDeserializer::<ValueError>::into_deserializer(value))
        .map_err(|e| FieldError::new(field, e.to_string()))
}

/// Narrows a Protobuf integer to the core's type (`u16` ports) with JSON's message.
pub(super) fn narrow<T: for<'de> Deserialize<'de>>(
    field: &str,
    value: u32,
) -> Result<T, FieldError> {
    T::deserialize(IntoDeserializer::<ValueError>::into_deserializer(value))
        .map_err(|e| FieldError::new(field, e.to_string()))
}

/// A required string: proto3 cannot tell empty from absent, so empty is missing, worded
/// as JSON words a missing field.
pub(super) fn required(prefix: &str, name: &str, value: String) -> Result<String, FieldError> {
    if value.is_empty() {
        Err(FieldError::new(prefix, format!("missing field `{name}`")))
    } else {
        Ok(value)
    }
}

/// Parses a required string field `prefix.name` into a core type.
pub(super) fn parse_required<T: DeserializeOwned>(
    prefix: &str,
    name: &str,
    value: String,
) -> Result<T, FieldError> {
    parse_str(&format!("{prefix}.{name}"), required(prefix, name, value)?)
}

/// A spec from its prost form; paths start with `prefix` (`args` for create).
pub(super) fn from_wire(
    spec: pb::ContainerSpec,
    prefix: &str,
) -> Result<ContainerSpec, FieldError> {
    let at = |name: &str| format!("{prefix}.{name}");
    let ports = spec
        .ports
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let at = |name: &str| format!("{prefix}.ports[{i}].{name}");
            Ok(PortMapping {
                host: narrow(&at("host"), p.host)?,
                container: narrow(&at("container"), p.container)?,
                protocol: match p.protocol {
                    None => Protocol::default(),
                    Some(s) => parse_str(&at("protocol"), s)?,
                },
            })
        })
        .collect::<Result<_, FieldError>>()?;
    let mounts = spec
        .mounts
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let at = format!("{prefix}.mounts[{i}]");
            Ok(Mount {
                source: parse_required(&at, "source", m.source)?,
                target: parse_required(&at, "target", m.target)?,
                read_only: m.read_only,
            })
        })
        .collect::<Result<_, FieldError>>()?;
    let restart = spec
        .restart
        .map(|r| {
            Ok::<_, FieldError>(RestartPolicy {
                policy: parse_required::<RestartKind>(&at("restart"), "policy", r.policy)?,
                max_retries: r.max_retries,
            })
        })
        .transpose()?;
    let devices = spec
        .devices
        .into_iter()
        .enumerate()
        .map(|(i, d)| parse_str::<AbsPath>(&format!("{prefix}.devices[{i}]"), d))
        .collect::<Result<_, FieldError>>()?;
    Ok(ContainerSpec {
        name: parse_required(prefix, "name", spec.name)?,
        image: parse_required(prefix, "image", spec.image)?,
        cmd: spec.cmd,
        entrypoint: spec.entrypoint,
        env: spec.env,
        ports,
        mounts,
        restart,
        resources: spec.resources.map(|r| Resources {
            memory_bytes: r.memory_bytes,
            cpu_millis: r.cpu_millis,
            pids_limit: r.pids_limit,
        }),
        labels: spec.labels,
        network: spec
            .network
            .map(|n| parse_str::<NetworkMode>(&at("network"), n))
            .transpose()?,
        user: spec.user,
        workdir: spec
            .workdir
            .map(|w| parse_str(&at("workdir"), w))
            .transpose()?,
        privileged: spec.privileged,
        devices,
        health: spec
            .health
            .map(|h| super::health::from_wire(h, &at("health")))
            .transpose()?,
    })
}

/// The prost form of a spec.
pub(super) fn to_wire(spec: &ContainerSpec) -> pb::ContainerSpec {
    pb::ContainerSpec {
        name: spec.name.to_string(),
        image: spec.image.to_string(),
        cmd: spec.cmd.clone(),
        entrypoint: spec.entrypoint.clone(),
        env: spec.env.clone(),
        ports: spec
            .ports
            .iter()
            .map(|p| pb::PortMapping {
                host: p.host.into(),
                container: p.container.into(),
                protocol: Some(p.protocol.as_str().to_owned()),
            })
            .collect(),
        mounts: spec
            .mounts
            .iter()
            .map(|m| pb::Mount {
                source: m.source.to_string(),
                target: m.target.to_string(),
                read_only: m.read_only,
            })
            .collect(),
        restart: spec.restart.map(|r| pb::RestartPolicy {
            policy: r.policy.as_str().to_owned(),
            max_retries: r.max_retries,
        }),
        resources: spec.resources.map(|r| pb::Resources {
            memory_bytes: r.memory_bytes,
            cpu_millis: r.cpu_millis,
            pids_limit: r.pids_limit,
        }),
        labels: spec.labels.clone(),
        network: spec.network.map(|n| n.as_str().to_owned()),
        user: spec.user.clone(),
        workdir: spec.workdir.as_ref().map(ToString::to_string),
        privileged: spec.privileged,
        devices: spec.devices.iter().map(ToString::to_string).collect(),
        health: spec.health.as_ref().map(super::health::to_wire),
    }
}

/// `create`'s args hold a spec's fields (same numbers) plus `start`.
pub(super) fn create_args_spec(args: pb::CreateArgs) -> (pb::ContainerSpec, bool) {
    let spec = pb::ContainerSpec {
        name: args.name,
        image: args.image,
        cmd: args.cmd,
        entrypoint: args.entrypoint,
        env: args.env,
        ports: args.ports,
        mounts: args.mounts,
        restart: args.restart,
        resources: args.resources,
        labels: args.labels,
        network: args.network,
        user: args.user,
        workdir: args.workdir,
        privileged: args.privileged,
        devices: args.devices,
        health: args.health,
    };
    (spec, args.start)
}
