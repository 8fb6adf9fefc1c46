//! The nodes of a lost zone: cordoned for a drill and always restored. A node the drill
//! cordons carries the annotation `hadr.dev/drill: <drill id>`, so a drill that was killed
//! before it could restore them is undone by `drill --cleanup`; a node that was already
//! cordoned is left exactly as it was.

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;

use crate::cluster::{Cluster, ClusterError};

/// The well-known zone label of a node (Kubernetes API, `topology.kubernetes.io/zone`).
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// Marks a node cordoned by a drill: the drill's id.
pub const DRILL_ANNOTATION: &str = "hadr.dev/drill";

/// A node of the lost zone.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ZoneNode {
    pub name: String,
    /// Already cordoned before the drill: left as it is.
    pub was_cordoned: bool,
}

/// The nodes labelled with `zone`, by name.
pub async fn in_zone(cluster: &Cluster, zone: &str) -> Result<Vec<ZoneNode>, ClusterError> {
    let nodes: Api<Node> = Api::all(cluster.client());
    let list = nodes
        .list(&ListParams::default().labels(&format!("{ZONE_LABEL}={zone}")))
        .await
        .map_err(|e| cluster.request_error(format!("nodes of zone {zone}"), e))?;
    let mut out: Vec<ZoneNode> = list
        .items
        .into_iter()
        .filter_map(|n| {
            let was_cordoned = n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true);
            Some(ZoneNode {
                name: n.metadata.name?,
                was_cordoned,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Node name -> zone, for every node of the cluster (where pods ended up).
pub async fn zones(
    cluster: &Cluster,
) -> Result<std::collections::BTreeMap<String, String>, ClusterError> {
    let nodes: Api<Node> = Api::all(cluster.client());
    let list = nodes
        .list(&ListParams::default())
        .await
        .map_err(|e| cluster.request_error("nodes".into(), e))?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|n| {
            let zone = n.metadata.labels.as_ref()?.get(ZONE_LABEL)?.clone();
            Some((n.metadata.name?, zone))
        })
        .collect())
}

/// Cordons a node (no new pods) and marks it with the drill's id.
pub async fn cordon(cluster: &Cluster, node: &str, drill: &str) -> Result<(), ClusterError> {
    let patch = json!({"metadata": {"annotations": {DRILL_ANNOTATION: drill}}, "spec": {"unschedulable": true}});
    patch_node(cluster, node, &patch).await
}

/// Uncordons a node the drill cordoned and removes its mark.
pub async fn uncordon(cluster: &Cluster, node: &str) -> Result<(), ClusterError> {
    let patch = json!({"metadata": {"annotations": {DRILL_ANNOTATION: null}}, "spec": {"unschedulable": null}});
    patch_node(cluster, node, &patch).await
}

/// The nodes a drill cordoned and did not restore (it was killed): name and drill id.
pub async fn left_cordoned(cluster: &Cluster) -> Result<Vec<(String, String)>, ClusterError> {
    let nodes: Api<Node> = Api::all(cluster.client());
    let list = nodes
        .list(&ListParams::default())
        .await
        .map_err(|e| cluster.request_error("nodes".into(), e))?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|n| {
            let drill = n
                .metadata
                .annotations
                .as_ref()?
                .get(DRILL_ANNOTATION)?
                .clone();
            Some((n.metadata.name?, drill))
        })
        .collect())
}

async fn patch_node(
    cluster: &Cluster,
    node: &str,
    patch: &serde_json::Value,
) -> Result<(), ClusterError> {
    let nodes: Api<Node> = Api::all(cluster.client());
    nodes
        .patch(node, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map_err(|e| cluster.request_error(format!("Node {node}"), e))?;
    Ok(())
}
