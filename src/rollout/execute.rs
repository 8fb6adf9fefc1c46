//! Carrying out one region's plan, exactly as planned: widen the ApplySet parent, apply what
//! is created, changed or renamed (in kind order), delete what is pruned or expired (in
//! reverse kind order), then narrow the parent. An interruption at any point leaves every
//! member findable by the next run.

use std::time::Duration;

use futures::StreamExt;

use super::RegionResult;
use crate::cluster::stop::Stop;
use crate::cluster::{Cluster, ClusterError};
use crate::environment::Environment;
use crate::plan::handover::HANDOVER_MANAGER;
use crate::plan::{Action, ObjectPlan, RegionPlan};

/// How long a replaced object may take to be gone, and a new CRD to be established.
const SETTLE: Duration = Duration::from_secs(60);

/// Apply order: what others depend on first (DESIGN.md §5).
fn kind_rank(kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        "ServiceAccount" | "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => 2,
        "ConfigMap" | "Secret" => 3,
        "Service" => 4,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "CronJob" | "Pod" => 5,
        _ => 6,
    }
}

/// Carries out `plan`, recording each change in `result` as it succeeds, so a failure part-way
/// leaves `result` naming exactly what was changed.
pub(super) async fn carry_out(
    cluster: &Cluster,
    env: &Environment,
    plan: &RegionPlan,
    concurrency: usize,
    force_conflicts: bool,
    stop: &Stop,
    result: &mut RegionResult,
) -> Result<(), ClusterError> {
    let inventory = &plan.inventory;
    let widened = inventory.before.union(&inventory.after);
    if widened != inventory.before {
        widened.apply(cluster, &env.name, &env.namespace).await?;
    }
    let mut applies: Vec<&ObjectPlan> = plan
        .objects
        .iter()
        .filter(|p| p.desired.is_some())
        .collect();
    applies.sort_by_key(|p| (kind_rank(&p.id.kind), p.id.file_name()));
    for rank in applies.chunk_by(|a, b| kind_rank(&a.id.kind) == kind_rank(&b.id.kind)) {
        // Within a rank in parallel (bounded); the first error stops the rollout after the
        // requests in flight, and those that succeeded are recorded.
        let outcomes: Vec<(&ObjectPlan, Result<(), ClusterError>)> = futures::stream::iter(rank)
            .map(|p| async move { (*p, apply_one(cluster, p, force_conflicts).await) })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let mut failed = None;
        for (p, outcome) in outcomes {
            match outcome {
                Ok(()) => result.record(p.action, p.id.to_string()),
                Err(e) => {
                    result.record(Action::Error, p.id.to_string());
                    failed = failed.or(Some(e));
                }
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        // A created CRD is established before its custom resources (a later rank) are applied.
        if stop.requested() {
            return Err(ClusterError::Interrupted {
                region: cluster.region.clone(),
            });
        }
        let crds = rank
            .iter()
            .filter(|p| p.id.kind == "CustomResourceDefinition");
        for p in crds.filter(|p| p.action == Action::Create) {
            cluster.wait_established(&p.id, SETTLE).await?;
        }
    }
    let mut deletes: Vec<&ObjectPlan> = plan
        .objects
        .iter()
        .filter(|p| matches!(p.action, Action::Prune | Action::Expire))
        .collect();
    // Workloads before the config they use.
    deletes.sort_by_key(|p| (std::cmp::Reverse(kind_rank(&p.id.kind)), p.id.file_name()));
    for p in deletes {
        if let Err(e) = cluster.delete(&p.id).await {
            result.record(Action::Error, p.id.to_string());
            return Err(e);
        }
        result.record(p.action, p.id.to_string());
    }
    if widened != inventory.after {
        inventory
            .after
            .apply(cluster, &env.name, &env.namespace)
            .await?;
    }
    Ok(())
}

/// Applies one object of the plan: a replace deletes it first and waits until it is gone.
async fn apply_one(
    cluster: &Cluster,
    p: &ObjectPlan,
    force_conflicts: bool,
) -> Result<(), ClusterError> {
    let desired = p.desired.as_ref().unwrap_or(&serde_json::Value::Null);
    if p.action == Action::Replace {
        cluster.delete_and_wait(&p.id, SETTLE).await?;
    }
    if let Some(handover) = &p.handover {
        cluster.apply_as(&p.id, handover, HANDOVER_MANAGER).await?;
    }
    cluster.apply(&p.id, desired, force_conflicts).await?;
    Ok(())
}
