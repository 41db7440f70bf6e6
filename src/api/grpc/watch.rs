//! `Watch`: the agent's events as a stream of `ctrmgr.v1.Event`, filtered by the
//! WatchRequest, from the moment the call is answered until the client cancels or the
//! agent shuts down. A WatchRequest that cannot be used gets one `error` event, then the
//! stream ends (the status stays OK, as for Execute).

use super::execute::first_message;
use super::service::Shared;
use crate::codec::protobuf::wire::ctrmgr_v1 as wire;
use crate::core::error::{ErrorBody, ErrorCode};
use crate::core::events::{ContainerEvent, Event, EventKind};
use bytes::Bytes;
use futures_lite::Stream;
use prost::Message;
use smol::lock::SemaphoreGuardArc;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::{Request, Response, Status, Streaming};

/// The events of one Watch call, encoded.
pub(super) type EventStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, Status>> + Send>>;

/// Which events a Watch wants.
#[derive(Debug, Default, PartialEq, Eq)]
struct Filter {
    name: Option<String>,
    kinds: Vec<String>,
    actions: Vec<String>,
}

impl Filter {
    /// Reads a WatchRequest; an unknown kind is `invalid_request`.
    fn decode(bytes: &[u8]) -> Result<Filter, ErrorBody> {
        let invalid = |m: String| ErrorBody::new(ErrorCode::InvalidRequest, m);
        let req = wire::WatchRequest::decode(bytes)
            .map_err(|e| invalid(format!("WatchRequest is not valid Protobuf: {e}")))?;
        let known = |k: &String| EventKind::ALL.iter().any(|kind| kind.as_str() == k);
        if let Some(kind) = req.kinds.iter().find(|k| !known(k)) {
            let all: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
            return Err(invalid(format!(
                "kinds: '{kind}' is not an event kind (one of {})",
                all.join(", ")
            )));
        }
        Ok(Filter {
            name: req.name.filter(|n| !n.is_empty()),
            kinds: req.kinds,
            actions: req.actions,
        })
    }

    /// Whether `e` passes every filter; `actions` filters container and health events.
    fn matches(&self, e: &Event) -> bool {
        let kind = e.kind().as_str();
        let action_ok = match e {
            Event::Container(c) => {
                self.actions.is_empty() || self.actions.iter().any(|a| a == c.action.as_str())
            }
            _ => true,
        };
        self.name
            .as_ref()
            .is_none_or(|n| Some(n.as_str()) == e.name())
            && (self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind))
            && action_ok
    }
}

/// An event as `ctrmgr.v1.Event`.
fn wire_event(e: &Event) -> wire::Event {
    use wire::event::Event as Member;
    let member = match e {
        Event::Container(c) if e.kind() == EventKind::Health => Member::Health(wire_container(c)),
        Event::Container(c) => Member::Container(wire_container(c)),
        Event::Deployment(d) => Member::Deployment(wire::DeploymentEvent {
            generation: d.generation,
            phase: d.phase.clone(),
            name: d.name.clone(),
            action: d.action.clone(),
        }),
        Event::PullProgress(p) => Member::PullProgress(wire::PullProgressEvent {
            image: p.image.clone(),
            layer: p.layer.clone(),
            current: p.current,
            total: p.total,
        }),
    };
    wire::Event {
        kind: e.kind().as_str().into(),
        time: e.time().to_owned(),
        event: Some(member),
    }
}

/// A container (or health) event's fields.
fn wire_container(e: &ContainerEvent) -> wire::ContainerEvent {
    wire::ContainerEvent {
        action: e.action.as_str().to_owned(),
        name: e.name.clone(),
        runtime: e.runtime.as_str().into(),
        state: word(&e.state),
        exit_code: e.exit_code,
    }
}

/// A serde enum's JSON word (`running`): the spelling every transport uses.
fn word<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The one `error` event that answers an unusable WatchRequest.
fn error_event(e: ErrorBody) -> wire::Event {
    wire::Event {
        kind: "error".into(),
        time: String::new(),
        event: Some(wire::event::Event::Error(wire::Error {
            code: e.code.as_str().into(),
            message: e.message,
        })),
    }
}

/// The Watch handler, in the shape tonic's `Grpc::streaming` takes (reading the
/// request ourselves answers a bad one with an `error` event rather than a status).
pub(super) struct Watch {
    /// The transport's state.
    pub shared: Arc<Shared>,
    /// This call's slot of `grpc.max_in_flight`, held while the stream is open.
    pub permit: Option<SemaphoreGuardArc>,
}

impl tower_service::Service<Request<Streaming<Bytes>>> for Watch {
    type Response = Response<EventStream>;
    type Error = Status;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Status>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Streaming<Bytes>>) -> Self::Future {
        let shared = self.shared.clone();
        let permit = self.permit.take();
        Box::pin(async move {
            let mut body = req.into_inner();
            let filter = match first_message(&mut body, shared.max_message_bytes).await {
                Ok(bytes) => Filter::decode(&bytes),
                Err(e) => Err(e),
            };
            let stream: EventStream = match filter {
                Ok(filter) => Box::pin(events(&shared, filter, permit)),
                Err(e) => Box::pin(futures_lite::stream::once(Ok(
                    error_event(e).encode_to_vec()
                ))),
            };
            Ok(Response::new(stream))
        })
    }
}

/// The subscription (taken now, so nothing after the answer is missed) as a stream that
/// ends at shutdown.
fn events(
    shared: &Shared,
    filter: Filter,
    permit: Option<SemaphoreGuardArc>,
) -> impl Stream<Item = Result<Vec<u8>, Status>> + Send {
    let rx = shared.ctx.service.events().subscribe();
    let shutdown = shared.ctx.shutdown.clone();
    futures_lite::stream::unfold(
        (rx, shutdown, filter, permit),
        |(rx, shutdown, filter, permit)| async move {
            loop {
                let next = futures_lite::future::or(async { rx.recv().await.ok() }, async {
                    shutdown.wait().await;
                    None
                })
                .await?;
                if filter.matches(&next) {
                    let bytes = wire_event(&next).encode_to_vec();
                    return Some((Ok(bytes), (rx, shutdown, filter, permit)));
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::EventAction;

    fn event(action: EventAction, name: &str) -> Event {
        Event::Container(ContainerEvent {
            action,
            name: name.into(),
            runtime: crate::core::model::RuntimeKind::DockerApi,
            state: crate::core::model::ContainerState::Running,
            exit_code: None,
            time: "2026-12-07T10:00:00Z".into(),
        })
    }

    #[test]
    fn filters_by_name_kind_and_action() {
        let all = Filter::decode(&[]).unwrap();
        assert!(all.matches(&event(EventAction::Start, "a")));
        let req = wire::WatchRequest {
            name: Some("a".into()),
            kinds: vec!["container".into()],
            actions: vec!["start".into()],
        };
        let f = Filter::decode(&req.encode_to_vec()).unwrap();
        assert!(f.matches(&event(EventAction::Start, "a")));
        assert!(!f.matches(&event(EventAction::Stop, "a")));
        assert!(!f.matches(&event(EventAction::Start, "b")));
        let later = wire::WatchRequest {
            kinds: vec!["deployment".into()],
            ..Default::default()
        };
        let f = Filter::decode(&later.encode_to_vec()).unwrap();
        assert!(!f.matches(&event(EventAction::Start, "a")));
        let phase = Event::Deployment(crate::core::events::DeploymentEvent {
            generation: 2,
            phase: "done".into(),
            name: None,
            action: None,
            time: "2026-12-07T10:00:00Z".into(),
        });
        assert!(f.matches(&phase));
        let by_action = wire::WatchRequest {
            actions: vec!["start".into()],
            ..Default::default()
        };
        assert!(Filter::decode(&by_action.encode_to_vec())
            .unwrap()
            .matches(&phase));
    }

    #[test]
    fn refuses_unknown_kinds_and_garbage() {
        let bad = wire::WatchRequest {
            kinds: vec!["weather".into()],
            ..Default::default()
        };
        let e = Filter::decode(&bad.encode_to_vec()).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.message.contains("'weather'"), "{}", e.message);
        assert!(Filter::decode(&[0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn encodes_container_events_with_contract_words() {
        let wire = wire_event(&event(EventAction::EngineDie, "a"));
        assert_eq!(wire.kind, "container");
        let Some(wire::event::Event::Container(c)) = wire.event else {
            panic!("not a container event")
        };
        assert_eq!(
            (c.action.as_str(), c.runtime.as_str(), c.state.as_str()),
            ("engine:die", "docker-api", "running")
        );
        let progress = wire_event(&Event::PullProgress(
            crate::core::events::PullProgressEvent {
                image: "busybox".into(),
                layer: "abc".into(),
                current: 1,
                total: None,
                time: "2026-12-07T10:00:00Z".into(),
            },
        ));
        assert_eq!(progress.kind, "pull_progress");
        assert!(matches!(
            progress.event,
            Some(wire::event::Event::PullProgress(_))
        ));
    }
}
