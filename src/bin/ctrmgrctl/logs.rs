//! `logs`, and how `-f` follows. The agent's event stream (`GET /v1/events`) carries the
//! containers' state changes, not their output, and the `logs` op has no cursor. So
//! `-f` (1) subscribes to the events, (2) prints the requested lines once, then
//! (3) re-reads the lines written since it started following (`since` = the time just
//! before step 2, this machine's clock) each second, or at once when an event names the
//! container, and prints only the lines past those it already printed from that window.
//! It stops after a last read when an event says the container stopped or went away.
//! What this costs and misses, honestly: a line written while the first read is in
//! flight may appear twice; each re-read carries every line since following began
//! (fine for minutes, heavy for hours of a chatty container: re-run with `--tail`); a
//! remote agent whose clock is far from this one's shifts the window.

use crate::args::LogsArgs;
use crate::client::Client;
use crate::error::CtlError;
use crate::output::{line, print_json};
use serde_json::{json, Value};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

/// How often `-f` re-reads when no event arrives.
const POLL: Duration = Duration::from_secs(1);

/// `logs`
pub fn logs(client: &Client, args: &LogsArgs, as_json: bool) -> Result<(), CtlError> {
    let mut op_args = json!({"name": args.name});
    if let Some(tail) = args.tail {
        op_args["tail"] = json!(tail);
    }
    if let Some(since) = &args.since {
        op_args["since"] = json!(since);
    }
    if !args.follow {
        let result = client.execute("logs", op_args)?;
        return if as_json {
            print_json(&result)
        } else {
            print_lines(&result, 0, false).map(|_| ())
        };
    }
    let state = client.execute("inspect", json!({"name": args.name}))?;
    let events = client.events()?;
    let started = rfc3339(SystemTime::now());
    let first = client.execute("logs", op_args)?;
    print_lines(&first, 0, as_json)?;
    if !is_live(&state["state"]) {
        return Ok(());
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for event in events {
            if tx.send(event).is_err() {
                break;
            }
        }
    });
    let window = json!({"name": args.name, "since": started});
    let mut printed = 0;
    loop {
        let stop = match rx.recv_timeout(POLL) {
            Ok(Ok(event)) => event["name"] == args.name.as_str() && !is_live(&event["state"]),
            Ok(Err(e)) => return Err(e),
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(CtlError::Transport(
                    "the agent ended the event stream (it is shutting down)".into(),
                ))
            }
        };
        match client.execute("logs", window.clone()) {
            Ok(result) => printed = print_lines(&result, printed, as_json)?,
            // Removed while followed: its last lines went with it.
            Err(CtlError::Agent { code, .. }) if stop && code == "not_found" => return Ok(()),
            Err(e) => return Err(e),
        }
        if stop {
            return Ok(());
        }
    }
}

/// Whether a container in this state may still write lines.
fn is_live(state: &Value) -> bool {
    matches!(
        state.as_str(),
        Some("running" | "restarting" | "paused" | "created")
    )
}

/// Prints the result's lines from index `skip` on (as JSON strings, one a line, when
/// following with `--json`); returns how many it holds.
fn print_lines(result: &Value, skip: usize, as_json: bool) -> Result<usize, CtlError> {
    let lines = result["lines"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for l in lines.iter().skip(skip) {
        if as_json {
            line(&l.to_string())?;
        } else {
            line(l.as_str().unwrap_or_default())?;
        }
    }
    Ok(lines.len().max(skip))
}

/// `t` as RFC 3339 in UTC with nanoseconds (the agent passes them on to the engine).
fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_nanos()
    )
}

/// Days since 1970-01-01 to a (year, month, day) date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_795_946_400, 5);
        assert_eq!(rfc3339(t), "2026-11-29T10:00:00.000000005Z");
        assert_eq!(
            rfc3339(SystemTime::UNIX_EPOCH),
            "1970-01-01T00:00:00.000000000Z"
        );
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000000000Z");
    }

    #[test]
    fn lines_past_those_printed() {
        let r = json!({"lines": ["a", "b", "c"]});
        assert_eq!(print_lines(&r, 3, false).unwrap(), 3);
        assert_eq!(print_lines(&json!({"lines": []}), 2, true).unwrap(), 2);
    }
}
