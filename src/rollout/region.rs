//! The waves: each prepared region carried out, awaited until healthy, recorded, and rolled
//! back on request when it is not healthy in time.

use std::time::Instant;

use k8s_openapi::jiff::Timestamp;

use super::execute::carry_out;
use super::prepare::{Prepared, Unprepared};
use super::{Progress, RegionResult, RolloutError, RolloutOptions, RolloutStatus};
use crate::cluster::Cluster;
use crate::cluster::health;
use crate::cluster::record::{self, Health, Record, whoami};
use crate::environment::Environment;
use crate::plan::{RegionPlan, plan_region};
use crate::revision::Revision;

/// Runs the prepared regions, in waves or all at once, and releases every Lease. When any
/// region could not be prepared, none is carried out.
pub(super) async fn waves(
    env: &Environment,
    prepared: Vec<Result<Prepared, Unprepared>>,
    revision: &str,
    opts: &RolloutOptions,
    progress: &dyn Progress,
) -> Vec<RegionResult> {
    let unplanned: Vec<String> = prepared
        .iter()
        .filter_map(|p| p.as_ref().err().map(|r| r.region.clone()))
        .collect();
    if !unplanned.is_empty() {
        return refuse_all(prepared, &unplanned).await;
    }
    let ready = prepared.into_iter().filter_map(Result::ok);
    if opts.parallel {
        let runs = ready.map(|p| run_one(env, p, revision, opts, progress));
        return futures::future::join_all(runs).await;
    }
    let mut results = Vec::new();
    let mut stopped = false;
    for p in ready {
        if stopped || opts.stop.requested() {
            p.lease.release().await;
            let why = if stopped {
                "an earlier region of the wave failed"
            } else {
                "interrupted by a signal before this region started"
            };
            results.push(p.result.ended(RolloutStatus::Skipped, why));
            continue;
        }
        let result = run_one(env, p, revision, opts, progress).await;
        stopped = result.status != RolloutStatus::Ok;
        results.push(result);
    }
    results
}

/// Nothing is carried out: the regions that were prepared give their Lease back.
async fn refuse_all(
    prepared: Vec<Result<Prepared, Unprepared>>,
    unplanned: &[String],
) -> Vec<RegionResult> {
    let mut results = Vec::new();
    for p in prepared {
        results.push(match p {
            Err(r) => r,
            Ok(p) => {
                p.lease.release().await;
                p.result.ended(
                    RolloutStatus::Skipped,
                    format!(
                        "not rolled out: {} could not be planned, so no region was changed",
                        unplanned.join(", ")
                    ),
                )
            }
        });
    }
    results
}

async fn run_one(
    env: &Environment,
    p: Prepared,
    revision: &str,
    opts: &RolloutOptions,
    progress: &dyn Progress,
) -> RegionResult {
    let started = Instant::now();
    let Prepared {
        cluster,
        lease,
        plan,
        revision: set,
        mut result,
    } = p;
    result.unchanged = plan.summary.unchanged;
    let outcome = carry_out_and_check(
        env,
        &cluster,
        &plan,
        &set,
        revision,
        opts,
        progress,
        &mut result,
    )
    .await;
    if let Err(e) = outcome {
        result.status = RolloutStatus::Error;
        result.message = Some(e.to_string());
    }
    lease.release().await;
    result.seconds = started.elapsed().as_secs_f64();
    progress.line(&format!(
        "{}/{}: {}{}",
        env.name,
        result.region,
        result.status,
        result
            .message
            .as_ref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default()
    ));
    result
}

#[allow(clippy::too_many_arguments)]
async fn carry_out_and_check(
    env: &Environment,
    cluster: &Cluster,
    plan: &RegionPlan,
    set: &Revision,
    revision: &str,
    opts: &RolloutOptions,
    progress: &dyn Progress,
    result: &mut RegionResult,
) -> Result<(), RolloutError> {
    let (concurrency, force) = (opts.plan.concurrency, opts.plan.force_conflicts);
    carry_out(cluster, env, plan, concurrency, force, &opts.stop, result).await?;
    progress.line(&format!(
        "{}/{}: applied {} objects, {} unchanged",
        env.name, cluster.region, result.applied, result.unchanged
    ));
    if !result.pruned.is_empty() {
        progress.line(&format!(
            "{}/{}: pruned {}",
            env.name,
            cluster.region,
            result.pruned.join(", ")
        ));
    }
    let healthy = wait_healthy(cluster, env, set, opts, progress).await;
    let record = Record {
        revision: revision.into(),
        digest: set.digest.clone(),
        time: Timestamp::now().to_string(),
        user: whoami(),
        health: if healthy.is_ok() {
            Health::Ok
        } else {
            Health::Failed
        },
    };
    let previous = record::write(cluster, &env.name, &env.namespace, &record).await?;
    let Err(why) = healthy else {
        return Ok(());
    };
    result.status = RolloutStatus::Failed;
    result.message = Some(why.to_string());
    match previous {
        // Asked to stop: stop, not roll back.
        Some(prev) if opts.auto_rollback && why != health::Unhealthy::Interrupted => {
            roll_back(env, cluster, prev, opts, progress, result).await
        }
        _ => Ok(()),
    }
}

async fn wait_healthy(
    cluster: &Cluster,
    env: &Environment,
    set: &Revision,
    opts: &RolloutOptions,
    progress: &dyn Progress,
) -> Result<(), health::Unhealthy> {
    let ids: Vec<_> = set.objects.iter().map(|(id, _)| id).collect();
    let waiting = |text: String| progress.status(&text);
    health::wait(cluster, &env.name, &ids, opts.timeout, &waiting, &opts.stop).await
}

/// Plans the previous healthy revision in this region (still under its Lease), carries it out
/// and records it again.
async fn roll_back(
    env: &Environment,
    cluster: &Cluster,
    prev: Record,
    opts: &RolloutOptions,
    progress: &dyn Progress,
    result: &mut RegionResult,
) -> Result<(), RolloutError> {
    progress.line(&format!(
        "{}/{}: rolling back to {}",
        env.name, cluster.region, prev.revision
    ));
    let target = opts.target.at(Some(prev.revision.clone()));
    let set = Revision::read(&target.source(), &env.name, &cluster.region)?;
    let plan = plan_region(cluster, env, &set, &opts.plan).await?;
    let (concurrency, force) = (opts.plan.concurrency, opts.plan.force_conflicts);
    carry_out(cluster, env, &plan, concurrency, force, &opts.stop, result).await?;
    let healthy = wait_healthy(cluster, env, &set, opts, progress).await;
    let record = Record {
        health: if healthy.is_ok() {
            Health::Ok
        } else {
            Health::Failed
        },
        time: Timestamp::now().to_string(),
        ..prev.clone()
    };
    record::write(cluster, &env.name, &env.namespace, &record).await?;
    result.status = RolloutStatus::RolledBack;
    result.message = Some(format!(
        "{}; rolled back to {}",
        result.message.take().unwrap_or_default(),
        prev.revision
    ));
    Ok(())
}
