//! `GET /v1/events` of an agent read in a thread: every event with the instant it
//! arrived, for tests that wait for events (supervision, reconciliation, pull progress).

use super::Agent;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The events received so far on one SSE subscription.
pub struct SseEvents(Arc<Mutex<Vec<(Instant, Value)>>>);

impl SseEvents {
    /// Subscribes (over the agent's TCP listener, with its token) and reads in a thread
    /// until the stream ends.
    pub fn connect(agent: &Agent) -> SseEvents {
        let http: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut res = http
            .get(format!("{}/v1/events", agent.url))
            .header("Authorization", agent.bearer())
            .call()
            .expect("GET /v1/events");
        assert_eq!(res.status().as_u16(), 200);
        let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        std::thread::spawn(move || {
            let reader = BufReader::new(res.body_mut().as_reader());
            for line in reader.lines() {
                let Ok(line) = line else { break };
                if let Some(json) = line.strip_prefix("data: ") {
                    let event: Value = serde_json::from_str(json).unwrap();
                    sink.lock().unwrap().push((Instant::now(), event));
                }
            }
        });
        SseEvents(events)
    }

    /// Every event so far.
    pub fn all(&self) -> Vec<Value> {
        self.timed().into_iter().map(|(_, e)| e).collect()
    }

    /// Every event so far with the instant it arrived.
    pub fn timed(&self) -> Vec<(Instant, Value)> {
        self.0.lock().unwrap().clone()
    }
}
