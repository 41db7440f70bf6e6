//! `ContainerService`: runs a `Request` as a runtime op plus one store update, with the
//! idempotency cache in front and per-name serialization of container ops.

use super::clock;
use super::command::{Command, Request};
use super::deployment::{Deployer, DeploymentStatus};
use super::error::{CoreError, ErrorBody, ErrorCode};
use super::events::{EventAction, EventBus};
use super::image_gc::{GcRules, DEFAULT_GC_KEEP_PER_REPO, DEFAULT_GC_MIN_AGE_S};
use super::locks::KeyedLocks;
use super::model::{Container, ContainerState, RuntimeKind};
use super::names::ContainerName;
use super::pending_creates::PendingCreates;
use super::policy::Policy;
use super::puller::Puller;
use super::reconcile_live::LiveRecords;
use super::registry_credentials::RegistryCredentials;
use super::reply::{OpResult, Reply};
use super::request_digest::request_digest;
use super::runtime::Runtime;
use super::store::{CachedReply, Store};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The core of the agent. Shared by every transport (`Arc<ContainerService>`).
pub struct ContainerService {
    pub(super) store: Arc<dyn Store>,
    pub(super) runtimes: BTreeMap<RuntimeKind, Arc<dyn Runtime>>,
    pub(super) default_runtime: RuntimeKind,
    pub(super) device_id: String,
    pub(super) policy: Policy,
    pub(super) credentials: RegistryCredentials,
    pub(super) gc_rules: GcRules,
    names: Arc<KeyedLocks>,
    ids: KeyedLocks,
    events: Arc<EventBus>,
    pub(super) deployer: Option<Deployer>,
    pub(super) pending_creates: PendingCreates,
    supervision: super::supervision::Counters,
    /// Which records the reconciler keeps live (`inspect` serves those from the store).
    pub(super) live: LiveRecords,
}

impl std::fmt::Debug for ContainerService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerService")
            .field("store", &self.store.backend())
            .field("runtimes", &self.runtimes.keys().collect::<Vec<_>>())
            .field("default_runtime", &self.default_runtime)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

impl ContainerService {
    /// Builds the service over a store and the enabled runtimes.
    pub fn new(
        store: Arc<dyn Store>,
        runtimes: Vec<Arc<dyn Runtime>>,
        default_runtime: RuntimeKind,
        device_id: String,
    ) -> Self {
        let runtimes: BTreeMap<RuntimeKind, Arc<dyn Runtime>> =
            runtimes.into_iter().map(|r| (r.kind(), r)).collect();
        let names = Arc::new(KeyedLocks::default());
        let events = Arc::new(EventBus::default());
        Self {
            store,
            runtimes,
            default_runtime,
            device_id,
            policy: Policy::default(),
            credentials: RegistryCredentials::default(),
            gc_rules: GcRules {
                min_age_s: DEFAULT_GC_MIN_AGE_S,
                keep_per_repo: DEFAULT_GC_KEEP_PER_REPO,
            },
            names,
            ids: KeyedLocks::default(),
            events,
            deployer: None,
            pending_creates: PendingCreates::default(),
            supervision: Default::default(),
            live: LiveRecords::default(),
        }
        .with_deployer()
    }

    /// Replaces the default policy.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self.with_deployer()
    }

    /// (Re)makes the deployer from the policy and credentials as they are now:
    /// deployments create their containers on the default runtime (the first enabled one
    /// when the default is not).
    fn with_deployer(mut self) -> Self {
        self.deployer = self
            .runtimes
            .get(&self.default_runtime)
            .or_else(|| self.runtimes.values().next())
            .map(|rt| {
                Deployer::new(
                    self.store.clone(),
                    rt.clone(),
                    self.device_id.clone(),
                    self.policy.clone(),
                    self.puller(),
                    self.names.clone(),
                    self.events.clone(),
                )
            });
        self
    }

    /// The deployer, or `runtime_unavailable` when no runtime is enabled.
    fn deployer(&self) -> Result<&Deployer, CoreError> {
        self.deployer
            .as_ref()
            .ok_or(CoreError::RuntimeNotEnabled(self.default_runtime.as_str()))
    }

    /// On start: ends an apply that a crash interrupted (see
    /// [`Deployer::recover`]). Returns its status when there was one.
    pub async fn recover_deployment(&self) -> Result<Option<DeploymentStatus>, CoreError> {
        match &self.deployer {
            Some(d) => d.recover().await,
            None => Ok(None),
        }
    }

    /// Gives pulls whose request carries no `auth` these credentials
    /// (`runtime.registry_auth_file`).
    pub fn with_registry_credentials(mut self, credentials: RegistryCredentials) -> Self {
        self.credentials = credentials;
        self.with_deployer()
    }

    /// How this service pulls (the `pull` op and deployments).
    pub(super) fn puller(&self) -> Puller {
        Puller {
            min_free_bytes: self.policy.min_free_bytes,
            credentials: self.credentials.clone(),
            events: self.events.clone(),
        }
    }

    /// Sets the rules of `prune_images` (`[images]`).
    pub fn with_gc_rules(mut self, rules: GcRules) -> Self {
        self.gc_rules = rules;
        self
    }

    /// The store, for shutdown.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The device id.
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// Subscribes to container events.
    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// The supervisor's per-container counters (restarts, failed probes).
    pub fn supervision_counters(&self) -> &super::supervision::Counters {
        &self.supervision
    }

    /// Runs a request. A mutating request whose `id` was answered before gets the stored
    /// reply and is not run again, provided it is the same request (op, runtime and args:
    /// another request under a used id is `conflict`); concurrent requests with the same
    /// id wait for the first. Read-only ops run every time and are never cached.
    pub async fn execute(&self, req: Request) -> Reply {
        let (Some(id), Some(digest)) = (req.id.clone().map(String::from), request_digest(&req))
        else {
            return self.run(&req).await;
        };
        let _guard = self.ids.lock(&id).await;
        match self.store.get_reply(&id).await {
            Ok(Some(cached)) if cached.request_digest != digest => {
                log::warn!(
                    "request id '{id}' reused for another request ({}): refused",
                    req.command.op().as_str()
                );
                let message = format!(
                    "request id '{id}' was already used for another request (a different op, \
                     runtime or args); send a fresh id for a new request"
                );
                return Reply::err(Some(id), ErrorBody::new(ErrorCode::Conflict, message));
            }
            Ok(Some(cached)) => match serde_json::from_str::<Reply>(&cached.reply_json) {
                Ok(mut reply) => {
                    reply.id = Some(id);
                    return reply;
                }
                Err(e) => {
                    log::warn!("cached reply for id '{id}' is unreadable, running again: {e}")
                }
            },
            Ok(None) => {}
            Err(e) => {
                return Reply::err(Some(id), CoreError::Store(e).into());
            }
        }
        let reply = self.run(&req).await;
        if !is_transient(&reply) {
            match serde_json::to_string(&reply) {
                Ok(json) => {
                    let entry = CachedReply {
                        reply_json: json,
                        stored_at: clock::unix_now(),
                        request_digest: digest,
                    };
                    if let Err(e) = self.store.put_reply(&id, &entry).await {
                        log::warn!("reply to id '{id}' not cached: {e}");
                    }
                }
                Err(e) => log::warn!("reply to id '{id}' not cached: {e}"),
            }
        }
        reply
    }

    async fn run(&self, req: &Request) -> Reply {
        let result = self.dispatch(req).await;
        match result {
            Ok(mut result) => {
                forget_supervision(&mut result);
                Reply::ok(req.id.clone().map(String::from), result)
            }
            Err(e) => {
                log::debug!("{} failed: {e}", req.command.op());
                Reply::err(req.id.clone().map(String::from), ErrorBody::from(e))
            }
        }
    }

    async fn dispatch(&self, req: &Request) -> Result<OpResult, CoreError> {
        let rt = req.runtime;
        match &req.command {
            Command::Create { spec, start } => self.create(rt, spec, *start).await,
            Command::Start { name } => self.start(rt, name).await,
            Command::Stop { name, timeout_s } => self.stop(rt, name, *timeout_s).await,
            Command::Restart { name, timeout_s } => self.restart(rt, name, *timeout_s).await,
            Command::Kill { name, signal } => self.kill(rt, name, *signal).await,
            Command::Remove { name, force } => self.remove(rt, name, *force).await,
            Command::Inspect { name } => self.inspect(rt, name).await,
            Command::List { all, label } => self.list(*all, label.as_ref()).await,
            Command::Logs { name, tail, since } => self.logs(rt, name, *tail, *since).await,
            Command::Stats { name } => self.stats(rt, name).await,
            Command::Pull {
                image,
                auth,
                progress,
            } => self.pull(rt, image, auth.as_ref(), *progress).await,
            Command::Images => self.images(rt).await,
            Command::RemoveImage { image, force } => self.remove_image(rt, image, *force).await,
            Command::Info => Ok(OpResult::Info(self.info().await)),
            Command::Apply { deployment, wait } => {
                let d = self.deployer()?;
                let status = d.apply((**deployment).clone(), *wait).await?;
                Ok(OpResult::Deployment(Box::new(status)))
            }
            Command::Deployment => {
                let status = self.deployer()?.status().await?;
                Ok(OpResult::Deployment(Box::new(status)))
            }
            Command::Rollback => {
                let status = self.deployer()?.rollback().await?;
                Ok(OpResult::Deployment(Box::new(status)))
            }
            Command::PruneImages { dry_run } => self.prune_images(rt, *dry_run).await,
        }
    }

    /// Takes the lock of a container name for the duration of an op.
    pub(super) async fn lock_name(&self, name: &ContainerName) -> super::locks::KeyGuard<'_> {
        self.names.lock(name.as_str()).await
    }

    /// Takes the lock of a container name if it is free, without waiting.
    pub(super) fn try_lock_name(&self, name: &ContainerName) -> Option<super::locks::KeyGuard<'_>> {
        self.names.try_lock(name.as_str())
    }

    /// The runtime for an op that is not about an existing container.
    pub(super) fn runtime_for_new(
        &self,
        requested: Option<RuntimeKind>,
    ) -> Result<&Arc<dyn Runtime>, CoreError> {
        let kind = requested.unwrap_or(self.default_runtime);
        self.runtimes
            .get(&kind)
            .ok_or(CoreError::RuntimeNotEnabled(kind.as_str()))
    }

    /// The record of a managed container and the runtime to reach it: the recorded
    /// access path, or the other path of the same engine when the request names it.
    pub(super) async fn managed(
        &self,
        requested: Option<RuntimeKind>,
        name: &ContainerName,
    ) -> Result<(Container, &Arc<dyn Runtime>), CoreError> {
        let record = self
            .store
            .get_container(name)
            .await?
            .ok_or_else(|| CoreError::ContainerNotFound(name.to_string()))?;
        let kind = match requested {
            None => record.runtime,
            Some(k) if k.engine() == record.runtime.engine() => k,
            Some(k) => {
                return Err(CoreError::WrongEngine {
                    name: name.to_string(),
                    recorded: record.runtime.as_str(),
                    requested: k.as_str(),
                })
            }
        };
        let rt = self
            .runtimes
            .get(&kind)
            .ok_or(CoreError::RuntimeNotEnabled(kind.as_str()))?;
        Ok((record, rt))
    }

    /// Reads the engine's live state into the record, saves it and publishes `action`.
    pub(super) async fn refresh(
        &self,
        rt: &Arc<dyn Runtime>,
        record: Container,
        action: EventAction,
    ) -> Result<Container, CoreError> {
        let record = self.read_live(rt, record).await?;
        self.save(record, action).await
    }

    /// Saves the record of a container whose start the engine just confirmed, as
    /// `running` without an exit code, and publishes `action`. While the engine's event
    /// stream is followed that needs no engine call: a container that exits at once
    /// sends `die`, which the reconciler records. Otherwise the engine is asked.
    pub(super) async fn save_started(
        &self,
        rt: &Arc<dyn Runtime>,
        mut record: Container,
        action: EventAction,
    ) -> Result<Container, CoreError> {
        if !self.live.is_followed(record.runtime.engine()) {
            return self.refresh(rt, record, action).await;
        }
        record.state = ContainerState::Running;
        record.exit_code = None;
        self.save(record, action).await
    }

    /// [`Self::refresh`] reading the engine through its API path when `rt` is its CLI
    /// path and the agent has both (what the reconciler follows already): one HTTP call
    /// on the engine's socket instead of an `inspect` process, which costs as much as
    /// the op's own. Through `rt` when the API path does not answer.
    pub(super) async fn refresh_cheaply(
        &self,
        rt: &Arc<dyn Runtime>,
        record: Container,
        action: EventAction,
    ) -> Result<Container, CoreError> {
        let api = self
            .access_paths(rt.kind().engine())
            .into_iter()
            .next()
            .filter(|api| api.kind() != rt.kind());
        if let Some(api) = api {
            match self.read_live(&api, record.clone()).await {
                Ok(record) => return self.save(record, action).await,
                Err(CoreError::Runtime(super::error::RuntimeError::Unavailable { .. })) => {}
                Err(e) => return Err(e),
            }
        }
        self.refresh(rt, record, action).await
    }

    /// Reads the engine's live state into the record without saving it. A container the
    /// engine no longer has (or that is no longer the recorded one) becomes `missing`.
    pub(super) async fn read_live(
        &self,
        rt: &Arc<dyn Runtime>,
        mut record: Container,
    ) -> Result<Container, CoreError> {
        match self.address(rt, &record).await {
            Ok((_, live)) => {
                record.id = live.id;
                record.state = live.state;
                record.exit_code = live.exit_code;
            }
            Err(super::error::RuntimeError::NotFound { .. }) => {
                record.state = ContainerState::Missing;
            }
            Err(e) => return Err(e.into()),
        }
        Ok(record)
    }

    /// Saves a record (stamping `updated_at`, keeping the last exit code, and clearing
    /// the health of a container that no longer runs) and publishes the change.
    pub(super) async fn save(
        &self,
        record: Container,
        action: EventAction,
    ) -> Result<Container, CoreError> {
        super::record_save::save_record(&*self.store, &self.events, record, action).await
    }

    /// Marks a record `missing` after the engine said the container is gone, then
    /// returns the engine's error.
    pub(super) async fn fail_missing(
        &self,
        mut record: Container,
        error: super::error::RuntimeError,
    ) -> CoreError {
        if matches!(error, super::error::RuntimeError::NotFound { .. }) {
            record.state = ContainerState::Missing;
            if let Err(e) = self.save(record, EventAction::Missing).await {
                log::warn!("could not mark a vanished container missing: {e}");
            }
        }
        error.into()
    }
}

/// Drops the supervisor's state from the records of a reply: it is not part of the wire
/// shape, so a reply equals the same reply read back from the idempotency cache.
fn forget_supervision(result: &mut OpResult) {
    match result {
        OpResult::Container(c) => c.supervision = Default::default(),
        OpResult::Containers { containers } => {
            for c in containers {
                c.supervision = Default::default();
            }
        }
        _ => {}
    }
}

/// Transient failures are not cached: a retry with the same id must be able to succeed.
fn is_transient(reply: &Reply) -> bool {
    reply.error().is_some_and(|e| {
        matches!(
            e.code,
            ErrorCode::RuntimeUnavailable | ErrorCode::StoreError | ErrorCode::Internal
        )
    })
}
