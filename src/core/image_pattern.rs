//! Image references as registry, repository path and tag or digest, and the entries of
//! `policy.allowed_images` matched against them component by component: an entry
//! `registry.local` admits `registry.local/app`, never `registry.local.attacker.net/x`;
//! `127.0.0.1:5000/acc` admits `127.0.0.1:5000/acc/tool`, never `127.0.0.1:5000/acc-evil`.
//! References are normalised as Docker does: no registry means `docker.io`, and a
//! one-component repository there means `library/<name>`.

use super::names::ImageRef;

/// Docker Hub, the registry of a reference that names none.
const DEFAULT_REGISTRY: &str = "docker.io";

/// A reference split into its parts, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageParts {
    /// Registry host (with port), e.g. `127.0.0.1:5000` or `docker.io`.
    pub registry: String,
    /// Repository path components, e.g. `["library", "busybox"]`.
    pub path: Vec<String>,
    /// Tag, if the reference has one.
    pub tag: Option<String>,
    /// Digest (`sha256:...`), if the reference has one.
    pub digest: Option<String>,
}

impl ImageParts {
    /// Splits `reference` (already valid image-reference syntax); `explicit` tells
    /// whether it named its registry. `library` applies Docker Hub's `library/`
    /// normalisation to a one-component repository.
    fn split(reference: &str, library: bool) -> (Self, bool) {
        let (name, digest) = match reference.split_once('@') {
            Some((name, digest)) => (name, Some(digest.to_owned())),
            None => (reference, None),
        };
        // A tag is after the last ':' that follows the last '/' (a registry port comes
        // before the first '/').
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (
                &name[..last_slash + i],
                Some(name[last_slash + i + 1..].to_owned()),
            ),
            None => (name, None),
        };
        let mut components: Vec<&str> = name.split('/').filter(|c| !c.is_empty()).collect();
        let explicit = components.len() > 1 && is_registry(components[0]);
        let registry = if explicit {
            components.remove(0).to_owned()
        } else {
            DEFAULT_REGISTRY.to_owned()
        };
        let mut path: Vec<String> = components.into_iter().map(str::to_owned).collect();
        if library && registry == DEFAULT_REGISTRY && path.len() == 1 {
            path.insert(0, "library".to_owned());
        }
        let parts = ImageParts {
            registry,
            path,
            tag,
            digest,
        };
        (parts, explicit)
    }

    /// The parts of a valid reference.
    pub fn of(image: &ImageRef) -> Self {
        Self::split(image.as_str(), true).0
    }
}

/// Whether a first component names a registry (as Docker decides: a dot, a port, or
/// `localhost`).
fn is_registry(component: &str) -> bool {
    component.contains(['.', ':']) || component == "localhost"
}

/// One entry of `policy.allowed_images`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePattern {
    text: String,
    parts: ImageParts,
}

impl ImagePattern {
    /// Parses an entry: a registry (`127.0.0.1:5000`), a repository or path prefix on
    /// it (`registry.local/team`), or one repository at a tag or digest
    /// (`docker.io/library/busybox:1.36`). The registry must be named: a bare `busybox`
    /// would silently mean Docker Hub. On Docker Hub a one-component entry is a
    /// repository as Docker reads it (`docker.io/busybox` is `library/busybox`) unless
    /// it ends in `/`, which makes it a namespace (`docker.io/acme/`).
    pub fn parse(entry: &str) -> Result<Self, String> {
        let trimmed = entry.trim_end_matches('/');
        let first = trimmed.split('/').next().unwrap_or_default();
        if trimmed.is_empty() || !is_registry(first) {
            return Err(format!(
                "'{entry}' names no registry: write it in full, e.g. \
                 127.0.0.1:5000/ or docker.io/library/busybox"
            ));
        }
        let parts = if trimmed.contains('/') {
            let image = ImageRef::parse(trimmed)
                .map_err(|e| format!("'{entry}' is not an image reference: {}", e.0))?;
            ImageParts::split(image.as_str(), !entry.ends_with('/')).0
        } else {
            ImageParts {
                registry: trimmed.to_owned(),
                path: Vec::new(),
                tag: None,
                digest: None,
            }
        };
        Ok(Self {
            text: entry.to_owned(),
            parts,
        })
    }

    /// Whether `image` is admitted: the same registry, this entry's path as a prefix of
    /// its components, and this entry's tag or digest when it names one.
    pub fn matches(&self, image: &ImageParts) -> bool {
        let p = &self.parts;
        p.registry == image.registry
            && image.path.starts_with(&p.path)
            && p.tag.as_ref().is_none_or(|t| image.tag.as_ref() == Some(t))
            && p.digest
                .as_ref()
                .is_none_or(|d| image.digest.as_ref() == Some(d))
    }

    /// The entry as written in the config.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(s: &str) -> ImageParts {
        ImageParts::of(&ImageRef::parse(s).unwrap())
    }

    fn admits(entry: &str, image: &str) -> bool {
        ImagePattern::parse(entry).unwrap().matches(&parts(image))
    }

    #[test]
    fn references_are_normalised_as_docker_does() {
        let p = parts("busybox");
        assert_eq!(
            (p.registry.as_str(), p.path.join("/")),
            ("docker.io", "library/busybox".into())
        );
        let p = parts("ctrmgr-test/busybox:latest");
        assert_eq!(p.path.join("/"), "ctrmgr-test/busybox");
        assert_eq!(p.tag.as_deref(), Some("latest"));
        let digest = format!("sha256:{}", "ab".repeat(32));
        let p = parts(&format!("127.0.0.1:5000/acc/tool:1@{digest}"));
        assert_eq!(p.registry, "127.0.0.1:5000");
        assert_eq!(p.path, ["acc", "tool"]);
        assert_eq!(p.tag.as_deref(), Some("1"));
        assert_eq!(p.digest, Some(digest));
        assert_eq!(parts("localhost/app").registry, "localhost");
    }

    #[test]
    fn entries_match_by_components_not_by_text() {
        assert!(admits("registry.local", "registry.local/app:1"));
        assert!(!admits("registry.local", "registry.local.attacker.net/x"));
        assert!(admits("127.0.0.1:5000/acc", "127.0.0.1:5000/acc/tool:1"));
        assert!(admits("127.0.0.1:5000/acc", "127.0.0.1:5000/acc:2"));
        assert!(!admits("127.0.0.1:5000/acc", "127.0.0.1:5000/acc-evil"));
        assert!(admits("127.0.0.1:5000/", "127.0.0.1:5000/anything/deep"));
        assert!(!admits("127.0.0.1:5000/", "127.0.0.1:50000/x"));
        assert!(admits("docker.io/library/busybox", "busybox:1.36"));
        assert!(admits("docker.io/busybox", "busybox"));
        assert!(admits(
            "docker.io/ctrmgr-test/",
            "ctrmgr-test/busybox:latest"
        ));
        assert!(!admits(
            "docker.io/ctrmgr-test",
            "ctrmgr-test/busybox:latest"
        ));
        assert!(!admits("docker.io/library/busybox", "busybox-evil"));
        assert!(admits("docker.io/library/busybox:1.36", "busybox:1.36"));
        assert!(!admits("docker.io/library/busybox:1.36", "busybox:1.37"));
        let digest = format!("sha256:{}", "cd".repeat(32));
        let pinned = format!("reg.io/app@{digest}");
        assert!(admits(&pinned, &format!("reg.io/app:1@{digest}")));
        assert!(!admits(&pinned, "reg.io/app:1"));
    }

    #[test]
    fn entries_must_name_their_registry() {
        for bad in ["", "/", "busybox", "ctrmgr-test/", "library/busybox"] {
            let e = ImagePattern::parse(bad).unwrap_err();
            assert!(e.contains("names no registry"), "{bad}: {e}");
        }
        assert!(ImagePattern::parse("reg.io/UPPER").is_err());
        assert_eq!(ImagePattern::parse("reg.io/").unwrap().as_str(), "reg.io/");
    }
}
