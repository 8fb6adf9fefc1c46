//! What the drill watches: each workload's available replicas (as its controller reports them
//! in `status.availableReplicas`) and the environment's Pending pods with the scheduler's
//! reason.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use tokio::sync::mpsc;

use crate::cluster::{Cluster, ClusterError};
use crate::render::manifest::ObjectId;

/// Available and desired replicas of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Availability {
    pub(super) available: u32,
    pub(super) desired: u32,
}

/// A workload's pod selector (`spec.selector.matchLabels`) and its desired replicas
/// (`spec.replicas`, 1 when unset); `None` for a workload that is not in the cluster.
pub(super) type Selected = Option<(BTreeMap<String, String>, u32)>;

/// Reads each workload's selector and desired replicas from the cluster.
pub(super) async fn selectors(
    cluster: &Cluster,
    workloads: &[ObjectId],
) -> Result<Vec<Selected>, ClusterError> {
    let mut out = Vec::new();
    for id in workloads {
        out.push(cluster.get(id).await?.map(|live| {
            let desired = live["spec"]["replicas"].as_u64().map_or(1, |r| r as u32);
            let selector = live["spec"]["selector"]["matchLabels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            (selector, desired)
        }));
    }
    Ok(out)
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
    for selected in selectors(cluster, workloads).await? {
        let Some((selector, desired)) = selected else {
            out.push(Availability {
                available: 0,
                desired: 0,
            });
            continue;
        };
        let labels: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let list = pods
            .list(&ListParams::default().labels(&labels.join(",")))
            .await
            .map_err(|e| cluster.request_error(format!("pods in {namespace}"), e))?;
        let available = list.items.iter().filter(|p| ready(p)).count() as u32;
        out.push(Availability { available, desired });
    }
    Ok(out)
}

/// Each workload's availability after every change of the namespace's pods, in the order the
/// API server's watch delivers them: nothing between two samples is missed (kwok brings a
/// one-pod Deployment back in well under the 200 ms between two polls, and a real cluster may
/// too). If the watch ends or fails, `alive` turns false and the caller polls instead.
pub(super) struct PodWatch {
    changes: mpsc::UnboundedReceiver<(Instant, Seen)>,
    task: tokio::task::JoinHandle<()>,
    desired: Vec<u32>,
    /// The available count per workload after the last change drained.
    pub(super) current: Vec<Availability>,
    /// The UIDs of the pods present and not being deleted after the last change drained.
    running: BTreeSet<String>,
}

/// What the watch has seen after one event: Ready pods per workload, and the UIDs of the
/// pods present and not being deleted (UIDs: a StatefulSet's new pod keeps the old name).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    counts: Vec<u32>,
    running: BTreeSet<String>,
}

impl Seen {
    fn of(store: &BTreeMap<String, Pod>, selectors: &[Option<BTreeMap<String, String>>]) -> Seen {
        Seen {
            counts: counts(store, selectors),
            running: store
                .values()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .filter_map(|p| p.metadata.uid.clone())
                .collect(),
        }
    }
}

impl PodWatch {
    /// Lists the namespace's pods and follows them from that list's resourceVersion.
    pub(super) async fn start(
        cluster: &Cluster,
        namespace: &str,
        selected: Vec<Selected>,
    ) -> Result<PodWatch, ClusterError> {
        let pods: Api<Pod> = Api::namespaced(cluster.client(), namespace);
        let list = pods
            .list(&ListParams::default())
            .await
            .map_err(|e| cluster.request_error(format!("pods in {namespace}"), e))?;
        let version = list.metadata.resource_version.unwrap_or_default();
        let store: BTreeMap<String, Pod> = list
            .items
            .into_iter()
            .filter_map(|p| Some((p.metadata.name.clone()?, p)))
            .collect();
        let desired: Vec<u32> = selected
            .iter()
            .map(|s| s.as_ref().map_or(0, |s| s.1))
            .collect();
        let selectors: Vec<Option<BTreeMap<String, String>>> =
            selected.into_iter().map(|s| s.map(|s| s.0)).collect();
        let first = Seen::of(&store, &selectors);
        let current = first
            .counts
            .iter()
            .zip(&desired)
            .map(|(&available, &desired)| Availability { available, desired })
            .collect();
        let first_running = first.running.clone();
        let (tx, changes) = mpsc::unbounded_channel();
        let follow = Follow {
            pods,
            version,
            store,
            selectors,
            last: first,
        };
        let task = tokio::spawn(follow.run(tx));
        Ok(PodWatch {
            changes,
            task,
            desired,
            current,
            running: first_running,
        })
    }

    /// Whether the watch still runs.
    pub(super) fn alive(&self) -> bool {
        !self.task.is_finished() || !self.changes.is_empty()
    }

    /// The changes received since the last call, each with when it was received; `current`
    /// ends as the last of them.
    pub(super) fn drain(&mut self) -> Vec<(Instant, Vec<Availability>)> {
        let mut out = Vec::new();
        while let Ok((at, seen)) = self.changes.try_recv() {
            self.running = seen.running;
            let now: Vec<Availability> = seen
                .counts
                .iter()
                .zip(&self.desired)
                .map(|(&available, &desired)| Availability { available, desired })
                .collect();
            self.current = now.clone();
            out.push((at, now));
        }
        out
    }

    /// Whether the watch has yet to see any of the pods of these UIDs deleted or being
    /// deleted: until it has, what it reports is from before they were evicted.
    pub(super) fn still_running<'a>(&self, mut pods: impl Iterator<Item = &'a str>) -> bool {
        pods.any(|p| self.running.contains(p))
    }
}

impl Drop for PodWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The watch's own state, moved into its task.
struct Follow {
    pods: Api<Pod>,
    version: String,
    store: BTreeMap<String, Pod>,
    selectors: Vec<Option<BTreeMap<String, String>>>,
    last: Seen,
}

impl Follow {
    /// Applies each event to the store and sends the counts whenever they change; a watch the
    /// server closes (its timeout) is resumed from the last resourceVersion seen. Returns on an
    /// error (e.g. 410 Gone) or when the receiver is gone.
    async fn run(mut self, tx: mpsc::UnboundedSender<(Instant, Seen)>) {
        loop {
            let params = WatchParams::default().timeout(290);
            let Ok(stream) = self.pods.watch(&params, &self.version).await else {
                return;
            };
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(WatchEvent::Added(p) | WatchEvent::Modified(p)) => self.keep(p, true),
                    Ok(WatchEvent::Deleted(p)) => self.keep(p, false),
                    Ok(WatchEvent::Bookmark(b)) => self.version = b.metadata.resource_version,
                    Ok(WatchEvent::Error(_)) | Err(_) => return,
                }
                let now = Seen::of(&self.store, &self.selectors);
                if now != self.last {
                    if tx.send((Instant::now(), now.clone())).is_err() {
                        return;
                    }
                    self.last = now;
                }
            }
        }
    }

    fn keep(&mut self, pod: Pod, present: bool) {
        if let Some(v) = &pod.metadata.resource_version {
            self.version.clone_from(v);
        }
        let Some(name) = pod.metadata.name.clone() else {
            return;
        };
        if present {
            self.store.insert(name, pod);
        } else {
            self.store.remove(&name);
        }
    }
}

/// Ready pods per workload: those whose labels hold every pair of its selector.
fn counts(
    store: &BTreeMap<String, Pod>,
    selectors: &[Option<BTreeMap<String, String>>],
) -> Vec<u32> {
    selectors
        .iter()
        .map(|selector| {
            let Some(selector) = selector else {
                return 0;
            };
            store
                .values()
                .filter(|p| ready(p))
                .filter(|p| {
                    let labels = p.metadata.labels.as_ref();
                    selector
                        .iter()
                        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
                })
                .count() as u32
        })
        .collect()
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
