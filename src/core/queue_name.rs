//! `QueueName`: a POSIX message queue name, the one rule for the agent's request queue
//! (`[mqueue] request_queue`) and a client's reply queue (`reply_to`).

use super::names::{printable, string_newtype_impls, InvalidValue};
use serde::{Deserialize, Serialize};

/// A POSIX message queue name this agent uses: `/` then 1-254 letters, digits, `.`, `_`
/// or `-` (no further `/`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QueueName(String);

impl QueueName {
    /// Checks `s` against the queue name rule.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let ok = s.len() >= 2
            && s.len() <= 255
            && s.starts_with('/')
            && s[1..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !ok {
            return Err(InvalidValue(format!(
                "'{}' is not a queue name: '/' then 1-254 letters, digits, '.', '_' or '-' \
                 (e.g. /app.reply)",
                printable(s)
            )));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype_impls!(deref QueueName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names() {
        assert!(QueueName::parse("/ctrmgr.req").is_ok());
        assert!(QueueName::parse("/app-1_reply").is_ok());
        for bad in ["", "/", "x", "/a/b", "/a b", "/a\0"] {
            assert!(QueueName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(QueueName::parse(&format!("/{}", "a".repeat(254))).is_ok());
        assert!(QueueName::parse(&format!("/{}", "a".repeat(255))).is_err());
    }
}
