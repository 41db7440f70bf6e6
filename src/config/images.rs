//! `[images]`: the rules of `prune_images` and its optional periodic run.

use super::check::{in_range, invalid};
use super::ConfigError;
use crate::core::image_gc::{GcRules, DEFAULT_GC_KEEP_PER_REPO, DEFAULT_GC_MIN_AGE_S};
use serde::Deserialize;
use std::time::Duration;

/// Shortest period of the periodic run (a collection lists every image and container).
const MIN_INTERVAL_S: u64 = 60;
/// Longest period: 30 days.
const MAX_INTERVAL_S: u64 = 30 * 24 * 3600;

/// `[images]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImagesConfig {
    /// Seconds between two runs of `prune_images` on the default runtime (0 = never).
    pub gc_interval_s: u64,
    /// Images younger than this (seconds since they were created) are kept.
    pub gc_min_age_s: u64,
    /// The newest this many images of each repository are kept.
    pub gc_keep_per_repo: usize,
}

impl Default for ImagesConfig {
    fn default() -> Self {
        Self {
            gc_interval_s: 0,
            gc_min_age_s: DEFAULT_GC_MIN_AGE_S,
            gc_keep_per_repo: DEFAULT_GC_KEEP_PER_REPO,
        }
    }
}

impl ImagesConfig {
    /// Checks the ranges: an interval of 0 or 60 s to 30 days, at most 100 kept per
    /// repository, a minimum age of at most a year.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.gc_interval_s != 0 {
            in_range(
                "images.gc_interval_s",
                self.gc_interval_s,
                MIN_INTERVAL_S..=MAX_INTERVAL_S,
            )
            .map_err(|_| {
                invalid(
                    "images.gc_interval_s",
                    format!(
                        "{} is neither 0 (off) nor in {MIN_INTERVAL_S}..={MAX_INTERVAL_S}",
                        self.gc_interval_s
                    ),
                )
            })?;
        }
        in_range("images.gc_keep_per_repo", self.gc_keep_per_repo, 0..=100)?;
        in_range(
            "images.gc_min_age_s",
            self.gc_min_age_s,
            0..=365 * 24 * 3600,
        )
    }

    /// The rules of a collection.
    pub fn rules(&self) -> GcRules {
        GcRules {
            min_age_s: self.gc_min_age_s,
            keep_per_repo: self.gc_keep_per_repo,
        }
    }

    /// The period of the periodic run, `None` when off.
    pub fn interval(&self) -> Option<Duration> {
        (self.gc_interval_s > 0).then(|| Duration::from_secs(self.gc_interval_s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_off() {
        let c = ImagesConfig::default();
        c.validate().unwrap();
        assert_eq!(c.interval(), None);
        assert_eq!(c.rules().keep_per_repo, 2);
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        for (c, key) in [
            (
                ImagesConfig {
                    gc_interval_s: 5,
                    ..ImagesConfig::default()
                },
                "images.gc_interval_s",
            ),
            (
                ImagesConfig {
                    gc_keep_per_repo: 1000,
                    ..ImagesConfig::default()
                },
                "images.gc_keep_per_repo",
            ),
            (
                ImagesConfig {
                    gc_min_age_s: u64::MAX,
                    ..ImagesConfig::default()
                },
                "images.gc_min_age_s",
            ),
        ] {
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
        let hourly = ImagesConfig {
            gc_interval_s: 3600,
            ..ImagesConfig::default()
        };
        hourly.validate().unwrap();
        assert_eq!(hourly.interval(), Some(Duration::from_secs(3600)));
    }
}
