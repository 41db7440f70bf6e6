//! `prune_images`: removes the images nothing needs (see [`crate::core::image_gc`]) from
//! the requested (or default) runtime's engine, or with `dry_run` only names them.

use crate::core::clock;
use crate::core::error::CoreError;
use crate::core::image_gc::select;
use crate::core::model::RuntimeKind;
use crate::core::names::ImageRef;
use crate::core::reply::OpResult;
use crate::core::service::ContainerService;

impl ContainerService {
    pub(in crate::core) async fn prune_images(
        &self,
        requested: Option<RuntimeKind>,
        dry_run: bool,
    ) -> Result<OpResult, CoreError> {
        let rt = self.runtime_for_new(requested)?;
        let inventory = rt.image_inventory().await?;
        // The images the current and previous deployment (and one being applied) name.
        let protected = match &self.deployer {
            Some(deployer) => deployer.named_images().await?,
            None => Vec::new(),
        };
        let now = i64::try_from(clock::unix_now()).unwrap_or(i64::MAX);
        let mut removed = Vec::new();
        let mut reclaimed_bytes = 0;
        for image in select(&inventory, &protected, self.gc_rules, now) {
            // Untag each reference (the last one deletes the image); an image without
            // one goes by its id. Without force: an image a container started using
            // meanwhile is refused by the engine and kept.
            let refs: Vec<String> = if image.tags.is_empty() {
                vec![image.id.clone()]
            } else {
                image.tags.clone()
            };
            let mut gone = true;
            for r in &refs {
                let Ok(reference) = ImageRef::parse(r) else {
                    log::warn!("prune_images: cannot name image '{r}' in a request; kept");
                    gone = false;
                    break;
                };
                if dry_run {
                    continue;
                }
                if let Err(e) = rt.remove_image(&reference, false).await {
                    log::warn!("prune_images: {r} kept: {e}");
                    gone = false;
                    break;
                }
            }
            if gone {
                removed.extend(refs);
                reclaimed_bytes += image.size_bytes;
            }
        }
        Ok(OpResult::ImagesPruned {
            removed,
            reclaimed_bytes,
        })
    }
}
