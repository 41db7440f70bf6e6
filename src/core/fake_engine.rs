//! An in-process fake engine for the core's unit tests (ops and reconciler): containers
//! in a map, calls counted, failures injectable, event streams driven by the test. The
//! engines themselves are tested against the real daemons in the integration suites.

use crate::core::error::RuntimeError;
use crate::core::model::*;
use crate::core::names::*;
use crate::core::runtime::*;
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The full (64 hex digits) id the fake engine gives the container `name`.
pub(crate) fn fake_id(name: &str) -> String {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}").repeat(4)
}

/// A fake engine: containers in a map, calls counted, failures injectable.
pub(crate) struct FakeEngine {
    kind: RuntimeKind,
    /// The engine's containers (shared by the two access paths of one engine).
    pub(crate) containers: Arc<Mutex<HashMap<String, EngineContainer>>>,
    /// `create` calls that reached the engine.
    pub(crate) creates: AtomicUsize,
    /// `inspect` calls that reached the engine.
    pub(crate) inspects: AtomicUsize,
    /// The error the next `start` fails with.
    pub(crate) fail_start: Mutex<Option<RuntimeError>>,
    /// Every call answers `Unavailable` while set.
    pub(crate) unavailable: AtomicBool,
    /// Names `stop` was called for, in order.
    pub(crate) stops: Mutex<Vec<String>>,
    /// Event streams handed out by the next `watch` calls, in order.
    streams: Mutex<Vec<smol::channel::Receiver<EngineEvent>>>,
    /// What `image_inventory` answers.
    pub(crate) inventory: Mutex<crate::core::image_gc::ImageInventory>,
    /// References `remove_image` was called for, in order.
    pub(crate) removed_images: Mutex<Vec<String>>,
}

impl FakeEngine {
    /// An engine with containers of its own.
    pub(crate) fn new(kind: RuntimeKind) -> Arc<Self> {
        Self::sharing(kind, Arc::default())
    }

    /// An access path to an engine whose containers `containers` holds.
    pub(crate) fn sharing(
        kind: RuntimeKind,
        containers: Arc<Mutex<HashMap<String, EngineContainer>>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            kind,
            containers,
            creates: AtomicUsize::new(0),
            inspects: AtomicUsize::new(0),
            fail_start: Mutex::new(None),
            unavailable: AtomicBool::new(false),
            stops: Mutex::default(),
            streams: Mutex::default(),
            inventory: Mutex::default(),
            removed_images: Mutex::default(),
        })
    }

    /// Puts a managed container (labels: the managed label, the device label of the
    /// unit tests' device `dev1`, and `app=<name>`) into the engine, as if made or
    /// changed behind the agent's back.
    pub(crate) fn put(&self, name: &str, state: ContainerState, exit_code: Option<i64>) {
        let labels = BTreeMap::from([
            (MANAGED_LABEL.to_owned(), "true".to_owned()),
            (DEVICE_LABEL.to_owned(), "dev1".to_owned()),
            ("app".to_owned(), name.to_owned()),
        ]);
        self.containers.lock().unwrap().insert(
            name.to_owned(),
            EngineContainer {
                id: fake_id(name),
                name: name.to_owned(),
                image: "busybox:latest".into(),
                state,
                exit_code,
                labels,
                ip: None,
            },
        );
    }

    /// Queues an event stream for the next `watch`; returns its sender.
    pub(crate) fn stream(&self) -> smol::channel::Sender<EngineEvent> {
        let (tx, rx) = smol::channel::unbounded();
        self.streams.lock().unwrap().push(rx);
        tx
    }

    fn check(&self) -> Result<(), RuntimeError> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(RuntimeError::Unavailable {
                runtime: self.kind,
                reason: "down".into(),
            });
        }
        Ok(())
    }

    fn with<T>(
        &self,
        name: &ContainerName,
        f: impl FnOnce(&mut EngineContainer) -> T,
    ) -> Result<T, RuntimeError> {
        self.check()?;
        let mut map = self.containers.lock().unwrap();
        // Like the engines: a full id first, then a name.
        let key = map
            .values()
            .find(|c| c.id == name.as_str())
            .map_or_else(|| name.to_string(), |c| c.name.clone());
        let c = map.get_mut(&key).ok_or_else(|| RuntimeError::NotFound {
            runtime: self.kind,
            what: format!("container '{name}'"),
        })?;
        Ok(f(c))
    }

    fn set_state(
        &self,
        name: &ContainerName,
        state: ContainerState,
        exit: Option<i64>,
    ) -> Result<(), RuntimeError> {
        self.with(name, |c| {
            c.state = state;
            c.exit_code = exit;
        })
    }
}

#[async_trait]
impl Runtime for FakeEngine {
    fn kind(&self) -> RuntimeKind {
        self.kind
    }
    async fn data_root(&self) -> Result<std::path::PathBuf, RuntimeError> {
        self.check().map(|()| std::env::temp_dir())
    }
    async fn version(&self) -> Result<String, RuntimeError> {
        self.check().map(|()| "1.0-fake".into())
    }
    async fn create(&self, spec: &ContainerSpec) -> Result<String, RuntimeError> {
        self.check()?;
        self.creates.fetch_add(1, Ordering::SeqCst);
        let mut labels = spec.labels.clone();
        labels.insert(MANAGED_LABEL.into(), "true".into());
        let id = fake_id(spec.name.as_str());
        self.containers.lock().unwrap().insert(
            spec.name.to_string(),
            EngineContainer {
                id: id.clone(),
                name: spec.name.to_string(),
                image: spec.image.to_string(),
                state: ContainerState::Created,
                exit_code: None,
                labels,
                ip: None,
            },
        );
        Ok(id)
    }
    async fn start(&self, name: &ContainerName) -> Result<(), RuntimeError> {
        if let Some(e) = self.fail_start.lock().unwrap().take() {
            return Err(e);
        }
        self.set_state(name, ContainerState::Running, None)
    }
    async fn stop(&self, name: &ContainerName, _: Option<u32>) -> Result<(), RuntimeError> {
        // By the container's name, whether the op addressed it by name or by id.
        let named = self.with(name, |c| c.name.clone());
        let named = named.unwrap_or_else(|_| name.to_string());
        self.stops.lock().unwrap().push(named);
        self.set_state(name, ContainerState::Exited, Some(143))
    }
    async fn restart(&self, name: &ContainerName, _: Option<u32>) -> Result<(), RuntimeError> {
        self.set_state(name, ContainerState::Running, None)
    }
    async fn kill(&self, name: &ContainerName, _: SignalName) -> Result<(), RuntimeError> {
        self.set_state(name, ContainerState::Exited, Some(137))
    }
    async fn remove(&self, name: &ContainerName, _: bool) -> Result<(), RuntimeError> {
        let key = self.with(name, |c| c.name.clone())?;
        self.containers.lock().unwrap().remove(&key);
        Ok(())
    }
    async fn rename(&self, from: &ContainerName, to: &ContainerName) -> Result<(), RuntimeError> {
        let mut c = self.with(from, |c| c.clone())?;
        let mut all = self.containers.lock().unwrap();
        all.remove(&c.name);
        c.name = to.to_string();
        all.insert(to.to_string(), c);
        Ok(())
    }
    async fn inspect(&self, name: &ContainerName) -> Result<EngineContainer, RuntimeError> {
        self.inspects.fetch_add(1, Ordering::SeqCst);
        self.with(name, |c| c.clone())
    }
    async fn list_managed(&self) -> Result<Vec<EngineContainer>, RuntimeError> {
        self.check()?;
        Ok(self.containers.lock().unwrap().values().cloned().collect())
    }
    async fn logs(
        &self,
        name: &ContainerName,
        _: &LogOptions,
    ) -> Result<Vec<String>, RuntimeError> {
        self.with(name, |_| vec!["line".to_owned()])
    }
    async fn stats(&self, name: &ContainerName) -> Result<Stats, RuntimeError> {
        self.with(name, |_| Stats {
            pids: 1,
            ..Default::default()
        })
    }
    async fn pull(
        &self,
        _: &ImageRef,
        _: Option<&RegistryAuth>,
    ) -> Result<PulledImage, RuntimeError> {
        self.check().map(|()| PulledImage {
            id: "sha256:1".into(),
        })
    }
    async fn images(&self) -> Result<Vec<ImageInfo>, RuntimeError> {
        self.check().map(|()| Vec::new())
    }
    async fn remove_image(&self, image: &ImageRef, _: bool) -> Result<(), RuntimeError> {
        self.check()?;
        self.removed_images.lock().unwrap().push(image.to_string());
        Ok(())
    }
    async fn image_inventory(&self) -> Result<crate::core::image_gc::ImageInventory, RuntimeError> {
        self.check()
            .map(|()| self.inventory.lock().unwrap().clone())
    }
    async fn exec(
        &self,
        name: &ContainerName,
        _: &[String],
        _: std::time::Duration,
    ) -> Result<i64, RuntimeError> {
        self.inspect(name).await.map(|_| 0)
    }
    async fn watch(&self) -> Result<EngineEvents, RuntimeError> {
        let mut streams = self.streams.lock().unwrap();
        if streams.is_empty() {
            return Err(RuntimeError::Unavailable {
                runtime: self.kind,
                reason: "no stream queued".into(),
            });
        }
        Ok(Box::pin(streams.remove(0)))
    }
}
