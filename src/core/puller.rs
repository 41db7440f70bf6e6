//! How every pull of the agent runs, the `pull` op's and a deployment's alike: the
//! free-space check of the engine's data root first, then the pull with the request's
//! `auth` or, without one, the credentials of `runtime.registry_auth_file` for the
//! image's registry, publishing `pull_progress` events when asked.

use super::error::CoreError;
use super::events::EventBus;
use super::free_space::ensure_free_space;
use super::model::RegistryAuth;
use super::names::ImageRef;
use super::pull_progress;
use super::registry_credentials::RegistryCredentials;
use super::runtime::{PulledImage, Runtime};
use futures_lite::future::zip;
use std::sync::Arc;

/// The settings every pull follows.
#[derive(Clone)]
pub struct Puller {
    /// `policy.min_free_bytes` (0: no check).
    pub min_free_bytes: u64,
    /// `runtime.registry_auth_file`'s credentials.
    pub credentials: RegistryCredentials,
    /// Where progress events go.
    pub events: Arc<EventBus>,
}

impl Puller {
    /// Pulls `image` through `rt` (see the module doc).
    pub async fn pull(
        &self,
        rt: &Arc<dyn Runtime>,
        image: &ImageRef,
        auth: Option<&RegistryAuth>,
        progress: bool,
    ) -> Result<PulledImage, CoreError> {
        ensure_free_space(rt.as_ref(), self.min_free_bytes).await?;
        let auth = auth.or_else(|| self.credentials.for_image(image));
        if !progress {
            return Ok(rt.pull(image, auth).await?);
        }
        let (sink, publisher) = pull_progress::channel(image.to_string(), &self.events);
        let (pulled, ()) = zip(rt.pull_with_progress(image, auth, sink), publisher).await;
        Ok(pulled?)
    }
}
