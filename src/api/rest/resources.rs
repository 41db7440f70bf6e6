//! The resource routes (`/v1/containers...`, `/v1/images...`, `/v1/info`): each builds
//! the same envelope a client would send to `/v1/execute` from the path, the query and
//! the body, so validation and errors are exactly those of the JSON codec. Query values
//! `true`/`false` and integers are typed; `runtime` names the access path and the
//! `Idempotency-Key` header carries the request id.

use super::execute::read_body;
use super::{reply_response, RestState};
use crate::codec::json;
use crate::core::error::{ErrorBody, ErrorCode};
use crate::core::reply::Reply;
use serde_json::{Map, Value};
use tide::{Request, StatusCode};

/// Registers every resource route.
pub(super) fn routes(app: &mut tide::Server<RestState>) {
    app.at("/v1/containers")
        .get(|r| run(r, "list", None, Body::None, StatusCode::Ok));
    app.at("/v1/containers")
        .post(|r| run(r, "create", None, Body::Required, StatusCode::Created));
    app.at("/v1/containers/:name")
        .get(|r| run(r, "inspect", Some("name"), Body::None, StatusCode::Ok));
    app.at("/v1/containers/:name")
        .delete(|r| run(r, "remove", Some("name"), Body::None, StatusCode::Ok));
    for op in ["start", "stop", "restart", "kill"] {
        app.at(&format!("/v1/containers/:name/{op}"))
            .post(move |r| run(r, op, Some("name"), Body::Optional, StatusCode::Ok));
    }
    app.at("/v1/containers/:name/logs")
        .get(|r| run(r, "logs", Some("name"), Body::None, StatusCode::Ok));
    app.at("/v1/containers/:name/stats")
        .get(|r| run(r, "stats", Some("name"), Body::None, StatusCode::Ok));
    app.at("/v1/images")
        .get(|r| run(r, "images", None, Body::None, StatusCode::Ok));
    app.at("/v1/images/pull")
        .post(|r| run(r, "pull", None, Body::Required, StatusCode::Ok));
    app.at("/v1/images/*image")
        .delete(|r| run(r, "remove_image", Some("image"), Body::None, StatusCode::Ok));
    app.at("/v1/info")
        .get(|r| run(r, "info", None, Body::None, StatusCode::Ok));
}

/// Whether a route reads a JSON object body into the op's args.
#[derive(Clone, Copy)]
enum Body {
    None,
    Optional,
    Required,
}

async fn run(
    mut req: Request<RestState>,
    op: &'static str,
    path_param: Option<&'static str>,
    body: Body,
    ok_status: StatusCode,
) -> tide::Result {
    let state = req.state().clone();
    let id = req
        .header("Idempotency-Key")
        .map(|v| v.last().as_str().to_owned());
    let reply = match envelope(&mut req, op, path_param, body, id.clone()).await {
        Ok(envelope) => match json::decode_value(envelope) {
            Ok(request) => state.service.execute(request).await,
            Err(e) => Reply::err(e.id, e.error),
        },
        Err(e) => Reply::err(id, e),
    };
    Ok(reply_response(&state, &reply, ok_status))
}

async fn envelope(
    req: &mut Request<RestState>,
    op: &str,
    path_param: Option<&str>,
    body: Body,
    id: Option<String>,
) -> Result<Value, ErrorBody> {
    let invalid = |m: String| ErrorBody::new(ErrorCode::InvalidRequest, m);
    let mut args = match body {
        Body::None => Map::new(),
        Body::Optional | Body::Required => {
            let bytes = read_body(req).await?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                if matches!(body, Body::Required) {
                    return Err(invalid(format!("{op}: a JSON object body is required")));
                }
                Map::new()
            } else {
                match serde_json::from_slice(&bytes) {
                    Ok(Value::Object(map)) => map,
                    Ok(_) => return Err(invalid("body must be a JSON object".into())),
                    Err(e) => return Err(invalid(format!("body is not valid JSON: {e}"))),
                }
            }
        }
    };
    let mut envelope = Map::new();
    envelope.insert("op".into(), Value::String(op.into()));
    if let Some(id) = id {
        envelope.insert("id".into(), Value::String(id));
    }
    for (key, value) in req.url().query_pairs() {
        if key == "runtime" {
            envelope.insert("runtime".into(), Value::String(value.into_owned()));
        } else {
            args.insert(key.into_owned(), typed(&value));
        }
    }
    if let Some(param) = path_param {
        let raw = req.param(param).map_err(|e| invalid(e.to_string()))?;
        let decoded =
            percent_decode(raw).ok_or_else(|| invalid(format!("{param}: bad percent-encoding")))?;
        args.insert(param.into(), Value::String(decoded));
    }
    envelope.insert("args".into(), Value::Object(args));
    Ok(Value::Object(envelope))
}

/// Types a query value: booleans and integers become JSON booleans and numbers.
fn typed(v: &str) -> Value {
    match v {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => v
            .parse::<u64>()
            .map_or_else(|_| Value::String(v.to_owned()), Value::from),
    }
}

/// Decodes `%XX` escapes in a path segment; `None` when malformed or not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_query_values() {
        assert_eq!(typed("true"), Value::Bool(true));
        assert_eq!(typed("12"), Value::from(12u64));
        assert_eq!(typed("-1"), Value::String("-1".into()));
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(
            percent_decode("127.0.0.1%3A5000%2Fa").as_deref(),
            Some("127.0.0.1:5000/a")
        );
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
    }
}
