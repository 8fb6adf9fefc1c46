//! Render and stage, and the policy gate: the regions not proven unchanged are rendered in
//! parallel, a new region directory written by the worker that rendered it.

use std::path::Path;

use super::select::Selection;
use super::{FileEntry, Rendered, gate_by};
use crate::digest::sha256_hex;
use crate::environment::Environment;
use crate::error::{Error, Gated};
use crate::render::cache::Stat;
use crate::render::manifest::INDEX_FILE;
use crate::render::{Job, RenderedSet, Renderer};
use crate::revision::tree;

/// Renders every region of the selection not proven unchanged, in parallel, into its job.
pub(super) fn render_and_stage(
    renderer: &Renderer,
    run: &mut Selection,
    staging: &tree::Staging,
    writes: bool,
) -> Result<(), Error> {
    let dirty: Vec<usize> = (0..run.jobs.len())
        .filter(|&j| run.jobs[j].clean.is_none())
        .collect();
    let (known, jobs, listing) = (&run.known, &run.jobs, &run.listing);
    let work: Vec<Job> = dirty
        .iter()
        .map(|&j| {
            let k = &known[jobs[j].env];
            let env = k.env.as_ref();
            env.and_then(|env| Some((env, env.regions.get(jobs[j].region)?)))
                .ok_or_else(|| Error::Io {
                    path: k.entry.file.clone(),
                    message: "not loaded (a bug: please report it)".into(),
                })
        })
        .collect::<Result<_, _>>()?;
    // A region directory that does not exist yet is written by the worker that renders it,
    // under a temporary name, while the other workers render: file creation is most of a
    // first render. It appears under its own name only once everything is rendered, checked
    // and written, and is removed if anything fails before.
    let outputs = renderer
        .render_jobs_then(&work, |i, (set, _)| {
            let job = &jobs[dirty[i]];
            let k = &known[job.env].entry;
            if writes && tree::absent(listing, Path::new(&k.name), &k.regions[job.region]) {
                stage_region(staging, set)
            } else {
                Ok(None)
            }
        })
        .map_err(Error::Render)?;
    drop(work);
    for (j, ((set, warnings), staged)) in dirty.into_iter().zip(outputs) {
        run.jobs[j].rendered = Some(Rendered {
            set,
            warnings,
            staged: staged?,
        });
    }
    Ok(())
}

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

/// The policy gate over the environments whose gate has to run, on their rendered regions;
/// returns the gate keys of those that passed, for the cache to remember.
pub(super) fn policy_gate(run: &Selection) -> Result<Vec<String>, Error> {
    let must: Vec<_> = run.known.iter().filter(|k| k.must_gate).collect();
    if must.is_empty() {
        return Ok(Vec::new());
    }
    let sets: Vec<&RenderedSet> = run
        .jobs
        .iter()
        .filter_map(|j| j.rendered.as_ref())
        .map(|r| &r.set)
        .collect();
    let sets_of = |env: &Environment| {
        sets.iter()
            .copied()
            .filter(|s| s.environment == env.name)
            .collect()
    };
    gate_by(
        must.iter().filter_map(|k| k.env.as_ref()),
        sets_of,
        Gated::Commit,
    )?;
    Ok(match run.cache {
        Some(_) => must.into_iter().map(|k| k.gate_key.clone()).collect(),
        None => Vec::new(),
    })
}
