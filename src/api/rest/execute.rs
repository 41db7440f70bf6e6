//! `POST /v1/execute`: the envelope in JSON or Protobuf (by Content-Type, sniffed when
//! there is none), the reply in the same format.

use super::{reply_response_in, RestState};
use crate::codec::Format;
use crate::core::error::{ErrorBody, ErrorCode};
use futures_lite::AsyncReadExt;
use tide::{Request, StatusCode};

/// Reads the body up to the limit; `Err` is the `too_large` (or unreadable body) reply.
pub(super) async fn read_body(req: &mut Request<RestState>) -> Result<Vec<u8>, ErrorBody> {
    let limit = req.state().max_body_bytes;
    let too_large = |n: String| {
        ErrorBody::new(
            ErrorCode::TooLarge,
            format!("request body of {n} bytes is over the limit of {limit} bytes (rest.max_body_bytes)"),
        )
    };
    if let Some(len) = req.len() {
        if len > limit {
            return Err(too_large(len.to_string()));
        }
    }
    let mut body = Vec::new();
    req.take_body()
        .take(limit as u64 + 1)
        .read_to_end(&mut body)
        .await
        .map_err(|e| {
            ErrorBody::new(
                ErrorCode::InvalidRequest,
                format!("request body could not be read: {e}"),
            )
        })?;
    if body.len() > limit {
        return Err(too_large(format!("more than {limit}")));
    }
    Ok(body)
}

/// The body's format as its Content-Type declares it; `None` without one, or with the
/// generic `application/octet-stream` (then the body is sniffed).
fn declared_format(req: &Request<RestState>) -> Result<Option<Format>, ErrorBody> {
    let Some(mime) = req.content_type() else {
        return Ok(None);
    };
    match mime.essence() {
        "application/octet-stream" => Ok(None),
        "application/json" | "text/json" => Ok(Some(Format::Json)),
        "application/x-protobuf" | "application/protobuf" => Ok(Some(Format::Protobuf)),
        other => Err(ErrorBody::new(
            ErrorCode::InvalidRequest,
            format!("Content-Type '{other}' is not supported (use application/json or application/x-protobuf)"),
        )),
    }
}

/// Runs the envelope through the pipeline and answers in its format.
pub(super) async fn execute(mut req: Request<RestState>) -> tide::Result {
    let state = req.state().clone();
    let refused = |format: Format, e: ErrorBody| {
        reply_response_in(&state.pipeline.refuse(None, e), StatusCode::Ok, format)
    };
    let declared = match declared_format(&req) {
        Ok(f) => f,
        Err(e) => return Ok(refused(Format::Json, e)),
    };
    let body = match read_body(&mut req).await {
        Ok(b) => b,
        Err(e) => return Ok(refused(declared.unwrap_or(Format::Json), e)),
    };
    let format = declared.unwrap_or_else(|| Format::sniff(&body));
    let reply = state.pipeline.respond(format, &body).await;
    Ok(reply_response_in(&reply, StatusCode::Ok, format))
}
