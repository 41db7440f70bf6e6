//! Replies of both engines: Docker's built from its API reference, libpod's captured from
//! a real podman 4.3 service.

use super::*;
use crate::core::model::ContainerState;
use serde_json::{json, Value};

fn bytes(v: Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

const DOCKER_INSPECT: &str = "GET /containers/{name}/json";

#[test]
fn docker_inspect() {
    let body = bytes(json!({
        "Id": "abc", "Name": "/web",
        "State": {"Status": "exited", "ExitCode": 3},
        "Config": {"Image": "busybox", "Labels": {"io.ctrmgr.managed": "true"}, "Tty": false}
    }));
    let (c, tty) = parse_inspect(&body, DOCKER_INSPECT).unwrap();
    assert_eq!(c.name, "web");
    assert_eq!(c.state, ContainerState::Exited);
    assert_eq!(c.exit_code, Some(3));
    assert_eq!(c.labels["io.ctrmgr.managed"], "true");
    assert!(!tty);

    let running = bytes(json!({
        "Id": "abc", "Name": "/web",
        "State": {"Status": "running", "ExitCode": 0},
        "Config": {"Image": "busybox", "Labels": null}
    }));
    let (c, _) = parse_inspect(&running, DOCKER_INSPECT).unwrap();
    assert_eq!((c.state, c.exit_code), (ContainerState::Running, None));
    assert!(c.labels.is_empty());

    assert!(parse_inspect(&bytes(json!({"Id": "abc"})), DOCKER_INSPECT).is_err());
}

#[test]
fn libpod_inspect() {
    let call = "GET /libpod/containers/{name}/json";
    let running = br#"{"Id":"8ebb1b7eac1bc3f1f8358ca5e815fa6aebc569e78208f0dda7883f59a5877845","Name":"exp1","ImageName":"localhost/ctrmgr-test/busybox:latest","State":{"Status":"running","Running":true,"ExitCode":0,"StartedAt":"2026-11-29T03:41:46.245197328Z"},"Config":{"Labels":{"io.ctrmgr.managed":"true"},"Tty":false,"Image":"localhost/ctrmgr-test/busybox:latest"}}"#;
    let (c, tty) = parse_inspect(running, call).unwrap();
    assert_eq!(c.name, "exp1");
    assert_eq!(c.image, "localhost/ctrmgr-test/busybox:latest");
    assert_eq!((c.state, c.exit_code), (ContainerState::Running, None));
    assert_eq!(c.labels["io.ctrmgr.managed"], "true");
    assert!(!tty);

    let exited = br#"{"Id":"8e","Name":"exp1","ImageName":"busybox","State":{"Status":"exited","Running":false,"ExitCode":137},"Config":{"Labels":null,"Tty":true}}"#;
    let (c, tty) = parse_inspect(exited, call).unwrap();
    assert_eq!((c.state, c.exit_code), (ContainerState::Exited, Some(137)));
    assert_eq!(c.image, "busybox");
    assert!(c.labels.is_empty());
    assert!(tty);

    let err = parse_inspect(br#"{"Id":"8e"}"#, call).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("unexpected reply to GET /libpod/containers/{name}/json: "),
        "{err}"
    );
}

#[test]
fn docker_list() {
    let body = bytes(json!([
        {"Id": "a", "Names": ["/one"], "Image": "busybox", "State": "exited",
         "Status": "Exited (137) 2 minutes ago", "Labels": {"k": "v"}},
        {"Id": "b", "Names": ["/two"], "Image": "busybox", "State": "running",
         "Status": "Up 3 seconds", "Labels": {}}
    ]));
    let list = parse_list(&body, "GET /containers/json").unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        (list[0].name.as_str(), list[0].exit_code),
        ("one", Some(137))
    );
    assert_eq!(
        (list[1].state, list[1].exit_code),
        (ContainerState::Running, None)
    );
    assert!(parse_list(&bytes(json!({"not": "a list"})), "GET /containers/json").is_err());
}

#[test]
fn libpod_list() {
    let call = "GET /libpod/containers/json";
    let body = br#"[{"AutoRemove":false,"Command":["sleep","300"],"Exited":true,"ExitCode":137,"Id":"8ebb","Image":"localhost/ctrmgr-test/busybox:latest","Labels":{"io.ctrmgr.managed":"true"},"Names":["exp1"],"State":"exited","Status":""},{"Exited":false,"ExitCode":0,"Id":"fa51","Image":"localhost/ctrmgr-test/busybox:latest","Labels":null,"Names":["exp2"],"State":"running"}]"#;
    let list = parse_list(body, call).unwrap();
    assert_eq!(
        (list[0].name.as_str(), list[0].state, list[0].exit_code),
        ("exp1", ContainerState::Exited, Some(137))
    );
    assert_eq!(
        (list[1].state, list[1].exit_code),
        (ContainerState::Running, None)
    );
    assert!(list[1].labels.is_empty());
    assert!(parse_list(br#"{"not":"a list"}"#, call).is_err());
}

#[test]
fn docker_images() {
    let body = bytes(json!([
        {"Id": "sha256:1", "RepoTags": ["busybox:latest", "<none>:<none>"], "Size": 42},
        {"Id": "sha256:2", "RepoTags": null, "Size": 7}
    ]));
    let images = parse_images(&body, "GET /images/json").unwrap();
    assert_eq!(images[0].tags, vec!["busybox:latest".to_owned()]);
    assert!(images[1].tags.is_empty());
    assert_eq!(images[1].size_bytes, 7);
    assert!(parse_images(b"{}", "GET /images/json").is_err());
    assert_eq!(
        parse_id(br#"{"Id":"sha256:1","Size":3}"#, "GET /images/{name}/json"),
        Ok("sha256:1".into())
    );
    assert!(parse_id(b"[]", "GET /images/{name}/json").is_err());
}

#[test]
fn libpod_images() {
    let body = br#"[{"Id":"366e544091c789c66a4328b0d965497067f4833b96c1169a981ec423ca980c06","ParentId":"","RepoTags":["localhost/ctrmgr-test/busybox:latest"],"Size":2008789,"Names":["localhost/ctrmgr-test/busybox:latest"]},{"Id":"77aa","RepoTags":null,"Size":7}]"#;
    let images = parse_images(body, "GET /libpod/images/json").unwrap();
    assert_eq!(
        images[0].id,
        "sha256:366e544091c789c66a4328b0d965497067f4833b96c1169a981ec423ca980c06"
    );
    assert_eq!(images[0].tags, vec!["localhost/ctrmgr-test/busybox:latest"]);
    assert_eq!(images[0].size_bytes, 2_008_789);
    assert!(images[1].tags.is_empty());
    assert!(parse_images(b"{}", "GET /libpod/images/json").is_err());
    assert_eq!(
        parse_id(
            br#"{"Id":"366e","Digest":"sha256:7add"}"#,
            "GET /libpod/images/{name}/json"
        )
        .map(|id| image_id(&id)),
        Ok("sha256:366e".into())
    );
}

#[test]
fn bad_reply_keeps_its_source() {
    use crate::core::error::ErrorCode;
    use crate::core::model::RuntimeKind;
    let problem = parse_id(b"[]", "GET /x").unwrap_err();
    let err = crate::runtime::engine_api::bad_reply(RuntimeKind::DockerApi, problem);
    assert_eq!(err.code(), ErrorCode::RuntimeError);
    let text = err.to_string();
    assert!(
        text.starts_with("docker-api: unexpected reply to GET /x: "),
        "{text}"
    );
    let source = std::error::Error::source(&err).unwrap();
    assert_eq!(format!("docker-api: {source}"), text);
    assert!(source.source().is_some(), "the JSON error is kept under it");
    assert_eq!(err.clone(), err);
}

#[test]
fn data_roots_of_both_engines() {
    let docker = bytes(json!({"DockerRootDir": "/var/lib/docker", "Images": 3}));
    assert_eq!(
        parse_data_root(&docker, "GET /info", "/DockerRootDir").unwrap(),
        std::path::PathBuf::from("/var/lib/docker")
    );
    let podman = bytes(json!({"store": {"graphRoot": "/var/lib/containers/storage"}}));
    assert_eq!(
        parse_data_root(&podman, "GET /libpod/info", "/store/graphRoot").unwrap(),
        std::path::PathBuf::from("/var/lib/containers/storage")
    );
    let err = parse_data_root(b"{}", "GET /libpod/info", "/store/graphRoot").unwrap_err();
    assert_eq!(
        err.to_string(),
        "GET /libpod/info: no store.graphRoot (an absolute path) in the reply"
    );
    let relative = bytes(json!({"DockerRootDir": "docker"}));
    assert!(parse_data_root(&relative, "GET /info", "/DockerRootDir").is_err());
}
