//! Closed-loop load: C connections, each sending the next request as soon as the last
//! answered, for a fixed time; throughput and latency percentiles over every request.

use crate::http::{Conn, Target};
use std::time::{Duration, Instant};

/// Latencies of many requests, summarised.
pub struct Summary {
    /// Requests answered with the expected status.
    pub ok: usize,
    /// Requests that failed or got another status.
    pub errors: usize,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// Sorted latencies in microseconds.
    pub micros: Vec<u64>,
    /// Body size of the last good answer.
    pub body_bytes: usize,
}

impl Summary {
    /// The `p`-th percentile in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.micros.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * (self.micros.len() - 1) as f64).round() as usize;
        self.micros[rank.min(self.micros.len() - 1)] as f64 / 1000.0
    }

    /// One `key=value` line for scripts.
    pub fn line(&self) -> String {
        format!(
            "ok={} errors={} rps={:.0} p50_ms={:.3} p99_ms={:.3} body_bytes={}",
            self.ok,
            self.errors,
            self.ok as f64 / self.elapsed.as_secs_f64(),
            self.percentile_ms(50.0),
            self.percentile_ms(99.0),
            self.body_bytes
        )
    }
}

/// Runs `connections` closed loops of `GET path` against `target` for `duration`,
/// after one warm-up request per connection.
pub fn run(target: &Target, path: &str, connections: usize, duration: Duration) -> Summary {
    let start = Instant::now();
    let deadline = start + duration;
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let target = target.clone();
            let path = path.to_owned();
            std::thread::spawn(move || worker(target, &path, deadline))
        })
        .collect();
    let mut summary = Summary {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        micros: Vec::new(),
        body_bytes: 0,
    };
    for w in workers {
        // A panicking worker counts as one error.
        match w.join() {
            Ok((micros, errors, body_bytes)) => {
                summary.ok += micros.len();
                summary.micros.extend(micros);
                summary.errors += errors;
                summary.body_bytes = summary.body_bytes.max(body_bytes);
            }
            Err(_) => summary.errors += 1,
        }
    }
    summary.elapsed = start.elapsed();
    summary.micros.sort_unstable();
    summary
}

fn worker(target: Target, path: &str, deadline: Instant) -> (Vec<u64>, usize, usize) {
    let mut conn = Conn::new(target);
    let mut micros = Vec::with_capacity(64 * 1024);
    let mut errors = 0;
    let mut body_bytes = 0;
    // Warm-up: connect once before the clock matters.
    let _ = conn.send("GET", path, None);
    while Instant::now() < deadline {
        let t0 = Instant::now();
        match conn.send("GET", path, None) {
            Ok(r) if r.status == 200 => {
                micros.push(t0.elapsed().as_micros() as u64);
                body_bytes = r.body.len();
            }
            _ => errors += 1,
        }
    }
    (micros, errors, body_bytes)
}
