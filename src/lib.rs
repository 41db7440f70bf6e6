//! ctrmgr: a container manager agent for embedded Linux edge gateways.
//!
//! Layers, top to bottom: transports ([`api`]), codecs ([`codec`]), the core ([`core`]),
//! runtime adapters ([`runtime`]) and stores ([`store`]). Data flows down only.

pub mod api;
pub mod codec;
pub mod config;
pub mod core;
pub mod logging;
pub mod offload;
pub mod runtime;
pub mod signals;
pub mod store;
pub mod systemd_notify;
