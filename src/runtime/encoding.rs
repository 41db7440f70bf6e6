//! Encoders the engines' REST APIs share: URL percent-encoding, base64url and the
//! `X-Registry-Auth` header (Docker and libpod read the same JSON), and RFC 3339 to the
//! `seconds.nanoseconds` unix time both take as `since`.

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

/// Converts an RFC 3339 time to the `seconds.nanoseconds` form Docker's `since` takes.
pub(crate) fn rfc3339_to_unix(s: &str) -> Option<String> {
    if !crate::core::clock::is_rfc3339(s) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<i64>().ok());
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos = String::from("000000000");
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        let digits: String = frac[..n].chars().take(9).collect();
        nanos.replace_range(..digits.len(), &digits);
        rest = &frac[n..];
    }
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign, ..] => {
            let h = rest.get(1..3)?.parse::<i64>().ok()?;
            let m = rest.get(4..6)?.parse::<i64>().ok()?;
            let o = h * 3600 + m * 60;
            if *sign == b'-' {
                -o
            } else {
                o
            }
        }
        [] => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    if secs < 0 {
        return None;
    }
    Some(format!("{secs}.{nanos}"))
}

/// Howard Hinnant's civil-to-days algorithm (days since 1970-01-01).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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

    #[test]
    fn rfc3339_conversion() {
        assert_eq!(
            rfc3339_to_unix("1970-01-01T00:00:00Z").as_deref(),
            Some("0.000000000")
        );
        assert_eq!(
            rfc3339_to_unix("2026-11-29T10:00:00Z").as_deref(),
            Some("1795946400.000000000")
        );
        assert_eq!(
            rfc3339_to_unix("2026-11-29T12:00:00.5+02:00").as_deref(),
            Some("1795946400.500000000")
        );
        assert_eq!(
            rfc3339_to_unix("2026-11-29T05:30:00-04:30").as_deref(),
            Some("1795946400.000000000")
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-29 10:00:00Z",
            "2026-11-29T25:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(rfc3339_to_unix(bad), None, "{bad}");
        }
    }
}
