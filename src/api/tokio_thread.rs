//! The agent's one tokio runtime: rumqttc (MQTT) and tonic/hyper (gRPC) need tokio, so
//! both run their tasks on one current-thread runtime in one named thread,
//! **`ctrmgr-tokio`**, started by the first transport that needs it and ended when the
//! last one lets go. The core never runs there: those tasks move bytes and hand
//! requests to the smol executor over channels. With both transports on, the agent
//! thus has one tokio thread, not one per transport.
//!
//! # Implementation
//!
//! [`TokioThread::acquire`] returns the running thread (kept as a process-wide `Weak`)
//! or starts it. The thread blocks on a channel that closes when the last
//! [`TokioThread`] is dropped; tasks given to [`TokioThread::spawn`] run while it
//! waits, and their outputs come back over a channel, so any executor can await them.
//! Idle, the thread sleeps in epoll: the runtime has no timer of its own. Resolving a
//! host name (an MQTT broker given by name) uses tokio's blocking pool: at most one
//! thread, `ctrmgr-dns`, which exits a second after its last lookup.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

/// The runtime thread's name in `/proc/PID/task/*/comm`.
pub const THREAD_NAME: &str = "ctrmgr-tokio";

/// The name of the (short-lived) host-name lookup thread.
const DNS_THREAD_NAME: &str = "ctrmgr-dns";

/// The running thread, if a transport holds it.
static CURRENT: Mutex<Weak<TokioThread>> = Mutex::new(Weak::new());

/// A hold on the `ctrmgr-tokio` thread: it runs while any hold is alive.
#[derive(Debug)]
pub struct TokioThread {
    handle: tokio::runtime::Handle,
    /// Closes (dropped with the last hold) to end the thread.
    _stop: smol::channel::Sender<()>,
}

impl TokioThread {
    /// A hold on the running thread, or on a newly started one. `Err` when the runtime
    /// or the thread cannot be created (out of memory, threads or descriptors).
    pub fn acquire() -> std::io::Result<Arc<TokioThread>> {
        let mut current = CURRENT.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = current.upgrade() {
            return Ok(running);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .max_blocking_threads(1)
            .thread_name(DNS_THREAD_NAME)
            .thread_keep_alive(Duration::from_secs(1))
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                runtime.block_on(async {
                    // Nothing is ever sent: the channel closes with the last hold.
                    let _ = stopped.recv().await;
                });
            })?;
        let thread = Arc::new(TokioThread {
            handle,
            _stop: stop,
        });
        *current = Arc::downgrade(&thread);
        Ok(thread)
    }

    /// Runs `task` on the runtime. The returned future, awaited on any executor, gives
    /// the task's output, or `None` when the task panicked (the runtime goes on).
    pub fn spawn<F>(&self, task: F) -> impl Future<Output = Option<F::Output>> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = smol::channel::bounded(1);
        self.handle.spawn(async move {
            let _ = tx.try_send(task.await);
        });
        async move { rx.recv().await.ok() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Whether a thread of this process has `name`.
    fn has_thread(name: &str) -> bool {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
            .any(|comm| comm.trim_end() == name)
    }

    /// One test: the tests of this crate share the process-wide thread.
    #[test]
    fn transports_share_one_thread_that_ends_with_the_last_hold() {
        let first = TokioThread::acquire().unwrap();
        let second = TokioThread::acquire().unwrap();
        assert!(
            Arc::ptr_eq(&first, &second),
            "one runtime for every transport"
        );
        let on = smol::block_on(first.spawn(async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            std::thread::current().name().map(str::to_owned)
        }));
        assert_eq!(on.flatten().as_deref(), Some(THREAD_NAME));
        assert!(has_thread(THREAD_NAME));
        let panicked = smol::block_on(second.spawn(async { panic!("boom") }));
        assert_eq!(panicked, None::<()>, "a panicking task gives None");
        assert_eq!(
            smol::block_on(first.spawn(async { 7 })),
            Some(7),
            "and the runtime goes on"
        );
        drop((first, second));
        let deadline = Instant::now() + Duration::from_secs(10);
        while has_thread(THREAD_NAME) {
            assert!(Instant::now() < deadline, "{THREAD_NAME} still runs");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
