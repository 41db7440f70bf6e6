//! A registry on loopback that serves a manifest and its config, then sends the first
//! bytes of the only layer and stalls: a pull from it hangs until the caller's timeout.
//! Python's standard library, no registry code.

use super::unique;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const SCRIPT: &str = r#"
import hashlib, http.server, json, time
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]}}).encode()
config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
layer_size, layer_digest = 10_000_000, "sha256:" + "ab" * 32
manifest = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
               "size": len(config), "digest": config_digest},
    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": layer_size, "digest": layer_digest}]}).encode()
manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()

class Registry(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def do_HEAD(self):
        self.answer(False)
    def do_GET(self):
        self.answer(True)
    def answer(self, with_body):
        path = self.path.split("?")[0]
        if path.endswith(layer_digest):
            self.send_response(200)
            self.send_header("Content-Length", str(layer_size))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            self.wfile.write(b"\x1f\x8b" + b"\0" * 4096)
            self.wfile.flush()
            time.sleep(3600)
            return
        if path == "/v2/":
            body, kind = b"{}", "application/json"
        elif "/manifests/" in path:
            body, kind = manifest, "application/vnd.docker.distribution.manifest.v2+json"
        elif path.endswith(config_digest):
            body, kind = config, "application/octet-stream"
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Content-Digest", manifest_digest)
        self.end_headers()
        if with_body:
            self.wfile.write(body)

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// The running registry, stopped when dropped.
pub struct StallingRegistry {
    child: Child,
    port: u16,
}

impl StallingRegistry {
    /// Starts it on a free loopback port.
    pub fn start() -> StallingRegistry {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SCRIPT)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 for the stalling registry");
        let mut port = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut port)
            .unwrap();
        let port = port.trim().parse().expect("the registry's port");
        StallingRegistry { child, port }
    }

    /// A fresh reference in it (never present in an engine).
    pub fn image(&self) -> String {
        format!("127.0.0.1:{}/stall/app:{}", self.port, unique("t"))
    }
}

impl Drop for StallingRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
