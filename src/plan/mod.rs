//! Plans: for each region, every object of a revision created, changed, renamed, unchanged,
//! pruned or expired, with its diff against the live cluster. A plan is built once; `diff` and
//! `rollout --dry-run` show it, and `rollout` carries out exactly what it lists.

pub mod diff;
mod members;
mod target;

use std::collections::HashMap;

use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

use crate::cluster::applyset::{Inventory, applyset_id};
use crate::cluster::live::{prepared, unchanged};
use crate::cluster::{Cluster, ClusterError};
use crate::environment::Environment;
use crate::render::manifest::ObjectId;
use crate::revision::{Revision, RevisionError};
pub use diff::Action;
pub use target::{Target, context_of};

/// One object's fate in a region.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectPlan {
    pub id: ObjectId,
    pub action: Action,
    /// For a rename: the name of the object it replaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// Unified diff, Secret values masked; empty when unchanged.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub diff: String,
    /// What `rollout` applies (server-side apply) for a create, change or rename: the object
    /// as the revision has it, made a member of the ApplySet.
    #[serde(skip)]
    pub desired: Option<Value>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub create: usize,
    pub change: usize,
    pub rename: usize,
    pub prune: usize,
    /// Content-hashed ConfigMaps/Secrets leaving the `--keep` window, deleted by rollout.
    pub expire: usize,
    pub unchanged: usize,
}

impl Summary {
    fn add(&mut self, a: Action) {
        match a {
            Action::Create => self.create += 1,
            Action::Change => self.change += 1,
            Action::Rename => self.rename += 1,
            Action::Prune => self.prune += 1,
            Action::Expire => self.expire += 1,
            Action::Unchanged => self.unchanged += 1,
        }
    }

    pub fn differs(&self) -> bool {
        self.create + self.change + self.rename + self.prune + self.expire > 0
    }

    fn merge(&mut self, o: &Summary) {
        self.create += o.create;
        self.change += o.change;
        self.rename += o.rename;
        self.prune += o.prune;
        self.expire += o.expire;
        self.unchanged += o.unchanged;
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RegionPlan {
    pub region: String,
    pub context: String,
    pub objects: Vec<ObjectPlan>,
    pub summary: Summary,
    /// Set when the region could not be planned (unreachable, API error); its objects are then
    /// incomplete, and rollout changes nothing in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The ApplySet inventory before and after: rollout widens the parent to their union
    /// before it applies, and narrows it to `after` once it has pruned.
    #[serde(skip)]
    pub inventory: InventoryChange,
}

#[derive(Debug, Clone, Default)]
pub struct InventoryChange {
    pub before: Inventory,
    pub after: Inventory,
}

impl RegionPlan {
    /// A region that could not be planned.
    pub fn failed(region: &str, context: &str, error: String) -> RegionPlan {
        RegionPlan {
            region: region.into(),
            context: context.into(),
            objects: Vec::new(),
            summary: Summary::default(),
            error: Some(error),
            inventory: InventoryChange::default(),
        }
    }
}

/// The plan of one environment: `kubectl hadr diff`, `rollout --dry-run`, and what `rollout`
/// carries out.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub environment: String,
    /// The git revision planned, or `working tree`.
    pub revision: String,
    pub regions: Vec<RegionPlan>,
    pub total: Summary,
}

impl Plan {
    pub fn new(environment: &str, revision: Option<&str>, regions: Vec<RegionPlan>) -> Plan {
        let mut total = Summary::default();
        for p in &regions {
            total.merge(&p.summary);
        }
        Plan {
            environment: environment.into(),
            revision: revision.unwrap_or("working tree").into(),
            regions,
            total,
        }
    }

    pub fn failed(&self) -> bool {
        self.regions.iter().any(|r| r.error.is_some())
    }
}

/// How to plan.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Dry-run with `force` (take fields other managers own), as the rollout will.
    pub force_conflicts: bool,
    /// Requests in flight per region.
    pub concurrency: usize,
    /// Content-hashed ConfigMaps/Secrets kept per name after they leave the set; older ones
    /// are planned as `expire`.
    pub keep: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Revision(#[from] RevisionError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Plans every selected region of an environment against its live cluster: the revisions
/// are read first (a missing rendered set fails before any cluster is asked), then regions
/// are planned in parallel; a region that cannot be planned carries its error.
pub async fn plan(
    env: &Environment,
    target: &Target,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    let mut revisions = Vec::new();
    for r in env.selected_regions(target.region.as_deref()) {
        let revision = Revision::read(&target.source(), &env.name, &r.name)?;
        revisions.push((r.name.clone(), context_of(target, r), revision));
    }
    let kubeconfig = crate::cluster::load_kubeconfig(target.kubeconfig.as_deref())?;
    let plans = futures::future::join_all(revisions.iter().map(|(region, context, rev)| {
        let kubeconfig = &kubeconfig;
        async move {
            let planned = async {
                let cluster = Cluster::connect(kubeconfig, region, context).await?;
                plan_region(&cluster, env, rev, opts).await
            };
            planned
                .await
                .unwrap_or_else(|e| RegionPlan::failed(region, context, e.to_string()))
        }
    }))
    .await;
    Ok(Plan::new(&env.name, target.revision.as_deref(), plans))
}

/// Plans one region: one LIST per kind and namespace of the ApplySet's members (the live
/// state, and the prune candidates), then per object either proven unchanged from the LIST
/// or dry-run applied (concurrently, bounded), then what left the set.
pub async fn plan_region(
    cluster: &Cluster,
    env: &Environment,
    revision: &Revision,
    opts: &PlanOptions,
) -> Result<RegionPlan, ClusterError> {
    let set_id = applyset_id(&env.name, &env.namespace);
    let before = Inventory::read(cluster, &env.name, &env.namespace).await?;
    let after = Inventory::of(revision.objects.iter().map(|(id, _)| id), &env.namespace);
    let mut live = members::list(cluster, &env.namespace, &set_id, revision, &before).await?;
    let label = revision.id.as_deref().unwrap_or("rendered");
    let listed: HashMap<&ObjectId, &Value> = live.iter().map(|(id, v)| (id, v)).collect();
    let results: Vec<Result<ObjectPlan, ClusterError>> =
        futures::stream::iter(revision.objects.iter())
            .map(|(id, object)| {
                let desired = prepared(object.clone(), &set_id);
                let ctx = ObjectContext {
                    cluster,
                    live: listed.get(id).copied(),
                    region: &cluster.region,
                    label,
                    force: opts.force_conflicts,
                };
                async move { plan_object(ctx, id, desired).await }
            })
            .buffered(opts.concurrency.max(1))
            .collect()
            .await;
    let mut plans = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    live.retain(|(id, _)| !revision.objects.iter().any(|(o, _)| o == id));
    let removals = members::leftovers(&mut plans, live, &cluster.region, label, opts.keep);
    plans.extend(removals);
    plans.sort_by_key(|a| a.id.file_name());
    let mut summary = Summary::default();
    for p in &plans {
        summary.add(p.action);
    }
    Ok(RegionPlan {
        region: cluster.region.clone(),
        context: cluster.context.clone(),
        objects: plans,
        summary,
        error: None,
        inventory: InventoryChange { before, after },
    })
}

/// What planning one object needs to know.
struct ObjectContext<'a> {
    cluster: &'a Cluster,
    /// The object as the member LIST returned it, if it did.
    live: Option<&'a Value>,
    region: &'a str,
    /// The revision's name in diff headers.
    label: &'a str,
    force: bool,
}

/// One object of the revision: unchanged when the LIST proves it, else what a dry-run apply
/// makes of it compared with what is live (found by GET when the LIST did not return it: it is
/// absent, or exists without being a member).
async fn plan_object(
    ctx: ObjectContext<'_>,
    id: &ObjectId,
    desired: Value,
) -> Result<ObjectPlan, ClusterError> {
    if ctx.live.is_some_and(|l| unchanged(l, &desired)) {
        return Ok(ObjectPlan {
            id: id.clone(),
            action: Action::Unchanged,
            renamed_from: None,
            diff: String::new(),
            desired: None,
        });
    }
    let live = match ctx.live {
        Some(l) => Some(l.clone()),
        None => ctx.cluster.get(id).await?,
    }
    .map(diff::normalize);
    let planned = match ctx.cluster.dry_run_apply(id, &desired, ctx.force).await {
        Ok(v) => diff::normalize(v),
        // The server cannot dry-run into a namespace the same rollout creates first: show the
        // object as the revision has it.
        Err(ClusterError::NamespaceMissing { .. }) if live.is_none() => desired.clone(),
        Err(e) => return Err(e),
    };
    let action = match &live {
        None => Action::Create,
        Some(l) if *l == planned => Action::Unchanged,
        Some(_) => Action::Change,
    };
    let (mut before, mut after) = (live, Some(planned));
    diff::mask_secrets(before.as_mut(), after.as_mut());
    let text = if action == Action::Unchanged {
        String::new()
    } else {
        diff::unified(
            before.as_ref(),
            after.as_ref(),
            &format!("live/{}/{id}", ctx.region),
            &format!("{}/{}/{id}", ctx.label, ctx.region),
        )
    };
    Ok(ObjectPlan {
        id: id.clone(),
        action,
        renamed_from: None,
        diff: text,
        desired: (action != Action::Unchanged).then_some(desired),
    })
}
