//! The digest that binds an idempotency key to its request: SHA-256 over a canonical
//! JSON of (op, runtime, args). A cached reply is only returned to a request with the
//! same digest; read-only ops have none, as they are never cached.

use super::command::{Command, Request};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The digest of `req` as lowercase hex, `None` for a read-only op (`list`, `inspect`,
/// `logs`, `stats`, `images`, `info`, `deployment`), which runs every time and is never
/// cached.
pub fn request_digest(req: &Request) -> Option<String> {
    let args = args(&req.command)?;
    // Struct fields serialize in declaration order and maps are BTreeMaps: the same
    // request always gives the same bytes.
    let canonical = json!({
        "op": req.command.op().as_str(),
        "runtime": req.runtime,
        "args": args,
    });
    let bytes = serde_json::to_vec(&canonical).ok()?;
    let hash = Sha256::digest(&bytes);
    Some(hash.iter().map(|b| format!("{b:02x}")).collect())
}

/// The arguments of a mutating op; `None` for a read-only one.
fn args(command: &Command) -> Option<Value> {
    Some(match command {
        Command::Create { spec, start } => json!({"spec": spec, "start": start}),
        Command::Start { name } => json!({"name": name}),
        Command::Stop { name, timeout_s } | Command::Restart { name, timeout_s } => {
            json!({"name": name, "timeout_s": timeout_s})
        }
        Command::Kill { name, signal } => json!({"name": name, "signal": signal}),
        Command::Remove { name, force } => json!({"name": name, "force": force}),
        Command::Pull {
            image,
            auth,
            progress,
        } => json!({"image": image, "auth": auth, "progress": progress}),
        Command::PruneImages { dry_run } => json!({"dry_run": dry_run}),
        Command::RemoveImage { image, force } => json!({"image": image, "force": force}),
        Command::Apply { deployment, wait } => json!({"deployment": deployment, "wait": wait}),
        Command::Rollback => json!({}),
        Command::Inspect { .. }
        | Command::List { .. }
        | Command::Logs { .. }
        | Command::Stats { .. }
        | Command::Images
        | Command::Info
        | Command::Deployment => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::RuntimeKind;
    use crate::core::names::ContainerName;

    fn stop(name: &str, timeout_s: Option<u32>, runtime: Option<RuntimeKind>) -> Request {
        Request {
            id: None,
            runtime,
            command: Command::Stop {
                name: ContainerName::parse(name).unwrap(),
                timeout_s,
            },
        }
    }

    #[test]
    fn binds_op_runtime_and_args() {
        let a = request_digest(&stop("db", Some(1), None)).unwrap();
        assert_eq!(a.len(), 64);
        assert_eq!(Some(a.clone()), request_digest(&stop("db", Some(1), None)));
        assert_ne!(Some(a.clone()), request_digest(&stop("db", Some(2), None)));
        assert_ne!(Some(a.clone()), request_digest(&stop("web", Some(1), None)));
        let podman = Some(RuntimeKind::PodmanApi);
        assert_ne!(
            Some(a.clone()),
            request_digest(&stop("db", Some(1), podman))
        );
        let restart = Request {
            command: Command::Restart {
                name: ContainerName::parse("db").unwrap(),
                timeout_s: Some(1),
            },
            ..stop("db", Some(1), None)
        };
        assert_ne!(Some(a), request_digest(&restart));
    }

    #[test]
    fn read_only_ops_have_none() {
        let list = Request {
            id: None,
            runtime: None,
            command: Command::List {
                all: true,
                label: None,
            },
        };
        assert_eq!(request_digest(&list), None);
    }
}
