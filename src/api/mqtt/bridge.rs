//! The tokio side of the MQTT transport: one task on the agent's tokio thread
//! (`ctrmgr-tokio`, shared with gRPC: [`crate::api::tokio_thread`]) only polls rumqttc's
//! `EventLoop` (connect, keep-alive, reconnect with capped exponential back-off) and
//! forwards what the smol side needs over a channel. Publishing and subscribing happen
//! on the smol side through the `AsyncClient`, whose request channel works from any
//! executor.
//!
//! The event loop never waits for the smol side: if it did, it would stop sending
//! keep-alives and reading PUBACKs, and a burst of requests could cost the connection.
//! QoS 1 requests cannot pile up (the broker sends at most Receive Maximum unacknowledged
//! ones, and they are acknowledged only when admitted), so they always go through; QoS 0
//! requests have no such bound (Receive Maximum does not cover them): past
//! `mqtt.max_queued_qos0` waiting ones, further ones are dropped and counted.

use super::MqttError;
use crate::api::tokio_thread::TokioThread;
use rumqttc::v5::mqttbytes::v5::{Packet, Publish};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{Event, EventLoop};
use rumqttc::Outgoing;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the event loop tells the smol side.
#[derive(Debug)]
pub(super) enum BridgeEvent {
    /// A connection was accepted (first or after a reconnect).
    Connected,
    /// A message on one of our subscriptions (boxed: it is much larger than `Connected`)
    /// and, for QoS 0, its place among the waiting ones (freed on drop).
    Publish(Box<Publish>, Option<Qos0Slot>),
}

/// One waiting QoS 0 request's place in the queue; dropping it frees the place.
#[derive(Debug)]
pub(super) struct Qos0Slot(Arc<AtomicUsize>);

impl Drop for Qos0Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The QoS 0 queue's bound (`mqtt.max_queued_qos0`) and what went over it.
#[derive(Debug)]
pub(super) struct Qos0Queue {
    max: usize,
    waiting: Arc<AtomicUsize>,
    /// QoS 0 requests dropped because `max` were waiting, since start.
    pub dropped: AtomicU64,
}

impl Qos0Queue {
    /// An empty queue of at most `max` waiting requests.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            waiting: Arc::default(),
            dropped: AtomicU64::new(0),
        }
    }

    /// A place for one more QoS 0 request; `None` (counted) when the queue is full.
    fn admit(&self) -> Option<Qos0Slot> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped == 1 || dropped.is_multiple_of(1000) {
                log::warn!(
                    "MQTT: {} QoS 0 requests are waiting (mqtt.max_queued_qos0); further \
                     ones are dropped ({dropped} so far, ctrmgr_mqtt_qos0_dropped in /metrics)",
                    self.max
                );
            }
            return None;
        }
        Some(Qos0Slot(self.waiting.clone()))
    }
}

/// Longest wait for the final `offline` publish and DISCONNECT to be written at stop.
const FLUSH_LIMIT: Duration = Duration::from_secs(3);

/// The running event-loop task.
pub(super) struct Bridge {
    /// What the event loop forwards: unbounded, as the event loop never waits; QoS 1
    /// requests are bounded by Receive Maximum, QoS 0 ones by `mqtt.max_queued_qos0`.
    pub events: smol::channel::Receiver<BridgeEvent>,
    /// The QoS 0 bound and its drop count.
    pub qos0: Arc<Qos0Queue>,
    stop: smol::channel::Sender<()>,
    /// Ends when the event-loop task has ended (`None`: it panicked).
    done: Pin<Box<dyn Future<Output = Option<()>> + Send>>,
    /// Keeps the tokio thread running while the task may run.
    _thread: Arc<TokioThread>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge").field("qos0", &self.qos0).finish()
    }
}

impl Bridge {
    /// Starts the task. `broker` only names the broker in log messages; at most
    /// `max_queued_qos0` QoS 0 requests wait for the smol side.
    pub fn start(
        eventloop: EventLoop,
        broker: String,
        max_backoff: Duration,
        max_queued_qos0: usize,
    ) -> Result<Bridge, MqttError> {
        let (tx, events) = smol::channel::unbounded();
        let qos0 = Arc::new(Qos0Queue::new(max_queued_qos0));
        let queue = qos0.clone();
        let (stop, stop_rx) = smol::channel::bounded(1);
        let thread = TokioThread::acquire().map_err(MqttError::Thread)?;
        let done = thread.spawn(async move {
            poll_loop(eventloop, tx, &queue, stop_rx, broker, max_backoff).await;
        });
        Ok(Bridge {
            events,
            qos0,
            stop,
            done: Box::pin(done),
            _thread: thread,
        })
    }

    /// Lets the event loop write what is queued (the `offline` status, DISCONNECT) for a
    /// moment, then ends the task and waits for it.
    pub async fn stop(self) -> Result<(), MqttError> {
        let Bridge {
            events,
            stop,
            done,
            _thread: thread,
            ..
        } = self;
        // A task waiting to forward an event sees the channel closed and moves on.
        drop(events);
        stop.close();
        let ended = done.await;
        // Only now may the tokio thread end (once gRPC lets go of it too).
        drop(thread);
        ended.ok_or(MqttError::ThreadPanicked)
    }
}

/// Polls the event loop until stopped, reconnecting with back-off.
async fn poll_loop(
    mut eventloop: EventLoop,
    tx: smol::channel::Sender<BridgeEvent>,
    qos0: &Qos0Queue,
    stop: smol::channel::Receiver<()>,
    broker: String,
    max_backoff: Duration,
) {
    let mut backoff = Backoff::new(max_backoff);
    let mut connected = false;
    loop {
        let stopped = async {
            let _ = stop.recv().await;
            None
        };
        let Some(polled) =
            futures_lite::future::or(stopped, async { Some(eventloop.poll().await) }).await
        else {
            break;
        };
        let forward = match polled {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                log::info!(
                    "MQTT connected to {broker} (session {})",
                    if ack.session_present {
                        "resumed"
                    } else {
                        "new"
                    }
                );
                connected = true;
                backoff.reset();
                BridgeEvent::Connected
            }
            Ok(Event::Incoming(Packet::Publish(publish))) if publish.qos == QoS::AtMostOnce => {
                match qos0.admit() {
                    Some(slot) => BridgeEvent::Publish(Box::new(publish), Some(slot)),
                    None => continue,
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                BridgeEvent::Publish(Box::new(publish), None)
            }
            Ok(_) => continue,
            Err(e) => {
                let wait = backoff.next_wait();
                if connected {
                    log::warn!("MQTT connection to {broker} lost: {e}; reconnecting in {wait:?}");
                } else {
                    log::warn!("MQTT cannot connect to {broker}: {e}; next attempt in {wait:?}");
                }
                connected = false;
                let waited = async {
                    tokio::time::sleep(wait).await;
                    true
                };
                let stopped = async {
                    let _ = stop.recv().await;
                    false
                };
                if !futures_lite::future::or(stopped, waited).await {
                    break;
                }
                continue;
            }
        };
        // Unbounded: never waits (see the module doc for what bounds it).
        if tx.try_send(forward).is_err() {
            break;
        }
    }
    if connected {
        flush_until_disconnected(&mut eventloop).await;
    }
}

/// Writes what the client queued before stopping, until DISCONNECT is out (or the
/// connection fails, or [`FLUSH_LIMIT`] passes).
async fn flush_until_disconnected(eventloop: &mut EventLoop) {
    let flushed = tokio::time::timeout(FLUSH_LIMIT, async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    if flushed.is_err() {
        log::warn!("MQTT: DISCONNECT not written within {FLUSH_LIMIT:?}; closing anyway");
    }
}

/// Capped exponential back-off: 1 s, 2 s, 4 s, ... up to the cap, each wait jittered
/// down to as little as half, so a fleet that lost its broker at the same moment does
/// not come back in lockstep (no thundering herd after a broker restart).
#[derive(Debug)]
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_secs(1);

    fn new(max: Duration) -> Self {
        Self {
            next: Self::FIRST.min(max),
            max,
        }
    }

    /// The wait before the next attempt, in `[step / 2, step]`; doubles the step.
    fn next_wait(&mut self) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        jittered(step)
    }

    /// Back to the first wait (after a successful connect).
    fn reset(&mut self) {
        self.next = Self::FIRST.min(self.max);
    }
}

/// A random duration in `[step / 2, step]` (std's randomly keyed SipHash of the clock:
/// no random-number crate for one number per reconnect).
fn jittered(step: Duration) -> Duration {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new().hash_one(std::time::Instant::now());
    let half = step / 2;
    half + half.mul_f64((random % 1024) as f64 / 1023.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos0_requests_over_the_queue_are_dropped_and_counted() {
        let queue = Qos0Queue::new(4);
        let slots: Vec<Qos0Slot> = (0..4).map(|_| queue.admit().unwrap()).collect();
        assert!(queue.admit().is_none());
        assert!(queue.admit().is_none());
        assert_eq!(queue.dropped.load(Ordering::Relaxed), 2);
        drop(slots);
        assert!(queue.admit().is_some(), "places come back when handled");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(10));
        let steps = [1, 2, 4, 8, 10, 10].map(Duration::from_secs);
        for step in steps {
            let wait = b.next_wait();
            assert!(
                wait >= step / 2 && wait <= step,
                "{wait:?} for a step of {step:?}"
            );
        }
        b.reset();
        assert!(b.next_wait() <= Duration::from_secs(1));
    }

    #[test]
    fn jitter_spreads_the_waits() {
        let waits: std::collections::BTreeSet<Duration> =
            (0..50).map(|_| jittered(Duration::from_secs(8))).collect();
        assert!(waits.len() > 10, "{waits:?}");
        assert!(waits
            .iter()
            .all(|w| *w >= Duration::from_secs(4) && *w <= Duration::from_secs(8)));
    }
}
