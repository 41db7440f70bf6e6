//! Transports: they move bytes, know the format, and hand a decoded request to the core.

pub mod metrics;
#[cfg(feature = "rest")]
pub mod rest;
pub mod shutdown;
