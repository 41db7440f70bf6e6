//! `pull`: pulls an image through the requested (or default) runtime.

use crate::core::error::CoreError;
use crate::core::model::{RegistryAuth, RuntimeKind};
use crate::core::names::ImageRef;
use crate::core::reply::OpResult;
use crate::core::service::ContainerService;

impl ContainerService {
    /// `pull`: the policy's image check, then the pull as every pull of the agent runs
    /// (see [`crate::core::puller`]).
    pub(in crate::core) async fn pull(
        &self,
        requested: Option<RuntimeKind>,
        image: &ImageRef,
        auth: Option<&RegistryAuth>,
        progress: bool,
    ) -> Result<OpResult, CoreError> {
        self.policy.check_image(image)?;
        let rt = self.runtime_for_new(requested)?;
        let pulled = self.puller().pull(rt, image, auth, progress).await?;
        Ok(OpResult::Pulled {
            image: image.clone(),
            id: pulled.id,
        })
    }
}
