//! The first phases of a render: select the environments and regions (recalled from the cache
//! or loaded), list the output directory, prove regions unchanged with the cache, and load the
//! environments that are left to render.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{RegionJob, RenderOptions};
use crate::commands::select::load_files;
use crate::digest::hex;
use crate::environment::Environment;
use crate::error::Error;
use crate::render::Renderer;
use crate::render::cache::{self, Cache, EnvEntry, RegionEntry, Verified};
use crate::revision::tree::{self, Scope};

/// What a render works on: its environments, one job per region, the directories it owns and
/// what they hold now.
pub(super) struct Selection {
    pub(super) cache: Option<Cache>,
    pub(super) known: Vec<Known>,
    pub(super) jobs: Vec<RegionJob>,
    pub(super) scope: Scope,
    pub(super) listing: tree::Listing,
}

/// An environment of a render: what the cache recalls of it, or what loading it gave, and the
/// environment itself once loaded.
pub(super) struct Known {
    pub(super) entry: EnvEntry,
    pub(super) env: Option<Environment>,
    /// Whether recalling it read a file (see `Cache::save`).
    pub(super) read_any: bool,
    /// With the policy gate on: its cache key (see `cache::gate_key`), and whether it has to
    /// run on the rendered objects (it did not pass with these inputs before).
    pub(super) gate_key: String,
    pub(super) must_gate: bool,
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
            gate_key: String::new(),
            must_gate: false,
        }
    }

    fn recalled(entry: EnvEntry, read_any: bool) -> Known {
        Known {
            entry,
            env: None,
            read_any,
            gate_key: String::new(),
            must_gate: false,
        }
    }
}

/// Opens the cache, gets the chosen environments from it or by loading them, and lists the
/// output directory; one job per region of the selection (every region, or `--region`).
pub(super) fn select(
    opts: &RenderOptions,
    out: &Path,
    chosen: &[(String, PathBuf)],
    renderer: &Renderer,
    templates: &str,
    gated: bool,
) -> Result<Selection, Error> {
    // The cache and the environments, and meanwhile the listing of the output directory when
    // its scope does not depend on them (no `--region`: one directory per environment file).
    let guess = opts.region.is_none().then(|| Scope {
        dirs: chosen.iter().map(|(name, _)| PathBuf::from(name)).collect(),
        prune_environments: opts.environments.is_empty(),
    });
    let (prepared, early_listing) = rayon::join(
        || recall_or_load(opts, out, chosen, renderer, templates),
        || guess.as_ref().map(|g| tree::scan(out, g)),
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
    let jobs = region_jobs(&mut known, opts.region.as_deref(), cache.as_ref(), gated);
    let listing = match (early_listing, &guess) {
        (Some(listing), Some(g)) if g.dirs == scope.dirs => listing?,
        _ => tree::scan(out, &scope)?,
    };
    Ok(Selection {
        cache,
        known,
        jobs,
        scope,
        listing,
    })
}

/// The output directories a render owns, after checking that `--region` names a region of the
/// selection. `environments` are names with their region names.
pub(super) fn selection_scope(
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
            Some((entry, read_any)) => Some(Known::recalled(entry, read_any)),
            None => loaded.remove(&i),
        })
        .collect();
    Ok((cache, known))
}

/// One job per region to render (every region, or only `only`), in order; and, with the policy
/// gate on, each environment's gate key and whether its gate has to run.
fn region_jobs(
    known: &mut [Known],
    only: Option<&str>,
    cache: Option<&Cache>,
    gated: bool,
) -> Vec<RegionJob> {
    let mut jobs = Vec::new();
    for (e, k) in known.iter_mut().enumerate() {
        let first = jobs.len();
        jobs.extend(
            k.entry
                .regions
                .iter()
                .enumerate()
                .filter(|(_, r)| only.is_none_or(|o| o == r.as_str()))
                .map(|(r, _)| RegionJob {
                    env: e,
                    region: r,
                    clean: None,
                    rendered: None,
                }),
        );
        if gated {
            let mine: Vec<&str> = jobs[first..]
                .iter()
                .map(|j| k.entry.inputs[j.region].as_str())
                .collect();
            k.gate_key = cache::gate_key(&k.entry.digest, &mine);
            k.must_gate = !cache.is_some_and(|c| c.gate_passed(&k.gate_key));
        }
    }
    jobs
}

impl Selection {
    /// Proves regions unchanged with the cache, in parallel: those whose inputs are those of
    /// their last render and whose files are still what it wrote (all read by content when
    /// `want_bytes`). A region of an environment whose gate must run is always rendered.
    pub(super) fn recall_regions(&mut self, out: &Path, want_bytes: bool) {
        let Some(cache) = &self.cache else {
            return;
        };
        let (known, listing) = (&self.known, &self.listing);
        self.jobs.par_iter_mut().for_each(|job| {
            let k = &known[job.env];
            if !k.must_gate {
                job.clean = verify(cache, &k.entry, job.region, out, listing, want_bytes);
            }
        });
    }

    /// Loads the recalled environments that have a region to render or a gate to pass, and
    /// checks that they are still what the cache recalled (else this render would mix two
    /// versions of one file).
    pub(super) fn load_dirty(&mut self, renderer: &Renderer, templates: &str) -> Result<(), Error> {
        let known = &mut self.known;
        let reload: BTreeSet<usize> = self
            .jobs
            .iter()
            .filter(|j| j.clean.is_none())
            .map(|j| j.env)
            .chain((0..known.len()).filter(|&e| known[e].must_gate))
            .filter(|&e| known[e].env.is_none())
            .collect();
        let reload_files: Vec<(String, PathBuf)> = reload
            .iter()
            .map(|&e| (known[e].entry.name.clone(), known[e].entry.file.clone()))
            .collect();
        let reloaded: Vec<Known> = load_files(&reload_files)?
            .into_par_iter()
            .map(|env| Known::loaded(env, renderer, templates))
            .collect();
        for (e, fresh) in reload.into_iter().zip(reloaded) {
            if !same_inputs(&fresh.entry, &known[e].entry) {
                return Err(Error::Io {
                    path: fresh.entry.file,
                    message: "changed while rendering; render again".into(),
                });
            }
            known[e].env = fresh.env;
        }
        Ok(())
    }
}

/// The cache entry of region `r` of an environment, when its directory holds exactly what
/// that entry says, with what checking it saw.
fn verify(
    cache: &Cache,
    k: &EnvEntry,
    r: usize,
    out: &Path,
    listing: &tree::Listing,
    want_bytes: bool,
) -> Option<(RegionEntry, Verified)> {
    let entry = cache.lookup(&k.name, &k.regions[r], &k.inputs[r])?;
    let dir = Path::new(&k.name).join(&k.regions[r]);
    let files = listing.get(&dir).map_or(&[][..], Vec::as_slice);
    let verified = cache.verify(entry, &out.join(&dir), files, want_bytes)?;
    Some((entry.clone(), verified))
}

/// Whether an environment loaded now is the one recalled: same regions and inputs, same
/// files read.
fn same_inputs(a: &EnvEntry, b: &EnvEntry) -> bool {
    a.regions == b.regions
        && a.inputs == b.inputs
        && a.digest == b.digest
        && a.sources.len() == b.sources.len()
        && a.sources
            .iter()
            .zip(&b.sources)
            .all(|(x, y)| x.path == y.path && x.sha256 == y.sha256)
}
