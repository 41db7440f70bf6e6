//! A pull's progress on the event bus: the adapter's [`LayerProgress`] reports, thinned
//! to at most one every [`INTERVAL`] per image, plus every layer's final state.

use super::clock;
use super::events::{EventBus, PullProgressEvent};
use super::runtime::{LayerProgress, ProgressSink};
use std::time::{Duration, Instant};

/// Least time between two in-between reports of one image's pull.
pub const INTERVAL: Duration = Duration::from_millis(500);

/// Decides which reports of one pull go out.
#[derive(Debug, Default)]
pub struct Throttle {
    last: Option<Instant>,
}

impl Throttle {
    /// Whether `p`, arriving at `now`, is published: a final state always, another
    /// report when none went out in the last [`INTERVAL`].
    pub fn admit(&mut self, p: &LayerProgress, now: Instant) -> bool {
        if p.done {
            return true;
        }
        match self.last {
            Some(last) if now.duration_since(last) < INTERVAL => false,
            _ => {
                self.last = Some(now);
                true
            }
        }
    }
}

/// A sink for the adapter and the future that publishes what it receives as
/// `pull_progress` events of `image` on `bus`; the future ends when the sink (and
/// every clone of it) is dropped, that is when the pull is over.
pub fn channel<'a>(
    image: String,
    bus: &'a EventBus,
) -> (ProgressSink, impl std::future::Future<Output = ()> + 'a) {
    let (tx, rx) = smol::channel::unbounded::<LayerProgress>();
    // Unbounded: a pull's stream has a few lines per layer and the publisher runs
    // alongside it; the sink must never block the thread reading the engine.
    let sink = ProgressSink::new(move |p| {
        // The publisher is gone only when the pull is over.
        let _ = tx.try_send(p);
    });
    let publisher = async move {
        let mut throttle = Throttle::default();
        while let Ok(p) = rx.recv().await {
            if throttle.admit(&p, Instant::now()) {
                bus.publish(PullProgressEvent {
                    image: image.clone(),
                    layer: p.layer,
                    current: p.current,
                    total: p.total,
                    time: clock::now_rfc3339(),
                });
            }
        }
    };
    (sink, publisher)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::Event;

    fn p(current: u64, done: bool) -> LayerProgress {
        LayerProgress {
            layer: "abc".into(),
            current,
            total: Some(10),
            done,
        }
    }

    #[test]
    fn one_report_per_interval_and_every_final_state() {
        let mut t = Throttle::default();
        let t0 = Instant::now();
        assert!(t.admit(&p(1, false), t0));
        assert!(!t.admit(&p(2, false), t0 + Duration::from_millis(100)));
        assert!(t.admit(&p(10, true), t0 + Duration::from_millis(200)));
        assert!(!t.admit(&p(3, false), t0 + Duration::from_millis(499)));
        assert!(t.admit(&p(4, false), t0 + Duration::from_millis(500)));
        assert!(!t.admit(&p(5, false), t0 + Duration::from_millis(900)));
    }

    #[test]
    fn the_publisher_ends_with_the_sink() {
        let bus = EventBus::default();
        let rx = bus.subscribe();
        let (sink, publisher) = channel("a:1".into(), &bus);
        sink.report(p(1, false));
        sink.report(p(2, false));
        sink.report(p(10, true));
        drop(sink);
        smol::block_on(publisher);
        let events: Vec<Event> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(events.len(), 2, "{events:?}");
        match &events[1] {
            Event::PullProgress(e) => {
                assert_eq!(
                    (e.image.as_str(), e.current, e.total),
                    ("a:1", 10, Some(10))
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
