//! One health probe, bounded by its timeout on the agent's executor (no thread waits on
//! it): `cmd` through the engine's exec, `tcp` a connect, `http` a `GET` whose status
//! must be 2xx or 3xx. `http` and `tcp` reach the container at its address on the
//! engine's network, or on the loopback interface for a host-network container; the
//! address is looked up once per run of the container, and again after a failed probe.

use crate::core::model::{Container, HealthSpec, NetworkMode};
use crate::core::runtime::Runtime;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Most bytes of an HTTP reply read to find its status line.
const STATUS_LINE_LIMIT: usize = 1024;

/// The prober of one container: the address it found for the current run.
#[derive(Debug, Default)]
pub(super) struct Prober {
    /// The run (`started_at`) and the address found then.
    address: Option<(Option<String>, IpAddr)>,
}

impl Prober {
    /// Runs the probe `spec` describes against `record`'s container: `Ok` when healthy,
    /// else why not.
    pub(super) async fn run(
        &mut self,
        rt: &Arc<dyn Runtime>,
        record: &Container,
        spec: &HealthSpec,
    ) -> Result<(), String> {
        let result = self.run_once(rt, record, spec).await;
        if result.is_err() {
            self.address = None;
        }
        result
    }

    async fn run_once(
        &mut self,
        rt: &Arc<dyn Runtime>,
        record: &Container,
        spec: &HealthSpec,
    ) -> Result<(), String> {
        let timeout = Duration::from_secs(spec.timeout_s.into());
        let probe = self.probe(rt, record, spec, timeout);
        futures_lite::future::or(probe, async {
            smol::Timer::after(timeout).await;
            Err(format!("no answer within {} s", spec.timeout_s))
        })
        .await
    }

    /// The address of the container's current run.
    async fn ip(&mut self, rt: &Arc<dyn Runtime>, record: &Container) -> Result<IpAddr, String> {
        match &self.address {
            Some((run, ip)) if *run == record.started_at => Ok(*ip),
            _ => {
                let ip = address(rt, record).await?;
                self.address = Some((record.started_at.clone(), ip));
                Ok(ip)
            }
        }
    }

    async fn probe(
        &mut self,
        rt: &Arc<dyn Runtime>,
        record: &Container,
        spec: &HealthSpec,
        timeout: Duration,
    ) -> Result<(), String> {
        if let Some(cmd) = &spec.cmd {
            return match rt.exec(&record.name, cmd, timeout).await {
                Ok(0) => Ok(()),
                Ok(code) => Err(format!("the check command exited with {code}")),
                Err(e) => Err(e.to_string()),
            };
        }
        let port = match (&spec.http, &spec.tcp) {
            (Some(http), _) => http.port,
            (None, Some(tcp)) => tcp.port,
            (None, None) => return Err("the health check names no probe".to_owned()),
        };
        let ip = self.ip(rt, record).await?;
        let addr = SocketAddr::new(ip, port);
        let mut stream = smol::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        match &spec.http {
            Some(http) => http_status(&mut stream, addr, &http.path).await,
            None => Ok(()),
        }
    }
}

/// Where the agent reaches the container: loopback on the host network, else the
/// address the engine gave it.
async fn address(rt: &Arc<dyn Runtime>, record: &Container) -> Result<IpAddr, String> {
    if record.spec.network == Some(NetworkMode::Host) {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    rt.inspect(&record.name)
        .await
        .map_err(|e| e.to_string())?
        .ip
        .ok_or_else(|| "the container has no address on the engine's network".to_owned())
}

/// Sends `GET path` and checks the status line.
async fn http_status(
    stream: &mut smol::net::TcpStream,
    addr: SocketAddr,
    path: &str,
) -> Result<(), String> {
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: ctrmgr-health\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("sending to {addr}: {e}"))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < STATUS_LINE_LIMIT {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("reading from {addr}: {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    match status_code(&head) {
        Some(code) if (200..400).contains(&code) => Ok(()),
        Some(code) => Err(format!("GET {path} answered {code}")),
        None => Err(format!("GET {path}: no HTTP status line")),
    }
}

/// The status code of an HTTP reply's first line.
fn status_code(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_whitespace();
    words.next().filter(|v| v.starts_with("HTTP/"))?;
    words.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(status_code(b"HTTP/1.0 200 OK\r\nServer: x\r\n"), Some(200));
        assert_eq!(status_code(b"HTTP/1.1 404 Not Found\r\n"), Some(404));
        assert_eq!(status_code(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(status_code(b""), None);
    }

    #[test]
    fn a_closed_port_fails_and_a_listening_one_passes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            s.write_all(b"HTTP/1.0 503 Busy\r\n\r\n").unwrap();
        });
        let http = |port: u16| {
            smol::block_on(async move {
                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                let mut s = smol::net::TcpStream::connect(addr)
                    .await
                    .map_err(|e| e.to_string())?;
                http_status(&mut s, addr, "/").await
            })
        };
        let err = http(open).unwrap_err();
        assert!(err.contains("503"), "{err}");
        server.join().unwrap();
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(http(closed).is_err());
    }
}
