//! `prune_images` on the CLI paths: every image with its creation time (`image
//! inspect` of `images --quiet`), and the image of every container (`container inspect`
//! of `ps --all --quiet`), as the argv and parsers of these four calls.

use super::parse::OutputError;
use super::CliFlavor;
use crate::core::image_gc::StoredImage;
use crate::core::since::Since;
use crate::runtime::inspect::image_id;

/// `images --quiet --no-trunc`: every image id (one per line, repeated per tag).
pub fn image_ids() -> Vec<String> {
    ["images", "--quiet", "--no-trunc"]
        .map(String::from)
        .to_vec()
}

/// `image inspect --format=ID|TAGS|SIZE|CREATED -- IDS...`. Docker writes `Created` as
/// RFC 3339; podman's is a Go time, so it is asked for in Unix seconds.
pub fn image_details(flavor: CliFlavor, ids: &[String]) -> Vec<String> {
    let created = match flavor {
        CliFlavor::Docker => "{{.Created}}",
        CliFlavor::Podman => "{{.Created.Unix}}",
    };
    let mut a = vec![
        "image".to_owned(),
        "inspect".to_owned(),
        format!("--format={{{{.Id}}}}|{{{{json .RepoTags}}}}|{{{{.Size}}}}|{created}"),
        "--".to_owned(),
    ];
    a.extend(ids.iter().cloned());
    a
}

/// `ps --all --quiet --no-trunc`: every container id, managed or not.
pub fn container_ids() -> Vec<String> {
    ["ps", "--all", "--quiet", "--no-trunc"]
        .map(String::from)
        .to_vec()
}

/// `container inspect --format={{.Image}} -- IDS...`: the image id of each.
pub fn container_images(ids: &[String]) -> Vec<String> {
    let mut a = ["container", "inspect", "--format={{.Image}}", "--"]
        .map(String::from)
        .to_vec();
    a.extend(ids.iter().cloned());
    a
}

/// The distinct non-empty lines of an output.
pub fn lines(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.iter().any(|l| l == line) {
            out.push(line.to_owned());
        }
    }
    out
}

/// Reads the output of [`image_details`].
pub fn parse_details(text: &str) -> Result<Vec<StoredImage>, OutputError> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let bad = || OutputError::Fields {
            command: "image inspect",
            line: line.to_owned(),
            fields: 4,
        };
        let [id, tags, size, created] = line.split('|').collect::<Vec<_>>()[..] else {
            return Err(bad());
        };
        let tags: Option<Vec<String>> = serde_json::from_str(tags).map_err(|_| bad())?;
        let created_unix = match created.parse::<i64>() {
            Ok(secs) => secs,
            Err(_) => Since::parse(created)
                .map(|s| i64::try_from(s.unix_secs()).unwrap_or(i64::MAX))
                .map_err(|_| bad())?,
        };
        out.push(StoredImage {
            id: image_id(id),
            tags: tags
                .unwrap_or_default()
                .into_iter()
                .filter(|t| !t.starts_with("<none>"))
                .collect(),
            size_bytes: size.parse().map_err(|_| bad())?,
            created_unix,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_of_both_clis() {
        let docker =
            "sha256:77146c|[\"ctrmgr-test/busybox:latest\"]|2008789|2026-12-07T08:38:26.600855Z\n\
                      sha256:aa|null|10|2026-12-07T08:00:00Z\n";
        let images = parse_details(docker).unwrap();
        assert_eq!(images[0].id, "sha256:77146c");
        assert_eq!(images[0].tags, ["ctrmgr-test/busybox:latest"]);
        assert_eq!(images[0].created_unix, 1_796_632_706);
        assert!(images[1].tags.is_empty());
        let podman = "77146c|[\"localhost/a:1\"]|2008789|1796632706\n";
        let images = parse_details(podman).unwrap();
        assert_eq!(
            (images[0].id.as_str(), images[0].created_unix),
            ("sha256:77146c", 1_796_632_706)
        );
        assert!(parse_details("a|b").is_err());
        assert_eq!(lines("a\n\nb\na\n"), ["a", "b"]);
        assert_eq!(
            image_details(CliFlavor::Podman, &["x".into()])[2],
            "--format={{.Id}}|{{json .RepoTags}}|{{.Size}}|{{.Created.Unix}}"
        );
    }
}
