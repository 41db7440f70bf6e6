//! Unit tests of reconciliation on an in-process fake engine whose event stream the test
//! drives, and the memory store: adoption, missing, state following, intent, and the
//! reconnect with a full reconcile.

use super::*;
use crate::core::command::{Command, Request};
use crate::core::events::ContainerEvent;
use crate::core::model::*;
use crate::core::names::*;
use crate::core::reconcile::{ACTION_ADOPT, ACTION_DESTROY, ACTION_DIE, ACTION_INTENT_STOP};
use crate::core::runtime::*;
use crate::core::store::{ReplyCacheLimits, Store};
use crate::store::memory::MemoryStore;
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// A fake engine: containers in a map; each `watch` hands out the next queued stream.
struct FakeEngine {
    kind: RuntimeKind,
    containers: Mutex<HashMap<String, EngineContainer>>,
    streams: Mutex<Vec<smol::channel::Receiver<EngineEvent>>>,
    stops: Mutex<Vec<String>>,
}

impl FakeEngine {
    fn new(kind: RuntimeKind) -> Arc<Self> {
        Arc::new(Self {
            kind,
            containers: Mutex::default(),
            streams: Mutex::default(),
            stops: Mutex::default(),
        })
    }

    fn put(&self, name: &str, state: ContainerState, exit_code: Option<i64>) {
        let labels = BTreeMap::from([
            (MANAGED_LABEL.to_owned(), "true".to_owned()),
            ("app".to_owned(), name.to_owned()),
        ]);
        self.containers.lock().unwrap().insert(
            name.to_owned(),
            EngineContainer {
                id: format!("id-{name}"),
                name: name.to_owned(),
                image: "busybox:latest".into(),
                state,
                exit_code,
                labels,
            },
        );
    }

    /// Queues a stream for the next `watch`; returns its sender.
    fn stream(&self) -> smol::channel::Sender<EngineEvent> {
        let (tx, rx) = smol::channel::unbounded();
        self.streams.lock().unwrap().push(rx);
        tx
    }

    fn not_found(&self, name: &ContainerName) -> RuntimeError {
        RuntimeError::NotFound {
            runtime: self.kind.as_str(),
            what: format!("container '{name}'"),
        }
    }

    fn unsupported(&self) -> RuntimeError {
        RuntimeError::Unsupported {
            runtime: self.kind.as_str(),
            what: "this in the fake".into(),
        }
    }
}

#[async_trait]
impl Runtime for FakeEngine {
    fn kind(&self) -> RuntimeKind {
        self.kind
    }
    async fn version(&self) -> Result<String, RuntimeError> {
        Ok("fake".into())
    }
    async fn create(&self, spec: &ContainerSpec) -> Result<String, RuntimeError> {
        self.put(spec.name.as_str(), ContainerState::Created, None);
        Ok(format!("id-{}", spec.name))
    }
    async fn start(&self, name: &ContainerName) -> Result<(), RuntimeError> {
        self.put(name.as_str(), ContainerState::Running, None);
        Ok(())
    }
    async fn stop(&self, name: &ContainerName, _: Option<u32>) -> Result<(), RuntimeError> {
        self.stops.lock().unwrap().push(name.to_string());
        self.put(name.as_str(), ContainerState::Exited, Some(143));
        Ok(())
    }
    async fn restart(&self, name: &ContainerName, _: Option<u32>) -> Result<(), RuntimeError> {
        self.start(name).await
    }
    async fn kill(&self, name: &ContainerName, _: SignalName) -> Result<(), RuntimeError> {
        self.put(name.as_str(), ContainerState::Exited, Some(137));
        Ok(())
    }
    async fn remove(&self, name: &ContainerName, _: bool) -> Result<(), RuntimeError> {
        self.containers.lock().unwrap().remove(name.as_str());
        Ok(())
    }
    async fn inspect(&self, name: &ContainerName) -> Result<EngineContainer, RuntimeError> {
        let map = self.containers.lock().unwrap();
        map.get(name.as_str())
            .cloned()
            .ok_or_else(|| self.not_found(name))
    }
    async fn list_managed(&self) -> Result<Vec<EngineContainer>, RuntimeError> {
        Ok(self.containers.lock().unwrap().values().cloned().collect())
    }
    async fn logs(&self, _: &ContainerName, _: &LogOptions) -> Result<Vec<String>, RuntimeError> {
        Err(self.unsupported())
    }
    async fn stats(&self, _: &ContainerName) -> Result<Stats, RuntimeError> {
        Err(self.unsupported())
    }
    async fn pull(
        &self,
        _: &ImageRef,
        _: Option<&RegistryAuth>,
    ) -> Result<PulledImage, RuntimeError> {
        Err(self.unsupported())
    }
    async fn images(&self) -> Result<Vec<ImageInfo>, RuntimeError> {
        Err(self.unsupported())
    }
    async fn remove_image(&self, _: &ImageRef, _: bool) -> Result<(), RuntimeError> {
        Err(self.unsupported())
    }
    async fn watch(&self) -> Result<EngineEvents, RuntimeError> {
        let mut streams = self.streams.lock().unwrap();
        if streams.is_empty() {
            return Err(RuntimeError::Unavailable {
                runtime: self.kind.as_str(),
                reason: "no stream queued".into(),
            });
        }
        Ok(Box::pin(streams.remove(0)))
    }
}

fn service(docker: &Arc<FakeEngine>, podman: &Arc<FakeEngine>) -> Arc<ContainerService> {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(ReplyCacheLimits::default()));
    let runtimes: Vec<Arc<dyn Runtime>> = vec![docker.clone(), podman.clone()];
    Arc::new(ContainerService::new(
        store,
        runtimes,
        RuntimeKind::DockerApi,
        "dev1".into(),
    ))
}

fn name(s: &str) -> ContainerName {
    ContainerName::parse(s).unwrap()
}

async fn record(service: &ContainerService, n: &str) -> Option<Container> {
    service.store().get_container(&name(n)).await.unwrap()
}

async fn run_op(service: &ContainerService, command: Command) {
    let reply = service
        .execute(Request {
            id: None,
            runtime: None,
            reply_to: None,
            command,
        })
        .await;
    assert!(reply.error().is_none(), "{reply:?}");
}

fn create(n: &str) -> Command {
    let spec = serde_json::from_value(serde_json::json!({"name": n, "image": "busybox"})).unwrap();
    Command::Create { spec, start: true }
}

/// Waits (polling the store, on the test's executor) until `n` satisfies `ok`.
async fn until(service: &ContainerService, n: &str, ok: impl Fn(&Option<Container>) -> bool) {
    for _ in 0..500 {
        if ok(&record(service, n).await) {
            return;
        }
        smol::Timer::after(Duration::from_millis(10)).await;
    }
    panic!(
        "'{n}' never reached the expected record: {:?}",
        record(service, n).await
    );
}

#[test]
fn full_reconcile_marks_missing_adopts_and_follows() {
    smol::block_on(async {
        let docker = FakeEngine::new(RuntimeKind::DockerApi);
        let podman = FakeEngine::new(RuntimeKind::PodmanApi);
        let service = service(&docker, &podman);
        let events = service.events().subscribe();
        run_op(&service, create("gone")).await;
        run_op(&service, create("dies")).await;
        run_op(&service, create("other")).await;
        // The podman record of the same engine family must not be touched by docker.
        let mut p = record(&service, "other").await.unwrap();
        p.runtime = RuntimeKind::PodmanApi;
        service.store().put_container(&p).await.unwrap();
        while events.try_recv().is_ok() {}

        docker.containers.lock().unwrap().remove("gone");
        docker.put("dies", ContainerState::Exited, Some(3));
        docker.put("stray", ContainerState::Running, None);
        let rt: Arc<dyn Runtime> = docker.clone();
        let changed = service.reconcile_engine(&rt).await.unwrap();
        assert_eq!(changed, 3);

        assert_eq!(
            record(&service, "gone").await.unwrap().state,
            ContainerState::Missing
        );
        let dies = record(&service, "dies").await.unwrap();
        assert_eq!(
            (dies.state, dies.exit_code),
            (ContainerState::Exited, Some(3))
        );
        let stray = record(&service, "stray").await.unwrap();
        assert_eq!(stray.runtime, RuntimeKind::DockerApi);
        assert_eq!(stray.state, ContainerState::Running);
        assert_eq!(stray.spec.image.as_str(), "busybox:latest");
        assert_eq!(
            stray.spec.labels,
            BTreeMap::from([("app".to_owned(), "stray".to_owned())])
        );
        assert_eq!(record(&service, "other").await.unwrap(), p);

        let mut actions: Vec<(String, &str)> = std::iter::from_fn(|| events.try_recv().ok())
            .map(|e: ContainerEvent| (e.name, e.action))
            .collect();
        actions.sort();
        assert_eq!(
            actions,
            [
                ("dies".to_owned(), ACTION_DIE),
                ("gone".to_owned(), ACTION_DESTROY),
                ("stray".to_owned(), ACTION_ADOPT)
            ]
        );
        // A second pass finds nothing to change.
        assert_eq!(service.reconcile_engine(&rt).await.unwrap(), 0);
    });
}

#[test]
fn a_container_a_client_stopped_is_stopped_again() {
    smol::block_on(async {
        let docker = FakeEngine::new(RuntimeKind::DockerApi);
        let service = service(&docker, &FakeEngine::new(RuntimeKind::PodmanApi));
        run_op(&service, create("web")).await;
        run_op(&service, create("api")).await;
        run_op(
            &service,
            Command::Stop {
                name: name("web"),
                timeout_s: None,
            },
        )
        .await;
        assert_eq!(
            record(&service, "web").await.unwrap().intent,
            Intent::Stopped
        );
        assert_eq!(
            record(&service, "api").await.unwrap().intent,
            Intent::Running
        );
        // The engine brings both back by itself (e.g. restart policy at daemon start);
        // `api` exits by itself.
        docker.put("web", ContainerState::Running, None);
        docker.put("api", ContainerState::Exited, Some(1));
        let rt: Arc<dyn Runtime> = docker.clone();
        let events = service.events().subscribe();
        let web = service.reconcile_name(&rt, &name("web")).await.unwrap();
        assert_eq!(web.map(|c| c.state), Some(ContainerState::Exited));
        assert_eq!(events.try_recv().unwrap().action, ACTION_INTENT_STOP);
        let api = service.reconcile_name(&rt, &name("api")).await.unwrap();
        assert_eq!(api.map(|c| c.state), Some(ContainerState::Exited));
        assert_eq!(*docker.stops.lock().unwrap(), ["web", "web"]);
    });
}

#[test]
fn events_update_records_and_a_reconnect_reconciles_everything() {
    let docker = FakeEngine::new(RuntimeKind::DockerApi);
    let podman = FakeEngine::new(RuntimeKind::PodmanApi);
    let service = service(&docker, &podman);
    let first = docker.stream();
    let executor = smol::Executor::new();
    let task = executor.spawn(run(service.clone()));
    smol::block_on(executor.run(async {
        run_op(&service, create("web")).await;
        let events = service.events().subscribe();
        docker.put("web", ContainerState::Exited, Some(137));
        first
            .send(EngineEvent {
                name: "web".into(),
                action: "die".into(),
            })
            .await
            .unwrap();
        until(&service, "web", |r| {
            r.as_ref().is_some_and(|c| c.exit_code == Some(137))
        })
        .await;
        let event = events.recv().await.unwrap();
        assert_eq!(
            (event.action, event.state),
            (ACTION_DIE, ContainerState::Exited)
        );

        // The engine goes away; while it is gone a container vanishes, another appears.
        let second = docker.stream();
        drop(first);
        docker.containers.lock().unwrap().remove("web");
        docker.put("late", ContainerState::Running, None);
        until(&service, "web", |r| {
            r.as_ref()
                .is_some_and(|c| c.state == ContainerState::Missing)
        })
        .await;
        until(&service, "late", |r| r.is_some()).await;
        drop(second);
    }));
    drop(task);
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let mut b = Backoff(BACKOFF_MIN);
    let waits: Vec<u64> = (0..8).map(|_| b.next_wait().as_secs()).collect();
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
    b.reset();
    assert_eq!(b.next_wait(), BACKOFF_MIN);
}

#[test]
fn the_device_label_scopes_adoption_but_not_records() {
    smol::block_on(async {
        let docker = FakeEngine::new(RuntimeKind::DockerApi);
        let podman = FakeEngine::new(RuntimeKind::PodmanApi);
        let service = service(&docker, &podman);
        run_op(&service, create("mine")).await;
        let label = |n: &str, device: &str| {
            docker
                .containers
                .lock()
                .unwrap()
                .get_mut(n)
                .unwrap()
                .labels
                .insert(DEVICE_LABEL.to_owned(), device.to_owned());
        };
        // Our own record, although the engine says another device made it (its device
        // id changed): still followed, never marked missing.
        label("mine", "old-id");
        docker.put("theirs", ContainerState::Running, None);
        label("theirs", "dev2");
        docker.put("ours", ContainerState::Running, None);
        label("ours", "dev1");
        docker.put("by-hand", ContainerState::Running, None);
        let rt: Arc<dyn Runtime> = docker.clone();
        service.reconcile_engine(&rt).await.unwrap();
        assert_eq!(
            record(&service, "mine").await.unwrap().state,
            ContainerState::Running
        );
        assert!(
            record(&service, "theirs").await.is_none(),
            "another device's"
        );
        assert!(record(&service, "ours").await.is_some());
        assert!(record(&service, "by-hand").await.is_some());
    });
}
