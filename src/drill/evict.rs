//! Evicting the pods of the lost zone through the Eviction API (policy/v1), exactly as a
//! drain does: the API server refuses an eviction that would break a PodDisruptionBudget
//! (HTTP 429), and the drill retries it while it lasts, as `kubectl drain` does.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, EvictParams, ListParams};

use crate::cluster::{Cluster, ClusterError};

/// A pod to evict.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub(super) struct Evictee {
    pub(super) namespace: String,
    pub(super) name: String,
    pub(super) node: String,
    /// Its UID: a StatefulSet recreates an evicted pod under the same name.
    pub(super) uid: String,
}

impl std::fmt::Display for Evictee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pod {}/{} on {}", self.namespace, self.name, self.node)
    }
}

/// What one eviction request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Evicted {
    /// Accepted: the pod is being deleted.
    Yes,
    /// Refused, for now (a PodDisruptionBudget): the server's words.
    Refused(String),
    /// The pod was already gone.
    Gone,
}

/// The pods a drain of `nodes` evicts: every pod bound to them except DaemonSet pods (they
/// belong to the node), mirror pods (the kubelet's), and pods that have finished or are
/// already being deleted — `kubectl drain --ignore-daemonsets`.
pub(super) async fn pods_on(
    cluster: &Cluster,
    nodes: &[String],
) -> Result<Vec<Evictee>, ClusterError> {
    let pods: Api<Pod> = Api::all(cluster.client());
    let mut out = Vec::new();
    for node in nodes {
        let params = ListParams::default().fields(&format!("spec.nodeName={node}"));
        let list = pods
            .list(&params)
            .await
            .map_err(|e| cluster.request_error(format!("pods on {node}"), e))?;
        out.extend(list.items.into_iter().filter(drained).filter_map(|p| {
            Some(Evictee {
                namespace: p.metadata.namespace?,
                name: p.metadata.name?,
                node: node.clone(),
                uid: p.metadata.uid.unwrap_or_default(),
            })
        }));
    }
    out.sort();
    Ok(out)
}

fn drained(p: &Pod) -> bool {
    let meta = &p.metadata;
    let daemon = meta
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "DaemonSet");
    let mirror = meta
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
    let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
    let finished = matches!(phase, Some("Succeeded" | "Failed"));
    !daemon && !mirror && !finished && meta.deletion_timestamp.is_none()
}

/// Asks the API server to evict one pod.
pub(super) async fn evict(cluster: &Cluster, pod: &Evictee) -> Result<Evicted, ClusterError> {
    let pods: Api<Pod> = Api::namespaced(cluster.client_once(), &pod.namespace);
    match pods.evict(&pod.name, &EvictParams::default()).await {
        Ok(_) => Ok(Evicted::Yes),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Evicted::Gone),
        // Its namespace is being deleted: the pod goes with it.
        Err(kube::Error::Api(s)) if s.code == 403 && s.message.contains("being terminated") => {
            Ok(Evicted::Gone)
        }
        Err(kube::Error::Api(s)) if s.code == 429 => Ok(Evicted::Refused(s.message.clone())),
        Err(e) => Err(cluster.request_error(pod.to_string(), e)),
    }
}
