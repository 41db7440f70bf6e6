//! The benchmark's client for `scripts/bench.sh`: HTTP load over TCP or a unix socket,
//! lifecycle overhead of an access path against another, MQTT and D-Bus round trips; each
//! prints one `key=value` line. Not a test: `cargo run --release --example bench_client`.
//!
//! ```text
//! bench_client load TARGET PATH CONNECTIONS SECONDS     # TARGET: tcp:HOST:PORT | unix:PATH
//! bench_client lifecycle BASE VIA IMAGE N ROUNDS        # agent:HOST:PORT:RUNTIME | docker-api:SOCK
//!                                                       # | podman-api:SOCK | cli:BINARY
//! bench_client mqtt HOST PORT TOPIC PAYLOAD COUNT
//! bench_client dbus BUS_ADDRESS COUNT                  # e.g. unix:path=/tmp/bus
//! ```

mod dbus;
mod http;
mod lifecycle;
mod load;
mod mqtt;

use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench_client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn number(s: &str, what: &str) -> Result<usize, String> {
    s.parse()
        .map_err(|_| format!("{what} '{s}' is not a number"))
}

fn run(args: &[String]) -> Result<String, String> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["load", target, path, connections, seconds] => {
            let target = http::Target::parse(target)?;
            let seconds = number(seconds, "SECONDS")? as u64;
            let summary = load::run(
                &target,
                path,
                number(connections, "CONNECTIONS")?,
                Duration::from_secs(seconds),
            );
            Ok(summary.line())
        }
        ["lifecycle", base, via, image, n, rounds] => lifecycle::compare(
            &lifecycle::AccessPath::parse(base)?,
            &lifecycle::AccessPath::parse(via)?,
            image,
            number(n, "N")?,
            number(rounds, "ROUNDS")?,
        ),
        ["mqtt", host, port, topic, payload, count] => {
            let port = u16::try_from(number(port, "PORT")?).map_err(|_| "PORT too large")?;
            let summary = mqtt::round_trips((host, port), topic, payload, number(count, "COUNT")?)?;
            Ok(summary.line())
        }
        ["dbus", address, count] => {
            let summary = dbus::round_trips(address, number(count, "COUNT")?)?;
            Ok(summary.line())
        }
        _ => Err("usage: see the header of examples/bench_client/main.rs".into()),
    }
}
