//! D-Bus test support: a private system-like `dbus-daemon` that loads the repository's
//! policy file, a zbus client, the real command-line clients (`dbus-send`, `busctl`) run
//! as any uid/gid, Protobuf requests and replies with the generated types, and the
//! transport as a `ContractClient`.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The contract's names.
pub const NAME: &str = "io.ctrmgr.Agent1";
/// The agent's object.
pub const PATH: &str = "/io/ctrmgr/Agent1";
/// The agent's interface.
pub const IFACE: &str = "io.ctrmgr.Agent1";

/// A private `dbus-daemon` configured like the system bus (default deny of own and
/// send) plus the repository's `dbus/io.ctrmgr.Agent1.conf`; killed when dropped.
pub struct PrivateBus {
    child: Option<Child>,
    config: PathBuf,
    /// `unix:path=...` of its socket.
    pub address: String,
    _dir: tempfile::TempDir,
}

/// The system bus's default policy (as Debian's system.conf) and the real agent policy.
fn bus_config(socket: &Path) -> String {
    let policy =
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join("dbus/io.ctrmgr.Agent1.conf");
    assert!(policy.exists(), "{} is missing", policy.display());
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus" send_member="UpdateActivationEnvironment"/>
  </policy>
  <include>{policy}</include>
</busconfig>
"#,
        socket = socket.display(),
        policy = policy.display()
    )
}

impl PrivateBus {
    /// Writes the config (socket in a fresh temporary directory) without starting it.
    // Not `Default`: it makes a directory and files, and needs group `ctrmgr`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> PrivateBus {
        // The policy names group ctrmgr: it must exist for the bus to load the rule.
        ctrmgr_gid();
        let dir = tempfile::tempdir().unwrap();
        // Unprivileged test callers must reach the socket inside.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let socket = dir.path().join("bus");
        let config = dir.path().join("bus.conf");
        std::fs::write(&config, bus_config(&socket)).unwrap();
        PrivateBus {
            child: None,
            config,
            address: format!("unix:path={}", socket.display()),
            _dir: dir,
        }
    }

    /// A started bus.
    pub fn start() -> PrivateBus {
        let mut bus = PrivateBus::new();
        bus.run();
        bus
    }

    /// Starts the daemon; returns once it listens.
    pub fn run(&mut self) {
        assert!(self.child.is_none(), "bus already running");
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", self.config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("dbus-daemon cannot be run ({e}): install the `dbus` package (scripts/services.sh up)")
            });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("unix:path="),
            "dbus-daemon did not start (printed {line:?}); config {}",
            self.config.display()
        );
        self.child = Some(child);
    }

    /// Kills the daemon (SIGKILL): every connection drops at once.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A zbus client connection to `bus` (as root).
pub fn client(bus: &PrivateBus) -> zbus::blocking::Connection {
    zbus::blocking::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .build()
        .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", bus.address))
}

/// Waits until someone owns `io.ctrmgr.Agent1` on `bus` (the agent joined it).
pub fn wait_for_agent(conn: &zbus::blocking::Connection, limit: Duration) {
    let dbus = zbus::blocking::fdo::DBusProxy::new(conn).unwrap();
    let deadline = Instant::now() + limit;
    loop {
        let name = zbus::names::BusName::try_from(NAME).unwrap();
        if dbus.name_has_owner(name).unwrap() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nobody owns {NAME} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Calls a method of the agent; `Err((error name, message))` for a D-Bus error.
pub fn call<B>(
    conn: &zbus::blocking::Connection,
    method: &str,
    body: &B,
) -> Result<zbus::message::Message, (String, String)>
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    match conn.call_method(Some(NAME), PATH, Some(IFACE), method, body) {
        Ok(reply) => Ok(reply),
        Err(zbus::Error::MethodError(name, message, _)) => {
            Err((name.to_string(), message.unwrap_or_default()))
        }
        Err(e) => panic!("{method}: {e}"),
    }
}

/// `Execute(s) -> s` with a JSON envelope: the reply envelope.
pub fn execute(conn: &zbus::blocking::Connection, envelope: &Value) -> Value {
    execute_raw(conn, &envelope.to_string())
}

/// `Execute(s) -> s` with any string: the reply envelope.
pub fn execute_raw(conn: &zbus::blocking::Connection, request: &str) -> Value {
    let reply = call(conn, "Execute", &(request,))
        .unwrap_or_else(|(name, msg)| panic!("Execute must not fail: {name}: {msg}"));
    let text: String = reply.body().deserialize().unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("reply is not JSON ({e}): {text}"))
}

/// A typed method returning the result's JSON; `Err((error name, message))`.
pub fn typed<B>(
    conn: &zbus::blocking::Connection,
    method: &str,
    body: &B,
) -> Result<Value, (String, String)>
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    let reply = call(conn, method, body)?;
    let text: String = reply.body().deserialize().unwrap();
    Ok(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method}: not JSON ({e}): {text}")))
}

/// `ExecuteProto(ay) -> ay`.
pub fn execute_proto(conn: &zbus::blocking::Connection, request: &[u8]) -> Vec<u8> {
    let reply = call(conn, "ExecuteProto", &(request,))
        .unwrap_or_else(|(name, msg)| panic!("ExecuteProto must not fail: {name}: {msg}"));
    reply.body().deserialize::<Vec<u8>>().unwrap()
}

/// Runs a command-line client as root, or as `uid`/`gid` (with only `gid` as its
/// supplementary group) through `setpriv`; returns (success, stdout, stderr).
pub fn run_as(ids: Option<(u32, u32)>, program: &str, args: &[&str]) -> (bool, String, String) {
    let mut cmd = match ids {
        None => Command::new(program),
        Some((uid, gid)) => {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .arg(format!("--groups={gid}"))
                .arg("--")
                .arg(program);
            c
        }
    };
    let out = cmd.args(args).output().unwrap_or_else(|e| {
        panic!("{program} cannot be run ({e}): install it (scripts/services.sh up)")
    });
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The gid of group `ctrmgr`, created if missing (the policy admits its members).
pub fn ctrmgr_gid() -> u32 {
    let status = Command::new("groupadd")
        .args(["-f", "ctrmgr"])
        .status()
        .unwrap();
    assert!(status.success(), "groupadd -f ctrmgr failed");
    let out = Command::new("getent")
        .args(["group", "ctrmgr"])
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    line.split(':')
        .nth(2)
        .and_then(|g| g.parse().ok())
        .unwrap_or_else(|| panic!("no gid in `getent group ctrmgr`: {line:?}"))
}

/// Protobuf requests and replies with the generated `ctrmgr.v1` types.
pub mod proto {
    use ctrmgr::codec::protobuf::wire::{ctrmgr_v1 as pb, Message};
    use pb::request::Op;

    /// `Request{id, info: {}}`.
    pub fn info_request(id: &str) -> Vec<u8> {
        request(Some(id), Op::Info(pb::InfoArgs {}))
    }

    /// `Request{start: {name}}`.
    pub fn start_request(name: &str) -> Vec<u8> {
        request(None, Op::Start(pb::StartArgs { name: name.into() }))
    }

    fn request(id: Option<&str>, op: Op) -> Vec<u8> {
        pb::Request {
            id: id.map(str::to_owned),
            op: Some(op),
            ..pb::Request::default()
        }
        .encode_to_vec()
    }

    /// A `Reply`'s bytes, decoded.
    pub fn reply(bytes: &[u8]) -> pb::Reply {
        pb::Reply::decode(bytes).unwrap_or_else(|e| panic!("not a ctrmgr.v1.Reply: {e}"))
    }

    /// The error code of a Protobuf `Reply`, or `None` when it is a success.
    pub fn error_code(bytes: &[u8]) -> Option<String> {
        match reply(bytes).result {
            Some(pb::reply::Result::Error(error)) => Some(error.code),
            _ => None,
        }
    }
}

/// The D-Bus transport as a [`ContractClient`]: `Execute` for JSON (as a string, so
/// without NUL bytes and as UTF-8: what a client can send), `ExecuteProto` for Protobuf.
pub struct DbusClient<'a>(pub &'a zbus::blocking::Connection);

impl crate::common::contract::ContractClient for DbusClient<'_> {
    fn transport(&self) -> &'static str {
        "D-Bus"
    }

    fn exchange(
        &self,
        format: ctrmgr::codec::Format,
        bytes: &[u8],
        _answerable: bool,
    ) -> Option<Vec<u8>> {
        Some(match format {
            ctrmgr::codec::Format::Json => {
                let text = String::from_utf8_lossy(bytes).replace('\0', "");
                let reply = call(self.0, "Execute", &(text.as_str(),))
                    .unwrap_or_else(|(name, msg)| panic!("Execute must not fail: {name}: {msg}"));
                reply.body().deserialize::<String>().unwrap().into_bytes()
            }
            ctrmgr::codec::Format::Protobuf => execute_proto(self.0, bytes),
        })
    }
}

/// Removes a test container from docker when dropped, also when an assertion fails.
pub struct RemovedAtEnd(pub String);

impl Drop for RemovedAtEnd {
    fn drop(&mut self) {
        super::common::docker_rm(&self.0);
    }
}

/// An agent whose D-Bus transport joins `bus`.
pub fn agent_on(bus: &PrivateBus, extra: &str) -> super::common::Agent {
    super::common::Agent::start(&format!("[dbus]\nbus = \"{}\"\n{extra}", bus.address))
}

/// The agent answers `info` over D-Bus.
pub fn assert_serving(conn: &zbus::blocking::Connection) {
    let r = execute(conn, &json!({"op": "info"}));
    assert_eq!(r["ok"], true, "{r}");
}

/// The names in a `list` result.
pub fn names(list: &Value) -> Vec<String> {
    list["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}
