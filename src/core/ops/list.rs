//! `list`: the managed containers from the store, optionally only active ones and only
//! those carrying a label. The store is kept true by every op and by `inspect`.

use crate::core::error::CoreError;
use crate::core::reply::OpResult;
use crate::core::service::ContainerService;

impl ContainerService {
    pub(in crate::core) async fn list(
        &self,
        all: bool,
        label: Option<&(String, String)>,
    ) -> Result<OpResult, CoreError> {
        let containers = self
            .store
            .list_containers()
            .await?
            .into_iter()
            .filter(|c| all || c.state.is_active())
            .filter(|c| label.is_none_or(|(k, v)| c.spec.labels.get(k) == Some(v)))
            .collect();
        Ok(OpResult::Containers { containers })
    }
}
