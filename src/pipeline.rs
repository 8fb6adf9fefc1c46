//! The commands end to end: render (load environments, render every region, then check, write
//! or commit the rendered tree) and validate (render in memory, check the policy).

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::environment::{self, Environment, EnvironmentError, Severity};
use crate::error::Error;
use crate::policy::{self, Finding, Loss, Survival};
use crate::render::{RenderedSet, Renderer, Warning};
use crate::store::{Store, Target};
use crate::templates::TemplateSet;
use crate::tree::{self, Change, Scope};

/// What to render and what to do with it.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    pub root: PathBuf,
    /// Empty: every environment.
    pub environments: Vec<String>,
    pub region: Option<String>,
    pub out: Option<PathBuf>,
    pub action: Action,
    pub force: bool,
    /// Commit even when the policy finds error-level violations.
    pub allow_violations: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write the tree to disk.
    Write,
    /// Write, then commit to the checked-out branch.
    Commit,
    /// Commit to another branch only.
    Branch(String),
    /// Compare only.
    Check,
}

#[derive(Debug, Clone, Serialize)]
pub struct SetSummary {
    pub environment: String,
    pub region: String,
    pub digest: String,
    pub objects: usize,
    pub directory: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommitSummary {
    /// The commit id, or `None` when nothing changed.
    pub id: Option<String>,
    /// `HEAD` or `refs/heads/<branch>`.
    pub target: String,
}

/// What a render did.
#[derive(Debug, Clone, Serialize)]
pub struct RenderReport {
    pub out: PathBuf,
    pub sets: Vec<SetSummary>,
    /// Files added, changed or removed (or, with --check, that would be).
    pub changes: Vec<Change>,
    pub warnings: Vec<Warning>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitSummary>,
    /// With --check: whether the tree is up to date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub up_to_date: Option<bool>,
}

/// Loads the environments asked for (all when none is named), reporting every bad file.
pub fn load_environments(root: &Path, names: &[String]) -> Result<Vec<Environment>, Error> {
    let dir = if root == Path::new(".") {
        PathBuf::from("environments")
    } else {
        root.join("environments")
    };
    let found = environment::discover(&dir).map_err(|e| Error::Io {
        path: dir.clone(),
        message: e.to_string(),
    })?;
    if found.is_empty() {
        return Err(Error::NoEnvironments(dir));
    }
    let mut chosen = Vec::new();
    for name in names {
        match found.iter().find(|(n, _)| n == name) {
            Some(f) => chosen.push(f.clone()),
            None => {
                return Err(Error::UnknownEnvironment {
                    name: name.clone(),
                    available: found.iter().map(|(n, _)| n.clone()).collect(),
                });
            }
        }
    }
    if names.is_empty() {
        chosen = found;
    }
    chosen.dedup();
    let results: Vec<Result<Environment, EnvironmentError>> = chosen
        .par_iter()
        .map(|(_, path)| environment::load(path))
        .collect();
    let (ok, bad): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    if !bad.is_empty() {
        return Err(Error::Environments(
            bad.into_iter().filter_map(Result::err).collect(),
        ));
    }
    Ok(ok.into_iter().filter_map(Result::ok).collect())
}

/// Runs a render.
pub fn render(opts: &RenderOptions) -> Result<RenderReport, Error> {
    let environments = load_environments(&opts.root, &opts.environments)?;
    if let Some(region) = &opts.region
        && !environments
            .iter()
            .any(|e| e.regions.iter().any(|r| &r.name == region))
    {
        return Err(Error::UnknownRegion {
            name: region.clone(),
            available: environments
                .iter()
                .flat_map(|e| e.regions.iter().map(|r| r.name.clone()))
                .collect(),
        });
    }
    let gated = matches!(opts.action, Action::Commit | Action::Branch(_)) && !opts.allow_violations;
    let (sets, warnings) =
        render_in_memory(&opts.root, &environments, opts.region.as_deref(), gated)?;
    if gated {
        let blocking: Vec<Finding> = environments
            .iter()
            .flat_map(|e| policy::validate(e, &sets_of(&sets, e)))
            .filter(|f| f.severity == Severity::Error && f.waived.is_none())
            .collect();
        if !blocking.is_empty() {
            return Err(Error::PolicyGate(blocking));
        }
    }

    let out = opts.out.clone().unwrap_or_else(|| {
        if opts.root == Path::new(".") {
            PathBuf::from("rendered")
        } else {
            opts.root.join("rendered")
        }
    });
    let scope = Scope {
        dirs: environments
            .iter()
            .flat_map(|e| match &opts.region {
                None => vec![PathBuf::from(&e.name)],
                Some(r) if e.regions.iter().any(|x| &x.name == r) => {
                    vec![Path::new(&e.name).join(r)]
                }
                Some(_) => vec![],
            })
            .collect(),
        prune_environments: opts.environments.is_empty() && opts.region.is_none(),
    };
    let desired = tree::desired(&sets);
    let mut report = RenderReport {
        out: out.clone(),
        sets: summaries(&sets, &out),
        changes: Vec::new(),
        warnings,
        commit: None,
        up_to_date: None,
    };

    match &opts.action {
        Action::Branch(branch) => {
            let store = Store::discover(&opts.root)?;
            let out_rel = store.relative(&out)?;
            let id = store.commit(
                &Target::Branch(branch.clone()),
                &out_rel,
                &scope,
                &desired,
                &commit_message(&store, opts, &sets),
            )?;
            report.commit = Some(CommitSummary {
                id: id.map(|i| i.to_string()),
                target: format!("refs/heads/{branch}"),
            });
        }
        Action::Check => {
            let existing = tree::existing(&out, &scope)?;
            report.changes = tree::changes(&existing, &desired);
            report.up_to_date = Some(report.changes.is_empty());
        }
        Action::Write | Action::Commit => {
            let store = match opts.action {
                Action::Commit => Some(Store::discover(&opts.root)?),
                _ => None,
            };
            let out_rel = match &store {
                Some(s) => Some(s.relative(&out)?),
                None => None,
            };
            let existing = tree::existing(&out, &scope)?;
            report.changes = tree::changes(&existing, &desired);
            let edits = tree::hand_edits(&existing, &report.changes);
            if !edits.is_empty() && !opts.force {
                let shown = edits
                    .into_iter()
                    .map(|mut e| {
                        e.path = out.join(&e.path);
                        e
                    })
                    .collect();
                return Err(Error::HandEdits(shown));
            }
            tree::apply(&out, &desired, &report.changes)?;
            if let (Some(store), Some(out_rel)) = (store, out_rel) {
                let message = commit_message(&store, opts, &sets);
                let id = store.commit(&Target::Head, &out_rel, &scope, &desired, &message)?;
                report.commit = Some(CommitSummary {
                    id: id.map(|i| i.to_string()),
                    target: "HEAD".into(),
                });
            }
        }
    }
    Ok(report)
}

fn render_in_memory(
    root: &Path,
    environments: &[Environment],
    region: Option<&str>,
    keep_objects: bool,
) -> Result<(Vec<RenderedSet>, Vec<Warning>), Error> {
    let templates = TemplateSet::with_overrides(&root.join("templates"))?;
    let renderer = Renderer::new(templates)
        .map_err(|e| Error::Render(vec![e]))?
        .keep_objects(keep_objects);
    renderer
        .render_all(environments, region)
        .map_err(Error::Render)
}

fn sets_of<'a>(sets: &'a [RenderedSet], env: &Environment) -> Vec<&'a RenderedSet> {
    sets.iter().filter(|s| s.environment == env.name).collect()
}

/// What to validate.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    pub root: PathBuf,
    pub environments: Vec<String>,
    pub strict: bool,
    pub lose: Option<Loss>,
}

/// What validate found.
#[derive(Debug, Clone, Serialize)]
pub struct ValidateReport {
    pub findings: Vec<Finding>,
    pub strict: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lose: Option<Loss>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what_if: Option<Vec<Survival>>,
}

impl ValidateReport {
    /// Whether the run fails: an unwaived error (or warning, with --strict), or a loss the
    /// environment does not survive.
    pub fn failed(&self) -> bool {
        let blocking = |f: &Finding| {
            f.waived.is_none()
                && (f.severity == Severity::Error
                    || (self.strict && f.severity == Severity::Warning))
        };
        self.findings.iter().any(blocking)
            || self
                .what_if
                .as_ref()
                .is_some_and(|w| w.iter().any(|s| !s.holds))
    }
}

/// Runs the policy over environments and their rendered objects (rendered in memory).
pub fn validate(opts: &ValidateOptions) -> Result<ValidateReport, Error> {
    let environments = load_environments(&opts.root, &opts.environments)?;
    let unknown: Vec<String> = environments
        .iter()
        .flat_map(|e| {
            policy::unknown_rule_ids(e)
                .into_iter()
                .map(move |(id, hint)| {
                    format!(
                        "{}: spec.policy: unknown rule `{id}`{}",
                        e.file.display(),
                        hint.map(|h| format!("; {h}")).unwrap_or_default()
                    )
                })
        })
        .collect();
    if !unknown.is_empty() {
        return Err(Error::Policy(unknown));
    }
    if let Some(loss) = &opts.lose {
        let known = environments.iter().any(|e| match loss {
            Loss::Region(r) => e.regions.iter().any(|x| &x.name == r),
            Loss::Zone(z) => e.regions.iter().any(|x| x.zones.contains(z)),
        });
        if !known {
            let (what, name, available): (&str, &String, Vec<String>) = match loss {
                Loss::Region(r) => (
                    "region",
                    r,
                    environments
                        .iter()
                        .flat_map(|e| e.regions.iter().map(|x| x.name.clone()))
                        .collect(),
                ),
                Loss::Zone(z) => (
                    "zone",
                    z,
                    environments
                        .iter()
                        .flat_map(|e| e.regions.iter().flat_map(|x| x.zones.clone()))
                        .collect(),
                ),
            };
            return Err(Error::Policy(vec![format!(
                "--lose {what}={name}: no such {what} in the selected environments; available: {}",
                available.join(", ")
            )]));
        }
    }
    let (sets, _) = render_in_memory(&opts.root, &environments, None, true)?;
    let mut findings = Vec::new();
    let mut what_if = Vec::new();
    for env in &environments {
        let mine = sets_of(&sets, env);
        findings.extend(policy::validate(env, &mine));
        if let Some(loss) = &opts.lose {
            what_if.extend(policy::what_if(env, &mine, loss));
        }
    }
    Ok(ValidateReport {
        findings,
        strict: opts.strict,
        lose: opts.lose.clone(),
        what_if: opts.lose.as_ref().map(|_| what_if),
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io {
            path: PathBuf::from("tokio runtime"),
            message: e.to_string(),
        })
}

fn one_environment(root: &Path, name: &str, region: Option<&String>) -> Result<Environment, Error> {
    let env = load_environments(root, std::slice::from_ref(&name.to_string()))?
        .pop()
        .ok_or_else(|| Error::NoEnvironments(root.join("environments")))?;
    if let Some(region) = region
        && !env.regions.iter().any(|r| &r.name == region)
    {
        return Err(Error::UnknownRegion {
            name: region.clone(),
            available: env.regions.iter().map(|r| r.name.clone()).collect(),
        });
    }
    Ok(env)
}

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
    opts: &crate::status::StatusOptions,
    environment: &str,
) -> Result<crate::status::StatusReport, Error> {
    let env = one_environment(&opts.root, environment, None)?;
    runtime()?.block_on(crate::status::status(opts, &env))
}

pub fn history(
    opts: &crate::status::StatusOptions,
    environment: &str,
    limit: usize,
) -> Result<Vec<crate::status::HistoryEntry>, Error> {
    let env = one_environment(&opts.root, environment, None)?;
    runtime()?.block_on(crate::status::history(opts, &env, limit))
}

/// Runs `diff` for one environment on a runtime of its own (the rest of the program is sync).
pub fn diff(opts: &crate::plan::DiffOptions) -> Result<crate::plan::DiffReport, Error> {
    let env = one_environment(&opts.root, &opts.environment, opts.region.as_ref())?;
    runtime()?.block_on(crate::plan::diff(opts, &env))
}

fn summaries(sets: &[RenderedSet], out: &Path) -> Vec<SetSummary> {
    let mut v: Vec<SetSummary> = sets
        .iter()
        .map(|s| SetSummary {
            environment: s.environment.clone(),
            region: s.region.clone(),
            digest: s.digest.clone(),
            objects: s.objects.len(),
            directory: out.join(&s.environment).join(&s.region),
        })
        .collect();
    v.sort_by(|a, b| (&a.environment, &a.region).cmp(&(&b.environment, &b.region)));
    v
}

fn commit_message(store: &Store, opts: &RenderOptions, sets: &[RenderedSet]) -> String {
    let mut envs: Vec<&str> = sets.iter().map(|s| s.environment.as_str()).collect();
    envs.sort();
    envs.dedup();
    let mut lines: Vec<String> = sets
        .iter()
        .map(|s| format!("{}/{} {}", s.environment, s.region, s.digest))
        .collect();
    lines.sort();
    let source =
        store.source_revision(&[opts.root.join("environments"), opts.root.join("templates")]);
    format!(
        "render: {}\n\n{}\n\nHadr-Source-Revision: {source}\nHadr-Version: {}\n",
        envs.join(", "),
        lines.join("\n"),
        env!("CARGO_PKG_VERSION")
    )
}
