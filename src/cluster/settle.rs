//! Waiting for the API server to finish what a request started: a deleted object gone for
//! good (finalizers run), a new CustomResourceDefinition established (its kind served).

use std::time::{Duration, Instant};

use super::{Cluster, ClusterError};
use crate::render::manifest::ObjectId;

/// How often to look again.
const POLL: Duration = Duration::from_millis(200);

impl Cluster {
    /// Deletes an object and waits until it is gone (its finalizers have run), so that an
    /// object of the same name can be created: what `kubectl replace --force` does.
    ///
    /// Errors: the delete fails, or the object is still there after `timeout`.
    pub async fn delete_and_wait(
        &self,
        id: &ObjectId,
        timeout: Duration,
    ) -> Result<(), ClusterError> {
        let uid = self.get(id).await?.map(|v| v["metadata"]["uid"].clone());
        self.delete(id).await?;
        let start = Instant::now();
        loop {
            let now = self.get(id).await?.map(|v| v["metadata"]["uid"].clone());
            // Gone, or already replaced by an object of another uid.
            if now.is_none() || now != uid {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(self.timed_out(
                    id,
                    timeout,
                    "to be deleted (a finalizer is holding it)",
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until a CustomResourceDefinition has the condition `Established`, i.e. its kind
    /// is served (the API server's own readiness signal, as `kubectl wait
    /// --for=condition=Established` uses).
    pub async fn wait_established(
        &self,
        id: &ObjectId,
        timeout: Duration,
    ) -> Result<(), ClusterError> {
        let start = Instant::now();
        loop {
            let crd = self.get(id).await?;
            let established = crd.as_ref().is_some_and(|c| {
                c["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|k| k["type"] == "Established" && k["status"] == "True")
            });
            if established {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(self.timed_out(id, timeout, "to be established"));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn timed_out(&self, id: &ObjectId, timeout: Duration, what: &str) -> ClusterError {
        ClusterError::Api {
            region: self.region.clone(),
            id: id.to_string(),
            message: format!("waited {}s for it {what}", timeout.as_secs()),
            source: None,
        }
    }
}
