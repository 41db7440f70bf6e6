//! The D-Bus transport (zbus 5): the agent owns `io.ctrmgr.Agent1` on the system bus (or
//! the session bus, or an address, by config) and serves the `io.ctrmgr.Agent1` interface
//! at `/io/ctrmgr/Agent1`.
//!
//! - `Execute(s) -> s`: a JSON request envelope in, the JSON reply envelope out (errors
//!   are in the envelope, never D-Bus errors). `ExecuteProto(ay) -> ay`: the same in
//!   Protobuf (answers `unsupported` when built without the `protobuf` feature).
//! - Typed methods `List() -> s`, `Inspect(s name) -> s`, `Start(s name) -> s`,
//!   `Stop(s name, u timeout_s) -> s`, `Restart(s name) -> s`, `Remove(s name, b force)
//!   -> s`, `Apply(s deployment) -> s` (waits until the apply has ended),
//!   `Deployment() -> s`: on success the op's result as JSON (not the envelope); on failure the D-Bus
//!   error `io.ctrmgr.Agent1.Error.<Code>` (see [`errors`]) with the message.
//! - Signal `ContainerEvent(s json)` for every state change; property `Version`.
//! - On top of the bus policy, every method checks its caller (see [`access`]): root,
//!   `dbus.allowed_uids`, and callers in a group of `dbus.allowed_gids` or
//!   `dbus.allowed_group` (`ctrmgr`), as the bus reports them
//!   (`GetConnectionCredentials`, remembered per unique name). A refused caller gets what
//!   the method answers for any error: a `forbidden` reply envelope from `Execute` and
//!   `ExecuteProto` (without the id: the request is not read), the D-Bus error
//!   `io.ctrmgr.Agent1.Error.Forbidden` from the typed methods. `Version` stays open.
//! - Requests over `dbus.max_message_bytes` get `too_large`.
//! - A bus that cannot be reached (or a name owned by someone else) is logged as a
//!   warning and retried, 5 s after the failure and doubling up to
//!   `dbus.reconnect_max_backoff_s`; the other transports keep serving meanwhile. A lost
//!   connection is re-established the same way.
//!
//! # Implementation
//!
//! zbus 5 with only its `async-io` feature, built with `internal_executor(false)`: zbus
//! starts no thread of its own. Its internal executor (socket reader, method dispatch)
//! is driven by a task on the agent's smol executor that ticks it; async-io's reactor
//! thread (shared with everything else on smol) does the I/O waiting. zbus 6 removed
//! async-io and would run its own runtime thread, which is why this stays on 5.x.

pub mod access;
pub mod connect;
pub mod errors;
mod events;
mod interface;

pub use crate::config::dbus::DbusConfig;

use super::ApiContext;
use crate::config::dbus::RECONNECT_MIN_BACKOFF_S;
use std::time::Duration;

/// The well-known name the agent owns.
pub const BUS_NAME: &str = "io.ctrmgr.Agent1";
/// The object path of the agent's object.
pub const OBJECT_PATH: &str = "/io/ctrmgr/Agent1";

/// How long shutdown keeps the connection to answer D-Bus calls still running.
const DRAIN_LIMIT: Duration = Duration::from_secs(25);

/// Why the D-Bus transport cannot run at all. An unreachable bus is not an error: the
/// transport logs it and keeps retrying.
#[derive(Debug, thiserror::Error)]
pub enum DbusError {
    /// `dbus.bus` is not a D-Bus address zbus understands.
    #[error("dbus.bus: '{bus}' is not a usable D-Bus address: {source}")]
    Address {
        /// The configured value.
        bus: String,
        /// zbus's reason.
        source: zbus::Error,
    },
}

/// How serving one connection ended.
enum Ended {
    /// The agent is stopping.
    Shutdown,
    /// The connection or the name was lost, for this reason.
    Lost(String),
}

/// Serves D-Bus until shutdown, (re)joining the bus whenever it is not connected.
pub async fn serve(ctx: ApiContext, config: DbusConfig) -> Result<(), DbusError> {
    connect::check_address(&config)?;
    let rules = access::AccessRules::resolve(&config);
    let min_backoff = Duration::from_secs(RECONNECT_MIN_BACKOFF_S);
    let max_backoff = Duration::from_secs(config.reconnect_max_backoff_s);
    let mut backoff = min_backoff;
    loop {
        let attempt = async { Some(connect::connect(&ctx, &config, &rules).await) };
        let stopped = async {
            ctx.shutdown.wait().await;
            None
        };
        match smol::future::or(stopped, attempt).await {
            None => return Ok(()),
            Some(Ok(conn)) => {
                backoff = min_backoff;
                log::info!(
                    "D-Bus: serving {BUS_NAME} at {OBJECT_PATH} on the {} bus",
                    config.bus
                );
                match serve_connection(&ctx, conn).await {
                    Ended::Shutdown => return Ok(()),
                    Ended::Lost(why) => {
                        log::warn!("D-Bus: {why}; joining the {} bus again", config.bus);
                        // Reconnect at once the first time; back off if that fails.
                        continue;
                    }
                }
            }
            Some(Err(e)) => log::warn!(
                "D-Bus: {e}; D-Bus clients cannot reach the agent (the other transports \
                 are serving); retrying in {} s",
                backoff.as_secs()
            ),
        }
        let wait = async {
            smol::Timer::after(backoff).await;
            false
        };
        let stopped = async {
            ctx.shutdown.wait().await;
            true
        };
        if smol::future::or(stopped, wait).await {
            return Ok(());
        }
        backoff = (backoff * 2).min(max_backoff);
    }
}

/// Drives one connection's executor, forwards events as signals, and waits for the end:
/// at shutdown it gives up the name and keeps answering the calls in flight for a while.
async fn serve_connection(ctx: &ApiContext, conn: zbus::Connection) -> Ended {
    let ticker = ctx.executor.spawn({
        let conn = conn.clone();
        async move {
            loop {
                conn.executor().tick().await;
            }
        }
    });
    let events = ctx.executor.spawn(events::forward(
        conn.clone(),
        ctx.service.events().subscribe(),
    ));
    let lost = async { Ended::Lost(connect::lost(&conn).await) };
    let stopped = async {
        ctx.shutdown.wait().await;
        Ended::Shutdown
    };
    let ended = smol::future::or(stopped, lost).await;
    drop(events);
    if let Ended::Shutdown = ended {
        if let Err(e) = conn.release_name(BUS_NAME).await {
            log::debug!("D-Bus: releasing {BUS_NAME} failed: {e}");
        }
        let left = ctx.shutdown.drain(DRAIN_LIMIT).await;
        if left > 0 {
            log::warn!("D-Bus: {left} requests still in flight at shutdown; closing anyway");
        }
    }
    drop(ticker);
    ended
}
