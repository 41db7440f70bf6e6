//! Errors of the core and the contract's error codes they map onto.

use super::model::RuntimeKind;
use serde::{Deserialize, Serialize};

/// The contract's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Malformed bytes, wrong types, unknown op or field, bad name or image.
    InvalidRequest,
    /// Refused by policy or auth.
    Forbidden,
    /// No such container or image.
    NotFound,
    /// Name in use, container in the wrong state.
    Conflict,
    /// Request or reply over a size limit.
    TooLarge,
    /// Op not supported by that runtime.
    Unsupported,
    /// The engine refused or failed.
    RuntimeError,
    /// The engine cannot be reached.
    RuntimeUnavailable,
    /// The database failed.
    StoreError,
    /// Anything else.
    Internal,
    /// The engine's data root has less free space than `policy.min_free_bytes`.
    InsufficientStorage,
}

impl ErrorCode {
    /// Every code, for exhaustive tests and metrics.
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::InvalidRequest,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::TooLarge,
        ErrorCode::Unsupported,
        ErrorCode::RuntimeError,
        ErrorCode::RuntimeUnavailable,
        ErrorCode::StoreError,
        ErrorCode::Internal,
        ErrorCode::InsufficientStorage,
    ];

    /// The wire spelling, e.g. `not_found`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::RuntimeError => "runtime_error",
            ErrorCode::RuntimeUnavailable => "runtime_unavailable",
            ErrorCode::StoreError => "store_error",
            ErrorCode::Internal => "internal",
            ErrorCode::InsufficientStorage => "insufficient_storage",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// An error as it goes on the wire: a code and a message for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ErrorBody {
    /// The contract's code.
    pub code: ErrorCode,
    /// What went wrong and, where possible, what to do about it.
    pub message: String,
}

impl ErrorBody {
    /// Builds an error body.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Errors a runtime adapter reports; each maps onto one contract code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// The engine has no such container or image.
    #[error("{what} not found in {runtime}")]
    NotFound {
        /// The access path.
        runtime: RuntimeKind,
        /// e.g. `container 'web'`.
        what: String,
    },
    /// The engine refused because of a conflict (name in use, wrong state).
    #[error("{runtime}: {message}")]
    Conflict {
        /// The access path.
        runtime: RuntimeKind,
        /// The engine's message.
        message: String,
    },
    /// The engine cannot be reached.
    #[error("{runtime} is unavailable: {reason}")]
    Unavailable {
        /// The access path.
        runtime: RuntimeKind,
        /// Why (socket missing, binary missing, connection refused...).
        reason: String,
    },
    /// The engine refused or failed; the message is the engine's.
    #[error("{runtime}: {message}")]
    Engine {
        /// The access path.
        runtime: RuntimeKind,
        /// The engine's message.
        message: String,
    },
    /// The op or option is not supported by this access path.
    #[error("{runtime} does not support {what}")]
    Unsupported {
        /// The access path.
        runtime: RuntimeKind,
        /// What is not supported, and why.
        what: String,
    },
    /// The engine's reply (or a CLI's output) is over the size the agent reads; the
    /// call was cut off there (the CLI child killed) and nothing of it kept.
    #[error("{runtime}: {what} is more than {limit} bytes{hint}")]
    TooLarge {
        /// The access path.
        runtime: RuntimeKind,
        /// What was read, e.g. `the log of container 'web'`.
        what: String,
        /// The bound.
        limit: u64,
        /// What to do about it, with the key that sets the bound (may be empty).
        hint: &'static str,
    },
    /// The engine answered something this adapter cannot read (a reply or CLI output).
    #[error("{runtime}: {source}")]
    BadReply {
        /// The access path.
        runtime: RuntimeKind,
        /// What was wrong with it.
        #[source]
        source: Cause,
    },
}

/// The underlying error of a [`RuntimeError`], shared so that the error stays `Clone`;
/// two causes are equal when they say the same.
#[derive(Debug, Clone)]
pub struct Cause(std::sync::Arc<dyn std::error::Error + Send + Sync>);

impl Cause {
    /// Keeps `error` as a cause.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(error))
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Cause {}

impl RuntimeError {
    /// The contract code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            RuntimeError::NotFound { .. } => ErrorCode::NotFound,
            RuntimeError::Conflict { .. } => ErrorCode::Conflict,
            RuntimeError::Unavailable { .. } => ErrorCode::RuntimeUnavailable,
            RuntimeError::Engine { .. } | RuntimeError::BadReply { .. } => ErrorCode::RuntimeError,
            RuntimeError::Unsupported { .. } => ErrorCode::Unsupported,
            RuntimeError::TooLarge { .. } => ErrorCode::TooLarge,
        }
    }
}

/// Errors a store reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened.
    #[error("cannot open the {backend} store at {location}: {reason}")]
    Open {
        /// `lmdb`, `redis`, `memory`.
        backend: &'static str,
        /// Path or URL.
        location: String,
        /// Why.
        reason: String,
    },
    /// A read failed.
    #[error("{backend} store: reading '{key}' failed: {reason}")]
    Read {
        /// Backend name.
        backend: &'static str,
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// A write failed.
    #[error("{backend} store: writing '{key}' failed: {reason}")]
    Write {
        /// Backend name.
        backend: &'static str,
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The database is full (LMDB map size reached).
    #[error("{backend} store is full writing '{key}': raise store.map_size_mb in the config")]
    Full {
        /// Backend name.
        backend: &'static str,
        /// The key.
        key: String,
    },
    /// A stored value could not be decoded.
    #[error("{backend} store: value of '{key}' is corrupt: {reason}")]
    Corrupt {
        /// Backend name.
        backend: &'static str,
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
}

/// Errors of the core: everything an op can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// No record of that container.
    #[error("container '{0}' not found")]
    ContainerNotFound(String),
    /// The name is taken.
    #[error("container '{name}' already exists (managed by {runtime})")]
    NameInUse {
        /// The name.
        name: String,
        /// Runtime it was created with.
        runtime: &'static str,
    },
    /// The request names another engine than the one the container lives in.
    #[error("container '{name}' is managed by {recorded}; the request named {requested} (use {recorded} or its other access path)")]
    WrongEngine {
        /// The name.
        name: String,
        /// Recorded access path.
        recorded: &'static str,
        /// Requested access path.
        requested: &'static str,
    },
    /// The requested runtime is not built in or not configured.
    #[error("runtime '{0}' is not enabled in this agent")]
    RuntimeNotEnabled(&'static str),
    /// A created container failed to start.
    #[error(
        "container '{name}' was created (state created, record kept) but failed to start: {source}"
    )]
    StartAfterCreate {
        /// The name.
        name: String,
        /// Why the start failed.
        source: RuntimeError,
    },
    /// The engine failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The device's policy refuses the request.
    #[error(transparent)]
    Forbidden(#[from] super::policy::Violation),
    /// A deployment cannot be applied as asked (its generation, a name it shares with an
    /// imperative container, another apply under way, no previous generation).
    #[error("{0}")]
    DeploymentConflict(String),
    /// An imperative op that a deployment-owned container refuses (`remove`).
    #[error("container '{name}' belongs to deployment generation {generation}: change the deployment instead (apply a generation without it)")]
    OwnedByDeployment {
        /// The name.
        name: String,
        /// The generation that created it.
        generation: String,
    },
    /// `logs` asked for more lines than the agent reads.
    #[error(
        "args.tail: {tail} lines is over the maximum of {max} (omit it for the last {default})"
    )]
    TailTooLarge {
        /// The lines asked for.
        tail: u32,
        /// The maximum.
        max: u32,
        /// What no `tail` means.
        default: u32,
    },
    /// The engine's data root has less free space than `policy.min_free_bytes`.
    #[error(
        "{runtime}: {root} has {free} bytes free, below policy.min_free_bytes = {required}; \
         free space on the device (remove unused images: prune_images) or lower the setting"
    )]
    InsufficientStorage {
        /// The access path.
        runtime: &'static str,
        /// The engine's data root.
        root: String,
        /// Bytes free there.
        free: u64,
        /// Bytes the policy requires.
        required: u64,
    },
}

impl CoreError {
    /// The contract code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            CoreError::ContainerNotFound(_) => ErrorCode::NotFound,
            CoreError::NameInUse { .. } | CoreError::WrongEngine { .. } => ErrorCode::Conflict,
            CoreError::RuntimeNotEnabled(_) => ErrorCode::RuntimeUnavailable,
            CoreError::StartAfterCreate { source, .. } => source.code(),
            CoreError::Runtime(e) => e.code(),
            CoreError::Store(_) => ErrorCode::StoreError,
            CoreError::Forbidden(_) => ErrorCode::Forbidden,
            CoreError::DeploymentConflict(_) | CoreError::OwnedByDeployment { .. } => {
                ErrorCode::Conflict
            }
            CoreError::TailTooLarge { .. } => ErrorCode::InvalidRequest,
            CoreError::InsufficientStorage { .. } => ErrorCode::InsufficientStorage,
        }
    }
}

impl From<CoreError> for ErrorBody {
    fn from(e: CoreError) -> Self {
        ErrorBody::new(e.code(), e.to_string())
    }
}
