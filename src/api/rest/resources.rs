//! The resource routes (`/v1/containers...`, `/v1/images...`, `/v1/info`,
//! `/v1/deployment...`): each route
//! names its op, and the path, the query and the body give its args, decoded by the JSON
//! codec's args rules into the same `Command` (and the same errors) a client would get
//! from `/v1/execute`. Query values `true`/`false` and integers are typed; `runtime`
//! names the access path and the `Idempotency-Key` header carries the request id.

use super::execute::read_body;
use super::{reply_response, RestState};
use crate::codec::json;
use crate::core::error::{ErrorBody, ErrorCode};
use crate::core::op::Op;
use serde_json::{Map, Value};
use tide::http::Method;
use tide::{Request, StatusCode};

/// Whether a route reads a JSON object body into the op's args.
#[derive(Debug, Clone, Copy)]
enum Body {
    None,
    Optional,
    Required,
    /// Required, and the whole body is the one arg named here (`PUT /v1/deployment`:
    /// the body is the deployment; `wait` comes from the query).
    RequiredAs(&'static str),
}

/// One resource route: method and path, its op, the path parameter that is an arg, its
/// body, and the status of a success.
type Route = (
    Method,
    &'static str,
    Op,
    Option<&'static str>,
    Body,
    StatusCode,
);

/// Every resource route of the contract.
const ROUTES: [Route; 18] = {
    use Body::{None as NoBody, Optional, Required, RequiredAs};
    use Method::{Delete, Get, Post, Put};
    use StatusCode::{Created, Ok};
    const NAME: Option<&str> = Some("name");
    [
        (Get, "/v1/containers", Op::List, None, NoBody, Ok),
        (Post, "/v1/containers", Op::Create, None, Required, Created),
        (Get, "/v1/containers/:name", Op::Inspect, NAME, NoBody, Ok),
        (Delete, "/v1/containers/:name", Op::Remove, NAME, NoBody, Ok),
        (
            Post,
            "/v1/containers/:name/start",
            Op::Start,
            NAME,
            Optional,
            Ok,
        ),
        (
            Post,
            "/v1/containers/:name/stop",
            Op::Stop,
            NAME,
            Optional,
            Ok,
        ),
        (
            Post,
            "/v1/containers/:name/restart",
            Op::Restart,
            NAME,
            Optional,
            Ok,
        ),
        (
            Post,
            "/v1/containers/:name/kill",
            Op::Kill,
            NAME,
            Optional,
            Ok,
        ),
        (Get, "/v1/containers/:name/logs", Op::Logs, NAME, NoBody, Ok),
        (
            Get,
            "/v1/containers/:name/stats",
            Op::Stats,
            NAME,
            NoBody,
            Ok,
        ),
        (Get, "/v1/images", Op::Images, None, NoBody, Ok),
        (Post, "/v1/images/pull", Op::Pull, None, Required, Ok),
        (
            Post,
            "/v1/images/prune",
            Op::PruneImages,
            None,
            Optional,
            Ok,
        ),
        (
            Delete,
            "/v1/images/*image",
            Op::RemoveImage,
            Some("image"),
            NoBody,
            Ok,
        ),
        (Get, "/v1/info", Op::Info, None, NoBody, Ok),
        (
            Put,
            "/v1/deployment",
            Op::Apply,
            None,
            RequiredAs("deployment"),
            Ok,
        ),
        (Get, "/v1/deployment", Op::Deployment, None, NoBody, Ok),
        (
            Post,
            "/v1/deployment/rollback",
            Op::Rollback,
            None,
            NoBody,
            Ok,
        ),
    ]
};

/// Registers every resource route.
pub(super) fn routes(app: &mut tide::Server<RestState>) {
    for route in ROUTES {
        app.at(route.1).method(route.0, move |req| run(req, route));
    }
}

/// Builds the route's request and runs it through the pipeline.
async fn run(mut req: Request<RestState>, route: Route) -> tide::Result {
    let (_, _, op, path_param, body, ok_status) = route;
    let pipeline = req.state().pipeline.clone();
    let id = req
        .header("Idempotency-Key")
        .map(|v| v.last().as_str().to_owned());
    let reply = match parts(&mut req, op, path_param, body).await {
        Ok((runtime, args)) => match json::decode_parts(id, op, runtime.as_deref(), args) {
            Ok(request) => pipeline.run(request).await,
            Err(e) => pipeline.refuse(e.id, e.error),
        },
        Err(e) => pipeline.refuse(id, e),
    };
    Ok(reply_response(&reply, ok_status))
}

/// The `runtime` query value and the op's args from the body, the query and the path.
async fn parts(
    req: &mut Request<RestState>,
    op: Op,
    path_param: Option<&str>,
    body: Body,
) -> Result<(Option<String>, Map<String, Value>), ErrorBody> {
    let invalid = |m: String| ErrorBody::new(ErrorCode::InvalidRequest, m);
    let mut args = match body {
        Body::None => Map::new(),
        Body::Optional | Body::Required | Body::RequiredAs(_) => {
            let bytes = read_body(req).await?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                if matches!(body, Body::Required | Body::RequiredAs(_)) {
                    return Err(invalid(format!("{op}: a JSON object body is required")));
                }
                Map::new()
            } else {
                match serde_json::from_slice(&bytes) {
                    Ok(Value::Object(map)) => match body {
                        Body::RequiredAs(arg) => {
                            Map::from_iter([(arg.to_owned(), Value::Object(map))])
                        }
                        _ => map,
                    },
                    Ok(_) => return Err(invalid("body must be a JSON object".into())),
                    Err(e) => return Err(invalid(format!("body is not valid JSON: {e}"))),
                }
            }
        }
    };
    let mut runtime = None;
    for (key, value) in req.url().query_pairs() {
        if key == "runtime" {
            runtime = Some(value.into_owned());
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
    Ok((runtime, args))
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
