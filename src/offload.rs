//! Blocking work off the executor thread: engine calls over ureq, LMDB commits (fsync),
//! `statvfs`, writing a credentials file, joining a thread. [`run`] hands a closure to a
//! small pool of named threads, `ctrmgr-io`, and awaits its result on the executor.
//!
//! # Implementation
//!
//! A thread is started when a job arrives and no pool thread is waiting for one; a
//! thread that has waited [`IDLE_EXIT`] without a job exits. So an idle agent holds no
//! `ctrmgr-io` thread, and a burst of calls reuses the threads of the burst (a lifecycle
//! op makes several engine calls and a commit one after the other). At most
//! [`MAX_THREADS`] run at once; further jobs wait in a queue. smol's blocking pool
//! (`smol::unblock`, the `blocking` crate 1.7) does the same but never retires a
//! thread it has started, so its threads stayed at the peak concurrency since start.
//!
//! A job that panics resumes its panic in the task that awaited it (with the release
//! profile's `panic = "abort"` the process ends at the panic anyway).

use std::collections::VecDeque;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How long a pool thread waits for a job before it exits.
pub const IDLE_EXIT: Duration = Duration::from_secs(1);

/// The most pool threads at once: smol's blocking pool's limit, so that no call waits
/// behind others more than it did there (engine calls such as `stop` or `pull` may
/// take long; concurrency is bounded before this by the transports' `max_in_flight`).
pub const MAX_THREADS: usize = 500;

/// The pool threads' name in `/proc/PID/task/*/comm`.
pub const THREAD_NAME: &str = "ctrmgr-io";

/// What a pool thread hands the waiting task once the job has run.
type Deliver = Box<dyn FnOnce() + Send>;

/// A queued closure: runs the work, returns how to deliver its result.
type Job = Box<dyn FnOnce() -> Deliver + Send>;

/// The queue and the thread counts, under one lock.
struct State {
    queue: VecDeque<Job>,
    /// Threads alive.
    threads: usize,
    /// Threads waiting for a job, or about to look for one.
    idle: usize,
}

/// A pool of `ctrmgr-io` threads (the agent uses one, [`run`]'s).
struct Pool {
    state: Mutex<State>,
    job_ready: Condvar,
}

/// The agent's pool.
static POOL: Pool = Pool::new();

impl Pool {
    const fn new() -> Self {
        Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                threads: 0,
                idle: 0,
            }),
            job_ready: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job`; wakes an idle thread or starts one (unless [`MAX_THREADS`] run).
    fn submit(&'static self, job: Job) {
        let mut state = self.lock();
        state.queue.push_back(job);
        if state.idle >= state.queue.len() {
            self.job_ready.notify_one();
            return;
        }
        if state.threads >= MAX_THREADS {
            return;
        }
        let started = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || self.work());
        match started {
            Ok(_) => state.threads += 1,
            // Out of threads (RLIMIT_NPROC, memory): the job waits for a running thread;
            // with none running it is run here, on the caller's thread, rather than lost.
            Err(e) if state.threads == 0 => {
                let job = state.queue.pop_back().expect("queued above");
                drop(state);
                log::warn!("cannot start a {THREAD_NAME} thread ({e}): running the call inline");
                job()();
            }
            Err(e) => log::warn!("cannot start another {THREAD_NAME} thread ({e}): queued"),
        }
    }

    /// A pool thread: runs jobs until none came for [`IDLE_EXIT`].
    fn work(&self) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                let deliver = job();
                // Counted idle before the caller has its result, so that the caller's
                // next call finds this thread instead of starting another one.
                self.lock().idle += 1;
                deliver();
                state = self.lock();
                state.idle -= 1;
                continue;
            }
            state.idle += 1;
            let (next, waited) = self
                .job_ready
                .wait_timeout(state, IDLE_EXIT)
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
            state.idle -= 1;
            if waited.timed_out() && state.queue.is_empty() {
                state.threads -= 1;
                return;
            }
        }
    }

    /// The number of threads alive.
    #[cfg(test)]
    fn threads(&self) -> usize {
        self.lock().threads
    }
}

/// Runs `f` on a `ctrmgr-io` thread and returns its result; the calling task waits
/// without blocking the executor.
pub async fn run<T, F>(f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    run_on(&POOL, f).await
}

/// [`run`] on a given pool.
async fn run_on<T, F>(pool: &'static Pool, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = smol::channel::bounded(1);
    pool.submit(Box::new(move || {
        let out = catch_unwind(AssertUnwindSafe(f));
        Box::new(move || {
            let _ = tx.try_send(out);
        })
    }));
    match rx.recv().await {
        Ok(Ok(out)) => out,
        Ok(Err(panic)) => resume_unwind(panic),
        Err(_) => unreachable!("every job delivers its result or its panic"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A pool of the test's own (the agent's is shared by every test of the crate).
    fn pool() -> &'static Pool {
        Box::leak(Box::new(Pool::new()))
    }

    /// Waits (at most 10 s) until no thread of `pool` is left.
    fn wait_until_none(pool: &Pool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.threads() > 0 {
            assert!(Instant::now() < deadline, "{} threads left", pool.threads());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn runs_on_a_named_thread_and_returns_the_result() {
        let name = smol::block_on(run(|| std::thread::current().name().map(str::to_owned)));
        assert_eq!(name.as_deref(), Some(THREAD_NAME));
        assert_eq!(smol::block_on(run(|| 6 * 7)), 42);
    }

    #[test]
    fn idle_threads_exit_and_come_back_on_demand() {
        let pool = pool();
        smol::block_on(run_on(pool, || ()));
        assert_eq!(pool.threads(), 1);
        wait_until_none(pool);
        assert_eq!(
            smol::block_on(run_on(pool, || 1)),
            1,
            "a thread starts again"
        );
        wait_until_none(pool);
    }

    #[test]
    fn sequential_calls_reuse_one_thread() {
        let pool = pool();
        for i in 0..200 {
            assert_eq!(smol::block_on(run_on(pool, move || i)), i);
        }
        assert_eq!(pool.threads(), 1);
    }

    #[test]
    fn concurrent_calls_run_on_threads_of_their_own() {
        let pool = pool();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(3));
        // Three calls that can only finish together: each needs a thread of its own.
        let call = |i: u32| {
            let barrier = barrier.clone();
            run_on(pool, move || {
                barrier.wait();
                i
            })
        };
        let ((a, b), c) = smol::block_on(futures_lite::future::zip(
            futures_lite::future::zip(call(1), call(2)),
            call(3),
        ));
        assert_eq!((a, b, c), (1, 2, 3));
        assert_eq!(pool.threads(), 3);
        wait_until_none(pool);
    }

    #[test]
    fn a_panic_reaches_the_caller_and_the_pool_goes_on() {
        let pool = pool();
        let caught = std::panic::catch_unwind(|| smol::block_on(run_on(pool, || panic!("boom"))));
        let message = caught.expect_err("the panic resumes in the caller");
        assert_eq!(message.downcast_ref::<&str>(), Some(&"boom"));
        assert_eq!(smol::block_on(run_on(pool, || 1)), 1);
        assert_eq!(pool.threads(), 1, "the thread survived the panic");
    }
}
