//! What runs where: per region the deployed revision, its record and drift (`status`), and the
//! git history of an environment's rendered tree, marked where each region is now (`history`).

use crate::backup;
use crate::cluster::record::{WORKING_TREE, read_history};
use crate::cluster::{Cluster, load_kubeconfig};
use crate::commands::select::{one_environment, runtime};
use crate::drill::history;
use crate::environment::{Environment, Region};
use crate::error::Error;
use crate::plan::{Action, PlanOptions, Target, plan_region};
use crate::report::{Drift, DrillStatus, HistoryEntry, RegionStatus, StatusReport};
use crate::revision::Revision;
use crate::revision::store::Store;

/// Reads each region's record, plans the recorded revision against what is live, and reads
/// the region's Velero Schedule and backups. `check`: backup alarms fail the run
/// ([`StatusReport::outcome`]).
pub fn status(environment: &str, target: &Target, check: bool) -> Result<StatusReport, Error> {
    let env = one_environment(&target.root, environment, None)?;
    let kubeconfig = load_kubeconfig(target.kubeconfig.as_deref())?;
    let rt = runtime()?;
    let regions = env
        .regions
        .iter()
        .map(|r| {
            let mut s = RegionStatus {
                region: r.name.clone(),
                context: r.context.clone(),
                deployed: None,
                drift: Drift::Unknown,
                drift_summary: None,
                drifted: Vec::new(),
                backups: None,
                error: None,
            };
            if let Err(e) = rt.block_on(region_status(&kubeconfig, &env, r, target, &mut s)) {
                s.error = Some(e.to_string());
            }
            s
        })
        .collect();
    Ok(StatusReport {
        environment: env.name.clone(),
        check,
        regions,
        drills: drills(&target.root, &env, jiff::Timestamp::now()),
    })
}

/// The drills on record, and whether the newest pass is older than `dr.drillEvery` at `now`.
fn drills(root: &std::path::Path, env: &Environment, now: jiff::Timestamp) -> DrillStatus {
    let records = match history::read(root, &env.name) {
        Ok(r) => r,
        Err(e) => {
            return DrillStatus {
                error: Some(e.to_string()),
                ..DrillStatus::default()
            };
        }
    };
    let (last, last_passed) = history::newest(&records);
    let seen = history::last_pass(&records);
    // Overdue exactly when validate's DR009 says so (and it is not waived).
    let overdue = crate::policy::validate_drills(env, seen.as_ref(), now)
        .iter()
        .any(|f| f.waived.is_none());
    DrillStatus {
        last: last.cloned(),
        last_passed: last_passed.cloned(),
        every_seconds: env.dr.drill_every,
        overdue,
        error: None,
    }
}

async fn region_status(
    kubeconfig: &crate::cluster::LoadedKubeconfig,
    env: &Environment,
    r: &Region,
    target: &Target,
    s: &mut RegionStatus,
) -> Result<(), Error> {
    let cluster = Cluster::connect(kubeconfig, &r.name, &r.context).await?;
    s.deployed = read_history(&cluster, &env.name, &env.namespace)
        .await?
        .pop();
    let Some(record) = s.deployed.as_ref().filter(|d| d.revision != WORKING_TREE) else {
        // Nothing deployed from a commit: the Schedule the working tree renders is the one to
        // look for (missing, if nothing was rolled out).
        if let Ok(revision) = Revision::read(&target.source(), &env.name, &r.name) {
            s.backups = backup::observe(&cluster, env, r, &revision).await?;
        }
        return Ok(());
    };
    let at = target.at(Some(record.revision.clone()));
    let revision = Revision::read(&at.source(), &env.name, &r.name)?;
    s.backups = backup::observe(&cluster, env, r, &revision).await?;
    let opts = PlanOptions {
        force_conflicts: true,
        concurrency: 16,
        keep: usize::MAX,
        replace: false,
        prune_crd_resources: false,
        take_ownership: false,
    };
    let plan = plan_region(&cluster, env, &revision, &opts).await?;
    s.drifted = plan
        .objects
        .iter()
        .filter(|o| o.action != Action::Unchanged)
        .map(|o| format!("{} {}", o.action, o.id))
        .collect();
    let summary = plan.summary;
    s.drift = if summary.differs() || summary.error > 0 {
        Drift::Drifted
    } else {
        Drift::None
    };
    s.drift_summary = Some(summary);
    Ok(())
}

/// The commits that changed the environment's rendered tree, newest first, each marked with
/// the regions that run it now (regions that cannot be reached are left unmarked).
pub fn history(
    environment: &str,
    target: &Target,
    limit: usize,
) -> Result<Vec<HistoryEntry>, Error> {
    let env = one_environment(&target.root, environment, None)?;
    let store = Store::discover(&target.root)?;
    let env_dir = store.relative(&target.out)?.join(&env.name);
    let commits = store.commits_touching(&env_dir, limit)?;
    let deployed = runtime()?.block_on(deployed_revisions(&env, target));
    let mut entries = Vec::new();
    for (commit, time, summary) in commits {
        let at = target.at(Some(commit.clone()));
        let digests = env
            .regions
            .iter()
            .filter_map(|r| {
                let index = Revision::index(&at.source(), &env.name, &r.name).ok()?;
                Some((r.name.clone(), index.digest))
            })
            .collect();
        let deployed_in = deployed
            .iter()
            .filter(|(_, rev)| *rev == commit)
            .map(|(r, _)| r.clone())
            .collect();
        entries.push(HistoryEntry {
            commit,
            time,
            summary,
            digests,
            deployed_in,
        });
    }
    Ok(entries)
}

/// Region -> the revision its record says is deployed, for the regions that answer.
async fn deployed_revisions(env: &Environment, target: &Target) -> Vec<(String, String)> {
    let mut deployed = Vec::new();
    let Ok(kubeconfig) = load_kubeconfig(target.kubeconfig.as_deref()) else {
        return deployed;
    };
    for r in &env.regions {
        if let Ok(cluster) = Cluster::connect(&kubeconfig, &r.name, &r.context).await
            && let Ok(h) = read_history(&cluster, &env.name, &env.namespace).await
            && let Some(last) = h.last()
        {
            deployed.push((r.name.clone(), last.revision.clone()));
        }
    }
    deployed
}
