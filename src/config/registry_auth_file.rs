//! `runtime.registry_auth_file`: registry credentials in Docker's `config.json` format,
//! read at start. A file others may read, a missing or malformed one is refused with an
//! error naming the key; the messages never quote a credential.

use super::ConfigError;
use crate::core::model::RegistryAuth;
use crate::core::registry_credentials::RegistryCredentials;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The config key, named in every error.
const KEY: &str = "runtime.registry_auth_file";

/// The file as Docker writes it; other top-level keys (`credsStore`, `HttpHeaders`...)
/// are ignored, as the engines ignore them for pulls.
#[derive(Deserialize)]
struct DockerConfig {
    auths: BTreeMap<String, Entry>,
}

/// One `auths` entry: `auth` (base64 of `user:password`) or `username` and `password`.
#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

fn invalid(problem: String) -> ConfigError {
    ConfigError::Invalid { key: KEY, problem }
}

/// Reads the credentials file at `path`: it must exist, be readable by its owner only
/// or its group too (no bit for others), and hold `{"auths": {REGISTRY: {...}}}`.
pub fn read(path: &Path) -> Result<RegistryCredentials, ConfigError> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| invalid(format!("cannot read {shown}: {e}")))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o007 != 0 {
        return Err(invalid(format!(
            "{shown} has mode {mode:o}, open to other users; it holds registry passwords: \
             chmod 600 it"
        )));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| invalid(format!("cannot read {shown}: {e}")))?;
    parse(&text).map_err(|problem| invalid(format!("{shown}: {problem}")))
}

/// Parses the file's text (the error says what is wrong without quoting a secret).
fn parse(text: &str) -> Result<RegistryCredentials, String> {
    // serde_json's message names the line and column, never the value.
    let file: DockerConfig = serde_json::from_str(text)
        .map_err(|e| format!("not a Docker config.json with an \"auths\" object ({e})"))?;
    let mut creds = RegistryCredentials::default();
    for (registry, entry) in file.auths {
        let auth = match entry {
            Entry {
                auth: Some(token), ..
            } => decode(&token).ok_or_else(|| {
                format!("auths.\"{registry}\".auth is not base64 of 'user:password'")
            })?,
            Entry {
                username: Some(username),
                password: Some(password),
                ..
            } => RegistryAuth { username, password },
            _ => {
                return Err(format!(
                    "auths.\"{registry}\" has neither \"auth\" nor \"username\" and \"password\""
                ))
            }
        };
        if auth.username.is_empty() {
            return Err(format!("auths.\"{registry}\" has an empty user name"));
        }
        creds.insert(&registry, auth);
    }
    if creds.is_empty() {
        return Err("\"auths\" names no registry".into());
    }
    Ok(creds)
}

/// `user:password` from base64 (the password may contain `:`).
fn decode(token: &str) -> Option<RegistryAuth> {
    let bytes = STANDARD.decode(token.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (username, password) = text.split_once(':')?;
    Some(RegistryAuth {
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::names::ImageRef;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, text: &str, mode: u32) -> std::path::PathBuf {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("auth-{n}.json"));
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn reads_both_entry_forms() {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"{"auths": {
            "127.0.0.1:5001": {"auth": "dXNlcjpwOnNz"},
            "https://index.docker.io/v1/": {"username": "hub", "password": "pw"}
        }, "credsStore": "desktop"}"#;
        let creds = read(&write(dir.path(), text, 0o600)).unwrap();
        let a = creds
            .for_image(&ImageRef::parse("127.0.0.1:5001/a:1").unwrap())
            .unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str()), ("user", "p:ss"));
        let hub = creds
            .for_image(&ImageRef::parse("busybox").unwrap())
            .unwrap();
        assert_eq!(hub.username, "hub");
        assert!(read(&write(dir.path(), text, 0o640)).is_ok());
    }

    #[test]
    fn refuses_open_missing_and_malformed_files_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let good = r#"{"auths": {"r:1": {"auth": "dTpw"}}}"#;
        let cases = [
            (write(dir.path(), good, 0o644), "chmod 600"),
            (dir.path().join("missing.json"), "cannot read"),
            (
                write(dir.path(), "{not json", 0o600),
                "not a Docker config.json",
            ),
            (
                write(dir.path(), r#"{"auths": {}}"#, 0o600),
                "names no registry",
            ),
            (
                write(dir.path(), r#"{"auths": {"r:1": {"auth": "%%%"}}}"#, 0o600),
                "not base64",
            ),
            (
                write(
                    dir.path(),
                    r#"{"auths": {"r:1": {"username": "u"}}}"#,
                    0o600,
                ),
                "neither",
            ),
        ];
        for (path, want) in cases {
            let err = read(&path).unwrap_err().to_string();
            assert!(
                err.starts_with("config key runtime.registry_auth_file: "),
                "{err}"
            );
            assert!(err.contains(want), "{want}: {err}");
        }
        let secret = r#"{"auths": {"r:1": {"username": "u", "password": 7}}}"#;
        let err = read(&write(dir.path(), secret, 0o600))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("\"u\""), "{err}");
    }
}
