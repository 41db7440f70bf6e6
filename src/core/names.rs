//! Validated newtypes for the values that reach an engine: container names, image
//! references, absolute host paths and signals. They are the only way to build those
//! values, so nothing unchecked (an option-looking `--privileged`, a `../` path) can
//! ever reach a CLI argv or an engine API URL.

use serde::{Deserialize, Serialize};

/// Why a value was refused; the codec prefixes it with the field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

/// A container name: `[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContainerName(String);

impl ContainerName {
    /// Checks `s` against the contract's name rule.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let mut chars = s.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !(first_ok && rest_ok) {
            Err(InvalidValue(format!(
                "'{}' is not a valid container name (letters, digits, '_', '.', '-'; \
                 must start with a letter or digit)",
                printable(s)
            )))
        } else if s.len() > 63 {
            Err(InvalidValue(format!(
                "'{}' is too long for a container name ({} characters, at most 63)",
                printable(s),
                s.len()
            )))
        } else {
            Ok(Self(s.to_owned()))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An engine's full container id (64 lowercase hex digits) as the reference the
    /// runtimes take wherever they take a name: the core addresses a recorded container
    /// by it, as both engines resolve an unknown name as an id prefix. `None` for
    /// anything else.
    pub fn engine_id(id: &str) -> Option<Self> {
        let full = id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        full.then(|| Self(id.to_owned()))
    }
}

/// An image reference: `[registry[:port]/]path[:tag][@digest]`, lowercase path
/// components, no whitespace, never starting with `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageRef(String);

impl ImageRef {
    /// Checks `s` against the image reference grammar (a practical subset of
    /// distribution's reference grammar).
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if reference_is_valid(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue(format!(
                "'{}' is not a valid image reference (expected [registry/]name[:tag][@digest], \
                 lowercase, no spaces, at most 255 characters)",
                printable(s)
            )))
        }
    }

    /// The reference as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn reference_is_valid(s: &str) -> bool {
    if s.is_empty() || s.len() > 255 {
        return false;
    }
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let Some((algo, hex)) = d.split_once(':') else {
            return false;
        };
        let algo_ok = !algo.is_empty()
            && algo
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c));
        if !algo_ok || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return false;
        }
    }
    // A tag is after the last ':' that follows the last '/'.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (path, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        let mut cs = t.chars();
        let first = cs
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if !first || t.len() > 128 || !cs.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
            return false;
        }
    }
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.len() > 1 && looks_like_registry(parts[0]) {
        let host = parts.remove(0);
        let host_ok = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            && !host.starts_with(['-', '.']);
        if !host_ok {
            return false;
        }
    }
    parts.iter().all(|p| path_component_is_valid(p))
}

fn looks_like_registry(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost"
}

fn path_component_is_valid(p: &str) -> bool {
    // [a-z0-9]+ separated by '.', '_', '__' or one or more '-'.
    if p.is_empty() || !p.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return false;
    }
    if !p.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return false;
    }
    p.chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        && !p.contains("..")
        && !p.contains("___")
}

/// An absolute, normalised host or container path (no `..`, no NUL, no `,` or `:` that
/// would break an engine's mount syntax).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AbsPath(String);

impl AbsPath {
    /// Checks that `s` is an absolute path without traversal.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let ok = s.starts_with('/')
            && s.len() <= 4096
            && !s.split('/').any(|c| c == ".." || c == ".")
            && !s.chars().any(|c| c.is_control() || c == ',' || c == ':');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue(format!(
                "'{}' is not an absolute path without '.', '..', ',' or ':' components",
                printable(s)
            )))
        }
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A POSIX signal name such as `SIGTERM` (a bare `TERM` or number is accepted too and
/// normalised to `SIGTERM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "SignalInput", into = "String")]
pub struct SignalName(usize);

/// A signal as a client may send it: a name (`"SIGTERM"`, `"15"`) or a number (`15`).
#[derive(Deserialize)]
#[serde(untagged)]
enum SignalInput {
    Name(String),
    Number(u32),
}

impl TryFrom<SignalInput> for SignalName {
    type Error = InvalidValue;
    fn try_from(input: SignalInput) -> Result<Self, InvalidValue> {
        match input {
            SignalInput::Name(s) => Self::parse(&s),
            SignalInput::Number(n) => Self::parse(&n.to_string()),
        }
    }
}

const SIGNALS: &[(&str, i32)] = &[
    ("SIGHUP", 1),
    ("SIGINT", 2),
    ("SIGQUIT", 3),
    ("SIGKILL", 9),
    ("SIGUSR1", 10),
    ("SIGUSR2", 12),
    ("SIGALRM", 14),
    ("SIGTERM", 15),
    ("SIGCONT", 18),
    ("SIGSTOP", 19),
    ("SIGWINCH", 28),
];

impl SignalName {
    /// `SIGKILL`, the default signal of `kill`.
    pub const KILL: SignalName = SignalName(3);

    /// Parses `SIGTERM`, `TERM` or `15`.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let upper = s.to_ascii_uppercase();
        let found = SIGNALS.iter().position(|(name, num)| {
            *name == upper || name[3..] == upper || num.to_string() == upper
        });
        found.map(Self).ok_or_else(|| {
            let names: Vec<&str> = SIGNALS.iter().map(|(n, _)| *n).collect();
            InvalidValue(format!(
                "'{}' is not a supported signal (one of {})",
                printable(s),
                names.join(", ")
            ))
        })
    }

    /// The canonical name, e.g. `SIGTERM`.
    pub fn as_str(&self) -> &'static str {
        SIGNALS[self.0].0
    }

    /// The signal's number on Linux.
    pub fn number(&self) -> i32 {
        SIGNALS[self.0].1
    }
}

/// Shortens and escapes a rejected value so that it is safe to echo in a message.
pub fn printable(s: &str) -> String {
    let mut out: String = s.chars().take(80).flat_map(char::escape_default).collect();
    if s.chars().count() > 80 {
        out.push_str("...");
    }
    out
}

/// `TryFrom<String>` (through `parse`), `From<T> for String` and `Display` (through
/// `as_str`) for validated string newtypes; with `deref`, also `Deref<Target = str>` for
/// those read as plain text everywhere (ids, queue names).
macro_rules! string_newtype_impls {
    (deref $($t:ty),*) => {$(
        impl std::ops::Deref for $t {
            type Target = str;
            fn deref(&self) -> &str {
                self.as_str()
            }
        }
        $crate::core::names::string_newtype_impls!($t);
    )*};
    ($($t:ty),*) => {$(
        impl TryFrom<String> for $t {
            type Error = $crate::core::names::InvalidValue;
            fn try_from(s: String) -> Result<Self, $crate::core::names::InvalidValue> {
                Self::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.as_str().to_owned()
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
pub(crate) use string_newtype_impls;
string_newtype_impls!(ContainerName, ImageRef, AbsPath, SignalName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names() {
        for ok in ["web", "a", "web-1.x_y", "A9"] {
            assert!(ContainerName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "--privileged",
            "-x",
            ";rm -rf /",
            "a;rm -rf /",
            "../x",
            "$(id)",
            "a b",
            ".x",
            &"a".repeat(64),
        ] {
            assert!(ContainerName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn image_refs() {
        for ok in [
            "busybox",
            "busybox:latest",
            "127.0.0.1:5000/nginx:1",
            "localhost/ctrmgr-busybox:1",
            "docker.io/library/alpine:3.19",
            "reg.example.com:443/a/b-c/d__e:v1.2",
            "alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(ImageRef::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-x",
            "--privileged",
            "bad image",
            "UPPER",
            "a/../b",
            "a:",
            "a;b",
            "a\nb",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn abs_paths() {
        assert!(AbsPath::parse("/data/x").is_ok());
        for bad in ["data", "/a/../etc", "/a/./b", "/a,b", "/a:b", ""] {
            assert!(AbsPath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signals() {
        assert_eq!(SignalName::parse("term").unwrap().as_str(), "SIGTERM");
        assert_eq!(SignalName::parse("9").unwrap().as_str(), "SIGKILL");
        assert_eq!(SignalName::parse("SIGHUP").unwrap().as_str(), "SIGHUP");
        assert!(SignalName::parse("SIGFOO").is_err());
        assert!(SignalName::parse("--rm").is_err());
        assert_eq!(SignalName::KILL.as_str(), "SIGKILL");
        let n: SignalName = serde_json::from_str("15").unwrap();
        assert_eq!(n.as_str(), "SIGTERM");
        assert!(serde_json::from_str::<SignalName>("99").is_err());
    }
}
