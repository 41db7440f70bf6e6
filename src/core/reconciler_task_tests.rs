//! Unit tests of reconciliation on an in-process fake engine whose event stream the test
//! drives, and the memory store: adoption, missing, state following, intent, and the
//! reconnect with a full reconcile.

use super::*;
use crate::core::command::{Command, Request};
use crate::core::events::{ContainerEvent, EventAction};
use crate::core::fake_engine::FakeEngine;
use crate::core::model::*;
use crate::core::names::*;
use crate::core::reconcile_queue::{NameQueue, QueueState};
use crate::core::reply::Reply;
use crate::core::runtime::*;
use crate::core::store::{ReplyCacheLimits, Store};
use crate::store::memory::MemoryStore;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

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

        let mut actions: Vec<(String, EventAction)> = std::iter::from_fn(|| events.try_recv().ok())
            .filter_map(|e| e.into_container())
            .map(|e: ContainerEvent| (e.name, e.action))
            .collect();
        actions.sort();
        assert_eq!(
            actions,
            [
                ("dies".to_owned(), EventAction::EngineDie),
                ("gone".to_owned(), EventAction::EngineDestroy),
                ("stray".to_owned(), EventAction::EngineAdopt)
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
        assert_eq!(
            events
                .try_recv()
                .ok()
                .and_then(|e| e.into_container())
                .map(|e| e.action),
            Some(EventAction::IntentStop)
        );
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
    let task = executor.spawn(run(service.clone(), Schedule::default()));
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
        let event = events.recv().await.unwrap().into_container().unwrap();
        assert_eq!(
            (event.action, event.state),
            (EventAction::EngineDie, ContainerState::Exited)
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
        docker
            .containers
            .lock()
            .unwrap()
            .get_mut("by-hand")
            .unwrap()
            .labels
            .remove(DEVICE_LABEL);
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
        assert!(
            record(&service, "by-hand").await.is_none(),
            "a bare managed label (baked into an image, set by hand) is not adopted"
        );
    });
}

/// Runs the reconciler with `schedule` on a fresh executor next to `body`, whose
/// containers live in the fake docker engine (its first event stream is `stream`).
fn with_reconciler<F: std::future::Future<Output = ()>>(
    schedule: Schedule,
    body: impl FnOnce(Arc<ContainerService>, Arc<FakeEngine>, smol::channel::Sender<EngineEvent>) -> F,
) {
    let docker = FakeEngine::new(RuntimeKind::DockerApi);
    let service = service(&docker, &FakeEngine::new(RuntimeKind::PodmanApi));
    let stream = docker.stream();
    let executor = smol::Executor::new();
    let task = executor.spawn(run(service.clone(), schedule));
    smol::block_on(executor.run(body(service, docker, stream)));
    drop(task);
}

fn die(n: &str) -> EngineEvent {
    EngineEvent {
        name: n.into(),
        action: "die".into(),
    }
}

#[test]
fn a_name_held_by_a_long_op_does_not_stall_the_other_names() {
    with_reconciler(Schedule::default(), |service, docker, stream| async move {
        run_op(&service, create("slow")).await;
        run_op(&service, create("web")).await;
        // What a `stop` with `timeout_s = 3600` does to "slow": holds its name lock.
        let held = service.lock_name(&name("slow")).await;
        docker.put("slow", ContainerState::Exited, Some(0));
        docker.put("web", ContainerState::Exited, Some(137));
        stream.send(die("slow")).await.unwrap();
        stream.send(die("web")).await.unwrap();
        until(&service, "web", |r| {
            r.as_ref().is_some_and(|c| c.exit_code == Some(137))
        })
        .await;
        assert_eq!(
            record(&service, "slow").await.unwrap().state,
            ContainerState::Running,
            "reconciled under a held lock"
        );
        drop(held);
        until(&service, "slow", |r| {
            r.as_ref()
                .is_some_and(|c| c.state == ContainerState::Exited)
        })
        .await;
    });
}

#[test]
fn events_for_a_busy_name_coalesce_into_one_more_pass() {
    smol::block_on(async {
        let docker = FakeEngine::new(RuntimeKind::DockerApi);
        let service = service(&docker, &FakeEngine::new(RuntimeKind::PodmanApi));
        run_op(&service, create("busy")).await;
        let rt: Arc<dyn Runtime> = docker.clone();
        let state = QueueState::new();
        let executor = smol::Executor::new();
        let queue = NameQueue::new(&service, &rt, &executor, &state);
        let held = service.lock_name(&name("busy")).await;
        for _ in 0..50 {
            queue.push(name("busy"), Told::Unknown);
        }
        queue.push(name("other"), Told::Unknown);
        // One task per name however many events came.
        assert_eq!(queue.len(), 2);
        docker.put("busy", ContainerState::Exited, Some(2));
        drop(held);
        executor
            .run(until(&service, "busy", |r| {
                r.as_ref().is_some_and(|c| c.exit_code == Some(2))
            }))
            .await;
        executor
            .run(async {
                while queue.len() > 0 {
                    smol::Timer::after(Duration::from_millis(5)).await;
                }
            })
            .await;
    });
}

#[test]
fn a_periodic_resync_catches_what_no_event_told() {
    let schedule = Schedule {
        resync: Duration::from_millis(50),
        ..Schedule::default()
    };
    with_reconciler(schedule, |service, docker, stream| async move {
        run_op(&service, create("quiet")).await;
        // The stream is followed (so the reconcile at its opening is done) ...
        docker.put("quiet", ContainerState::Exited, Some(1));
        stream.send(die("quiet")).await.unwrap();
        until(&service, "quiet", |r| {
            r.as_ref().is_some_and(|c| c.exit_code == Some(1))
        })
        .await;
        // ... then the engine changes and never says so; the stream stays open.
        docker.put("quiet", ContainerState::Exited, Some(9));
        until(&service, "quiet", |r| {
            r.as_ref().is_some_and(|c| c.exit_code == Some(9))
        })
        .await;
        drop(stream);
    });
}

async fn inspect(service: &ContainerService, n: &str) -> Reply {
    service
        .execute(Request {
            id: None,
            runtime: None,
            command: Command::Inspect { name: name(n) },
        })
        .await
}

#[test]
fn inspect_serves_live_records_without_the_engine_and_asks_it_otherwise() {
    with_reconciler(Schedule::default(), |service, docker, stream| async move {
        run_op(&service, create("web")).await;
        docker.put("web", ContainerState::Exited, Some(4));
        stream.send(die("web")).await.unwrap();
        until(&service, "web", |r| {
            r.as_ref().is_some_and(|c| c.exit_code == Some(4))
        })
        .await;
        // Followed and caught up: the record answers, the engine is not asked.
        docker
            .unavailable
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let reply = inspect(&service, "web").await;
        assert!(reply.error().is_none(), "{reply:?}");
        // The stream ends: the engine is asked again.
        drop(stream);
        let mut asked = false;
        for _ in 0..500 {
            if inspect(&service, "web").await.error().is_some() {
                asked = true;
                break;
            }
            smol::Timer::after(Duration::from_millis(10)).await;
        }
        assert!(
            asked,
            "inspect kept serving the record of an engine no longer followed"
        );
    });
}

#[test]
fn an_engine_that_never_answers_is_unavailable_after_the_deadline() {
    smol::block_on(async {
        let rt: Arc<dyn Runtime> = FakeEngine::new(RuntimeKind::DockerApi);
        let never = std::future::pending::<Result<(), RuntimeError>>();
        let e = within_deadline(&rt, "the event stream", Duration::from_millis(20), never)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, RuntimeError::Unavailable { reason, .. }
                if reason == "the event stream did not answer within 20ms"),
            "{e:?}"
        );
        let answers = async { Ok::<_, RuntimeError>(7) };
        assert_eq!(
            within_deadline(&rt, "x", Duration::from_secs(5), answers).await,
            Ok(7)
        );
    });
}

#[test]
fn events_the_record_already_says_cost_no_inspect_and_others_are_read() {
    let docker = FakeEngine::new(RuntimeKind::DockerApi);
    let podman = FakeEngine::new(RuntimeKind::PodmanApi);
    let service = service(&docker, &podman);
    let stream = docker.stream();
    let executor = smol::Executor::new();
    let task = executor.spawn(run(service.clone(), Schedule::default()));
    smol::block_on(executor.run(async {
        let send = |action: &str| {
            let event = EngineEvent {
                name: "web".into(),
                action: action.into(),
            };
            let stream = stream.clone();
            async move { stream.send(event).await.unwrap() }
        };
        let idle = |service: Arc<ContainerService>| async move {
            for _ in 0..500 {
                if service.live.is_live(Engine::Docker, &name("web")) {
                    return;
                }
                smol::Timer::after(Duration::from_millis(10)).await;
            }
            panic!("the events of 'web' were never reconciled");
        };
        run_op(&service, create("web")).await;
        idle(service.clone()).await;
        // The events of the client's own create and start: the record says running.
        let before = docker.inspects.load(Ordering::SeqCst);
        send("create").await;
        send("start").await;
        send("exec_start: sh -c true").await;
        idle(service.clone()).await;
        assert_eq!(docker.inspects.load(Ordering::SeqCst), before);
        // It crashes: `die` says a state the record does not have, and is read.
        docker.put("web", ContainerState::Exited, Some(3));
        send("die").await;
        until(&service, "web", |r| {
            r.as_ref().is_some_and(|c| c.exit_code == Some(3))
        })
        .await;
        // Started and crashed again behind the agent's back, both events before the
        // reconcile: two states, read from the engine.
        docker.put("web", ContainerState::Exited, Some(4));
        send("start").await;
        send("die").await;
        until(&service, "web", |r| {
            r.as_ref().is_some_and(|c| c.exit_code == Some(4))
        })
        .await;
    }));
    drop(task);
}
