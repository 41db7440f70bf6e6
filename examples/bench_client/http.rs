//! A minimal blocking HTTP/1.1 keep-alive client over TCP or a unix socket: the same
//! code path measures the agent (TCP) and the engines (unix sockets), so neither side
//! pays for a proxy or a heavier client.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

/// Where a connection goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// `host:port`.
    Tcp(String),
    /// A unix socket path.
    Unix(PathBuf),
}

impl Target {
    /// Parses `tcp:HOST:PORT` or `unix:PATH`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(addr) = s.strip_prefix("tcp:") {
            Ok(Self::Tcp(addr.to_owned()))
        } else if let Some(path) = s.strip_prefix("unix:") {
            Ok(Self::Unix(PathBuf::from(path)))
        } else {
            Err(format!("target '{s}': write tcp:HOST:PORT or unix:PATH"))
        }
    }
}

/// One open stream.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            Self::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            Self::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.flush(),
            Self::Unix(s) => s.flush(),
        }
    }
}

/// A keep-alive connection, reopened when the server closed it.
pub struct Conn {
    target: Target,
    /// `Authorization` sent on TCP: the agent's TCP listener wants its bearer token,
    /// taken from `CTRMGR_BENCH_TOKEN`.
    authorization: Option<String>,
    stream: Option<BufReader<Stream>>,
    request: Vec<u8>,
}

/// A response: status and body.
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The whole body (de-chunked).
    pub body: Vec<u8>,
}

impl Conn {
    /// A connection to `target`, opened on first use.
    pub fn new(target: Target) -> Self {
        let authorization = match target {
            Target::Tcp(_) => std::env::var("CTRMGR_BENCH_TOKEN")
                .ok()
                .map(|t| format!("Authorization: Bearer {t}\r\n")),
            Target::Unix(_) => None,
        };
        Self {
            target,
            authorization,
            stream: None,
            request: Vec::with_capacity(512),
        }
    }

    fn open(&self) -> io::Result<BufReader<Stream>> {
        let stream = match &self.target {
            Target::Tcp(addr) => {
                let s = TcpStream::connect(addr)?;
                s.set_nodelay(true)?;
                Stream::Tcp(s)
            }
            Target::Unix(path) => Stream::Unix(UnixStream::connect(path)?),
        };
        Ok(BufReader::with_capacity(64 * 1024, stream))
    }

    /// Sends one request and reads its response; a stale keep-alive connection is
    /// reopened once.
    pub fn send(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> io::Result<Response> {
        self.request.clear();
        write!(
            self.request,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: ctrmgr-bench\r\n"
        )?;
        if let Some(a) = &self.authorization {
            self.request.extend_from_slice(a.as_bytes());
        }
        if let Some(b) = body {
            write!(
                self.request,
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            )?;
        }
        self.request.extend_from_slice(b"\r\n");
        if let Some(b) = body {
            self.request.extend_from_slice(b);
        }
        let reused = self.stream.is_some();
        match self.exchange() {
            Err(e) if reused => {
                self.stream = None;
                self.exchange().map_err(|_| e)
            }
            other => other,
        }
    }

    fn exchange(&mut self) -> io::Result<Response> {
        if self.stream.is_none() {
            self.stream = Some(self.open()?);
        }
        let reader = self
            .stream
            .as_mut()
            .ok_or_else(|| io::Error::other("no stream"))?;
        reader.get_mut().write_all(&self.request)?;
        let (response, keep_alive) = read_response(reader)?;
        if !keep_alive {
            self.stream = None;
        }
        Ok(response)
    }
}

/// Reads one response; the flag says whether the connection may be reused.
fn read_response(reader: &mut impl BufRead) -> io::Result<(Response, bool)> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line '{}'", line.trim())))?;
    let mut length = None;
    let mut chunked = false;
    let mut keep_alive = true;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            keep_alive = !value.eq_ignore_ascii_case("close");
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim(), 16)
                .map_err(|_| io::Error::other("bad chunk size"))?;
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            line.clear();
            reader.read_line(&mut line)?;
            if size == 0 {
                break;
            }
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        reader.read_exact(&mut body)?;
    } else if status != 204 && status != 304 {
        reader.read_to_end(&mut body)?;
        keep_alive = false;
    }
    Ok((Response { status, body }, keep_alive))
}
