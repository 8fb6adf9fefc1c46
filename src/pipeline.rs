//! The render command end to end: load environments, render every region, then check, write
//! or commit the rendered tree.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::environment::{self, Environment, EnvironmentError};
use crate::error::Error;
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
    let templates = TemplateSet::with_overrides(&opts.root.join("templates"))?;
    let renderer = Renderer::new(templates).map_err(|e| Error::Render(vec![e]))?;
    let (sets, warnings) = renderer
        .render_all(&environments, opts.region.as_deref())
        .map_err(Error::Render)?;

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
            let edits = tree::hand_edits(&existing);
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
            report.changes = tree::changes(&existing, &desired);
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
