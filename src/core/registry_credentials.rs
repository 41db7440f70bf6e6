//! Registry credentials the agent holds (`runtime.registry_auth_file`), looked up by
//! the registry an image reference names, for pulls whose request carries no `auth`.

use super::model::RegistryAuth;
use super::names::ImageRef;
use std::collections::BTreeMap;

/// Docker Hub's registry name, whatever spelling a reference or a file uses.
const DOCKER_HUB: &str = "docker.io";

/// Credentials by registry host (`127.0.0.1:5000`, `registry.example.com`, `docker.io`).
/// Its `Debug` names the registries, never a user or password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistryCredentials {
    by_registry: BTreeMap<String, RegistryAuth>,
}

impl std::fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.by_registry.keys()).finish()
    }
}

impl RegistryCredentials {
    /// Adds the credentials of the registry a config file names by `key` (a host, a
    /// host and port, or a URL such as `https://index.docker.io/v1/`).
    pub fn insert(&mut self, key: &str, auth: RegistryAuth) {
        self.by_registry.insert(normalize(key), auth);
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.by_registry.is_empty()
    }

    /// The credentials for the registry `image` is pulled from, if any.
    pub fn for_image(&self, image: &ImageRef) -> Option<&RegistryAuth> {
        self.by_registry.get(&registry_of(image.as_str()))
    }
}

/// The registry host of a reference, Docker Hub when its first component is no host.
fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => normalize(first),
        _ => DOCKER_HUB.to_owned(),
    }
}

/// A registry key without scheme or path, Docker Hub's spellings as one.
fn normalize(key: &str) -> String {
    let key = key.trim();
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DOCKER_HUB.to_owned()
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(u: &str) -> RegistryAuth {
        RegistryAuth {
            username: u.into(),
            password: "secret-pw".into(),
        }
    }

    #[test]
    fn looks_up_by_the_registry_of_the_reference() {
        let mut c = RegistryCredentials::default();
        c.insert("127.0.0.1:5001", auth("a"));
        c.insert("https://index.docker.io/v1/", auth("hub"));
        c.insert("https://Registry.Example.com/", auth("ex"));
        let get = |s: &str| {
            c.for_image(&ImageRef::parse(s).unwrap())
                .map(|a| a.username.clone())
        };
        assert_eq!(get("127.0.0.1:5001/x/y:1").as_deref(), Some("a"));
        assert_eq!(get("127.0.0.1:5000/x/y:1"), None);
        assert_eq!(get("busybox").as_deref(), Some("hub"));
        assert_eq!(get("docker.io/library/busybox:1").as_deref(), Some("hub"));
        assert_eq!(get("registry.example.com/team/app").as_deref(), Some("ex"));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("secret-pw") && !shown.contains("hub\""),
            "{shown}"
        );
    }
}
