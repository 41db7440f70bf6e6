//! What an apply will do, decided before anything is touched: the action of every
//! container (by comparing spec hashes, never the engine's inspect output), the
//! deployment-owned containers the generation drops, and the checks that refuse the
//! whole deployment (names of imperative containers, policy, `max_containers`).

use super::spec_hash::{spec_hash, DEPLOYMENT_LABEL, SPEC_HASH_LABEL};
use super::types::{Action, Deployment, DeploymentContainer, Desired};
use crate::core::error::CoreError;
use crate::core::model::{Container, Intent};
use crate::core::policy::{Policy, Violation};
use std::collections::BTreeMap;

/// One container of the deployment and what to do with it.
#[derive(Debug, Clone)]
pub struct Planned {
    /// As declared.
    pub item: DeploymentContainer,
    /// Its spec hash.
    pub hash: String,
    /// What the apply does.
    pub action: Action,
    /// The record under its name, when there is one (deployment-owned).
    pub existing: Option<Container>,
}

/// The whole apply.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Every declared container, in declaration order.
    pub items: Vec<Planned>,
    /// Deployment-owned containers that the new generation does not declare.
    pub dropped: Vec<Container>,
}

impl Plan {
    /// Whether applying changes nothing on the device.
    pub fn is_unchanged(&self) -> bool {
        self.dropped.is_empty() && self.items.iter().all(|p| p.action == Action::None)
    }

    /// The `order` values present, lowest first.
    pub fn groups(&self) -> Vec<u32> {
        let mut orders: Vec<u32> = self.items.iter().map(|p| p.item.order).collect();
        orders.sort_unstable();
        orders.dedup();
        orders
    }
}

/// Whether a record belongs to a deployment (and to which generation).
pub fn owner_generation(record: &Container) -> Option<&str> {
    record.spec.labels.get(DEPLOYMENT_LABEL).map(String::as_str)
}

/// Plans `dep` against the device's records; `committed` is the committed generation
/// (to tell a changed `desired` from a client's own stop or start).
pub fn plan(
    dep: &Deployment,
    records: &[Container],
    committed: Option<&Deployment>,
    policy: &Policy,
) -> Result<Plan, CoreError> {
    let by_name: BTreeMap<&str, &Container> =
        records.iter().map(|r| (r.name.as_str(), r)).collect();
    let was_desired: BTreeMap<&str, Desired> = committed
        .map(|c| {
            c.containers
                .iter()
                .map(|c| (c.spec.name.as_str(), c.desired))
                .collect()
        })
        .unwrap_or_default();
    let imperative = records
        .iter()
        .filter(|r| owner_generation(r).is_none())
        .count();
    let total = imperative + dep.containers.len();
    if total > policy.max_containers {
        return Err(Violation {
            rule: "policy.max_containers",
            reason: format!(
                "the deployment declares {} containers and the device has {imperative} \
                 imperative ones: {total} in all (at most {})",
                dep.containers.len(),
                policy.max_containers
            ),
        }
        .into());
    }
    let mut items = Vec::with_capacity(dep.containers.len());
    for (i, item) in dep.containers.iter().enumerate() {
        let name = item.spec.name.as_str();
        policy.check_create(&item.spec, 0).map_err(|v| Violation {
            rule: v.rule,
            reason: format!("deployment.containers[{i}] ('{name}'): {}", v.reason),
        })?;
        let existing = by_name.get(name).copied();
        if let Some(r) = existing {
            if owner_generation(r).is_none() {
                return Err(CoreError::DeploymentConflict(format!(
                    "deployment.containers[{i}].name: '{name}' is an imperative container \
                     (made by create, {}); remove it first or give the deployment's \
                     container another name",
                    r.runtime.as_str()
                )));
            }
        }
        let hash = spec_hash(&item.spec);
        let action = match existing {
            None => Action::Create,
            Some(r) if r.spec.labels.get(SPEC_HASH_LABEL) != Some(&hash) => Action::Recreate,
            Some(r) => {
                let before = was_desired.get(name).copied();
                match (item.desired, before) {
                    (Desired::Running, Some(Desired::Stopped)) => Action::Start,
                    (Desired::Stopped, Some(Desired::Running)) if r.intent != Intent::Stopped => {
                        Action::Stop
                    }
                    _ => Action::None,
                }
            }
        };
        items.push(Planned {
            item: item.clone(),
            hash,
            action,
            existing: existing.cloned(),
        });
    }
    let declared: std::collections::BTreeSet<&str> = dep
        .containers
        .iter()
        .map(|c| c.spec.name.as_str())
        .collect();
    let dropped = records
        .iter()
        .filter(|r| owner_generation(r).is_some() && !declared.contains(r.name.as_str()))
        .cloned()
        .collect();
    Ok(Plan { items, dropped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::sample_container;

    fn dep(generation: u64, containers: serde_json::Value) -> Deployment {
        serde_json::from_value(serde_json::json!({
            "generation": generation, "containers": containers}))
        .expect("valid deployment")
    }

    /// A record as a deployment of `generation` made it from `dep`'s container `i`.
    fn owned(d: &Deployment, i: usize, generation: u64) -> Container {
        let item = &d.containers[i];
        let mut record = sample_container(item.spec.name.as_str());
        record.spec = item.spec.clone();
        record
            .spec
            .labels
            .insert(DEPLOYMENT_LABEL.into(), generation.to_string());
        record
            .spec
            .labels
            .insert(SPEC_HASH_LABEL.into(), spec_hash(&item.spec));
        record
    }

    #[test]
    fn actions_follow_hashes_desired_and_ownership() {
        let one = dep(
            1,
            serde_json::json!([{"name": "a", "image": "i"}, {"name": "b", "image": "i"},
                               {"name": "c", "image": "i"}]),
        );
        let records = vec![owned(&one, 0, 1), owned(&one, 1, 1), owned(&one, 2, 1)];
        let two = dep(
            2,
            serde_json::json!([{"name": "a", "image": "i"},
                               {"name": "b", "image": "i", "env": {"X": "1"}},
                               {"name": "n", "image": "i", "order": 1}]),
        );
        let p = plan(&two, &records, Some(&one), &Policy::default()).unwrap();
        let actions: Vec<Action> = p.items.iter().map(|p| p.action).collect();
        assert_eq!(actions, [Action::None, Action::Recreate, Action::Create]);
        assert_eq!(p.dropped.len(), 1);
        assert_eq!(p.dropped[0].name.as_str(), "c");
        assert_eq!(p.groups(), [0, 1]);
        assert!(!p.is_unchanged());
        let same = dep(
            3,
            serde_json::json!([{"name": "a", "image": "i"},
                       {"name": "b", "image": "i"}, {"name": "c", "image": "i"}]),
        );
        assert!(plan(&same, &records, Some(&one), &Policy::default())
            .unwrap()
            .is_unchanged());
        let stopped = dep(
            3,
            serde_json::json!([{"name": "a", "image": "i", "desired": "stopped"},
                          {"name": "b", "image": "i"}, {"name": "c", "image": "i"}]),
        );
        let p = plan(&stopped, &records, Some(&one), &Policy::default()).unwrap();
        assert_eq!(p.items[0].action, Action::Stop);
    }

    #[test]
    fn imperative_names_and_the_container_limit_refuse_the_whole_deployment() {
        let imperative = vec![sample_container("web")];
        let d = dep(1, serde_json::json!([{"name": "web", "image": "i"}]));
        let e = plan(&d, &imperative, None, &Policy::default()).unwrap_err();
        assert!(matches!(e, CoreError::DeploymentConflict(_)), "{e}");
        let policy = Policy {
            max_containers: 1,
            ..Policy::default()
        };
        let d = dep(1, serde_json::json!([{"name": "a", "image": "i"}]));
        let e = plan(&d, &imperative, None, &policy).unwrap_err();
        assert!(matches!(e, CoreError::Forbidden(_)), "{e}");
    }
}
