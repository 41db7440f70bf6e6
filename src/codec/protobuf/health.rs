//! A spec's `health` between its prost form and the core's. proto3 cannot tell an empty
//! list from an absent one, so an empty `cmd` is no `cmd` (and the core's check then
//! asks for one probe kind); absent timing fields take the contract's defaults.

use super::spec::{narrow, parse_str};
use super::wire::ctrmgr_v1 as pb;
use crate::core::model::{HealthSpec, HttpProbe, OnUnhealthy, TcpProbe};
use crate::core::validate::FieldError;

/// The core's health spec; paths start with `at` (`args.health`).
pub(super) fn from_wire(h: pb::HealthSpec, at: &str) -> Result<HealthSpec, FieldError> {
    Ok(HealthSpec {
        cmd: Some(h.cmd).filter(|c| !c.is_empty()),
        http: h
            .http
            .map(|p| {
                Ok::<_, FieldError>(HttpProbe {
                    port: narrow(&format!("{at}.http.port"), p.port)?,
                    path: p.path.unwrap_or_else(|| "/".to_owned()),
                })
            })
            .transpose()?,
        tcp: h
            .tcp
            .map(|p| {
                Ok::<_, FieldError>(TcpProbe {
                    port: narrow(&format!("{at}.tcp.port"), p.port)?,
                })
            })
            .transpose()?,
        interval_s: h.interval_s.unwrap_or(HealthSpec::DEFAULT_INTERVAL_S),
        timeout_s: h.timeout_s.unwrap_or(HealthSpec::DEFAULT_TIMEOUT_S),
        retries: h.retries.unwrap_or(HealthSpec::DEFAULT_RETRIES),
        start_period_s: h.start_period_s.unwrap_or(0),
        on_unhealthy: h
            .on_unhealthy
            .map(|o| parse_str::<OnUnhealthy>(&format!("{at}.on_unhealthy"), o))
            .transpose()?
            .unwrap_or_default(),
    })
}

/// The prost form of a health spec.
pub(super) fn to_wire(h: &HealthSpec) -> pb::HealthSpec {
    pb::HealthSpec {
        cmd: h.cmd.clone().unwrap_or_default(),
        http: h.http.as_ref().map(|p| pb::HttpProbe {
            port: p.port.into(),
            path: Some(p.path.clone()),
        }),
        tcp: h.tcp.map(|p| pb::TcpProbe {
            port: p.port.into(),
        }),
        interval_s: Some(h.interval_s),
        timeout_s: Some(h.timeout_s),
        retries: Some(h.retries),
        start_period_s: Some(h.start_period_s),
        on_unhealthy: Some(
            match h.on_unhealthy {
                OnUnhealthy::Restart => "restart",
                OnUnhealthy::None => "none",
            }
            .to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_kind_round_trips_and_absent_timing_takes_the_defaults() {
        for health in [
            json!({"cmd": ["sh", "-c", "true"], "interval_s": 2, "retries": 1}),
            json!({"http": {"port": 8080, "path": "/ready"}, "on_unhealthy": "none"}),
            json!({"tcp": {"port": 6379}, "timeout_s": 1, "start_period_s": 30}),
        ] {
            let spec: HealthSpec = serde_json::from_value(health.clone()).unwrap();
            assert_eq!(
                from_wire(to_wire(&spec), "args.health"),
                Ok(spec),
                "{health}"
            );
        }
        let bare = pb::HealthSpec {
            tcp: Some(pb::TcpProbe { port: 80 }),
            ..Default::default()
        };
        let spec = from_wire(bare, "args.health").unwrap();
        assert_eq!((spec.interval_s, spec.timeout_s, spec.retries), (10, 5, 3));
        let bad = pb::HealthSpec {
            tcp: Some(pb::TcpProbe { port: 70_000 }),
            ..Default::default()
        };
        assert_eq!(
            from_wire(bad, "args.health").unwrap_err().field,
            "args.health.tcp.port"
        );
    }
}
