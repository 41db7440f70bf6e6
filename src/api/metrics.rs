//! Counters for `GET /metrics` (Prometheus text format), shared by every transport:
//! requests by transport and outcome, and the gauges each part of the agent registers.

use crate::core::error::ErrorCode;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// One gauge: its name, its help text and its value now.
pub type Gauge = (&'static str, &'static str, u64);

/// Reads a group of gauges when `/metrics` is rendered.
type GaugeSource = Box<dyn Fn() -> Vec<Gauge> + Send + Sync>;

/// A counter with one label (e.g. restarts per container): its name, help text, label
/// name, and the count of each label value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterFamily {
    /// Metric name.
    pub name: &'static str,
    /// Help text.
    pub help: &'static str,
    /// Label name.
    pub label: &'static str,
    /// Count per label value.
    pub values: Vec<(String, u64)>,
}

/// Reads counter families when `/metrics` is rendered.
type FamilySource = Box<dyn Fn() -> Vec<CounterFamily> + Send + Sync>;

/// Request counters by transport and outcome, and the registered gauges.
#[derive(Default)]
pub struct Metrics {
    requests: [[AtomicU64; OUTCOMES]; TRANSPORTS],
    gauges: Mutex<Vec<GaugeSource>>,
    families: Mutex<Vec<FamilySource>>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
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
    /// gRPC.
    Grpc = 4,
}

impl Transport {
    /// Its name in metrics labels (and its cargo feature).
    pub fn name(self) -> &'static str {
        TRANSPORT_NAMES[self as usize]
    }
}

const TRANSPORTS: usize = 5;
const TRANSPORT_NAMES: [&str; TRANSPORTS] = ["rest", "mqtt", "dbus", "mqueue", "grpc"];
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

    /// Adds gauges to every rendering (in the order registered), read by `source` then.
    pub fn register_gauges(&self, source: impl Fn() -> Vec<Gauge> + Send + Sync + 'static) {
        self.gauges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Box::new(source));
    }

    /// Adds labelled counters to every rendering, read by `source` then.
    pub fn register_counter_families(
        &self,
        source: impl Fn() -> Vec<CounterFamily> + Send + Sync + 'static,
    ) {
        self.families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Box::new(source));
    }

    /// The Prometheus text exposition: the request counters, every gauge, then every
    /// labelled counter.
    pub fn render(&self) -> String {
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
        let sources = self
            .gauges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (name, help, value) in sources.iter().flat_map(|source| source()) {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
            ));
        }
        drop(sources);
        let families = self
            .families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for family in families.iter().flat_map(|source| source()) {
            let CounterFamily {
                name, help, label, ..
            } = family;
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
            for (value, n) in &family.values {
                let value = value.replace('\\', "\\\\").replace('"', "\\\"");
                out.push_str(&format!("{name}{{{label}=\"{value}\"}} {n}\n"));
            }
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
        m.register_gauges(|| vec![("ctrmgr_in_flight", "Requests in flight.", 2)]);
        let text = m.render();
        assert!(text.contains("ctrmgr_requests_total{transport=\"rest\",outcome=\"ok\"} 1\n"));
        assert!(
            text.contains("ctrmgr_requests_total{transport=\"rest\",outcome=\"not_found\"} 1\n")
        );
        assert!(text.contains("ctrmgr_in_flight 2\n"));
    }

    #[test]
    fn renders_labelled_counters() {
        let m = Metrics::default();
        m.register_counter_families(|| {
            vec![CounterFamily {
                name: "ctrmgr_container_restarts_total",
                help: "Restarts.",
                label: "name",
                values: vec![("web".into(), 3), ("db".into(), 0)],
            }]
        });
        let text = m.render();
        assert!(text.contains("# TYPE ctrmgr_container_restarts_total counter\n"));
        assert!(text.contains("ctrmgr_container_restarts_total{name=\"web\"} 3\n"));
        assert!(text.contains("ctrmgr_container_restarts_total{name=\"db\"} 0\n"));
    }
}
