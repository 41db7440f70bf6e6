//! The replies both engines' REST APIs write alike, read into domain types: container
//! inspect and list, images, an image's id, a created container's id. An `Err` is a
//! [`ReplyError`] saying what was wrong with the reply.

use crate::core::image_gc::StoredImage;
use crate::core::model::ImageInfo;
use crate::core::runtime::EngineContainer;
use crate::runtime::engine_words::{container_state, keeps_exit_code};
use crate::runtime::inspect::{image_id, Inspected};
use crate::runtime::log_frames::FrameError;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// What was wrong with an engine's reply.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReplyError {
    /// The body is not the JSON the call answers with.
    #[error("unexpected reply to {call}: {source}")]
    Json {
        /// e.g. `GET /containers/json`.
        call: String,
        /// What the JSON reader found.
        #[source]
        source: serde_json::Error,
    },
    /// A field has a value this adapter cannot read.
    #[cfg(feature = "docker-api")]
    #[error("{call}: {field} '{value}' is not {expected}")]
    Field {
        /// e.g. `GET /version`.
        call: String,
        /// The field, e.g. `ApiVersion`.
        field: &'static str,
        /// Its value.
        value: String,
        /// What it should be, e.g. `major.minor`.
        expected: &'static str,
    },
    /// An exec instance that the engine still reports running after its start call
    /// returned.
    #[error("{call}: the exec instance has not finished")]
    ExecRunning {
        /// e.g. `GET /exec/{id}/json`.
        call: String,
    },
    /// A field the reply must have is missing or not an absolute path.
    #[error("{call}: no {what} (an absolute path) in the reply")]
    Missing {
        /// e.g. `GET /info`.
        call: String,
        /// The field, e.g. `store.graphRoot`.
        what: String,
    },
    /// A log body that is not a valid multiplexed stream.
    #[error(transparent)]
    Logs(#[from] FrameError),
}

/// Two reply errors are equal when they say the same (tests compare them).
impl PartialEq for ReplyError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

/// Reads `body` as the JSON of `call`.
pub(crate) fn from_json<'a, T: Deserialize<'a>>(
    body: &'a [u8],
    call: &str,
) -> Result<T, ReplyError> {
    serde_json::from_slice(body).map_err(|source| ReplyError::Json {
        call: call.to_owned(),
        source,
    })
}

/// The data root the info call's reply names at `pointer` (an absolute path).
pub(crate) fn parse_data_root(
    body: &[u8],
    call: &str,
    pointer: &str,
) -> Result<std::path::PathBuf, ReplyError> {
    let info: serde_json::Value = from_json(body, call)?;
    info.pointer(pointer)
        .and_then(serde_json::Value::as_str)
        .filter(|root| root.starts_with('/'))
        .map(std::path::PathBuf::from)
        .ok_or_else(|| ReplyError::Missing {
            call: call.to_owned(),
            what: pointer.trim_start_matches('/').replace('/', "."),
        })
}

/// One inspected container (`GET .../containers/{name}/json`) and whether it has a TTY
/// (its logs are then not multiplexed).
pub(crate) fn parse_inspect(
    body: &[u8],
    call: &str,
) -> Result<(EngineContainer, bool), ReplyError> {
    from_json::<Inspected>(body, call).map(Inspected::into_engine)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListItemDto {
    id: String,
    #[serde(default)]
    names: Vec<String>,
    image: String,
    state: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    exit_code: Option<i64>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// Parses a `GET .../containers/json` body. libpod lists the exit code; Docker's list
/// has none, so it is read from the status text (`Exited (137) 5 seconds ago`).
pub(crate) fn parse_list(body: &[u8], call: &str) -> Result<Vec<EngineContainer>, ReplyError> {
    let items: Vec<ListItemDto> = from_json(body, call)?;
    Ok(items
        .into_iter()
        .map(|item| {
            let state = container_state(&item.state);
            let name = item
                .names
                .first()
                .map(|n| n.trim_start_matches('/').to_owned())
                .unwrap_or_default();
            let exit_code = item
                .exit_code
                .or_else(|| exit_code_from_status(&item.status))
                .filter(|_| keeps_exit_code(state));
            EngineContainer {
                id: item.id,
                name,
                image: item.image,
                state,
                exit_code,
                labels: item.labels.unwrap_or_default(),
                ip: None,
            }
        })
        .collect())
}

fn exit_code_from_status(status: &str) -> Option<i64> {
    let rest = status.strip_prefix("Exited (")?;
    rest.split_once(')')?.0.parse().ok()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImageDto {
    id: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    size: u64,
}

/// Parses a `GET .../images/json` body, leaving out the `<none>` placeholder tags.
pub(crate) fn parse_images(body: &[u8], call: &str) -> Result<Vec<ImageInfo>, ReplyError> {
    let items: Vec<ImageDto> = from_json(body, call)?;
    Ok(items
        .into_iter()
        .map(|i| ImageInfo {
            id: image_id(&i.id),
            tags: i
                .repo_tags
                .unwrap_or_default()
                .into_iter()
                .filter(|t| !t.starts_with("<none>"))
                .collect(),
            size_bytes: i.size,
        })
        .collect())
}

/// Every image of a `GET .../images/json` body with its creation time.
pub(crate) fn parse_stored_images(body: &[u8], call: &str) -> Result<Vec<StoredImage>, ReplyError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Dto {
        #[serde(flatten)]
        image: ImageDto,
        #[serde(default)]
        created: i64,
    }
    let items: Vec<Dto> = from_json(body, call)?;
    Ok(items
        .into_iter()
        .map(|d| StoredImage {
            id: image_id(&d.image.id),
            tags: d
                .image
                .repo_tags
                .unwrap_or_default()
                .into_iter()
                .filter(|t| !t.starts_with("<none>"))
                .collect(),
            size_bytes: d.image.size,
            created_unix: d.created,
        })
        .collect())
}

/// The image ids of a `GET .../containers/json?all=true` body.
pub(crate) fn parse_container_image_ids(
    body: &[u8],
    call: &str,
) -> Result<BTreeSet<String>, ReplyError> {
    #[derive(Deserialize)]
    struct Dto {
        #[serde(rename = "ImageID", default)]
        image_id: String,
    }
    let items: Vec<Dto> = from_json(body, call)?;
    Ok(items
        .into_iter()
        .filter(|d| !d.image_id.is_empty())
        .map(|d| image_id(&d.image_id))
        .collect())
}

/// The `Id` of a reply: an inspected image's (as the contract shows image ids) or a
/// created container's.
pub(crate) fn parse_id(body: &[u8], call: &str) -> Result<String, ReplyError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct IdDto {
        id: String,
    }
    from_json::<IdDto>(body, call).map(|d| d.id)
}

#[cfg(test)]
mod tests;
