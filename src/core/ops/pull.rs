//! `pull`: pulls an image through the requested (or default) runtime.

use crate::core::error::CoreError;
use crate::core::free_space::ensure_free_space;
use crate::core::model::{RegistryAuth, RuntimeKind};
use crate::core::names::ImageRef;
use crate::core::pull_progress;
use crate::core::reply::OpResult;
use crate::core::runtime::{PulledImage, Runtime};
use crate::core::service::ContainerService;
use futures_lite::future::zip;
use std::sync::Arc;

impl ContainerService {
    /// Refuses a pull through `rt` when its data root has less free space than
    /// `policy.min_free_bytes` (see [`crate::core::free_space`]); every pull (the op and
    /// a deployment's) calls it first.
    pub async fn ensure_free_space(&self, rt: &Arc<dyn Runtime>) -> Result<(), CoreError> {
        ensure_free_space(rt.as_ref(), self.policy.min_free_bytes).await
    }

    /// Pulls `image` through `rt` as every pull of the agent does (the op and a
    /// deployment's): the free-space check first, then the pull with `auth`, or without
    /// it the credentials of `runtime.registry_auth_file` for the image's registry,
    /// publishing `pull_progress` events when `progress` is set.
    pub async fn pull_image(
        &self,
        rt: &Arc<dyn Runtime>,
        image: &ImageRef,
        auth: Option<&RegistryAuth>,
        progress: bool,
    ) -> Result<PulledImage, CoreError> {
        self.ensure_free_space(rt).await?;
        let auth = auth.or_else(|| self.credentials.for_image(image));
        if !progress {
            return Ok(rt.pull(image, auth).await?);
        }
        let (sink, publisher) = pull_progress::channel(image.to_string(), self.events());
        let (pulled, ()) = zip(rt.pull_with_progress(image, auth, sink), publisher).await;
        Ok(pulled?)
    }

    pub(in crate::core) async fn pull(
        &self,
        requested: Option<RuntimeKind>,
        image: &ImageRef,
        auth: Option<&RegistryAuth>,
        progress: bool,
    ) -> Result<OpResult, CoreError> {
        self.policy.check_image(image)?;
        let rt = self.runtime_for_new(requested)?;
        let pulled = self.pull_image(rt, image, auth, progress).await?;
        Ok(OpResult::Pulled {
            image: image.clone(),
            id: pulled.id,
        })
    }
}
