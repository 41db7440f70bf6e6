//! `RequestId`: the client's id of a request, its idempotency key, checked once by the
//! codec that reads it.

use super::names::{string_newtype_impls, InvalidValue};
use serde::{Deserialize, Serialize};

/// A request id: at most [`RequestId::MAX_BYTES`] bytes, any text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RequestId(String);

impl RequestId {
    /// Longest request id accepted.
    pub const MAX_BYTES: usize = 128;

    /// Checks the length of `s`.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if s.len() > Self::MAX_BYTES {
            return Err(InvalidValue(format!(
                "longer than {} bytes",
                Self::MAX_BYTES
            )));
        }
        Ok(Self(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype_impls!(deref RequestId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_128_bytes() {
        assert_eq!(RequestId::parse(&"a".repeat(128)).unwrap().len(), 128);
        let e = RequestId::parse(&"a".repeat(129)).unwrap_err();
        assert_eq!(e.to_string(), "longer than 128 bytes");
        assert_eq!(RequestId::parse("").unwrap().as_str(), "");
    }
}
