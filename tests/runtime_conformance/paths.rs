//! Conformance cases across the two access paths of one engine (a container created
//! through one is seen and managed through the other) and for the engine's own failures
//! reaching the caller as `runtime_error` with the engine's message.

use super::*;
use ctrmgr::core::model::RuntimeKind;

/// The runtime for `kind`, configured as the suite runs it. Each access path is a
/// feature; a suite whose sibling path is not built fails its cross-path case loudly.
pub fn make(kind: RuntimeKind) -> Arc<dyn Runtime> {
    let timeout = Duration::from_secs(60);
    match kind {
        #[cfg(feature = "docker-cli")]
        RuntimeKind::DockerCli => Arc::new(ctrmgr::runtime::cli::CliRuntime::docker()),
        #[cfg(feature = "docker-api")]
        RuntimeKind::DockerApi => Arc::new(ctrmgr::runtime::docker_api::DockerApi::new(
            "/var/run/docker.sock",
            timeout,
        )),
        #[cfg(feature = "podman-cli")]
        RuntimeKind::PodmanCli => Arc::new(
            ctrmgr::runtime::cli::CliRuntime::new(
                ctrmgr::runtime::cli::CliFlavor::Podman,
                "podman",
                timeout,
            )
            .with_default_ulimits(podman_ulimits()),
        ),
        #[cfg(feature = "podman-api")]
        RuntimeKind::PodmanApi => Arc::new(
            ctrmgr::runtime::podman_api::PodmanApi::new("/run/podman/podman.sock", timeout)
                .with_default_ulimits(podman_ulimits()),
        ),
        #[allow(unreachable_patterns)]
        other => panic!(
            "runtime '{other}' is not built in: build the tests with default features, \
             which include every access path"
        ),
    }
}

/// The other access path of the same engine.
fn sibling(kind: RuntimeKind) -> RuntimeKind {
    match kind {
        RuntimeKind::DockerCli => RuntimeKind::DockerApi,
        RuntimeKind::DockerApi => RuntimeKind::DockerCli,
        RuntimeKind::PodmanCli => RuntimeKind::PodmanApi,
        RuntimeKind::PodmanApi => RuntimeKind::PodmanCli,
    }
}

/// A container created through this path is seen, stopped and removed through the other
/// path of the same engine, and the other way round.
pub async fn across_access_paths(ctx: Ctx) {
    let other = make(sibling(ctx.rt.kind()));
    let sleeper = json!({"cmd": ["sleep", "300"], "labels": {"app": "cross"}});

    let (name, _guard) = ctx.run("cross", sleeper.clone(), true).await;
    let here = ctx.rt.inspect(&name).await.expect("inspect here");
    let there = other
        .inspect(&name)
        .await
        .expect("inspect through the other path");
    assert_eq!(
        (&there.id, there.state),
        (&here.id, ContainerState::Running)
    );
    assert_eq!(there.labels["app"], "cross");
    assert_eq!(there.labels[MANAGED_LABEL], "true");
    let listed = other
        .list_managed()
        .await
        .expect("list through the other path");
    assert!(listed.iter().any(|c| c.id == here.id), "{listed:?}");
    other
        .stop(&name, Some(1))
        .await
        .expect("stop through the other path");
    assert_eq!(
        ctx.rt.inspect(&name).await.expect("inspect").state,
        ContainerState::Exited
    );
    other
        .remove(&name, false)
        .await
        .expect("remove through the other path");
    assert_eq!(code_of(ctx.rt.inspect(&name).await), ErrorCode::NotFound);

    let (back, _guard2) = ctx.name("cross-back");
    other
        .create(&ctx.spec(&back, sleeper))
        .await
        .expect("create through the other path");
    ctx.rt.start(&back).await.expect("start here");
    let there = other.inspect(&back).await.expect("inspect there");
    assert_eq!(there.state, ContainerState::Running);
    assert_eq!(
        ctx.rt.inspect(&back).await.expect("inspect here").id,
        there.id
    );
    ctx.rt.stop(&back, Some(1)).await.expect("stop here");
    assert_eq!(
        other.inspect(&back).await.expect("inspect there").state,
        ContainerState::Exited
    );
    ctx.rt.remove(&back, false).await.expect("remove here");
    assert_eq!(code_of(other.inspect(&back).await), ErrorCode::NotFound);
}

/// A failure only the engine knows about (a bind mount of a missing host path) is a
/// `runtime_error` carrying the engine's own words, and leaves no container behind.
pub async fn engine_error_carries_message(ctx: Ctx) {
    let (name, _guard) = ctx.name("engine-error");
    let missing = format!("/nonexistent/ctrmgr-conf-{}", std::process::id());
    let spec = ctx.spec(
        &name,
        json!({"mounts": [{"source": missing, "target": "/x"}]}),
    );
    let err = ctx.rt.create(&spec).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::RuntimeError, "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&missing),
        "the engine's message: {message}"
    );
    assert!(!message.contains("{ "), "debug dump in message: {message}");
    assert_eq!(code_of(ctx.rt.inspect(&name).await), ErrorCode::NotFound);
}
