//! Prints every device's containers from the Redis (or Redis Cluster) that a fleet of
//! agents shares: a read-only operator tool built on the documented key layout
//! (README, "Fleet-wide view").
//!
//! ```sh
//! cargo run --example fleet_table -- redis://127.0.0.1:7001        # a cluster seed node
//! cargo run --example fleet_table -- redis://127.0.0.1:6379/0      # one server
//! cargo run --example fleet_table -- --json redis://127.0.0.1:7001 # one JSON object per line
//! ```
//!
//! How it reads: `CLUSTER NODES` on the seed lists the masters (one server: just it);
//! on each master, `SCAN MATCH ctrmgr:{*}:names` finds every device's index (all keys of
//! a device share the `{<device id>}` hash tag, so one master holds all of them); then
//! `ZRANGE <prefix>names 0 -1` and `GET <prefix>c:<name>` read its records. Nothing is
//! written, and no key is read twice.

use redis::{Commands, Connection};
use serde_json::Value;
use std::process::ExitCode;

const USAGE: &str = "usage: fleet_table [--json] [--pattern 'ctrmgr:{*}:'] REDIS_URL";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet_table: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One row: a device's container record.
struct Row {
    device: String,
    record: Value,
}

fn run(args: Vec<String>) -> Result<(), String> {
    let (mut json, mut pattern, mut url) = (false, "ctrmgr:{*}:".to_owned(), None);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--pattern" => pattern = args.next().ok_or(USAGE)?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            _ if url.is_none() && arg.starts_with("redis") => url = Some(arg),
            _ => return Err(format!("unexpected argument '{arg}'\n{USAGE}")),
        }
    }
    let url = url.ok_or(USAGE)?;
    let mut rows = Vec::new();
    for node in masters(&url)? {
        let mut connection = connect(&node)?;
        rows.extend(read_node(&mut connection, &pattern).map_err(|e| format!("{node}: {e}"))?);
    }
    rows.sort_by(|a, b| (&a.device, name(&a.record)).cmp(&(&b.device, name(&b.record))));
    if json {
        for row in &rows {
            println!(
                "{}",
                serde_json::json!({"device": row.device, "container": row.record})
            );
        }
    } else {
        print_table(&rows);
    }
    Ok(())
}

fn connect(url: &str) -> Result<Connection, String> {
    redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .map_err(|e| format!("{url}: {e}"))
}

/// The masters of the cluster `url` belongs to, or `url` itself when it is no cluster.
fn masters(url: &str) -> Result<Vec<String>, String> {
    let mut seed = connect(url)?;
    let nodes: String = match redis::cmd("CLUSTER").arg("NODES").query(&mut seed) {
        Ok(nodes) => nodes,
        // "ERR This instance has cluster support disabled": one server.
        Err(_) => return Ok(vec![url.to_owned()]),
    };
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let auth = url[scheme_end..]
        .split_once('@')
        .map(|(auth, _)| format!("{auth}@"))
        .unwrap_or_default();
    Ok(nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let healthy_master = fields
                .get(2)
                .is_some_and(|f| f.split(',').any(|flag| flag == "master") && !f.contains("fail"));
            let address = fields.get(1)?.split('@').next()?;
            healthy_master.then(|| format!("redis://{auth}{address}"))
        })
        .collect())
}

/// Every record of every device whose keys live on this node.
fn read_node(connection: &mut Connection, pattern: &str) -> redis::RedisResult<Vec<Row>> {
    let index_keys: Vec<String> = connection
        .scan_match::<_, String>(format!("{pattern}names"))?
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for index in index_keys {
        let prefix = index.strip_suffix("names").unwrap_or(&index).to_owned();
        let device = device_of(&prefix);
        let names: Vec<String> = connection.zrange(&index, 0, -1)?;
        for name in names {
            let value: Option<String> = connection.get(format!("{prefix}c:{name}"))?;
            let record = value
                .and_then(|v| serde_json::from_str(&v).ok())
                .unwrap_or_else(|| serde_json::json!({"name": name, "state": "?"}));
            rows.push(Row {
                device: device.clone(),
                record,
            });
        }
    }
    Ok(rows)
}

/// The device id inside a prefix's `{...}` hash tag.
fn device_of(prefix: &str) -> String {
    prefix
        .split_once('{')
        .and_then(|(_, rest)| rest.split_once('}'))
        .map_or_else(|| prefix.to_owned(), |(device, _)| device.to_owned())
}

fn name(record: &Value) -> &str {
    record["name"].as_str().unwrap_or("")
}

fn print_table(rows: &[Row]) {
    let columns = ["DEVICE", "NAME", "RUNTIME", "STATE", "IMAGE", "UPDATED"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|row| {
            let field = |k: &str| row.record[k].as_str().unwrap_or("-").to_owned();
            [
                row.device.clone(),
                field("name"),
                field("runtime"),
                field("state"),
                field("image"),
                field("updated_at"),
            ]
        })
        .collect();
    let mut widths = columns.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 6]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(columns);
    for row in &cells {
        line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]].map(String::as_str));
    }
    let devices: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.device.as_str()).collect();
    println!("{} containers on {} devices", rows.len(), devices.len());
}
