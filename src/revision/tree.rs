//! The rendered tree on disk: what a render changes in it, hand edits found in it, and
//! writing it so that an error anywhere leaves the previous tree untouched.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::digest::sha256_hex;
use crate::render::RenderedSet;
use crate::render::manifest::{INDEX_FILE, Index};

/// The part of the output directory one render owns: files there that it does not produce
/// are removed.
#[derive(Debug, Clone)]
pub struct Scope {
    /// Directories relative to the output root (`prod`, or `prod/eastus2` with `--region`).
    pub dirs: Vec<PathBuf>,
    /// Also remove environment directories of the root that no environment file produces.
    pub prune_environments: bool,
}

/// The whole desired content of a scope: relative path -> bytes.
pub type Files = BTreeMap<PathBuf, Vec<u8>>;

/// Builds the desired files of the rendered sets, keyed by path relative to the output root.
pub fn desired(sets: &[&RenderedSet]) -> Files {
    // Each set's files (copies of its bytes and its serialized index) in parallel: on the main
    // thread alone this was a twentieth of a full render.
    let per_set: Vec<Vec<(PathBuf, Vec<u8>)>> = sets
        .par_iter()
        .map(|set| {
            let dir = Path::new(&set.environment).join(&set.region);
            set.files()
                .into_iter()
                .map(|(name, bytes)| (dir.join(name), bytes))
                .collect()
        })
        .collect();
    per_set.into_iter().flatten().collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Changed,
    Removed,
}

/// One file a render adds, changes or removes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Change {
    pub path: PathBuf,
    pub kind: ChangeKind,
}

/// A file of the rendered tree that is not what the last render wrote.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct HandEdit {
    pub path: PathBuf,
    /// `modified`, `added` or `deleted`.
    pub what: &'static str,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct TreeError {
    pub path: PathBuf,
    pub message: String,
}

/// An I/O failure on the tree, in words (the OS's texts carry its error number).
fn io_error(path: &Path, e: std::io::Error) -> TreeError {
    use std::io::ErrorKind as K;
    let message = match e.kind() {
        K::NotADirectory => {
            "a part of this path is a file, not a directory: write into a directory (`--out DIR`)"
                .to_string()
        }
        K::PermissionDenied => {
            "permission denied: write where you may, or fix the directory's permissions".into()
        }
        K::StorageFull => "the disk is full".into(),
        K::NotFound => "it, or a directory above it, does not exist and cannot be made here: render into a directory you can create files in (`--out DIR`)".into(),
        K::ReadOnlyFilesystem => "the file system is read-only".into(),
        kind => kind.to_string(),
    };
    TreeError {
        path: path.to_path_buf(),
        message,
    }
}

/// The files now under the scope, relative to the root, with their contents.
pub fn existing(root: &Path, scope: &Scope) -> Result<Files, TreeError> {
    let listing = scan(root, scope)?;
    read(root, files_of(&listing, |_| true))
}

/// The directories under the scope, relative to the root, each with what `stat` says of its
/// entries, subdirectories included (their contents are not read: that is what a render that
/// proves most of them unchanged saves).
pub type Listing = BTreeMap<PathBuf, Vec<(OsString, std::fs::Metadata)>>;

/// Lists the directories under the scope (see `existing`).
pub fn scan(root: &Path, scope: &Scope) -> Result<Listing, TreeError> {
    let mut listing = Listing::new();
    let mut dirs: Vec<PathBuf> = scope.dirs.clone();
    if scope.prune_environments && root.is_dir() {
        // Only directories the scope does not name need the (system-call heavy) look inside.
        let known: BTreeSet<&Path> = scope.dirs.iter().map(PathBuf::as_path).collect();
        let mut others = Vec::new();
        for entry in std::fs::read_dir(root).map_err(|e| io_error(root, e))? {
            let rel = PathBuf::from(entry.map_err(|e| io_error(root, e))?.file_name());
            if !known.contains(rel.as_path()) {
                others.push(rel);
            }
        }
        others.retain(|rel| {
            let path = root.join(rel);
            path.is_dir() && is_rendered_environment(&path)
        });
        dirs.extend(others);
    }
    // Directories are listed in parallel: a no-change render is mostly these system calls.
    let parts: Vec<Result<Listing, TreeError>> = dirs
        .par_iter()
        .map(|dir| {
            let mut part = Listing::new();
            collect(root, dir, &mut part).map(|()| part)
        })
        .collect();
    for part in parts {
        listing.extend(part?);
    }
    Ok(listing)
}

/// The paths of the files (not directories) of a listing, in directories `dir_filter` keeps.
pub fn files_of<'a>(
    listing: &'a Listing,
    dir_filter: impl Fn(&Path) -> bool + 'a,
) -> impl Iterator<Item = PathBuf> + 'a {
    listing
        .iter()
        .filter(move |(dir, _)| dir_filter(dir))
        .flat_map(|(dir, entries)| {
            entries
                .iter()
                .filter(|(_, meta)| !meta.is_dir())
                .map(move |(name, _)| dir.join(name))
        })
}

/// Reads the files at these paths (relative to the root).
pub fn read(root: &Path, paths: impl IntoIterator<Item = PathBuf>) -> Result<Files, TreeError> {
    paths
        .into_iter()
        .map(|rel| {
            let path = root.join(&rel);
            let bytes = std::fs::read(&path).map_err(|e| io_error(&path, e))?;
            Ok((rel, bytes))
        })
        .collect()
}

/// An environment directory of ours holds region directories that hold an index.
fn is_rendered_environment(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().join(INDEX_FILE).is_file())
    })
}

fn collect(root: &Path, rel: &Path, listing: &mut Listing) -> Result<(), TreeError> {
    let dir = root.join(rel);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(&dir, e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(&dir, e))?;
        // Symbolic links are followed, as reading the file does; the rest is stat'ed relative
        // to the directory, without walking the whole path again.
        let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
        let meta = if is_link {
            std::fs::metadata(entry.path())
        } else {
            entry.metadata()
        }
        .map_err(|e| io_error(&entry.path(), e))?;
        if meta.is_dir() {
            collect(root, &rel.join(entry.file_name()), listing)?;
        }
        found.push((entry.file_name(), meta));
    }
    listing.insert(rel.to_path_buf(), found);
    Ok(())
}

/// Whether the directory `<environment>/<region>` is absent from a listing: neither listed
/// itself nor an entry of its listed environment directory.
pub fn absent(listing: &Listing, environment: &Path, region: &str) -> bool {
    !listing.contains_key(&environment.join(region))
        && listing
            .get(environment)
            .is_none_or(|entries| entries.iter().all(|(name, _)| name != region))
}

/// `changes` and the files of the new directories staged before them, all added, in path
/// order.
pub fn with_added(mut changes: Vec<Change>, staging: &Staging) -> Vec<Change> {
    let state = staging.state();
    let mut dirs: Vec<&StagedDir> = state.dirs.iter().collect();
    dirs.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    let resort = !changes.is_empty();
    changes.reserve_exact(dirs.iter().map(|d| d.files.len()).sum());
    for dir in dirs {
        let mut names: Vec<&str> = dir.files.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        changes.extend(names.into_iter().map(|n| Change {
            path: dir.rel.join(n),
            kind: ChangeKind::Added,
        }));
    }
    if resort {
        changes.sort();
    }
    changes
}

/// What turning `existing` into `desired` takes, in path order.
pub fn changes(existing: &Files, desired: &Files) -> Vec<Change> {
    let mut out = Vec::new();
    for (path, bytes) in desired {
        match existing.get(path) {
            None => out.push(Change {
                path: path.clone(),
                kind: ChangeKind::Added,
            }),
            Some(old) if old != bytes => out.push(Change {
                path: path.clone(),
                kind: ChangeKind::Changed,
            }),
            Some(_) => {}
        }
    }
    for path in existing.keys() {
        if !desired.contains_key(path) {
            out.push(Change {
                path: path.clone(),
                kind: ChangeKind::Removed,
            });
        }
    }
    out.sort();
    out
}

/// Files that differ from what the last render wrote, according to each region's index:
/// edited or deleted objects, and files added beside them.
///
/// Only directories the render changes are examined: a re-render that changes nothing reads
/// no index at all.
pub fn hand_edits(existing: &Files, changes: &[Change]) -> Vec<HandEdit> {
    let touched: BTreeSet<&Path> = changes
        .iter()
        .map(|c| c.path.parent().unwrap_or(Path::new("")))
        .collect();
    let mut by_dir: BTreeMap<&Path, Vec<(&Path, &Vec<u8>)>> = BTreeMap::new();
    for (path, bytes) in existing {
        let dir = path.parent().unwrap_or(Path::new(""));
        if touched.contains(dir) {
            by_dir.entry(dir).or_default().push((path, bytes));
        }
    }
    let mut edits = Vec::new();
    for (dir, files) in by_dir {
        let index: Option<Index> = existing
            .get(&dir.join(INDEX_FILE))
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|s| crate::yaml::from_str(s).ok());
        let Some(index) = index else {
            // No readable index: every file of the directory is someone else's.
            edits.extend(files.iter().map(|(p, _)| HandEdit {
                path: p.to_path_buf(),
                what: if p.ends_with(INDEX_FILE) {
                    "modified"
                } else {
                    "added"
                },
            }));
            continue;
        };
        let recorded: BTreeMap<&str, &str> = index
            .objects
            .iter()
            .map(|o| (o.file.as_str(), o.sha256.as_str()))
            .collect();
        for (path, bytes) in &files {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name == INDEX_FILE {
                continue;
            }
            match recorded.get(name) {
                None => edits.push(HandEdit {
                    path: path.to_path_buf(),
                    what: "added",
                }),
                Some(sha) if *sha != sha256_hex(bytes) => edits.push(HandEdit {
                    path: path.to_path_buf(),
                    what: "modified",
                }),
                Some(_) => {}
            }
        }
        for file in recorded.keys() {
            let path = dir.join(file);
            if !existing.contains_key(&path) {
                edits.push(HandEdit {
                    path,
                    what: "deleted",
                });
            }
        }
    }
    edits.sort();
    edits
}

const TMP_SUFFIX: &str = ".hadr-tmp";

/// Applies the changes under `root`: every new or changed file is first written beside its
/// target under a temporary name, and only when all are written are they renamed into place
/// and removed files deleted, so no reader (`kubectl apply -f`, a crash, an interrupted run)
/// ever sees a half-written manifest under its real name. A directory that does not exist yet
/// (a new region) is written whole as a temporary directory and renamed once (see
/// [`Staging`]): a reader sees all of it or none, and a first render makes one rename per
/// region instead of one per file. `staging` may hold such directories already, written by
/// the caller; they are published with the rest. A failure while writing removes every
/// temporary and leaves the tree as it was.
///
/// Files are not synced to disk, as `git checkout`, `kustomize build -o` and `helm template
/// --output-dir` do not: the renames make the tree whole for every reader while the machine
/// runs, and the output is a function of the inputs, so a render repeats what a power loss
/// undid. What must not outlive a reboot is a claim about these files: the render cache is
/// kept per boot (`render::cache`). Syncing each of a fleet's 4,800 files made a full render
/// of the 200x3 benchmark fleet 7 times slower on a virtual disk (0.25 s to 1.8 s).
///
/// Returns the metadata of the files this call wrote into new directories, as `stat` will
/// report it (taken from the open file: neither closing it nor renaming its directory changes
/// it); a file renamed into place has a new change time, so it is left out.
pub fn apply(
    root: &Path,
    desired: &Files,
    changes: &[Change],
    staging: Staging,
) -> Result<Written, TreeError> {
    let mut by_parent: BTreeMap<&Path, Vec<&Path>> = BTreeMap::new();
    for c in changes.iter().filter(|c| c.kind != ChangeKind::Removed) {
        by_parent
            .entry(c.path.parent().unwrap_or(Path::new("")))
            .or_default()
            .push(&c.path);
    }
    let (written, done) = write_new_dirs(root, desired, &by_parent, &staging)?;
    let mut singles: Vec<&Path> = Vec::new();
    for (parent, paths) in &by_parent {
        if !done.contains(parent) {
            let dir = root.join(parent);
            std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
            singles.extend(paths);
        }
    }
    let renames = stage_files(root, desired, &singles)?;
    publish(renames, staging)?;
    remove_files(root, changes)?;
    Ok(written)
}

/// Writes the new directories with no other written directory below them whole, in
/// parallel (see `Staging`); a temporary left by a crashed run makes one go file by file
/// instead. Returns what was written, and the directories written whole.
fn write_new_dirs<'a>(
    root: &Path,
    desired: &Files,
    by_parent: &BTreeMap<&'a Path, Vec<&Path>>,
    staging: &Staging,
) -> Result<(Written, BTreeSet<&'a Path>), TreeError> {
    let parents: Vec<&Path> = by_parent.keys().copied().collect();
    let whole: Vec<(&Path, Option<FilesWritten>)> = parents
        .par_iter()
        .enumerate()
        .filter(|&(i, parent)| {
            let nested = parents
                .get(i + 1)
                .is_some_and(|next| next.starts_with(parent));
            !nested && !parent.as_os_str().is_empty() && !root.join(parent).exists()
        })
        .map(|(_, parent)| {
            let files = by_parent[parent].iter().filter_map(|path| {
                let name = path.file_name()?.to_str()?;
                Some((name, desired[*path].as_slice()))
            });
            Ok((*parent, staging.write(parent, files)?))
        })
        .collect::<Result<_, TreeError>>()?;
    let mut written = Written::new();
    let mut done = BTreeSet::new();
    for (parent, files) in whole {
        if let Some(files) = files {
            done.insert(parent);
            written.extend(files.into_iter().map(|(n, m)| (parent.join(n), m)));
        }
    }
    Ok((written, done))
}

/// Writes each file beside its target under a temporary name; returns the (temporary,
/// target) pairs to rename, or, when one failed, removes every temporary and fails.
fn stage_files(
    root: &Path,
    desired: &Files,
    paths: &[&Path],
) -> Result<Vec<(PathBuf, PathBuf)>, TreeError> {
    // Files are written in parallel: the system calls overlap.
    let files: Vec<StagedFile> = paths
        .par_iter()
        .map(|rel| stage(&root.join(rel), &desired[*rel]))
        .collect();
    let mut renames = Vec::with_capacity(files.len());
    let mut failure = None;
    let mut left = Vec::new();
    for f in files {
        match f {
            Ok(rename) => renames.push(rename),
            Err((created, e)) => {
                left.extend(created);
                failure = failure.or(Some(e));
            }
        }
    }
    if let Some(e) = failure {
        for tmp in renames.into_iter().map(|(tmp, _)| tmp).chain(left) {
            let _ = std::fs::remove_file(tmp);
        }
        return Err(e);
    }
    Ok(renames)
}

/// Renames the staged files and directories into place.
fn publish(renames: Vec<(PathBuf, PathBuf)>, staging: Staging) -> Result<(), TreeError> {
    let (renamed, published) = rayon::join(
        || {
            renames
                .into_par_iter()
                .map(|(tmp, target)| {
                    std::fs::rename(&tmp, &target).map_err(|e| io_error(&target, e))
                })
                .collect::<Vec<_>>()
        },
        || staging.publish(),
    );
    renamed.into_iter().chain([published]).collect()
}

/// Deletes the removed files, and the directories that leaves empty.
fn remove_files(root: &Path, changes: &[Change]) -> Result<(), TreeError> {
    for c in changes.iter().filter(|c| c.kind == ChangeKind::Removed) {
        let path = root.join(&c.path);
        std::fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
        // Drop directories the removal left empty, up to the root.
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == root || std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
    Ok(())
}

/// The new directories of one render, each written whole under a temporary name beside it
/// (`<dir>.hadr-tmp`), none visible under its own name until `apply`
/// publishes them. Dropped before that (an error anywhere in the render), it removes them and
/// the directories it made above them.
#[derive(Debug)]
pub struct Staging {
    root: PathBuf,
    state: std::sync::Mutex<StagingState>,
}

#[derive(Debug, Default)]
struct StagingState {
    dirs: Vec<StagedDir>,
    /// Directories made above the staged ones.
    made: Vec<PathBuf>,
}

#[derive(Debug)]
struct StagedDir {
    /// Relative to the root.
    rel: PathBuf,
    tmp: PathBuf,
    files: Vec<(String, std::fs::Metadata)>,
}

impl Staging {
    pub fn new(root: &Path) -> Staging {
        Staging {
            root: root.to_path_buf(),
            state: Default::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, StagingState> {
        // A panic while holding the lock leaves the lists whole: each change is one push.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the directory `rel` (relative to the root), which does not exist, with these
    /// files by name. Returns each file's name and metadata as `stat` will report it once
    /// published, or `None` when the temporary is already there, left by a crashed run: the
    /// caller writes the files one by one instead.
    pub fn write<'a>(
        &self,
        rel: &Path,
        files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Option<FilesWritten>, TreeError> {
        let target = self.root.join(rel);
        let tmp = with_suffix(&target);
        if let Some(parent) = target.parent() {
            let mut made = Vec::new();
            let result = create_dirs(parent, &mut made);
            self.state().made.extend(made);
            result.map_err(|e| io_error(parent, e))?;
        }
        match std::fs::create_dir(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(None),
            Err(e) => return Err(io_error(&tmp, e)),
        }
        let mut dir = StagedDir {
            rel: rel.to_path_buf(),
            tmp,
            files: Vec::new(),
        };
        let result = dir.fill(files);
        let written = dir.files.clone();
        // Recorded even when half written, so that dropping the staging removes it.
        self.state().dirs.push(dir);
        result.map(|()| Some(written))
    }

    /// Renames every staged directory to its own name.
    fn publish(self) -> Result<(), TreeError> {
        let dirs = std::mem::take(&mut self.state().dirs);
        let results: Vec<Result<(), TreeError>> = dirs
            .par_iter()
            .map(|d| {
                let target = self.root.join(&d.rel);
                std::fs::rename(&d.tmp, &target).map_err(|e| io_error(&target, e))
            })
            .collect();
        let mut state = self.state();
        // The directories made above them now hold them.
        state.made.clear();
        // Those not renamed are removed on drop.
        state.dirs = dirs
            .into_iter()
            .zip(&results)
            .filter(|(_, r)| r.is_err())
            .map(|(d, _)| d)
            .collect();
        drop(state);
        results.into_iter().collect()
    }
}

impl StagedDir {
    fn fill<'a>(
        &mut self,
        files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<(), TreeError> {
        for (name, bytes) in files {
            let path = self.tmp.join(name);
            let meta = std::fs::File::create(&path)
                .and_then(|f| fill(&f, bytes).and_then(|()| f.metadata()))
                .map_err(|e| io_error(&path, e))?;
            self.files.push((name.to_string(), meta));
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        for dir in state.dirs.drain(..) {
            let _ = std::fs::remove_dir_all(&dir.tmp);
        }
        // Deepest first; one that is not empty holds something else and stays.
        state
            .made
            .sort_unstable_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in state.made.drain(..) {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// `create_dir_all` that records the directories it made.
fn create_dirs(dir: &Path, created: &mut Vec<PathBuf>) -> std::io::Result<()> {
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(parent) => create_dirs(parent, created)?,
                None => return Err(e),
            }
            match std::fs::create_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    }
    created.push(dir.to_path_buf());
    Ok(())
}

/// The files written into one directory, by name, with their metadata.
pub type FilesWritten = Vec<(String, std::fs::Metadata)>;

/// Metadata of written files, by path relative to the root.
pub type Written = BTreeMap<PathBuf, std::fs::Metadata>;

fn with_suffix(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(TMP_SUFFIX);
    PathBuf::from(tmp)
}

/// One file written beside its target: the (temporary, target) pair to rename, or the error
/// with the temporary it left, if any.
type StagedFile = Result<(PathBuf, PathBuf), (Option<PathBuf>, TreeError)>;

fn stage(target: &Path, bytes: &[u8]) -> StagedFile {
    let tmp = with_suffix(target);
    match std::fs::File::create(&tmp) {
        Ok(f) => match fill(&f, bytes) {
            Ok(()) => Ok((tmp, target.to_path_buf())),
            Err(e) => {
                let err = io_error(&tmp, e);
                Err((Some(tmp), err))
            }
        },
        Err(e) => Err((None, io_error(&tmp, e))),
    }
}

fn fill(mut file: &std::fs::File, bytes: &[u8]) -> std::io::Result<()> {
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_tree_as_it_was_and_no_temporaries() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("e/r")).unwrap();
        std::fs::write(r.join("e/r/a.yaml"), "old").unwrap();
        // A directory where the changed file's temporary must go: creating it fails, after
        // (or while) the new files' temporaries are written.
        std::fs::create_dir_all(r.join("e/r/a.yaml.hadr-tmp")).unwrap();
        let desired: Files = (0..50)
            .map(|i| (PathBuf::from(format!("e/r/f{i:02}.yaml")), b"new".to_vec()))
            .chain([
                ("e/r/a.yaml".into(), b"new".to_vec()),
                ("e/r/z.yaml".into(), b"new".to_vec()),
            ])
            .collect();
        let existing = Files::from([("e/r/a.yaml".into(), b"old".to_vec())]);
        let err = apply(r, &desired, &changes(&existing, &desired), Staging::new(r)).unwrap_err();
        assert!(err.path.ends_with("a.yaml.hadr-tmp"), "{err}");
        let mut left: Vec<String> = std::fs::read_dir(r.join("e/r"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["a.yaml", "a.yaml.hadr-tmp"]);
        assert_eq!(std::fs::read(r.join("e/r/a.yaml")).unwrap(), b"old");
    }

    #[test]
    fn a_new_directory_appears_whole_or_not_at_all() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("e/r/a.yaml.hadr-tmp")).unwrap();
        std::fs::write(r.join("e/r/a.yaml"), "old").unwrap();
        let new_dir: Files = (0..20)
            .map(|i| {
                (
                    PathBuf::from(format!("e/new/f{i:02}.yaml")),
                    b"new".to_vec(),
                )
            })
            .collect();
        let mut desired = new_dir.clone();
        desired.insert("e/r/a.yaml".into(), b"new".to_vec());
        let existing = Files::from([("e/r/a.yaml".into(), b"old".to_vec())]);
        // The changed file cannot be staged: nothing of the new directory may be left.
        apply(r, &desired, &changes(&existing, &desired), Staging::new(r)).unwrap_err();
        assert!(!r.join("e/new").exists());
        assert!(!r.join("e/new.hadr-tmp").exists());

        std::fs::remove_dir(r.join("e/r/a.yaml.hadr-tmp")).unwrap();
        let written = apply(r, &desired, &changes(&existing, &desired), Staging::new(r)).unwrap();
        // What apply says of the files of the new directory is what stat says now (the
        // render cache records it); the renamed file is left out.
        assert_eq!(written.len(), 20);
        #[cfg(unix)]
        for (path, meta) in &written {
            use std::os::unix::fs::MetadataExt;
            let now = std::fs::metadata(r.join(path)).unwrap();
            let key = |m: &std::fs::Metadata| {
                (
                    m.size(),
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ctime(),
                    m.ctime_nsec(),
                    m.ino(),
                )
            };
            assert_eq!(key(meta), key(&now), "{}", path.display());
        }
        let mut names: Vec<String> = std::fs::read_dir(r.join("e"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["new", "r"]);
        for (path, bytes) in &desired {
            assert_eq!(&std::fs::read(r.join(path)).unwrap(), bytes);
        }
    }

    #[test]
    fn a_staging_dropped_unpublished_leaves_nothing_it_made() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("kept/empty")).unwrap();
        let files = [("a.yaml", &b"a"[..]), ("b.yaml", &b"b"[..])];
        let staging = Staging::new(r);
        for dir in ["out/e/r1", "out/e/r2", "kept/r", "kept/empty/r"] {
            assert!(staging.write(Path::new(dir), files).unwrap().is_some());
        }
        assert!(r.join("out/e/r1.hadr-tmp/b.yaml").is_file());
        assert!(!r.join("out/e/r1").exists());
        drop(staging);
        let names = |d: &Path| -> Vec<String> {
            let mut n: Vec<String> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            n.sort();
            n
        };
        assert_eq!(names(r), ["kept"]);
        // An empty directory that was there before stays.
        assert_eq!(names(&r.join("kept")), ["empty"]);
        assert!(names(&r.join("kept/empty")).is_empty());
    }

    #[test]
    fn added_directories_and_other_changes_are_reported_in_path_order() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let files = [("z.yaml", &b"z"[..]), ("a.yaml", &b"a"[..])];
        let staging = Staging::new(r);
        for dir in ["p-q/r", "p/s", "p/r"] {
            staging.write(Path::new(dir), files).unwrap().unwrap();
        }
        let paths = |changes: Vec<Change>| -> Vec<String> {
            changes
                .into_iter()
                .map(|c| c.path.to_string_lossy().into_owned())
                .collect()
        };
        // Path order, not string order: `p/...` before `p-q/...`.
        let alone = [
            "p/r/a.yaml",
            "p/r/z.yaml",
            "p/s/a.yaml",
            "p/s/z.yaml",
            "p-q/r/a.yaml",
            "p-q/r/z.yaml",
        ];
        assert_eq!(paths(with_added(Vec::new(), &staging)), alone);
        let other = Change {
            path: "p/q/x.yaml".into(),
            kind: ChangeKind::Changed,
        };
        let mixed = paths(with_added(vec![other], &staging));
        assert_eq!(mixed[0], "p/q/x.yaml");
        assert_eq!(mixed[1..], alone);
    }

    #[test]
    fn changes_list_added_changed_and_removed_files() {
        let existing = Files::from([("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())]);
        let desired = Files::from([
            ("a".into(), b"1".to_vec()),
            ("b".into(), b"3".to_vec()),
            ("c".into(), b"4".to_vec()),
        ]);
        let mut existing2 = existing.clone();
        existing2.insert("d".into(), b"5".to_vec());
        let got: Vec<_> = changes(&existing2, &desired)
            .into_iter()
            .map(|c| (c.path.display().to_string(), c.kind))
            .collect();
        assert_eq!(
            got,
            vec![
                ("b".into(), ChangeKind::Changed),
                ("c".into(), ChangeKind::Added),
                ("d".into(), ChangeKind::Removed)
            ]
        );
    }
}
