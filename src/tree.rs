//! The rendered tree on disk: what a render changes in it, hand edits found in it, and
//! writing it so that an error anywhere leaves the previous tree untouched.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::hash::sha256_hex;
use crate::manifest::{INDEX_FILE, Index};
use crate::render::RenderedSet;

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
pub fn desired(sets: &[RenderedSet]) -> Files {
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

fn io_error(path: &Path, e: std::io::Error) -> TreeError {
    TreeError {
        path: path.to_path_buf(),
        message: e.to_string(),
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
/// (a new region) is written whole as a temporary directory and renamed once: a reader sees
/// all of it or none, and a first render makes one rename per region instead of one per file.
/// A failure while writing removes the temporaries and leaves the tree as it was.
///
/// Returns the metadata of the files written into new directories, as `stat` will report it
/// (taken from the open file: neither closing it nor renaming its directory changes it); a
/// file renamed into place has a new change time, so it is left out.
pub fn apply(root: &Path, desired: &Files, changes: &[Change]) -> Result<Written, TreeError> {
    let writes: Vec<&Change> = changes
        .iter()
        .filter(|c| c.kind != ChangeKind::Removed)
        .collect();
    let parents: BTreeSet<PathBuf> = writes
        .iter()
        .filter_map(|c| root.join(&c.path).parent().map(Path::to_path_buf))
        .collect();
    // New directories with no other written directory below them, by their temporary.
    let mut whole: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
    let mut cleanup = Cleanup::default();
    for parent in &parents {
        let nested = parents
            .range::<Path, _>((
                std::ops::Bound::Excluded(parent.as_path()),
                std::ops::Bound::Unbounded,
            ))
            .next()
            .is_some_and(|next| next.starts_with(parent));
        if !nested && !parent.exists() {
            let tmp = with_suffix(parent);
            let made = parent
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::create_dir(&tmp));
            // A temporary left by a crashed run: write file by file instead.
            if made.is_ok() {
                cleanup.dirs.push(tmp.clone());
                whole.insert(parent.clone(), tmp);
                continue;
            }
        }
        if let Err(e) = std::fs::create_dir_all(parent) {
            return Err(cleanup.undo(io_error(parent, e)));
        }
    }
    // Files are written (and synced) in parallel: on a disk the syncs overlap, on tmpfs the
    // system calls do.
    let staged: Vec<Staged> = writes
        .par_iter()
        .map(|c| {
            let target = root.join(&c.path);
            let in_whole = target.parent().and_then(|p| whole.get(p));
            match (in_whole, target.file_name()) {
                (Some(tmp), Some(name)) => {
                    let path = tmp.join(name);
                    let written = std::fs::File::create(&path).and_then(|f| {
                        let meta = fill(&f, &desired[&c.path]).and_then(|()| f.metadata());
                        meta.map(|m| (c.path.clone(), m))
                    });
                    Staged {
                        created: None,
                        rename: None,
                        written: written.as_ref().ok().cloned(),
                        result: written.map(drop).map_err(|e| io_error(&path, e)),
                    }
                }
                _ => stage(&target, &desired[&c.path]),
            }
        })
        .collect();
    cleanup
        .files
        .extend(staged.iter().filter_map(|s| s.created.clone()));
    if let Some(e) = staged.iter().find_map(|s| s.result.as_ref().err()) {
        return Err(cleanup.undo(e.clone()));
    }
    // The entries of a directory are made durable before it appears under its name.
    let synced: Result<(), TreeError> = whole
        .par_iter()
        .map(|(_, tmp)| sync_dir(tmp).map_err(|e| io_error(tmp, e)))
        .collect();
    if let Err(e) = synced {
        return Err(cleanup.undo(e));
    }
    let renames: Vec<Result<(), TreeError>> = staged
        .iter()
        .filter_map(|s| s.rename.as_ref().map(|(tmp, target)| (tmp, target)))
        .chain(whole.iter().map(|(target, tmp)| (tmp, target)))
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|(tmp, target)| std::fs::rename(tmp, target).map_err(|e| io_error(target, e)))
        .collect();
    renames.into_iter().collect::<Result<(), _>>()?;
    let written = staged.into_iter().filter_map(|s| s.written).collect();
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
    Ok(written)
}

/// Metadata of written files, by path relative to the root.
pub type Written = BTreeMap<PathBuf, std::fs::Metadata>;

/// The temporaries a failed `apply` removes.
#[derive(Default)]
struct Cleanup {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Cleanup {
    fn undo(self, error: TreeError) -> TreeError {
        for file in self.files {
            let _ = std::fs::remove_file(file);
        }
        for dir in self.dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
        error
    }
}

fn with_suffix(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(TMP_SUFFIX);
    PathBuf::from(tmp)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// What writing one file left behind.
struct Staged {
    /// The temporary this write created: removed on any failure.
    created: Option<PathBuf>,
    /// The temporary to rename onto its target once every write succeeded.
    rename: Option<(PathBuf, PathBuf)>,
    /// The file's final metadata, when known.
    written: Option<(PathBuf, std::fs::Metadata)>,
    result: Result<(), TreeError>,
}

fn stage(target: &Path, bytes: &[u8]) -> Staged {
    let tmp = with_suffix(target);
    match std::fs::File::create(&tmp) {
        Ok(f) => Staged {
            result: fill(&f, bytes).map_err(|e| io_error(&tmp, e)),
            created: Some(tmp.clone()),
            rename: Some((tmp, target.to_path_buf())),
            written: None,
        },
        Err(e) => Staged {
            created: None,
            rename: None,
            written: None,
            result: Err(io_error(&tmp, e)),
        },
    }
}

fn fill(mut file: &std::fs::File, bytes: &[u8]) -> std::io::Result<()> {
    file.write_all(bytes)?;
    file.sync_all()
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
        let err = apply(r, &desired, &changes(&existing, &desired)).unwrap_err();
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
        apply(r, &desired, &changes(&existing, &desired)).unwrap_err();
        assert!(!r.join("e/new").exists());
        assert!(!r.join("e/new.hadr-tmp").exists());

        std::fs::remove_dir(r.join("e/r/a.yaml.hadr-tmp")).unwrap();
        let written = apply(r, &desired, &changes(&existing, &desired)).unwrap();
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
