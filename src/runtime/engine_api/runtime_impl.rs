//! The [`Runtime`] trait over an engine's REST API, once for both dialects.

use super::replies::{self, ReplyError};
use super::{
    bad_reply, call, call_name, container, grace_s, inspect_with_tty, negotiate, post_container,
    prefix, request, timeout_query, Dialect, EngineApi,
};
use crate::core::error::RuntimeError;
use crate::core::image_gc::ImageInventory;
use crate::core::model::{ContainerSpec, ImageInfo, RegistryAuth, RuntimeKind, Stats};
use crate::core::names::{ContainerName, ImageRef, SignalName};
use crate::core::runtime::{
    EngineContainer, EngineEvents, LogOptions, ProgressSink, PulledImage, Runtime,
};
use crate::runtime::engine_http::{
    bool_str, container_path, image_path, path_and_query, pull_outcome, ReadMode,
};
use crate::runtime::event_lines::managed_label_filter;
use crate::runtime::inspect::image_id;
use crate::runtime::log_frames::log_lines;
use crate::runtime::registry_auth::registry_auth_header;
use async_trait::async_trait;

/// Names an image in a NotFound.
fn image(image: &ImageRef) -> impl FnOnce() -> String + '_ {
    move || format!("image '{image}'")
}

#[async_trait]
impl<D: Dialect> Runtime for EngineApi<D> {
    fn kind(&self) -> RuntimeKind {
        D::KIND
    }

    async fn version(&self) -> Result<String, RuntimeError> {
        Ok(negotiate(self).await?.version)
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<String, RuntimeError> {
        let create = self.dialect.create(spec, &self.ulimits)?;
        let mut req = request(self, "POST", &create.path).await?;
        req.body = Some(create.body);
        let reply = self.client.send(req).await?;
        let reply = self.dialect.classify(reply, || {
            format!(
                "image '{}' (create does not pull: pull it first)",
                spec.image
            )
        })?;
        let call = call_name::<D>("POST", "/containers/create");
        replies::parse_id(&reply.body, &call).map_err(|e| bad_reply(D::KIND, e))
    }

    async fn start(&self, name: &ContainerName) -> Result<(), RuntimeError> {
        post_container(self, name, "/start", &[], 0, true).await
    }

    async fn stop(&self, name: &ContainerName, timeout_s: Option<u32>) -> Result<(), RuntimeError> {
        let query = timeout_query(D::STOP_TIMEOUT_KEY, timeout_s);
        post_container(self, name, "/stop", &query, grace_s(timeout_s), true).await
    }

    async fn restart(
        &self,
        name: &ContainerName,
        timeout_s: Option<u32>,
    ) -> Result<(), RuntimeError> {
        let query = timeout_query("t", timeout_s);
        post_container(self, name, "/restart", &query, grace_s(timeout_s), false).await
    }

    async fn kill(&self, name: &ContainerName, signal: SignalName) -> Result<(), RuntimeError> {
        let query = [("signal", signal.to_string())];
        post_container(self, name, "/kill", &query, 0, false).await
    }

    async fn remove(&self, name: &ContainerName, force: bool) -> Result<(), RuntimeError> {
        let path = path_and_query(
            &container_path(name, ""),
            &[("force", bool_str(force)), ("v", bool_str(false))],
        );
        let reply = call(self, "DELETE", &path, container(name)).await?;
        match self.dialect.removal_error(&reply.body) {
            Some(message) => Err(RuntimeError::Engine {
                runtime: D::KIND,
                message,
            }),
            None => Ok(()),
        }
    }

    async fn rename(&self, from: &ContainerName, to: &ContainerName) -> Result<(), RuntimeError> {
        post_container(self, from, "/rename", &[("name", to.to_string())], 0, false).await
    }

    async fn inspect(&self, name: &ContainerName) -> Result<EngineContainer, RuntimeError> {
        Ok(inspect_with_tty(self, name).await?.0)
    }

    async fn list_managed(&self) -> Result<Vec<EngineContainer>, RuntimeError> {
        let filters = serde_json::json!({ "label": [managed_label_filter()] });
        let path = path_and_query(
            "/containers/json",
            &[("all", bool_str(true)), ("filters", filters.to_string())],
        );
        let reply = call(self, "GET", &path, || "the container list".into()).await?;
        let call = call_name::<D>("GET", "/containers/json");
        replies::parse_list(&reply.body, &call).map_err(|e| bad_reply(D::KIND, e))
    }

    async fn logs(
        &self,
        name: &ContainerName,
        opts: &LogOptions,
    ) -> Result<Vec<String>, RuntimeError> {
        let (_, tty) = inspect_with_tty(self, name).await?;
        let mut query = vec![
            ("stdout", bool_str(true)),
            ("stderr", bool_str(true)),
            ("tail", opts.tail.map_or("all".into(), |n| n.to_string())),
        ];
        if let Some(since) = &opts.since {
            query.push(("since", since.unix_query()));
        }
        let path = path_and_query(&container_path(name, "/logs"), &query);
        let mut req = request(self, "GET", &path).await?;
        req.max_body = opts.max_bytes;
        let reply = self
            .dialect
            .classify(self.client.send(req).await?, container(name))?;
        log_lines(&reply.body, tty).map_err(|e| bad_reply(D::KIND, ReplyError::from(e)))
    }

    async fn stats(&self, name: &ContainerName) -> Result<Stats, RuntimeError> {
        let path = self.dialect.stats_path(name);
        let reply = call(self, "GET", &path, container(name)).await?;
        self.dialect
            .stats(&reply.body)
            .map_err(|e| bad_reply(D::KIND, e))?
            .ok_or_else(|| RuntimeError::NotFound {
                runtime: D::KIND,
                what: container(name)(),
            })
    }

    async fn pull(
        &self,
        image_ref: &ImageRef,
        auth: Option<&RegistryAuth>,
    ) -> Result<PulledImage, RuntimeError> {
        pull_reporting(self, image_ref, auth, None).await
    }

    async fn pull_with_progress(
        &self,
        image_ref: &ImageRef,
        auth: Option<&RegistryAuth>,
        progress: ProgressSink,
    ) -> Result<PulledImage, RuntimeError> {
        pull_reporting(self, image_ref, auth, Some(progress)).await
    }

    async fn images(&self) -> Result<Vec<ImageInfo>, RuntimeError> {
        let reply = call(self, "GET", "/images/json", || "the image list".into()).await?;
        let call = call_name::<D>("GET", "/images/json");
        replies::parse_images(&reply.body, &call).map_err(|e| bad_reply(D::KIND, e))
    }

    async fn remove_image(&self, image_ref: &ImageRef, force: bool) -> Result<(), RuntimeError> {
        let path = path_and_query(&image_path(image_ref, ""), &[("force", bool_str(force))]);
        call(self, "DELETE", &path, image(image_ref))
            .await
            .map(drop)
    }

    async fn exec(
        &self,
        name: &ContainerName,
        cmd: &[String],
        timeout: std::time::Duration,
    ) -> Result<i64, RuntimeError> {
        super::exec::exec(self, name, cmd, timeout).await
    }

    async fn clear_restart_policy(&self, name: &ContainerName) -> Result<(), RuntimeError> {
        if !D::UPDATES_RESTART_POLICY {
            return Err(RuntimeError::Unsupported {
                runtime: D::KIND,
                what: "changing the restart policy of an existing container".into(),
            });
        }
        let mut req = request(self, "POST", &container_path(name, "/update")).await?;
        req.body = Some(serde_json::json!({"RestartPolicy": {"Name": "no"}}));
        let reply = self.client.send(req).await?;
        self.dialect.classify(reply, container(name)).map(drop)
    }

    async fn image_inventory(&self) -> Result<ImageInventory, RuntimeError> {
        let reply = call(self, "GET", "/images/json", || "the image list".into()).await?;
        let images =
            replies::parse_stored_images(&reply.body, &call_name::<D>("GET", "/images/json"))
                .map_err(|e| bad_reply(D::KIND, e))?;
        let path = path_and_query("/containers/json", &[("all", bool_str(true))]);
        let reply = call(self, "GET", &path, || "the container list".into()).await?;
        let used_ids = replies::parse_container_image_ids(
            &reply.body,
            &call_name::<D>("GET", "/containers/json"),
        )
        .map_err(|e| bad_reply(D::KIND, e))?;
        Ok(ImageInventory { images, used_ids })
    }

    async fn data_root(&self) -> Result<std::path::PathBuf, RuntimeError> {
        let reply = call(self, "GET", "/info", || "the info endpoint".into()).await?;
        let call = call_name::<D>("GET", "/info");
        replies::parse_data_root(&reply.body, &call, D::DATA_ROOT_POINTER)
            .map_err(|e| bad_reply(D::KIND, e))
    }

    async fn watch(&self) -> Result<EngineEvents, RuntimeError> {
        let filters = serde_json::json!({
            "type": ["container"],
            "label": [managed_label_filter()],
        });
        let query = self.dialect.events_query(filters.to_string());
        let path = path_and_query(&format!("{}/events", prefix(self).await?), &query);
        self.client.watch(path).await
    }
}

/// A pull, reading the engine's progress stream into `progress` when given, then the
/// pulled image's id.
async fn pull_reporting<D: Dialect>(
    api: &EngineApi<D>,
    image_ref: &ImageRef,
    auth: Option<&RegistryAuth>,
    progress: Option<ProgressSink>,
) -> Result<PulledImage, RuntimeError> {
    let mut req = request(api, "POST", &api.dialect.pull_path(image_ref)).await?;
    req.registry_auth = auth.map(|a| registry_auth_header(image_ref, a));
    req.read = ReadMode::PullProgress;
    req.progress = progress;
    let reply = api.client.send(req).await?;
    pull_outcome(D::KIND, image_ref, &reply)?;
    let reply = call(
        api,
        "GET",
        &image_path(image_ref, "/json"),
        image(image_ref),
    )
    .await?;
    let call = call_name::<D>("GET", "/images/{name}/json");
    let id = replies::parse_id(&reply.body, &call).map_err(|e| bad_reply(D::KIND, e))?;
    Ok(PulledImage { id: image_id(&id) })
}
