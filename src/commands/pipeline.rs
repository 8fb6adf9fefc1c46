//! The cluster commands end to end: diff, rollout, rollback, status and history.

use crate::commands::render::*;
use crate::commands::select::*;
use crate::environment::Severity;
use crate::error::Error;
use crate::policy::{self, Finding};

/// Rolls a revision out (after the policy gate, unless `allow_violations`).
pub fn rollout(
    opts: &crate::rollout::RolloutOptions,
    allow_violations: bool,
    progress: &dyn crate::rollout::Progress,
) -> Result<crate::rollout::RolloutReport, Error> {
    let env = one_environment(&opts.root, &opts.environment, opts.region.as_ref())?;
    if !allow_violations {
        let (sets, _) = render_in_memory(
            &opts.root,
            std::slice::from_ref(&env),
            opts.region.as_deref(),
            true,
        )?;
        let blocking: Vec<Finding> = policy::validate(&env, &sets_of(&sets, &env))
            .into_iter()
            .filter(|f| f.severity == Severity::Error && f.waived.is_none())
            .collect();
        if !blocking.is_empty() {
            return Err(Error::PolicyGate(blocking));
        }
    }
    runtime()?.block_on(crate::rollout::rollout(opts, &env, progress))
}

/// Rolls each selected region back to a git revision, or to the revision it ran before its
/// current one (from the in-cluster record).
pub fn rollback(
    opts: &crate::rollout::RolloutOptions,
    to: &str,
    progress: &dyn crate::rollout::Progress,
) -> Result<Vec<crate::rollout::RolloutReport>, Error> {
    let env = one_environment(&opts.root, &opts.environment, opts.region.as_ref())?;
    let rt = runtime()?;
    let mut reports = Vec::new();
    for region in env.selected_regions(opts.region.as_deref()) {
        let revision = if to == "previous" {
            let kubeconfig = crate::cluster::load_kubeconfig(opts.kubeconfig.as_deref())?;
            let context = opts
                .context
                .clone()
                .unwrap_or_else(|| region.context.clone());
            let history = rt.block_on(async {
                let cluster =
                    crate::cluster::Cluster::connect(&kubeconfig, &region.name, &context).await?;
                crate::rollout::read_history(&cluster, &env).await
            })?;
            match crate::rollout::previous_revision(&history) {
                Some(r) if r.revision != "working-tree" => r.revision.clone(),
                Some(_) => {
                    return Err(Error::Policy(vec![format!(
                        "{}/{}: the previous rollout came from an uncommitted working tree; roll back with --to <commit>",
                        env.name, region.name
                    )]));
                }
                None => {
                    return Err(Error::Policy(vec![format!(
                        "{}/{}: no earlier healthy revision is recorded in the cluster",
                        env.name, region.name
                    )]));
                }
            }
        } else {
            to.to_string()
        };
        let mut region_opts = opts.clone();
        region_opts.region = Some(region.name.clone());
        region_opts.revision = Some(revision);
        reports.push(rt.block_on(crate::rollout::rollout(&region_opts, &env, progress))?);
    }
    Ok(reports)
}

pub fn status(
    opts: &crate::commands::status::StatusOptions,
    environment: &str,
) -> Result<crate::commands::status::StatusReport, Error> {
    let env = one_environment(&opts.root, environment, None)?;
    runtime()?.block_on(crate::commands::status::status(opts, &env))
}

pub fn history(
    opts: &crate::commands::status::StatusOptions,
    environment: &str,
    limit: usize,
) -> Result<Vec<crate::commands::status::HistoryEntry>, Error> {
    let env = one_environment(&opts.root, environment, None)?;
    runtime()?.block_on(crate::commands::status::history(opts, &env, limit))
}

/// Runs `diff` for one environment on a runtime of its own (the rest of the program is sync).
pub fn diff(opts: &crate::plan::DiffOptions) -> Result<crate::plan::DiffReport, Error> {
    let env = one_environment(&opts.root, &opts.environment, opts.region.as_ref())?;
    runtime()?.block_on(crate::plan::diff(opts, &env))
}
