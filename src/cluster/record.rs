//! The in-cluster record of what was deployed: revision, set digest, time, user and health,
//! with the last 20 rollouts, kept in the `data` of the ApplySet parent, so `status` and
//! `rollback --to previous` work without the git working tree.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::applyset::{parent_id, parent_name};
use super::{Cluster, ClusterError};

/// The record's field manager (the parent's annotations have another one).
const RECORD_MANAGER: &str = "kubectl-hadr-record";
/// Rollouts kept in the history.
const HISTORY_LENGTH: usize = 20;

/// Whether the workloads of a rollout became healthy within its timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Ok,
    Failed,
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Health::Ok => "ok",
            Health::Failed => "failed",
        })
    }
}

/// One deployment, as recorded in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// A commit id, or `working-tree`.
    pub revision: String,
    /// The set digest (`sha256:...`).
    pub digest: String,
    /// RFC 3339, UTC.
    pub time: String,
    /// `user@host`.
    pub user: String,
    pub health: Health,
}

/// The revision name recorded for a rollout of uncommitted rendered files.
pub const WORKING_TREE: &str = "working-tree";

/// Writes `record` as the newest and returns the previous healthy one of another revision
/// (what an automatic rollback goes back to).
pub async fn write(
    cluster: &Cluster,
    environment: &str,
    namespace: &str,
    record: &Record,
) -> Result<Option<Record>, ClusterError> {
    let mut history = read_history(cluster, environment, namespace).await?;
    let previous = history
        .iter()
        .rev()
        .find(|r| r.health == Health::Ok && r.revision != record.revision)
        .cloned();
    history.push(record.clone());
    let skip = history.len().saturating_sub(HISTORY_LENGTH);
    let history: Vec<&Record> = history.iter().skip(skip).collect();
    let data = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": parent_name(environment), "namespace": namespace},
        "data": {
            "revision": record.revision,
            "digest": record.digest,
            "time": record.time,
            "user": record.user,
            "health": record.health.to_string(),
            "history": serde_json::to_string(&history).unwrap_or_default(),
        },
    });
    cluster
        .apply_as(&parent_id(environment, namespace), &data, RECORD_MANAGER)
        .await?;
    Ok(previous)
}

/// The deployment history of an environment in a region, oldest first (empty when none).
pub async fn read_history(
    cluster: &Cluster,
    environment: &str,
    namespace: &str,
) -> Result<Vec<Record>, ClusterError> {
    Ok(cluster
        .get(&parent_id(environment, namespace))
        .await?
        .and_then(|p| {
            p["data"]["history"]
                .as_str()
                .and_then(|h| serde_json::from_str(h).ok())
        })
        .unwrap_or_default())
}

/// The healthy revision deployed before the current one (of another revision).
pub fn previous_revision(history: &[Record]) -> Option<&Record> {
    let current = history.last()?;
    history
        .iter()
        .rev()
        .skip(1)
        .find(|r| r.health == Health::Ok && r.revision != current.revision)
}

/// `user@host` of whoever runs this process, for the record and the Lease holder.
pub fn whoami() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_skips_failed_and_same_revisions() {
        let r = |rev: &str, health: Health| Record {
            revision: rev.into(),
            digest: String::new(),
            time: String::new(),
            user: String::new(),
            health,
        };
        let h = vec![
            r("a", Health::Ok),
            r("b", Health::Failed),
            r("c", Health::Ok),
            r("c", Health::Ok),
        ];
        assert_eq!(previous_revision(&h).unwrap().revision, "a");
    }

    #[test]
    fn records_read_back_the_strings_earlier_versions_wrote() {
        let r: Record = serde_json::from_str(
            r#"{"revision":"a","digest":"sha256:x","time":"t","user":"u","health":"failed"}"#,
        )
        .unwrap();
        assert_eq!(r.health, Health::Failed);
    }
}
