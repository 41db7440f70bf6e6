//! `images`: the images the requested (or default) runtime's engine has.

use crate::core::error::CoreError;
use crate::core::model::RuntimeKind;
use crate::core::reply::OpResult;
use crate::core::service::ContainerService;

impl ContainerService {
    pub(in crate::core) async fn images(
        &self,
        requested: Option<RuntimeKind>,
    ) -> Result<OpResult, CoreError> {
        let images = self.runtime_for_new(requested)?.images().await?;
        Ok(OpResult::Images { images })
    }
}
