//! `images`, `rmi` and `info`: the engine's images and the agent's own description.

use crate::args::RmiArgs;
use crate::client::Client;
use crate::error::CtlError;
use crate::output::{line, print_json, text};
use crate::table::{human_bytes, Table};
use serde_json::{json, Value};

/// `images`: one row per image, its tags joined.
pub fn images(client: &Client, as_json: bool) -> Result<(), CtlError> {
    let result = client.execute("images", json!({}))?;
    if as_json {
        return print_json(&result);
    }
    let mut table = Table::new(&["ID", "TAGS", "SIZE"], &["TAGS"]);
    for image in result["images"].as_array().into_iter().flatten() {
        let tags: Vec<String> = image["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        let id = text(&image["id"]);
        let short = id
            .strip_prefix("sha256:")
            .unwrap_or(&id)
            .chars()
            .take(12)
            .collect();
        table.row(vec![
            short,
            if tags.is_empty() {
                "<none>".to_owned()
            } else {
                tags.join(", ")
            },
            image["size_bytes"]
                .as_u64()
                .map_or_else(|| "-".to_owned(), human_bytes),
        ]);
    }
    table.print()
}

/// `rmi`
pub fn rmi(client: &Client, args: &RmiArgs, as_json: bool) -> Result<(), CtlError> {
    let result = client.execute(
        "remove_image",
        json!({"image": args.image, "force": args.force}),
    )?;
    if as_json {
        return print_json(&result);
    }
    line(&text(&result["image"]))
}

/// `info`: the agent, then a table of its runtimes.
pub fn info(client: &Client, as_json: bool) -> Result<(), CtlError> {
    let result = client.execute("info", json!({}))?;
    if as_json {
        return print_json(&result);
    }
    for key in ["version", "device_id", "store"] {
        line(&format!("{:<10} {}", format!("{key}:"), text(&result[key])))?;
    }
    line("")?;
    let mut table = Table::new(&["RUNTIME", "AVAILABLE", "VERSION"], &["VERSION"]);
    for rt in result["runtimes"].as_array().into_iter().flatten() {
        let available = if rt["available"] == Value::Bool(true) {
            "yes"
        } else {
            "no"
        };
        table.row(vec![
            text(&rt["name"]),
            available.to_owned(),
            text(&rt["version"]),
        ]);
    }
    table.print()
}
