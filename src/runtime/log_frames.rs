//! Log replies of the engines' REST APIs: without a TTY, Docker and libpod both
//! multiplex stdout and stderr in frames; this turns a reply body into lines.

/// What was wrong with a multiplexed log body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FrameError {
    /// The body ends inside a frame header.
    #[error("log stream ends in a truncated frame header ({0} bytes)")]
    TruncatedHeader(usize),
    /// A header with an unknown stream or non-zero padding, in hex.
    #[error("log stream has an invalid frame header {0}")]
    InvalidHeader(String),
    /// The body ends inside a frame's payload.
    #[error("log stream ends in a truncated frame ({got} of {len} bytes)")]
    TruncatedFrame {
        /// Payload bytes present.
        got: usize,
        /// Payload bytes announced.
        len: usize,
    },
}

/// Splits a log body into lines. Without a TTY the engine multiplexes stdout and stderr
/// in frames of an 8-byte header (stream, 3 zero bytes, big-endian length) and a payload.
pub(crate) fn log_lines(body: &[u8], tty: bool) -> Result<Vec<String>, FrameError> {
    let text = if tty { body.to_vec() } else { demux(body)? };
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let text = String::from_utf8_lossy(&text);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned())
        .collect())
}

fn demux(mut body: &[u8]) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::with_capacity(body.len());
    while !body.is_empty() {
        let Some((header, rest)) = body.split_first_chunk::<8>() else {
            return Err(FrameError::TruncatedHeader(body.len()));
        };
        if header[0] > 2 || header[1..4] != [0, 0, 0] {
            let hex: Vec<String> = header.iter().map(|b| format!("{b:02x}")).collect();
            return Err(FrameError::InvalidHeader(hex.join(" ")));
        }
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let Some(payload) = rest.get(..len) else {
            return Err(FrameError::TruncatedFrame {
                got: rest.len(),
                len,
            });
        };
        out.extend_from_slice(payload);
        body = &rest[len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(stream: u8, payload: &str) -> Vec<u8> {
        let mut f = vec![stream, 0, 0, 0];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload.as_bytes());
        f
    }

    #[test]
    fn logs_demultiplexed() {
        let mut body = frame(1, "hello\n");
        body.extend(frame(2, "oops\r\n"));
        body.extend(frame(1, "last"));
        assert_eq!(
            log_lines(&body, false).unwrap(),
            vec!["hello", "oops", "last"]
        );
        assert_eq!(log_lines(b"", false).unwrap(), Vec::<String>::new());
        assert_eq!(log_lines(b"a\nb\n", true).unwrap(), vec!["a", "b"]);
        assert_eq!(log_lines(b"\n", true).unwrap(), vec![""]);
    }

    #[test]
    fn logs_invalid_frames() {
        let mut truncated = frame(1, "hello\n");
        truncated.truncate(10);
        assert!(log_lines(&truncated, false).is_err());
        assert!(log_lines(&[1, 0, 0], false).is_err());
        assert!(log_lines(b"hello world\n", false).is_err());
    }
}
