//! What can go wrong in ctrmgrctl, and the exit code each failure gives the shell: one
//! per contract error code, so scripts can tell "no such container" from "engine down".

use std::fmt;

/// Exit code of a usage error (clap's own convention: bad flags, missing arguments).
pub const EXIT_USAGE: u8 = 2;

/// The exit codes of the contract's error codes, in the order of the README's table.
/// 1 is a local or transport failure, 2 a usage error, 0 success.
pub const EXIT_CODES: [(&str, u8); 11] = [
    ("invalid_request", 10),
    ("forbidden", 11),
    ("not_found", 12),
    ("conflict", 13),
    ("too_large", 14),
    ("unsupported", 15),
    ("runtime_error", 16),
    ("runtime_unavailable", 17),
    ("store_error", 18),
    ("internal", 19),
    ("insufficient_storage", 20),
];

/// Exit code of an error code this ctrmgrctl does not know (an agent newer than it).
pub const EXIT_UNKNOWN_CODE: u8 = 21;

/// A failure of one ctrmgrctl run.
#[derive(Debug)]
pub enum CtlError {
    /// The agent answered with an error reply.
    Agent {
        /// The contract's code, e.g. `not_found`.
        code: String,
        /// The agent's message.
        message: String,
    },
    /// The agent could not be reached or answered something that is not a reply.
    Transport(String),
    /// A local problem: an unreadable file, a flag value that cannot be sent.
    Local(String),
}

impl CtlError {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            CtlError::Agent { code, .. } => EXIT_CODES
                .iter()
                .find(|(c, _)| c == code)
                .map_or(EXIT_UNKNOWN_CODE, |(_, n)| *n),
            CtlError::Transport(_) | CtlError::Local(_) => 1,
        }
    }
}

impl fmt::Display for CtlError {
    /// `code: message` for agent errors, as the contract names them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CtlError::Agent { code, message } => write!(f, "{code}: {message}"),
            CtlError::Transport(m) | CtlError::Local(m) => f.write_str(m),
        }
    }
}

/// The exit-code table as `--help` shows it.
pub fn exit_code_help() -> String {
    let mut text = String::from(
        "Exit codes:\n  0   success\n  1   the agent cannot be reached, or a local error (file, value)\n  2   usage error (bad flags or arguments)\n",
    );
    for (code, n) in EXIT_CODES {
        text.push_str(&format!("  {n:<3} {code}\n"));
    }
    text.push_str(&format!(
        "  {EXIT_UNKNOWN_CODE:<3} an error code this ctrmgrctl does not know (newer agent)\n"
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctrmgr::core::error::ErrorCode;

    #[test]
    fn every_contract_code_has_its_own_exit_code() {
        for code in ErrorCode::ALL {
            let err = CtlError::Agent {
                code: code.as_str().into(),
                message: String::new(),
            };
            assert_ne!(
                err.exit_code(),
                EXIT_UNKNOWN_CODE,
                "{code:?} has no exit code"
            );
        }
        let mut numbers: Vec<u8> = EXIT_CODES.iter().map(|(_, n)| *n).collect();
        numbers.extend([0, 1, EXIT_USAGE, EXIT_UNKNOWN_CODE]);
        let count = numbers.len();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), count, "exit codes must be distinct");
    }

    #[test]
    fn message_is_code_colon_message() {
        let err = CtlError::Agent {
            code: "not_found".into(),
            message: "container 'web' not found".into(),
        };
        assert_eq!(err.to_string(), "not_found: container 'web' not found");
        assert_eq!(err.exit_code(), 12);
        let newer = CtlError::Agent {
            code: "brand_new".into(),
            message: String::new(),
        };
        assert_eq!(newer.exit_code(), EXIT_UNKNOWN_CODE);
    }
}
