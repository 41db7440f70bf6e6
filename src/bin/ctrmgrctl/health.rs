//! The health-check flags of `create`/`run` and the ContainerSpec `health` object they
//! make (DESIGN.md "Supervision"): one kind (`--health-cmd`, `--health-http`,
//! `--health-tcp`) and its timings. Docker's spellings where docker has the flag; its
//! durations (`30s`, `1m`, `1h`) in whole seconds, as the contract counts them.

use crate::error::CtlError;
use clap::Args;
use serde_json::{json, Map, Value};

/// How the agent checks the container's health.
#[derive(Debug, Args)]
pub struct HealthFlags {
    /// Health check: a command run in the container through `sh -c` (as docker's
    /// --health-cmd), healthy when it exits 0
    #[arg(long, value_name = "COMMAND", group = "health_kind")]
    pub health_cmd: Option<String>,
    /// Health check: an HTTP GET from the agent to PORT[/PATH] on the container's address,
    /// healthy on a 2xx or 3xx answer
    #[arg(long, value_name = "PORT[/PATH]", group = "health_kind")]
    pub health_http: Option<String>,
    /// Health check: a TCP connection from the agent to PORT on the container's address
    #[arg(long, value_name = "PORT", group = "health_kind")]
    pub health_tcp: Option<String>,
    /// Time between checks, e.g. 10s, 1m (default 10s)
    #[arg(long, value_name = "DURATION")]
    pub health_interval: Option<String>,
    /// Longest wait for one check, e.g. 5s (default 5s)
    #[arg(long, value_name = "DURATION")]
    pub health_timeout: Option<String>,
    /// Failed checks in a row before the container counts as unhealthy (default 3)
    #[arg(long, value_name = "N")]
    pub health_retries: Option<u32>,
    /// Time after a start in which failed checks do not count, e.g. 30s (default 0s)
    #[arg(long, value_name = "DURATION")]
    pub health_start_period: Option<String>,
    /// What the agent does with an unhealthy container: restart (default) or none
    #[arg(long, value_name = "ACTION")]
    pub health_on_unhealthy: Option<String>,
}

impl HealthFlags {
    /// Puts the flags into `spec["health"]`: a kind flag replaces the spec file's check,
    /// timing flags change the check the spec file (or a kind flag) gave. Timing flags
    /// without any check are an error.
    pub fn apply_to(&self, spec: &mut Map<String, Value>) -> Result<(), CtlError> {
        if let Some(kind) = self.kind()? {
            spec.insert("health".into(), kind);
        }
        let timings = self.timings()?;
        if timings.is_empty() {
            return Ok(());
        }
        let health = spec
            .get_mut("health")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| {
                CtlError::Local(
                    "--health-interval, --health-timeout, --health-retries, \
                     --health-start-period and --health-on-unhealthy need a check: \
                     --health-cmd, --health-http or --health-tcp (or `health` in -f)"
                        .into(),
                )
            })?;
        health.extend(timings);
        Ok(())
    }

    /// The check's kind as a fresh `health` object, if a kind flag was given.
    fn kind(&self) -> Result<Option<Value>, CtlError> {
        if let Some(cmd) = &self.health_cmd {
            return Ok(Some(json!({"cmd": ["sh", "-c", cmd]})));
        }
        if let Some(text) = &self.health_http {
            let (port_text, path) = match text.split_once('/') {
                Some((p, rest)) => (p, format!("/{rest}")),
                None => (text.as_str(), "/".to_owned()),
            };
            let port = port("--health-http", port_text, text)?;
            return Ok(Some(json!({"http": {"port": port, "path": path}})));
        }
        if let Some(text) = &self.health_tcp {
            let port = port("--health-tcp", text, text)?;
            return Ok(Some(json!({"tcp": {"port": port}})));
        }
        Ok(None)
    }

    /// The timing fields that were given.
    fn timings(&self) -> Result<Map<String, Value>, CtlError> {
        let mut out = Map::new();
        for (key, flag, value) in [
            ("interval_s", "--health-interval", &self.health_interval),
            ("timeout_s", "--health-timeout", &self.health_timeout),
            (
                "start_period_s",
                "--health-start-period",
                &self.health_start_period,
            ),
        ] {
            if let Some(text) = value {
                out.insert(key.into(), json!(seconds(flag, text)?));
            }
        }
        if let Some(retries) = self.health_retries {
            out.insert("retries".into(), json!(retries));
        }
        if let Some(action) = &self.health_on_unhealthy {
            if !matches!(action.as_str(), "restart" | "none") {
                return Err(bad(
                    "--health-on-unhealthy",
                    action,
                    "expected restart or none",
                ));
            }
            out.insert("on_unhealthy".into(), json!(action));
        }
        Ok(out)
    }
}

fn bad(flag: &str, value: &str, why: &str) -> CtlError {
    CtlError::Local(format!("{flag} '{value}': {why}"))
}

/// A port 1-65535.
fn port(flag: &str, text: &str, whole: &str) -> Result<u16, CtlError> {
    text.parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| bad(flag, whole, "expected a port 1-65535"))
}

/// A duration in whole seconds: `30`, `30s`, `2m`, `1h`.
fn seconds(flag: &str, text: &str) -> Result<u64, CtlError> {
    let (digits, scale) = match text.char_indices().last() {
        Some((i, 's')) => (&text[..i], 1),
        Some((i, 'm')) => (&text[..i], 60),
        Some((i, 'h')) => (&text[..i], 3600),
        _ => (text, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| {
            bad(
                flag,
                text,
                "expected whole seconds, minutes or hours, e.g. 30s, 2m, 1h",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        flags: HealthFlags,
    }

    fn health(args: &[&str], file: Value) -> Result<Value, CtlError> {
        let mut argv = vec!["probe"];
        argv.extend(args);
        let mut spec = file.as_object().unwrap().clone();
        Probe::try_parse_from(argv)
            .unwrap()
            .flags
            .apply_to(&mut spec)?;
        Ok(spec.get("health").cloned().unwrap_or(Value::Null))
    }

    #[test]
    fn each_kind_with_its_timings() {
        assert_eq!(
            health(
                &["--health-cmd", "test -f /ready", "--health-interval", "2m"],
                json!({})
            )
            .unwrap(),
            json!({"cmd": ["sh", "-c", "test -f /ready"], "interval_s": 120})
        );
        assert_eq!(
            health(
                &[
                    "--health-http",
                    "8080/status/ok",
                    "--health-retries",
                    "5",
                    "--health-on-unhealthy",
                    "none"
                ],
                json!({})
            )
            .unwrap(),
            json!({"http": {"port": 8080, "path": "/status/ok"}, "retries": 5,
                   "on_unhealthy": "none"})
        );
        assert_eq!(
            health(
                &["--health-tcp", "1883", "--health-start-period", "10"],
                json!({})
            )
            .unwrap(),
            json!({"tcp": {"port": 1883}, "start_period_s": 10})
        );
        assert_eq!(
            health(&["--health-http", "80"], json!({})).unwrap(),
            json!({"http": {"port": 80, "path": "/"}})
        );
        assert_eq!(health(&[], json!({})).unwrap(), Value::Null);
    }

    #[test]
    fn timings_change_the_spec_files_check() {
        let file = json!({"health": {"tcp": {"port": 1}, "retries": 2}});
        assert_eq!(
            health(&["--health-timeout", "3s"], file).unwrap(),
            json!({"tcp": {"port": 1}, "retries": 2, "timeout_s": 3})
        );
    }

    #[test]
    fn bad_values_are_named() {
        for (args, want) in [
            (&["--health-interval", "5s"][..], "need a check"),
            (&["--health-tcp", "0"], "--health-tcp '0'"),
            (&["--health-http", "x/y"], "--health-http 'x/y'"),
            (
                &["--health-tcp", "1", "--health-interval", "500ms"],
                "whole seconds",
            ),
            (
                &["--health-tcp", "1", "--health-on-unhealthy", "reboot"],
                "restart or none",
            ),
        ] {
            let err = health(args, json!({})).unwrap_err().to_string();
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }

    #[test]
    fn one_kind_only() {
        let argv = ["probe", "--health-tcp", "1", "--health-cmd", "true"];
        assert!(Probe::try_parse_from(argv).is_err());
    }
}
