//! Encoders the engines' REST APIs share: URL percent-encoding, base64url and the
//! `X-Registry-Auth` header (Docker and libpod read the same JSON).

use crate::core::model::RegistryAuth;
use crate::core::names::ImageRef;

/// Percent-encodes everything but RFC 3986 unreserved characters, so a value is safe as
/// one path segment or one query value.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds `path?k=v&...` with every query value percent-encoded.
pub(crate) fn path_and_query(path: &str, query: &[(&str, String)]) -> String {
    let mut out = path.to_owned();
    for (i, (k, v)) in query.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        out.push('=');
        out.push_str(&percent_encode(v));
    }
    out
}

/// Base64 with the URL-safe alphabet and padding, as Docker decodes `X-Registry-Auth`.
pub(crate) fn base64url(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The `X-Registry-Auth` header value for `auth` against the registry of `image`.
pub(crate) fn registry_auth_header(image: &ImageRef, auth: &RegistryAuth) -> String {
    let body = serde_json::json!({
        "username": auth.username,
        "password": auth.password,
        "serveraddress": registry_of(image.as_str()),
    });
    base64url(body.to_string().as_bytes())
}

/// The registry host an image reference points at (Docker Hub when none is named).
pub(crate) fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "https://index.docker.io/v1/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding() {
        assert_eq!(percent_encode("web-1.x_y~"), "web-1.x_y~");
        assert_eq!(
            percent_encode("127.0.0.1:5000/a/b:1"),
            "127.0.0.1%3A5000%2Fa%2Fb%3A1"
        );
        assert_eq!(
            percent_encode("{\"a\":[\"b=c\"]}"),
            "%7B%22a%22%3A%5B%22b%3Dc%22%5D%7D"
        );
        assert_eq!(
            path_and_query("/x", &[("a", "1 2".into()), ("b", "&".into())]),
            "/x?a=1%202&b=%26"
        );
        assert_eq!(path_and_query("/x", &[]), "/x");
    }

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64url(input.as_bytes()), want, "{input}");
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8=");
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
            base64url(br#"{"password":"p","serveraddress":"127.0.0.1:5000","username":"u"}"#)
        );
        assert_eq!(registry_of("busybox"), "https://index.docker.io/v1/");
        assert_eq!(
            registry_of("library/busybox"),
            "https://index.docker.io/v1/"
        );
        assert_eq!(registry_of("localhost/x"), "localhost");
    }
}
