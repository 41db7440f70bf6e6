//! The core: validated commands, the domain model, the `Runtime` and `Store` traits, and
//! `ContainerService`, which runs a command as a runtime op plus one store update. It
//! imports no transport, codec, runtime or store implementation.

mod address;
pub mod clock;
pub mod command;
pub mod deployment;
pub mod error;
mod event_told;
pub mod events;
#[cfg(test)]
pub(crate) mod fake_engine;
pub mod free_space;
pub mod image_gc;
pub mod image_gc_task;
pub mod image_pattern;
pub mod locks;
pub mod model;
mod mount_source;
pub mod names;
pub mod op;
mod ops;
mod pending_creates;
pub mod policy;
pub mod pull_progress;
pub mod puller;
pub mod queue_name;
mod reconcile_live;
mod reconcile_queue;
pub mod reconcile_records;
pub mod reconciler_task;
mod record_save;
pub mod registry_credentials;
pub mod reply;
pub mod request_digest;
pub mod request_id;
pub mod runtime;
pub mod service;
pub mod since;
pub mod store;
pub mod supervision;
pub mod validate;
