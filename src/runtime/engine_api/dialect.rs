//! What tells one engine's REST API from the other: the [`Dialect`] an [`EngineApi`]
//! speaks (path prefix and version rule, stop's query key, the create body, the error
//! classifier, stats, pull and event queries).
//!
//! [`EngineApi`]: super::EngineApi

use super::replies::ReplyError;
use crate::core::error::RuntimeError;
use crate::core::model::{ContainerSpec, RuntimeKind, Stats, Ulimit};
use crate::core::names::{ContainerName, ImageRef};
use crate::runtime::engine_http::EngineReply;
use crate::runtime::inspect::ImageField;
use serde_json::Value;

/// What the version call settled, cached until the adapter is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Negotiated {
    /// The prefix of every later call, e.g. `/v1.41` or `/v4.0.0/libpod`.
    pub(crate) prefix: String,
    /// The engine's release, e.g. `20.10.24`.
    pub(crate) version: String,
}

/// A create call: its path (without the prefix, with its query) and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CreateCall {
    /// e.g. `/containers/create?name=web`.
    pub(crate) path: String,
    /// The engine's create body.
    pub(crate) body: Value,
}

/// One engine's REST dialect. Everything else (the calls, the status mapping, start and
/// stop's 304, logs, pulls, images) is the same for both engines and lives in
/// [`super::EngineApi`].
pub(crate) trait Dialect: std::fmt::Debug + Send + Sync + 'static {
    /// The access path.
    const KIND: RuntimeKind;
    /// What to check when the socket does not answer.
    const START_HINT: &'static str;
    /// The full path of the version call, e.g. `/version`.
    const VERSION_PATH: &'static str;
    /// How messages name the API's paths: `""` (Docker) or `"/libpod"`.
    const API_NAME: &'static str;
    /// The query key of stop's timeout (`t` or `timeout`).
    const STOP_TIMEOUT_KEY: &'static str;
    /// Which inspect field names a container's image.
    const IMAGE_FIELD: ImageField;

    /// Reads the version call's body: the prefix to use, or `Unsupported` for an engine
    /// too old.
    fn negotiate(&self, body: &[u8]) -> Result<Negotiated, RuntimeError>;

    /// The create call for `spec`, every container getting `ulimits`; `Unsupported`
    /// when the engine cannot honour a field.
    fn create(&self, spec: &ContainerSpec, ulimits: &[Ulimit]) -> Result<CreateCall, RuntimeError>;

    /// Ok for 2xx, else the error the reply means; `what` names the subject for a
    /// NotFound. The default maps the status alone.
    fn classify(
        &self,
        reply: EngineReply,
        what: impl FnOnce() -> String,
    ) -> Result<EngineReply, RuntimeError> {
        reply.check(Self::KIND, what)
    }

    /// The failure a 2xx reply to a container removal reports in its body, if any.
    fn removal_error(&self, _body: &[u8]) -> Option<String> {
        None
    }

    /// The path (without the prefix) of one stats sample of `name`.
    fn stats_path(&self, name: &ContainerName) -> String;

    /// One stats sample; `None` when the engine has none for the container.
    fn stats(&self, body: &[u8]) -> Result<Option<Stats>, ReplyError>;

    /// The path (without the prefix) of a pull of `image`.
    fn pull_path(&self, image: &ImageRef) -> String;

    /// The query of the event stream, given its `filters` JSON.
    fn events_query(&self, filters: String) -> Vec<(&'static str, String)>;
}
