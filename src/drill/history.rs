//! The drills an environment has on record: the `report.json` files `drill --commit` added
//! under `drills/<env>/<date>-<id>/`, read from the commit at HEAD (evidence that is only in
//! the working tree, or in a `--report` directory elsewhere, is not on record).

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::Verdict;
use crate::policy::LastDrill;

/// One drill on record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillRecord {
    /// The directory of its evidence in the repository (`drills/prod/2026-11-30-zone-...`).
    pub path: PathBuf,
    pub id: String,
    /// `zone` or `region`.
    pub drill: String,
    /// When the loss was declared (RFC 3339).
    pub started: Timestamp,
    pub verdict: Verdict,
    /// What was lost, in words.
    pub lost: String,
}

/// The part of `report.json` (its shape: [`super::evidence`]) the history needs.
#[derive(Deserialize)]
struct ReportHead {
    id: String,
    drill: String,
    started: String,
    verdict: Verdict,
    lost: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{}: cannot read the drill history: {message}", .path.display())]
    Git {
        path: PathBuf,
        message: String,
        #[source]
        source: git2::Error,
    },
    #[error("{}: not a drill report: {message}\n  help: `drills/` holds what `kubectl hadr drill --commit` wrote; restore the file from git history or remove its directory", .path.display())]
    Report { path: PathBuf, message: String },
}

/// The drills of `environment` committed at HEAD of the repository holding `root`, oldest
/// first. No repository, no commit or no `drills/<env>/` is an empty history.
///
/// Errors: git failing to read an object, or a `report.json` that is not a drill report.
pub fn read(root: &Path, environment: &str) -> Result<Vec<DrillRecord>, HistoryError> {
    let Ok(repo) = git2::Repository::discover(root) else {
        return Ok(Vec::new());
    };
    let Ok(tree) = repo.head().and_then(|h| h.peel_to_tree()) else {
        return Ok(Vec::new());
    };
    let dir = Path::new("drills").join(environment);
    let Ok(entry) = tree.get_path(&dir) else {
        return Ok(Vec::new());
    };
    let git = |source: git2::Error| HistoryError::Git {
        path: dir.clone(),
        message: source.message().to_string(),
        source,
    };
    let drills = repo.find_tree(entry.id()).map_err(git)?;
    let mut records = Vec::new();
    for drill in drills.iter() {
        let Ok(name) = drill.name() else { continue };
        let path = dir.join(name);
        let Ok(files) = repo.find_tree(drill.id()) else {
            continue;
        };
        let Some(report) = files.get_name("report.json") else {
            continue;
        };
        let blob = repo.find_blob(report.id()).map_err(git)?;
        records.push(record(path, blob.content())?);
    }
    records.sort_by(|a, b| (a.started, &a.id).cmp(&(b.started, &b.id)));
    Ok(records)
}

fn record(path: PathBuf, json: &[u8]) -> Result<DrillRecord, HistoryError> {
    let file = path.join("report.json");
    let bad = |message: String| HistoryError::Report {
        path: file.clone(),
        message,
    };
    let head: ReportHead = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
    let started = head
        .started
        .parse::<Timestamp>()
        .map_err(|e| bad(format!("`started` is not an RFC 3339 time: {e}")))?;
    Ok(DrillRecord {
        path,
        id: head.id,
        drill: head.drill,
        started,
        verdict: head.verdict,
        lost: head.lost,
    })
}

/// The newest drill on record, and the newest that passed.
pub fn newest(records: &[DrillRecord]) -> (Option<&DrillRecord>, Option<&DrillRecord>) {
    let passed = records.iter().rev().find(|r| r.verdict == Verdict::Pass);
    (records.last(), passed)
}

/// The newest passing drill, as DR009 reads it.
pub fn last_pass(records: &[DrillRecord]) -> Option<LastDrill> {
    newest(records).1.map(|r| LastDrill {
        path: r.path.display().to_string(),
        started: r.started,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(repo: &git2::Repository, files: &[(&str, &str)]) {
        let mut index = repo.index().unwrap();
        let root = repo.workdir().unwrap();
        for (path, text) in files {
            let full = root.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, text).unwrap();
            index.add_path(Path::new(path)).unwrap();
        }
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let parents: Vec<git2::Commit> = repo
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .into_iter()
            .collect();
        let parents: Vec<&git2::Commit> = parents.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, "m", &tree, &parents)
            .unwrap();
    }

    fn report(id: &str, started: &str, verdict: &str) -> String {
        format!(
            r#"{{"apiVersion":"hadr.dev/v1alpha1","kind":"DrillReport","drill":"zone","environment":"prod","id":"{id}","started":"{started}","seconds":3.0,"verdict":"{verdict}","lost":"lost zone z1 of region r"}}"#
        )
    }

    #[test]
    fn the_history_is_what_is_committed_oldest_first_and_newest_pass_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        assert_eq!(read(dir.path(), "prod").unwrap(), vec![]);
        commit(
            &repo,
            &[
                (
                    "drills/prod/2026-11-02-b/report.json",
                    &report("b", "2026-11-02T10:00:00Z", "fail"),
                ),
                (
                    "drills/prod/2026-10-01-a/report.json",
                    &report("a", "2026-10-01T10:00:00Z", "pass"),
                ),
                (
                    "drills/staging/2026-11-20-c/report.json",
                    &report("c", "2026-11-20T10:00:00Z", "pass"),
                ),
            ],
        );
        // Only in the working tree: not on record.
        let loose = dir.path().join("drills/prod/2026-11-29-d");
        std::fs::create_dir_all(&loose).unwrap();
        std::fs::write(
            loose.join("report.json"),
            report("d", "2026-11-29T10:00:00Z", "pass"),
        )
        .unwrap();
        let records = read(dir.path(), "prod").unwrap();
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        let (last, passed) = newest(&records);
        assert_eq!(last.unwrap().verdict, Verdict::Fail);
        assert_eq!(passed.unwrap().id, "a");
        assert_eq!(passed.unwrap().path, Path::new("drills/prod/2026-10-01-a"));
    }

    #[test]
    fn a_report_that_is_not_a_drill_report_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        commit(&repo, &[("drills/prod/x/report.json", "{\"id\": 1}")]);
        let e = read(dir.path(), "prod").unwrap_err().to_string();
        assert!(
            e.starts_with("drills/prod/x/report.json: not a drill report"),
            "{e}"
        );
    }
}
