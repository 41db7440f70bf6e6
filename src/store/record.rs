//! How the persistent stores keep a container record: the contract's `Container` JSON
//! plus the fields the wire never shows (the client's `intent`, the supervisor's
//! `supervision` state), in one JSON object.

use crate::core::model::{Container, Intent, Supervision};
use serde::{Deserialize, Serialize};

/// A record as written: the container's contract fields, flattened, and its intent.
#[derive(Serialize)]
struct StoredRecordRef<'a> {
    #[serde(flatten)]
    container: &'a Container,
    intent: Intent,
    supervision: &'a Supervision,
}

/// A record as read. A record written before intents were kept has none and gets
/// [`Intent::default`].
#[derive(Deserialize)]
struct StoredRecord {
    #[serde(flatten)]
    container: Container,
    #[serde(default)]
    intent: Intent,
    #[serde(default)]
    supervision: Supervision,
}

/// The bytes a store keeps for `container`.
pub fn encode(container: &Container) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&StoredRecordRef {
        container,
        intent: container.intent,
        supervision: &container.supervision,
    })
}

/// A record back from the bytes [`encode`] wrote (or an older record without intent).
pub fn decode(bytes: &[u8]) -> Result<Container, serde_json::Error> {
    let StoredRecord {
        mut container,
        intent,
        supervision,
    } = serde_json::from_slice(bytes)?;
    container.intent = intent;
    container.supervision = supervision;
    Ok(container)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::sample_container;

    #[test]
    fn intent_round_trips_and_stays_off_the_wire_shape() {
        let mut c = sample_container("web");
        c.intent = Intent::Stopped;
        let bytes = encode(&c).unwrap();
        assert_eq!(decode(&bytes).unwrap(), c);
        let wire = serde_json::to_value(&c).unwrap();
        assert!(wire.get("intent").is_none(), "{wire}");
        let stored: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(stored["intent"], "stopped");
        assert_eq!(stored["name"], "web");
    }

    #[test]
    fn old_record_without_intent_decodes_as_running() {
        let mut c = sample_container("old");
        c.intent = Intent::Stopped;
        let old = serde_json::to_vec(&c).unwrap();
        assert_eq!(decode(&old).unwrap().intent, Intent::Running);
        assert!(decode(b"{\"name\":\"x\"}").is_err());
    }

    #[test]
    fn supervision_round_trips_and_stays_off_the_wire_shape() {
        let mut c = sample_container("web");
        c.supervision.step = 4;
        c.supervision.next_restart_ms = Some(1_700_000_000_000);
        c.supervision.recent_restarts_ms = vec![1, 2];
        let bytes = encode(&c).unwrap();
        assert_eq!(decode(&bytes).unwrap(), c);
        let wire = serde_json::to_value(&c).unwrap();
        assert!(wire.get("supervision").is_none(), "{wire}");
        let old = serde_json::to_vec(&sample_container("old")).unwrap();
        assert_eq!(decode(&old).unwrap().supervision, Supervision::default());
    }
}
