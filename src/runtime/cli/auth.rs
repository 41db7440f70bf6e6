//! Registry credentials for one pull, without touching the user's global login: a private
//! temporary directory holding a `config.json` (docker, through `DOCKER_CONFIG`) or an
//! auth file (podman, through `--authfile`), removed when the pull is over.

use super::CliFlavor;
use crate::core::model::RegistryAuth;
use crate::core::names::ImageRef;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A temporary directory (mode 0700) with the credentials file (mode 0600), deleted on drop.
#[derive(Debug)]
pub struct AuthDir {
    dir: PathBuf,
}

impl AuthDir {
    /// Name of the credentials file inside the directory (what `DOCKER_CONFIG` expects).
    const FILE: &'static str = "config.json";

    /// Writes the credentials for the registry of `image` into a new private directory.
    pub fn create(
        flavor: CliFlavor,
        image: &ImageRef,
        auth: &RegistryAuth,
    ) -> std::io::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "ctrmgr-auth-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        // From here on, dropping the guard removes the directory, even if the write fails.
        let guard = Self { dir };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(guard.file())?;
        file.write_all(config_json(flavor, image, auth).as_bytes())?;
        file.sync_all()?;
        Ok(guard)
    }

    /// The directory, for `DOCKER_CONFIG`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The credentials file, for podman's `--authfile`.
    pub fn file(&self) -> PathBuf {
        self.dir.join(Self::FILE)
    }
}

impl Drop for AuthDir {
    fn drop(&mut self) {
        // Two unlinks in the temp directory: quick enough to do in place.
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            log::warn!(
                "could not remove registry credentials at {}: {e}",
                self.dir.display()
            );
        }
    }
}

/// `{"auths": {REGISTRY: {"auth": base64(user:pass)}}}`, the format both CLIs read.
fn config_json(flavor: CliFlavor, image: &ImageRef, auth: &RegistryAuth) -> String {
    let token = STANDARD.encode(format!("{}:{}", auth.username, auth.password));
    serde_json::json!({ "auths": { registry_key(flavor, image): { "auth": token } } }).to_string()
}

/// The key a CLI looks credentials up under: the registry host of the reference, or
/// Docker Hub's (docker keeps its legacy index URL, podman uses `docker.io`).
fn registry_key(flavor: CliFlavor, image: &ImageRef) -> String {
    let s = image.as_str();
    let first = s.split('/').next().unwrap_or(s);
    let explicit = s.contains('/')
        && (first.contains(['.', ':']) || first == "localhost")
        && first != "docker.io"
        && first != "index.docker.io";
    match (explicit, flavor) {
        (true, _) => first.to_owned(),
        (false, CliFlavor::Docker) => "https://index.docker.io/v1/".to_owned(),
        (false, CliFlavor::Podman) => "docker.io".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn auth() -> RegistryAuth {
        RegistryAuth {
            username: "user".into(),
            password: "p:ss".into(),
        }
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("user:p:ss", "dXNlcjpwOnNz"),
        ] {
            assert_eq!(STANDARD.encode(plain), encoded, "{plain}");
        }
        assert_eq!(STANDARD.encode([0xff, 0xfe]), "//4=");
    }

    #[test]
    fn registry_keys() {
        let key = |f, s| registry_key(f, &ImageRef::parse(s).unwrap());
        assert_eq!(
            key(CliFlavor::Docker, "127.0.0.1:5000/a/b:1"),
            "127.0.0.1:5000"
        );
        assert_eq!(key(CliFlavor::Docker, "localhost/a"), "localhost");
        assert_eq!(
            key(CliFlavor::Docker, "reg.example.com/a"),
            "reg.example.com"
        );
        assert_eq!(
            key(CliFlavor::Docker, "busybox"),
            "https://index.docker.io/v1/"
        );
        assert_eq!(
            key(CliFlavor::Docker, "library/busybox:1"),
            "https://index.docker.io/v1/"
        );
        assert_eq!(
            key(CliFlavor::Docker, "docker.io/library/alpine"),
            "https://index.docker.io/v1/"
        );
        assert_eq!(key(CliFlavor::Podman, "busybox"), "docker.io");
    }

    #[test]
    fn writes_a_private_config_and_removes_it() {
        let image = ImageRef::parse("127.0.0.1:5000/ctrmgr-test/busybox:latest").unwrap();
        let d = AuthDir::create(CliFlavor::Docker, &image, &auth()).unwrap();
        let dir = d.dir().to_owned();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(
            std::fs::metadata(d.file()).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.file()).unwrap()).unwrap();
        assert_eq!(v["auths"]["127.0.0.1:5000"]["auth"], "dXNlcjpwOnNz");
        let other = AuthDir::create(CliFlavor::Docker, &image, &auth()).unwrap();
        assert_ne!(other.dir(), dir);
        drop(d);
        assert!(!dir.exists());
    }
}
