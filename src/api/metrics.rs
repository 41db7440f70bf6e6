//! Counters for `GET /metrics` (Prometheus text format), shared by every transport.

use crate::core::error::ErrorCode;
use std::sync::atomic::{AtomicU64, Ordering};

/// Request counters by transport and outcome.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: [[AtomicU64; OUTCOMES]; TRANSPORTS],
}

/// The transports that count requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// REST.
    Rest = 0,
    /// MQTT.
    Mqtt = 1,
    /// D-Bus.
    Dbus = 2,
    /// POSIX message queues.
    Mqueue = 3,
}

const TRANSPORTS: usize = 4;
const TRANSPORT_NAMES: [&str; TRANSPORTS] = ["rest", "mqtt", "dbus", "mqueue"];
/// `ok` plus one slot per error code.
const OUTCOMES: usize = 1 + ErrorCode::ALL.len();

impl Metrics {
    /// Counts one answered request; `error` is `None` for success.
    pub fn count(&self, transport: Transport, error: Option<ErrorCode>) {
        let slot = match error {
            None => 0,
            Some(code) => 1 + ErrorCode::ALL.iter().position(|c| *c == code).unwrap_or(0),
        };
        self.requests[transport as usize][slot].fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition, with extra gauges appended.
    pub fn render(&self, gauges: &[(&str, &str, u64)]) -> String {
        let mut out = String::from(
            "# HELP ctrmgr_requests_total Requests answered, by transport and outcome.\n\
             # TYPE ctrmgr_requests_total counter\n",
        );
        for (t, name) in TRANSPORT_NAMES.iter().enumerate() {
            for (slot, counter) in self.requests[t].iter().enumerate() {
                let outcome = if slot == 0 {
                    "ok"
                } else {
                    ErrorCode::ALL[slot - 1].as_str()
                };
                let n = counter.load(Ordering::Relaxed);
                out.push_str(&format!(
                    "ctrmgr_requests_total{{transport=\"{name}\",outcome=\"{outcome}\"}} {n}\n"
                ));
            }
        }
        for (name, help, value) in gauges {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts() {
        let m = Metrics::default();
        m.count(Transport::Rest, None);
        m.count(Transport::Rest, Some(ErrorCode::NotFound));
        let text = m.render(&[("ctrmgr_in_flight", "Requests in flight.", 2)]);
        assert!(text.contains("ctrmgr_requests_total{transport=\"rest\",outcome=\"ok\"} 1\n"));
        assert!(
            text.contains("ctrmgr_requests_total{transport=\"rest\",outcome=\"not_found\"} 1\n")
        );
        assert!(text.contains("ctrmgr_in_flight 2\n"));
    }
}
