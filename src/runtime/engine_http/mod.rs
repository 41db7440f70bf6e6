//! HTTP to an engine's REST API over its unix socket, shared by the Docker Engine API
//! and libpod adapters, one idea per file: the request and reply types ([`wire`]), the
//! blocking ureq client on the `ctrmgr-io` threads ([`client`]), the async event stream
//! reader on the executor ([`events`], [`stream_body`]), replies and transport failures
//! as `RuntimeError`s ([`errors`]), a pull's outcome ([`pull`]) and its layers' progress ([`progress`]), URL building
//! ([`url`]) and the unix socket connector (`crate::runtime::unix_socket`, shared with
//! ctrmgrctl).

mod client;
mod errors;
mod events;
mod progress;
mod pull;
mod stream_body;
mod url;
mod wire;

pub(crate) use client::SocketClient;
pub(crate) use pull::pull_outcome;
pub(crate) use url::{bool_str, container_path, image_path, path_and_query};
pub(crate) use wire::{EngineReply, EngineRequest, ReadMode};
