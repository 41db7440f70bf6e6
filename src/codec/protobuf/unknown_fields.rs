//! Refuses unknown fields, as JSON does: prost skips a field number it does not know, so
//! the bytes are walked again against the table of known field numbers that build.rs
//! writes from the schema, and the first unknown one is named with its path.

use crate::codec::wire_walk::{self, Field, Value};
use crate::core::validate::FieldError;

/// The known fields of one message of the schema.
struct MessageFields {
    /// Fully qualified name, e.g. `.ctrmgr.v1.Request`.
    name: &'static str,
    /// Its fields.
    fields: &'static [KnownField],
}

/// One field of a message.
struct KnownField {
    /// Field number.
    number: u32,
    /// Field name, for paths.
    name: &'static str,
    /// Fully qualified message type, when the field holds a message.
    message: Option<&'static str>,
    /// Repeated (or a map): paths get an index.
    repeated: bool,
    /// The oneof it belongs to (`op` of Request, `result` of Reply).
    oneof: Option<&'static str>,
}

/// Every message of proto/ctrmgr.proto (map entries included).
static MESSAGES: &[MessageFields] = include!(concat!(env!("OUT_DIR"), "/ctrmgr_v1_fields.rs"));

/// `.ctrmgr.v1.Request`.
pub(super) const REQUEST: &str = ".ctrmgr.v1.Request";
/// `.ctrmgr.v1.Reply`.
pub(super) const REPLY: &str = ".ctrmgr.v1.Reply";

/// Checks that `bytes`, already decoded by prost as `message`, carry no field number the
/// schema does not have. `root` names the top level in errors (`request`, `reply`).
pub(super) fn refuse_unknown(bytes: &[u8], message: &str, root: &str) -> Result<(), FieldError> {
    walk(bytes, message, root, "")
}

fn walk(bytes: &[u8], message: &str, root: &str, path: &str) -> Result<(), FieldError> {
    let truncated = |_| FieldError::new(path_or(path, root), "truncated Protobuf field");
    let fields = MESSAGES
        .iter()
        .find(|m| m.name == message)
        .map_or(&[][..], |m| m.fields);
    let mut seen: Vec<(u32, usize)> = Vec::new();
    for read in wire_walk::fields(bytes) {
        let Field {
            number,
            wire_type,
            value,
        } = read.map_err(truncated)?;
        let number = u32::try_from(number).unwrap_or(u32::MAX);
        let Some(field) = fields.iter().find(|f| f.number == number) else {
            return Err(FieldError::new(
                path_or(path, root),
                format!(
                    "unknown field number {number} (wire type {wire_type}): \
                     ctrmgr.v1 has no such field in {}",
                    message.trim_start_matches('.')
                ),
            ));
        };
        let index = match seen.iter_mut().find(|(n, _)| *n == number) {
            Some((_, count)) => {
                *count += 1;
                *count - 1
            }
            None => {
                seen.push((number, 1));
                0
            }
        };
        match value.map_err(truncated)? {
            Value::Varint(_) | Value::Fixed(_) => {}
            Value::Bytes(value) => {
                if let Some(child) = field.message {
                    walk(value, child, root, &child_path(path, field, index))?;
                }
            }
            Value::Group => {
                return Err(FieldError::new(
                    child_path(path, field, index),
                    format!("wire type {wire_type} (a group) is not used by ctrmgr.v1"),
                ))
            }
        }
    }
    Ok(())
}

/// The contract's path of a field: a oneof's op or result is `args` or `result`, as in
/// the JSON envelope.
fn child_path(path: &str, field: &KnownField, index: usize) -> String {
    let name = match field.oneof {
        Some("op") => "args",
        Some("result") => "result",
        _ => field.name,
    };
    let mut out = if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    };
    if field.repeated {
        out.push_str(&format!("[{index}]"));
    }
    out
}

fn path_or(path: &str, root: &str) -> String {
    if path.is_empty() {
        root.to_owned()
    } else {
        path.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_the_schema() {
        let request = MESSAGES.iter().find(|m| m.name == REQUEST).unwrap();
        assert!(request.fields.iter().all(|f| f.number != 1));
        let create = request.fields.iter().find(|f| f.name == "create").unwrap();
        assert_eq!(create.oneof, Some("op"));
        assert_eq!(create.message, Some(".ctrmgr.v1.CreateArgs"));
        assert!(MESSAGES
            .iter()
            .any(|m| m.name == ".ctrmgr.v1.CreateArgs.EnvEntry"));
    }

    #[test]
    fn names_the_unknown_field_and_its_path() {
        // Request { start (6) { name (1) = "a", 9 = varint 1 } }
        let bytes = [0x32, 0x05, 0x0a, 0x01, b'a', 0x48, 0x01];
        let e = refuse_unknown(&bytes, REQUEST, "request").unwrap_err();
        assert_eq!(e.field, "args");
        assert!(e.problem.starts_with("unknown field number 9"), "{e}");
        // Request { 40 = varint 1 }
        let e = refuse_unknown(&[0xc0, 0x02, 0x01], REQUEST, "request").unwrap_err();
        assert_eq!(e.field, "request");
        // create { ports (6) [0] { 7 = varint } }
        let bytes = [0x2a, 0x04, 0x32, 0x02, 0x38, 0x01];
        let e = refuse_unknown(&bytes, REQUEST, "request").unwrap_err();
        assert_eq!(e.field, "args.ports[0]");
    }
}
