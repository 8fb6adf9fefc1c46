//! `kubectl hadr drill ENV --lose region=X --restore-into Y`: resolves the drill (regions,
//! X's revision in git, the survivors and their PDB minimum), connects the clusters of every
//! region but X (X is "gone": never contacted) and runs or plans it.

use std::path::Path;

use crate::cli::DrillArgs;
use crate::cluster::{Cluster, LoadedKubeconfig, load_kubeconfig};
use crate::commands::render::render_in_memory;
use crate::commands::select::{one_environment, runtime, stop_on_signals};
use crate::drill::evidence::Evidence;
use crate::drill::is_workload;
use crate::drill::region::{self as region_drill, RegionDrill, Survivor};
use crate::environment::Environment;
use crate::error::Error;
use crate::policy::{Loss, Survival, what_if};
use crate::render::RenderedSet;
use crate::report::Drilled;
use crate::revision::store::Store;
use crate::revision::{Revision, Source, out_dir};

fn usage(message: String) -> Error {
    Error::Policy(vec![message])
}

/// The two regions, both of the environment and not the same.
fn regions(env: &Environment, args: &DrillArgs) -> Result<(String, String), Error> {
    let lost = args.lose.clone().unwrap_or_default().1;
    let names: Vec<&str> = env.regions.iter().map(|r| r.name.as_str()).collect();
    let known = |r: &str| names.contains(&r);
    let Some(into) = args.restore_into.clone() else {
        return Err(usage(format!(
            "--lose region={lost}: a region drill recovers into another region\n  help: add --restore-into REGION (one of {})",
            names.join(", ")
        )));
    };
    for r in [&lost, &into] {
        if !known(r) {
            return Err(usage(format!(
                "environment `{}` has no region `{r}`\n  help: its regions are {}",
                env.name,
                names.join(", ")
            )));
        }
    }
    if lost == into {
        return Err(usage(format!(
            "--restore-into {into}: the region recovered into must survive the loss\n  help: name another region than the one lost"
        )));
    }
    Ok((lost, into))
}

/// The lost region's rendered set as git holds it at HEAD (what it was last rolled out from),
/// with when it last changed; the working tree when the repository is not a git one.
fn lost_revision(
    root: &Path,
    out: &Path,
    env: &str,
    lost: &str,
) -> Result<(Revision, Option<String>), Error> {
    let Ok(store) = Store::discover(root) else {
        let source = Source {
            root,
            out,
            revision: None,
        };
        return Ok((Revision::read(&source, env, lost)?, None));
    };
    let source = Source {
        root,
        out,
        revision: Some("HEAD"),
    };
    let mut revision = Revision::read(&source, env, lost)?;
    let dir = store.relative(out)?.join(env).join(lost);
    let newest = store.commits_touching(&dir, 1)?.into_iter().next();
    if let Some((id, _, _)) = &newest {
        revision.id = Some(id.clone());
    }
    let time = newest.and_then(|(_, secs, _)| {
        k8s_openapi::jiff::Timestamp::from_second(secs)
            .ok()
            .map(|t| t.to_string())
    });
    Ok((revision, time))
}

/// Connects every surviving region with its workloads and their PDB minimum (from the
/// what-if model of the region loss).
async fn survivors(
    kubeconfig: &LoadedKubeconfig,
    env: &Environment,
    source: &Source<'_>,
    lost: &str,
    prediction: &[Survival],
) -> Result<Vec<Survivor>, Error> {
    let mut out = Vec::new();
    for region in env.regions.iter().filter(|r| r.name != lost) {
        let revision = Revision::read(source, &env.name, &region.name)?;
        let workloads = revision
            .objects
            .iter()
            .map(|(id, _)| id.clone())
            .filter(is_workload)
            .map(|id| {
                let pdb = prediction
                    .iter()
                    .find(|s| s.region == region.name && s.workload == id.to_string())
                    .and_then(|s| s.pdb_minimum);
                (id, pdb)
            })
            .collect();
        let cluster = Cluster::connect(kubeconfig, &region.name, &region.context).await?;
        out.push(Survivor { cluster, workloads });
    }
    Ok(out)
}

/// Plans (`--dry-run`) or runs a region drill, after `confirm` agrees to the real one.
pub(super) fn drill(
    root: &Path,
    args: &DrillArgs,
    confirm: impl FnOnce(&str) -> bool,
) -> Result<Option<Drilled>, Error> {
    let env = one_environment(root, &args.environment, None)?;
    let (lost, into) = regions(&env, args)?;
    let out = out_dir(root, args.out.clone());
    let (revision, revision_time) = lost_revision(root, &out, &env.name, &lost)?;
    let velero_namespace = revision
        .objects
        .iter()
        .find(|(id, _)| id.kind == "Schedule" && id.api_version == "velero.io/v1")
        .and_then(|(id, _)| id.namespace.clone())
        .unwrap_or_else(|| "velero".into());
    let mut drill = RegionDrill {
        lost: lost.clone(),
        into: into.clone(),
        revision,
        revision_time,
        velero_namespace,
        timeout: args.timeout,
        keep: args.keep,
        stop: Default::default(),
    };
    let rt = runtime()?;
    let kubeconfig = load_kubeconfig(args.kubeconfig.as_deref())?;
    let context = &env
        .regions
        .iter()
        .find(|r| r.name == into)
        .map(|r| r.context.clone())
        .unwrap_or_default();
    let target = rt.block_on(Cluster::connect(&kubeconfig, &into, context))?;
    if args.dry_run {
        let plan = rt.block_on(region_drill::plan_region(&target, &env, &drill))?;
        return Ok(Some(Drilled::RegionPlanned(plan)));
    }
    let (sets, _) = render_in_memory(root, std::slice::from_ref(&env), None, true)?;
    let refs: Vec<&RenderedSet> = sets.iter().collect();
    let prediction = what_if(&env, &refs, &Loss::Region(lost.clone()));
    let source = Source {
        root,
        out: &out,
        revision: None,
    };
    let survivors = rt.block_on(survivors(&kubeconfig, &env, &source, &lost, &prediction))?;
    let question = format!(
        "Declare {lost} lost and recover {} into two drill namespaces in {into} (from backup and from git; the live namespace is not touched)?",
        env.name
    );
    if !confirm(&question) {
        return Ok(None);
    }
    drill.stop = stop_on_signals(&rt);
    let mut report = rt.block_on(region_drill::region(&target, &env, &drill, &survivors))?;
    (report.evidence, report.evidence_error) =
        super::kept_or_why(super::keep_evidence(root, args, Evidence::Region(&report)));
    Ok(Some(Drilled::RegionRan(Box::new(report))))
}
