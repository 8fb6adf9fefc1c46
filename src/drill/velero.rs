//! The backup path of a region drill, in Velero's terms: the lost region's newest `Completed`
//! Backup as the restore target's Velero sees it (synced from the shared bucket: the lost
//! region itself is never asked), and a Restore of it into the drill namespace.

use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use serde_json::{Value, json};

use crate::cluster::applyset::PART_OF_LABEL;
use crate::cluster::stop::Stop;
use crate::cluster::{Cluster, ClusterError};
use crate::render::manifest::{ENVIRONMENT_LABEL, REGION_LABEL};

/// How often a running Restore is looked at.
const POLL: Duration = Duration::from_millis(500);

/// The label only our ApplySet parent (`hadr-<env>`, which also holds the deployment record)
/// carries (KEP-3659).
const APPLYSET_ID_LABEL: &str = "applyset.kubernetes.io/id";

/// A Backup the drill restores from.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FoundBackup {
    pub(super) name: String,
    /// `status.completionTimestamp`.
    pub(super) completed: Timestamp,
}

fn api(cluster: &Cluster, namespace: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("velero.io", "v1", kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, plural);
    Api::namespaced_with(cluster.client(), namespace, &resource)
}

/// The newest `Completed` Backup of `environment` made in region `lost`, among the Backups in
/// `cluster`'s Velero namespace (Velero syncs every Backup of the shared bucket into each
/// region). Backups inherit the Schedule's labels, the environment's and region's among them.
pub(super) async fn newest_backup(
    cluster: &Cluster,
    velero_namespace: &str,
    environment: &str,
    lost: &str,
) -> Result<Option<FoundBackup>, ClusterError> {
    let selector = format!("{ENVIRONMENT_LABEL}={environment},{REGION_LABEL}={lost}");
    let list = api(cluster, velero_namespace, "Backup", "backups")
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| cluster.request_error("Backup list".into(), e))?;
    Ok(list
        .items
        .iter()
        .filter_map(|b| {
            let v = serde_json::to_value(b).ok()?;
            (v["status"]["phase"] == "Completed").then_some(())?;
            Some(FoundBackup {
                name: b.metadata.name.clone()?,
                completed: v["status"]["completionTimestamp"].as_str()?.parse().ok()?,
            })
        })
        .max_by_key(|b| b.completed))
}

/// The Restore of `backup` into `into`: the environment's namespace mapped to the drill's,
/// without our ApplySet parent and record (the only object labelled with an ApplySet id), so
/// the copy never carries a deployment record of the environment; without the Namespace
/// itself, which the drill made with its own labels.
pub(super) fn restore_object(
    name: &str,
    velero_namespace: &str,
    backup: &str,
    from: &str,
    into: &str,
    drill_id: &str,
) -> Value {
    json!({
        "apiVersion": "velero.io/v1",
        "kind": "Restore",
        "metadata": {
            "name": name,
            "namespace": velero_namespace,
            "labels": {super::DRILL_LABEL: drill_id},
        },
        "spec": {
            "backupName": backup,
            "namespaceMapping": {from: into},
            "excludedResources": ["namespaces"],
            "labelSelector": {"matchExpressions": [
                {"key": APPLYSET_ID_LABEL, "operator": "DoesNotExist"},
            ]},
        },
    })
}

/// How a Restore ended.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Restored {
    pub(super) phase: String,
    pub(super) warnings: u64,
    pub(super) errors: u64,
}

/// Creates the Restore and waits until Velero ends it, `timeout` or a stop.
pub(super) async fn restore(
    cluster: &Cluster,
    object: &Value,
    timeout: Duration,
    stop: &Stop,
) -> Result<Result<Restored, String>, ClusterError> {
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or("velero");
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let restores = api(cluster, namespace, "Restore", "restores");
    let id = format!("Restore {namespace}/{name}");
    let request: DynamicObject =
        serde_json::from_value(object.clone()).map_err(|e| ClusterError::Api {
            region: cluster.region.clone(),
            id: id.clone(),
            message: e.to_string(),
            source: Some(e.into()),
        })?;
    restores
        .create(&PostParams::default(), &request)
        .await
        .map_err(|e| cluster.request_error(id.clone(), e))?;
    let deadline = Instant::now() + timeout;
    loop {
        let found = restores
            .get_opt(name)
            .await
            .map_err(|e| cluster.request_error(id.clone(), e))?;
        let v = found
            .and_then(|o| serde_json::to_value(o).ok())
            .unwrap_or(Value::Null);
        let phase = v["status"]["phase"].as_str().unwrap_or("New").to_string();
        if matches!(
            phase.as_str(),
            "Completed" | "PartiallyFailed" | "Failed" | "FailedValidation"
        ) {
            return Ok(Ok(Restored {
                phase,
                warnings: v["status"]["warnings"].as_u64().unwrap_or(0),
                errors: v["status"]["errors"].as_u64().unwrap_or(0),
            }));
        }
        if Instant::now() >= deadline {
            return Ok(Err(format!(
                "{id} not ended by Velero within {}s (phase {phase})",
                timeout.as_secs()
            )));
        }
        if stop.requested() {
            return Ok(Err("interrupted by a signal".into()));
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = stop.wait() => {}
        }
    }
}

/// The patch that makes a restored object a drill copy: no longer a member of any ApplySet,
/// labelled with the drill.
pub(super) fn relabel_patch(drill_id: &str) -> Value {
    json!({"metadata": {"labels": {PART_OF_LABEL: null, super::DRILL_LABEL: drill_id}}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_restore_maps_the_namespace_and_leaves_out_the_applyset_parent() {
        let r = restore_object("r1", "velero", "b1", "shop", "shop-drill-x", "x");
        assert_eq!(
            r["spec"]["namespaceMapping"],
            json!({"shop": "shop-drill-x"})
        );
        assert_eq!(r["spec"]["excludedResources"], json!(["namespaces"]));
        assert_eq!(
            r["spec"]["labelSelector"]["matchExpressions"][0]["key"],
            "applyset.kubernetes.io/id"
        );
        assert_eq!(
            relabel_patch("x")["metadata"]["labels"][PART_OF_LABEL],
            Value::Null
        );
    }
}
