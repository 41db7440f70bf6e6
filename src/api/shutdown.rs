//! Shutdown signalling and in-flight request tracking shared by every transport.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Fires once for every clone when the agent starts shutting down.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: smol::channel::Receiver<()>,
    in_flight: Arc<AtomicUsize>,
}

/// The trigger side of [`Shutdown`].
#[derive(Debug)]
pub struct ShutdownTrigger {
    tx: smol::channel::Sender<()>,
}

/// Counts one in-flight request until dropped.
#[derive(Debug)]
pub struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shutdown {
    /// A new signal and its trigger.
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = smol::channel::bounded(1);
        (
            ShutdownTrigger { tx },
            Shutdown {
                rx,
                in_flight: Arc::default(),
            },
        )
    }

    /// Waits until shutdown starts.
    pub async fn wait(&self) {
        // Only closing the channel ends the wait: nothing is ever sent on it.
        let _ = self.rx.recv().await;
    }

    /// Whether shutdown has started.
    pub fn is_triggered(&self) -> bool {
        self.rx.is_closed()
    }

    /// Marks a request as in flight until the guard drops.
    pub fn track(&self) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.in_flight.clone())
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Waits until no request is in flight, or `limit` passes; returns how many remain.
    pub async fn drain(&self, limit: Duration) -> usize {
        let deadline = std::time::Instant::now() + limit;
        while self.in_flight() > 0 && std::time::Instant::now() < deadline {
            smol::Timer::after(Duration::from_millis(20)).await;
        }
        self.in_flight()
    }
}

impl ShutdownTrigger {
    /// Starts shutdown: every [`Shutdown::wait`] returns.
    pub fn trigger(&self) {
        self.tx.close();
    }
}
