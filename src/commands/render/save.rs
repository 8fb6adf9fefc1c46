//! Saving the render cache: what this render wrote, with the stat data the next one proves
//! regions unchanged by.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::Path;

use rayon::prelude::*;

use super::select::Selection;
use super::{FileEntry, Rendered};
use crate::digest::sha256_hex;
use crate::render::RenderedSet;
use crate::render::cache::{self, Cache, RegionEntry, Stat};
use crate::revision::tree;

/// Records every region of the selection in the cache (those rendered with the files just
/// written, those proven unchanged with the stat data seen), unless it already holds exactly
/// that.
pub(super) fn save_cache(
    out: &Path,
    run: &mut Selection,
    desired: &tree::Files,
    written: &tree::Written,
    gates_passed: Vec<String>,
) {
    let Some(cache) = run.cache.take() else {
        return;
    };
    let read_any = run
        .jobs
        .iter()
        .filter_map(|j| j.clean.as_ref())
        .any(|(_, v)| v.read_any)
        || run.known.iter().any(|k| k.read_any);
    let keep_others = !run.scope.prune_environments;
    if untouched(run, &cache, read_any, &gates_passed, keep_others) {
        return;
    }
    let known = &run.known;
    // In parallel: each entry hashes its index and stats the files `apply` has no
    // metadata of (those renamed into place).
    let rendered: Vec<RegionEntry> = run
        .jobs
        .par_iter()
        .filter_map(|job| {
            let input = known[job.env].entry.inputs.get(job.region);
            let input = input.map_or("", String::as_str);
            let rendered = job.rendered.as_ref()?;
            Some(rendered_entry(rendered, input, out, desired, written))
        })
        .collect();
    let kept = run
        .jobs
        .iter()
        .filter_map(|j| j.clean.as_ref())
        .map(|(entry, v)| RegionEntry {
            stat: v.stat.clone(),
            ..entry.clone()
        });
    let regions = kept.chain(rendered).collect();
    let environments = known.iter().map(|k| k.entry.clone()).collect();
    cache.save(regions, environments, gates_passed, read_any, keep_others);
}

/// Everything came from the cache and was proven by stat alone: it already says all this run
/// would write (the common re-render, where building and comparing it would cost more than
/// the rest).
fn untouched(
    run: &Selection,
    cache: &Cache,
    read_any: bool,
    gates_passed: &[String],
    keep_others: bool,
) -> bool {
    let clean = run.jobs.iter().filter(|j| j.clean.is_some()).count();
    run.jobs.iter().all(|j| j.rendered.is_none())
        && !read_any
        && gates_passed.is_empty()
        && run.known.iter().all(|k| k.env.is_none())
        && (keep_others || cache.holds_only(clean, run.known.len()))
}

/// The cache entry of a region just rendered and written, from input digest `input`.
fn rendered_entry(
    r: &Rendered,
    input: &str,
    out: &Path,
    desired: &tree::Files,
    written: &tree::Written,
) -> RegionEntry {
    let computed;
    let files: &[FileEntry] = match &r.staged {
        Some(files) => files,
        None => {
            computed = written_files(out, &r.set, desired, written);
            &computed
        }
    };
    let set = &r.set;
    RegionEntry {
        environment: set.environment.clone(),
        region: set.region.clone(),
        input: input.to_string(),
        digest: set.digest.clone(),
        objects: set.objects.len(),
        warnings: r.warnings.clone(),
        content: cache::content_digest(files.iter().map(|(n, h, _)| (OsStr::new(n), h.as_str()))),
        stat: cache::stat_digest(files.iter().map(|(n, _, s)| (OsStr::new(n), *s))),
    }
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
