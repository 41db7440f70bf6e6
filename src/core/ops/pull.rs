//! `pull`: pulls an image through the requested (or default) runtime.

use crate::core::error::CoreError;
use crate::core::model::{RegistryAuth, RuntimeKind};
use crate::core::names::ImageRef;
use crate::core::reply::OpResult;
use crate::core::runtime::{PulledImage, Runtime};
use crate::core::service::ContainerService;
use std::sync::Arc;

impl ContainerService {
    /// Pulls `image` through `rt` as every pull of the agent does (see
    /// [`crate::core::puller`]).
    pub async fn pull_image(
        &self,
        rt: &Arc<dyn Runtime>,
        image: &ImageRef,
        auth: Option<&RegistryAuth>,
        progress: bool,
    ) -> Result<PulledImage, CoreError> {
        self.puller().pull(rt, image, auth, progress).await
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
