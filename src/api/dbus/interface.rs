//! The `io.ctrmgr.Agent1` interface object: `Execute`/`ExecuteProto` carry whole
//! envelopes; the typed methods build the same `Command`s and fail with
//! `io.ctrmgr.Agent1.Error.<Code>`; the `Version` property and the `ContainerEvent`
//! signal. Every method first checks the caller ([`AccessCheck`]).

use super::access::AccessCheck;
use super::errors::MethodError;
use crate::api::metrics::Transport;
use crate::api::pipeline::{Limit, Pipeline};
use crate::api::ApiContext;
use crate::codec::{self, Format};
use crate::core::command::{Command, Request};
use crate::core::error::{ErrorBody, ErrorCode};
use crate::core::names::ContainerName;
use crate::core::op::Op;
use crate::core::reply::{Outcome, Reply};
use zbus::message::Header;
use zbus::object_server::SignalEmitter;

/// The object behind `/io/ctrmgr/Agent1`.
#[derive(Debug)]
pub struct AgentObject {
    ctx: ApiContext,
    pipeline: Pipeline,
    access: AccessCheck,
}

impl AgentObject {
    /// The object for one connection (`access` remembers callers of this connection),
    /// refusing envelopes over `max_message_bytes`.
    pub fn new(ctx: ApiContext, max_message_bytes: usize, access: AccessCheck) -> Self {
        let limit = Limit {
            max_bytes: max_message_bytes,
            key: "dbus.max_message_bytes",
        };
        Self {
            pipeline: ctx.pipeline(Transport::Dbus, limit),
            ctx,
            access,
        }
    }

    /// Checks the caller of the call with `header`; a refusal is counted.
    async fn admit(&self, header: &Header<'_>, conn: &zbus::Connection) -> Result<(), Reply> {
        self.access
            .admit(header, conn)
            .await
            .map_err(|refusal| self.pipeline.refuse(None, refusal))
    }

    /// Runs one envelope in `format` through the pipeline; a refused caller gets a
    /// `forbidden` reply envelope (without its id: the request is not read).
    async fn execute_bytes(
        &self,
        header: &Header<'_>,
        conn: &zbus::Connection,
        format: Format,
        bytes: &[u8],
    ) -> Vec<u8> {
        let _in_flight = self.ctx.shutdown.track();
        match self.admit(header, conn).await {
            Ok(()) => self.pipeline.handle(format, bytes).await,
            Err(refused) => codec::encode_reply(format, &refused),
        }
    }

    /// Checks the caller, then runs one typed method's command: the result's JSON, or the
    /// error (`Forbidden` for a refused caller, before the command is built).
    async fn run_typed(
        &self,
        header: &Header<'_>,
        conn: &zbus::Connection,
        command: impl FnOnce() -> Result<Command, ErrorBody>,
    ) -> Result<String, MethodError> {
        let _in_flight = self.ctx.shutdown.track();
        let reply = match self.admit(header, conn).await.map(|()| command()) {
            Err(refused) => refused,
            Ok(Err(error)) => self.pipeline.refuse(None, error),
            Ok(Ok(command)) => {
                let request = Request {
                    id: None,
                    runtime: None,
                    command,
                };
                self.pipeline.run(request).await
            }
        };
        match reply.outcome {
            Outcome::Ok { result, .. } => serde_json::to_string(&result).map_err(|e| {
                MethodError(ErrorBody::new(
                    ErrorCode::Internal,
                    format!("the result could not be written as JSON: {e}"),
                ))
            }),
            Outcome::Err { error, .. } => Err(MethodError(error)),
        }
    }

    /// Runs a typed method that names one container: `make` builds its command from the
    /// validated name.
    async fn by_name(
        &self,
        header: &Header<'_>,
        conn: &zbus::Connection,
        name: &str,
        make: impl FnOnce(ContainerName) -> Result<Command, ErrorBody>,
    ) -> Result<String, MethodError> {
        self.run_typed(header, conn, || container_name(name).and_then(make))
            .await
    }
}

/// A typed method's `name` argument, validated.
fn container_name(name: &str) -> Result<ContainerName, ErrorBody> {
    ContainerName::parse(name)
        .map_err(|e| ErrorBody::new(ErrorCode::InvalidRequest, format!("name: {e}")))
}

#[zbus::interface(name = "io.ctrmgr.Agent1")]
impl AgentObject {
    /// Runs a JSON request envelope and answers the JSON reply envelope (errors included).
    async fn execute(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
        request: &str,
    ) -> String {
        let reply = self
            .execute_bytes(&header, conn, Format::Json, request.as_bytes())
            .await;
        // The JSON codec writes UTF-8; a lossy conversion can never change it.
        String::from_utf8_lossy(&reply).into_owned()
    }

    /// Runs a Protobuf `ctrmgr.v1.Request` and answers the Protobuf `ctrmgr.v1.Reply`.
    async fn execute_proto(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
        request: Vec<u8>,
    ) -> Vec<u8> {
        self.execute_bytes(&header, conn, Format::Protobuf, &request)
            .await
    }

    /// Every managed container, running or not: `{"containers": [Container]}`.
    async fn list(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<String, MethodError> {
        let command = || {
            Ok(Command::List {
                all: true,
                label: None,
            })
        };
        self.run_typed(&header, conn, command).await
    }

    /// Live state of a managed container: the Container as JSON.
    async fn inspect(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
        name: &str,
    ) -> Result<String, MethodError> {
        let command = |name| Ok(Command::Inspect { name });
        self.by_name(&header, conn, name, command).await
    }

    /// Starts a managed container: the Container as JSON.
    async fn start(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
        name: &str,
    ) -> Result<String, MethodError> {
        let command = |name| Ok(Command::Start { name });
        self.by_name(&header, conn, name, command).await
    }

    /// Stops a managed container, killing it after `timeout_s` seconds (0: at once).
    async fn stop(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
        name: &str,
        timeout_s: u32,
    ) -> Result<String, MethodError> {
        let command = |name| {
            if timeout_s > codec::json::MAX_TIMEOUT_S {
                return Err(ErrorBody::new(
                    ErrorCode::InvalidRequest,
                    format!("timeout_s: at most {} seconds", codec::json::MAX_TIMEOUT_S),
                ));
            }
            Ok(Command::Stop {
                name,
                timeout_s: Some(timeout_s),
            })
        };
        self.by_name(&header, conn, name, command).await
    }

    /// Restarts a managed container with the engine's grace period.
    async fn restart(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
        name: &str,
    ) -> Result<String, MethodError> {
        let command = |name| {
            Ok(Command::Restart {
                name,
                timeout_s: None,
            })
        };
        self.by_name(&header, conn, name, command).await
    }

    /// Removes a managed container (`force`: even when running): `{"name": ...}`.
    async fn remove(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
        name: &str,
        force: bool,
    ) -> Result<String, MethodError> {
        let command = |name| Ok(Command::Remove { name, force });
        self.by_name(&header, conn, name, command).await
    }

    /// Applies a deployment (its JSON, as the `apply` op's `deployment` arg) and waits
    /// until it has ended: the DeploymentStatus as JSON.
    async fn apply(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
        deployment: &str,
    ) -> Result<String, MethodError> {
        let command = || {
            let value: serde_json::Value = serde_json::from_str(deployment).map_err(|e| {
                ErrorBody::new(
                    ErrorCode::InvalidRequest,
                    format!("deployment: not valid JSON: {e}"),
                )
            })?;
            let args = serde_json::Map::from_iter([("deployment".to_owned(), value)]);
            codec::json::decode_parts(None, Op::Apply, None, args)
                .map(|request| request.command)
                .map_err(|e| e.error)
        };
        self.run_typed(&header, conn, command).await
    }

    /// The current DeploymentStatus as JSON (with `in_progress` when one is applied).
    async fn deployment(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> Result<String, MethodError> {
        self.run_typed(&header, conn, || Ok(Command::Deployment))
            .await
    }

    /// The agent's version.
    #[zbus(property(emits_changed_signal = "const"))]
    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    /// A state change the agent made: the event as JSON
    /// (`{"action","name","runtime","state","exit_code","time"}`).
    #[zbus(signal)]
    pub async fn container_event(emitter: &SignalEmitter<'_>, json: &str) -> zbus::Result<()>;
}
