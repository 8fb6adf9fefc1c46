//! `render --commit`, `--branch` and `--check` on real git repositories in temp directories.

use git2::{Repository, Signature};
use predicates::str::contains;

use crate::support::workspace::Workspace;

/// A workspace with the examples committed as the first commit.
fn repo() -> (Workspace, Repository) {
    let ws = Workspace::examples();
    let repo = Repository::init(ws.root()).unwrap();
    {
        let mut cfg = repo.config().unwrap();
        cfg.set_str("user.name", "Test").unwrap();
        cfg.set_str("user.email", "test@example.com").unwrap();
    }
    commit_all(&repo, "sources");
    (ws, repo)
}

fn commit_all(repo: &Repository, message: &str) -> git2::Oid {
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = Signature::now("Test", "test@example.com").unwrap();
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .unwrap()
}

fn head(repo: &Repository) -> git2::Commit<'_> {
    repo.head().unwrap().peel_to_commit().unwrap()
}

fn tree_paths(commit: &git2::Commit<'_>) -> Vec<String> {
    let mut paths = Vec::new();
    commit
        .tree()
        .unwrap()
        .walk(git2::TreeWalkMode::PreOrder, |root, e| {
            if e.kind() == Some(git2::ObjectType::Blob) {
                paths.push(format!("{root}{}", e.name().unwrap()));
            }
            git2::TreeWalkResult::Ok
        })
        .unwrap();
    paths.sort();
    paths
}

fn status(repo: &Repository) -> Vec<(String, git2::Status)> {
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true);
    repo.statuses(Some(&mut opts))
        .unwrap()
        .iter()
        .map(|s| (s.path().unwrap().to_string(), s.status()))
        .collect()
}

#[test]
fn commit_records_exactly_the_rendered_files_with_digests_and_source_trailers() {
    let (ws, repo) = repo();
    let source = head(&repo).id();
    // The user's own work in progress: one staged change, one unstaged change, one new file.
    ws.write("notes.txt", "staged\n");
    let mut index = repo.index().unwrap();
    index.add_path(std::path::Path::new("notes.txt")).unwrap();
    index.write().unwrap();
    ws.write("notes.txt", "staged, then edited\n");
    ws.write("scratch.txt", "untracked\n");

    ws.hadr(&["render", "--commit"])
        .assert()
        .success()
        .stdout(contains("committed "));
    let c = head(&repo);
    assert_eq!(c.parent_id(0).unwrap(), source);
    let msg = c.message().unwrap();
    assert!(msg.starts_with("render: prod, shop, staging\n"), "{msg}");
    assert!(msg.contains("prod/eastus2 sha256:"), "{msg}");
    assert!(msg.contains("staging/eastus2 sha256:"), "{msg}");
    assert!(
        msg.contains(&format!("Hadr-Source-Revision: {source}\n")),
        "{msg}"
    );
    assert!(msg.contains("Hadr-Version: "), "{msg}");

    let paths = tree_paths(&c);
    assert!(paths.contains(&"rendered/prod/eastus2/hadr.lock".to_string()));
    assert!(
        !paths.contains(&"notes.txt".to_string()),
        "a staged file of the user was committed"
    );
    assert!(!paths.contains(&"scratch.txt".to_string()));
    let changed: Vec<String> = {
        let old = repo.find_commit(source).unwrap().tree().unwrap();
        let diff = repo
            .diff_tree_to_tree(Some(&old), Some(&c.tree().unwrap()), None)
            .unwrap();
        diff.deltas()
            .map(|d| d.new_file().path().unwrap().display().to_string())
            .collect()
    };
    assert!(
        changed.iter().all(|p| p.starts_with("rendered/")),
        "{changed:?}"
    );

    // The user's changes are still there, as they were; the rendered files are clean.
    let st = status(&repo);
    assert!(
        st.iter().all(|(p, _)| !p.starts_with("rendered/")),
        "{st:?}"
    );
    let notes = st.iter().find(|(p, _)| p == "notes.txt").unwrap().1;
    assert!(notes.contains(git2::Status::INDEX_NEW) && notes.contains(git2::Status::WT_MODIFIED));
    assert!(
        st.iter()
            .any(|(p, s)| p == "scratch.txt" && s.contains(git2::Status::WT_NEW))
    );
}

#[test]
fn commit_is_idempotent_and_commits_only_real_changes() {
    let (ws, repo) = repo();
    ws.hadr(&["render", "--commit"]).assert().success();
    let first = head(&repo).id();
    ws.hadr(&["render", "--commit"])
        .assert()
        .success()
        .stdout(contains("nothing to commit"));
    assert_eq!(head(&repo).id(), first);

    let prod = ws
        .read("environments/prod.yaml")
        .replace("replicas: 4", "replicas: 6");
    ws.write("environments/prod.yaml", prod);
    ws.hadr(&["render", "prod", "--commit"]).assert().success();
    let second = head(&repo);
    assert_eq!(second.parent_id(0).unwrap(), first);
    let msg = second.message().unwrap();
    assert!(msg.starts_with("render: prod\n"), "{msg}");
    assert!(
        msg.contains("(with uncommitted changes)"),
        "the sources were edited but not committed: {msg}"
    );
    let diff = repo
        .diff_tree_to_tree(
            Some(&repo.find_commit(first).unwrap().tree().unwrap()),
            Some(&second.tree().unwrap()),
            None,
        )
        .unwrap();
    let files: Vec<String> = diff
        .deltas()
        .map(|d| d.new_file().path().unwrap().display().to_string())
        .collect();
    assert_eq!(
        files,
        vec![
            "rendered/prod/eastus2/apps_deployment_my-app_my-app.yaml",
            "rendered/prod/eastus2/hadr.lock"
        ]
    );
}

#[test]
fn branch_commits_the_rendered_tree_without_touching_the_working_tree_or_index() {
    let (ws, repo) = repo();
    let before_head = head(&repo).id();
    let index_before = std::fs::read(ws.root().join(".git/index")).unwrap();
    ws.hadr(&["render", "--branch", "rendered"])
        .assert()
        .success()
        .stdout(contains("to refs/heads/rendered"));
    assert_eq!(head(&repo).id(), before_head, "HEAD moved");
    assert!(
        !ws.root().join("rendered").exists(),
        "the working tree was written"
    );
    assert_eq!(
        std::fs::read(ws.root().join(".git/index")).unwrap(),
        index_before,
        "the index changed"
    );
    let branch = repo
        .find_branch("rendered", git2::BranchType::Local)
        .unwrap();
    let c = branch.get().peel_to_commit().unwrap();
    let paths = tree_paths(&c);
    assert!(
        paths.iter().all(|p| p.starts_with("rendered/")),
        "{paths:?}"
    );
    assert!(paths.contains(&"rendered/staging/eastus2/hadr.lock".to_string()));
    // Rendering to the branch again changes nothing; a change makes a child commit.
    ws.hadr(&["render", "--branch", "rendered"])
        .assert()
        .success()
        .stdout(contains("nothing to commit"));
    let prod = ws
        .read("environments/prod.yaml")
        .replace("replicas: 4", "replicas: 5");
    ws.write("environments/prod.yaml", prod);
    ws.hadr(&["render", "--branch", "rendered"])
        .assert()
        .success();
    let next = repo
        .find_branch("rendered", git2::BranchType::Local)
        .unwrap()
        .get()
        .peel_to_commit()
        .unwrap();
    assert_eq!(next.parent_id(0).unwrap(), c.id());
}

#[test]
fn branch_refuses_the_checked_out_branch_and_bad_names() {
    let (ws, repo) = repo();
    let current = repo.head().unwrap().shorthand().unwrap().to_string();
    ws.hadr(&["render", "--branch", &current])
        .assert()
        .code(2)
        .stderr(contains("is checked out here"));
    ws.hadr(&["render", "--branch", "bad..name"])
        .assert()
        .code(2)
        .stderr(contains("not a valid branch name"));
}

#[test]
fn check_is_the_ci_gate_for_a_forgotten_render() {
    let (ws, repo) = repo();
    ws.hadr(&["render", "--commit"]).assert().success();
    ws.hadr(&["render", "--check"]).assert().success();
    // Someone edits an environment and commits it without rendering.
    let prod = ws
        .read("environments/prod.yaml")
        .replace("replicas: 4", "replicas: 7");
    ws.write("environments/prod.yaml", prod);
    commit_all(&repo, "edit prod");
    ws.hadr(&["render", "--check"])
        .assert()
        .code(1)
        .stdout(contains(
            "rendered/prod/eastus2/apps_deployment_my-app_my-app.yaml",
        ));
}

#[test]
fn commit_refuses_hand_edits_and_commits_nothing() {
    let (ws, repo) = repo();
    ws.hadr(&["render", "--commit"]).assert().success();
    let first = head(&repo).id();
    let svc = "rendered/prod/centralus/core_service_my-app_my-app.yaml";
    ws.write(svc, ws.read(svc).replace("port: 80", "port: 8080"));
    ws.hadr(&["render", "--commit"])
        .assert()
        .code(2)
        .stderr(contains("refusing to overwrite hand edits"))
        .stderr(contains(svc));
    assert_eq!(head(&repo).id(), first);
}

#[test]
fn commit_outside_a_repository_is_a_clear_error() {
    let ws = Workspace::examples();
    ws.hadr(&["render", "--commit"])
        .assert()
        .code(2)
        .stderr(contains("is not inside a git repository"));
}

#[test]
fn the_commit_policy_gate_and_the_committed_tree_hold_with_the_render_cache() {
    let (ws, repo) = repo();
    ws.hadr(&["render", "--commit"]).assert().success();
    let first = head(&repo).id();
    let prod = ws.read("environments/prod.yaml");
    let unpinned = prod.replace("my-app:1.4.2", "my-app:latest");
    assert_ne!(prod, unpinned);
    ws.write("environments/prod.yaml", &unpinned);
    // A plain render caches the new regions; the gate must still run on them.
    ws.hadr(&["render"]).assert().success();
    ws.hadr(&["render", "--commit"])
        .assert()
        .code(2)
        .stderr(contains("HA008"));
    assert_eq!(head(&repo).id(), first, "a refused commit commits nothing");
    ws.hadr(&["render", "--commit", "--allow-violations"])
        .assert()
        .success();
    let unpinned_commit = head(&repo).id();
    assert_ne!(unpinned_commit, first);
    // Back to the sources of the first commit: its tree again, from cached regions.
    ws.write("environments/prod.yaml", &prod);
    ws.hadr(&["render"]).assert().success();
    ws.hadr(&["render", "--commit"]).assert().success();
    let c = head(&repo);
    assert_eq!(c.parent_id(0).unwrap(), unpinned_commit);
    assert_eq!(
        c.tree().unwrap().id(),
        repo.find_commit(first).unwrap().tree().unwrap().id()
    );
}
