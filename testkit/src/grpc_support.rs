//! The gRPC transport from the test's side, through a client no one here wrote: Python
//! `grpcio` (installed by `scripts/services.sh` into its venv) with stubs that
//! `grpcio-tools` generates from proto/ctrmgr.proto at test time. [`run_script`] runs one
//! Python script against an agent; [`GrpcClient`] keeps one Python process open and is
//! the gRPC transport as a [`ContractClient`](crate::common::contract::ContractClient).

use crate::common::Agent;
use ctrmgr::codec::Format;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

/// Generates the stubs, opens a channel to argv[2] and leaves `pb`, `stub`, `channel`,
/// `args` (argv[3], JSON) and `as_dict` to the script that follows.
pub const PRELUDE: &str = r#"
import json, sys, time, tempfile
import grpc
from grpc_tools import protoc
from google.protobuf import json_format
proto_dir, target, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
out_dir = tempfile.mkdtemp(prefix="ctrmgr-grpc-stubs-")
if protoc.main(["protoc", "-I" + proto_dir, "--python_out=" + out_dir,
                "--grpc_python_out=" + out_dir, "ctrmgr.proto"]) != 0:
    sys.exit("protoc failed on ctrmgr.proto")
sys.path.insert(0, out_dir)
import ctrmgr_pb2 as pb, ctrmgr_pb2_grpc as pb_grpc
# grpcio (1.57+) sends a unix socket's path as `:authority`, which the agent's HTTP/2
# layer (h2) refuses as malformed: name `localhost`, as grpc-go and kubectl do.
options = [("grpc.default_authority", "localhost")] if target.startswith("unix:") else []
channel = grpc.insecure_channel(target, options=options)
stub = pb_grpc.AgentStub(channel)

def as_dict(message):
    return json_format.MessageToDict(message, preserving_proto_field_name=True)
"#;

/// Reads lines of base64 request bytes, calls `Execute` with those bytes as they are
/// (no serializer: hostile bytes reach the agent unchanged) and prints each reply's bytes
/// in base64, or `ERR <status>` when the call failed.
const EXCHANGE_LOOP: &str = r#"
import base64
execute = channel.unary_unary("/ctrmgr.v1.Agent/Execute")
print("ready", flush=True)
for line in sys.stdin:
    try:
        reply = execute(base64.b64decode(line.strip()), timeout=120)
        print(base64.b64encode(reply).decode(), flush=True)
    except grpc.RpcError as e:
        print("ERR", e.code(), e.details(), flush=True)
"#;

/// The Python of the test services' venv (`CTRMGR_PYTHON` overrides it).
pub fn python() -> String {
    let python = std::env::var("CTRMGR_PYTHON").unwrap_or_else(|_| {
        let dir = std::env::var("CTRMGR_SVC_DIR").unwrap_or("/tmp/ctrmgr-test-services".into());
        format!("{dir}/python/bin/python3")
    });
    assert!(
        std::path::Path::new(&python).exists(),
        "no {python}: run `scripts/services.sh up` (it installs grpcio and grpcio-tools there)"
    );
    python
}

/// The agent's gRPC target for grpcio (its unix socket).
pub fn target(agent: &Agent) -> String {
    format!("unix://{}", agent.dir.join("grpc.sock").display())
}

/// `python -c PRELUDE+script proto_dir target args`, not yet started.
pub fn command(script: &str, target: &str, args: &Value) -> Command {
    let mut cmd = Command::new(python());
    cmd.arg("-c")
        .arg(format!("{PRELUDE}\n{script}"))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../proto"))
        .arg(target)
        .arg(args.to_string());
    cmd
}

/// Runs `script` after the prelude; its last stdout line is JSON.
pub fn run_script(agent: &Agent, script: &str, target: &str, args: Value) -> Value {
    let out = command(script, target, &args).output().unwrap();
    assert!(
        out.status.success(),
        "python: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        agent.log()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("python printed no JSON ({e}): {stdout}"))
}

/// gRPC `Execute` as a contract client: one grpcio process for every exchange. Execute
/// takes Protobuf only, so this client offers only that format.
pub struct GrpcClient {
    child: Child,
    pipes: Mutex<(ChildStdin, BufReader<ChildStdout>)>,
}

impl GrpcClient {
    /// Starts the Python client against `agent`'s gRPC socket and waits until its stubs
    /// are generated and its channel is made.
    pub fn connect(agent: &Agent) -> GrpcClient {
        let mut child = command(EXCHANGE_LOOP, &target(agent), &Value::Null)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the grpcio client");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut ready = String::new();
        stdout.read_line(&mut ready).unwrap();
        assert_eq!(ready.trim(), "ready", "the grpcio client did not start");
        GrpcClient {
            child,
            pipes: Mutex::new((stdin, stdout)),
        }
    }
}

impl Drop for GrpcClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl crate::common::contract::ContractClient for GrpcClient {
    fn transport(&self) -> &'static str {
        "gRPC"
    }

    fn formats(&self) -> &'static [Format] {
        &[Format::Protobuf]
    }

    fn exchange(&self, format: Format, bytes: &[u8], _answerable: bool) -> Option<Vec<u8>> {
        use base64::Engine as _;
        assert_eq!(format, Format::Protobuf, "gRPC Execute takes Protobuf only");
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut pipes = self.pipes.lock().unwrap();
        let (stdin, stdout) = &mut *pipes;
        writeln!(stdin, "{}", b64.encode(bytes)).unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let line = line.trim();
        assert!(
            !line.starts_with("ERR"),
            "gRPC: the call failed (the status must stay OK): {line}"
        );
        Some(
            b64.decode(line)
                .unwrap_or_else(|e| panic!("gRPC client printed '{line}': {e}")),
        )
    }
}
