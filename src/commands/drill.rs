//! `kubectl hadr drill`: a zone of one region lost on purpose, measured against the
//! prediction of `validate --lose` and the PodDisruptionBudgets; or a whole region, recovered
//! into another from backup and from git, measured against the objectives.

use std::path::Path;

mod region;

use crate::cli::DrillArgs;
use crate::cluster::{Cluster, load_kubeconfig};
use crate::commands::render::render_in_memory;
use crate::commands::select::{one_environment, runtime, stop_on_signals};
use crate::drill::evidence::{self, Evidence, Written};
use crate::drill::{self, ZoneDrill};
use crate::environment::{Environment, Region};
use crate::error::Error;
use crate::policy::{Loss, what_if};
use crate::render::RenderedSet;
use crate::report::Drilled;
use crate::revision::{Revision, Source, out_dir};

/// The zone, its region and the drill as the environment defines them.
fn zone_drill(root: &Path, args: &DrillArgs) -> Result<(Environment, Region, ZoneDrill), Error> {
    let (_, zone) = args.lose.clone().unwrap_or_default();
    let env = one_environment(root, &args.environment, args.region.as_ref())?;
    let region = env
        .regions
        .iter()
        .find(|r| match &args.region {
            Some(name) => r.name == *name,
            None => r.zones.contains(&zone),
        })
        .cloned()
        .ok_or_else(|| Error::Policy(vec![unknown_zone(&env, &zone)]))?;
    let out = out_dir(root, args.out.clone());
    let source = Source {
        root,
        out: &out,
        revision: None,
    };
    let revision = Revision::read(&source, &env.name, &region.name)?;
    let workloads = revision
        .objects
        .iter()
        .map(|(id, _)| id.clone())
        .filter(drill::is_workload)
        .collect();
    let (sets, _) = render_in_memory(root, std::slice::from_ref(&env), Some(&region.name), true)?;
    let refs: Vec<&RenderedSet> = sets.iter().collect();
    let prediction = what_if(&env, &refs, &Loss::Zone(zone.clone()))
        .into_iter()
        .filter(|s| s.region == region.name)
        .collect();
    let drill = ZoneDrill {
        region: region.name.clone(),
        zone,
        workloads,
        prediction,
        timeout: args.timeout,
        stop: Default::default(),
    };
    Ok((env, region, drill))
}

fn unknown_zone(env: &Environment, zone: &str) -> String {
    let zones: Vec<String> = env
        .regions
        .iter()
        .map(|r| format!("{}: {}", r.name, r.zones.join(", ")))
        .collect();
    format!(
        "environment `{}` has no zone `{zone}`\n  help: its zones are {}; or name the region with --region",
        env.name,
        zones.join("; ")
    )
}

/// Plans (`--dry-run`) or runs a zone or region drill, after `confirm` agrees to the real
/// one (it is asked the question to put).
pub fn drill(
    root: &Path,
    args: &DrillArgs,
    confirm: impl FnOnce(&str) -> bool,
) -> Result<Option<Drilled>, Error> {
    if args.lose.as_ref().is_some_and(|(kind, _)| kind == "region") {
        return region::drill(root, args, confirm);
    }
    if args.restore_into.is_some() {
        return Err(Error::Policy(vec![
            "--restore-into is for region drills\n  help: use --lose region=NAME --restore-into REGION".into(),
        ]));
    }
    let (env, region, mut drill) = zone_drill(root, args)?;
    let rt = runtime()?;
    let kubeconfig = load_kubeconfig(args.kubeconfig.as_deref())?;
    let cluster = rt.block_on(Cluster::connect(&kubeconfig, &region.name, &region.context))?;
    if args.dry_run {
        let plan = rt.block_on(drill::plan_zone(&cluster, &drill))?;
        return Ok(Some(Drilled::Planned(plan)));
    }
    let question = format!(
        "Cordon zone {} of region {} and evict its pods (they are restored at the end)?",
        drill.zone, drill.region
    );
    if !confirm(&question) {
        return Ok(None);
    }
    drill.stop = stop_on_signals(&rt);
    let mut report = rt.block_on(drill::zone(&cluster, &env, &drill))?;
    (report.evidence, report.evidence_error) =
        kept_or_why(keep_evidence(root, args, Evidence::Zone(&report)));
    Ok(Some(Drilled::Ran(Box::new(report))))
}

/// The evidence kept, or why it could not be: a drill that ran is never hidden by a report
/// directory or a repository that refused its files.
pub(crate) fn kept_or_why(
    kept: Result<Option<Written>, Error>,
) -> (Option<Written>, Option<String>) {
    match kept {
        Ok(written) => (written, None),
        Err(e) => (None, Some(e.messages().join("\n"))),
    }
}

/// Writes the evidence where `--report` says and commits it with `--commit`.
pub(crate) fn keep_evidence(
    root: &Path,
    args: &DrillArgs,
    ev: Evidence<'_>,
) -> Result<Option<Written>, Error> {
    let mut written = None;
    if let Some(dir) = &args.report {
        let files = evidence::write(dir, ev).map_err(drill::DrillError::from)?;
        written = Some(Written {
            directory: dir.clone(),
            files,
            commit: None,
            committed_to: None,
        });
    }
    if args.commit {
        let (committed, _) = evidence::commit(root, ev).map_err(drill::DrillError::from)?;
        written = Some(match written {
            Some(w) => Written {
                commit: committed.commit,
                committed_to: committed.committed_to,
                ..w
            },
            None => committed,
        });
    }
    Ok(written)
}

/// Undoes what killed drills left (cordoned nodes, drill namespaces), in every region of the environment (or one).
pub fn cleanup(root: &Path, args: &DrillArgs) -> Result<Drilled, Error> {
    let env = one_environment(root, &args.environment, args.region.as_ref())?;
    let rt = runtime()?;
    let kubeconfig = load_kubeconfig(args.kubeconfig.as_deref())?;
    let mut out = Vec::new();
    for region in env.selected_regions(args.region.as_deref()) {
        let undone = rt.block_on(async {
            let cluster = Cluster::connect(&kubeconfig, &region.name, &region.context).await?;
            drill::cleanup(&cluster, &env.namespace).await
        })?;
        out.push(undone);
    }
    Ok(Drilled::CleanedUp(out))
}
