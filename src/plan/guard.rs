//! Deletes that would take more than the set with them. Deleting a Namespace deletes every
//! object in it; deleting a CustomResourceDefinition deletes every custom resource it serves,
//! in every namespace. Neither is pruned while it holds anything that is not pruned with it
//! (a CRD may be, with `--prune-crd-resources`, and the plan names what goes with it).

use std::collections::BTreeSet;

use super::{Action, ObjectPlan, Problem, ProblemKind};
use crate::cluster::{Cluster, ClusterError};
use crate::render::manifest::ObjectId;
use crate::revision::Revision;

/// How many held objects a problem names before it says how many more there are.
const NAMED: usize = 5;

/// `(group, kind)` of an object.
pub(super) fn group_kind(id: &ObjectId) -> (String, String) {
    (id.group().to_string(), id.kind.clone())
}

/// The `(group, kind)` each CustomResourceDefinition of the revision serves.
pub(super) fn crds_of(revision: &Revision) -> BTreeSet<(String, String)> {
    revision
        .objects
        .iter()
        .filter(|(id, _)| id.kind == "CustomResourceDefinition")
        .filter_map(|(_, crd)| {
            let group = crd["spec"]["group"].as_str()?;
            let kind = crd["spec"]["names"]["kind"].as_str()?;
            Some((group.to_string(), kind.to_string()))
        })
        .collect()
}

/// Turns a prune of a Namespace or CRD that holds objects outside the prune into an error
/// naming them (a CRD's into a prune that lists them, when `prune_crd_resources`).
pub(super) async fn prunes(
    cluster: &Cluster,
    plans: &mut [ObjectPlan],
    set_id: &str,
    prune_crd_resources: bool,
) -> Result<(), ClusterError> {
    let pruned: BTreeSet<ObjectId> = plans
        .iter()
        .filter(|p| matches!(p.action, Action::Prune | Action::Expire))
        .map(|p| p.id.clone())
        .collect();
    for plan in plans.iter_mut().filter(|p| p.action == Action::Prune) {
        match plan.id.kind.as_str() {
            "Namespace" if plan.id.group().is_empty() => {
                let held = cluster.namespace_contents(&plan.id.name).await?;
                let held = outside(held, &pruned);
                if !held.is_empty() {
                    *plan = ObjectPlan::refused(plan.id.clone(), namespace_in_use(&held, set_id));
                }
            }
            "CustomResourceDefinition" => {
                let Some(crd) = cluster.get(&plan.id).await? else {
                    continue;
                };
                let held = outside(cluster.custom_resources(&crd).await?, &pruned);
                if held.is_empty() {
                } else if prune_crd_resources {
                    plan.also_deletes = held.iter().map(ToString::to_string).collect();
                } else {
                    *plan = ObjectPlan::refused(plan.id.clone(), crd_in_use(&held));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn outside(held: Vec<ObjectId>, pruned: &BTreeSet<ObjectId>) -> Vec<ObjectId> {
    held.into_iter().filter(|id| !pruned.contains(id)).collect()
}

/// `A, B, C and 4 more`.
fn named(held: &[ObjectId]) -> String {
    let mut text = held
        .iter()
        .take(NAMED)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if held.len() > NAMED {
        text.push_str(&format!(" and {} more", held.len() - NAMED));
    }
    text
}

fn namespace_in_use(held: &[ObjectId], set_id: &str) -> Problem {
    Problem::new(
        ProblemKind::NamespaceInUse,
        format!(
            "left the set, but deleting it would delete {} object(s) that are not pruned with it: {}",
            held.len(),
            named(held)
        ),
        Some(format!(
            "keep rendering the Namespace, or move or delete what it holds first; kubectl-hadr never deletes a Namespace holding objects outside the prune of its ApplySet ({set_id})"
        )),
    )
}

fn crd_in_use(held: &[ObjectId]) -> Problem {
    Problem::new(
        ProblemKind::CrdInUse,
        format!(
            "left the set, but {} custom resource(s) outside the set still use it, and the API server deletes them with it: {}",
            held.len(),
            named(held)
        ),
        Some("keep rendering the CRD, delete those resources first, or rerun with --prune-crd-resources to delete them with it".into()),
    )
}
