//! Splitting an image reference into the `fromImage`/`tag` pair of a Docker pull.

use crate::core::names::ImageRef;

/// Splits a reference into the pull's `fromImage` and `tag` (a tag or a digest; `latest`
/// when neither is given, since an empty tag would pull every tag).
pub(super) fn pull_params(image: &ImageRef) -> (String, String) {
    let s = image.as_str();
    if let Some((name, digest)) = s.split_once('@') {
        let (repo, _) = split_tag(name);
        return (repo.to_owned(), digest.to_owned());
    }
    let (repo, tag) = split_tag(s);
    (repo.to_owned(), tag.unwrap_or("latest").to_owned())
}

/// Splits `repo[:tag]`, where the tag is after the last ':' following the last '/'.
fn split_tag(s: &str) -> (&str, Option<&str>) {
    let last_slash = s.rfind('/').map_or(0, |i| i + 1);
    match s[last_slash..].rfind(':') {
        Some(i) => (&s[..last_slash + i], Some(&s[last_slash + i + 1..])),
        None => (s, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_parameters() {
        let p = |s: &str| pull_params(&ImageRef::parse(s).unwrap());
        assert_eq!(p("busybox"), ("busybox".into(), "latest".into()));
        assert_eq!(p("busybox:1.36"), ("busybox".into(), "1.36".into()));
        assert_eq!(
            p("127.0.0.1:5000/a/b"),
            ("127.0.0.1:5000/a/b".into(), "latest".into())
        );
        assert_eq!(
            p("127.0.0.1:5000/a/b:v2"),
            ("127.0.0.1:5000/a/b".into(), "v2".into())
        );
        let digest = format!("sha256:{}", "0".repeat(64));
        assert_eq!(p(&format!("x:1@{digest}")), ("x".into(), digest.clone()));
        assert_eq!(p(&format!("x@{digest}")), ("x".into(), digest));
    }
}
