//! What runs where: per region the deployed revision, its record and drift (`status`), and the
//! git history of an environment's rendered tree, marked where each region is now (`history`).

use std::path::PathBuf;

use serde::Serialize;

use crate::cluster::{Cluster, load_kubeconfig};
use crate::environment::Environment;
use crate::error::Error;
use crate::plan::{DiffOptions, Summary};
use crate::revision::store::Store;
use crate::rollout::{Record, read_history};

#[derive(Debug, Clone, Serialize)]
pub struct RegionStatus {
    pub region: String,
    pub context: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployed: Option<Record>,
    /// Live versus the deployed revision: `none`, `drifted` or `unknown` (not a git revision,
    /// or nothing deployed).
    pub drift: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift_summary: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub environment: String,
    pub regions: Vec<RegionStatus>,
}

pub struct StatusOptions {
    pub root: PathBuf,
    pub out: Option<PathBuf>,
    pub kubeconfig: Option<PathBuf>,
}

/// Reads each region's record and diffs the live objects against the recorded revision.
pub async fn status(opts: &StatusOptions, env: &Environment) -> Result<StatusReport, Error> {
    let kubeconfig = load_kubeconfig(opts.kubeconfig.as_deref())?;
    let mut regions = Vec::new();
    for r in &env.regions {
        let mut s = RegionStatus {
            region: r.name.clone(),
            context: r.context.clone(),
            deployed: None,
            drift: "unknown".into(),
            drift_summary: None,
            error: None,
        };
        match Cluster::connect(&kubeconfig, &r.name, &r.context).await {
            Err(e) => s.error = Some(e.to_string()),
            Ok(cluster) => match read_history(&cluster, env).await {
                Err(e) => s.error = Some(e.to_string()),
                Ok(history) => s.deployed = history.last().cloned(),
            },
        }
        if let Some(record) = &s.deployed
            && record.revision != "working-tree"
        {
            let diff = DiffOptions {
                root: opts.root.clone(),
                out: opts.out.clone(),
                environment: env.name.clone(),
                region: Some(r.name.clone()),
                revision: Some(record.revision.clone()),
                kubeconfig: opts.kubeconfig.clone(),
                context: None,
                force_conflicts: true,
                concurrency: 16,
            };
            match crate::plan::diff(&diff, env).await {
                Ok(report) => {
                    let summary = report.total.clone();
                    s.drift = if summary.differs() { "drifted" } else { "none" }.into();
                    s.drift_summary = Some(summary);
                }
                Err(e) => s.error = Some(e.messages().join("; ")),
            }
        }
        regions.push(s);
    }
    Ok(StatusReport {
        environment: env.name.clone(),
        regions,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub commit: String,
    pub time: i64,
    pub summary: String,
    /// Region -> set digest at this commit.
    pub digests: std::collections::BTreeMap<String, String>,
    /// Regions whose deployed revision is this commit.
    pub deployed_in: Vec<String>,
}

/// The commits that changed the environment's rendered tree, newest first, each marked with
/// the regions that run it now (regions that cannot be reached are left unmarked).
pub async fn history(
    opts: &StatusOptions,
    env: &Environment,
    limit: usize,
) -> Result<Vec<HistoryEntry>, Error> {
    let store = Store::discover(&opts.root)?;
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| opts.root.join("rendered"));
    let env_dir = store.relative(&out)?.join(&env.name);
    let commits = store.commits_touching(&env_dir, limit)?;
    let mut deployed: Vec<(String, String)> = Vec::new();
    if let Ok(kubeconfig) = load_kubeconfig(opts.kubeconfig.as_deref()) {
        for r in &env.regions {
            if let Ok(cluster) = Cluster::connect(&kubeconfig, &r.name, &r.context).await
                && let Ok(h) = read_history(&cluster, env).await
                && let Some(last) = h.last()
            {
                deployed.push((r.name.clone(), last.revision.clone()));
            }
        }
    }
    let mut entries = Vec::new();
    for (commit, time, summary) in commits {
        let mut digests = std::collections::BTreeMap::new();
        for r in &env.regions {
            if let Ok(index) =
                crate::plan::revision_index(&opts.root, &out, &env.name, &r.name, Some(&commit))
            {
                digests.insert(r.name.clone(), index.digest);
            }
        }
        let deployed_in = deployed
            .iter()
            .filter(|(_, rev)| *rev == commit)
            .map(|(r, _)| r.clone())
            .collect();
        entries.push(HistoryEntry {
            commit,
            time,
            summary,
            digests,
            deployed_in,
        });
    }
    Ok(entries)
}
