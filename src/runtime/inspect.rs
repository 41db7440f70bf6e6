//! The Docker-shaped container inspect document that `docker inspect`, `podman inspect`,
//! the Docker Engine API and libpod all write: one model for every adapter, and the
//! image id as the contract shows it.

use crate::core::runtime::EngineContainer;
use crate::runtime::engine_words::{container_state, keeps_exit_code};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One inspected container, as far as the adapters read it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Inspected {
    id: String,
    name: String,
    /// Podman's normalized image name (`localhost/...` for a local image); Docker has
    /// no such field.
    #[serde(default)]
    image_name: Option<String>,
    state: InspectedState,
    config: InspectedConfig,
    #[serde(default)]
    network_settings: Option<InspectedNetwork>,
}

/// `NetworkSettings`: the default network's `IPAddress`, else the first network's
/// (Podman writes the address under `Networks.podman` too).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectedNetwork {
    #[serde(default, rename = "IPAddress")]
    ip_address: Option<String>,
    #[serde(default)]
    networks: Option<BTreeMap<String, InspectedEndpoint>>,
}

#[derive(Debug, Deserialize)]
struct InspectedEndpoint {
    #[serde(default, rename = "IPAddress")]
    ip_address: Option<String>,
}

impl InspectedNetwork {
    fn ip(&self) -> Option<std::net::IpAddr> {
        let endpoints = self.networks.iter().flat_map(|n| n.values());
        std::iter::once(self.ip_address.as_deref())
            .chain(endpoints.map(|e| e.ip_address.as_deref()))
            .flatten()
            .find_map(|ip| ip.parse().ok())
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectedState {
    status: String,
    #[serde(default)]
    exit_code: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectedConfig {
    #[serde(default)]
    image: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    tty: bool,
}

impl Inspected {
    /// The container as the core sees it, and whether it has a TTY (its logs are then
    /// not multiplexed). The name loses Docker's leading `/`; the image is Podman's
    /// `ImageName` where there is one, else `Config.Image` (Podman 4.3 writes the same
    /// normalized name in both, on the CLI and the API); the exit code is kept once the
    /// container stopped (exited or dead).
    pub(crate) fn into_engine(self) -> (EngineContainer, bool) {
        let state = container_state(&self.state.status);
        let container = EngineContainer {
            id: self.id,
            name: self.name.trim_start_matches('/').to_owned(),
            image: self.image_name.unwrap_or(self.config.image),
            state,
            exit_code: self.state.exit_code.filter(|_| keeps_exit_code(state)),
            labels: self.config.labels.unwrap_or_default(),
            ip: self
                .network_settings
                .as_ref()
                .and_then(InspectedNetwork::ip),
        };
        (container, self.config.tty)
    }
}

/// An image id as docker shows it, `sha256:<hex>`: podman gives the bare hex in its
/// image inspect and lists, so ids look alike on both engines.
pub(crate) fn image_id(id: &str) -> String {
    if id.contains(':') {
        id.to_owned()
    } else {
        format!("sha256:{id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::ContainerState;

    fn parse(json: &str) -> Inspected {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn image_from_libpod_name_else_config() {
        let body = r#"{"Id":"8e","Name":"/web","ImageName":"localhost/busybox:latest",
            "State":{"Status":"configured"},"Config":{"Image":"busybox","Tty":true}}"#;
        let (c, tty) = parse(body).into_engine();
        assert!(tty);
        assert_eq!(
            (c.name.as_str(), c.image.as_str()),
            ("web", "localhost/busybox:latest")
        );
        assert_eq!((c.state, c.exit_code), (ContainerState::Created, None));
        let docker = r#"{"Id":"8e","Name":"/web","State":{"Status":"running"},
            "Config":{"Image":"busybox"}}"#;
        let (c, tty) = parse(docker).into_engine();
        assert_eq!((c.image.as_str(), tty), ("busybox", false));
    }

    #[test]
    fn exit_code_kept_for_exited_and_dead() {
        let with = |status: &str| {
            parse(&format!(
                r#"{{"Id":"a","Name":"x","State":{{"Status":"{status}","ExitCode":137}},"Config":{{}}}}"#
            ))
            .into_engine()
            .0
            .exit_code
        };
        assert_eq!(with("exited"), Some(137));
        assert_eq!(with("dead"), Some(137));
        assert_eq!(with("running"), None);
    }

    #[test]
    fn address_from_the_default_network_else_the_first() {
        let ip = |net: &str| {
            parse(&format!(
                r#"{{"Id":"a","Name":"x","State":{{"Status":"running"}},"Config":{{}},
                    "NetworkSettings":{net}}}"#
            ))
            .into_engine()
            .0
            .ip
            .map(|ip| ip.to_string())
        };
        assert_eq!(
            ip(r#"{"IPAddress":"172.17.0.2"}"#).as_deref(),
            Some("172.17.0.2")
        );
        let podman = r#"{"IPAddress":"","Networks":{"podman":{"IPAddress":"10.88.0.5"}}}"#;
        assert_eq!(ip(podman).as_deref(), Some("10.88.0.5"));
        assert_eq!(ip(r#"{"IPAddress":"","Networks":{}}"#), None);
        assert_eq!(ip("null"), None);
    }

    #[test]
    fn image_ids_look_alike() {
        assert_eq!(image_id("366e"), "sha256:366e");
        assert_eq!(image_id("sha256:366e"), "sha256:366e");
    }
}
