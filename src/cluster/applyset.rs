//! The ApplySet of an environment in a region (KEP-3659): a parent ConfigMap `hadr-<env>` in the
//! environment's namespace, whose annotations list the group-kinds and additional namespaces
//! its members live in, and members labelled `applyset.kubernetes.io/part-of: <id>`. Membership
//! is what prune candidates come from: the inventory says where to look, the label says what
//! is ours.

use std::collections::BTreeSet;

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Cluster, ClusterError};
use crate::render::manifest::{ENVIRONMENT_LABEL, MANAGED_BY, ObjectId};

/// The label every member carries (KEP-3659).
pub const PART_OF_LABEL: &str = "applyset.kubernetes.io/part-of";
const APPLYSET_ID_LABEL: &str = "applyset.kubernetes.io/id";
const TOOLING_ANNOTATION: &str = "applyset.kubernetes.io/tooling";
const GROUP_KINDS_ANNOTATION: &str = "applyset.kubernetes.io/contains-group-kinds";
const NAMESPACES_ANNOTATION: &str = "applyset.kubernetes.io/additional-namespaces";
/// The parent's field manager: the deployment record in its `data` has another one.
const PARENT_MANAGER: &str = "kubectl-hadr-applyset";

/// The name of the ApplySet parent of an environment: a ConfigMap in its namespace, which also
/// holds the deployment record.
pub fn parent_name(environment: &str) -> String {
    format!("hadr-{environment}")
}

/// The parent's id in its region.
pub fn parent_id(environment: &str, namespace: &str) -> ObjectId {
    ObjectId {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some(namespace.into()),
        name: parent_name(environment),
    }
}

/// The ApplySet ID (KEP-3659): `applyset-` base64url(sha256("<name>.<namespace>.<kind>.<group>"))
/// `-v1`; the parent is a core ConfigMap, so the group is empty.
pub fn applyset_id(environment: &str, namespace: &str) -> String {
    let key = format!("{}.{namespace}.ConfigMap.", parent_name(environment));
    let digest = Sha256::digest(key.as_bytes());
    format!(
        "applyset-{}-v1",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

/// `Kind` for the core group, `Kind.group` otherwise: how KEP-3659 spells a group-kind.
pub fn group_kind(id: &ObjectId) -> String {
    match id.group() {
        "" => id.kind.clone(),
        g => format!("{}.{g}", id.kind),
    }
}

/// Splits a KEP-3659 group-kind into (group, kind).
pub fn split_group_kind(gk: &str) -> (&str, &str) {
    match gk.split_once('.') {
        Some((kind, group)) => (group, kind),
        None => ("", gk),
    }
}

/// Where an ApplySet's members live: group-kinds and the namespaces other than the parent's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub group_kinds: BTreeSet<String>,
    pub namespaces: BTreeSet<String>,
}

impl Inventory {
    /// The inventory a set of objects needs, with its parent in `namespace`.
    pub fn of<'a>(ids: impl IntoIterator<Item = &'a ObjectId>, namespace: &str) -> Inventory {
        let mut inv = Inventory::default();
        for id in ids {
            inv.group_kinds.insert(group_kind(id));
            if let Some(ns) = id.namespace.as_ref().filter(|n| *n != namespace) {
                inv.namespaces.insert(ns.clone());
            }
        }
        inv
    }

    pub fn union(&self, other: &Inventory) -> Inventory {
        Inventory {
            group_kinds: self
                .group_kinds
                .union(&other.group_kinds)
                .cloned()
                .collect(),
            namespaces: self.namespaces.union(&other.namespaces).cloned().collect(),
        }
    }

    /// What the parent says (empty before the first rollout, or without a parent).
    pub async fn read(
        cluster: &Cluster,
        environment: &str,
        namespace: &str,
    ) -> Result<Inventory, ClusterError> {
        let live = cluster.get(&parent_id(environment, namespace)).await?;
        let list = |key: &str| -> BTreeSet<String> {
            live.as_ref()
                .and_then(|p| p["metadata"]["annotations"][key].as_str())
                .map(|s| {
                    s.split(',')
                        .filter(|x| !x.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(Inventory {
            group_kinds: list(GROUP_KINDS_ANNOTATION),
            namespaces: list(NAMESPACES_ANNOTATION),
        })
    }

    /// Writes the parent with this inventory (server-side apply under its own field manager).
    pub async fn apply(
        &self,
        cluster: &Cluster,
        environment: &str,
        namespace: &str,
    ) -> Result<(), ClusterError> {
        let parent = self.parent(environment, namespace);
        cluster
            .apply_as(&parent_id(environment, namespace), &parent, PARENT_MANAGER)
            .await?;
        Ok(())
    }

    fn parent(&self, environment: &str, namespace: &str) -> Value {
        let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(",");
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": parent_name(environment),
                "namespace": namespace,
                "labels": {
                    APPLYSET_ID_LABEL: applyset_id(environment, namespace),
                    MANAGED_BY.0: MANAGED_BY.1,
                    ENVIRONMENT_LABEL: environment,
                },
                "annotations": {
                    TOOLING_ANNOTATION: format!("kubectl-hadr/v{}", env!("CARGO_PKG_VERSION")),
                    GROUP_KINDS_ANNOTATION: join(&self.group_kinds),
                    NAMESPACES_ANNOTATION: join(&self.namespaces),
                },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applyset_ids_follow_kep_3659() {
        let id = applyset_id("prod", "my-app");
        assert!(id.starts_with("applyset-") && id.ends_with("-v1"), "{id}");
        // base64url of a sha256 is 43 characters without padding.
        assert_eq!(id.len(), "applyset-".len() + 43 + "-v1".len());
        assert_ne!(id, applyset_id("staging", "my-app"));
        assert_ne!(id, applyset_id("prod", "other-namespace"));
    }

    #[test]
    fn group_kinds_round_trip_through_kep_3659_spelling() {
        let id = ObjectId {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("x".into()),
            name: "d".into(),
        };
        assert_eq!(group_kind(&id), "Deployment.apps");
        assert_eq!(split_group_kind("Deployment.apps"), ("apps", "Deployment"));
        assert_eq!(split_group_kind("ConfigMap"), ("", "ConfigMap"));
        assert_eq!(
            split_group_kind("Schedule.velero.io"),
            ("velero.io", "Schedule")
        );
    }

    #[test]
    fn the_inventory_leaves_out_the_parents_own_namespace() {
        let ids = [
            ObjectId {
                api_version: "v1".into(),
                kind: "Service".into(),
                namespace: Some("app".into()),
                name: "a".into(),
            },
            ObjectId {
                api_version: "v1".into(),
                kind: "Service".into(),
                namespace: Some("other".into()),
                name: "b".into(),
            },
        ];
        let inv = Inventory::of(&ids, "app");
        assert_eq!(inv.namespaces, BTreeSet::from(["other".to_string()]));
        assert_eq!(inv.group_kinds, BTreeSet::from(["Service".to_string()]));
    }
}
