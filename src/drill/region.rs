//! A region drill: region X is declared lost at t0 (nothing of X is touched) and the
//! environment is recovered into region Y twice, side by side, each into a drill namespace of
//! its own (`<namespace>-drill-<id>-backup`, `...-git`; never the live one):
//!
//! - **from backup**: a Velero Restore of X's newest `Completed` Backup, as Y's Velero sees it
//!   through the shared bucket, namespace-mapped, without our ApplySet parent and record;
//! - **from git**: the rendered set of X as git holds it at HEAD (what X was last rolled out
//!   from: rollouts go from committed revisions), applied object by object.
//!
//! RTO achieved = t0 until every workload of the copy is available; RPO achieved = t0 minus
//! the completion of the Backup used. Each copy is then compared with the revision as `diff`
//! compares (a server-side dry-run apply against the live object: `spec` and `data` equal).
//! Copies are never members of the environment: not in its ApplySet (no `part-of` label, no
//! parent), in a namespace no inventory names, labelled `hadr.dev/drill`. Both namespaces are
//! deleted at the end unless `--keep` (and always after an error or a signal).

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};
use serde::Serialize;
use serde_json::{Value, json};

use super::objective::{Objective, ObjectiveKind, all_met};
use super::velero::{self, FoundBackup};
use super::{DRILL_LABEL, DrillError, Sample, Verdict, is_workload, observe};
use crate::cluster::stop::Stop;
use crate::cluster::{Cluster, ClusterError, lease};
use crate::environment::Environment;
use crate::render::manifest::ObjectId;
use crate::revision::Revision;

/// How often the copies' workloads are sampled.
const SAMPLE: Duration = Duration::from_millis(500);

/// A region drill as the command resolved it.
#[derive(Debug, Clone)]
pub struct RegionDrill {
    /// The region declared lost (X).
    pub lost: String,
    /// The region recovered into (Y).
    pub into: String,
    /// X's rendered set as git holds it (the git path applies it; both paths are compared
    /// with it).
    pub revision: Revision,
    /// When that rendered set last changed in git (RFC 3339), if it is committed.
    pub revision_time: Option<String>,
    /// Where Velero runs in Y (the namespace of the environment's Schedule).
    pub velero_namespace: String,
    pub timeout: Duration,
    pub keep: bool,
    pub stop: Stop,
}

/// A surviving region: its cluster and its workloads with their PDB minimum.
pub struct Survivor {
    pub cluster: Cluster,
    pub workloads: Vec<(ObjectId, Option<u32>)>,
}

/// The two recovery paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Path {
    Backup,
    Git,
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Path::Backup => "from backup",
            Path::Git => "from git",
        })
    }
}

/// One recovery path's evidence.
#[derive(Debug, Clone, Serialize)]
pub struct Recovery {
    pub path: Path,
    /// The drill namespace in the restore target.
    pub namespace: String,
    /// The Backup restored, or the revision applied.
    pub source: Option<String>,
    /// The Backup's completion time, or when the revision was committed (RFC 3339).
    pub source_time: Option<String>,
    /// Seconds from t0 to every workload available; `None` when not reached.
    pub rto_seconds: Option<f64>,
    /// Seconds from the Backup's completion to t0: what a real loss would have lost. The git
    /// path has none (a revision's age is not data loss).
    pub rpo_seconds: Option<f64>,
    /// Velero's Restore: its name and how it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore: Option<String>,
    /// Objects of the revision compared with the copy, and those that differ or are missing.
    pub compared: usize,
    pub differences: Vec<String>,
    /// What the path's recovery point means (the git path: configuration, not data).
    pub note: String,
    /// Why the path did not recover, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a surviving region carries now.
#[derive(Debug, Clone, Serialize)]
pub struct SurvivorLoad {
    pub region: String,
    pub workload: String,
    pub available: u32,
    pub desired: u32,
    pub pdb_minimum: Option<u32>,
}

/// A region drill's evidence and verdict.
#[derive(Debug, Clone, Serialize)]
pub struct RegionDrillReport {
    pub environment: String,
    pub id: String,
    pub lost: String,
    pub restore_into: String,
    /// t0, the declared disaster (RFC 3339).
    pub started: String,
    pub seconds: f64,
    /// The revision of the lost region that the git path applied.
    pub revision: Option<String>,
    pub recoveries: Vec<Recovery>,
    pub survivors: Vec<SurvivorLoad>,
    /// Available replicas of each copy's workloads, `t` seconds after t0; the workload is
    /// named `<path>: <Kind>/<name>`.
    pub timeline: Vec<Sample>,
    pub objectives: Vec<Objective>,
    pub findings: Vec<String>,
    /// Whether the drill namespaces were deleted (false with `--keep`).
    pub removed: bool,
    /// Where `--report` / `--commit` put the evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<super::evidence::Written>,
    /// Why `--report` / `--commit` could not keep the evidence: the drill's result still
    /// stands and is shown, and the command exits 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_error: Option<String>,
    pub verdict: Verdict,
}

/// What a region drill would do (`--dry-run`), read without changing anything.
#[derive(Debug, Clone, Serialize)]
pub struct RegionPlan {
    pub lost: String,
    pub restore_into: String,
    pub steps: Vec<String>,
}

/// The drill namespace of one path: `<namespace>-drill-<short id>-<path>`, the environment's
/// namespace shortened so the name stays a DNS label (63 characters).
pub fn drill_namespace(namespace: &str, short_id: &str, path: Path) -> String {
    let suffix = format!(
        "-drill-{short_id}-{}",
        match path {
            Path::Backup => "backup",
            Path::Git => "git",
        }
    );
    let keep = 63usize.saturating_sub(suffix.len()).min(namespace.len());
    format!("{}{suffix}", namespace[..keep].trim_end_matches('-'))
}

/// A short id from t0: the Unix seconds in base 36 (6 characters until 2039).
fn short_id(t0: Timestamp) -> String {
    let mut n = t0.as_second().unsigned_abs();
    let mut out = Vec::new();
    while n > 0 {
        out.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The revision's objects in the environment's namespace, moved into `namespace` (objects of
/// other namespaces, the Velero Schedule, and cluster-scoped ones, the Namespace, are not part
/// of a copy).
fn mapped(drill: &RegionDrill, env: &Environment, namespace: &str) -> Vec<(ObjectId, Value)> {
    drill
        .revision
        .objects
        .iter()
        .filter(|(id, _)| id.namespace.as_deref() == Some(env.namespace.as_str()))
        .map(|(id, v)| {
            let mut id = id.clone();
            id.namespace = Some(namespace.into());
            let mut v = v.clone();
            v["metadata"]["namespace"] = json!(namespace);
            (id, v)
        })
        .collect()
}

/// Reads what a region drill would do, changing nothing.
pub async fn plan_region(
    target: &Cluster,
    env: &Environment,
    drill: &RegionDrill,
) -> Result<RegionPlan, DrillError> {
    let id = short_id(Timestamp::now());
    let ns = |p| drill_namespace(&env.namespace, &id, p);
    let found =
        velero::newest_backup(target, &drill.velero_namespace, &env.name, &drill.lost).await?;
    let backup = found.map_or_else(
        || format!("none Completed is visible in {} yet", drill.into),
        |b| format!("{} (completed {})", b.name, b.completed),
    );
    let objects = mapped(drill, env, "x").len();
    Ok(RegionPlan {
        lost: drill.lost.clone(),
        restore_into: drill.into.clone(),
        steps: vec![
            format!("declare {} lost at t0; touch nothing of it", drill.lost),
            format!("take the Lease of {} in {}", env.name, drill.into),
            format!(
                "from backup: restore {}'s newest Completed Backup, {backup}, into namespace {}, without the ApplySet parent; wait until available",
                drill.lost,
                ns(Path::Backup)
            ),
            format!(
                "from git: apply {} object(s) of {}/{} at {} into namespace {}; wait until available",
                objects,
                env.name,
                drill.lost,
                drill.revision.id.as_deref().unwrap_or("the working tree"),
                ns(Path::Git)
            ),
            "compare each copy with the revision (server-side dry run, spec and data)".into(),
            "read what the surviving regions carry against ha.capacity and the PDB minimum".into(),
            if drill.keep {
                "keep both drill namespaces (--keep)".into()
            } else {
                "delete both drill namespaces".into()
            },
        ],
    })
}

/// Runs a region drill into `target` under the environment's Lease there, and measures the
/// survivors. The drill namespaces are removed unless `keep`, and always on an error or a
/// signal.
///
/// Errors: the Lease is held (a rollout runs in Y) or cannot be taken (no live namespace of
/// the environment in Y); everything that goes wrong in a path is in its [`Recovery`].
pub async fn region(
    target: &Cluster,
    env: &Environment,
    drill: &RegionDrill,
    survivors: &[Survivor],
) -> Result<RegionDrillReport, DrillError> {
    let held = lease::acquire(target, &env.name, &env.namespace).await?;
    let t0 = Instant::now();
    let started = Timestamp::now();
    let short = short_id(started);
    let mut report = RegionDrillReport::new(env, drill, started, &short);
    let (backup, git) = futures::join!(
        from_backup(target, env, drill, &short, t0),
        from_git(target, env, drill, &short, t0),
    );
    for (recovery, timeline) in [backup, git] {
        report.timeline.extend(timeline);
        report.recoveries.push(recovery);
    }
    report.timeline.sort_by(|a, b| a.t.total_cmp(&b.t));
    report.seconds = t0.elapsed().as_secs_f64();
    report.survivors = carried(survivors, env, &mut report.findings).await;
    let interrupted = drill.stop.requested();
    let failed = report.recoveries.iter().any(|r| r.error.is_some());
    if !drill.keep || interrupted || failed {
        report.removed = remove(target, &report.recoveries).await;
    }
    held.release().await;
    if interrupted {
        report
            .findings
            .push("interrupted by a signal: drill namespaces removed".into());
    }
    report.conclude(env);
    Ok(report)
}

/// The backup path: newest Backup, drill namespace, Restore, relabel, wait, compare.
async fn from_backup(
    target: &Cluster,
    env: &Environment,
    drill: &RegionDrill,
    short: &str,
    t0: Instant,
) -> (Recovery, Vec<Sample>) {
    let namespace = drill_namespace(&env.namespace, short, Path::Backup);
    let mut r = Recovery::new(Path::Backup, &namespace);
    let mut timeline = Vec::new();
    let started = Timestamp::now();
    let found = velero::newest_backup(target, &drill.velero_namespace, &env.name, &drill.lost)
        .await
        .map_err(|e| e.to_string());
    let backup = match found {
        Ok(Some(b)) => b,
        Ok(None) => {
            r.error = Some(format!(
                "no Completed Backup of {} from {} is visible in {}'s Velero (namespace {})\n  help: back it up (`kubectl hadr backup {} --region {} --wait`) and let Velero sync the bucket",
                env.name, drill.lost, drill.into, drill.velero_namespace, env.name, drill.lost
            ));
            return (r, timeline);
        }
        Err(e) => {
            r.error = Some(e);
            return (r, timeline);
        }
    };
    r.take_backup(&backup, started);
    let result = restore_and_wait(target, env, drill, short, &namespace, &backup, t0, &mut r).await;
    match result {
        Ok(t) => timeline = t,
        Err(e) => r.error = Some(e.to_string()),
    }
    (r, timeline)
}

#[allow(clippy::too_many_arguments)]
async fn restore_and_wait(
    target: &Cluster,
    env: &Environment,
    drill: &RegionDrill,
    short: &str,
    namespace: &str,
    backup: &FoundBackup,
    t0: Instant,
    r: &mut Recovery,
) -> Result<Vec<Sample>, ClusterError> {
    create_namespace(target, namespace, short).await?;
    let name = format!("hadr-drill-{}-{short}", env.name);
    let object = velero::restore_object(
        &name,
        &drill.velero_namespace,
        &backup.name,
        &env.namespace,
        namespace,
        short,
    );
    r.restore = Some(name.clone());
    let left = drill.timeout.saturating_sub(t0.elapsed());
    match velero::restore(target, &object, left, &drill.stop).await? {
        Ok(done) if done.phase == "Completed" => {}
        Ok(done) => r.differences.push(format!(
            "Restore {name} ended {} ({} error(s), {} warning(s)); see `velero restore describe {name}`",
            done.phase, done.errors, done.warnings
        )),
        Err(why) => {
            r.error = Some(why);
            return Ok(Vec::new());
        }
    }
    let objects = mapped(drill, env, namespace);
    for (id, _) in &objects {
        // An object the Restore did not bring back is reported missing by the comparison.
        if target.get(id).await?.is_some() {
            target
                .merge_patch(id, &velero::relabel_patch(short))
                .await?;
        }
    }
    follow(target, drill, &objects, t0, r).await
}

/// The git path: drill namespace, apply the revision's objects, wait, compare.
async fn from_git(
    target: &Cluster,
    env: &Environment,
    drill: &RegionDrill,
    short: &str,
    t0: Instant,
) -> (Recovery, Vec<Sample>) {
    let namespace = drill_namespace(&env.namespace, short, Path::Git);
    let mut r = Recovery::new(Path::Git, &namespace);
    r.source = Some(
        drill
            .revision
            .id
            .clone()
            .unwrap_or_else(|| "working tree".into()),
    );
    r.source_time = drill.revision_time.clone();
    let objects = mapped(drill, env, &namespace);
    let applied = async {
        create_namespace(target, &namespace, short).await?;
        let mut ordered: Vec<&(ObjectId, Value)> = objects.iter().collect();
        ordered.sort_by_key(|(id, _)| is_workload(id));
        for (id, v) in ordered {
            let mut v = v.clone();
            v["metadata"]["labels"][DRILL_LABEL] = json!(short);
            target.apply(id, &v, true).await?;
        }
        follow(target, drill, &objects, t0, &mut r).await
    }
    .await;
    let timeline = applied.unwrap_or_else(|e| {
        r.error = Some(e.to_string());
        Vec::new()
    });
    (r, timeline)
}

async fn create_namespace(
    target: &Cluster,
    namespace: &str,
    short: &str,
) -> Result<(), ClusterError> {
    let id = namespace_id(namespace);
    let object = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {DRILL_LABEL: short}},
    });
    target.apply(&id, &object, true).await.map(|_| ())
}

/// The drill namespaces of NAMESPACE that are still there (a killed region drill's copies),
/// with the drill id each is labelled with; those already being deleted are left out.
pub(super) async fn left_namespaces(
    target: &Cluster,
    namespace: &str,
) -> Result<Vec<(String, String)>, ClusterError> {
    let api: Api<Namespace> = Api::all(target.client());
    let list = api
        .list(&ListParams::default().labels(DRILL_LABEL))
        .await
        .map_err(|e| target.request_error("namespaces".into(), e))?;
    let prefix = format!("{namespace}-drill-");
    Ok(list
        .items
        .into_iter()
        .filter(|n| n.metadata.deletion_timestamp.is_none())
        .filter_map(|n| {
            let drill = n.metadata.labels.as_ref()?.get(DRILL_LABEL)?.clone();
            let name = n.metadata.name?;
            name.starts_with(&prefix).then_some((name, drill))
        })
        .collect())
}

pub(super) fn namespace_id(name: &str) -> ObjectId {
    ObjectId {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: None,
        name: name.into(),
    }
}

/// Samples the copy's workloads until all are available (the path's RTO), the timeout or a
/// stop; then compares the copy with the revision.
async fn follow(
    target: &Cluster,
    drill: &RegionDrill,
    objects: &[(ObjectId, Value)],
    t0: Instant,
    r: &mut Recovery,
) -> Result<Vec<Sample>, ClusterError> {
    let workloads: Vec<ObjectId> = objects
        .iter()
        .map(|(id, _)| id.clone())
        .filter(is_workload)
        .collect();
    // At t0 nothing of the copy is available: the timeline starts there, not when the
    // Restore ends.
    let mut last = Vec::new();
    let mut timeline: Vec<Sample> = Vec::new();
    for (id, v) in objects.iter().filter(|(id, _)| is_workload(id)) {
        let none = observe::Availability {
            available: 0,
            desired: v["spec"]["replicas"].as_u64().map_or(1, |r| r as u32),
        };
        last.push(Some(none));
        timeline.push(Sample {
            t: 0.0,
            workload: format!("{}: {}/{}", r.path, id.kind, id.name),
            available: 0,
            desired: none.desired,
        });
    }
    loop {
        let t = t0.elapsed().as_secs_f64();
        let now = observe::availability(target, &r.namespace, &workloads).await?;
        for (i, a) in now.iter().enumerate() {
            if last[i] != Some(*a) {
                last[i] = Some(*a);
                timeline.push(Sample {
                    t,
                    workload: format!("{}: {}/{}", r.path, workloads[i].kind, workloads[i].name),
                    available: a.available,
                    desired: a.desired,
                });
            }
        }
        if now
            .iter()
            .all(|a| a.desired > 0 && a.available >= a.desired)
        {
            r.rto_seconds = Some(t);
            break;
        }
        if t0.elapsed() > drill.timeout || drill.stop.requested() {
            r.error = Some(if drill.stop.requested() {
                "interrupted by a signal before recovery".into()
            } else {
                format!("not available within {}s", drill.timeout.as_secs())
            });
            return Ok(timeline);
        }
        tokio::select! {
            () = tokio::time::sleep(SAMPLE) => {}
            () = drill.stop.wait() => {}
        }
    }
    compare(target, objects, r).await?;
    Ok(timeline)
}

/// Compares each object of the copy with the revision as `diff` does: what a server-side
/// dry-run apply of the revision's object would make of the live one, against the live one.
/// Only `spec` and `data` count (metadata carries the drill's and Velero's labels).
async fn compare(
    target: &Cluster,
    objects: &[(ObjectId, Value)],
    r: &mut Recovery,
) -> Result<(), ClusterError> {
    for (id, desired) in objects {
        r.compared += 1;
        let Some(live) = target.get(id).await? else {
            r.differences.push(format!("{id}: missing from the copy"));
            continue;
        };
        let would = target.dry_run_apply(id, desired, true).await?;
        for field in ["spec", "data", "binaryData"] {
            if would[field] != live[field] {
                r.differences
                    .push(format!("{id}: {field} differs from the revision"));
            }
        }
    }
    Ok(())
}

/// What each surviving region carries now, read in its live namespace.
async fn carried(
    survivors: &[Survivor],
    env: &Environment,
    findings: &mut Vec<String>,
) -> Vec<SurvivorLoad> {
    let mut out = Vec::new();
    for s in survivors {
        let ids: Vec<ObjectId> = s.workloads.iter().map(|(id, _)| id.clone()).collect();
        match observe::availability(&s.cluster, &env.namespace, &ids).await {
            Ok(now) => out.extend(
                s.workloads
                    .iter()
                    .zip(now)
                    .map(|((id, pdb), a)| SurvivorLoad {
                        region: s.cluster.region.clone(),
                        workload: format!("{}/{}", id.kind, id.name),
                        available: a.available,
                        desired: a.desired,
                        pdb_minimum: *pdb,
                    }),
            ),
            Err(e) => findings.push(format!(
                "surviving region {} could not be read: {e}",
                s.cluster.region
            )),
        }
    }
    out
}

/// Deletes both drill namespaces (everything in them goes with them); whether both deletes
/// were accepted.
async fn remove(target: &Cluster, recoveries: &[Recovery]) -> bool {
    let mut all = true;
    for r in recoveries {
        all &= target.delete(&namespace_id(&r.namespace)).await.is_ok();
    }
    all
}

impl Recovery {
    fn new(path: Path, namespace: &str) -> Recovery {
        Recovery {
            path,
            namespace: namespace.into(),
            source: None,
            source_time: None,
            rto_seconds: None,
            rpo_seconds: None,
            restore: None,
            compared: 0,
            differences: Vec::new(),
            note: match path {
                Path::Backup => "RPO: data written after the Backup completed would be lost".into(),
                Path::Git => "redeploys the configuration git holds; the revision's age is not data loss, and no data (volumes) comes back this way".into(),
            },
            error: None,
        }
    }

    fn take_backup(&mut self, b: &FoundBackup, t0: Timestamp) {
        self.source = Some(b.name.clone());
        self.source_time = Some(b.completed.to_string());
        let lost = t0.as_millisecond() - b.completed.as_millisecond();
        self.rpo_seconds = Some(lost.max(0) as f64 / 1000.0);
    }
}

impl RegionDrillReport {
    fn new(env: &Environment, drill: &RegionDrill, started: Timestamp, short: &str) -> Self {
        RegionDrillReport {
            environment: env.name.clone(),
            id: format!("region-{}-{short}", drill.lost),
            lost: drill.lost.clone(),
            restore_into: drill.into.clone(),
            started: started.to_string(),
            seconds: 0.0,
            revision: drill.revision.id.clone(),
            recoveries: Vec::new(),
            survivors: Vec::new(),
            timeline: Vec::new(),
            objectives: Vec::new(),
            findings: Vec::new(),
            removed: false,
            evidence: None,
            evidence_error: None,
            verdict: Verdict::Fail,
        }
    }

    /// Objectives, findings and the verdict: a pass when every objective is met and both
    /// copies recovered equal to the revision.
    fn conclude(&mut self, env: &Environment) {
        for r in &self.recoveries {
            if let Some(e) = &r.error {
                self.findings.push(format!("{}: {e}", r.path));
            }
            for d in &r.differences {
                self.findings.push(format!("{}: {d}", r.path));
            }
            let scope = r.path.to_string();
            if let Some(rto) = &env.dr.rto {
                self.objectives.extend(Objective::at_most(
                    ObjectiveKind::Rto,
                    &scope,
                    rto,
                    r.rto_seconds,
                ));
            }
            if let (Path::Backup, Some(rpo)) = (r.path, &env.dr.rpo) {
                self.objectives.extend(Objective::at_most(
                    ObjectiveKind::Rpo,
                    &scope,
                    rpo,
                    r.rpo_seconds,
                ));
            }
        }
        let carried: u32 = self.survivors.iter().map(|s| s.available).sum();
        let regions: Vec<&str> = self.survivors.iter().map(|s| s.region.as_str()).collect();
        let mut regions = regions;
        regions.dedup();
        self.objectives.push(Objective::at_least(
            ObjectiveKind::Capacity,
            &format!("surviving regions ({})", regions.join(", ")),
            env.ha.capacity,
            carried,
        ));
        for s in &self.survivors {
            if let Some(min) = s.pdb_minimum {
                let scope = format!("{} {}", s.region, s.workload);
                self.objectives.push(Objective::at_least(
                    ObjectiveKind::PdbMinimum,
                    &scope,
                    min,
                    s.available,
                ));
            }
        }
        for o in self.objectives.iter().filter(|o| !o.met) {
            self.findings.push(format!(
                "{} ({}) missed: target {}, achieved {}",
                o.objective,
                o.scope,
                o.target,
                o.achieved_text()
            ));
        }
        let clean = self
            .recoveries
            .iter()
            .all(|r| r.error.is_none() && r.differences.is_empty());
        self.verdict = if clean && all_met(&self.objectives) {
            Verdict::Pass
        } else {
            Verdict::Fail
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drill_namespaces_stay_dns_labels_and_name_their_path() {
        assert_eq!(
            drill_namespace("my-app", "t1abcde", Path::Backup),
            "my-app-drill-t1abcde-backup"
        );
        let long = "a".repeat(60);
        let ns = drill_namespace(&long, "t1abcde", Path::Git);
        assert_eq!(ns.len(), 63);
        assert!(ns.ends_with("-drill-t1abcde-git"));
        assert_eq!(crate::environment::dns1123_label(&ns), Ok(()));
        let t: Timestamp = "2026-11-30T09:00:00Z".parse().unwrap();
        assert_eq!(short_id(t).len(), 6);
    }
}
