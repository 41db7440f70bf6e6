//! `pull`: pulls an image through the requested (or default) runtime.

use crate::core::error::CoreError;
use crate::core::free_space::ensure_free_space;
use crate::core::model::{RegistryAuth, RuntimeKind};
use crate::core::names::ImageRef;
use crate::core::reply::OpResult;
use crate::core::runtime::Runtime;
use crate::core::service::ContainerService;
use std::sync::Arc;

impl ContainerService {
    /// Refuses a pull through `rt` when its data root has less free space than
    /// `policy.min_free_bytes` (see [`crate::core::free_space`]); every pull (the op and
    /// a deployment's) calls it first.
    pub async fn ensure_free_space(&self, rt: &Arc<dyn Runtime>) -> Result<(), CoreError> {
        ensure_free_space(rt.as_ref(), self.policy.min_free_bytes).await
    }

    pub(in crate::core) async fn pull(
        &self,
        requested: Option<RuntimeKind>,
        image: &ImageRef,
        auth: Option<&RegistryAuth>,
    ) -> Result<OpResult, CoreError> {
        self.policy.check_image(image)?;
        let rt = self.runtime_for_new(requested)?;
        self.ensure_free_space(rt).await?;
        let pulled = rt.pull(image, auth).await?;
        Ok(OpResult::Pulled {
            image: image.clone(),
            id: pulled.id,
        })
    }
}
