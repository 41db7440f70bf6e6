//! Registries of image references: credentials as the engines' REST APIs take them
//! (the `X-Registry-Auth` header: Docker and libpod read the same base64url JSON naming
//! the registry host of the image reference), and which registries are on loopback (the
//! podman paths skip TLS verification only for those).

use crate::core::names::ImageRef;

/// The `X-Registry-Auth` header value for `auth` against the registry of `image`:
/// base64 with the URL-safe alphabet and padding, as Docker decodes it.
#[cfg(any(feature = "docker-api", feature = "podman-api"))]
pub(crate) fn registry_auth_header(
    image: &ImageRef,
    auth: &crate::core::model::RegistryAuth,
) -> String {
    use base64::engine::general_purpose::URL_SAFE;
    use base64::Engine as _;
    let body = serde_json::json!({
        "username": auth.username,
        "password": auth.password,
        "serveraddress": registry_of(image.as_str()),
    });
    URL_SAFE.encode(body.to_string())
}

/// The registry host an image reference points at (Docker Hub when none is named).
pub(crate) fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "https://index.docker.io/v1/",
    }
}

/// Whether a pull may skip TLS verification: only for a registry on the loopback
/// interface (a local mirror or test registry, plain HTTP like Docker allows there);
/// every other registry is verified. Podman's paths use it (the libpod API and the
/// CLI's podman flavour); Docker's engine decides this itself.
#[cfg(any(feature = "docker-cli", feature = "podman-cli", feature = "podman-api"))]
pub(crate) fn is_loopback_registry(image: &ImageRef) -> bool {
    let host = registry_of(image.as_str());
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    matches!(host, "localhost" | "[::1]")
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::RegistryAuth;
    use base64::engine::general_purpose::URL_SAFE;
    use base64::Engine as _;

    #[test]
    #[cfg(any(feature = "docker-cli", feature = "podman-cli", feature = "podman-api"))]
    fn tls_is_skipped_only_for_loopback_registries() {
        let loopback = |s: &str| is_loopback_registry(&ImageRef::parse(s).unwrap());
        assert!(loopback("127.0.0.1:5000/ctrmgr-test/busybox:latest"));
        assert!(loopback("localhost:5000/a"));
        assert!(loopback("localhost/a:1"));
        assert!(!loopback("registry.example.com/a:1"));
        assert!(!loopback("registry.example.com:5000/a:1"));
        assert!(!loopback("busybox"));
        assert!(!loopback("127.example.com/a"));
    }

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        // The URL-safe alphabet, padded (the standard vectors are pinned in cli/auth.rs).
        assert_eq!(URL_SAFE.encode("f"), "Zg==");
        assert_eq!(URL_SAFE.encode("foobar"), "Zm9vYmFy");
        assert_eq!(URL_SAFE.encode([0xfb, 0xff]), "-_8=");
    }

    #[test]
    fn auth_header_names_the_registry() {
        let auth = RegistryAuth {
            username: "u".into(),
            password: "p".into(),
        };
        let image = ImageRef::parse("127.0.0.1:5000/a:1").unwrap();
        let header = registry_auth_header(&image, &auth);
        assert_eq!(
            header,
            URL_SAFE.encode(br#"{"password":"p","serveraddress":"127.0.0.1:5000","username":"u"}"#)
        );
        assert_eq!(registry_of("busybox"), "https://index.docker.io/v1/");
        assert_eq!(
            registry_of("library/busybox"),
            "https://index.docker.io/v1/"
        );
        assert_eq!(registry_of("localhost/x"), "localhost");
    }
}
