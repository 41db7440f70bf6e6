//! The `Runtime` trait: one adapter per engine and access path, speaking domain types.

use super::error::RuntimeError;
use super::image_gc::ImageInventory;
use super::model::{ContainerSpec, ContainerState, ImageInfo, RegistryAuth, RuntimeKind, Stats};
use super::names::{ContainerName, ImageRef, SignalName};
use super::since::Since;
use async_trait::async_trait;

/// The label every managed container carries.
pub const MANAGED_LABEL: &str = "io.ctrmgr.managed";

/// The label naming the device (agent) that created a container. Several agents may
/// share one engine (a test host, a gateway running two instances): each adopts only
/// managed containers that carry its own device id, or none (made by hand).
pub const DEVICE_LABEL: &str = "io.ctrmgr.device";

/// What an engine says about one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineContainer {
    /// Engine id.
    pub id: String,
    /// Container name (without Docker's leading `/`).
    pub name: String,
    /// Image reference it was created from.
    pub image: String,
    /// State.
    pub state: ContainerState,
    /// Exit code, when exited.
    pub exit_code: Option<i64>,
    /// Labels.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Its address on the engine's default network, while it runs there (none on the
    /// host network or without a network).
    pub ip: Option<std::net::IpAddr>,
}

/// One container event from an engine's event stream. The core re-inspects the
/// container on each one rather than trusting the event's details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineEvent {
    /// Container name.
    pub name: String,
    /// The engine's word for what happened (`die`, `start`, `destroy`, `died`...).
    pub action: String,
}

/// An engine's live stream of container events of managed containers. It ends when the
/// connection to the engine drops; dropping it closes the connection (or kills the CLI
/// child that reads it).
pub type EngineEvents = std::pin::Pin<Box<dyn futures_lite::Stream<Item = EngineEvent> + Send>>;

/// Result of a pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledImage {
    /// The image id.
    pub id: String,
}

/// How far one layer of a pull has got, as the engine reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerProgress {
    /// The engine's short layer id (12 hex digits).
    pub layer: String,
    /// Bytes done.
    pub current: u64,
    /// Bytes in all, when the engine says.
    pub total: Option<u64>,
    /// Whether this is the layer's final state (downloaded, or already present).
    pub done: bool,
}

/// Where an adapter hands a pull's [`LayerProgress`] as it reads it (from the blocking
/// thread that reads the engine's stream: it must not block).
#[derive(Clone)]
pub struct ProgressSink(std::sync::Arc<dyn Fn(LayerProgress) + Send + Sync>);

impl ProgressSink {
    /// A sink calling `f` for each report.
    pub fn new(f: impl Fn(LayerProgress) + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(f))
    }

    /// Hands one report on.
    pub fn report(&self, progress: LayerProgress) {
        (self.0)(progress);
    }
}

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

/// Options for reading logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    /// Only the last N lines.
    pub tail: Option<u32>,
    /// Only lines since this instant.
    pub since: Option<Since>,
    /// Most bytes of engine output read (`policy.max_log_bytes`); past it the read stops
    /// and the adapter answers [`RuntimeError::TooLarge`].
    ///
    /// [`RuntimeError::TooLarge`]: crate::core::error::RuntimeError::TooLarge
    pub max_bytes: u64,
}

impl Default for LogOptions {
    /// Every line, up to the default `policy.max_log_bytes`.
    fn default() -> Self {
        Self {
            tail: None,
            since: None,
            max_bytes: crate::core::policy::DEFAULT_MAX_LOG_BYTES,
        }
    }
}

/// A container engine reached through one access path. Every method takes validated
/// domain values; an adapter never passes a value where the engine could read it as an
/// option. Adapters add the [`MANAGED_LABEL`] at create.
#[async_trait]
pub trait Runtime: Send + Sync {
    /// Which access path this is.
    fn kind(&self) -> RuntimeKind;
    /// The engine's version; `Unavailable` when it cannot be reached.
    async fn version(&self) -> Result<String, RuntimeError>;
    /// Creates a container; returns its engine id.
    async fn create(&self, spec: &ContainerSpec) -> Result<String, RuntimeError>;
    /// Starts a container (no error when already running).
    async fn start(&self, name: &ContainerName) -> Result<(), RuntimeError>;
    /// Stops a container (no error when already stopped).
    async fn stop(&self, name: &ContainerName, timeout_s: Option<u32>) -> Result<(), RuntimeError>;
    /// Restarts a container.
    async fn restart(
        &self,
        name: &ContainerName,
        timeout_s: Option<u32>,
    ) -> Result<(), RuntimeError>;
    /// Sends a signal.
    async fn kill(&self, name: &ContainerName, signal: SignalName) -> Result<(), RuntimeError>;
    /// Removes a container.
    async fn remove(&self, name: &ContainerName, force: bool) -> Result<(), RuntimeError>;
    /// Renames a container (`from` must exist, `to` must be free). The deployment keeps
    /// a replaced container under another name until the new generation is verified.
    async fn rename(&self, from: &ContainerName, to: &ContainerName) -> Result<(), RuntimeError>;
    /// Live state of one container.
    async fn inspect(&self, name: &ContainerName) -> Result<EngineContainer, RuntimeError>;
    /// Containers carrying the managed label (all states).
    async fn list_managed(&self) -> Result<Vec<EngineContainer>, RuntimeError>;
    /// Log lines (stdout and stderr interleaved as the engine gives them).
    async fn logs(
        &self,
        name: &ContainerName,
        opts: &LogOptions,
    ) -> Result<Vec<String>, RuntimeError>;
    /// One stats sample.
    async fn stats(&self, name: &ContainerName) -> Result<Stats, RuntimeError>;
    /// Pulls an image.
    async fn pull(
        &self,
        image: &ImageRef,
        auth: Option<&RegistryAuth>,
    ) -> Result<PulledImage, RuntimeError>;
    /// Pulls an image, handing each layer's progress to `progress` as the engine
    /// reports it. The default pulls without reporting any (an access path whose engine
    /// output has no progress to read).
    async fn pull_with_progress(
        &self,
        image: &ImageRef,
        auth: Option<&RegistryAuth>,
        progress: ProgressSink,
    ) -> Result<PulledImage, RuntimeError> {
        drop(progress);
        self.pull(image, auth).await
    }
    /// Images the engine has.
    async fn images(&self) -> Result<Vec<ImageInfo>, RuntimeError>;
    /// Removes an image.
    async fn remove_image(&self, image: &ImageRef, force: bool) -> Result<(), RuntimeError>;
    /// Runs `cmd` (no shell) in the running container `name` through the engine's exec,
    /// waiting at most `timeout`; returns its exit code. `Unavailable` when it did not
    /// end in time.
    async fn exec(
        &self,
        name: &ContainerName,
        cmd: &[String],
        timeout: std::time::Duration,
    ) -> Result<i64, RuntimeError>;
    /// Sets the engine's own restart policy of `name` to `no` (records made before the
    /// agent supervised restarts). The default is `Unsupported` (Podman 4 cannot change
    /// it after create).
    async fn clear_restart_policy(&self, _name: &ContainerName) -> Result<(), RuntimeError> {
        Err(RuntimeError::Unsupported {
            runtime: self.kind(),
            what: "changing the restart policy of an existing container".into(),
        })
    }
    /// Where the engine keeps its images (Docker's `DockerRootDir`, Podman's
    /// `store.graphRoot`), for the free-space check before a pull. The default is
    /// `Unsupported`: the core then pulls without the check.
    async fn data_root(&self) -> Result<std::path::PathBuf, RuntimeError> {
        Err(RuntimeError::Unsupported {
            runtime: self.kind(),
            what: "reporting its data root".into(),
        })
    }
    /// Every image with its creation time, and the images every container uses (any
    /// container, managed or not), for `prune_images`. The default is `Unsupported`.
    async fn image_inventory(&self) -> Result<ImageInventory, RuntimeError> {
        Err(RuntimeError::Unsupported {
            runtime: self.kind(),
            what: "listing images with their users (prune_images)".into(),
        })
    }
    /// Opens the engine's stream of events of managed containers. The default is
    /// `Unsupported`: the core then falls back to reconciling every 30 s.
    async fn watch(&self) -> Result<EngineEvents, RuntimeError> {
        Err(RuntimeError::Unsupported {
            runtime: self.kind(),
            what: "event streams".into(),
        })
    }
}
