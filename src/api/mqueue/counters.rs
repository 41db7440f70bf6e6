//! Counters of the replies the POSIX MQ transport could not deliver whole, shown on
//! `GET /metrics` as gauges beside the request counters.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a reply was not delivered whole; one counter each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Undelivered {
    /// The reply queue was full (EAGAIN): the reply was dropped.
    QueueFull = 0,
    /// The reply queue did not exist (ENOENT): the client is gone.
    QueueMissing = 1,
    /// Opening or writing the reply queue failed otherwise (e.g. EACCES).
    SendFailed = 2,
    /// The reply did not fit: a `too_large` reply went instead (or nothing, when not
    /// even that fit).
    TooLarge = 3,
    /// Nobody could be answered: no readable `reply_to` (garbage, or no `reply_to`
    /// and no `id`), or a `reply_to` naming the request queue itself.
    Unanswerable = 4,
}

const KINDS: usize = 5;
const GAUGES: [(&str, &str); KINDS] = [
    (
        "ctrmgr_mqueue_reply_queue_full_total",
        "POSIX MQ replies dropped because the client's reply queue was full.",
    ),
    (
        "ctrmgr_mqueue_reply_queue_missing_total",
        "POSIX MQ replies dropped because the client's reply queue did not exist.",
    ),
    (
        "ctrmgr_mqueue_reply_send_failed_total",
        "POSIX MQ replies not sent for another reason (e.g. permission denied).",
    ),
    (
        "ctrmgr_mqueue_reply_too_large_total",
        "POSIX MQ replies over the reply queue's message size, answered with too_large.",
    ),
    (
        "ctrmgr_mqueue_unanswerable_total",
        "POSIX MQ requests that named no usable reply queue.",
    ),
];

/// The transport's counters: process-wide, as there is one request queue per agent.
static COUNTS: [AtomicU64; KINDS] = [const { AtomicU64::new(0) }; KINDS];

/// Counts one reply not delivered whole.
pub(super) fn count(why: Undelivered) {
    COUNTS[why as usize].fetch_add(1, Ordering::Relaxed);
}

/// The counters as `(name, help, value)` gauges for `/metrics`.
pub fn gauges() -> Vec<(&'static str, &'static str, u64)> {
    GAUGES
        .iter()
        .zip(&COUNTS)
        .map(|((name, help), n)| (*name, *help, n.load(Ordering::Relaxed)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_as_gauges() {
        let before = gauges()[1].2;
        count(Undelivered::QueueMissing);
        let after = gauges();
        assert_eq!(after[1].0, "ctrmgr_mqueue_reply_queue_missing_total");
        assert!(after[1].2 > before);
    }
}
