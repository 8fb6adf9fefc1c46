//! Before anything changes: in every selected region at once, connect, take the environment's
//! Lease and build the plan under it. A first rollout creates the environment's Namespace
//! first, since the Lease lives in it.

use crate::cluster::LoadedKubeconfig;

use super::{RegionResult, RolloutOptions, RolloutStatus};
use crate::cluster::applyset::applyset_id;
use crate::cluster::lease::{self, Held};
use crate::cluster::live::prepared;
use crate::cluster::{Cluster, ClusterError};
use crate::environment::{Environment, Region};
use crate::plan::{Action, RegionPlan, context_of, plan_region};
use crate::revision::Revision;

/// A region ready to be carried out: its plan, built while holding its Lease.
pub(super) struct Prepared {
    pub cluster: Cluster,
    pub lease: Held,
    pub plan: RegionPlan,
    pub revision: Revision,
    /// What was changed before planning (the Namespace of a first rollout).
    pub result: RegionResult,
}

/// A region that could not be prepared: its result says why and what was changed anyway.
pub(super) type Unprepared = RegionResult;

/// Why a region cannot be carried out.
#[derive(Debug, thiserror::Error)]
enum PrepareError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// Objects of the plan cannot be carried out (`diff` shows each with its reason).
    #[error("{} object(s) cannot be carried out, so nothing is changed:\n    {}", .0.len(), .0.join("\n    "))]
    Blocked(Vec<String>),
}

/// The plan, unless an object of it cannot be carried out.
fn unblocked(plan: RegionPlan) -> Result<RegionPlan, PrepareError> {
    match plan.problems() {
        problems if problems.is_empty() => Ok(plan),
        problems => Err(PrepareError::Blocked(problems)),
    }
}

/// Prepares every region concurrently, in the order given.
pub(super) async fn all(
    kubeconfig: &LoadedKubeconfig,
    env: &Environment,
    revisions: Vec<(&Region, Revision)>,
    opts: &RolloutOptions,
) -> Vec<Result<Prepared, Unprepared>> {
    futures::future::join_all(revisions.into_iter().map(|(region, revision)| {
        let context = context_of(&opts.target, region);
        async move {
            let mut result = RegionResult::new(&region.name, &context);
            let cluster = match Cluster::connect(kubeconfig, &region.name, &context).await {
                Ok(c) => c,
                Err(e) => return Err(result.ended(RolloutStatus::Error, e.to_string())),
            };
            match one(cluster, env, revision, opts, &mut result).await {
                Ok((cluster, lease, plan, revision)) => Ok(Prepared {
                    cluster,
                    lease,
                    plan,
                    revision,
                    result,
                }),
                Err(e) => Err(result.ended(RolloutStatus::Error, e.to_string())),
            }
        }
    }))
    .await
}

async fn one(
    cluster: Cluster,
    env: &Environment,
    revision: Revision,
    opts: &RolloutOptions,
    result: &mut RegionResult,
) -> Result<(Cluster, Held, RegionPlan, Revision), PrepareError> {
    if namespace_missing(&cluster, env, &revision).await? {
        // A first rollout must create the Namespace before it can take the Lease in it; plan
        // first (a dry run changes nothing), so that a revision that cannot be planned here
        // (a kind the cluster does not serve, say) leaves the region exactly as it was.
        unblocked(plan_region(&cluster, env, &revision, &opts.plan).await?)?;
    }
    let created = ensure_namespace(&cluster, env, &revision).await?;
    if let Some(object) = &created {
        result.record(Action::Create, object.clone());
    }
    let lease = lease::acquire(&cluster, &env.name, &env.namespace).await?;
    let planned = plan_region(&cluster, env, &revision, &opts.plan).await;
    let mut plan = match planned.map_err(PrepareError::from).and_then(unblocked) {
        Ok(p) => p,
        Err(e) => {
            lease.release().await;
            return Err(e);
        }
    };
    if let Some(object) = created {
        // Planned after its creation, the Namespace looks unchanged; the plan says what
        // this rollout did to it, and there is nothing left to apply.
        let planned = plan
            .objects
            .iter_mut()
            .filter(|p| p.id.to_string() == object);
        for p in planned.filter(|p| p.action == Action::Unchanged) {
            p.action = Action::Create;
            plan.summary.unchanged -= 1;
            plan.summary.create += 1;
        }
    }
    Ok((cluster, lease, plan, revision))
}

/// Whether the revision has the environment's Namespace and the cluster does not.
async fn namespace_missing(
    cluster: &Cluster,
    env: &Environment,
    revision: &Revision,
) -> Result<bool, ClusterError> {
    match own_namespace(env, revision) {
        Some((id, _)) => Ok(cluster.get(id).await?.is_none()),
        None => Ok(false),
    }
}

fn own_namespace<'r>(
    env: &Environment,
    revision: &'r Revision,
) -> Option<&'r (crate::render::manifest::ObjectId, serde_json::Value)> {
    revision
        .objects
        .iter()
        .find(|(id, _)| id.kind == "Namespace" && id.name == env.namespace)
}

/// Creates the environment's Namespace when the revision has it and the cluster does not:
/// the Lease and the deployment record live in it. Returns the object created.
async fn ensure_namespace(
    cluster: &Cluster,
    env: &Environment,
    revision: &Revision,
) -> Result<Option<String>, ClusterError> {
    let Some((id, object)) = own_namespace(env, revision) else {
        return Ok(None);
    };
    if cluster.get(id).await?.is_some() {
        return Ok(None);
    }
    let set_id = applyset_id(&env.name, &env.namespace);
    cluster
        .apply(id, &prepared(object.clone(), &set_id), false)
        .await?;
    Ok(Some(id.to_string()))
}
