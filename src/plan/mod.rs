//! Plans: for each region, every object of a revision created, changed, renamed, unchanged,
//! pruned or expired, with its diff against the live cluster. A plan is built once; `diff` and
//! `rollout --dry-run` show it, and `rollout` carries out exactly what it lists.

pub mod diff;
mod guard;
pub mod handover;
mod members;
pub mod problem;
mod target;

use std::collections::HashMap;

use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

use crate::cluster::applyset::{Inventory, PART_OF_LABEL, applyset_id};
use crate::cluster::live::{prepared, unchanged};
use crate::cluster::{Cluster, ClusterError};
use crate::environment::Environment;
use crate::render::manifest::{ENVIRONMENT_LABEL, MANAGED_BY, ObjectId};
use crate::revision::{Revision, RevisionError};
pub use diff::Action;
pub use problem::{Problem, ProblemKind};
use problem::{Refusal, refusal};
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
    /// What `rollout` applies (server-side apply) for a create, change, rename or replace:
    /// the object as the revision has it, made a member of the ApplySet.
    #[serde(skip)]
    pub desired: Option<Value>,
    /// A create the server cannot dry-run yet: the revision creates the CRD of its kind first.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub after_crd: bool,
    /// Objects outside the set that the API server deletes with this one (the custom
    /// resources of a pruned CRD, with `--prune-crd-resources`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also_deletes: Vec<String>,
    /// Why the object cannot be carried out (action `error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
    /// Applied first, under the hand-over field manager, when the revision hands
    /// `spec.replicas` to an autoscaler (see [`handover`]).
    #[serde(skip)]
    pub handover: Option<Value>,
}

impl ObjectPlan {
    /// An object with this action and nothing else known yet.
    pub fn new(id: ObjectId, action: Action) -> ObjectPlan {
        ObjectPlan {
            id,
            action,
            renamed_from: None,
            diff: String::new(),
            desired: None,
            after_crd: false,
            also_deletes: Vec::new(),
            problem: None,
            handover: None,
        }
    }

    /// An object that cannot be carried out, and why.
    pub fn refused(id: ObjectId, problem: Problem) -> ObjectPlan {
        ObjectPlan {
            problem: Some(problem),
            ..ObjectPlan::new(id, Action::Error)
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub create: usize,
    pub change: usize,
    pub rename: usize,
    pub prune: usize,
    /// Content-hashed ConfigMaps/Secrets leaving the `--keep` window, deleted by rollout.
    pub expire: usize,
    /// Deleted and created again (`--replace`): a field that cannot change would change.
    pub replace: usize,
    pub unchanged: usize,
    /// Objects that cannot be carried out; while there are any, rollout changes nothing.
    pub error: usize,
}

impl Summary {
    fn add(&mut self, a: Action) {
        match a {
            Action::Create => self.create += 1,
            Action::Change => self.change += 1,
            Action::Rename => self.rename += 1,
            Action::Prune => self.prune += 1,
            Action::Expire => self.expire += 1,
            Action::Replace => self.replace += 1,
            Action::Unchanged => self.unchanged += 1,
            Action::Error => self.error += 1,
        }
    }

    pub fn differs(&self) -> bool {
        self.create + self.change + self.rename + self.prune + self.expire + self.replace > 0
    }

    fn merge(&mut self, o: &Summary) {
        self.create += o.create;
        self.change += o.change;
        self.rename += o.rename;
        self.prune += o.prune;
        self.expire += o.expire;
        self.replace += o.replace;
        self.unchanged += o.unchanged;
        self.error += o.error;
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
    /// Whether the region cannot be carried out as planned: it could not be planned, or an
    /// object has a problem.
    pub fn blocked(&self) -> bool {
        self.error.is_some() || self.summary.error > 0
    }

    /// The objects that cannot be carried out: `Kind ns/name: problem`, and its help on the
    /// next line.
    pub fn problems(&self) -> Vec<String> {
        self.objects
            .iter()
            .filter_map(|o| {
                let p = o.problem.as_ref()?;
                Some(match &p.help {
                    Some(help) => format!("{}: {}\n      help: {help}", o.id, p.message),
                    None => format!("{}: {}", o.id, p.message),
                })
            })
            .collect()
    }

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

    /// Whether a region could not be planned or an object cannot be carried out.
    pub fn failed(&self) -> bool {
        self.regions.iter().any(RegionPlan::blocked)
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
    /// A change to a field that cannot change after creation is planned as `replace`
    /// (delete, then create) instead of an error.
    pub replace: bool,
    /// A CRD that left the set is pruned even though custom resources outside the set
    /// remain (the API server deletes them with it); the plan lists them.
    pub prune_crd_resources: bool,
    /// Adopt a live object that belongs to no ApplySet into this one (as Helm's
    /// `--take-ownership`); without it such an object is an error.
    pub take_ownership: bool,
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
    let crds = guard::crds_of(revision);
    let results: Vec<Result<ObjectPlan, ClusterError>> =
        futures::stream::iter(revision.objects.iter())
            .map(|(id, object)| {
                let desired = prepared(object.clone(), &set_id);
                let ctx = ObjectContext {
                    cluster,
                    live: listed.get(id).copied(),
                    region: &cluster.region,
                    label,
                    environment: &env.name,
                    set_id: &set_id,
                    opts,
                    crd_in_revision: crds.contains(&guard::group_kind(id)),
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
    guard::prunes(cluster, &mut plans, &set_id, opts.prune_crd_resources).await?;
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
    /// The environment and its ApplySet.
    environment: &'a str,
    set_id: &'a str,
    opts: &'a PlanOptions,
    /// Whether the revision has the CRD of the object's kind.
    crd_in_revision: bool,
}

/// One object of the revision: unchanged when the LIST proves it, else what a dry-run apply
/// makes of it compared with what is live (found by GET when the LIST did not return it: it is
/// absent, or exists without being a member). An object the server refuses, or a member of
/// another ApplySet, is planned as an error with its reason; only a failure that is not about
/// the object fails the region.
async fn plan_object(
    ctx: ObjectContext<'_>,
    id: &ObjectId,
    desired: Value,
) -> Result<ObjectPlan, ClusterError> {
    if ctx.live.is_some_and(|l| unchanged(l, &desired)) {
        return Ok(ObjectPlan::new(id.clone(), Action::Unchanged));
    }
    let live = match ctx.live {
        Some(l) => Some(l.clone()),
        None => match ctx.cluster.get(id).await {
            Ok(found) => found,
            Err(e) => return refused(&ctx, id, e, None, desired),
        },
    };
    if let Some(problem) = live.as_ref().and_then(|l| not_ours(l, &ctx)) {
        return Ok(ObjectPlan::refused(id.clone(), problem));
    }
    let handover = live
        .as_ref()
        .and_then(|l| handover::replicas_handover(&desired, l));
    let live = live.map(diff::normalize);
    let planned = match ctx
        .cluster
        .dry_run_apply(id, &desired, ctx.opts.force_conflicts)
        .await
    {
        // After the hand-over the replicas stay what they are; the dry run of the revision
        // alone would show them defaulted to 1.
        Ok(mut v) if handover.is_some() => {
            v["spec"]["replicas"] = live
                .as_ref()
                .map_or(Value::Null, |l| l["spec"]["replicas"].clone());
            diff::normalize(v)
        }
        Ok(v) => diff::normalize(v),
        // The server cannot dry-run into a namespace the same rollout creates first: show the
        // object as the revision has it.
        Err(ClusterError::NamespaceMissing { .. }) if live.is_none() => desired.clone(),
        Err(e) => return refused(&ctx, id, e, live, desired),
    };
    let action = match &live {
        None => Action::Create,
        // Releasing the replicas is a change of ownership the diff cannot show.
        Some(l) if *l == planned && handover.is_none() => Action::Unchanged,
        Some(_) => Action::Change,
    };
    let mut plan = with_diff(&ctx, id, action, live, planned, desired);
    plan.handover = handover;
    Ok(plan)
}

/// The plan of an object whose dry run failed (see [`problem::refusal`]).
fn refused(
    ctx: &ObjectContext<'_>,
    id: &ObjectId,
    e: ClusterError,
    live: Option<Value>,
    desired: Value,
) -> Result<ObjectPlan, ClusterError> {
    match refusal(e, ctx.opts.replace, ctx.crd_in_revision) {
        Refusal::Problem(p) => Ok(ObjectPlan::refused(id.clone(), p)),
        Refusal::Region(e) => Err(e),
        Refusal::Replace => {
            let planned = desired.clone();
            Ok(with_diff(ctx, id, Action::Replace, live, planned, desired))
        }
        Refusal::AfterItsCrd => {
            let mut plan = with_diff(ctx, id, Action::Create, None, desired.clone(), desired);
            plan.after_crd = true;
            Ok(plan)
        }
    }
}

/// A live object that is not a member of this ApplySet is not ours to take over. A member of
/// another set: applying would move it into ours (same field manager, no conflict), and its
/// owner's next prune would miss it while ours could delete it. An object of no set (made by
/// hand or another tool) is adopted only when asked, since it is then pruned with the set.
/// Objects this environment applied before it kept an ApplySet (its own environment label,
/// managed by kubectl-hadr) are its own.
fn not_ours(live: &Value, ctx: &ObjectContext<'_>) -> Option<Problem> {
    let labels = &live["metadata"]["labels"];
    let Some(owner) = labels[PART_OF_LABEL].as_str() else {
        let legacy =
            labels[MANAGED_BY.0] == MANAGED_BY.1 && labels[ENVIRONMENT_LABEL] == ctx.environment;
        return (!legacy && !ctx.opts.take_ownership).then(|| Problem::new(
            ProblemKind::Unowned,
            "already exists and belongs to no ApplySet (made by hand or by another tool); kubectl-hadr does not adopt it unasked",
            Some("stop rendering it here, or rerun with --take-ownership to adopt it into this environment's set (it is then pruned with the set)".into()),
        ));
    };
    if owner == ctx.set_id {
        return None;
    }
    let environment = labels[ENVIRONMENT_LABEL]
        .as_str()
        .map(|e| format!(" (environment `{e}`)"))
        .unwrap_or_default();
    Some(Problem::new(
        ProblemKind::OwnedElsewhere,
        format!("already exists as a member of another ApplySet, {owner}{environment}; kubectl-hadr does not take over another set's objects"),
        Some("stop rendering it here and let its owner manage it (for a shared Namespace: one environment renders it), or delete it from that set first".into()),
    ))
}

/// The plan of an object with its diff from live to planned (Secret values masked).
fn with_diff(
    ctx: &ObjectContext<'_>,
    id: &ObjectId,
    action: Action,
    live: Option<Value>,
    planned: Value,
    desired: Value,
) -> ObjectPlan {
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
    ObjectPlan {
        diff: text,
        desired: (action != Action::Unchanged).then_some(desired),
        ..ObjectPlan::new(id.clone(), action)
    }
}
