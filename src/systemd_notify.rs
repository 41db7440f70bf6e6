//! A tiny `sd_notify(3)` client: tells systemd the agent is ready, stopping, or alive.
//!
//! systemd passes `$NOTIFY_SOCKET` (a datagram socket path, or `@name` for an abstract
//! socket) to a `Type=notify` service, and `$WATCHDOG_USEC` / `$WATCHDOG_PID` when the
//! unit sets `WatchdogSec=`. Without those variables (run by hand, in tests, under
//! another supervisor) every call here is a no-op.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! ctrmgr::systemd_notify::notify("READY=1")?;
//! if let Some(every) = ctrmgr::systemd_notify::watchdog_interval() {
//!     // ping at half the interval, as sd_watchdog_enabled(3) advises
//!     let _ = every / 2;
//!     ctrmgr::systemd_notify::notify("WATCHDOG=1")?;
//! }
//! # Ok(())
//! # }
//! ```

use std::io;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Sends `state` (e.g. `"READY=1"`, `"STOPPING=1"`, `"WATCHDOG=1"`, `"STATUS=..."`; several
/// assignments separated by newlines) to the service manager.
///
/// Returns `Ok(false)` when `$NOTIFY_SOCKET` is unset or empty (not run by systemd),
/// `Ok(true)` once the datagram is sent, and the I/O error if sending fails.
pub fn notify(state: &str) -> io::Result<bool> {
    match std::env::var_os("NOTIFY_SOCKET") {
        Some(socket) if !socket.is_empty() => {
            send_to(&socket.to_string_lossy(), state)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// The watchdog interval systemd expects `WATCHDOG=1` pings within, if it is enabled
/// for this process: `$WATCHDOG_USEC` is set and non-zero and `$WATCHDOG_PID`, when
/// set, is our pid. Ping at half this interval.
pub fn watchdog_interval() -> Option<Duration> {
    watchdog_from(
        std::env::var("WATCHDOG_USEC").ok().as_deref(),
        std::env::var("WATCHDOG_PID").ok().as_deref(),
        std::process::id(),
    )
}

/// [`watchdog_interval`] on given values, so it is testable without touching the
/// process environment.
fn watchdog_from(usec: Option<&str>, pid: Option<&str>, our_pid: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok()?;
    if usec == 0 {
        return None;
    }
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok()? != our_pid {
            return None;
        }
    }
    Some(Duration::from_micros(usec))
}

/// Sends one datagram to the socket named by a `$NOTIFY_SOCKET` value.
fn send_to(socket: &str, state: &str) -> io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    if let Some(name) = socket.strip_prefix('@') {
        send_abstract(&sock, name, state)
    } else if socket.starts_with('/') {
        sock.send_to(state.as_bytes(), socket).map(drop)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("NOTIFY_SOCKET '{socket}' is neither an absolute path nor an @abstract name"),
        ))
    }
}

/// Abstract-namespace sockets exist only on Linux (and Android).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn send_abstract(sock: &UnixDatagram, name: &str, state: &str) -> io::Result<()> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    sock.send_to_addr(state.as_bytes(), &addr).map(drop)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn send_abstract(_sock: &UnixDatagram, name: &str, _state: &str) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!("NOTIFY_SOCKET '@{name}': abstract sockets need Linux"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recv(sock: &UnixDatagram) -> String {
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 512];
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn sends_to_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        send_to(path.to_str().unwrap(), "READY=1\nSTATUS=serving").unwrap();
        assert_eq!(recv(&server), "READY=1\nSTATUS=serving");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sends_to_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("ctrmgr-test-notify-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        send_to(&format!("@{name}"), "WATCHDOG=1").unwrap();
        assert_eq!(recv(&server), "WATCHDOG=1");
    }

    #[test]
    fn a_missing_socket_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.sock");
        assert!(send_to(path.to_str().unwrap(), "READY=1").is_err());
    }

    #[test]
    fn a_relative_socket_name_is_refused() {
        let err = send_to("relative.sock", "READY=1").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn notify_without_notify_socket_is_a_no_op() {
        // systemd never sets NOTIFY_SOCKET for `cargo test`; skip if someone did.
        if std::env::var_os("NOTIFY_SOCKET").is_none() {
            assert!(!notify("READY=1").unwrap());
        }
    }

    #[test]
    fn watchdog_interval_from_usec() {
        assert_eq!(
            watchdog_from(Some("30000000"), None, 42),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            watchdog_from(Some("15000000"), Some("42"), 42),
            Some(Duration::from_secs(15))
        );
    }

    #[test]
    fn watchdog_off_when_unset_zero_bad_or_other_pid() {
        assert_eq!(watchdog_from(None, None, 42), None);
        assert_eq!(watchdog_from(Some("0"), None, 42), None);
        assert_eq!(watchdog_from(Some("soon"), None, 42), None);
        assert_eq!(watchdog_from(Some("30000000"), Some("41"), 42), None);
        assert_eq!(watchdog_from(Some("30000000"), Some("x"), 42), None);
    }
}
