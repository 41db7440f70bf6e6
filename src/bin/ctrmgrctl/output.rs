//! Writing to stdout: JSON for scripts, text for people, and a reader that went away
//! (`ctrmgrctl ps | head -1`) ends the program quietly instead of a panic.

use crate::error::CtlError;
use serde_json::Value;
use std::io::Write;

/// Writes `text` to stdout as is.
pub fn out(text: &str) -> Result<(), CtlError> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(CtlError::Local(format!("cannot write to stdout: {e}"))),
    }
}

/// Writes one line.
pub fn line(text: &str) -> Result<(), CtlError> {
    out(&format!("{text}\n"))
}

/// Writes a value as indented JSON.
pub fn print_json(value: &Value) -> Result<(), CtlError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CtlError::Local(format!("cannot print the result: {e}")))?;
    line(&text)
}

/// A JSON value as a table cell: strings bare, `null` as `-`.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}
