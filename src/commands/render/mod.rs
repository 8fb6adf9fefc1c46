//! `kubectl hadr render`: load environments, render every region, then check, write or commit
//! the rendered tree.
//!
//! A render goes through phases, each a function over one `RegionJob` per region of the
//! selection: select (environments recalled from the cache or loaded, the output directory
//! listed), recall (regions the cache proves unchanged), load (what is left to render), render
//! and stage, policy gate, compare, write, save the cache, commit.

mod save;
mod select;
mod stage;

use std::path::{Path, PathBuf};

use crate::commands::select::*;
use crate::digest::hex;
use crate::environment::{Environment, Severity};
use crate::error::{Error, Gated};
use crate::policy::{self, Finding};
use crate::render::cache::{RegionEntry, Stat, Verified};
use crate::render::templates::TemplateSet;
use crate::render::{RenderedSet, Renderer, Warning, merge_warnings};
use crate::report::{CommitSummary, RenderReport, SetSummary};
use crate::revision::store::{Store, Target};
use crate::revision::tree::{self, Change};

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

/// One region of the selection, from what the cache says of it to what was rendered of it.
struct RegionJob {
    /// Its environment (an index into `Selection::known`) and its index among that
    /// environment's regions.
    env: usize,
    region: usize,
    /// Proven unchanged, so not rendered: what the cache knows of it, and what checking its
    /// files saw.
    clean: Option<(RegionEntry, Verified)>,
    /// Rendered this run.
    rendered: Option<Rendered>,
}

/// A region rendered this run.
struct Rendered {
    set: RenderedSet,
    warnings: Vec<Warning>,
    /// What the cache records of its files, when its directory was new and written while
    /// rendering (staged); such a directory is never compared, all its files are added.
    staged: Option<Vec<FileEntry>>,
}

/// What the cache records of one file a render wrote: name, sha256 and metadata.
type FileEntry = (String, String, Option<Stat>);

/// The rendered tree as it is and as it should be, outside the regions proven unchanged and
/// the staged ones.
struct Comparison {
    desired: tree::Files,
    existing: tree::Files,
    changes: Vec<Change>,
}

/// Runs a render.
///
/// With a cache (see `cache`), an environment file that did not change is not parsed again,
/// and a region whose inputs are those of its last render and whose files are still what that
/// render wrote is neither rendered nor read again; every other region goes the full way
/// (render, compare with the files, refuse hand edits, write).
pub fn render(opts: &RenderOptions) -> Result<RenderReport, Error> {
    let chosen = discover_environments(&opts.root, &opts.environments)?;
    let gated = matches!(opts.action, Action::Commit | Action::Branch(_)) && !opts.allow_violations;
    let out = output_dir(opts);
    if let Action::Branch(branch) = &opts.action {
        return render_to_branch(opts, branch, &chosen, gated, out);
    }

    let renderer = renderer(&opts.root, gated)?;
    let templates = hex(renderer.templates_digest());
    let mut run = select::select(opts, &out, &chosen, &renderer, &templates, gated)?;
    // A commit needs the bytes of every file; reading them, it checks them all by content.
    run.recall_regions(&out, opts.action == Action::Commit);
    run.load_dirty(&renderer, &templates)?;
    let staging = tree::Staging::new(&out);
    let writes = matches!(opts.action, Action::Write | Action::Commit);
    stage::render_and_stage(&renderer, &mut run, &staging, writes)?;
    let gates_passed = stage::policy_gate(&run)?;
    let compared = compare(&out, &run)?;
    let mut report = report(&out, &run.jobs, &compared, &staging);
    if opts.action == Action::Check {
        report.up_to_date = Some(report.changes.is_empty());
        return Ok(report);
    }

    // Before anything is written: a commit outside a repository fails with the tree untouched.
    let store = match opts.action {
        Action::Commit => Some(Store::discover(&opts.root)?),
        _ => None,
    };
    let out_rel = match &store {
        Some(s) => Some(s.relative(&out)?),
        None => None,
    };
    let written = write(opts, &out, &compared, staging)?;
    save::save_cache(&out, &mut run, &compared.desired, &written, gates_passed);
    if let (Some(store), Some(out_rel)) = (store, out_rel) {
        let desired = committed_files(compared.desired, run.jobs);
        let message = commit_message(&store, opts, &report.sets);
        let id = store.commit(&Target::Head, &out_rel, &run.scope, &desired, &message)?;
        report.commit = Some(CommitSummary {
            id: id.map(|i| i.to_string()),
            target: "HEAD".into(),
        });
    }
    Ok(report)
}

/// `--out`, else `rendered` under the root (one rule for every command).
fn output_dir(opts: &RenderOptions) -> PathBuf {
    crate::revision::out_dir(&opts.root, opts.out.clone())
}

/// What the render changes in the tree, reading only the directories of regions it rendered
/// and did not stage.
fn compare(out: &Path, run: &select::Selection) -> Result<Comparison, Error> {
    let clean_dirs: std::collections::BTreeSet<PathBuf> = run
        .jobs
        .iter()
        .filter_map(|j| j.clean.as_ref())
        .map(|(e, _)| Path::new(&e.environment).join(&e.region))
        .collect();
    let unstaged: Vec<&RenderedSet> = run
        .jobs
        .iter()
        .filter_map(|j| j.rendered.as_ref())
        .filter(|r| r.staged.is_none())
        .map(|r| &r.set)
        .collect();
    let desired = tree::desired(&unstaged);
    let existing = tree::read(
        out,
        tree::files_of(&run.listing, |dir| !clean_dirs.contains(dir)),
    )?;
    let changes = tree::changes(&existing, &desired);
    Ok(Comparison {
        desired,
        existing,
        changes,
    })
}

/// The report of a render: every region's set, rendered or proven unchanged, with the
/// warnings its templates gave, and the changes (the staged directories' files all added).
fn report(
    out: &Path,
    jobs: &[RegionJob],
    compared: &Comparison,
    staging: &tree::Staging,
) -> RenderReport {
    let rendered = jobs.iter().filter_map(|j| j.rendered.as_ref());
    let clean = jobs.iter().filter_map(|j| j.clean.as_ref());
    let mut summaries: Vec<SetSummary> = rendered
        .clone()
        .map(|r| &r.set)
        .map(|s| summary(out, &s.environment, &s.region, &s.digest, s.objects.len()))
        .chain(
            clean
                .clone()
                .map(|(e, _)| summary(out, &e.environment, &e.region, &e.digest, e.objects)),
        )
        .collect();
    summaries.sort_by(|a, b| (&a.environment, &a.region).cmp(&(&b.environment, &b.region)));
    let warnings = merge_warnings(
        rendered
            .flat_map(|r| &r.warnings)
            .chain(clean.flat_map(|(e, _)| &e.warnings))
            .cloned()
            .collect(),
    );
    RenderReport {
        out: out.to_path_buf(),
        sets: summaries,
        changes: tree::with_added(compared.changes.clone(), staging),
        warnings,
        commit: None,
        up_to_date: None,
    }
}

/// Refuses files edited by hand (unless `--force`), then writes the tree.
fn write(
    opts: &RenderOptions,
    out: &Path,
    compared: &Comparison,
    staging: tree::Staging,
) -> Result<tree::Written, Error> {
    let edits = tree::hand_edits(&compared.existing, &compared.changes);
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
    Ok(tree::apply(
        out,
        &compared.desired,
        &compared.changes,
        staging,
    )?)
}

/// Every file of the selection, for the commit: those compared, those of the regions proven
/// unchanged (read while proving them) and those of the staged regions.
fn committed_files(mut desired: tree::Files, jobs: Vec<RegionJob>) -> tree::Files {
    let mut staged: Vec<RenderedSet> = Vec::new();
    for job in jobs {
        if let Some((entry, v)) = job.clean {
            let dir = Path::new(&entry.environment).join(&entry.region);
            desired.extend(v.bytes.into_iter().map(|(n, b)| (dir.join(n), b)));
        }
        if let Some(r) = job.rendered.filter(|r| r.staged.is_some()) {
            staged.push(r.set);
        }
    }
    desired.extend(tree::desired(&staged.iter().collect::<Vec<_>>()));
    desired
}

/// `render --branch`: the whole selection rendered in memory and committed to the branch; the
/// working tree (and so the cache, which describes it) is not touched.
fn render_to_branch(
    opts: &RenderOptions,
    branch: &str,
    chosen: &[(String, PathBuf)],
    gated: bool,
    out: PathBuf,
) -> Result<RenderReport, Error> {
    let environments = load_files(chosen)?;
    let names: Vec<(&str, Vec<&str>)> = environments
        .iter()
        .map(|e| {
            (
                e.name.as_str(),
                e.regions.iter().map(|r| r.name.as_str()).collect(),
            )
        })
        .collect();
    let scope = select::selection_scope(opts, &names)?;
    let (sets, warnings) =
        render_in_memory(&opts.root, &environments, opts.region.as_deref(), gated)?;
    if gated {
        gate(environments.iter(), &sets, Gated::Commit)?;
    }
    let mut summaries: Vec<SetSummary> = sets
        .iter()
        .map(|s| summary(&out, &s.environment, &s.region, &s.digest, s.objects.len()))
        .collect();
    summaries.sort_by(|a, b| (&a.environment, &a.region).cmp(&(&b.environment, &b.region)));
    let store = Store::discover(&opts.root)?;
    let out_rel = store.relative(&out)?;
    let id = store.commit(
        &Target::Branch(branch.to_string()),
        &out_rel,
        &scope,
        &tree::desired(&sets.iter().collect::<Vec<_>>()),
        &commit_message(&store, opts, &summaries),
    )?;
    Ok(RenderReport {
        out,
        sets: summaries,
        changes: Vec::new(),
        warnings,
        commit: Some(CommitSummary {
            id: id.map(|i| i.to_string()),
            target: format!("refs/heads/{branch}"),
        }),
        up_to_date: None,
    })
}

pub(crate) fn renderer(root: &Path, keep_objects: bool) -> Result<Renderer, Error> {
    let templates =
        TemplateSet::with_overrides(&root.join("templates"))?.with_crds(&root.join("crds"))?;
    Ok(Renderer::new(templates)
        .map_err(|e| Error::Render(vec![e]))?
        .keep_objects(keep_objects))
}

pub(crate) fn render_in_memory(
    root: &Path,
    environments: &[Environment],
    region: Option<&str>,
    keep_objects: bool,
) -> Result<(Vec<RenderedSet>, Vec<Warning>), Error> {
    renderer(root, keep_objects)?
        .render_all(environments, region)
        .map_err(Error::Render)
}

/// The policy gate of `--commit` and `--branch`: no unwaived error-level finding.
pub(crate) fn gate<'a>(
    environments: impl Iterator<Item = &'a Environment>,
    sets: &[RenderedSet],
    action: Gated,
) -> Result<(), Error> {
    gate_by(environments, |e| sets_of(sets, e), action)
}

/// `gate`, with the sets of each environment from `sets_of`.
fn gate_by<'a, 's>(
    environments: impl Iterator<Item = &'a Environment>,
    sets_of: impl Fn(&Environment) -> Vec<&'s RenderedSet>,
    action: Gated,
) -> Result<(), Error> {
    let blocking: Vec<Finding> = environments
        .flat_map(|e| policy::validate(e, &sets_of(e)))
        .filter(|f| f.severity == Severity::Error && f.waived.is_none())
        .collect();
    if blocking.is_empty() {
        Ok(())
    } else {
        Err(Error::PolicyGate {
            action,
            findings: blocking,
        })
    }
}

pub(crate) fn sets_of<'a>(sets: &'a [RenderedSet], env: &Environment) -> Vec<&'a RenderedSet> {
    sets.iter().filter(|s| s.environment == env.name).collect()
}

fn summary(out: &Path, env: &str, region: &str, digest: &str, objects: usize) -> SetSummary {
    SetSummary {
        environment: env.to_string(),
        region: region.to_string(),
        digest: digest.to_string(),
        objects,
        directory: out.join(env).join(region),
    }
}

fn commit_message(store: &Store, opts: &RenderOptions, sets: &[SetSummary]) -> String {
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
