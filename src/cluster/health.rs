//! Health of a rendered set's workloads, read from their `status` as the controllers write it:
//! a Deployment is healthy when every replica is updated and available, a StatefulSet or
//! DaemonSet when every pod is ready, a Job when it succeeded, a PodDisruptionBudget when
//! `currentHealthy >= desiredHealthy` (apps/v1, batch/v1, policy/v1 API docs).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::stop::Stop;
use super::{Cluster, live};
use crate::render::manifest::ObjectId;

/// Kinds whose status says whether they are healthy.
fn watched(kind: &str) -> bool {
    matches!(
        kind,
        "Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "PodDisruptionBudget"
    )
}

/// Why the wait ended without health.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unhealthy {
    #[error("not healthy after {seconds}s: {}", .waiting.join("; "))]
    Timeout { seconds: u64, waiting: Vec<String> },
    #[error("health check failed: {0}")]
    Unreadable(String),
    #[error("interrupted by a signal while waiting for health")]
    Interrupted,
}

/// Waits until every workload and PodDisruptionBudget among `ids` is healthy, or `timeout`.
/// Each poll (every 500 ms) is one LIST per kind and namespace; `waiting` hears a short line
/// of what is still not ready after each poll that found something.
pub async fn wait(
    cluster: &Cluster,
    environment: &str,
    ids: &[&ObjectId],
    timeout: Duration,
    waiting: &(dyn Fn(String) + Sync),
    stop: &Stop,
) -> Result<(), Unhealthy> {
    let deadline = Instant::now() + timeout;
    let watched: Vec<&ObjectId> = ids.iter().copied().filter(|id| watched(&id.kind)).collect();
    loop {
        let live = live::snapshot(cluster, environment, &watched)
            .await
            .map_err(|e| Unhealthy::Unreadable(crate::cluster::describe(&e)))?;
        let pending: Vec<String> = watched
            .iter()
            .filter_map(|id| {
                live.get(*id)
                    .map_or(Some("not found".to_string()), |v| unhealthy(id, v))
                    .map(|why| format!("{id}: {why}"))
            })
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Unhealthy::Timeout {
                seconds: timeout.as_secs(),
                waiting: pending,
            });
        }
        waiting(format!(
            "{}: waiting {}s for {}",
            cluster.region,
            (deadline - Instant::now()).as_secs(),
            summarize(&pending)
        ));
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            () = stop.wait() => return Err(Unhealthy::Interrupted),
        }
    }
}

/// The first few of a long list, and how many more: a status line, not a wall of text.
fn summarize(items: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut text = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}

/// Why an object is not healthy yet, if it is not.
pub fn unhealthy(id: &ObjectId, v: &Value) -> Option<String> {
    let n = |p: &Value| p.as_i64().unwrap_or(0);
    let status = &v["status"];
    let generation = n(&v["metadata"]["generation"]);
    if status["observedGeneration"].is_i64() && n(&status["observedGeneration"]) < generation {
        return Some("update not observed yet".into());
    }
    match id.kind.as_str() {
        "Deployment" => {
            let want = v["spec"]["replicas"].as_i64().unwrap_or(1);
            let (updated, available) = (
                n(&status["updatedReplicas"]),
                n(&status["availableReplicas"]),
            );
            (updated < want || available < want)
                .then(|| format!("{available}/{want} available, {updated} updated"))
        }
        "StatefulSet" => {
            let want = v["spec"]["replicas"].as_i64().unwrap_or(1);
            let ready = n(&status["readyReplicas"]);
            (ready < want).then(|| format!("{ready}/{want} ready"))
        }
        "DaemonSet" => {
            let want = n(&status["desiredNumberScheduled"]);
            let ready = n(&status["numberReady"]);
            (ready < want).then(|| format!("{ready}/{want} ready"))
        }
        "Job" => (n(&status["succeeded"]) < 1).then(|| "not complete".into()),
        "PodDisruptionBudget" => {
            let (healthy, desired) = (n(&status["currentHealthy"]), n(&status["desiredHealthy"]));
            (healthy < desired).then(|| format!("{healthy}/{desired} healthy"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployments_are_healthy_only_when_every_replica_is_available() {
        let id = ObjectId {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("x".into()),
            name: "d".into(),
        };
        let v = json!({"metadata": {"generation": 2}, "spec": {"replicas": 3}, "status": {"observedGeneration": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        assert!(unhealthy(&id, &v).is_some());
        let v = json!({"metadata": {"generation": 2}, "spec": {"replicas": 3}, "status": {"observedGeneration": 2, "updatedReplicas": 3, "availableReplicas": 3}});
        assert!(unhealthy(&id, &v).is_none());
    }

    #[test]
    fn a_spec_change_the_controller_has_not_observed_is_not_healthy() {
        let id = ObjectId {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("x".into()),
            name: "d".into(),
        };
        let v = json!({"metadata": {"generation": 3}, "spec": {"replicas": 1}, "status": {"observedGeneration": 2, "updatedReplicas": 1, "availableReplicas": 1}});
        assert_eq!(
            unhealthy(&id, &v).as_deref(),
            Some("update not observed yet")
        );
    }
}
