//! `remove_image`: removes an image from the requested (or default) runtime's engine.

use crate::core::error::CoreError;
use crate::core::model::RuntimeKind;
use crate::core::names::ImageRef;
use crate::core::reply::OpResult;
use crate::core::service::ContainerService;

impl ContainerService {
    pub(in crate::core) async fn remove_image(
        &self,
        requested: Option<RuntimeKind>,
        image: &ImageRef,
        force: bool,
    ) -> Result<OpResult, CoreError> {
        self.runtime_for_new(requested)?
            .remove_image(image, force)
            .await?;
        Ok(OpResult::ImageRemoved {
            image: image.clone(),
        })
    }
}
