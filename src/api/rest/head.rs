//! A REST connection's stream as `async_h1`'s parser reads it, with `Expect:
//! 100-continue` answered here. async-h1 answers that expectation from a task it spawns
//! on async-global-executor, whose first use starts one thread per CPU
//! (`async-global-executor-N`) that never exit. So [`HeadReader::read_head`] reads each
//! request's head before the parser does, takes the `Expect: 100-continue` line out and
//! says so; the caller sends `100 Continue` itself (at once: RFC 9110 section 10.1.1
//! allows it) and the parser never sees the header.

use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

/// async-h1 refuses a head this long (its `MAX_HEAD_LENGTH`): reading stops there and
/// its parser gives the error.
const MAX_HEAD: usize = 8 * 1024;

/// The interim reply to `Expect: 100-continue`.
pub(super) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The stream, with the bytes [`read_head`](Self::read_head) read ahead served first.
/// Clones share those bytes (the parser reads through a clone).
#[derive(Debug, Clone)]
pub(super) struct HeadReader<S> {
    inner: S,
    ahead: Arc<Mutex<Vec<u8>>>,
}

impl<S: AsyncRead + Unpin> HeadReader<S> {
    /// Wraps a connection's stream.
    pub(super) fn new(inner: S) -> Self {
        Self {
            inner,
            ahead: Arc::default(),
        }
    }

    fn ahead(&self) -> MutexGuard<'_, Vec<u8>> {
        self.ahead.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads ahead until the next request's head is complete (or the stream ends, or
    /// the head is too long), and takes its `Expect: 100-continue` line out; `true` when
    /// there was one.
    pub(super) async fn read_head(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 1024];
        loop {
            let read_enough = {
                let ahead = self.ahead();
                head_end(&ahead).is_some() || ahead.len() >= MAX_HEAD
            };
            if read_enough {
                break;
            }
            let n = self.inner.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            self.ahead().extend_from_slice(&chunk[..n]);
        }
        Ok(take_expect_continue(&mut self.ahead()))
    }
}

/// Where the head in `bytes` ends (after its blank line), if it is complete.
fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// Removes the head's `Expect: 100-continue` line (any case, any spacing); `true` when
/// there was one. Other expectations are left to the parser (which ignores them).
fn take_expect_continue(bytes: &mut Vec<u8>) -> bool {
    let Some(end) = head_end(bytes) else {
        return false;
    };
    let mut start = 0;
    while start < end {
        let Some(len) = bytes[start..end].windows(2).position(|w| w == b"\r\n") else {
            return false;
        };
        let line = &bytes[start..start + len];
        let continue_expected = start > 0
            && line.iter().position(|&b| b == b':').is_some_and(|colon| {
                line[..colon].eq_ignore_ascii_case(b"expect")
                    && line[colon + 1..]
                        .trim_ascii()
                        .eq_ignore_ascii_case(b"100-continue")
            });
        if continue_expected {
            bytes.drain(start..start + len + 2);
            return true;
        }
        start += len + 2;
    }
    false
}

impl<S: AsyncRead + Unpin> AsyncRead for HeadReader<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        {
            let mut ahead = self.ahead();
            if !ahead.is_empty() {
                let n = buf.len().min(ahead.len());
                buf[..n].copy_from_slice(&ahead[..n]);
                ahead.drain(..n);
                return Poll::Ready(Ok(n));
            }
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadReader<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::io::Cursor;

    fn taken(head: &str) -> (bool, String) {
        let mut bytes = head.as_bytes().to_vec();
        let took = take_expect_continue(&mut bytes);
        (took, String::from_utf8(bytes).unwrap())
    }

    #[test]
    fn the_expect_continue_line_is_taken_out_in_any_case() {
        let head = "POST /v1/execute HTTP/1.1\r\nHost: a\r\nexpect:  100-Continue \r\n\
                    Content-Length: 2\r\n\r\n{}";
        assert_eq!(
            taken(head),
            (
                true,
                "POST /v1/execute HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}".into()
            )
        );
    }

    #[test]
    fn other_heads_are_left_as_they_are() {
        for head in [
            "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1\r\nExpect: something-else\r\n\r\n",
            "GET / HTTP/1.1\r\nX-Expect: 100-continue\r\n\r\n",
            // Not a complete head yet, and a body that only looks like a header.
            "GET / HTTP/1.1\r\nExpect: 100-continue\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 22\r\n\r\nExpect: 100-continue\r\n",
        ] {
            assert_eq!(taken(head), (false, head.to_owned()), "{head:?}");
        }
    }

    #[test]
    fn read_ahead_bytes_come_first_then_the_stream() {
        let stream = "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody";
        let mut reader = HeadReader::new(Cursor::new(stream.as_bytes().to_vec()));
        assert!(smol::block_on(reader.read_head()).unwrap());
        let mut rest = String::new();
        smol::block_on(reader.clone().read_to_string(&mut rest)).unwrap();
        assert_eq!(rest, "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody");
    }
}
