//! libpod API replies of its own shape: the version, a stats sample and removal reports
//! (the replies both engines write alike are read in `engine_api`). Pure functions; the
//! test bodies were captured from a real podman 4.3 service.

use crate::core::model::Stats;
use crate::runtime::engine_api::{from_json, ReplyError};
use serde::Deserialize;
use std::collections::BTreeMap;

/// What `GET /libpod/version` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PodmanVersion {
    /// Podman's release, e.g. `4.3.1`.
    pub(super) version: String,
    /// The libpod API version it speaks, e.g. `4.3.1`.
    pub(super) api: String,
}

impl PodmanVersion {
    /// The libpod API's major version, if the version reads as `major.minor...`.
    pub(super) fn api_major(&self) -> Option<u32> {
        self.api.split('.').next()?.parse().ok()
    }
}

/// Parses a `GET /libpod/version` body: the `Podman Engine` component's API version,
/// else the top-level `Version` (libpod's API version follows Podman's own).
pub(super) fn parse_version(body: &[u8]) -> Result<PodmanVersion, ReplyError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct VersionDto {
        version: String,
        #[serde(default)]
        components: Vec<ComponentDto>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct ComponentDto {
        name: String,
        #[serde(default)]
        details: BTreeMap<String, serde_json::Value>,
    }
    let dto: VersionDto = from_json(body, "GET /libpod/version")?;
    let api = dto
        .components
        .iter()
        .find(|c| c.name == "Podman Engine")
        .and_then(|c| c.details.get("APIVersion")?.as_str())
        .unwrap_or(&dto.version)
        .to_owned();
    Ok(PodmanVersion {
        version: dto.version,
        api,
    })
}

/// Parses a `GET /libpod/containers/stats?stream=false` body: Podman computes the CPU
/// percent itself. `Ok(None)` when the engine reported no sample: libpod answers 200
/// with `"Stats": null` for a container it does not have.
pub(super) fn parse_stats(body: &[u8]) -> Result<Option<Stats>, ReplyError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct StatsReplyDto {
        stats: Option<Vec<StatsDto>>,
    }
    #[derive(Deserialize)]
    struct StatsDto {
        #[serde(rename = "CPU", default)]
        cpu: f64,
        #[serde(rename = "MemUsage", default)]
        mem_usage: u64,
        #[serde(rename = "MemLimit", default)]
        mem_limit: u64,
        #[serde(rename = "PIDs", default)]
        pids: u64,
    }
    let dto: StatsReplyDto = from_json(body, "GET /libpod/containers/stats")?;
    Ok(dto.stats.unwrap_or_default().first().map(|s| Stats {
        cpu_percent: s.cpu,
        memory_bytes: s.mem_usage,
        memory_limit_bytes: s.mem_limit,
        pids: s.pids,
    }))
}

/// The first error of a `DELETE /libpod/containers/{name}` report list (libpod answers
/// 200 with one report per container, each with an optional `Err`).
pub(super) fn removal_error(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct ReportDto {
        #[serde(rename = "Err", default)]
        err: Option<String>,
    }
    let reports: Vec<ReportDto> = serde_json::from_slice(body).ok()?;
    reports
        .into_iter()
        .find_map(|r| r.err.filter(|e| !e.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `GET /v4.0.0/libpod/version` on podman 4.3.1 (trimmed).
    const VERSION: &str = r#"{"Platform":{"Name":"linux/amd64/debian-12"},"Components":[{"Name":"Podman Engine","Version":"4.3.1","Details":{"APIVersion":"4.3.1","MinAPIVersion":"4.0.0","Os":"linux"}},{"Name":"Conmon","Version":"conmon version 2.1.6, commit: unknown","Details":{"Package":"conmon_2.1.6+ds1-1_amd64"}}],"Version":"4.3.1","ApiVersion":"1.41","MinAPIVersion":"1.24"}"#;

    #[test]
    fn version() {
        let v = parse_version(VERSION.as_bytes()).unwrap();
        assert_eq!(v.version, "4.3.1");
        assert_eq!(v.api, "4.3.1");
        assert_eq!(v.api_major(), Some(4));
        let old = parse_version(br#"{"Version":"3.4.4"}"#).unwrap();
        assert_eq!(old.api_major(), Some(3));
        assert!(parse_version(b"Not Found").is_err());
    }

    #[test]
    fn stats() {
        let body = br#"{"Error":null,"Stats":[{"AvgCPU":0.75,"ContainerID":"8ebb","Name":"exp1","PerCPU":[22130341,3657553],"CPU":0.7503257837135634,"CPUNano":25787894,"CPUSystemNano":12000000,"SystemNano":1795923709682090283,"MemUsage":274432,"MemLimit":67108864,"MemPerc":0.408935546875,"NetInput":516,"NetOutput":1220,"BlockInput":0,"BlockOutput":0,"PIDs":1,"UpTime":25787894,"Duration":25787894}]}"#;
        let s = parse_stats(body).unwrap().unwrap();
        assert!((s.cpu_percent - 0.750_325_783_713_563_4).abs() < 1e-12);
        assert_eq!(
            (s.memory_bytes, s.memory_limit_bytes, s.pids),
            (274_432, 67_108_864, 1)
        );
        assert_eq!(parse_stats(br#"{"Error":{},"Stats":null}"#), Ok(None));
        assert!(parse_stats(b"[]").is_err());
    }

    #[test]
    fn removal_reports() {
        assert_eq!(removal_error(br#"[{"Id":"6333","RawInput":"exp3"}]"#), None);
        assert_eq!(
            removal_error(br#"[{"Id":"6333","Err":"container is running"}]"#).as_deref(),
            Some("container is running")
        );
        assert_eq!(removal_error(b""), None);
    }
}
