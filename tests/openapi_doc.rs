//! The OpenAPI document served at `GET /openapi.json`: valid JSON, OpenAPI 3.0.3, every
//! route of the contract with its methods, and every `$ref` resolving. Needs no service.

use ctrmgr::core::error::ErrorCode;
use serde_json::Value;
use std::collections::BTreeSet;

/// Every route of the contract and the methods it answers.
const ROUTES: &[(&str, &[&str])] = &[
    ("/v1/execute", &["post"]),
    ("/v1/containers", &["get", "post"]),
    ("/v1/containers/{name}", &["get", "delete"]),
    ("/v1/containers/{name}/start", &["post"]),
    ("/v1/containers/{name}/stop", &["post"]),
    ("/v1/containers/{name}/restart", &["post"]),
    ("/v1/containers/{name}/kill", &["post"]),
    ("/v1/containers/{name}/logs", &["get"]),
    ("/v1/containers/{name}/stats", &["get"]),
    ("/v1/images", &["get"]),
    ("/v1/images/pull", &["post"]),
    ("/v1/images/prune", &["post"]),
    ("/v1/images/{image}", &["delete"]),
    ("/v1/info", &["get"]),
    ("/v1/deployment", &["get", "put"]),
    ("/v1/deployment/rollback", &["post"]),
    ("/v1/events", &["get"]),
    ("/healthz", &["get"]),
    ("/metrics", &["get"]),
    ("/openapi.json", &["get"]),
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// HTTP statuses of the contract's error codes.
const ERROR_STATUSES: &[&str] = &[
    "400", "403", "404", "409", "413", "500", "501", "502", "503",
];

fn doc() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/rest/openapi.json");
    let text = std::fs::read_to_string(path).expect("read openapi.json");
    serde_json::from_str(&text).expect("openapi.json is valid JSON")
}

/// Every operation of the document: (path, method, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if METHODS.contains(&method.as_str()) {
                out.push((path.clone(), method.clone(), op.clone()));
            }
        }
    }
    out
}

/// Collects every `$ref` value in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

/// Resolves a parameter that may be a `$ref` to a component.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{r} does not resolve")),
        None => v,
    }
}

/// The names of an operation's parameters (path-level ones included), as `in:name`.
fn parameter_names(doc: &Value, path: &str, op: &Value) -> BTreeSet<String> {
    let shared = doc["paths"][path]["parameters"].as_array().cloned();
    let own = op["parameters"].as_array().cloned();
    shared
        .into_iter()
        .chain(own)
        .flatten()
        .map(|p| {
            let p = resolve(doc, &p);
            format!(
                "{}:{}",
                p["in"].as_str().unwrap_or("?"),
                p["name"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[test]
fn is_openapi_3_0_3_with_info() {
    let doc = doc();
    assert_eq!(doc["openapi"], "3.0.3");
    assert_eq!(doc["info"]["version"], "0.1.0");
    assert!(doc["info"]["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(doc["info"]["description"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
}

#[test]
fn every_route_has_exactly_its_methods() {
    let doc = doc();
    let paths = doc["paths"].as_object().expect("paths");
    for (route, methods) in ROUTES {
        let item = paths
            .get(*route)
            .unwrap_or_else(|| panic!("{route} missing"));
        let have: BTreeSet<&str> = item
            .as_object()
            .expect("path item")
            .keys()
            .map(String::as_str)
            .filter(|k| METHODS.contains(k))
            .collect();
        let want: BTreeSet<&str> = methods.iter().copied().collect();
        assert_eq!(have, want, "methods of {route}");
    }
    let listed: BTreeSet<&str> = ROUTES.iter().map(|(r, _)| *r).collect();
    let documented: BTreeSet<&str> = paths.keys().map(String::as_str).collect();
    assert_eq!(documented, listed, "documented routes");
}

#[test]
fn every_ref_resolves_to_a_component() {
    let doc = doc();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in &all {
        let parts: Vec<&str> = r.split('/').collect();
        assert!(
            parts.len() == 4 && parts[0] == "#" && parts[1] == "components",
            "{r} is not a reference to a component"
        );
        assert!(
            doc.pointer(&r[1..]).is_some(),
            "{r} does not resolve to a component"
        );
    }
}

#[test]
fn ops_that_pull_document_insufficient_storage() {
    let doc = doc();
    for (path, method) in [("/v1/images/pull", "post"), ("/v1/execute", "post")] {
        assert!(
            doc["paths"][path][method]["responses"]["507"].is_object(),
            "{method} {path}: no 507"
        );
    }
}

#[test]
fn api_operations_answer_the_envelope_with_every_error_status() {
    let doc = doc();
    for (path, method, op) in operations(&doc) {
        // `/v1/events` is a stream of events, not an op: it answers no envelope.
        if !path.starts_with("/v1/") || path == "/v1/events" {
            continue;
        }
        let responses = op["responses"].as_object().expect("responses");
        let ok = if (path.as_str(), method.as_str()) == ("/v1/containers", "post") {
            "201"
        } else {
            "200"
        };
        assert!(responses.contains_key(ok), "{method} {path}: no {ok}");
        for status in ERROR_STATUSES {
            assert!(
                responses.contains_key(*status),
                "{method} {path}: no {status}"
            );
        }
        if path != "/v1/execute" {
            let names = parameter_names(&doc, &path, &op);
            for p in ["query:runtime", "header:Idempotency-Key"] {
                assert!(names.contains(p), "{method} {path}: no {p}");
            }
            for segment in ["{name}", "{image}"] {
                if path.contains(segment) {
                    let p = format!("path:{}", segment.trim_matches(['{', '}']));
                    assert!(names.contains(&p), "{method} {path}: no {p}");
                }
            }
        }
    }
}

#[test]
fn route_parameters_and_bodies() {
    let doc = doc();
    let cases: &[(&str, &str, &[&str])] = &[
        ("/v1/containers", "get", &["query:all", "query:label"]),
        ("/v1/containers/{name}", "delete", &["query:force"]),
        ("/v1/containers/{name}/stop", "post", &["query:timeout_s"]),
        (
            "/v1/containers/{name}/restart",
            "post",
            &["query:timeout_s"],
        ),
        ("/v1/containers/{name}/kill", "post", &["query:signal"]),
        (
            "/v1/containers/{name}/logs",
            "get",
            &["query:tail", "query:since"],
        ),
        ("/v1/images/{image}", "delete", &["query:force"]),
    ];
    for (path, method, want) in cases {
        let op = &doc["paths"][*path][*method];
        let names = parameter_names(&doc, path, op);
        for p in *want {
            assert!(names.contains(*p), "{method} {path}: no {p}");
        }
    }
    for (path, required) in [
        ("/v1/containers", true),
        ("/v1/images/pull", true),
        ("/v1/containers/{name}/start", false),
        ("/v1/containers/{name}/stop", false),
        ("/v1/containers/{name}/restart", false),
        ("/v1/containers/{name}/kill", false),
    ] {
        let body = &doc["paths"][path]["post"]["requestBody"];
        assert_eq!(body["required"], required, "{path} body required");
        assert!(
            body["content"]["application/json"]["schema"].is_object(),
            "{path}: no JSON body schema"
        );
    }
    let execute = &doc["paths"]["/v1/execute"]["post"]["requestBody"]["content"];
    assert!(execute["application/json"].is_object());
    assert!(execute["application/x-protobuf"].is_object());
}

#[test]
fn schemas_match_the_contract() {
    let doc = doc();
    let s = &doc["components"]["schemas"];
    let codes: Vec<&str> = s["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let want: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(codes, want);
    assert_eq!(
        s["ContainerName"]["pattern"],
        "^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$"
    );
    assert_eq!(
        s["Resources"]["properties"]["memory_bytes"]["minimum"],
        6291456
    );
    assert_eq!(s["RequestId"]["maxLength"], 128);
    assert!(s["ContainerState"]["enum"]
        .as_array()
        .expect("states")
        .contains(&Value::from("missing")));
    assert_eq!(s["Container"]["properties"]["exit_code"]["nullable"], true);
    for closed in [
        "Envelope",
        "ContainerSpec",
        "CreateArgs",
        "PortMapping",
        "Mount",
        "RestartPolicy",
        "HealthCheck",
        "Resources",
        "RegistryAuth",
        "PullArgs",
    ] {
        assert_eq!(
            s[closed]["additionalProperties"], false,
            "{closed} must refuse unknown fields"
        );
    }
    let spec: BTreeSet<&str> = s["ContainerSpec"]["properties"]
        .as_object()
        .expect("spec properties")
        .keys()
        .map(String::as_str)
        .collect();
    let fields = [
        "name",
        "image",
        "cmd",
        "entrypoint",
        "env",
        "ports",
        "mounts",
        "restart",
        "resources",
        "labels",
        "network",
        "user",
        "workdir",
        "privileged",
        "devices",
        "health",
    ];
    assert_eq!(spec, fields.into_iter().collect());
}
