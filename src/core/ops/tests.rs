//! Unit tests of the ops on an in-process fake engine and the memory store: the
//! decisions of the core (conflicts, runtime choice, records, idempotency), not the
//! engines (those run in the integration suites against the real daemons).

use crate::core::command::{Command, Request};
use crate::core::error::{ErrorCode, RuntimeError};
use crate::core::fake_engine::FakeEngine;
use crate::core::model::*;
use crate::core::names::*;
use crate::core::reply::{OpResult, Outcome, Reply};
use crate::core::request_id::RequestId;
use crate::core::runtime::*;
use crate::core::service::ContainerService;
use crate::core::store::{ReplyCacheLimits, Store};
use crate::store::memory::MemoryStore;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

struct Fixture {
    service: ContainerService,
    docker_cli: Arc<FakeEngine>,
    docker_api: Arc<FakeEngine>,
    podman: Arc<FakeEngine>,
}

fn fixture() -> Fixture {
    let docker_containers = Arc::default();
    let docker_cli = FakeEngine::sharing(RuntimeKind::DockerCli, Arc::clone(&docker_containers));
    let docker_api = FakeEngine::sharing(RuntimeKind::DockerApi, docker_containers);
    let podman = FakeEngine::new(RuntimeKind::PodmanCli);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(ReplyCacheLimits::default()));
    let runtimes: Vec<Arc<dyn Runtime>> =
        vec![docker_cli.clone(), docker_api.clone(), podman.clone()];
    let service = ContainerService::new(store, runtimes, RuntimeKind::DockerApi, "dev1".into());
    Fixture {
        service,
        docker_cli,
        docker_api,
        podman,
    }
}

fn name(s: &str) -> ContainerName {
    ContainerName::parse(s).unwrap()
}

fn spec(n: &str) -> Box<ContainerSpec> {
    serde_json::from_value(serde_json::json!({"name": n, "image": "busybox", "labels": {"app": n}}))
        .unwrap()
}

fn req(command: Command) -> Request {
    Request {
        id: None,
        runtime: None,
        command,
    }
}

fn on(runtime: RuntimeKind, command: Command) -> Request {
    Request {
        runtime: Some(runtime),
        ..req(command)
    }
}

fn container(reply: &Reply) -> &Container {
    match &reply.outcome {
        Outcome::Ok {
            result: OpResult::Container(c),
            ..
        } => c,
        other => panic!("expected a container, got {other:?}"),
    }
}

fn code(reply: &Reply) -> ErrorCode {
    reply
        .error()
        .unwrap_or_else(|| panic!("expected an error, got {reply:?}"))
        .code
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    smol::block_on(f)
}

#[test]
fn create_records_and_starts() {
    run(async {
        let f = fixture();
        let r = f
            .service
            .execute(req(Command::Create {
                spec: spec("web"),
                start: true,
            }))
            .await;
        let c = container(&r);
        assert_eq!(
            (c.state, c.runtime),
            (ContainerState::Running, RuntimeKind::DockerApi)
        );
        assert_eq!(c.id, crate::core::fake_engine::fake_id("web"));
        let stored = f
            .service
            .store()
            .get_container(&name("web"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.state, ContainerState::Running);
    });
}

#[test]
fn duplicate_name_is_a_conflict_across_runtimes() {
    run(async {
        let f = fixture();
        f.service
            .execute(req(Command::Create {
                spec: spec("web"),
                start: false,
            }))
            .await;
        let r = f
            .service
            .execute(on(
                RuntimeKind::PodmanCli,
                Command::Create {
                    spec: spec("web"),
                    start: false,
                },
            ))
            .await;
        assert_eq!(code(&r), ErrorCode::Conflict);
        assert_eq!(
            f.podman.creates.load(Ordering::SeqCst),
            0,
            "nothing reached the engine"
        );
    });
}

#[test]
fn failed_start_keeps_the_created_record() {
    run(async {
        let f = fixture();
        *f.docker_api.fail_start.lock().unwrap() = Some(RuntimeError::Engine {
            runtime: RuntimeKind::DockerApi,
            message: "exec format error".into(),
        });
        let r = f
            .service
            .execute(req(Command::Create {
                spec: spec("web"),
                start: true,
            }))
            .await;
        assert_eq!(code(&r), ErrorCode::RuntimeError);
        let msg = &r.error().unwrap().message;
        assert!(
            msg.contains("was created") && msg.contains("exec format error"),
            "{msg}"
        );
        let stored = f
            .service
            .store()
            .get_container(&name("web"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.state, ContainerState::Created);
    });
}

#[test]
fn ops_use_the_recorded_runtime_or_the_same_engine() {
    run(async {
        let f = fixture();
        f.service
            .execute(on(
                RuntimeKind::DockerCli,
                Command::Create {
                    spec: spec("web"),
                    start: true,
                },
            ))
            .await;
        let r = f
            .service
            .execute(req(Command::Stop {
                name: name("web"),
                timeout_s: None,
            }))
            .await;
        assert_eq!(container(&r).exit_code, Some(143));
        let r = f
            .service
            .execute(on(
                RuntimeKind::DockerApi,
                Command::Start { name: name("web") },
            ))
            .await;
        assert_eq!(container(&r).state, ContainerState::Running);
        assert_eq!(
            container(&r).runtime,
            RuntimeKind::DockerCli,
            "recorded runtime kept"
        );
        let r = f
            .service
            .execute(on(
                RuntimeKind::PodmanCli,
                Command::Stop {
                    name: name("web"),
                    timeout_s: None,
                },
            ))
            .await;
        assert_eq!(code(&r), ErrorCode::Conflict);
        assert!(r.error().unwrap().message.contains("docker"), "{r:?}");
    });
}

#[test]
fn missing_containers() {
    run(async {
        let f = fixture();
        for cmd in [
            Command::Start { name: name("nope") },
            Command::Inspect { name: name("nope") },
            Command::Logs {
                name: name("nope"),
                tail: None,
                since: None,
            },
            Command::Remove {
                name: name("nope"),
                force: true,
            },
        ] {
            let r = f.service.execute(req(cmd)).await;
            assert_eq!(code(&r), ErrorCode::NotFound);
            assert_eq!(r.error().unwrap().message, "container 'nope' not found");
        }
    });
}

#[test]
fn vanished_container_shows_missing_and_can_be_removed() {
    run(async {
        let f = fixture();
        f.service
            .execute(req(Command::Create {
                spec: spec("web"),
                start: true,
            }))
            .await;
        f.docker_api.containers.lock().unwrap().clear();
        let r = f
            .service
            .execute(req(Command::Inspect { name: name("web") }))
            .await;
        assert_eq!(container(&r).state, ContainerState::Missing);
        let r = f
            .service
            .execute(req(Command::Remove {
                name: name("web"),
                force: false,
            }))
            .await;
        assert!(r.error().is_none(), "{r:?}");
        assert!(f
            .service
            .store()
            .get_container(&name("web"))
            .await
            .unwrap()
            .is_none());
    });
}

#[test]
fn repeated_id_returns_the_stored_reply_without_running_again() {
    run(async {
        let f = fixture();
        let mut r1 = req(Command::Create {
            spec: spec("web"),
            start: false,
        });
        r1.id = Some(RequestId::parse("a1").unwrap());
        let first = f.service.execute(r1.clone()).await;
        let second = f.service.execute(r1).await;
        // The same on the wire (a record's intent is not part of a reply).
        assert_eq!(
            serde_json::to_value(&first).unwrap(),
            serde_json::to_value(&second).unwrap()
        );
        assert_eq!(second.id.as_deref(), Some("a1"));
        assert_eq!(f.docker_api.creates.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn concurrent_requests_with_one_id_run_once() {
    run(async {
        let f = Arc::new(fixture());
        let mut r = req(Command::Create {
            spec: spec("web"),
            start: true,
        });
        r.id = Some(RequestId::parse("same").unwrap());
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (f, r) = (f.clone(), r.clone());
                smol::spawn(async move { f.service.execute(r).await })
            })
            .collect();
        let mut replies = Vec::new();
        for t in tasks {
            replies.push(t.await);
        }
        assert!(replies.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(f.docker_api.creates.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn transient_errors_are_not_cached() {
    run(async {
        let f = fixture();
        f.docker_api.unavailable.store(true, Ordering::SeqCst);
        let mut r = req(Command::Create {
            spec: spec("web"),
            start: false,
        });
        r.id = Some(RequestId::parse("retry").unwrap());
        let first = f.service.execute(r.clone()).await;
        assert_eq!(code(&first), ErrorCode::RuntimeUnavailable);
        assert!(
            f.service
                .store()
                .get_container(&name("web"))
                .await
                .unwrap()
                .is_none(),
            "no record"
        );
        f.docker_api.unavailable.store(false, Ordering::SeqCst);
        let second = f.service.execute(r).await;
        assert_eq!(container(&second).name, name("web"));
    });
}

#[test]
fn list_filters_by_state_and_label() {
    run(async {
        let f = fixture();
        f.service
            .execute(req(Command::Create {
                spec: spec("a"),
                start: true,
            }))
            .await;
        f.service
            .execute(req(Command::Create {
                spec: spec("b"),
                start: false,
            }))
            .await;
        let names = |r: Reply| match r.outcome {
            Outcome::Ok {
                result: OpResult::Containers { containers },
                ..
            } => containers
                .into_iter()
                .map(|c| c.name.to_string())
                .collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            names(
                f.service
                    .execute(req(Command::List {
                        all: false,
                        label: None
                    }))
                    .await
            ),
            ["a"]
        );
        assert_eq!(
            names(
                f.service
                    .execute(req(Command::List {
                        all: true,
                        label: None
                    }))
                    .await
            ),
            ["a", "b"]
        );
        let label = Some(("app".to_owned(), "b".to_owned()));
        assert_eq!(
            names(
                f.service
                    .execute(req(Command::List { all: true, label }))
                    .await
            ),
            ["b"]
        );
    });
}

#[test]
fn events_follow_state_changes() {
    run(async {
        let f = fixture();
        let rx = f.service.events().subscribe();
        f.service
            .execute(req(Command::Create {
                spec: spec("web"),
                start: true,
            }))
            .await;
        f.service
            .execute(req(Command::Remove {
                name: name("web"),
                force: true,
            }))
            .await;
        let actions: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok())
            .filter_map(|e| e.into_container())
            .map(|e| (e.action.as_str(), e.state))
            .collect();
        assert_eq!(
            actions,
            [
                ("create", ContainerState::Created),
                ("start", ContainerState::Running),
                ("remove", ContainerState::Missing)
            ]
        );
    });
}

#[test]
fn info_reports_each_runtime() {
    run(async {
        let f = fixture();
        f.docker_cli.unavailable.store(true, Ordering::SeqCst);
        let r = f.service.execute(req(Command::Info)).await;
        let Outcome::Ok {
            result: OpResult::Info(info),
            ..
        } = r.outcome
        else {
            panic!()
        };
        assert_eq!(info.device_id, "dev1");
        assert_eq!(info.store, "memory");
        let avail: BTreeMap<_, _> = info
            .runtimes
            .iter()
            .map(|r| (r.name, r.available))
            .collect();
        assert!(!avail[&RuntimeKind::DockerCli]);
        assert!(avail[&RuntimeKind::DockerApi]);
    });
}

#[test]
fn disabled_runtime_is_unavailable() {
    run(async {
        let f = fixture();
        let r = f
            .service
            .execute(on(RuntimeKind::PodmanApi, Command::Images))
            .await;
        assert_eq!(code(&r), ErrorCode::RuntimeUnavailable);
    });
}

/// A store whose container writes fail, to see what the core does then.
struct WriteFailingStore(MemoryStore);

#[async_trait]
impl Store for WriteFailingStore {
    fn backend(&self) -> &'static str {
        "failing"
    }
    async fn put_container(
        &self,
        record: &Container,
    ) -> Result<(), crate::core::error::StoreError> {
        Err(crate::core::error::StoreError::Full {
            backend: "failing",
            key: record.name.to_string(),
        })
    }
    async fn get_container(
        &self,
        name: &ContainerName,
    ) -> Result<Option<Container>, crate::core::error::StoreError> {
        self.0.get_container(name).await
    }
    async fn delete_container(
        &self,
        name: &ContainerName,
    ) -> Result<bool, crate::core::error::StoreError> {
        self.0.delete_container(name).await
    }
    async fn list_containers(&self) -> Result<Vec<Container>, crate::core::error::StoreError> {
        self.0.list_containers().await
    }
    async fn put_reply(
        &self,
        id: &str,
        reply: &crate::core::store::CachedReply,
    ) -> Result<(), crate::core::error::StoreError> {
        self.0.put_reply(id, reply).await
    }
    async fn get_deployment_journal(
        &self,
    ) -> Result<Option<String>, crate::core::error::StoreError> {
        self.0.get_deployment_journal().await
    }
    async fn put_deployment_journal(
        &self,
        journal_json: &str,
    ) -> Result<(), crate::core::error::StoreError> {
        self.0.put_deployment_journal(journal_json).await
    }
    async fn get_reply(
        &self,
        id: &str,
    ) -> Result<Option<crate::core::store::CachedReply>, crate::core::error::StoreError> {
        self.0.get_reply(id).await
    }
    async fn close(&self) -> Result<(), crate::core::error::StoreError> {
        self.0.close().await
    }
}

#[test]
fn a_record_that_cannot_be_written_undoes_the_create() {
    run(async {
        let engine = FakeEngine::new(RuntimeKind::DockerApi);
        let store: Arc<dyn Store> = Arc::new(WriteFailingStore(MemoryStore::new(
            ReplyCacheLimits::default(),
        )));
        let service = ContainerService::new(
            store,
            vec![engine.clone()],
            RuntimeKind::DockerApi,
            "d".into(),
        );
        let r = service
            .execute(req(Command::Create {
                spec: spec("web"),
                start: true,
            }))
            .await;
        assert_eq!(code(&r), ErrorCode::StoreError);
        assert!(r.error().unwrap().message.contains("map_size_mb"), "{r:?}");
        assert_eq!(engine.creates.load(Ordering::SeqCst), 1);
        assert!(
            engine.containers.lock().unwrap().is_empty(),
            "the engine container was removed"
        );
    });
}

#[test]
fn prune_images_dry_run_removes_nothing_and_used_images_stay() {
    use crate::core::image_gc::{GcRules, ImageInventory, StoredImage};
    let f = fixture();
    let service = f.service.with_gc_rules(GcRules {
        min_age_s: 0,
        keep_per_repo: 0,
    });
    let image = |id: &str, tags: &[&str]| StoredImage {
        id: id.into(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        size_bytes: 100,
        created_unix: 0,
    };
    *f.docker_api.inventory.lock().unwrap() = ImageInventory {
        images: vec![
            image("sha256:aa", &[]),
            image(
                "sha256:cc",
                &["127.0.0.1:5000/app:0", "127.0.0.1:5000/old:0"],
            ),
            image("sha256:dd", &["busybox:1"]),
        ],
        used_ids: ["sha256:dd".to_owned()].into(),
    };
    let prune = |dry_run| match run(service.execute(req(Command::PruneImages { dry_run }))).outcome
    {
        Outcome::Ok { result, .. } => result,
        other => panic!("prune_images failed: {other:?}"),
    };
    let want = vec![
        "sha256:aa".to_owned(),
        "127.0.0.1:5000/app:0".to_owned(),
        "127.0.0.1:5000/old:0".to_owned(),
    ];
    let dry = prune(true);
    assert_eq!(
        dry,
        OpResult::ImagesPruned {
            removed: want.clone(),
            reclaimed_bytes: 200
        }
    );
    assert!(f.docker_api.removed_images.lock().unwrap().is_empty());
    let done = prune(false);
    assert_eq!(
        done,
        OpResult::ImagesPruned {
            removed: want.clone(),
            reclaimed_bytes: 200
        }
    );
    assert_eq!(*f.docker_api.removed_images.lock().unwrap(), want);
}

/// Runs create, start, stop and remove of `n` on the default runtime (docker-api);
/// the replies' states and exit codes, and the inspects the engine answered.
async fn lifecycle(f: &Fixture, n: &str) -> (Vec<(ContainerState, Option<i64>)>, usize) {
    let before = f.docker_api.inspects.load(Ordering::SeqCst);
    let mut states = Vec::new();
    for command in [
        Command::Create {
            spec: spec(n),
            start: false,
        },
        Command::Start { name: name(n) },
        Command::Stop {
            name: name(n),
            timeout_s: Some(0),
        },
    ] {
        let r = f.service.execute(req(command)).await;
        let c = container(&r);
        states.push((c.state, c.exit_code));
    }
    let r = f
        .service
        .execute(req(Command::Remove {
            name: name(n),
            force: false,
        }))
        .await;
    assert!(r.error().is_none(), "{r:?}");
    let inspects = f.docker_api.inspects.load(Ordering::SeqCst) - before;
    (states, inspects)
}

#[test]
fn a_followed_engine_is_inspected_only_for_the_exit_code_of_a_stop() {
    run(async {
        use ContainerState::*;
        let f = fixture();
        let replies = vec![(Created, None), (Running, None), (Exited, Some(143))];
        // Not followed (no event stream): every op looks its container up first, and
        // start and stop read the state after.
        assert_eq!(lifecycle(&f, "web").await, (replies.clone(), 5));
        // Followed and caught up: the records are live; only stop asks for the exit
        // code, which neither the stop call nor the record tells.
        f.service.live.of(Engine::Docker).set_caught_up(true);
        assert_eq!(lifecycle(&f, "web").await, (replies, 1));
        assert!(f.docker_api.containers.lock().unwrap().is_empty());
    });
}

#[test]
fn a_live_record_of_a_container_removed_behind_the_back_is_missing_after_an_op() {
    run(async {
        let f = fixture();
        f.service.live.of(Engine::Docker).set_caught_up(true);
        let r = f
            .service
            .execute(req(Command::Create {
                spec: spec("web"),
                start: false,
            }))
            .await;
        assert_eq!(container(&r).state, ContainerState::Created);
        // Removed before its event reached the agent: the op's own call says so.
        f.docker_api.containers.lock().unwrap().clear();
        let r = f
            .service
            .execute(req(Command::Start { name: name("web") }))
            .await;
        assert_eq!(code(&r), ErrorCode::NotFound);
        let stored = f.service.store().get_container(&name("web")).await.unwrap();
        assert_eq!(stored.map(|c| c.state), Some(ContainerState::Missing));
        // A missing record is looked up on the engine again, and removed.
        let r = f
            .service
            .execute(req(Command::Remove {
                name: name("web"),
                force: false,
            }))
            .await;
        assert!(r.error().is_none(), "{r:?}");
        assert_eq!(f.docker_api.inspects.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_stop_on_a_cli_path_reads_the_exit_code_through_the_api_path_when_it_answers() {
    run(async {
        let f = fixture();
        f.service.live.of(Engine::Docker).set_caught_up(true);
        let create = Command::Create {
            spec: spec("web"),
            start: true,
        };
        let r = f.service.execute(on(RuntimeKind::DockerCli, create)).await;
        assert_eq!(container(&r).state, ContainerState::Running);
        let stop = || Command::Stop {
            name: name("web"),
            timeout_s: Some(0),
        };
        let r = f.service.execute(req(stop())).await;
        let c = container(&r);
        assert_eq!((c.state, c.exit_code), (ContainerState::Exited, Some(143)));
        assert_eq!(c.runtime, RuntimeKind::DockerCli);
        let inspects = |e: &FakeEngine| e.inspects.load(Ordering::SeqCst);
        assert_eq!((inspects(&f.docker_cli), inspects(&f.docker_api)), (0, 1));
        // The API path down: the CLI path is asked.
        f.docker_api.unavailable.store(true, Ordering::SeqCst);
        let r = f.service.execute(req(stop())).await;
        assert_eq!(container(&r).exit_code, Some(143));
        assert_eq!((inspects(&f.docker_cli), inspects(&f.docker_api)), (1, 2));
    });
}
