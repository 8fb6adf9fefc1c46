//! What the drill watches: each workload's available replicas (as its controller reports them
//! in `status.availableReplicas`) and the environment's Pending pods with the scheduler's
//! reason.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use crate::cluster::{Cluster, ClusterError};
use crate::render::manifest::ObjectId;

/// Available and desired replicas of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Availability {
    pub(super) available: u32,
    pub(super) desired: u32,
}

/// Each workload's availability now, counted from its pods rather than from the status its
/// controller writes (which lags an eviction by a moment): pods selected by the workload's
/// `spec.selector.matchLabels` that are Ready and not being deleted. A workload that is gone
/// counts as none available.
pub(super) async fn availability(
    cluster: &Cluster,
    namespace: &str,
    workloads: &[ObjectId],
) -> Result<Vec<Availability>, ClusterError> {
    let pods: Api<Pod> = Api::namespaced(cluster.client(), namespace);
    let mut out = Vec::new();
    for id in workloads {
        let Some(live) = cluster.get(id).await? else {
            out.push(Availability {
                available: 0,
                desired: 0,
            });
            continue;
        };
        let desired = live["spec"]["replicas"].as_u64().map_or(1, |r| r as u32);
        let selector = live["spec"]["selector"]["matchLabels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        let list = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| cluster.request_error(format!("pods of {id}"), e))?;
        let available = list.items.iter().filter(|p| ready(p)).count() as u32;
        out.push(Availability { available, desired });
    }
    Ok(out)
}

/// Ready (condition `Ready=True`) and not being deleted.
fn ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The environment's pods that cannot be scheduled: `pod name -> the scheduler's message`.
pub(super) async fn pending(
    cluster: &Cluster,
    namespace: &str,
) -> Result<BTreeMap<String, String>, ClusterError> {
    let pods: Api<Pod> = Api::namespaced(cluster.client(), namespace);
    let list = pods
        .list(&ListParams::default().fields("status.phase=Pending"))
        .await
        .map_err(|e| cluster.request_error(format!("pods in {namespace}"), e))?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|p| {
            let why = p
                .status?
                .conditions?
                .into_iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
                .map(|c| c.message.or(c.reason).unwrap_or_default())?;
            Some((p.metadata.name?, why))
        })
        .collect())
}

/// Pods of the environment per zone (the placement after the drill).
pub(super) async fn placement(
    cluster: &Cluster,
    namespace: &str,
    zones: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, u32>, ClusterError> {
    let pods: Api<Pod> = Api::namespaced(cluster.client(), namespace);
    let list = pods
        .list(&ListParams::default().fields("status.phase=Running"))
        .await
        .map_err(|e| cluster.request_error(format!("pods in {namespace}"), e))?;
    let mut out = BTreeMap::new();
    for p in list.items {
        if p.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let node = p.spec.and_then(|s| s.node_name).unwrap_or_default();
        let zone = zones
            .get(&node)
            .cloned()
            .unwrap_or_else(|| "unknown".into());
        *out.entry(zone).or_insert(0) += 1;
    }
    Ok(out)
}
