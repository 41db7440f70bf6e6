//! SIGTERM and SIGINT as an async stream, through a signalfd polled by async-io: no
//! handler runs in signal context and no thread is spent on signals.

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::io;

/// Termination signals, readable without blocking the executor.
pub struct TerminationSignals {
    fd: async_io::Async<SignalFd>,
}

impl TerminationSignals {
    /// Blocks SIGTERM and SIGINT for this thread (call it before any thread is spawned,
    /// so every thread inherits the mask) and opens a signalfd for them.
    pub fn install() -> io::Result<Self> {
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGTERM);
        mask.add(Signal::SIGINT);
        mask.thread_block().map_err(io::Error::from)?;
        let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(io::Error::from)?;
        Ok(Self {
            fd: async_io::Async::new(sfd)?,
        })
    }

    /// Waits for the next termination signal and returns its name.
    pub async fn recv(&self) -> io::Result<&'static str> {
        let info = self
            .fd
            .read_with(|fd| match fd.read_signal() {
                Ok(Some(info)) => Ok(info),
                Ok(None) => Err(io::ErrorKind::WouldBlock.into()),
                Err(e) => Err(io::Error::from(e)),
            })
            .await?;
        Ok(if info.ssi_signo == Signal::SIGINT as u32 {
            "SIGINT"
        } else {
            "SIGTERM"
        })
    }
}
