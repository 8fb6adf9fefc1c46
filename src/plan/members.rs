//! The live members of an environment's ApplySet in a region, and what becomes of those the
//! revision no longer holds: a rename (a content-hashed ConfigMap/Secret whose successor is
//! created), history kept for `--keep`, an expiry beyond it, or a prune.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Action, ObjectPlan, diff};
use crate::cluster::applyset::{Inventory, PART_OF_LABEL, split_group_kind};
use crate::cluster::{Cluster, ClusterError};
use crate::render::manifest::ObjectId;
use crate::revision::Revision;

/// Every live member of the ApplySet `set_id` (label `applyset.kubernetes.io/part-of`), of
/// the kinds and in the namespaces of the revision or of the inventory the last rollout
/// recorded. Kinds only the inventory names are listed at the version discovery prefers;
/// kinds the cluster no longer serves have no members left to find.
pub(super) async fn list(
    cluster: &Cluster,
    namespace: &str,
    set_id: &str,
    revision: &Revision,
    inventory: &Inventory,
) -> Result<Vec<(ObjectId, Value)>, ClusterError> {
    let mut kinds: BTreeSet<(String, String)> = revision
        .objects
        .iter()
        .map(|(id, _)| (id.api_version.clone(), id.kind.clone()))
        .collect();
    for gk in &inventory.group_kinds {
        let (group, kind) = split_group_kind(gk);
        let known = kinds.iter().any(|(v, k)| k == kind && group_of(v) == group);
        if !known && let Some(api_version) = cluster.preferred_api_version(group, kind).await? {
            kinds.insert((api_version, kind.to_string()));
        }
    }
    let namespaces: Vec<String> = revision
        .objects
        .iter()
        .filter_map(|(id, _)| id.namespace.clone())
        .chain(inventory.namespaces.iter().cloned())
        .chain([namespace.to_string()])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let selector = format!("{PART_OF_LABEL}={set_id}");
    // Hashed config of earlier revisions is listed whatever this one holds (its history is
    // shown as renames and expiries), but only in the environment's own namespace: a Secret
    // list elsewhere (Velero's namespace holds its cloud credentials) would need a grant the
    // deploy account must not have (deploy/rbac/deployer.yaml).
    let history: Vec<(String, String)> = ["ConfigMap", "Secret"]
        .into_iter()
        .map(|k| ("v1".to_string(), k.to_string()))
        .filter(|k| !kinds.contains(k))
        .collect();
    let kinds: Vec<_> = kinds.into_iter().collect();
    let mut found = cluster
        .list_labelled(&kinds, &namespaces, &selector)
        .await?;
    let own = [namespace.to_string()];
    found.extend(cluster.list_labelled(&history, &own, &selector).await?);
    Ok(found)
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// Kind, namespace and unhashed name of a content-hashed ConfigMap or Secret.
type ConfigName = (String, Option<String>, String);

/// Plans the members the revision no longer holds. Content-hashed config that left the set
/// stays a while (old ReplicaSets and earlier revisions still reference it): the newest
/// `keep` per name are kept and not shown, older ones expire. When its successor is created,
/// the newest is shown as renamed to it. Everything else is pruned.
pub(super) fn leftovers(
    plans: &mut [ObjectPlan],
    leftover: Vec<(ObjectId, Value)>,
    region: &str,
    label: &str,
    keep: usize,
) -> Vec<ObjectPlan> {
    let mut by_base: BTreeMap<ConfigName, Vec<(String, ObjectId, Value)>> = BTreeMap::new();
    let mut out = Vec::new();
    for (id, value) in leftover {
        match hashed_base(&id) {
            Some(base) => {
                let created = value["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                by_base
                    .entry((id.kind.clone(), id.namespace.clone(), base))
                    .or_default()
                    .push((created, id, value));
            }
            None => out.push(removal(id, value, Action::Prune, region)),
        }
    }
    for ((kind, namespace, base), mut olds) in by_base {
        // Oldest first; the name breaks ties of objects created in the same second.
        olds.sort_by(|a, b| (&a.0, &a.1.name).cmp(&(&b.0, &b.1.name)));
        if let Some((_, newest, value)) = olds.last() {
            let successor = plans.iter_mut().find(|p| {
                p.action == Action::Create
                    && p.id.kind == kind
                    && p.id.namespace == namespace
                    && hashed_base(&p.id).as_deref() == Some(base.as_str())
            });
            if let Some(successor) = successor {
                rename(successor, newest, value, region, label);
            }
        }
        let excess = olds.len().saturating_sub(keep);
        for (_, id, value) in olds.into_iter().take(excess) {
            out.push(removal(id, value, Action::Expire, region));
        }
    }
    out
}

fn hashed_base(id: &ObjectId) -> Option<String> {
    matches!(id.kind.as_str(), "ConfigMap" | "Secret")
        .then(|| diff::unhashed_name(&id.name).map(str::to_string))
        .flatten()
}

/// A member deleted by the rollout, its diff against nothing.
fn removal(id: ObjectId, value: Value, action: Action, region: &str) -> ObjectPlan {
    let mut before = Some(diff::normalize(value));
    diff::mask_secrets(before.as_mut(), None);
    ObjectPlan {
        diff: diff::unified(
            before.as_ref(),
            None,
            &format!("live/{region}/{id}"),
            "/dev/null",
        ),
        ..ObjectPlan::new(id, action)
    }
}

/// Shows a created hashed ConfigMap/Secret as the successor of `old`: the diff compares
/// contents, not names.
fn rename(successor: &mut ObjectPlan, old: &ObjectId, value: &Value, region: &str, label: &str) {
    let mut before = Some(diff::normalize(value.clone()));
    let mut after = successor.desired.clone().map(diff::normalize);
    diff::mask_secrets(before.as_mut(), after.as_mut());
    for side in [before.as_mut(), after.as_mut()].into_iter().flatten() {
        side["metadata"]["name"] = Value::String(String::new());
    }
    successor.action = Action::Rename;
    successor.renamed_from = Some(old.name.clone());
    successor.diff = diff::unified(
        before.as_ref(),
        after.as_ref(),
        &format!("live/{region}/{old}"),
        &format!("{label}/{region}/{}", successor.id),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(name: &str, created: &str) -> (ObjectId, Value) {
        let v = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "app", "creationTimestamp": created},
            "data": {"K": name}});
        (ObjectId::of(&v).unwrap(), v)
    }

    fn created(name: &str) -> ObjectPlan {
        let (id, v) = config(name, "");
        ObjectPlan {
            desired: Some(v),
            ..ObjectPlan::new(id, Action::Create)
        }
    }

    #[test]
    fn hashed_config_beyond_the_keep_window_expires_oldest_first() {
        let leftover = vec![
            config("app-config-aaaaaaaaaa", "2026-01-03T00:00:00Z"),
            config("app-config-bbbbbbbbbb", "2026-01-01T00:00:00Z"),
            config("app-config-cccccccccc", "2026-01-02T00:00:00Z"),
        ];
        let out = leftovers(&mut [], leftover, "r", "rendered", 1);
        let expired: Vec<&str> = out.iter().map(|p| p.id.name.as_str()).collect();
        assert_eq!(expired, ["app-config-bbbbbbbbbb", "app-config-cccccccccc"]);
        assert!(out.iter().all(|p| p.action == Action::Expire));
    }

    #[test]
    fn a_created_successor_is_shown_as_a_rename_of_the_newest_predecessor() {
        let leftover = vec![
            config("app-config-aaaaaaaaaa", "2026-01-01T00:00:00Z"),
            config("app-config-bbbbbbbbbb", "2026-01-02T00:00:00Z"),
        ];
        let mut plans = [created("app-config-dddddddddd")];
        let out = leftovers(&mut plans, leftover, "r", "rendered", 3);
        assert!(out.is_empty(), "within --keep nothing is deleted");
        assert_eq!(plans[0].action, Action::Rename);
        assert_eq!(
            plans[0].renamed_from.as_deref(),
            Some("app-config-bbbbbbbbbb")
        );
    }

    #[test]
    fn anything_else_that_left_the_set_is_pruned() {
        let v = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "old", "namespace": "app"}});
        let out = leftovers(&mut [], vec![(ObjectId::of(&v).unwrap(), v)], "r", "x", 3);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].action, Action::Prune);
        assert!(out[0].diff.contains("/dev/null"), "{}", out[0].diff);
    }
}
