//! DR drills: lose a zone on purpose, watch the environment recover, and compare what
//! happened with what `validate --lose` predicted and with the objectives.
//!
//! A zone drill cordons the zone's nodes and evicts their pods through the Eviction API, so
//! PodDisruptionBudgets are honoured exactly as in a drain or a zone outage, then follows the
//! environment's workloads through a watch of their pods (Ready pods, not the controllers'
//! status, which lags; every change, not samples that could miss a short outage) and checks
//! every 200 ms whether every pod is evicted, none is Pending and every workload is back to
//! full availability, or the timeout. The nodes it cordoned are always restored: at the end, on error and on a signal;
//! a killed drill leaves them marked for `drill --cleanup`.

mod evict;
pub mod evidence;
pub mod history;
pub mod nodes;
pub mod objective;
mod observe;
pub mod region;
mod velero;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use crate::cluster::lease;
use crate::cluster::stop::Stop;
use crate::cluster::{Cluster, ClusterError};
use crate::environment::Environment;
use crate::policy::Survival;
use crate::render::manifest::ObjectId;
use evict::{Evicted, Evictee};
use nodes::ZoneNode;

/// The label on everything a region drill makes (its namespaces, the copies in them, Velero's
/// Restore): the drill's short id. Nothing so labelled is a deployment of the environment.
pub const DRILL_LABEL: &str = "hadr.dev/drill";

/// How often the workloads are sampled.
const SAMPLE: Duration = Duration::from_millis(200);

/// A zone drill to run in one region.
#[derive(Debug, Clone)]
pub struct ZoneDrill {
    pub region: String,
    pub zone: String,
    /// The environment's workloads in the region (from the revision it runs).
    pub workloads: Vec<ObjectId>,
    /// What `validate --lose zone=<zone>` predicts for this region's workloads.
    pub prediction: Vec<Survival>,
    /// How long recovery may take before the drill ends unrecovered.
    pub timeout: Duration,
    pub stop: Stop,
}

/// Whether every objective of the drill was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
}

/// One change of a workload's availability, `t` seconds after the loss.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub t: f64,
    pub workload: String,
    pub available: u32,
    pub desired: u32,
}

/// Something that happened to a pod, `t` seconds after the loss: an eviction refused (by a
/// PodDisruptionBudget) or a pod the scheduler cannot place.
#[derive(Debug, Clone, Serialize)]
pub struct PodEvent {
    pub t: f64,
    pub pod: String,
    pub message: String,
}

/// One workload's drill, against the prediction and its PodDisruptionBudget.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadResult {
    pub workload: String,
    pub desired: u32,
    /// Predicted replicas left right after the loss (`validate --lose`).
    pub predicted_min: Option<u32>,
    pub predicted_max: Option<u32>,
    pub pdb_minimum: Option<u32>,
    /// Whether `validate --lose` predicts its pods stay pinned to their volumes' zone (a
    /// StatefulSet on zonal volumes): those in the lost zone stay Pending until it returns.
    pub pinned: bool,
    /// Predicted replicas running once the scheduler has placed what it can (`validate
    /// --lose`'s `recovered_min`/`recovered_max`): all of them, unless pinned.
    pub predicted_recovered_min: Option<u32>,
    pub predicted_recovered_max: Option<u32>,
    /// The fewest available replicas seen.
    pub observed_min: u32,
    /// Available replicas when the drill ended.
    pub observed_end: u32,
    /// Seconds from the loss until it was fully available again, if it was.
    pub recovered_after: Option<f64>,
}

/// The drill's evidence and verdict.
#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    pub environment: String,
    pub region: String,
    pub zone: String,
    pub id: String,
    /// When the zone was lost (RFC 3339).
    pub started: String,
    pub seconds: f64,
    pub nodes: Vec<ZoneNode>,
    pub evicted: Vec<String>,
    pub refused_evictions: Vec<PodEvent>,
    pub pending: Vec<PodEvent>,
    pub timeline: Vec<Sample>,
    pub workloads: Vec<WorkloadResult>,
    /// Pods of the environment per zone at the end.
    pub placement: BTreeMap<String, u32>,
    /// Each objective missed or prediction contradicted, in words.
    pub findings: Vec<String>,
    /// Whether every node the drill cordoned was uncordoned.
    pub restored: bool,
    /// Seconds after the loss from which availability was sampled every 200 ms instead of
    /// followed through the pod watch (which ended, or was refused: RBAC `watch` on pods);
    /// absent when the watch saw every change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampled_from: Option<f64>,
    /// `dr.rto` (slowest workload back to full availability) and each workload's PDB minimum.
    pub objectives: Vec<objective::Objective>,
    /// Where `--report` / `--commit` put the evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<evidence::Written>,
    /// Why `--report` / `--commit` could not keep the evidence: the drill's result still
    /// stands and is shown, and the command exits 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_error: Option<String>,
    pub verdict: Verdict,
}

#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Evidence(#[from] evidence::EvidenceError),
    #[error(
        "region `{region}` has no nodes labelled topology.kubernetes.io/zone={zone}\n  help: zones here: {known}"
    )]
    NoSuchZone {
        region: String,
        zone: String,
        known: String,
    },
}

/// What a zone drill would do, read from the cluster without changing it (`--dry-run`).
#[derive(Debug, Clone, Serialize)]
pub struct ZonePlan {
    pub region: String,
    pub zone: String,
    pub nodes: Vec<ZoneNode>,
    pub evictions: Vec<String>,
    pub workloads: Vec<String>,
}

/// Whether a drill follows the availability of objects of this kind (its workloads).
pub fn is_workload(id: &ObjectId) -> bool {
    matches!(id.kind.as_str(), "Deployment" | "StatefulSet")
}

/// Reads the nodes and pods a zone drill would touch.
pub async fn plan_zone(cluster: &Cluster, drill: &ZoneDrill) -> Result<ZonePlan, DrillError> {
    let nodes = zone_nodes(cluster, &drill.zone).await?;
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let pods = evict::pods_on(cluster, &names).await?;
    Ok(ZonePlan {
        region: drill.region.clone(),
        zone: drill.zone.clone(),
        nodes,
        evictions: pods.iter().map(ToString::to_string).collect(),
        workloads: drill.workloads.iter().map(ToString::to_string).collect(),
    })
}

async fn zone_nodes(cluster: &Cluster, zone: &str) -> Result<Vec<ZoneNode>, DrillError> {
    let found = nodes::in_zone(cluster, zone).await?;
    if found.is_empty() {
        let zones: std::collections::BTreeSet<String> =
            nodes::zones(cluster).await?.into_values().collect();
        return Err(DrillError::NoSuchZone {
            region: cluster.region.clone(),
            zone: zone.into(),
            known: zones.into_iter().collect::<Vec<_>>().join(", "),
        });
    }
    Ok(found)
}

/// Runs a zone drill under the environment's Lease and restores every node it cordoned,
/// whatever happens.
///
/// Errors: the Lease is held (a rollout runs), the zone has no nodes, or a request fails
/// (the nodes are restored before the error is returned).
pub async fn zone(
    cluster: &Cluster,
    env: &Environment,
    drill: &ZoneDrill,
) -> Result<DrillReport, DrillError> {
    let held = lease::acquire(cluster, &env.name, &env.namespace).await?;
    let nodes = match zone_nodes(cluster, &drill.zone).await {
        Ok(n) => n,
        Err(e) => {
            held.release().await;
            return Err(e);
        }
    };
    let mut report = DrillReport::new(env, drill, nodes);
    let mut cordoned = Vec::new();
    let outcome = lose_and_recover(cluster, env, drill, &mut report, &mut cordoned).await;
    report.restored = restore(cluster, &cordoned).await.is_ok();
    held.release().await;
    outcome?;
    if !report.restored {
        report.findings.push(format!(
            "not every cordoned node could be uncordoned; run `kubectl hadr drill {} --cleanup`",
            env.name
        ));
    }
    report.conclude(env.dr.rto.as_deref());
    Ok(report)
}

/// Uncordons every node in `cordoned`, trying all of them; the first error is returned.
async fn restore(cluster: &Cluster, cordoned: &[String]) -> Result<(), ClusterError> {
    let mut first = None;
    for node in cordoned {
        if let Err(e) = nodes::uncordon(cluster, node).await {
            first = first.or(Some(e));
        }
    }
    first.map_or(Ok(()), Err)
}

/// What `drill --cleanup` undid in one region: each entry is `(name, drill id)`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CleanedUp {
    pub region: String,
    /// Nodes a killed zone drill had cordoned, now uncordoned.
    pub nodes: Vec<(String, String)>,
    /// Drill namespaces (`<namespace>-drill-<id>-<path>`) a killed region drill left, now
    /// deleted with everything in them.
    pub namespaces: Vec<(String, String)>,
}

/// Undoes what killed drills left in the cluster: every node marked with a drill id is
/// uncordoned, and every namespace labelled `hadr.dev/drill` whose name is a drill namespace
/// of the environment's NAMESPACE is deleted (a region drill's copies; the live namespace
/// never carries the label).
pub async fn cleanup(cluster: &Cluster, namespace: &str) -> Result<CleanedUp, ClusterError> {
    let left = nodes::left_cordoned(cluster).await?;
    for (node, _) in &left {
        nodes::uncordon(cluster, node).await?;
    }
    let copies = region::left_namespaces(cluster, namespace).await?;
    for (name, _) in &copies {
        cluster.delete(&region::namespace_id(name)).await?;
    }
    Ok(CleanedUp {
        region: cluster.region.clone(),
        nodes: left,
        namespaces: copies,
    })
}

/// Cordons the zone, evicts its pods and follows the workloads until they are back or time
/// is up. `cordoned` names each node as soon as it is cordoned, for the caller to restore.
async fn lose_and_recover(
    cluster: &Cluster,
    env: &Environment,
    drill: &ZoneDrill,
    report: &mut DrillReport,
    cordoned: &mut Vec<String>,
) -> Result<(), DrillError> {
    for node in report.nodes.iter().filter(|n| !n.was_cordoned) {
        cordoned.push(node.name.clone());
        nodes::cordon(cluster, &node.name, &report.id).await?;
    }
    let names: Vec<String> = report.nodes.iter().map(|n| n.name.clone()).collect();
    let mut to_evict = evict::pods_on(cluster, &names).await?;
    let selected = observe::selectors(cluster, &drill.workloads).await?;
    let mut pods = observe::PodWatch::start(cluster, &env.namespace, selected).await?;
    let start = Instant::now();
    let mut seen = Watch::new(drill.workloads.len());
    let mut evicted = Vec::new();
    seen.record(0.0, &drill.workloads, &pods.current, report);
    loop {
        let t = start.elapsed().as_secs_f64();
        to_evict = evict_all(cluster, to_evict, t, report, &mut evicted).await?;
        let now = if pods.alive() {
            for (at, counts) in pods.drain() {
                let t = at.saturating_duration_since(start).as_secs_f64();
                seen.record(t, &drill.workloads, &counts, report);
            }
            pods.current.clone()
        } else {
            report.sampled_from.get_or_insert(t);
            let now = observe::availability(cluster, &env.namespace, &drill.workloads).await?;
            seen.record(
                start.elapsed().as_secs_f64(),
                &drill.workloads,
                &now,
                report,
            );
            now
        };
        let pending = observe::pending(cluster, &env.namespace).await?;
        for (pod, why) in &pending {
            if !report
                .pending
                .iter()
                .any(|p| p.pod == *pod && p.message == *why)
            {
                report.pending.push(PodEvent {
                    t,
                    pod: pod.clone(),
                    message: why.clone(),
                });
            }
        }
        // Until the watch has seen the evicted pods go, its counts are from before the loss.
        let caught_up =
            !pods.alive() || !pods.still_running(evicted.iter().map(|e| e.uid.as_str()));
        let recovered = to_evict.is_empty() && caught_up && settled(drill, &now, &pending);
        if recovered || start.elapsed() > drill.timeout || drill.stop.requested() {
            if drill.stop.requested() {
                report
                    .findings
                    .push("interrupted by a signal before recovery".into());
            } else if !recovered {
                report.findings.push(format!(
                    "not back to full availability within {}s",
                    drill.timeout.as_secs()
                ));
            }
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(SAMPLE) => {}
            () = drill.stop.wait() => {}
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    report.workloads = seen.results(drill);
    let zones = nodes::zones(cluster).await?;
    report.placement = observe::placement(cluster, &env.namespace, &zones).await?;
    Ok(())
}

/// Whether every workload is where `validate --lose` says it ends up: fully available, or,
/// for a workload pinned to its volumes' zone, at least its predicted `recovered_min` with
/// each missing pod recreated and Pending (so the scheduler's reason is on record). Any other
/// Pending pod means not yet.
fn settled(
    drill: &ZoneDrill,
    now: &[observe::Availability],
    pending: &BTreeMap<String, String>,
) -> bool {
    let mut pinned_pending = 0;
    for (id, a) in drill.workloads.iter().zip(now) {
        let name = id.to_string();
        let prediction = drill.prediction.iter().find(|s| s.workload == name);
        let Some(p) = prediction.filter(|p| p.pinned) else {
            if a.available < a.desired {
                return false;
            }
            continue;
        };
        let own = pending
            .keys()
            .filter(|pod| is_stateful_pod_of(pod, &id.name))
            .count() as u32;
        if a.available < p.recovered_min || a.available + own < a.desired {
            return false;
        }
        pinned_pending += own;
    }
    pending.len() as u32 == pinned_pending
}

/// Whether POD is one of StatefulSet SET's pods, named `<set>-<ordinal>` (Kubernetes API,
/// "StatefulSets", Pod Identity).
fn is_stateful_pod_of(pod: &str, set: &str) -> bool {
    pod.strip_prefix(set)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Asks to evict every pod still to go, adding those evicted to EVICTED; returns those the
/// API server refused for now.
async fn evict_all(
    cluster: &Cluster,
    pods: Vec<Evictee>,
    t: f64,
    report: &mut DrillReport,
    evicted: &mut Vec<Evictee>,
) -> Result<Vec<Evictee>, ClusterError> {
    let mut refused = Vec::new();
    for pod in pods {
        match evict::evict(cluster, &pod).await? {
            Evicted::Yes => {
                report.evicted.push(pod.to_string());
                evicted.push(pod);
            }
            Evicted::Gone => {}
            Evicted::Refused(message) => {
                let name = pod.to_string();
                if !report.refused_evictions.iter().any(|e| e.pod == name) {
                    report.refused_evictions.push(PodEvent {
                        t,
                        pod: name,
                        message,
                    });
                }
                refused.push(pod);
            }
        }
    }
    Ok(refused)
}

/// What the sampling has seen of each workload so far.
struct Watch {
    last: Vec<Option<observe::Availability>>,
    min: Vec<u32>,
    end: Vec<u32>,
    desired: Vec<u32>,
    recovered: Vec<Option<f64>>,
}

impl Watch {
    fn new(n: usize) -> Watch {
        Watch {
            last: vec![None; n],
            min: vec![u32::MAX; n],
            end: vec![0; n],
            desired: vec![0; n],
            recovered: vec![None; n],
        }
    }

    /// Notes a sample; the timeline gets a point whenever a workload's availability changes.
    fn record(
        &mut self,
        t: f64,
        ids: &[ObjectId],
        now: &[observe::Availability],
        report: &mut DrillReport,
    ) {
        for (i, a) in now.iter().enumerate() {
            self.min[i] = self.min[i].min(a.available);
            self.end[i] = a.available;
            self.desired[i] = a.desired;
            if a.available < a.desired {
                self.recovered[i] = None;
            } else if self.recovered[i].is_none() {
                self.recovered[i] = Some(t);
            }
            if self.last[i] != Some(*a) {
                self.last[i] = Some(*a);
                report.timeline.push(Sample {
                    t,
                    workload: ids[i].to_string(),
                    available: a.available,
                    desired: a.desired,
                });
            }
        }
    }

    fn results(&self, drill: &ZoneDrill) -> Vec<WorkloadResult> {
        drill
            .workloads
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let name = id.to_string();
                let predicted = drill.prediction.iter().find(|s| s.workload == name);
                WorkloadResult {
                    desired: self.desired[i],
                    predicted_min: predicted.map(|p| p.left_min),
                    predicted_max: predicted.map(|p| p.left_max),
                    pdb_minimum: predicted.and_then(|p| p.pdb_minimum),
                    pinned: predicted.is_some_and(|p| p.pinned),
                    predicted_recovered_min: predicted.map(|p| p.recovered_min),
                    predicted_recovered_max: predicted.map(|p| p.recovered_max),
                    observed_min: self.min[i].min(self.desired[i]),
                    observed_end: self.end[i],
                    recovered_after: self.recovered[i],
                    workload: name,
                }
            })
            .collect()
    }
}

impl DrillReport {
    fn new(env: &Environment, drill: &ZoneDrill, nodes: Vec<ZoneNode>) -> DrillReport {
        let started = Timestamp::now();
        DrillReport {
            environment: env.name.clone(),
            region: drill.region.clone(),
            zone: drill.zone.clone(),
            id: format!("zone-{}-{}", drill.zone, started.as_second()),
            started: started.to_string(),
            seconds: 0.0,
            nodes,
            evicted: Vec::new(),
            refused_evictions: Vec::new(),
            pending: Vec::new(),
            timeline: Vec::new(),
            workloads: Vec::new(),
            placement: BTreeMap::new(),
            findings: Vec::new(),
            restored: false,
            sampled_from: None,
            objectives: Vec::new(),
            evidence: None,
            evidence_error: None,
            verdict: Verdict::Fail,
        }
    }

    /// Objectives and findings per workload, then the verdict: a pass when there are no
    /// findings (a missed objective is one). `dr.rto` is measured on the workloads that can
    /// recover while the zone is lost: a pinned one waits for the zone by prediction, and is
    /// judged against that prediction instead.
    fn conclude(&mut self, rto: Option<&str>) {
        use objective::{Objective, ObjectiveKind};
        if let Some(rto) = rto {
            let slowest = self
                .workloads
                .iter()
                .filter(|w| !w.pinned)
                .map(|w| w.recovered_after)
                .try_fold(0.0_f64, |max, t| t.map(|t| max.max(t)));
            self.objectives.extend(Objective::at_most(
                ObjectiveKind::Rto,
                "every workload",
                rto,
                slowest,
            ));
        }
        for w in &self.workloads {
            let floor = w.pdb_minimum.unwrap_or(1).max(1);
            self.objectives.push(Objective::at_least(
                ObjectiveKind::PdbMinimum,
                &w.workload,
                floor,
                w.observed_min,
            ));
            if w.observed_min < floor {
                self.findings.push(format!(
                    "{}: availability fell to {} of {}, below the {} the PodDisruptionBudget (or one replica) must keep",
                    w.workload, w.observed_min, w.desired, floor
                ));
            }
            if let Some(predicted) = w.predicted_min
                && w.observed_min < predicted
            {
                self.findings.push(format!(
                    "{}: availability fell to {}, below the {} `validate --lose zone={}` predicted",
                    w.workload, w.observed_min, predicted, self.zone
                ));
            }
            if let (true, Some(lo), Some(hi)) = (
                w.pinned,
                w.predicted_recovered_min,
                w.predicted_recovered_max,
            ) && !(lo..=hi).contains(&w.observed_end)
            {
                self.findings.push(format!(
                    "{}: {} available at the end, but `validate --lose zone={}` predicted {lo} to {hi} while the zone is lost (pods pinned to their volumes)",
                    w.workload, w.observed_end, self.zone
                ));
            }
        }
        if let Some(o) = self
            .objectives
            .iter()
            .find(|o| o.objective == ObjectiveKind::Rto && !o.met)
        {
            self.findings.push(format!(
                "dr.rto missed: target {}, achieved {}",
                o.target,
                o.achieved_text()
            ));
        }
        if self.placement.get(&self.zone).is_some_and(|n| *n > 0) {
            self.findings.push(format!(
                "pods of the environment still run in the lost zone {}",
                self.zone
            ));
        }
        self.verdict = if self.findings.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: &str, name: &str) -> ObjectId {
        ObjectId {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            namespace: Some("shop".into()),
            name: name.into(),
        }
    }

    /// A Deployment `web` (3) and a StatefulSet `db` (3) pinned to zonal volumes: losing a
    /// zone leaves db at 2 until the zone returns.
    fn drill() -> ZoneDrill {
        let workloads = vec![id("Deployment", "web"), id("StatefulSet", "db")];
        let prediction = workloads
            .iter()
            .map(|w| {
                let pinned = w.kind == "StatefulSet";
                let recovered = if pinned { 2 } else { 3 };
                Survival {
                    environment: "shop".into(),
                    region: "eastus2".into(),
                    workload: w.to_string(),
                    replicas: 3,
                    left_min: 2,
                    left_max: 2,
                    recovered_min: recovered,
                    recovered_max: recovered,
                    pinned,
                    pdb_minimum: Some(2),
                    holds: true,
                }
            })
            .collect();
        ZoneDrill {
            region: "eastus2".into(),
            zone: "eastus2-1".into(),
            workloads,
            prediction,
            timeout: Duration::from_secs(1),
            stop: Stop::default(),
        }
    }

    fn now(web: u32, db: u32) -> Vec<observe::Availability> {
        [web, db]
            .into_iter()
            .map(|available| observe::Availability {
                available,
                desired: 3,
            })
            .collect()
    }

    fn pending(pods: &[&str]) -> BTreeMap<String, String> {
        pods.iter()
            .map(|p| {
                (
                    p.to_string(),
                    "didn't match PersistentVolume's node affinity".into(),
                )
            })
            .collect()
    }

    #[test]
    fn a_pinned_statefulset_pod_pending_is_where_the_what_if_says_the_drill_ends() {
        let d = drill();
        assert!(settled(&d, &now(3, 2), &pending(&["db-1"])));
        // Not yet: the replacement pod has not been seen Pending.
        assert!(!settled(&d, &now(3, 2), &pending(&[])));
        // Not yet: the Deployment is not back, or one of its pods is Pending.
        assert!(!settled(&d, &now(2, 2), &pending(&["db-1"])));
        assert!(!settled(
            &d,
            &now(3, 2),
            &pending(&["db-1", "web-5d9f-abcde"])
        ));
        // Below what the what-if leaves the StatefulSet.
        assert!(!settled(&d, &now(3, 1), &pending(&["db-1", "db-2"])));
        assert!(settled(&d, &now(3, 3), &pending(&[])));
    }

    #[test]
    fn stateful_pods_are_named_set_dash_ordinal() {
        assert!(is_stateful_pod_of("db-0", "db"));
        assert!(is_stateful_pod_of("db-12", "db"));
        assert!(!is_stateful_pod_of("db-web-0", "db"));
        assert!(!is_stateful_pod_of("db-", "db"));
        assert!(!is_stateful_pod_of("dbx-0", "db"));
        assert!(!is_stateful_pod_of("db-5d9f-abcde", "db"));
    }

    /// The report of a drill of `drill()` whose db ended at DB_END available.
    fn concluded(db_end: u32) -> DrillReport {
        let env = crate::environment::load_spec(
            "  namespace: shop\n  app: {name: web, image: 'web:1'}\n  regions: [{name: eastus2, context: c}]\n",
        )
        .unwrap();
        let d = drill();
        let mut report = DrillReport::new(&env, &d, Vec::new());
        let mut watch = Watch::new(2);
        watch.record(0.0, &d.workloads, &now(2, 2), &mut report);
        watch.record(1.5, &d.workloads, &now(3, db_end), &mut report);
        report.workloads = watch.results(&d);
        report.conclude(Some("1m"));
        report
    }

    #[test]
    fn a_pinned_workload_is_judged_against_its_prediction_not_full_availability() {
        let report = concluded(2);
        assert_eq!(report.findings, Vec::<String>::new());
        assert_eq!(report.verdict, Verdict::Pass);
        let rto = &report.objectives[0];
        assert_eq!((rto.achieved, rto.met), (Some(1.5), true));

        let report = concluded(1);
        assert_eq!(report.verdict, Verdict::Fail);
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.contains("predicted 2 to 2")),
            "{:?}",
            report.findings
        );
    }
}
