//! The git store of rendered trees: commits a render (to HEAD or another branch) with git2,
//! touching nothing of the user's but the rendered paths, and reads what a revision holds.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use git2::{
    FileMode, ObjectType, Oid, Repository, Signature, StatusOptions, TreeWalkMode, TreeWalkResult,
};

use crate::render::manifest::INDEX_FILE;
use crate::revision::tree::{Files, Scope};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{} is not inside a git repository (run `git init`, or render without --commit/--branch)", .0.display())]
    NotARepository(PathBuf),
    #[error("the output directory {} is outside the repository at {}", .out.display(), .repo.display())]
    OutsideRepository { out: PathBuf, repo: PathBuf },
    #[error("branch `{0}` is checked out here; use --commit to commit to it")]
    CheckedOut(String),
    #[error("`{0}` is not a valid branch name")]
    BadBranch(String),
    #[error(
        "no commit, branch or tag `{0}` in this repository\n  help: name a commit (`git log --oneline` lists them), a branch or a tag; `HEAD~1` needs a commit before HEAD"
    )]
    UnknownRevision(String),
    /// libgit2's message alone: its class and code are for programs.
    #[error("git: {}", .0.message())]
    Git(#[from] git2::Error),
}

/// Where a render is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The checked-out branch; the index is updated for the rendered paths only.
    Head,
    /// Another branch; neither the working tree nor the index is touched.
    Branch(String),
}

pub struct Store {
    repo: Repository,
    workdir: PathBuf,
}

impl Store {
    pub fn discover(dir: &Path) -> Result<Store, StoreError> {
        let repo =
            Repository::discover(dir).map_err(|_| StoreError::NotARepository(dir.to_path_buf()))?;
        let workdir = repo
            .workdir()
            .ok_or_else(|| StoreError::NotARepository(dir.to_path_buf()))?
            .canonicalize()
            .map_err(|_| StoreError::NotARepository(dir.to_path_buf()))?;
        Ok(Store { repo, workdir })
    }

    /// A path inside the working tree, relative to its top.
    pub fn relative(&self, path: &Path) -> Result<PathBuf, StoreError> {
        let abs = absolute(path);
        abs.strip_prefix(&self.workdir)
            .map(Path::to_path_buf)
            .map_err(|_| StoreError::OutsideRepository {
                out: path.to_path_buf(),
                repo: self.workdir.clone(),
            })
    }

    /// The commit the sources were rendered from, marked when `paths` have uncommitted changes.
    pub fn source_revision(&self, paths: &[PathBuf]) -> String {
        let head = match self.repo.head().ok().and_then(|h| h.target()) {
            Some(oid) => oid.to_string(),
            None => return "none (no commit yet)".into(),
        };
        let mut opts = StatusOptions::new();
        opts.include_untracked(true);
        for p in paths {
            if let Ok(rel) = self.relative(p) {
                opts.pathspec(rel);
            }
        }
        let dirty = self
            .repo
            .statuses(Some(&mut opts))
            .is_ok_and(|s| !s.is_empty());
        if dirty {
            format!("{head} (with uncommitted changes)")
        } else {
            head
        }
    }

    /// Commits the desired rendered files of `scope` (paths relative to `out`, itself relative
    /// to the working tree). Returns `None` when the target already holds exactly these files.
    pub fn commit(
        &self,
        target: &Target,
        out: &Path,
        scope: &Scope,
        desired: &Files,
        message: &str,
    ) -> Result<Option<Oid>, StoreError> {
        let (refname, parent) = self.target_ref(target)?;
        let baseline = match &parent {
            Some(c) => c.tree()?,
            None => {
                let empty = self.repo.treebuilder(None)?.write()?;
                self.repo.find_tree(empty)?
            }
        };
        let existing = self.owned_blobs(&baseline, out, scope)?;
        let (tree_id, touched) = self.updated_tree(&baseline, out, desired, existing)?;
        if tree_id == baseline.id() && parent.is_some() {
            return Ok(None);
        }
        let tree = self.repo.find_tree(tree_id)?;
        let sig = self
            .repo
            .signature()
            .or_else(|_| Signature::now("kubectl-hadr", "kubectl-hadr@localhost"))?;
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        let oid = self
            .repo
            .commit(Some(&refname), &sig, &sig, message, &tree, &parents)?;
        if *target == Target::Head {
            self.stage(touched)?;
        }
        Ok(Some(oid))
    }

    /// The reference a commit to `target` updates, and the commit it points at now, if any.
    fn target_ref(
        &self,
        target: &Target,
    ) -> Result<(String, Option<git2::Commit<'_>>), StoreError> {
        match target {
            Target::Head => {
                let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
                Ok(("HEAD".to_string(), parent))
            }
            Target::Branch(name) => {
                let refname = format!("refs/heads/{name}");
                if !git2::Reference::is_valid_name(&refname) {
                    return Err(StoreError::BadBranch(name.clone()));
                }
                if self
                    .repo
                    .head()
                    .ok()
                    .and_then(|h| h.name().ok().map(str::to_string))
                    == Some(refname.clone())
                {
                    return Err(StoreError::CheckedOut(name.clone()));
                }
                let parent = self
                    .repo
                    .find_reference(&refname)
                    .ok()
                    .and_then(|r| r.peel_to_commit().ok());
                Ok((refname, parent))
            }
        }
    }

    /// The files of `baseline` that a commit of `scope` owns: those under its directories and,
    /// when it prunes environments, under every environment directory of `out` that is ours.
    fn owned_blobs(
        &self,
        baseline: &git2::Tree<'_>,
        out: &Path,
        scope: &Scope,
    ) -> Result<BTreeSet<PathBuf>, StoreError> {
        let mut existing = BTreeSet::new();
        let mut dirs: Vec<PathBuf> = scope.dirs.iter().map(|d| out.join(d)).collect();
        if scope.prune_environments
            && let Ok(entry) = baseline.get_path(out)
            && let Ok(tree) = entry.to_object(&self.repo).and_then(|o| o.peel_to_tree())
        {
            for env in tree.iter() {
                if env.kind() == Some(ObjectType::Tree) {
                    dirs.push(out.join(env.name().unwrap_or_default()));
                }
            }
        }
        for dir in dirs {
            self.blobs_under(baseline, &dir, &mut existing)?;
        }
        // Environment directories we prune must be ours: they hold region indexes.
        existing.retain(|p: &PathBuf| {
            let env_rel = p
                .strip_prefix(out)
                .ok()
                .and_then(|r| r.iter().next().map(PathBuf::from));
            env_rel.is_some_and(|e| {
                scope.dirs.iter().any(|d| d.starts_with(&e))
                    || self.has_index(baseline, &out.join(&e))
            })
        });
        Ok(existing)
    }

    /// `baseline` with the desired files written and the other `existing` ones removed: the
    /// new tree, and each path touched with whether it is there now.
    fn updated_tree(
        &self,
        baseline: &git2::Tree<'_>,
        out: &Path,
        desired: &Files,
        existing: BTreeSet<PathBuf>,
    ) -> Result<(Oid, Vec<(PathBuf, bool)>), StoreError> {
        let mut update = git2::build::TreeUpdateBuilder::new();
        let mut touched: Vec<(PathBuf, bool)> = Vec::new();
        for (rel, bytes) in desired {
            let path = out.join(rel);
            let oid = self.repo.blob(bytes)?;
            update.upsert(git_path(&path), oid, FileMode::Blob);
            touched.push((path, true));
        }
        for path in existing {
            let rel = path.strip_prefix(out).unwrap_or(&path);
            if !desired.contains_key(rel) {
                update.remove(git_path(&path));
                touched.push((path, false));
            }
        }
        Ok((update.create_updated(&self.repo, baseline)?, touched))
    }

    /// Stages exactly the rendered paths, so `git status` is clean for them and every other
    /// staged or unstaged change of the user stays as it was.
    fn stage(&self, touched: Vec<(PathBuf, bool)>) -> Result<(), StoreError> {
        let mut index = self.repo.index()?;
        for (path, present) in touched {
            if present {
                index.add_path(&path)?;
            } else if index.get_path(&path, 0).is_some() {
                index.remove_path(&path)?;
            }
        }
        index.write()?;
        Ok(())
    }

    fn blobs_under(
        &self,
        tree: &git2::Tree<'_>,
        dir: &Path,
        out: &mut BTreeSet<PathBuf>,
    ) -> Result<(), StoreError> {
        let Ok(entry) = tree.get_path(dir) else {
            return Ok(());
        };
        let Ok(sub) = entry.to_object(&self.repo).and_then(|o| o.peel_to_tree()) else {
            return Ok(());
        };
        sub.walk(TreeWalkMode::PreOrder, |root, e| {
            if e.kind() == Some(ObjectType::Blob) {
                out.insert(dir.join(root).join(e.name().unwrap_or_default()));
            }
            TreeWalkResult::Ok
        })?;
        Ok(())
    }

    /// Whether an environment directory of a tree holds region directories with an index.
    fn has_index(&self, tree: &git2::Tree<'_>, env_dir: &Path) -> bool {
        let Ok(entry) = tree.get_path(env_dir) else {
            return false;
        };
        let Some(t) = entry
            .to_object(&self.repo)
            .ok()
            .and_then(|o| o.into_tree().ok())
        else {
            return false;
        };
        t.iter()
            .filter_map(|r| r.name().ok().map(|n| env_dir.join(n).join(INDEX_FILE)))
            .any(|p| tree.get_path(&p).is_ok())
    }

    /// Commits reachable from HEAD that changed `dir`, newest first: (id, time, summary).
    pub fn commits_touching(
        &self,
        dir: &Path,
        limit: usize,
    ) -> Result<Vec<(String, i64, String)>, StoreError> {
        let mut walk = self.repo.revwalk()?;
        walk.push_head()?;
        walk.set_sorting(git2::Sort::TIME | git2::Sort::TOPOLOGICAL)?;
        let tree_id = |c: &git2::Commit<'_>| {
            c.tree()
                .ok()
                .and_then(|t| t.get_path(dir).ok())
                .map(|e| e.id())
        };
        let mut out = Vec::new();
        for oid in walk {
            let commit = self.repo.find_commit(oid?)?;
            let here = tree_id(&commit);
            let before = commit.parent(0).ok().and_then(|p| tree_id(&p));
            if here.is_some() && here != before {
                out.push((
                    oid_string(&commit),
                    commit.time().seconds(),
                    commit
                        .summary()
                        .ok()
                        .flatten()
                        .unwrap_or_default()
                        .to_string(),
                ));
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The commit id a commit-ish names.
    pub fn resolve(&self, revision: &str) -> Result<String, StoreError> {
        Ok(self.commit_of(revision)?.id().to_string())
    }

    /// The commit a commit-ish names; `UnknownRevision` when it names none.
    fn commit_of(&self, revision: &str) -> Result<git2::Commit<'_>, StoreError> {
        let unknown = |e: git2::Error| match e.code() {
            git2::ErrorCode::NotFound
            | git2::ErrorCode::Ambiguous
            | git2::ErrorCode::InvalidSpec => StoreError::UnknownRevision(revision.to_string()),
            _ => StoreError::Git(e),
        };
        self.repo
            .revparse_single(revision)
            .and_then(|o| o.peel_to_commit())
            .map_err(unknown)
    }

    /// The files of a rendered directory (relative to the working tree top) at a revision.
    pub fn read_tree(&self, revision: &str, dir: &Path) -> Result<Files, StoreError> {
        let commit = self.commit_of(revision)?;
        let tree = commit.tree()?;
        let mut paths = BTreeSet::new();
        self.blobs_under(&tree, dir, &mut paths)?;
        let mut files = Files::new();
        for p in paths {
            let blob = tree.get_path(&p)?.to_object(&self.repo)?.peel_to_blob()?;
            files.insert(
                p.strip_prefix(dir).unwrap_or(&p).to_path_buf(),
                blob.content().to_vec(),
            );
        }
        Ok(files)
    }
}

/// git paths always use `/`.
fn git_path(p: &Path) -> String {
    p.iter()
        .map(|c| c.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn absolute(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    // The output directory may not exist yet: resolve its nearest existing ancestor.
    let mut missing = Vec::new();
    let mut cur = p.to_path_buf();
    loop {
        if let Ok(c) = cur.canonicalize() {
            return missing
                .into_iter()
                .rev()
                .fold(c, |acc: PathBuf, m| acc.join(m));
        }
        match (cur.file_name().map(|f| f.to_os_string()), cur.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name);
                cur = if parent.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    parent.to_path_buf()
                };
            }
            _ => return p.to_path_buf(),
        }
    }
}

fn oid_string(c: &git2::Commit<'_>) -> String {
    c.id().to_string()
}
