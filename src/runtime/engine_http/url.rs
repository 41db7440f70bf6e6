//! Paths and queries of engine API calls, every value percent-encoded.

use crate::core::names::{ContainerName, ImageRef};

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

/// `true` or `false`, as query values.
pub(crate) fn bool_str(b: bool) -> String {
    if b { "true" } else { "false" }.to_owned()
}

/// `/containers/NAME` plus `rest`, the name percent-encoded.
pub(crate) fn container_path(name: &ContainerName, rest: &str) -> String {
    format!("/containers/{}{rest}", percent_encode(name.as_str()))
}

/// `/images/IMAGE` plus `rest`, the reference percent-encoded.
pub(crate) fn image_path(image: &ImageRef, rest: &str) -> String {
    format!("/images/{}{rest}", percent_encode(image.as_str()))
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
    fn resource_paths() {
        let name = ContainerName::parse("web").unwrap();
        assert_eq!(container_path(&name, "/json"), "/containers/web/json");
        let image = ImageRef::parse("127.0.0.1:5000/a:1").unwrap();
        assert_eq!(image_path(&image, ""), "/images/127.0.0.1%3A5000%2Fa%3A1");
    }
}
