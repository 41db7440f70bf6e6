//! D-Bus errors of the typed methods: each contract error code becomes the D-Bus error
//! `io.ctrmgr.Agent1.Error.<Code>` with the error's message as its description.

use crate::core::error::{ErrorBody, ErrorCode};
use zbus::message::{Header, Message};
use zbus::names::ErrorName;

/// The D-Bus error name of each contract code: the one mapping of this transport.
pub fn error_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::InvalidRequest => "io.ctrmgr.Agent1.Error.InvalidRequest",
        ErrorCode::Forbidden => "io.ctrmgr.Agent1.Error.Forbidden",
        ErrorCode::NotFound => "io.ctrmgr.Agent1.Error.NotFound",
        ErrorCode::Conflict => "io.ctrmgr.Agent1.Error.Conflict",
        ErrorCode::TooLarge => "io.ctrmgr.Agent1.Error.TooLarge",
        ErrorCode::Unsupported => "io.ctrmgr.Agent1.Error.Unsupported",
        ErrorCode::RuntimeError => "io.ctrmgr.Agent1.Error.RuntimeError",
        ErrorCode::RuntimeUnavailable => "io.ctrmgr.Agent1.Error.RuntimeUnavailable",
        ErrorCode::StoreError => "io.ctrmgr.Agent1.Error.StoreError",
        ErrorCode::Internal => "io.ctrmgr.Agent1.Error.Internal",
        ErrorCode::InsufficientStorage => "io.ctrmgr.Agent1.Error.InsufficientStorage",
    }
}

/// A failed typed method call, sent as the D-Bus error named after its code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}", error_name(self.0.code), self.0.message)]
pub struct MethodError(pub ErrorBody);

impl zbus::DBusError for MethodError {
    fn create_reply(&self, call: &Header<'_>) -> zbus::Result<Message> {
        Message::error(call, self.name())?.build(&(self.0.message.as_str(),))
    }

    fn name(&self) -> ErrorName<'_> {
        ErrorName::from_static_str_unchecked(error_name(self.0.code))
    }

    fn description(&self) -> Option<&str> {
        Some(&self.0.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_valid_camel_case_name() {
        for code in ErrorCode::ALL {
            let name = error_name(code);
            ErrorName::try_from(name).unwrap();
            let camel: String = code
                .as_str()
                .split('_')
                .map(|w| w[..1].to_uppercase() + &w[1..])
                .collect();
            assert_eq!(name, format!("io.ctrmgr.Agent1.Error.{camel}"));
        }
    }
}
