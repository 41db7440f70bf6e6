//! Engine API replies to domain types: version, container inspect and list, stats and
//! images. Pure functions; an `Err` is a sentence saying what was wrong with the reply.

use crate::core::model::{ContainerState, ImageInfo, Stats};
use crate::core::runtime::EngineContainer;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// An Engine API version, `major.minor`.
pub(super) type ApiVersion = (u32, u32);

/// What `GET /version` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EngineVersion {
    /// The engine's release, e.g. `20.10.24`.
    pub(super) version: String,
    /// The newest API version it speaks.
    pub(super) api: ApiVersion,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VersionDto {
    version: String,
    api_version: String,
}

/// Parses a `GET /version` body.
pub(super) fn parse_version(body: &[u8]) -> Result<EngineVersion, String> {
    let dto: VersionDto = from_json(body, "GET /version")?;
    let api = parse_api_version(&dto.api_version).ok_or_else(|| {
        format!(
            "GET /version: ApiVersion '{}' is not major.minor",
            dto.api_version
        )
    })?;
    Ok(EngineVersion {
        version: dto.version,
        api,
    })
}

fn parse_api_version(s: &str) -> Option<ApiVersion> {
    let (major, minor) = s.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn from_json<'a, T: Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("unexpected reply to {what}: {e}"))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectDto {
    id: String,
    name: String,
    state: InspectStateDto,
    config: InspectConfigDto,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectStateDto {
    status: String,
    #[serde(default)]
    exit_code: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectConfigDto {
    image: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    tty: bool,
}

/// One inspected container and whether it has a TTY (its logs are then not multiplexed).
pub(super) fn parse_inspect(body: &[u8]) -> Result<(EngineContainer, bool), String> {
    let dto: InspectDto = from_json(body, "GET /containers/{name}/json")?;
    let state = ContainerState::from_engine(&dto.state.status);
    let container = EngineContainer {
        id: dto.id,
        name: dto.name.trim_start_matches('/').to_owned(),
        image: dto.config.image,
        state,
        exit_code: (state == ContainerState::Exited).then_some(dto.state.exit_code),
        labels: dto.config.labels.unwrap_or_default(),
    };
    Ok((container, dto.config.tty))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListItemDto {
    id: String,
    #[serde(default)]
    names: Vec<String>,
    image: String,
    state: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// Parses a `GET /containers/json` body. The list has no exit code field: it is read from
/// the status text (`Exited (137) 5 seconds ago`).
pub(super) fn parse_list(body: &[u8]) -> Result<Vec<EngineContainer>, String> {
    let items: Vec<ListItemDto> = from_json(body, "GET /containers/json")?;
    Ok(items
        .into_iter()
        .map(|item| {
            let state = ContainerState::from_engine(&item.state);
            let name = item
                .names
                .first()
                .map(|n| n.trim_start_matches('/').to_owned())
                .unwrap_or_default();
            EngineContainer {
                id: item.id,
                name,
                image: item.image,
                state,
                exit_code: if state == ContainerState::Exited {
                    exit_code_from_status(&item.status)
                } else {
                    None
                },
                labels: item.labels.unwrap_or_default(),
            }
        })
        .collect())
}

fn exit_code_from_status(status: &str) -> Option<i64> {
    let rest = status.strip_prefix("Exited (")?;
    rest.split_once(')')?.0.parse().ok()
}

/// Parses a `GET /containers/{name}/stats?stream=false` body the way the docker CLI
/// computes its columns: CPU percent from the delta against `precpu_stats` (0 when there
/// is no earlier sample), memory without the inactive page cache.
pub(super) fn parse_stats(body: &[u8]) -> Result<Stats, String> {
    let v: Value = from_json(body, "GET /containers/{name}/stats")?;
    let u = |ptr: &str| v.pointer(ptr).and_then(Value::as_u64);
    let cpu_delta = u("/cpu_stats/cpu_usage/total_usage")
        .zip(u("/precpu_stats/cpu_usage/total_usage"))
        .map_or(0, |(now, before)| now.saturating_sub(before));
    let system_delta = u("/cpu_stats/system_cpu_usage")
        .zip(u("/precpu_stats/system_cpu_usage"))
        .map_or(0, |(now, before)| now.saturating_sub(before));
    let online_cpus = u("/cpu_stats/online_cpus")
        .filter(|n| *n > 0)
        .or_else(|| {
            v.pointer("/cpu_stats/cpu_usage/percpu_usage")
                .and_then(Value::as_array)
                .map(|a| a.len() as u64)
        })
        .unwrap_or(1);
    let cpu_percent = if cpu_delta > 0 && system_delta > 0 {
        cpu_delta as f64 / system_delta as f64 * online_cpus as f64 * 100.0
    } else {
        0.0
    };
    let usage = u("/memory_stats/usage").unwrap_or(0);
    // cgroup v2 reports inactive_file, v1 total_inactive_file; older engines only cache.
    let cache = u("/memory_stats/stats/inactive_file")
        .or_else(|| u("/memory_stats/stats/total_inactive_file"))
        .or_else(|| u("/memory_stats/stats/cache"))
        .unwrap_or(0);
    let memory_bytes = if cache < usage { usage - cache } else { usage };
    Ok(Stats {
        cpu_percent,
        memory_bytes,
        memory_limit_bytes: u("/memory_stats/limit").unwrap_or(0),
        pids: u("/pids_stats/current").unwrap_or(0),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImageDto {
    id: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    size: u64,
}

/// Parses a `GET /images/json` body, leaving out the `<none>:<none>` placeholder tag.
pub(super) fn parse_images(body: &[u8]) -> Result<Vec<ImageInfo>, String> {
    let items: Vec<ImageDto> = from_json(body, "GET /images/json")?;
    Ok(items
        .into_iter()
        .map(|i| ImageInfo {
            id: i.id,
            tags: i
                .repo_tags
                .unwrap_or_default()
                .into_iter()
                .filter(|t| t != "<none>:<none>")
                .collect(),
            size_bytes: i.size,
        })
        .collect())
}

/// The id of an inspected image (`GET /images/{name}/json`).
pub(super) fn parse_image_id(body: &[u8]) -> Result<String, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct ImageInspectDto {
        id: String,
    }
    from_json::<ImageInspectDto>(body, "GET /images/{name}/json").map(|d| d.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bytes(v: Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    #[test]
    fn version() {
        let v = parse_version(&bytes(json!({"Version": "20.10.24", "ApiVersion": "1.41"})));
        assert_eq!(
            v,
            Ok(EngineVersion {
                version: "20.10.24".into(),
                api: (1, 41)
            })
        );
        assert!(parse_version(&bytes(json!({"Version": "x", "ApiVersion": "one"}))).is_err());
        assert!(parse_version(b"<html>").is_err());
    }

    #[test]
    fn inspect() {
        let body = bytes(json!({
            "Id": "abc", "Name": "/web",
            "State": {"Status": "exited", "ExitCode": 3},
            "Config": {"Image": "busybox", "Labels": {"io.ctrmgr.managed": "true"}, "Tty": false}
        }));
        let (c, tty) = parse_inspect(&body).unwrap();
        assert_eq!(c.name, "web");
        assert_eq!(c.state, ContainerState::Exited);
        assert_eq!(c.exit_code, Some(3));
        assert_eq!(c.labels["io.ctrmgr.managed"], "true");
        assert!(!tty);

        let running = bytes(json!({
            "Id": "abc", "Name": "/web",
            "State": {"Status": "running", "ExitCode": 0},
            "Config": {"Image": "busybox", "Labels": null}
        }));
        let (c, _) = parse_inspect(&running).unwrap();
        assert_eq!((c.state, c.exit_code), (ContainerState::Running, None));
        assert!(c.labels.is_empty());

        assert!(parse_inspect(&bytes(json!({"Id": "abc"}))).is_err());
    }

    #[test]
    fn list() {
        let body = bytes(json!([
            {"Id": "a", "Names": ["/one"], "Image": "busybox", "State": "exited",
             "Status": "Exited (137) 2 minutes ago", "Labels": {"k": "v"}},
            {"Id": "b", "Names": ["/two"], "Image": "busybox", "State": "running",
             "Status": "Up 3 seconds", "Labels": {}}
        ]));
        let list = parse_list(&body).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(
            (list[0].name.as_str(), list[0].exit_code),
            ("one", Some(137))
        );
        assert_eq!(
            (list[1].state, list[1].exit_code),
            (ContainerState::Running, None)
        );
        assert!(parse_list(&bytes(json!({"not": "a list"}))).is_err());
    }

    #[test]
    fn stats_like_the_docker_cli() {
        let body = bytes(json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 300}, "system_cpu_usage": 2000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
            "memory_stats": {"usage": 10_000, "limit": 1_000_000, "stats": {"total_inactive_file": 4_000, "cache": 6_000}},
            "pids_stats": {"current": 3}
        }));
        let s = parse_stats(&body).unwrap();
        assert!((s.cpu_percent - 40.0).abs() < 1e-9);
        assert_eq!(
            (s.memory_bytes, s.memory_limit_bytes, s.pids),
            (6_000, 1_000_000, 3)
        );

        // No earlier sample, cgroup v2 keys.
        let body = bytes(json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 300}, "system_cpu_usage": 2000},
            "precpu_stats": {"cpu_usage": {}},
            "memory_stats": {"usage": 10_000, "limit": 20_000, "stats": {"inactive_file": 1_000}},
            "pids_stats": {"current": 1}
        }));
        let s = parse_stats(&body).unwrap();
        assert_eq!(s.cpu_percent, 0.0);
        assert_eq!(s.memory_bytes, 9_000);

        assert!(parse_stats(b"not json").is_err());
    }

    #[test]
    fn images() {
        let body = bytes(json!([
            {"Id": "sha256:1", "RepoTags": ["busybox:latest", "<none>:<none>"], "Size": 42},
            {"Id": "sha256:2", "RepoTags": null, "Size": 7}
        ]));
        let images = parse_images(&body).unwrap();
        assert_eq!(images[0].tags, vec!["busybox:latest".to_owned()]);
        assert!(images[1].tags.is_empty());
        assert_eq!(images[1].size_bytes, 7);
        assert!(parse_images(b"{}").is_err());
        assert_eq!(
            parse_image_id(br#"{"Id":"sha256:1","Size":3}"#),
            Ok("sha256:1".into())
        );
        assert!(parse_image_id(b"[]").is_err());
    }
}
