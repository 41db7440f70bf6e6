//! The free-space check before a pull: `statvfs` of the engine's data root against
//! `policy.min_free_bytes`, refused with `insufficient_storage` naming both figures.

use super::error::{CoreError, RuntimeError};
use super::runtime::Runtime;
use std::path::Path;

/// Refuses a pull through `rt` when the engine's data root has fewer than
/// `min_free_bytes` bytes free for unprivileged writers (`f_bavail`, the
/// conservative figure). `0` turns the check off without asking the engine.
///
/// An engine that cannot name its data root (`Unsupported`), or a root this agent
/// cannot `statvfs` (an engine in another mount namespace), is not refused: the check
/// is logged as skipped, since refusing every pull for want of a figure would be worse
/// than pulling without it. Any other error of the engine is returned (the pull would
/// fail the same way).
pub async fn ensure_free_space(rt: &dyn Runtime, min_free_bytes: u64) -> Result<(), CoreError> {
    if min_free_bytes == 0 {
        return Ok(());
    }
    let root = match rt.data_root().await {
        Ok(root) => root,
        Err(RuntimeError::Unsupported { .. }) => {
            log::debug!(
                "{}: no data root, pulling without the free-space check",
                rt.kind()
            );
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let stat_root = root.clone();
    let free = match crate::offload::run(move || free_bytes(&stat_root)).await {
        Ok(free) => free,
        Err(e) => {
            log::warn!(
                "{}: cannot statvfs the data root {}: {e}; pulling without the free-space check",
                rt.kind(),
                root.display()
            );
            return Ok(());
        }
    };
    if free < min_free_bytes {
        return Err(CoreError::InsufficientStorage {
            runtime: rt.kind().as_str(),
            root: root.display().to_string(),
            free,
            required: min_free_bytes,
        });
    }
    Ok(())
}

/// Bytes an unprivileged writer may still use on the file system holding `path`.
// The counts are `u32` on some 32-bit targets the agent is built for, `u64` here.
#[allow(clippy::useless_conversion)]
pub fn free_bytes(path: &Path) -> nix::Result<u64> {
    let st = nix::sys::statvfs::statvfs(path)?;
    // The product saturates rather than wraps.
    Ok(u64::from(st.blocks_available()).saturating_mul(u64::from(st.fragment_size())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorCode;
    use crate::core::fake_engine::FakeEngine;
    use crate::core::model::RuntimeKind;

    #[test]
    fn refuses_below_the_minimum_and_names_both_figures() {
        let rt = FakeEngine::new(RuntimeKind::DockerApi);
        let free = free_bytes(&std::env::temp_dir()).unwrap();
        assert!(free > 0);
        smol::block_on(ensure_free_space(&*rt, 1)).unwrap();
        smol::block_on(ensure_free_space(&*rt, 0)).unwrap();
        let err = smol::block_on(ensure_free_space(&*rt, u64::MAX)).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InsufficientStorage);
        let text = err.to_string();
        assert!(text.contains(&u64::MAX.to_string()), "{text}");
        assert!(text.contains("bytes free"), "{text}");
        assert!(text.contains("policy.min_free_bytes"), "{text}");
    }

    #[test]
    fn a_path_that_cannot_be_read_is_an_error_of_free_bytes() {
        assert!(free_bytes(Path::new("/nonexistent/ctrmgr")).is_err());
    }
}
