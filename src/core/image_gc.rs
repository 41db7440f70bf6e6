//! Which images `prune_images` removes: none that a container uses (any container,
//! managed or not), none that the current or previous deployment names, none younger
//! than `images.gc_min_age_s`, and never the `images.gc_keep_per_repo` newest of a
//! repository.

use super::names::ImageRef;
use std::collections::{BTreeMap, BTreeSet};

/// One image as the engine stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    /// Image id (`sha256:...`).
    pub id: String,
    /// Its repository tags (`repo:tag`); empty for a dangling image.
    pub tags: Vec<String>,
    /// Size in bytes.
    pub size_bytes: u64,
    /// When it was created (Unix seconds).
    pub created_unix: i64,
}

/// What the engine stores and what its containers use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageInventory {
    /// Every image.
    pub images: Vec<StoredImage>,
    /// Ids of the images of every container, in any state, managed or not.
    pub used_ids: BTreeSet<String>,
}

/// Default of `images.gc_min_age_s`: a day.
pub const DEFAULT_GC_MIN_AGE_S: u64 = 24 * 3600;

/// Default of `images.gc_keep_per_repo`: the newest two (the running one and one to go
/// back to).
pub const DEFAULT_GC_KEEP_PER_REPO: usize = 2;

/// The `[images]` rules of a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcRules {
    /// Images younger than this are kept.
    pub min_age_s: u64,
    /// The newest this many images of each repository are kept.
    pub keep_per_repo: usize,
}

/// The repository of a `repo:tag` reference (a registry port's colon is not a tag's).
fn repository(tag: &str) -> &str {
    match tag.rsplit_once(':') {
        Some((repo, t)) if !t.contains('/') => repo,
        _ => tag,
    }
}

/// Whether `tag` is the reference `protected` (a reference without a tag means `latest`).
fn names(protected: &str, tag: &str) -> bool {
    tag == protected || (repository(protected) == protected && tag == format!("{protected}:latest"))
}

/// The images to remove, given what the engine has, the protected references and the
/// time now (Unix seconds).
pub fn select<'a>(
    inventory: &'a ImageInventory,
    protected: &[ImageRef],
    rules: GcRules,
    now_unix: i64,
) -> Vec<&'a StoredImage> {
    // The newest `keep_per_repo` of each repository.
    let mut by_repo: BTreeMap<&str, Vec<&StoredImage>> = BTreeMap::new();
    for image in &inventory.images {
        let repos: BTreeSet<&str> = image.tags.iter().map(|t| repository(t)).collect();
        for repo in repos {
            by_repo.entry(repo).or_default().push(image);
        }
    }
    let mut kept_newest: BTreeSet<&str> = BTreeSet::new();
    for images in by_repo.values_mut() {
        images.sort_by(|a, b| b.created_unix.cmp(&a.created_unix).then(a.id.cmp(&b.id)));
        kept_newest.extend(
            images
                .iter()
                .take(rules.keep_per_repo)
                .map(|i| i.id.as_str()),
        );
    }
    let min_age = i64::try_from(rules.min_age_s).unwrap_or(i64::MAX);
    inventory
        .images
        .iter()
        .filter(|i| !inventory.used_ids.contains(&i.id))
        .filter(|i| !kept_newest.contains(i.id.as_str()))
        .filter(|i| now_unix.saturating_sub(i.created_unix) >= min_age)
        .filter(|i| {
            !i.tags
                .iter()
                .any(|t| protected.iter().any(|p| names(p.as_str(), t)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, tags: &[&str], created_unix: i64) -> StoredImage {
        StoredImage {
            id: id.into(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            size_bytes: 10,
            created_unix,
        }
    }

    fn ids(v: Vec<&StoredImage>) -> Vec<&str> {
        v.into_iter().map(|i| i.id.as_str()).collect()
    }

    const RULES: GcRules = GcRules {
        min_age_s: 100,
        keep_per_repo: 1,
    };

    #[test]
    fn keeps_used_young_newest_and_protected_images() {
        let inventory = ImageInventory {
            images: vec![
                image("dangling", &[], 0),
                image("used", &[], 0),
                image("young", &[], 950),
                image("app-v1", &["127.0.0.1:5000/app:1"], 10),
                image("app-v2", &["127.0.0.1:5000/app:2"], 20),
                image("app-v3", &["127.0.0.1:5000/app:3"], 30),
                image("other", &["busybox"], 5),
            ],
            used_ids: ["used".to_owned()].into(),
        };
        let protected = [ImageRef::parse("127.0.0.1:5000/app:1").unwrap()];
        // app-v3 is the newest of its repository, busybox the only one of its own.
        assert_eq!(
            ids(select(&inventory, &protected, RULES, 1000)),
            ["dangling", "app-v2"]
        );
        let keep_none = GcRules {
            keep_per_repo: 0,
            ..RULES
        };
        assert_eq!(
            ids(select(&inventory, &[], keep_none, 1000)),
            ["dangling", "app-v1", "app-v2", "app-v3", "other"]
        );
    }

    #[test]
    fn a_reference_without_a_tag_protects_latest() {
        assert!(names("busybox", "busybox:latest"));
        assert!(names("127.0.0.1:5000/a", "127.0.0.1:5000/a:latest"));
        assert!(!names("busybox:1", "busybox:latest"));
        assert_eq!(repository("127.0.0.1:5000/a:1"), "127.0.0.1:5000/a");
        assert_eq!(repository("127.0.0.1:5000/a"), "127.0.0.1:5000/a");
    }
}
