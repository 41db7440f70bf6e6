//! libpod API replies to domain types: version, container inspect and list, stats,
//! images and removal reports. Pure functions; an `Err` is a sentence saying what was
//! wrong with the reply. The test bodies were captured from a real podman 4.3 service.

use crate::core::model::{ContainerState, ImageInfo, Stats};
use crate::core::runtime::EngineContainer;
use serde::Deserialize;
use std::collections::BTreeMap;

fn from_json<'a, T: Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("unexpected reply to {what}: {e}"))
}

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
pub(super) fn parse_version(body: &[u8]) -> Result<PodmanVersion, String> {
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

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectDto {
    id: String,
    name: String,
    image_name: String,
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
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    tty: bool,
}

/// One inspected container (`GET /libpod/containers/{name}/json`) and whether it has a
/// TTY (its logs are then not multiplexed). The image is Podman's normalized name
/// (`localhost/...` for a local image).
pub(super) fn parse_inspect(body: &[u8]) -> Result<(EngineContainer, bool), String> {
    let dto: InspectDto = from_json(body, "GET /libpod/containers/{name}/json")?;
    let state = ContainerState::from_engine(&dto.state.status);
    let container = EngineContainer {
        id: dto.id,
        name: dto.name,
        image: dto.image_name,
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
    exit_code: i64,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// Parses a `GET /libpod/containers/json` body (libpod lists the exit code itself).
pub(super) fn parse_list(body: &[u8]) -> Result<Vec<EngineContainer>, String> {
    let items: Vec<ListItemDto> = from_json(body, "GET /libpod/containers/json")?;
    Ok(items
        .into_iter()
        .map(|item| {
            let state = ContainerState::from_engine(&item.state);
            EngineContainer {
                id: item.id,
                name: item.names.into_iter().next().unwrap_or_default(),
                image: item.image,
                state,
                exit_code: (state == ContainerState::Exited).then_some(item.exit_code),
                labels: item.labels.unwrap_or_default(),
            }
        })
        .collect())
}

/// Parses a `GET /libpod/containers/stats?stream=false` body: Podman computes the CPU
/// percent itself. `Ok(None)` when the engine reported no sample: libpod answers 200
/// with `"Stats": null` for a container it does not have.
pub(super) fn parse_stats(body: &[u8]) -> Result<Option<Stats>, String> {
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

/// An image id as the contract shows it: Podman's bare hex gets Docker's `sha256:`
/// prefix, so ids look alike on both engines.
fn image_id(id: String) -> String {
    if id.contains(':') {
        id
    } else {
        format!("sha256:{id}")
    }
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

/// Parses a `GET /libpod/images/json` body, leaving out `<none>` placeholder tags.
pub(super) fn parse_images(body: &[u8]) -> Result<Vec<ImageInfo>, String> {
    let items: Vec<ImageDto> = from_json(body, "GET /libpod/images/json")?;
    Ok(items
        .into_iter()
        .map(|i| ImageInfo {
            id: image_id(i.id),
            tags: i
                .repo_tags
                .unwrap_or_default()
                .into_iter()
                .filter(|t| !t.starts_with("<none>"))
                .collect(),
            size_bytes: i.size,
        })
        .collect())
}

/// The id of an inspected image (`GET /libpod/images/{name}/json`).
pub(super) fn parse_image_id(body: &[u8]) -> Result<String, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct ImageInspectDto {
        id: String,
    }
    from_json::<ImageInspectDto>(body, "GET /libpod/images/{name}/json").map(|d| image_id(d.id))
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
    fn inspect() {
        let running = br#"{"Id":"8ebb1b7eac1bc3f1f8358ca5e815fa6aebc569e78208f0dda7883f59a5877845","Name":"exp1","ImageName":"localhost/ctrmgr-test/busybox:latest","State":{"Status":"running","Running":true,"ExitCode":0,"StartedAt":"2026-11-29T03:41:46.245197328Z"},"Config":{"Labels":{"io.ctrmgr.managed":"true"},"Tty":false,"Image":"localhost/ctrmgr-test/busybox:latest"}}"#;
        let (c, tty) = parse_inspect(running).unwrap();
        assert_eq!(c.name, "exp1");
        assert_eq!(c.image, "localhost/ctrmgr-test/busybox:latest");
        assert_eq!((c.state, c.exit_code), (ContainerState::Running, None));
        assert_eq!(c.labels["io.ctrmgr.managed"], "true");
        assert!(!tty);

        let exited = br#"{"Id":"8e","Name":"exp1","ImageName":"busybox","State":{"Status":"exited","Running":false,"ExitCode":137},"Config":{"Labels":null,"Tty":true}}"#;
        let (c, tty) = parse_inspect(exited).unwrap();
        assert_eq!((c.state, c.exit_code), (ContainerState::Exited, Some(137)));
        assert!(c.labels.is_empty());
        assert!(tty);

        assert!(parse_inspect(br#"{"Id":"8e"}"#).is_err());
    }

    #[test]
    fn list() {
        let body = br#"[{"AutoRemove":false,"Command":["sleep","300"],"Exited":true,"ExitCode":137,"Id":"8ebb","Image":"localhost/ctrmgr-test/busybox:latest","Labels":{"io.ctrmgr.managed":"true"},"Names":["exp1"],"State":"exited","Status":""},{"Exited":false,"ExitCode":0,"Id":"fa51","Image":"localhost/ctrmgr-test/busybox:latest","Labels":null,"Names":["exp2"],"State":"running"}]"#;
        let list = parse_list(body).unwrap();
        assert_eq!(
            (list[0].name.as_str(), list[0].state, list[0].exit_code),
            ("exp1", ContainerState::Exited, Some(137))
        );
        assert_eq!(
            (list[1].state, list[1].exit_code),
            (ContainerState::Running, None)
        );
        assert!(list[1].labels.is_empty());
        assert!(parse_list(br#"{"not":"a list"}"#).is_err());
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
    fn images() {
        let body = br#"[{"Id":"366e544091c789c66a4328b0d965497067f4833b96c1169a981ec423ca980c06","ParentId":"","RepoTags":["localhost/ctrmgr-test/busybox:latest"],"Size":2008789,"Names":["localhost/ctrmgr-test/busybox:latest"]},{"Id":"77aa","RepoTags":null,"Size":7}]"#;
        let images = parse_images(body).unwrap();
        assert_eq!(
            images[0].id,
            "sha256:366e544091c789c66a4328b0d965497067f4833b96c1169a981ec423ca980c06"
        );
        assert_eq!(images[0].tags, vec!["localhost/ctrmgr-test/busybox:latest"]);
        assert_eq!(images[0].size_bytes, 2_008_789);
        assert!(images[1].tags.is_empty());
        assert!(parse_images(b"{}").is_err());
        assert_eq!(
            parse_image_id(br#"{"Id":"366e","Digest":"sha256:7add"}"#),
            Ok("sha256:366e".into())
        );
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
