//! A repository-shaped temp directory (environments/, templates/) and the binary under test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The repository this test binary was built from: its example environments are fixtures.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// An empty workspace with an environments/ directory.
    pub fn empty() -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("environments")).expect("mkdir");
        Workspace { dir }
    }

    /// A workspace holding a copy of the shipped example environments.
    pub fn examples() -> Workspace {
        let ws = Workspace::empty();
        for entry in std::fs::read_dir(repo_root().join("environments")).expect("examples") {
            let path = entry.expect("entry").path();
            std::fs::copy(
                &path,
                ws.root()
                    .join("environments")
                    .join(path.file_name().expect("name")),
            )
            .expect("copy");
        }
        ws
    }

    /// Makes the workspace a git repository (with a committer) and commits what `render`
    /// writes: a committed revision, so that `status` can tell drift.
    pub fn commit_rendered(&self) -> git2::Repository {
        let repo = git2::Repository::init(self.root()).expect("git init");
        let mut cfg = repo.config().expect("git config");
        cfg.set_str("user.name", "Test").expect("user.name");
        cfg.set_str("user.email", "test@example.com")
            .expect("user.email");
        let out = self
            .hadr(&["render", "--commit", "--allow-violations"])
            .output()
            .expect("render --commit");
        assert!(out.status.success(), "render --commit: {out:?}");
        repo
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> &Self {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
        self
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// `kubectl-hadr -C <workspace> ARGS...`
    pub fn hadr(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("kubectl-hadr").expect("binary");
        cmd.arg("-C")
            .arg(self.root())
            .args(args)
            .env("NO_COLOR", "1");
        cmd
    }

    /// `kubectl hadr ARGS` against the local control plane (its kubeconfig, one context per
    /// region), for the commands that talk to a cluster.
    pub fn hadr_on_testenv(&self, args: &[&str]) -> Command {
        let mut cmd = self.hadr(args);
        cmd.arg("--kubeconfig")
            .arg(crate::support::testenv::kubeconfig_path());
        cmd
    }

    /// Every file under `rel`, relative path -> bytes.
    pub fn snapshot(&self, rel: &str) -> BTreeMap<String, Vec<u8>> {
        snapshot_of(&self.root().join(rel))
    }
}

/// Every file under a directory, relative path -> bytes.
pub fn snapshot_of(base: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    walk(base, base, &mut files);
    files
}

fn walk(base: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.expect("entry").path();
        if p.is_dir() {
            walk(base, &p, files);
        } else {
            let rel = p
                .strip_prefix(base)
                .expect("prefix")
                .to_string_lossy()
                .replace('\\', "/");
            files.insert(rel, std::fs::read(&p).expect("read"));
        }
    }
}

/// A minimal valid environment file, with `extra` lines appended under `spec:`.
pub fn environment(name: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: hadr.dev/v1alpha1\nkind: Environment\nmetadata:\n  name: {name}\nspec:\n  app:\n    name: web\n    image: example.com/web:1.0.0\n  regions:\n    - name: east\n      context: ctx-east\n{extra_spec}"
    )
}
