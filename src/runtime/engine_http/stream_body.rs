//! A small async HTTP/1.1 reply reader for the engines' never-ending streams: the
//! status and headers of one reply, then its body (chunked, of a Content-Length, or up
//! to the end of the connection) as lines. Only what dockerd and libpod send is read;
//! every length is bounded.

use futures_lite::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};
use std::io;

/// The longest status line, header line, chunk-size line or body line accepted.
pub(super) const LINE_LIMIT: usize = 1024 * 1024;
/// The most header lines accepted in a reply.
const HEADER_LIMIT: usize = 100;

/// How a reply's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// `Transfer-Encoding: chunked`; the bytes left in the current chunk.
    Chunked { left: u64 },
    /// `Content-Length`; the bytes left.
    Length { left: u64 },
    /// Neither: up to the end of the connection.
    Close,
}

/// A reply's status and the reader of its body.
pub(super) struct Reply<R> {
    /// The HTTP status.
    pub(super) status: u16,
    reader: R,
    framing: Framing,
    done: bool,
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// One line (without its `\r\n` or `\n`), `None` at the end of the input; longer than
/// `limit` is an error.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    limit: usize,
) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = (&mut *reader)
        .take(limit as u64 + 1)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(invalid(if line.len() > limit {
            format!("a line longer than {limit} bytes")
        } else {
            "the connection ended in the middle of a line".to_owned()
        }));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

/// Reads the status line and headers of a reply from `reader`.
pub(super) async fn read_head<R: AsyncBufRead + Unpin>(mut reader: R) -> io::Result<Reply<R>> {
    let status_line = read_line(&mut reader, LINE_LIMIT)
        .await?
        .ok_or_else(|| invalid("the engine closed the connection without a reply"))?;
    let status_line = String::from_utf8_lossy(&status_line);
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| invalid(format!("not an HTTP/1.x status line: {status_line:.80}")))?;
    let mut framing = Framing::Close;
    for _ in 0..HEADER_LIMIT {
        let line = read_line(&mut reader, LINE_LIMIT)
            .await?
            .ok_or_else(|| invalid("the connection ended in the reply's headers"))?;
        if line.is_empty() {
            return Ok(Reply {
                status,
                reader,
                framing,
                done: false,
            });
        }
        let line = String::from_utf8_lossy(&line);
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            framing = Framing::Chunked { left: 0 };
        } else if name.eq_ignore_ascii_case("content-length") && framing == Framing::Close {
            let left = value
                .parse()
                .map_err(|_| invalid(format!("Content-Length '{value:.40}'")))?;
            framing = Framing::Length { left };
        }
    }
    Err(invalid(format!("more than {HEADER_LIMIT} header lines")))
}

impl<R: AsyncBufRead + Unpin> Reply<R> {
    /// Some bytes of the body into `buf`; 0 at its end.
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let want = match &mut self.framing {
            Framing::Close => buf.len(),
            Framing::Length { left } => usize::try_from(*left).unwrap_or(usize::MAX),
            Framing::Chunked { left } => {
                if *left == 0 {
                    let line = read_line(&mut self.reader, LINE_LIMIT)
                        .await?
                        .ok_or_else(|| invalid("the connection ended before a chunk"))?;
                    let line = String::from_utf8_lossy(&line);
                    let size = line.split(';').next().unwrap_or_default().trim();
                    *left = u64::from_str_radix(size, 16)
                        .map_err(|_| invalid(format!("chunk size '{size:.40}'")))?;
                }
                usize::try_from(*left).unwrap_or(usize::MAX)
            }
        };
        if want == 0 {
            // The last chunk (its trailers are not read) or the whole Content-Length.
            self.done = true;
            return Ok(0);
        }
        let want = want.min(buf.len());
        let n = self.reader.read(&mut buf[..want]).await?;
        if n == 0 {
            self.done = true;
            return match self.framing {
                Framing::Close => Ok(0),
                _ => Err(invalid("the connection ended in the middle of the body")),
            };
        }
        match &mut self.framing {
            Framing::Length { left } => *left -= n as u64,
            Framing::Chunked { left } => {
                *left -= n as u64;
                if *left == 0 {
                    let end = read_line(&mut self.reader, 2).await?;
                    if end.as_deref() != Some(&[][..]) {
                        return Err(invalid("a chunk not followed by CRLF"));
                    }
                }
            }
            Framing::Close => {}
        }
        Ok(n)
    }

    /// The whole body, up to `limit` bytes (the rest is not read).
    pub(super) async fn read_to_limit(&mut self, limit: usize) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        let mut buf = [0u8; 4096];
        while body.len() < limit {
            let n = self.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n.min(limit - body.len())]);
        }
        Ok(body)
    }

    /// Turns the body into a reader of its lines.
    pub(super) fn lines(self) -> BodyLines<R> {
        BodyLines {
            reply: self,
            pending: Vec::new(),
        }
    }
}

/// The lines of a reply's body, whatever its framing.
pub(super) struct BodyLines<R> {
    reply: Reply<R>,
    pending: Vec<u8>,
}

impl<R: AsyncBufRead + Unpin> BodyLines<R> {
    /// The next line (without its `\n`), `None` at the end of the body; a line longer
    /// than [`LINE_LIMIT`] is an error.
    pub(super) async fn next_line(&mut self) -> io::Result<Option<String>> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                let rest = self.pending.split_off(i + 1);
                let mut line = std::mem::replace(&mut self.pending, rest);
                line.pop();
                return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
            }
            if self.pending.len() > LINE_LIMIT {
                return Err(invalid(format!("an event longer than {LINE_LIMIT} bytes")));
            }
            let n = self.reply.read(&mut buf).await?;
            if n == 0 {
                if self.pending.is_empty() {
                    return Ok(None);
                }
                let line = std::mem::take(&mut self.pending);
                return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
            }
            self.pending.extend_from_slice(&buf[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::io::Cursor;

    fn lines_of(raw: &str) -> (u16, io::Result<Vec<String>>) {
        smol::block_on(async {
            let reply = read_head(Cursor::new(raw.as_bytes().to_vec()))
                .await
                .unwrap();
            let status = reply.status;
            let mut lines = reply.lines();
            let mut out = Vec::new();
            loop {
                match lines.next_line().await {
                    Ok(Some(l)) => out.push(l),
                    Ok(None) => return (status, Ok(out)),
                    Err(e) => return (status, Err(e)),
                }
            }
        })
    }

    #[test]
    fn chunked_lines_across_chunks() {
        let raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
                   5\r\n{\"a\":\r\n4;ext=1\r\n1}\n{\r\n9\r\n\"b\":2}\n\n\n\r\n0\r\n\r\n";
        let (status, lines) = lines_of(raw);
        assert_eq!(status, 200);
        assert_eq!(lines.unwrap(), ["{\"a\":1}", "{\"b\":2}", "", ""]);
    }

    #[test]
    fn content_length_and_close_framing() {
        let (status, lines) =
            lines_of("HTTP/1.0 404 Not Found\r\ncontent-length: 3\r\n\r\nab\nIGNORED");
        assert_eq!(status, 404);
        assert_eq!(lines.unwrap(), ["ab"]);
        let (_, lines) = lines_of("HTTP/1.1 200 OK\r\n\r\nx\ny");
        assert_eq!(lines.unwrap(), ["x", "y"]);
    }

    #[test]
    fn broken_replies_are_errors() {
        let (_, lines) = lines_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
        assert!(lines.is_err());
        let (_, lines) = lines_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab");
        assert!(lines.is_err());
        smol::block_on(async {
            assert!(read_head(Cursor::new(b"SSH-2.0\r\n\r\n".to_vec()))
                .await
                .is_err());
            assert!(read_head(Cursor::new(Vec::new())).await.is_err());
        });
    }

    #[test]
    fn an_error_body_is_read_to_its_limit() {
        smol::block_on(async {
            let raw =
                b"HTTP/1.1 500 Internal\r\nContent-Length: 20\r\n\r\n{\"message\":\"boom\"}xx";
            let mut reply = read_head(Cursor::new(raw.to_vec())).await.unwrap();
            assert_eq!(reply.status, 500);
            assert_eq!(
                reply.read_to_limit(18).await.unwrap(),
                b"{\"message\":\"boom\"}"
            );
        });
    }
}
