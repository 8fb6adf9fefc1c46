//! `kubectl hadr render`: load environments, render every region, then check, write or commit
//! the rendered tree.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use std::collections::{BTreeMap, BTreeSet};

use crate::commands::select::*;
use crate::digest::{hex, sha256_hex};
use crate::environment::{Environment, Severity};
use crate::error::Error;
use crate::policy::{self, Finding};
use crate::render::cache::{self, Cache, EnvEntry, RegionEntry, Stat, Verified};
use crate::render::manifest::INDEX_FILE;
use crate::render::templates::TemplateSet;
use crate::render::{Job, RenderedSet, Renderer, Warning, merge_warnings};
use crate::revision::store::{Store, Target};
use crate::revision::tree::{self, Change, Scope};

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

/// The output directories a render owns, after checking that `--region` names a region of the
/// selection. `environments` are names with their region names.
fn selection_scope(
    opts: &RenderOptions,
    environments: &[(&str, Vec<&str>)],
) -> Result<Scope, Error> {
    if let Some(region) = &opts.region
        && !environments
            .iter()
            .any(|(_, rs)| rs.contains(&region.as_str()))
    {
        return Err(Error::UnknownRegion {
            name: region.clone(),
            available: environments
                .iter()
                .flat_map(|(_, rs)| rs.iter().map(|r| r.to_string()))
                .collect(),
        });
    }
    Ok(Scope {
        dirs: environments
            .iter()
            .flat_map(|(e, rs)| match &opts.region {
                None => vec![PathBuf::from(e)],
                Some(r) if rs.contains(&r.as_str()) => vec![Path::new(e).join(r)],
                Some(_) => vec![],
            })
            .collect(),
        prune_environments: opts.environments.is_empty() && opts.region.is_none(),
    })
}

/// An environment of a render: what the cache recalls of it, or what loading it gave, and the
/// environment itself once loaded.
struct Known {
    entry: EnvEntry,
    env: Option<Environment>,
    /// Whether recalling it read a file (see `Cache::save`).
    read_any: bool,
}

impl Known {
    fn loaded(env: Environment, renderer: &Renderer, templates: &str) -> Known {
        let inputs = env
            .regions
            .iter()
            .map(|r| hex(&renderer.input_digest(&env, r)))
            .collect();
        Known {
            entry: EnvEntry::of(&env, templates, inputs),
            env: Some(env),
            read_any: false,
        }
    }
}

/// Opens the cache, and gets each chosen environment from it when the files it was read from
/// are unchanged, else by loading it (every bad file reported). With `--force`, or when the
/// output directory is not there (every region will be rendered, so every environment
/// loaded), what the cache holds is not even read.
fn recall_or_load(
    opts: &RenderOptions,
    out: &Path,
    chosen: &[(String, PathBuf)],
    renderer: &Renderer,
    templates: &str,
) -> Result<(Option<Cache>, Vec<Known>), Error> {
    let cache = Cache::open(&opts.root, out, !opts.force && out.is_dir());
    let recalled: Vec<Option<(EnvEntry, bool)>> = chosen
        .par_iter()
        .map(|(_, path)| cache.as_ref()?.recall(path, templates))
        .collect();
    let missing: Vec<usize> = (0..chosen.len())
        .filter(|&i| recalled[i].is_none())
        .collect();
    let to_load: Vec<(String, PathBuf)> = missing.iter().map(|&i| chosen[i].clone()).collect();
    let mut loaded: BTreeMap<usize, Known> = missing
        .into_iter()
        .zip(load_files(&to_load)?)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|(i, env)| (i, Known::loaded(env, renderer, templates)))
        .collect();
    let known: Vec<Known> = recalled
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            Some((entry, read_any)) => Some(Known {
                entry,
                env: None,
                read_any,
            }),
            None => loaded.remove(&i),
        })
        .collect();
    Ok((cache, known))
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
    let out = opts.out.clone().unwrap_or_else(|| {
        if opts.root == Path::new(".") {
            PathBuf::from("rendered")
        } else {
            opts.root.join("rendered")
        }
    });
    if let Action::Branch(branch) = &opts.action {
        let environments = load_files(&chosen)?;
        let names: Vec<(&str, Vec<&str>)> = environments
            .iter()
            .map(|e| {
                (
                    e.name.as_str(),
                    e.regions.iter().map(|r| r.name.as_str()).collect(),
                )
            })
            .collect();
        let scope = selection_scope(opts, &names)?;
        return render_to_branch(opts, branch, &environments, gated, out, &scope);
    }

    let renderer = renderer(&opts.root, gated)?;
    let templates = hex(renderer.templates_digest());
    // The cache and the environments, and meanwhile the listing of the output directory when
    // its scope does not depend on them (no `--region`: one directory per environment file).
    let guess = opts.region.is_none().then(|| Scope {
        dirs: chosen.iter().map(|(name, _)| PathBuf::from(name)).collect(),
        prune_environments: opts.environments.is_empty(),
    });
    let (prepared, early_listing) = rayon::join(
        || recall_or_load(opts, &out, &chosen, &renderer, &templates),
        || guess.as_ref().map(|g| tree::scan(&out, g)),
    );
    let (cache, mut known) = prepared?;
    let names: Vec<(&str, Vec<&str>)> = known
        .iter()
        .map(|k| {
            let regions = k.entry.regions.iter().map(String::as_str).collect();
            (k.entry.name.as_str(), regions)
        })
        .collect();
    let scope = selection_scope(opts, &names)?;
    drop(names);

    // (environment, region) indexes into `known`.
    let jobs: Vec<(usize, usize)> = known
        .iter()
        .enumerate()
        .flat_map(|(e, k)| {
            k.entry
                .regions
                .iter()
                .enumerate()
                .filter(|(_, r)| opts.region.as_ref().is_none_or(|o| o == *r))
                .map(move |(r, _)| (e, r))
        })
        .collect();
    // Environments whose policy gate has to run on their rendered objects.
    let gate_keys: Vec<String> = known
        .iter()
        .enumerate()
        .map(|(e, k)| {
            let mine: Vec<&str> = jobs
                .iter()
                .filter(|(je, _)| *je == e)
                .map(|&(_, r)| k.entry.inputs[r].as_str())
                .collect();
            cache::gate_key(&k.entry.digest, &mine)
        })
        .collect();
    let must_gate: Vec<bool> = gate_keys
        .iter()
        .map(|key| gated && !cache.as_ref().is_some_and(|c| c.gate_passed(key)))
        .collect();

    let listing = match (early_listing, &guess) {
        (Some(listing), Some(g)) if g.dirs == scope.dirs => listing?,
        _ => tree::scan(&out, &scope)?,
    };
    // A commit needs the bytes of every file; reading them, it checks them all by content.
    let want_bytes = opts.action == Action::Commit;
    let verified: Vec<Option<Verified>> = jobs
        .par_iter()
        .map(|&(e, r)| {
            let cache = cache.as_ref()?;
            if must_gate[e] {
                return None;
            }
            let k = &known[e].entry;
            let entry = cache.lookup(&k.name, &k.regions[r], &k.inputs[r])?;
            let dir = Path::new(&k.name).join(&k.regions[r]);
            let files = listing.get(&dir).map_or(&[][..], Vec::as_slice);
            cache.verify(entry, &out.join(&dir), files, want_bytes)
        })
        .collect();

    // Load the recalled environments that have a region to render or a gate to pass.
    let reload: BTreeSet<usize> = jobs
        .iter()
        .zip(&verified)
        .filter(|(_, v)| v.is_none())
        .map(|(&(e, _), _)| e)
        .chain((0..known.len()).filter(|&e| must_gate[e]))
        .filter(|&e| known[e].env.is_none())
        .collect();
    let reload_files: Vec<(String, PathBuf)> = reload
        .iter()
        .map(|&e| (known[e].entry.name.clone(), known[e].entry.file.clone()))
        .collect();
    let reloaded: Vec<Known> = load_files(&reload_files)?
        .into_par_iter()
        .map(|env| Known::loaded(env, &renderer, &templates))
        .collect();
    for (e, fresh) in reload.into_iter().zip(reloaded) {
        let same = |a: &EnvEntry, b: &EnvEntry| {
            a.regions == b.regions
                && a.inputs == b.inputs
                && a.digest == b.digest
                && a.sources.len() == b.sources.len()
                && a.sources
                    .iter()
                    .zip(&b.sources)
                    .all(|(x, y)| x.path == y.path && x.sha256 == y.sha256)
        };
        if !same(&fresh.entry, &known[e].entry) {
            return Err(Error::Io {
                path: fresh.entry.file,
                message: "changed while rendering; render again".into(),
            });
        }
        known[e].env = fresh.env;
    }
    let dirty: Vec<Job> = jobs
        .iter()
        .zip(&verified)
        .filter(|(_, v)| v.is_none())
        .map(|(&(e, r), _)| {
            let env = known[e].env.as_ref();
            env.and_then(|env| Some((env, env.regions.get(r)?)))
                .ok_or_else(|| Error::Io {
                    path: known[e].entry.file.clone(),
                    message: "not loaded (a bug: please report it)".into(),
                })
        })
        .collect::<Result<_, _>>()?;
    // A region directory that does not exist yet is written by the worker that renders it,
    // under a temporary name, while the other workers render: file creation is most of a
    // first render. It appears under its own name only once everything is rendered, checked
    // and written, and is removed if anything fails before.
    let writes = matches!(opts.action, Action::Write | Action::Commit);
    let fresh: Vec<bool> = jobs
        .iter()
        .zip(&verified)
        .filter(|(_, v)| v.is_none())
        .map(|(&(e, r), _)| {
            let k = &known[e].entry;
            writes && tree::absent(&listing, Path::new(&k.name), &k.regions[r])
        })
        .collect();
    let staging = tree::Staging::new(&out);
    let outputs = renderer
        .render_jobs_then(&dirty, |i, (set, _)| {
            if fresh[i] {
                stage_region(&staging, set)
            } else {
                Ok(None)
            }
        })
        .map_err(Error::Render)?;
    let mut sets = Vec::with_capacity(outputs.len());
    let mut region_warnings = Vec::with_capacity(outputs.len());
    // Per set: what the cache records of the files of a region written while rendering.
    let mut fresh_files: Vec<Option<Vec<FileEntry>>> = Vec::with_capacity(outputs.len());
    for ((set, warnings), written) in outputs {
        sets.push(set);
        region_warnings.push(warnings);
        fresh_files.push(written?);
    }
    let is_staged: Vec<bool> = fresh_files.iter().map(Option::is_some).collect();
    let gates_passed: Vec<String> = (0..known.len())
        .filter(|&e| must_gate[e] && cache.is_some())
        .map(|e| gate_keys[e].clone())
        .collect();
    gate(
        (0..known.len())
            .filter(|&e| must_gate[e])
            .filter_map(|e| known[e].env.as_ref()),
        &sets,
    )?;

    // The regions proven unchanged, with what the cache knows of them.
    let clean: Vec<(RegionEntry, Verified)> = jobs
        .iter()
        .zip(verified)
        .filter_map(|(&(e, r), v)| {
            let k = &known[e].entry;
            let entry = cache
                .as_ref()?
                .lookup(&k.name, &k.regions[r], &k.inputs[r])?;
            Some((entry.clone(), v?))
        })
        .collect();
    let clean_dirs: BTreeSet<PathBuf> = clean
        .iter()
        .map(|(e, _)| Path::new(&e.environment).join(&e.region))
        .collect();
    let mut summaries: Vec<SetSummary> = sets
        .iter()
        .map(|s| summary(&out, &s.environment, &s.region, &s.digest, s.objects.len()))
        .chain(
            clean
                .iter()
                .map(|(e, _)| summary(&out, &e.environment, &e.region, &e.digest, e.objects)),
        )
        .collect();
    summaries.sort_by(|a, b| (&a.environment, &a.region).cmp(&(&b.environment, &b.region)));
    let warnings = merge_warnings(
        region_warnings
            .iter()
            .flatten()
            .chain(clean.iter().flat_map(|(e, _)| &e.warnings))
            .cloned()
            .collect(),
    );
    let unstaged: Vec<&RenderedSet> = sets
        .iter()
        .zip(&is_staged)
        .filter_map(|(s, staged)| (!staged).then_some(s))
        .collect();
    let mut desired = tree::desired(&unstaged);
    let existing = tree::read(
        &out,
        tree::files_of(&listing, |dir| !clean_dirs.contains(dir)),
    )?;
    let changes = tree::changes(&existing, &desired);
    let mut report = RenderReport {
        out: out.clone(),
        sets: summaries,
        changes: tree::with_added(changes.clone(), &staging),
        warnings,
        commit: None,
        up_to_date: None,
    };
    if opts.action == Action::Check {
        report.up_to_date = Some(report.changes.is_empty());
        return Ok(report);
    }

    let store = match opts.action {
        Action::Commit => Some(Store::discover(&opts.root)?),
        _ => None,
    };
    let out_rel = match &store {
        Some(s) => Some(s.relative(&out)?),
        None => None,
    };
    let edits = tree::hand_edits(&existing, &changes);
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
    let written = tree::apply(&out, &desired, &changes, staging)?;
    let read_any = clean.iter().any(|(_, v)| v.read_any) || known.iter().any(|k| k.read_any);
    let keep_others = !scope.prune_environments;
    // Everything came from the cache and was proven by stat alone: it already says all this
    // run would write (the common re-render, where building and comparing it would cost more
    // than the rest).
    let untouched = |cache: &Cache| {
        sets.is_empty()
            && !read_any
            && gates_passed.is_empty()
            && known.iter().all(|k| k.env.is_none())
            && (keep_others || cache.holds_only(clean.len(), known.len()))
    };
    if let Some(cache) = cache.filter(|c| !untouched(c)) {
        let inputs: BTreeMap<(&str, &str), &str> = known
            .iter()
            .flat_map(|k| {
                k.entry
                    .regions
                    .iter()
                    .zip(&k.entry.inputs)
                    .map(|(r, i)| ((k.entry.name.as_str(), r.as_str()), i.as_str()))
            })
            .collect();
        // In parallel: each entry hashes its index and stats the files `apply` has no
        // metadata of (those renamed into place).
        let rendered: Vec<RegionEntry> = sets
            .par_iter()
            .zip(&region_warnings)
            .zip(&mut fresh_files)
            .map(|((set, warnings), files)| {
                let input = inputs
                    .get(&(set.environment.as_str(), set.region.as_str()))
                    .copied()
                    .unwrap_or_default();
                let files = files
                    .take()
                    .unwrap_or_else(|| written_files(&out, set, &desired, &written));
                rendered_entry(set, warnings.clone(), files, input)
            })
            .collect();
        let kept = clean.iter().map(|(entry, v)| RegionEntry {
            stat: v.stat.clone(),
            ..entry.clone()
        });
        let regions = kept.chain(rendered).collect();
        let environments = known.iter().map(|k| k.entry.clone()).collect();
        cache.save(regions, environments, gates_passed, read_any, keep_others);
    }
    if let (Some(store), Some(out_rel)) = (store, out_rel) {
        for (entry, v) in clean {
            let dir = Path::new(&entry.environment).join(&entry.region);
            desired.extend(v.bytes.into_iter().map(|(n, b)| (dir.join(n), b)));
        }
        let staged_sets: Vec<&RenderedSet> = sets
            .iter()
            .zip(&is_staged)
            .filter_map(|(s, staged)| staged.then_some(s))
            .collect();
        desired.extend(tree::desired(&staged_sets));
        let message = commit_message(&store, opts, &report.sets);
        let id = store.commit(&Target::Head, &out_rel, &scope, &desired, &message)?;
        report.commit = Some(CommitSummary {
            id: id.map(|i| i.to_string()),
            target: "HEAD".into(),
        });
    }
    Ok(report)
}

/// `render --branch`: the whole selection rendered in memory and committed to the branch; the
/// working tree (and so the cache, which describes it) is not touched.
fn render_to_branch(
    opts: &RenderOptions,
    branch: &str,
    environments: &[Environment],
    gated: bool,
    out: PathBuf,
    scope: &Scope,
) -> Result<RenderReport, Error> {
    let (sets, warnings) =
        render_in_memory(&opts.root, environments, opts.region.as_deref(), gated)?;
    if gated {
        gate(environments.iter(), &sets)?;
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
        scope,
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

/// What the cache records of one file a render wrote: name, sha256 and metadata.
type FileEntry = (String, String, Option<Stat>);

/// Writes a region that has no directory yet, whole (see `tree::Staging`), with what the
/// cache records of its files.
fn stage_region(
    staging: &tree::Staging,
    set: &RenderedSet,
) -> Result<Option<Vec<FileEntry>>, tree::TreeError> {
    let index = set.index().to_bytes();
    let files = set
        .objects
        .iter()
        .map(|o| (o.file.as_str(), o.bytes.as_bytes()))
        .chain([(INDEX_FILE, index.as_bytes())]);
    let rel = Path::new(&set.environment).join(&set.region);
    let Some(written) = staging.write(&rel, files)? else {
        return Ok(None);
    };
    let hashes = set
        .objects
        .iter()
        .map(|o| o.sha256.clone())
        .chain([sha256_hex(index.as_bytes())]);
    Ok(Some(
        written
            .into_iter()
            .zip(hashes)
            .map(|((name, meta), sha256)| (name, sha256, Stat::of(&meta)))
            .collect(),
    ))
}

/// What the cache records of the files of a region written by `tree::apply`.
fn written_files(
    out: &Path,
    set: &RenderedSet,
    desired: &tree::Files,
    written: &tree::Written,
) -> Vec<FileEntry> {
    let dir = Path::new(&set.environment).join(&set.region);
    // The objects' hashes are known; only the index is hashed here.
    let known: BTreeMap<&str, &str> = set
        .objects
        .iter()
        .map(|o| (o.file.as_str(), o.sha256.as_str()))
        .collect();
    desired
        .range(dir.clone()..)
        .take_while(|(p, _)| p.parent() == Some(&dir))
        .filter_map(|(path, bytes)| {
            let name = path.file_name()?.to_str()?;
            let sha256 = known
                .get(name)
                .map_or_else(|| sha256_hex(bytes), |s| s.to_string());
            let stat = match written.get(path) {
                Some(meta) => Stat::of(meta),
                None => std::fs::metadata(out.join(path))
                    .ok()
                    .and_then(|m| Stat::of(&m)),
            };
            Some((name.to_string(), sha256, stat))
        })
        .collect()
}

/// The cache entry of a region just rendered and written.
fn rendered_entry(
    set: &RenderedSet,
    warnings: Vec<Warning>,
    files: Vec<FileEntry>,
    input: &str,
) -> RegionEntry {
    RegionEntry {
        environment: set.environment.clone(),
        region: set.region.clone(),
        input: input.to_string(),
        digest: set.digest.clone(),
        objects: set.objects.len(),
        warnings,
        content: cache::content_digest(files.iter().map(|(n, h, _)| (OsStr::new(n), h.as_str()))),
        stat: cache::stat_digest(files.iter().map(|(n, _, s)| (OsStr::new(n), *s))),
    }
}

pub(crate) fn renderer(root: &Path, keep_objects: bool) -> Result<Renderer, Error> {
    let templates = TemplateSet::with_overrides(&root.join("templates"))?;
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
) -> Result<(), Error> {
    let blocking: Vec<Finding> = environments
        .flat_map(|e| policy::validate(e, &sets_of(sets, e)))
        .filter(|f| f.severity == Severity::Error && f.waived.is_none())
        .collect();
    if blocking.is_empty() {
        Ok(())
    } else {
        Err(Error::PolicyGate(blocking))
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
