//! Creates under way, counted with the stored records against `policy.max_containers`:
//! a create's record is written only after the engine made the container, so without
//! this count concurrent creates would each see room for one more and overshoot.

use std::sync::atomic::{AtomicUsize, Ordering};

/// How many creates are between their policy check and their record.
#[derive(Debug, Default)]
pub(super) struct PendingCreates(AtomicUsize);

/// One create's place among the pending ones; leaves it when dropped.
#[derive(Debug)]
pub(super) struct PendingSlot<'a>(&'a AtomicUsize);

impl PendingCreates {
    /// Joins the pending creates; answers how many others were pending already (to add
    /// to the records' count) and the slot to hold until the record is written. A
    /// create that finished meanwhile may be counted twice for a moment: the check errs
    /// on the side of refusing, never of overshooting.
    pub(super) fn join(&self) -> (usize, PendingSlot<'_>) {
        let others = self.0.fetch_add(1, Ordering::SeqCst);
        (others, PendingSlot(&self.0))
    }
}

impl Drop for PendingSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_count_the_others_and_leave_when_dropped() {
        let pending = PendingCreates::default();
        let (first, a) = pending.join();
        let (second, b) = pending.join();
        assert_eq!((first, second), (0, 1));
        drop(a);
        let (third, _c) = pending.join();
        assert_eq!(third, 1);
        drop(b);
        assert_eq!(pending.join().0, 1);
    }
}
