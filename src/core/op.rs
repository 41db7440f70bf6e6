//! `Op`: the contract's op names, written once. The codecs read them, the core's
//! [`Command::op`](super::command::Command::op) names them, and error messages list them.

use std::fmt;

/// One op of the contract, without its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `create`
    Create,
    /// `start`
    Start,
    /// `stop`
    Stop,
    /// `restart`
    Restart,
    /// `kill`
    Kill,
    /// `remove`
    Remove,
    /// `inspect`
    Inspect,
    /// `list`
    List,
    /// `logs`
    Logs,
    /// `stats`
    Stats,
    /// `pull`
    Pull,
    /// `images`
    Images,
    /// `remove_image`
    RemoveImage,
    /// `info`
    Info,
    /// `apply`
    Apply,
    /// `deployment`
    Deployment,
    /// `rollback`
    Rollback,
    /// `prune_images`
    PruneImages,
}

impl Op {
    /// Every op, in the contract's order.
    pub const ALL: [Op; 18] = [
        Op::Create,
        Op::Start,
        Op::Stop,
        Op::Restart,
        Op::Kill,
        Op::Remove,
        Op::Inspect,
        Op::List,
        Op::Logs,
        Op::Stats,
        Op::Pull,
        Op::Images,
        Op::RemoveImage,
        Op::Info,
        Op::Apply,
        Op::Deployment,
        Op::Rollback,
        Op::PruneImages,
    ];

    /// The op's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Start => "start",
            Op::Stop => "stop",
            Op::Restart => "restart",
            Op::Kill => "kill",
            Op::Remove => "remove",
            Op::Inspect => "inspect",
            Op::List => "list",
            Op::Logs => "logs",
            Op::Stats => "stats",
            Op::Pull => "pull",
            Op::Images => "images",
            Op::RemoveImage => "remove_image",
            Op::Info => "info",
            Op::Apply => "apply",
            Op::Deployment => "deployment",
            Op::Rollback => "rollback",
            Op::PruneImages => "prune_images",
        }
    }

    /// The op named `name` on the wire.
    pub fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == name)
    }

    /// Every op name, comma-separated, for error messages.
    pub fn names() -> String {
        Op::ALL.map(Op::as_str).join(", ")
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for op in Op::ALL {
            assert_eq!(Op::parse(op.as_str()), Some(op));
        }
        assert_eq!(Op::parse("fly"), None);
        assert_eq!(
            Op::names(),
            "create, start, stop, restart, kill, remove, inspect, list, logs, stats, pull, \
             images, remove_image, info, apply, deployment, rollback, prune_images"
        );
    }
}
