//! Revisions: the rendered tree on disk (`tree`) and in git (`store`), and [`Revision`], the one
//! way `diff`, `rollout`, `rollback`, `status` and `history` read a rendered set.

pub mod store;
pub mod tree;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::render::manifest::{INDEX_FILE, Index, ObjectId};
use store::{Store, StoreError};
use tree::{Scope, TreeError};

/// The rendered tree of a repository: `--out`, else `<root>/rendered` (`rendered` when the root
/// is the current directory, so paths in messages stay short).
pub fn out_dir(root: &Path, out: Option<PathBuf>) -> PathBuf {
    out.unwrap_or_else(|| {
        if root == Path::new(".") {
            PathBuf::from("rendered")
        } else {
            root.join("rendered")
        }
    })
}

/// Where the rendered tree is and which revision of it to read.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    /// The repository root (`-C`).
    pub root: &'a Path,
    /// The rendered tree (`--out`, default `<root>/rendered`).
    pub out: &'a Path,
    /// A git commit-ish; `None`: the working tree on disk.
    pub revision: Option<&'a str>,
}

/// The rendered set of one environment in one region at one revision.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    pub environment: String,
    pub region: String,
    /// The commit-ish asked for, or `None` for the working tree.
    pub id: Option<String>,
    /// The set digest from the index (`sha256:` of the multi-document stream).
    pub digest: String,
    /// Every object in index order (file-name order).
    pub objects: Vec<(ObjectId, Value)>,
}

#[derive(Debug, thiserror::Error)]
pub enum RevisionError {
    #[error("{}: no rendered set for {environment}/{region}{}\n  help: run `kubectl hadr render {environment}`{}", .path.display(), at(.revision), commit_hint(.revision))]
    NotRendered {
        path: PathBuf,
        environment: String,
        region: String,
        revision: Option<String>,
    },
    #[error("{}: unreadable index\n  help: run `kubectl hadr render --force` to write it again", .path.display())]
    UnreadableIndex { path: PathBuf },
    #[error("{}: {problem}\n  help: run `kubectl hadr render --force` to write it again", .path.display())]
    BadObject {
        path: PathBuf,
        problem: &'static str,
    },
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn at(revision: &Option<String>) -> String {
    revision
        .as_ref()
        .map(|r| format!(" at {r}"))
        .unwrap_or_default()
}

fn commit_hint(revision: &Option<String>) -> &'static str {
    match revision {
        Some(_) => " and commit it (`--commit`)",
        None => "",
    }
}

impl Revision {
    /// Reads the index and every object of `environment`/`region` at `source`.
    ///
    /// Errors: no index (never rendered, or not at that commit), an unreadable index, a file
    /// the index lists that is missing or is not one YAML object, or git/I/O failures.
    pub fn read(
        source: &Source<'_>,
        environment: &str,
        region: &str,
    ) -> Result<Revision, RevisionError> {
        let files = files(source, environment, region)?;
        let index = parse_index(&files, source, environment, region)?;
        let dir = source.out.join(environment).join(region);
        let mut objects = Vec::with_capacity(index.objects.len());
        for entry in index.objects {
            let path = dir.join(&entry.file);
            let bytes =
                files
                    .get(Path::new(&entry.file))
                    .ok_or_else(|| RevisionError::BadObject {
                        path: path.clone(),
                        problem: "listed in the index but missing",
                    })?;
            let text = String::from_utf8_lossy(bytes);
            let value = crate::yaml::documents(&text)
                .ok()
                .and_then(|mut d| d.pop())
                .ok_or(RevisionError::BadObject {
                    path,
                    problem: "not a YAML object",
                })?;
            objects.push((entry.id, value));
        }
        Ok(Revision {
            environment: environment.into(),
            region: region.into(),
            id: source.revision.map(str::to_string),
            digest: index.digest,
            objects,
        })
    }

    /// Only the index of `environment`/`region` at `source` (the set digest and the object
    /// list), without reading the objects.
    pub fn index(
        source: &Source<'_>,
        environment: &str,
        region: &str,
    ) -> Result<Index, RevisionError> {
        let files = files(source, environment, region)?;
        parse_index(&files, source, environment, region)
    }
}

fn files(
    source: &Source<'_>,
    environment: &str,
    region: &str,
) -> Result<BTreeMap<PathBuf, Vec<u8>>, RevisionError> {
    Ok(match source.revision {
        None => {
            let dir = source.out.join(environment).join(region);
            tree::existing(
                &dir,
                &Scope {
                    dirs: vec![PathBuf::new()],
                    prune_environments: false,
                },
            )?
        }
        Some(rev) => {
            let store = Store::discover(source.root)?;
            let rel = store.relative(source.out)?.join(environment).join(region);
            store.read_tree(rev, &rel)?
        }
    })
}

fn parse_index(
    files: &BTreeMap<PathBuf, Vec<u8>>,
    source: &Source<'_>,
    environment: &str,
    region: &str,
) -> Result<Index, RevisionError> {
    let path = source.out.join(environment).join(region).join(INDEX_FILE);
    let bytes = files
        .get(Path::new(INDEX_FILE))
        .ok_or_else(|| RevisionError::NotRendered {
            path: path.clone(),
            environment: environment.into(),
            region: region.into(),
            revision: source.revision.map(str::to_string),
        })?;
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| crate::yaml::from_str(s).ok())
        .ok_or(RevisionError::UnreadableIndex { path })
}
