//! Joining the bus: a zbus connection without its own executor thread, owning
//! `io.ctrmgr.Agent1` and serving the object; and a watcher that says when the connection
//! or the name is lost.

use super::access::{AccessCheck, AccessRules};
use super::interface::AgentObject;
use super::{DbusError, BUS_NAME, OBJECT_PATH};
use crate::api::ApiContext;
use crate::config::dbus::{BusChoice, DbusConfig};
use futures_lite::StreamExt;
use zbus::connection::Builder;
use zbus::MatchRule;

/// Why an attempt to join the bus failed; the transport retries after each.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The bus could not be reached or refused the connection.
    #[error("cannot connect to the {bus} bus: {source}")]
    Connect {
        /// Which bus (`system`, `session` or the address).
        bus: String,
        /// zbus's reason.
        source: zbus::Error,
    },
    /// Another connection owns the name.
    #[error("{BUS_NAME} is already owned on the {bus} bus (is another ctrmgr running?)")]
    NameTaken {
        /// Which bus.
        bus: String,
    },
}

/// Connects to the configured bus, serves the object (admitting callers by `rules`) and
/// owns the name. The returned connection's executor is not run by any thread: the
/// caller must tick it.
pub async fn connect(
    ctx: &ApiContext,
    config: &DbusConfig,
    rules: &AccessRules,
) -> Result<zbus::Connection, ConnectError> {
    let bus = config.bus.clone();
    let failed = |source: zbus::Error| match source {
        zbus::Error::NameTaken => ConnectError::NameTaken { bus: bus.clone() },
        source => ConnectError::Connect {
            bus: bus.clone(),
            source,
        },
    };
    let builder = builder(config).await.map_err(failed)?;
    builder
        .internal_executor(false)
        .name(BUS_NAME)
        .map_err(failed)?
        .serve_at(
            OBJECT_PATH,
            AgentObject::new(
                ctx.clone(),
                config.max_message_bytes,
                AccessCheck::new(rules.clone()),
            ),
        )
        .map_err(failed)?
        .build()
        .await
        .map_err(failed)
}

/// The builder for the configured bus (`DBUS_SYSTEM_BUS_ADDRESS` and
/// `DBUS_SESSION_BUS_ADDRESS` are honoured, as zbus does). A bus on a unix socket file
/// (the usual case) is connected here, with async-io's non-blocking connect on the
/// executor: zbus would connect it on a thread of smol's blocking pool (`blocking-N`),
/// which never exits once started. Other transports are left to zbus.
async fn builder(config: &DbusConfig) -> zbus::Result<Builder<'static>> {
    use zbus::address::transport::{Transport, UnixSocket};
    let address = match config.bus_choice() {
        BusChoice::System => zbus::Address::system()?,
        BusChoice::Session => zbus::Address::session()?,
        BusChoice::Address(address) => zbus::Address::try_from(address)?,
    };
    if let Transport::Unix(unix) = address.transport() {
        if let UnixSocket::File(path) = unix.path() {
            let stream = async_io::Async::<std::os::unix::net::UnixStream>::connect(path).await?;
            return Ok(Builder::unix_stream(stream.into_inner()?));
        }
    }
    Builder::address(address)
}

/// Checks that the address in the config is one zbus understands (at start, so a typo
/// stops the transport with a clear message instead of retrying forever).
/// `system` and `session` are looked up at each attempt (their environment variables may
/// only be usable later).
pub fn check_address(config: &DbusConfig) -> Result<(), DbusError> {
    let BusChoice::Address(address) = config.bus_choice() else {
        return Ok(());
    };
    zbus::Address::try_from(address)
        .map(drop)
        .map_err(|source| DbusError::Address {
            bus: config.bus.clone(),
            source,
        })
}

/// Waits until the connection closes or the bus takes the name away; returns why.
pub async fn lost(conn: &zbus::Connection) -> String {
    let rule = match MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .sender("org.freedesktop.DBus")
        .and_then(|b| b.interface("org.freedesktop.DBus"))
        .and_then(|b| b.member("NameLost"))
        .and_then(|b| b.arg(0, BUS_NAME))
    {
        Ok(b) => b.build(),
        Err(e) => return format!("cannot watch the connection: {e}"),
    };
    let mut stream = match zbus::MessageStream::for_match_rule(rule, conn, Some(4)).await {
        Ok(s) => s,
        Err(e) => return format!("cannot watch the connection: {e}"),
    };
    match stream.next().await {
        Some(Ok(_)) => format!("the bus took the name {BUS_NAME} away"),
        Some(Err(e)) => format!("the connection failed: {e}"),
        None => "the bus closed the connection".into(),
    }
}
