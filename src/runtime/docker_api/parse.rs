//! Docker Engine API replies of its own shape: the version and a stats sample (the
//! replies both engines write alike are read in `engine_api`). Pure functions.

use crate::core::model::Stats;
use crate::runtime::engine_api::{from_json, ReplyError};
use serde::Deserialize;
use serde_json::Value;

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
pub(super) fn parse_version(body: &[u8]) -> Result<EngineVersion, ReplyError> {
    let dto: VersionDto = from_json(body, "GET /version")?;
    let api = parse_api_version(&dto.api_version).ok_or_else(|| ReplyError::Field {
        call: "GET /version".into(),
        field: "ApiVersion",
        value: dto.api_version.clone(),
        expected: "major.minor",
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

/// Parses a `GET /containers/{name}/stats?stream=false` body the way the docker CLI
/// computes its columns: CPU percent from the delta against `precpu_stats` (0 when there
/// is no earlier sample), memory without the inactive page cache.
pub(super) fn parse_stats(body: &[u8]) -> Result<Stats, ReplyError> {
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
}
