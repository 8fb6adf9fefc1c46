//! Rollout and rollback: carry out the [`Plan`](crate::plan::Plan) of a revision region by
//! region. Every selected region is prepared first (its Lease taken, its plan built); if any
//! region cannot be planned, nothing is changed anywhere. Then regions go in waves (one after
//! another, a failed one stopping the rest, or all at once with `parallel`): the plan is
//! carried out exactly as `diff` shows it, health is awaited, the deployment is recorded in
//! the cluster, and a failed region is rolled back to its previous healthy revision on request.

mod execute;
mod prepare;
mod region;

use std::time::Duration;

use serde::Serialize;

use crate::cluster::ClusterError;
use crate::cluster::record::WORKING_TREE;
use crate::cluster::stop::Stop;
use crate::environment::Environment;
use crate::plan::{Action, PlanOptions, Target};
use crate::revision::store::Store;
use crate::revision::{Revision, RevisionError};

/// How a region's rollout ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RolloutStatus {
    /// Carried out, and healthy.
    Ok,
    /// Carried out, not healthy in time.
    Failed,
    /// Not healthy in time, and rolled back to the previous healthy revision.
    RolledBack,
    /// Not started: an earlier region of the wave failed, or another region could not be
    /// planned.
    Skipped,
    /// Could not be planned or carried out (unreachable, refused, a held Lease).
    Error,
}

impl std::fmt::Display for RolloutStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RolloutStatus::Ok => "ok",
            RolloutStatus::Failed => "failed",
            RolloutStatus::RolledBack => "rolled-back",
            RolloutStatus::Skipped => "skipped",
            RolloutStatus::Error => "error",
        })
    }
}

/// One object the rollout changed in the cluster.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub action: Action,
    /// `Kind namespace/name` (`Kind.group` outside the core group).
    pub object: String,
}

/// How a region's rollout ended, and exactly what it changed.
#[derive(Debug, Clone, Serialize)]
pub struct RegionResult {
    pub region: String,
    pub context: String,
    pub status: RolloutStatus,
    /// Objects applied (created, changed, renamed); the others were unchanged and not sent.
    pub applied: usize,
    pub unchanged: usize,
    /// Objects deleted: pruned, or hashed config that expired.
    pub pruned: Vec<String>,
    /// Every object created, changed, renamed, pruned or expired, in the order it happened
    /// (a rollback's changes included).
    pub changes: Vec<Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Wall time of the region, seconds.
    pub seconds: f64,
}

impl RegionResult {
    fn new(region: &str, context: &str) -> RegionResult {
        RegionResult {
            region: region.into(),
            context: context.into(),
            status: RolloutStatus::Ok,
            applied: 0,
            unchanged: 0,
            pruned: Vec::new(),
            changes: Vec::new(),
            message: None,
            seconds: 0.0,
        }
    }

    fn ended(mut self, status: RolloutStatus, message: impl Into<String>) -> RegionResult {
        self.status = status;
        self.message = Some(message.into());
        self
    }

    fn record(&mut self, action: Action, object: String) {
        match action {
            Action::Prune | Action::Expire => self.pruned.push(object.clone()),
            Action::Create | Action::Change | Action::Rename | Action::Replace => self.applied += 1,
            Action::Unchanged | Action::Error => {}
        }
        self.changes.push(Change { action, object });
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RolloutReport {
    pub environment: String,
    /// The commit rolled out, or `working-tree`.
    pub revision: String,
    pub regions: Vec<RegionResult>,
}

impl RolloutReport {
    /// The worst region status: 0 every region ok, 1 one failed its health check (or was
    /// rolled back or skipped), 2 one could not be planned or carried out.
    pub fn outcome(&self) -> u8 {
        match self.regions.iter().map(|r| r.status).max() {
            None | Some(RolloutStatus::Ok) => 0,
            Some(RolloutStatus::Error) => 2,
            Some(_) => 1,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RolloutOptions {
    pub target: Target,
    pub plan: PlanOptions,
    /// All regions at once instead of one wave after another.
    pub parallel: bool,
    /// How long to wait for health per region.
    pub timeout: Duration,
    pub auto_rollback: bool,
    /// Asked to stop: finish what is in flight, release the Leases, report.
    pub stop: Stop,
}

#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error(transparent)]
    Revision(#[from] RevisionError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Where progress goes (the printer); domain code never prints.
pub trait Progress: Sync {
    /// Something that happened, kept in the log.
    fn line(&self, text: &str);
    /// The current state of a wait, replaced by the next one on a terminal; a plain line
    /// (every few seconds) elsewhere.
    fn status(&self, text: &str);
}

/// Rolls the target's revision out to the environment's selected regions.
///
/// Errors: a selected region has no rendered set at the revision, or the kubeconfig cannot be
/// read — both before any cluster is touched. Everything that goes wrong in a region is in its
/// [`RegionResult`].
pub async fn rollout(
    env: &Environment,
    opts: &RolloutOptions,
    progress: &dyn Progress,
) -> Result<RolloutReport, RolloutError> {
    let target = &opts.target;
    let mut revisions = Vec::new();
    for r in env.selected_regions(target.region.as_deref()) {
        revisions.push((r, Revision::read(&target.source(), &env.name, &r.name)?));
    }
    let revision = revision_name(env, target);
    let kubeconfig = crate::cluster::load_kubeconfig(target.kubeconfig.as_deref())?;
    let prepared = prepare::all(&kubeconfig, env, revisions, opts).await;
    let regions = region::waves(env, prepared, &revision, opts, progress).await;
    Ok(RolloutReport {
        environment: env.name.clone(),
        revision,
        regions,
    })
}

/// The revision to record: a commit id, or `working-tree` when the rendered files of the
/// environment on disk differ from HEAD's.
fn revision_name(env: &Environment, target: &Target) -> String {
    let Ok(store) = Store::discover(&target.root) else {
        return target
            .revision
            .clone()
            .unwrap_or_else(|| WORKING_TREE.into());
    };
    if let Some(rev) = &target.revision {
        return store.resolve(rev).unwrap_or_else(|_| rev.clone());
    }
    let Ok(head) = store.resolve("HEAD") else {
        return WORKING_TREE.into();
    };
    let at_head = target.at(Some("HEAD".into()));
    let clean = env.regions.iter().all(|r| {
        let disk = Revision::read(&target.source(), &env.name, &r.name).ok();
        let git = Revision::read(&at_head.source(), &env.name, &r.name).ok();
        disk.zip(git)
            .is_some_and(|(d, g)| d.objects == g.objects && d.digest == g.digest)
    });
    if clean { head } else { WORKING_TREE.into() }
}
