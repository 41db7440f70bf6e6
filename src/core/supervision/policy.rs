//! The supervision contract's arithmetic, free of I/O: whether a policy restarts an
//! exited container, the jittered back-off (1 s doubling to 300 s, reset after 600 s of
//! running), and the crash-loop window (5 restarts within 600 s).

use crate::core::model::{RestartKind, RestartPolicy};
use std::time::Duration;

/// The first back-off delay.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// The longest back-off delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// A run at least this long resets the back-off to [`BACKOFF_BASE`].
pub const RESET_AFTER: Duration = Duration::from_secs(600);
/// The window in which [`CRASH_LOOP_RESTARTS`] restarts make a crash loop.
pub const CRASH_LOOP_WINDOW: Duration = Duration::from_secs(600);
/// Restarts within [`CRASH_LOOP_WINDOW`] that make a crash loop.
pub const CRASH_LOOP_RESTARTS: usize = 5;
/// Jitter: each delay is drawn from `[d * (1 - JITTER), d]`, so delays still grow while
/// many containers that die together do not restart in lock-step.
pub const JITTER: f64 = 0.2;

/// Whether `policy` restarts a container that exited with `exit_code` after the agent
/// already restarted it `restart_count` times. `on-failure` with `max_retries` = n > 0
/// stops after n restarts; 0 or none means no limit.
pub fn wants_restart(
    policy: Option<&RestartPolicy>,
    exit_code: Option<i64>,
    restart_count: u32,
) -> bool {
    let Some(policy) = policy else { return false };
    match policy.policy {
        RestartKind::No => false,
        RestartKind::Always | RestartKind::UnlessStopped => true,
        RestartKind::OnFailure => {
            let failed = exit_code != Some(0);
            let retries_left = match policy.max_retries {
                Some(n) if n > 0 => restart_count < n,
                _ => true,
            };
            failed && retries_left
        }
    }
}

/// The delay before the restart at back-off `step` (0 for the first), before jitter.
pub fn base_delay(step: u32) -> Duration {
    BACKOFF_BASE
        .checked_mul(1u32.checked_shl(step.min(31)).unwrap_or(u32::MAX))
        .map_or(BACKOFF_MAX, |d| d.min(BACKOFF_MAX))
}

/// The delay at `step` with jitter; `unit` in `[0, 1)` is the random draw.
pub fn jittered_delay(step: u32, unit: f64) -> Duration {
    base_delay(step).mul_f64(1.0 - JITTER * unit.clamp(0.0, 1.0))
}

/// A random number in `[0, 1)` for the jitter (std's randomly keyed hasher: no crate).
pub fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// The back-off step to use for the next restart: `step`, or 0 when the last run
/// (started at `last_start_ms`, ended about `now_ms`) lasted [`RESET_AFTER`] or longer.
pub fn step_after_run(step: u32, last_start_ms: Option<u64>, now_ms: u64) -> u32 {
    match last_start_ms {
        Some(start) if now_ms.saturating_sub(start) >= RESET_AFTER.as_millis() as u64 => 0,
        _ => step,
    }
}

/// Keeps the restarts of the last [`CRASH_LOOP_WINDOW`] and adds `now_ms`; returns
/// whether that makes a crash loop.
pub fn record_restart(recent_ms: &mut Vec<u64>, now_ms: u64) -> bool {
    let window = CRASH_LOOP_WINDOW.as_millis() as u64;
    recent_ms.retain(|t| now_ms.saturating_sub(*t) < window);
    recent_ms.push(now_ms);
    recent_ms.len() >= CRASH_LOOP_RESTARTS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(kind: RestartKind, max_retries: Option<u32>) -> RestartPolicy {
        RestartPolicy {
            policy: kind,
            max_retries,
        }
    }

    #[test]
    fn which_exits_are_restarted() {
        use RestartKind::*;
        assert!(!wants_restart(None, Some(1), 0));
        assert!(!wants_restart(Some(&policy(No, None)), Some(1), 0));
        for kind in [Always, UnlessStopped] {
            assert!(wants_restart(Some(&policy(kind, None)), Some(0), 1000));
            assert!(wants_restart(Some(&policy(kind, Some(1))), Some(1), 5));
        }
        let on_failure = policy(OnFailure, Some(2));
        assert!(!wants_restart(Some(&on_failure), Some(0), 0));
        assert!(wants_restart(Some(&on_failure), Some(3), 0));
        assert!(wants_restart(Some(&on_failure), Some(137), 1));
        assert!(!wants_restart(Some(&on_failure), Some(3), 2));
        // No exit code (dead, or the engine lost it) counts as a failure.
        assert!(wants_restart(Some(&on_failure), None, 0));
        for unlimited in [None, Some(0)] {
            let p = policy(OnFailure, unlimited);
            assert!(wants_restart(Some(&p), Some(1), 10_000));
        }
    }

    #[test]
    fn backoff_doubles_from_one_second_to_five_minutes() {
        let secs: Vec<u64> = (0..12).map(|s| base_delay(s).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(base_delay(u32::MAX), BACKOFF_MAX);
        assert_eq!(base_delay(40), BACKOFF_MAX);
    }

    #[test]
    fn jitter_shortens_by_at_most_a_fifth() {
        assert_eq!(jittered_delay(3, 0.0), Duration::from_secs(8));
        assert_eq!(jittered_delay(3, 1.0), Duration::from_millis(6400));
        assert_eq!(jittered_delay(0, 0.5), Duration::from_millis(900));
        for _ in 0..100 {
            let u = random_unit();
            assert!((0.0..1.0).contains(&u), "{u}");
            let d = jittered_delay(9, u);
            assert!(d <= BACKOFF_MAX && d >= BACKOFF_MAX.mul_f64(0.8), "{d:?}");
        }
    }

    #[test]
    fn a_long_run_resets_the_backoff() {
        let start = 1_000_000;
        assert_eq!(step_after_run(6, Some(start), start + 599_999), 6);
        assert_eq!(step_after_run(6, Some(start), start + 600_000), 0);
        assert_eq!(step_after_run(6, None, start), 6);
    }

    #[test]
    fn five_restarts_within_ten_minutes_are_a_crash_loop() {
        let mut recent = Vec::new();
        let loops: Vec<bool> = (0..5)
            .map(|i| record_restart(&mut recent, 1_000_000 + i * 1000))
            .collect();
        assert_eq!(loops, [false, false, false, false, true]);
        // Ten minutes later only the new restart is in the window.
        assert!(!record_restart(&mut recent, 1_000_000 + 4000 + 600_000));
        assert_eq!(recent.len(), 1);
    }
}
