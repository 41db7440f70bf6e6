//! A minimal logger to stderr (journald adds timestamps under systemd): one line per
//! record, `LEVEL target: message`.

use log::{LevelFilter, Log, Metadata, Record};

struct StderrLogger;

impl Log for StderrLogger {
    /// Our own records at the configured level; dependencies' only at warn and above,
    /// so `debug` shows the agent's decisions without a flood of HTTP client traces.
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let own = metadata.target().starts_with("ctrmgr");
        metadata.level() <= log::max_level() && (own || metadata.level() <= log::Level::Warn)
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!(
                "{:<5} {}: {}",
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

/// Installs the logger at `level`; a second call only changes the level.
pub fn init(level: LevelFilter) {
    // Err only means a logger is already installed, which is fine.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}
