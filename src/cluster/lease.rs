//! One rollout per environment and region at a time: a `coordination.k8s.io/v1` Lease
//! `hadr-rollout-<env>` in the environment's namespace, with holder and expiry. An expired
//! lease is taken over; a live one is reported with its holder. Optimistic concurrency
//! (resourceVersion on replace, AlreadyExists on create) settles two rollouts racing for it.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use serde_json::json;

use super::record::whoami;
use super::{Cluster, ClusterError};

const LEASE_PREFIX: &str = "hadr-rollout-";
/// Short, and renewed while the rollout runs: a rollout that dies (SIGKILL, lost machine)
/// blocks the next one for at most this long (seconds).
const LEASE_SECONDS: i32 = 30;

/// A Lease this process holds; renewed every third of its duration until released or dropped.
pub struct Held {
    api: Api<Lease>,
    name: String,
    holder: String,
    renewer: tokio::task::JoinHandle<()>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

impl Held {
    /// Gives the Lease up (holder cleared), so the next rollout need not wait for it to expire.
    /// Best effort: a lease that cannot be released expires by itself.
    pub async fn release(self) {
        self.renewer.abort();
        if let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await
            && lease
                .spec
                .as_ref()
                .and_then(|s| s.holder_identity.as_deref())
                == Some(self.holder.as_str())
        {
            if let Some(s) = lease.spec.as_mut() {
                s.holder_identity = None;
            }
            let _ = self
                .api
                .replace(&self.name, &PostParams::default(), &lease)
                .await;
        }
    }
}

/// Kubernetes MicroTime: RFC 3339 with exactly six fractional digits, UTC.
pub fn micro_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Takes the environment's Lease in this region, or says who holds it and until when.
///
/// Errors: [`ClusterError::LeaseHeld`] for a live lease of another holder,
/// [`ClusterError::Api`] when the server refuses (a race lost, RBAC, a missing namespace).
pub async fn acquire(
    cluster: &Cluster,
    environment: &str,
    namespace: &str,
) -> Result<Held, ClusterError> {
    let api: Api<Lease> = Api::namespaced(cluster.client(), namespace);
    let name = format!("{LEASE_PREFIX}{environment}");
    let holder = format!("{} pid {}", whoami(), std::process::id());
    let now = Timestamp::now();
    let spec = json!({
        "holderIdentity": holder,
        "leaseDurationSeconds": LEASE_SECONDS,
        "acquireTime": micro_time(now),
        "renewTime": micro_time(now),
    });
    let id = format!("Lease {namespace}/{name}");
    let err = |e: kube::Error| cluster.lease_error(&id, e);
    let spec = serde_json::from_value(spec).map_err(|e| ClusterError::Api {
        region: cluster.region.clone(),
        id: id.clone(),
        message: e.to_string(),
        source: Some(e.into()),
    })?;
    match api.get_opt(&name).await.map_err(err)? {
        None => {
            let lease = Lease {
                metadata: kube::api::ObjectMeta {
                    name: Some(name.clone()),
                    ..Default::default()
                },
                spec: Some(spec),
            };
            api.create(&PostParams::default(), &lease)
                .await
                .map_err(err)?;
        }
        Some(mut lease) => {
            if let Some((held_by, until)) = live_holder(&lease, now) {
                return Err(ClusterError::LeaseHeld {
                    region: cluster.region.clone(),
                    lease: id,
                    holder: held_by,
                    until,
                });
            }
            lease.spec = Some(spec);
            api.replace(&name, &PostParams::default(), &lease)
                .await
                .map_err(err)?;
        }
    }
    let renewer = renew(api.clone(), name.clone(), holder.clone());
    Ok(Held {
        api,
        name,
        holder,
        renewer,
    })
}

/// The holder and expiry (RFC 3339) of a lease that has not expired at `now`.
fn live_holder(lease: &Lease, now: Timestamp) -> Option<(String, String)> {
    let s = lease.spec.as_ref()?;
    let held_by = s.holder_identity.clone().filter(|h| !h.is_empty())?;
    let renewed = s.renew_time.as_ref()?.0;
    let until = renewed.as_second() + i64::from(s.lease_duration_seconds.unwrap_or(0));
    (until > now.as_second()).then(|| {
        let until = Timestamp::from_second(until)
            .map(|t| t.to_string())
            .unwrap_or_default();
        (held_by, until)
    })
}

fn renew(api: Api<Lease>, name: String, holder: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs((LEASE_SECONDS / 3) as u64)).await;
            if let Ok(Some(mut lease)) = api.get_opt(&name).await
                && let Some(spec) = lease.spec.as_mut()
                && spec.holder_identity.as_deref() == Some(holder.as_str())
            {
                spec.renew_time = serde_json::from_value(json!(micro_time(Timestamp::now()))).ok();
                let _ = api.replace(&name, &PostParams::default(), &lease).await;
            }
        }
    })
}
