//! `kubectl hadr rollout` and `rollback`: the policy gate, then the plan carried out.

use crate::cluster::record::{WORKING_TREE, previous_revision, read_history};
use crate::cluster::{Cluster, load_kubeconfig};
use crate::commands::render::{gate, render_in_memory};
use crate::commands::select::{one_environment, runtime, stop_on_signals};
use crate::environment::{Environment, Region};
use crate::error::{Error, Gated};
use crate::plan::context_of;
use crate::rollout::{self, Progress, RolloutOptions, RolloutReport};

/// Rolls a revision out (after the policy gate, unless `allow_violations`).
pub fn rollout(
    environment: &str,
    opts: &RolloutOptions,
    allow_violations: bool,
    progress: &dyn Progress,
) -> Result<RolloutReport, Error> {
    let target = &opts.target;
    let env = one_environment(&target.root, environment, target.region.as_ref())?;
    if !allow_violations {
        policy_gate(&env, target.region.as_deref(), &target.root)?;
    }
    let rt = runtime()?;
    let opts = RolloutOptions {
        stop: stop_on_signals(&rt),
        ..opts.clone()
    };
    Ok(rt.block_on(rollout::rollout(&env, &opts, progress))?)
}

/// No unwaived error-level finding of the policy on the environment as rendered now (the
/// gate of `render --commit`).
fn policy_gate(
    env: &Environment,
    region: Option<&str>,
    root: &std::path::Path,
) -> Result<(), Error> {
    let (sets, _) = render_in_memory(root, std::slice::from_ref(env), region, true)?;
    gate(std::iter::once(env), &sets, Gated::Rollout)
}

/// Rolls each selected region back to a git revision, or to the revision it ran before its
/// current one (from the in-cluster record).
pub fn rollback(
    environment: &str,
    opts: &RolloutOptions,
    to: &str,
    progress: &dyn Progress,
) -> Result<Vec<RolloutReport>, Error> {
    let target = &opts.target;
    let env = one_environment(&target.root, environment, target.region.as_ref())?;
    let rt = runtime()?;
    let stop = stop_on_signals(&rt);
    let mut reports = Vec::new();
    for region in env.selected_regions(target.region.as_deref()) {
        let revision = if to == "previous" {
            rt.block_on(previous(&env, region, opts))?
        } else {
            to.to_string()
        };
        let mut region_opts = opts.clone();
        region_opts.stop = stop.clone();
        region_opts.target.region = Some(region.name.clone());
        region_opts.target.revision = Some(revision);
        reports.push(rt.block_on(rollout::rollout(&env, &region_opts, progress))?);
    }
    Ok(reports)
}

/// The healthy revision a region ran before its current one, from its record.
async fn previous(
    env: &Environment,
    region: &Region,
    opts: &RolloutOptions,
) -> Result<String, Error> {
    let kubeconfig = load_kubeconfig(opts.target.kubeconfig.as_deref())?;
    let context = context_of(&opts.target, region);
    let cluster = Cluster::connect(&kubeconfig, &region.name, &context).await?;
    let history = read_history(&cluster, &env.name, &env.namespace).await?;
    let names = || (env.name.clone(), region.name.clone());
    match previous_revision(&history) {
        Some(r) if r.revision != WORKING_TREE => Ok(r.revision.clone()),
        Some(_) => {
            let (environment, region) = names();
            Err(Error::PreviousFromWorkingTree {
                environment,
                region,
            })
        }
        None => {
            let (environment, region) = names();
            Err(Error::NoPreviousRevision {
                environment,
                region,
            })
        }
    }
}
