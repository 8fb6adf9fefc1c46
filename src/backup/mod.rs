//! On-demand Velero backups (`kubectl hadr backup`): in each selected region, a `velero.io/v1`
//! Backup made from the live Schedule the environment renders, as Velero's `--from-schedule`
//! makes it ([`from_schedule`]), optionally waited for until Velero ends it.
//!
//! Each region takes the environment's Lease first (the one rollout takes, so a backup never
//! captures a half-applied revision and a rollout never starts under a running backup) and
//! holds it while it waits. The Backup inherits the Schedule's labels, the ApplySet's
//! `applyset.kubernetes.io/part-of` included: it is never a member of the rendered set all the
//! same, because membership is only looked for in the kinds the revision or the ApplySet's
//! inventory holds (`plan::members`), and a Backup or Restore is neither.

mod schedule;
mod state;

use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use serde::Serialize;
use serde_json::Value;

pub use schedule::{SCHEDULE_NAME_LABEL, from_schedule, is_terminal};
pub use state::{BackupAlarm, BackupSeen, BackupState, RpoVerdict, ScheduleState, assess};

use crate::cluster::{Cluster, ClusterError, LoadedKubeconfig, describe, lease, load_kubeconfig};
use crate::environment::parse_duration;
use crate::environment::{Environment, Region};
use crate::plan::{Target, context_of};
use crate::render::manifest::{ENVIRONMENT_LABEL, ObjectId, REGION_LABEL};
use crate::revision::{Revision, RevisionError};
use crate::rollout::Progress;

/// How often a running backup is looked at while waiting.
const POLL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// Where the rendered Schedule is read (`revision` is ignored: the live Schedule the
    /// rendered one names is what Velero would back up from) and which regions and contexts.
    pub target: Target,
    /// Wait until Velero ends each backup.
    pub wait: bool,
    /// How long to wait per region.
    pub timeout: Duration,
    /// Create nothing: have the API server validate the Backup (server-side dry run) and
    /// report it.
    pub dry_run: bool,
}

/// How a region's backup ended, as far as this command saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackupStatus {
    /// Velero ended it `Completed`.
    Completed,
    /// Created, not waited for.
    Created,
    /// Dry run: the API server accepted it, nothing was created.
    Planned,
    /// Velero ended it in another phase (`PartiallyFailed`, `Failed`, `FailedValidation`,
    /// `Deleting`).
    Failed,
    /// Not ended within the timeout; Velero goes on with it.
    TimedOut,
    /// Not created: unreachable region, a held Lease, no live Schedule, refused.
    Error,
}

impl std::fmt::Display for BackupStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackupStatus::Completed => "completed",
            BackupStatus::Created => "created",
            BackupStatus::Planned => "dry run",
            BackupStatus::Failed => "failed",
            BackupStatus::TimedOut => "timed out",
            BackupStatus::Error => "error",
        })
    }
}

/// One region's backup: what was created and what Velero said about it.
#[derive(Debug, Clone, Serialize)]
pub struct RegionBackup {
    pub region: String,
    pub context: String,
    pub status: BackupStatus,
    /// The Schedule it was made from, `namespace/name`.
    pub schedule: String,
    /// The Backup's name (in the Schedule's namespace); `None` when none was made.
    pub backup: Option<String>,
    /// Velero's `status.phase` when last seen.
    pub phase: Option<String>,
    /// Velero's `status.errors` and `status.warnings` counts.
    pub errors: u64,
    pub warnings: u64,
    /// Velero's `status.failureReason`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Velero's `status.validationErrors` (phase `FailedValidation`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub validation_errors: Vec<String>,
    /// Velero's `status.progress`: items backed up of the items found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items_backed_up: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_items: Option<u64>,
    /// Velero's `status.startTimestamp` and `status.completionTimestamp`, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    /// Dry run: the Backup that would be created, as the API server accepted it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Wall time of the region, seconds.
    pub seconds: f64,
}

impl RegionBackup {
    fn new(region: &str, context: &str, schedule: &ObjectId) -> RegionBackup {
        RegionBackup {
            region: region.into(),
            context: context.into(),
            status: BackupStatus::Error,
            schedule: format!(
                "{}/{}",
                schedule.namespace.as_deref().unwrap_or_default(),
                schedule.name
            ),
            backup: None,
            phase: None,
            errors: 0,
            warnings: 0,
            failure_reason: None,
            validation_errors: Vec::new(),
            items_backed_up: None,
            total_items: None,
            started: None,
            completed: None,
            object: None,
            message: None,
            seconds: 0.0,
        }
    }

    /// Takes in what Velero wrote in the Backup's `status`.
    fn observe(&mut self, backup: &Value) {
        let s = &backup["status"];
        let text = |v: &Value| v.as_str().map(String::from);
        self.phase = text(&s["phase"]);
        self.errors = s["errors"].as_u64().unwrap_or(0);
        self.warnings = s["warnings"].as_u64().unwrap_or(0);
        self.failure_reason = text(&s["failureReason"]).filter(|r| !r.is_empty());
        self.validation_errors = state::strings(&s["validationErrors"]);
        self.items_backed_up = s["progress"]["itemsBackedUp"].as_u64();
        self.total_items = s["progress"]["totalItems"].as_u64();
        self.started = text(&s["startTimestamp"]);
        self.completed = text(&s["completionTimestamp"]);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Revision(#[from] RevisionError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(
        "{environment}/{region}: the rendered set has no Velero Schedule (velero.io/v1)\n  help: set spec.dr.backup (schedule, ttl) in the environment file, render and roll it out"
    )]
    NoSchedule { environment: String, region: String },
}

/// Backs up the environment's selected regions, all at once, each from its live Schedule.
///
/// Errors: a selected region has no rendered set or no Schedule in it, or the kubeconfig
/// cannot be read — before any cluster is touched. Everything that goes wrong in a region is
/// in its [`RegionBackup`].
pub async fn backup(
    env: &Environment,
    opts: &BackupOptions,
    progress: &dyn Progress,
) -> Result<Vec<RegionBackup>, BackupError> {
    let target = opts.target.at(None);
    let mut schedules = Vec::new();
    for region in env.selected_regions(target.region.as_deref()) {
        let revision = Revision::read(&target.source(), &env.name, &region.name)?;
        let id = rendered_schedule(&revision).ok_or_else(|| BackupError::NoSchedule {
            environment: env.name.clone(),
            region: region.name.clone(),
        })?;
        schedules.push((region, id));
    }
    let kubeconfig = load_kubeconfig(target.kubeconfig.as_deref())?;
    let regions = schedules
        .iter()
        .map(|(region, id)| one(&kubeconfig, env, region, id, opts, progress));
    Ok(futures::future::join_all(regions).await)
}

/// The region's backups now (`status`): the live Schedule the rendered set `revision` names
/// and its Backups; `None` when the set renders no Schedule.
///
/// A Backup is the Schedule's when it carries `velero.io/schedule-name: <schedule>` and the
/// environment's and region's labels (inherited from the Schedule): the Schedule has one name
/// in every region and Velero syncs every region's backups from the shared bucket into each
/// cluster, so the schedule name alone would count another region's backups as this one's.
///
/// Errors: the Schedule or the Backups cannot be read (a cluster without Velero's CRDs has
/// no Schedule and no Backups: that is a missing Schedule, not an error).
pub async fn observe(
    cluster: &Cluster,
    env: &Environment,
    region: &Region,
    revision: &Revision,
) -> Result<Option<BackupState>, ClusterError> {
    let Some(id) = rendered_schedule(revision) else {
        return Ok(None);
    };
    let live = match cluster.get(&id).await {
        Ok(live) => live,
        Err(ClusterError::UnknownKind { .. }) => None,
        Err(e) => return Err(e),
    };
    let namespace = id.namespace.clone().unwrap_or_else(|| "velero".into());
    let selector = format!(
        "{SCHEDULE_NAME_LABEL}={},{ENVIRONMENT_LABEL}={},{REGION_LABEL}={}",
        id.name, env.name, region.name
    );
    let kinds = [("velero.io/v1".to_string(), "Backup".to_string())];
    let backups: Vec<Value> = cluster
        .list_labelled(&kinds, std::slice::from_ref(&namespace), &selector)
        .await?
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    let rpo = env.dr.rpo.as_deref().and_then(parse_duration);
    Ok(Some(assess(
        &format!("{namespace}/{}", id.name),
        live.as_ref(),
        &backups,
        rpo,
        region.velero.dialect(),
        jiff::Timestamp::now(),
    )))
}

/// The Velero Schedule of a rendered set.
fn rendered_schedule(revision: &Revision) -> Option<ObjectId> {
    revision
        .objects
        .iter()
        .map(|(id, _)| id)
        .find(|id| id.kind == "Schedule" && id.api_version == "velero.io/v1")
        .cloned()
}

/// `<schedule>-<region>-<UTC yyyymmddhhmmss>`: Velero's `--from-schedule` name
/// (`Schedule.TimestampedName`) with the region added, because the environment's Schedules
/// share one name in every region and all regions may write to one bucket, where Velero
/// refuses a second backup of the same name (`FailedValidation`: "backup already exists in
/// object storage").
pub fn backup_name(schedule: &str, region: &str, at: Timestamp) -> String {
    format!("{schedule}-{region}-{}", at.strftime("%Y%m%d%H%M%S"))
}

async fn one(
    kubeconfig: &LoadedKubeconfig,
    env: &Environment,
    region: &Region,
    schedule: &ObjectId,
    opts: &BackupOptions,
    progress: &dyn Progress,
) -> RegionBackup {
    let start = Instant::now();
    let context = context_of(&opts.target, region);
    let mut result = RegionBackup::new(&region.name, &context, schedule);
    if let Err(e) = run(&mut result, kubeconfig, env, schedule, opts, progress).await {
        result.status = BackupStatus::Error;
        result.message = Some(e.to_string());
    }
    result.seconds = start.elapsed().as_secs_f64();
    result
}

/// Creates (or, dry, validates) the region's Backup and waits for it when asked.
async fn run(
    r: &mut RegionBackup,
    kubeconfig: &LoadedKubeconfig,
    env: &Environment,
    schedule: &ObjectId,
    opts: &BackupOptions,
    progress: &dyn Progress,
) -> Result<(), ClusterError> {
    let cluster = Cluster::connect(kubeconfig, &r.region, &r.context).await?;
    let Some(live) = cluster.get(schedule).await? else {
        r.message = Some(format!(
            "Schedule {} is not in the cluster\n  help: roll the environment out first (kubectl hadr rollout {})",
            r.schedule, env.name
        ));
        return Ok(());
    };
    let name = backup_name(&schedule.name, &r.region, Timestamp::now());
    let object = from_schedule(&live, &name);
    let namespace = schedule.namespace.as_deref().unwrap_or("velero");
    let api = backups(&cluster, namespace);
    let id = format!("Backup {namespace}/{name}");
    let request: DynamicObject =
        serde_json::from_value(object.clone()).map_err(|e| ClusterError::Api {
            region: r.region.clone(),
            id: id.clone(),
            message: e.to_string(),
            source: Some(e.into()),
        })?;
    if opts.dry_run {
        let params = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        api.create(&params, &request)
            .await
            .map_err(|e| cluster.request_error(id, e))?;
        r.backup = Some(name);
        r.object = Some(object);
        r.status = BackupStatus::Planned;
        return Ok(());
    }
    let held = lease::acquire(&cluster, &env.name, &env.namespace).await?;
    let created = api.create(&PostParams::default(), &request).await;
    if let Err(e) = created {
        held.release().await;
        return Err(cluster.request_error(id, e));
    }
    r.backup = Some(name.clone());
    r.status = BackupStatus::Created;
    progress.line(&format!(
        "{}: created {id} from Schedule {}",
        r.region, r.schedule
    ));
    if opts.wait {
        wait(r, &api, &name, opts.timeout, progress).await;
    }
    held.release().await;
    Ok(())
}

fn backups(cluster: &Cluster, namespace: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("velero.io", "v1", "Backup");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "backups");
    Api::namespaced_with(cluster.client(), namespace, &resource)
}

/// Polls the Backup until Velero ends it or `timeout` passes. A failed request is retried
/// until then (the last one is named if time runs out).
async fn wait(
    r: &mut RegionBackup,
    api: &Api<DynamicObject>,
    name: &str,
    timeout: Duration,
    progress: &dyn Progress,
) {
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match api.get_opt(name).await {
            Ok(Some(b)) => {
                r.observe(&serde_json::to_value(b).unwrap_or(Value::Null));
                let phase = r.phase.clone().unwrap_or_default();
                if is_terminal(&phase) {
                    r.status = if phase == "Completed" {
                        BackupStatus::Completed
                    } else {
                        BackupStatus::Failed
                    };
                    progress.line(&format!("{}: Backup {name} {phase}", r.region));
                    return;
                }
                progress.status(&format!("{}: Backup {name} {}", r.region, moving(r)));
            }
            Ok(None) => last_error = Some("the Backup is gone".to_string()),
            Err(e) => last_error = Some(describe(&e)),
        }
        if Instant::now() >= deadline {
            r.status = BackupStatus::TimedOut;
            r.message = Some(format!(
                "not ended within {}s (phase {}){}; Velero goes on with it",
                timeout.as_secs(),
                r.phase.as_deref().unwrap_or("none yet"),
                last_error
                    .map(|e| format!(", last error: {e}"))
                    .unwrap_or_default()
            ));
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `InProgress, 12/40 items` (or just the phase).
fn moving(r: &RegionBackup) -> String {
    let phase = r.phase.as_deref().unwrap_or("New");
    match (r.items_backed_up, r.total_items) {
        (Some(done), Some(total)) => format!("{phase}, {done}/{total} items"),
        _ => phase.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_add_the_region_to_velero_s_timestamped_name() {
        let at: Timestamp = "2026-11-30T06:15:00.5Z".parse().unwrap();
        assert_eq!(
            backup_name("web-prod", "eastus2", at),
            "web-prod-eastus2-20261130061500"
        );
    }

    #[test]
    fn velero_s_status_is_read_with_its_counts_and_reason() {
        let id = ObjectId {
            api_version: "velero.io/v1".into(),
            kind: "Schedule".into(),
            namespace: Some("velero".into()),
            name: "web-prod".into(),
        };
        let mut r = RegionBackup::new("eastus2", "eastus2", &id);
        r.observe(&json!({"status": {
            "phase": "PartiallyFailed", "errors": 2, "warnings": 1,
            "failureReason": "", "progress": {"itemsBackedUp": 9, "totalItems": 10},
            "startTimestamp": "2026-11-30T06:15:00Z",
        }}));
        assert_eq!(r.schedule, "velero/web-prod");
        assert_eq!(r.phase.as_deref(), Some("PartiallyFailed"));
        assert_eq!((r.errors, r.warnings), (2, 1));
        assert_eq!(r.failure_reason, None);
        assert_eq!(moving(&r), "PartiallyFailed, 9/10 items");
        r.observe(
            &json!({"status": {"phase": "FailedValidation", "validationErrors": ["bad ttl"]}}),
        );
        assert_eq!(r.validation_errors, ["bad ttl"]);
        assert_eq!(r.items_backed_up, None);
    }
}
