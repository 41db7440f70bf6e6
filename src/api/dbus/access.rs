//! Who may call `io.ctrmgr.Agent1`, checked by the agent on top of the bus policy: the
//! caller's uid and groups as the bus reports them (`GetConnectionCredentials`), against
//! `dbus.allowed_uids`, `dbus.allowed_gids` and `dbus.allowed_group`.

use crate::config::dbus::DbusConfig;
use crate::core::error::{ErrorBody, ErrorCode};
use nix::unistd::Group;
use std::collections::HashMap;
use std::sync::Mutex;
use zbus::message::Header;

/// Most callers whose decision is remembered; a full cache is emptied and refilled.
const CACHE_CAPACITY: usize = 256;

/// Who is admitted: root always, the listed uids, and callers in one of the listed gids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRules {
    /// `dbus.allowed_uids`.
    pub uids: Vec<u32>,
    /// `dbus.allowed_gids` plus the gid of `dbus.allowed_group` when that group exists.
    pub gids: Vec<u32>,
    /// `dbus.allowed_group` as configured (named in refusals).
    pub group: String,
}

impl AccessRules {
    /// The rules of `config`, resolving `allowed_group` now (a group that does not exist
    /// admits nobody; that is logged here, once).
    pub fn resolve(config: &DbusConfig) -> Self {
        let mut gids = config.allowed_gids.clone();
        let group = config.allowed_group.clone();
        if !group.is_empty() {
            match Group::from_name(&group) {
                Ok(Some(g)) => gids.push(g.gid.as_raw()),
                Ok(None) => log::warn!(
                    "D-Bus: dbus.allowed_group '{group}' does not exist: nobody is admitted \
                     by that group (root and dbus.allowed_uids/allowed_gids still are)"
                ),
                Err(e) => log::warn!(
                    "D-Bus: cannot look up dbus.allowed_group '{group}' ({e}): nobody is \
                     admitted by that group"
                ),
            }
        }
        Self {
            uids: config.allowed_uids.clone(),
            gids,
            group,
        }
    }
}

/// A caller's credentials as the bus reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The Unix uid, when the bus knows it.
    pub uid: Option<u32>,
    /// Every group (primary and supplementary), when the bus knows them.
    pub gids: Vec<u32>,
}

/// Decides whether `caller` is admitted; the refusal message names the uid and the keys
/// that would admit it.
pub fn decide(rules: &AccessRules, caller: &Caller) -> Result<(), String> {
    let Some(uid) = caller.uid else {
        return Err(
            "the bus did not report the caller's uid; only callers with a known \
                    uid are admitted"
                .into(),
        );
    };
    if uid == 0 || rules.uids.contains(&uid) || caller.gids.iter().any(|g| rules.gids.contains(g)) {
        return Ok(());
    }
    let groups = if caller.gids.is_empty() {
        "none reported".to_owned()
    } else {
        caller
            .gids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(format!(
        "uid {uid} (groups: {groups}) may not call io.ctrmgr.Agent1: admit it with \
         dbus.allowed_uids, dbus.allowed_gids or dbus.allowed_group (now '{}')",
        rules.group
    ))
}

/// The rules and the decisions already taken, by unique bus name. A unique name is never
/// reused on one bus, and this lives as long as one connection to the bus.
#[derive(Debug)]
pub struct AccessCheck {
    rules: AccessRules,
    decided: Mutex<HashMap<String, Result<(), String>>>,
}

impl AccessCheck {
    /// A check with nothing decided yet.
    pub fn new(rules: AccessRules) -> Self {
        Self {
            rules,
            decided: Mutex::new(HashMap::new()),
        }
    }

    /// Admits or refuses the sender of the call whose header is `header`; a refusal is a
    /// `forbidden` error body.
    pub async fn admit(
        &self,
        header: &Header<'_>,
        conn: &zbus::Connection,
    ) -> Result<(), ErrorBody> {
        let forbidden = |message: String| ErrorBody::new(ErrorCode::Forbidden, message);
        let Some(sender) = header.sender() else {
            return Err(forbidden(
                "the call has no sender name, so the caller cannot be identified".into(),
            ));
        };
        if let Some(decision) = self.remembered(sender.as_str()) {
            return decision.map_err(forbidden);
        }
        let caller = credentials(conn, sender).await.map_err(|e| {
            forbidden(format!(
                "cannot read the credentials of {sender} from the bus: {e}"
            ))
        })?;
        let decision = decide(&self.rules, &caller);
        if let Err(refusal) = &decision {
            log::warn!("D-Bus: refused {sender}: {refusal}");
        }
        self.remember(sender.as_str(), decision.clone());
        decision.map_err(forbidden)
    }

    fn remembered(&self, sender: &str) -> Option<Result<(), String>> {
        let decided = self.decided.lock().unwrap_or_else(|p| p.into_inner());
        decided.get(sender).cloned()
    }

    fn remember(&self, sender: &str, decision: Result<(), String>) {
        let mut decided = self.decided.lock().unwrap_or_else(|p| p.into_inner());
        if decided.len() >= CACHE_CAPACITY {
            decided.clear();
        }
        decided.insert(sender.to_owned(), decision);
    }
}

/// Asks the bus for the uid and groups of `sender`.
async fn credentials(
    conn: &zbus::Connection,
    sender: &zbus::names::UniqueName<'_>,
) -> zbus::Result<Caller> {
    let bus = zbus::fdo::DBusProxy::builder(conn)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await?;
    let creds = bus
        .get_connection_credentials(sender.clone().into())
        .await?;
    Ok(Caller {
        uid: creds.unix_user_id(),
        gids: creds.into_unix_group_ids().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(uids: &[u32], gids: &[u32]) -> AccessRules {
        AccessRules {
            uids: uids.to_vec(),
            gids: gids.to_vec(),
            group: "ctrmgr".into(),
        }
    }

    fn caller(uid: u32, gids: &[u32]) -> Caller {
        Caller {
            uid: Some(uid),
            gids: gids.to_vec(),
        }
    }

    #[test]
    fn root_is_always_admitted() {
        assert_eq!(decide(&rules(&[], &[]), &caller(0, &[])), Ok(()));
    }

    #[test]
    fn listed_uids_and_any_listed_group_are_admitted() {
        let r = rules(&[1000], &[42]);
        assert_eq!(decide(&r, &caller(1000, &[])), Ok(()));
        assert_eq!(decide(&r, &caller(65534, &[65534, 42])), Ok(()));
        assert_eq!(decide(&r, &caller(65534, &[42])), Ok(()));
    }

    #[test]
    fn others_are_refused_with_their_uid_and_the_keys() {
        let r = rules(&[1000], &[42]);
        let refusal = decide(&r, &caller(65534, &[65534, 7])).unwrap_err();
        for part in [
            "uid 65534",
            "65534, 7",
            "dbus.allowed_uids",
            "dbus.allowed_gids",
            "dbus.allowed_group (now 'ctrmgr')",
        ] {
            assert!(refusal.contains(part), "{part}: {refusal}");
        }
        let refusal = decide(&r, &caller(1001, &[])).unwrap_err();
        assert!(refusal.contains("none reported"), "{refusal}");
    }

    #[test]
    fn an_unknown_uid_is_refused() {
        let unknown = Caller {
            uid: None,
            gids: vec![42],
        };
        let refusal = decide(&rules(&[], &[42]), &unknown).unwrap_err();
        assert!(refusal.contains("uid"), "{refusal}");
    }

    #[test]
    fn resolving_adds_the_group_when_it_exists() {
        let mut config = DbusConfig {
            allowed_uids: vec![5],
            allowed_gids: vec![6],
            allowed_group: "root".into(),
            ..DbusConfig::default()
        };
        assert_eq!(AccessRules::resolve(&config).gids, vec![6, 0]);
        config.allowed_group = "no-such-group-here".into();
        let r = AccessRules::resolve(&config);
        assert_eq!((r.uids, r.gids), (vec![5], vec![6]));
        config.allowed_group = String::new();
        assert_eq!(AccessRules::resolve(&config).gids, vec![6]);
    }
}
