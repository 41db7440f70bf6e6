//! HTTP/1.1 over a unix socket for ureq: a `Connector` that opens a configured socket
//! path whatever the URL's host, and a resolver that never asks DNS.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, ShutdownHandle, Transport,
};
use ureq::Agent;

/// Builds an agent whose every request goes to the unix socket at `path` (use URLs such
/// as `http://localhost/version`).
pub fn unix_socket_agent(path: &Path, config: Config) -> Agent {
    Agent::with_parts(config, UnixSocketConnector::new(path), LoopbackResolver)
}

/// Opens a connection to one unix socket path for every request.
#[derive(Debug, Clone)]
pub struct UnixSocketConnector {
    path: PathBuf,
}

impl UnixSocketConnector {
    /// A connector for the socket at `path`.
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
        }
    }
}

impl<In: Transport> Connector<In> for UnixSocketConnector {
    type Out = UnixSocketTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let stream = UnixStream::connect(&self.path).map_err(|e| {
            // Name the socket: the caller turns this into a message a person can act on.
            io::Error::new(
                e.kind(),
                format!(
                    "cannot connect to {}: {}",
                    self.path.display(),
                    plain_io(&e)
                ),
            )
        })?;
        let config = details.config;
        let buffers = LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size());
        let transport = UnixSocketTransport {
            stream: Arc::new(SocketStream(stream)),
            buffers,
            read_timeout: None,
            write_timeout: None,
        };
        (details.register_shutdown)(Arc::downgrade(&transport.stream) as Weak<dyn ShutdownHandle>)?;
        Ok(Some(transport))
    }
}

/// An io error's text without the `(os error N)` suffix.
fn plain_io(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// The socket, shared (weakly) with the agent so `Agent::shutdown` can interrupt it.
#[derive(Debug)]
struct SocketStream(UnixStream);

impl ShutdownHandle for SocketStream {
    fn shutdown(&self) {
        // An error only means the socket is already closed.
        let _ = self.0.shutdown(Shutdown::Both);
    }
}

/// One HTTP/1.1 connection over a unix socket.
#[derive(Debug)]
pub struct UnixSocketTransport {
    stream: Arc<SocketStream>,
    buffers: LazyBuffers,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

/// Sets a socket timeout only when it changed, to spare a syscall per read.
fn update_timeout(
    wanted: NextTimeout,
    current: &mut Option<Duration>,
    set: impl FnOnce(Option<Duration>) -> io::Result<()>,
) -> io::Result<()> {
    let wanted = wanted.not_zero().map(|d| *d);
    if wanted != *current {
        set(wanted)?;
        *current = wanted;
    }
    Ok(())
}

fn io_to_ureq(e: io::Error, timeout: NextTimeout) -> ureq::Error {
    if matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) {
        ureq::Error::Timeout(timeout.reason)
    } else {
        ureq::Error::Io(e)
    }
}

impl Transport for UnixSocketTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = timeout.for_write();
        let stream = &self.stream.0;
        update_timeout(timeout, &mut self.write_timeout, |t| {
            stream.set_write_timeout(t)
        })?;
        let output = &self.buffers.output()[..amount];
        (&self.stream.0)
            .write_all(output)
            .map_err(|e| io_to_ureq(e, timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let timeout = timeout.for_read();
        let stream = &self.stream.0;
        update_timeout(timeout, &mut self.read_timeout, |t| {
            stream.set_read_timeout(t)
        })?;
        let input = self.buffers.input_append_buf();
        let amount = loop {
            match (&self.stream.0).read(input) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other.map_err(|e| io_to_ureq(e, timeout))?,
            }
        };
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        // An idle pooled connection must have nothing to read; EOF or bytes mean it is
        // closed or out of step.
        let stream = &self.stream.0;
        if stream.set_nonblocking(true).is_err() {
            return false;
        }
        let mut probe = [0u8; 1];
        let open = matches!(
            (&self.stream.0).read(&mut probe),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock
        );
        open && stream.set_nonblocking(false).is_ok()
    }
}

/// Resolves every host to the loopback address without a lookup: the connector ignores
/// addresses anyway, but ureq wants one.
#[derive(Debug)]
struct LoopbackResolver;

impl Resolver for LoopbackResolver {
    fn resolve(
        &self,
        _uri: &Uri,
        _config: &Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let mut addrs = self.empty();
        addrs.push(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 80)));
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::os::unix::net::UnixListener;

    #[test]
    fn request_goes_over_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut reader = io::BufReader::new(conn.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
            }
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .unwrap();
            request_line
        });
        let agent = unix_socket_agent(&path, Agent::config_builder().build());
        let mut res = agent.get("http://localhost/v1.41/_ping").call().unwrap();
        assert_eq!(res.body_mut().read_to_string().unwrap(), "ok");
        assert_eq!(server.join().unwrap(), "GET /v1.41/_ping HTTP/1.1\r\n");
    }

    #[test]
    fn missing_socket_names_the_path() {
        let agent = unix_socket_agent(
            Path::new("/nonexistent/ctrmgr.sock"),
            Agent::config_builder().build(),
        );
        let err = agent.get("http://localhost/version").call().unwrap_err();
        let ureq::Error::Io(e) = err else {
            panic!("expected an io error, got {err}");
        };
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert_eq!(
            e.to_string(),
            "cannot connect to /nonexistent/ctrmgr.sock: No such file or directory"
        );
    }
}
