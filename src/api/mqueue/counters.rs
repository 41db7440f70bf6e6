//! Counters of the replies the POSIX MQ transport could not deliver whole, registered
//! as gauges of `GET /metrics` beside the request counters.

use crate::api::metrics::Gauge;
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
    /// The reply queue belongs to a user who may not send requests: not written to.
    ForeignQueue = 5,
}

const KINDS: usize = 6;
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
    (
        "ctrmgr_mqueue_reply_queue_foreign_total",
        "POSIX MQ replies not sent because the reply queue's owner may not send requests.",
    ),
];

/// The transport's counters, one per [`Undelivered`] reason.
#[derive(Debug, Default)]
pub(super) struct Counters {
    counts: [AtomicU64; KINDS],
}

impl Counters {
    /// Counts one reply not delivered whole.
    pub fn count(&self, why: Undelivered) {
        self.counts[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters as gauges for `/metrics`.
    pub fn gauges(&self) -> Vec<Gauge> {
        GAUGES
            .iter()
            .zip(&self.counts)
            .map(|((name, help), n)| (*name, *help, n.load(Ordering::Relaxed)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_as_gauges() {
        let counters = Counters::default();
        let before = counters.gauges()[1].2;
        counters.count(Undelivered::QueueMissing);
        let after = counters.gauges();
        assert_eq!(after[1].0, "ctrmgr_mqueue_reply_queue_missing_total");
        assert!(after[1].2 > before);
    }
}
