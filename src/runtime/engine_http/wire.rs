//! The request and reply of one exchange with an engine's REST API.

use crate::core::runtime::ProgressSink;
use serde_json::Value;
use std::time::Duration;

/// How to read a reply body.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ReadMode {
    /// All of it, up to the client's body limit.
    Full,
    /// A pull's JSON progress stream, line by line, keeping only the first error.
    PullProgress,
}

/// One request: method, path (with its query), optional JSON body.
#[derive(Debug)]
pub(crate) struct EngineRequest {
    /// HTTP method.
    pub(crate) method: &'static str,
    /// Path and query, e.g. `/v1.41/containers/web/json`.
    pub(crate) path: String,
    /// JSON body, sent with `Content-Type: application/json`.
    pub(crate) body: Option<Value>,
    /// `X-Registry-Auth` header value.
    pub(crate) registry_auth: Option<String>,
    /// How to read the reply.
    pub(crate) read: ReadMode,
    /// Where a pull's layer progress goes, when the caller wants it.
    pub(crate) progress: Option<ProgressSink>,
    /// Limit on the whole call, or for a pull (which may run long) on each read.
    pub(crate) timeout: Duration,
    /// Most bytes of reply body read into memory; more is [`RuntimeError::TooLarge`].
    ///
    /// [`RuntimeError::TooLarge`]: crate::core::error::RuntimeError::TooLarge
    pub(crate) max_body: u64,
}

/// A reply: status, body, and for a pull the error its stream reported.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct EngineReply {
    /// HTTP status.
    pub(crate) status: u16,
    /// Body (empty for a pull's stream).
    pub(crate) body: Vec<u8>,
    /// The first error a pull's progress stream reported.
    pub(crate) stream_error: Option<String>,
}

impl EngineReply {
    /// Whether the status is 2xx.
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The engine's error text for this reply.
    pub(crate) fn message(&self) -> String {
        super::errors::error_message(self.status, &self.body)
    }
}
