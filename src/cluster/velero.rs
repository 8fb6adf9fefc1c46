//! What a region's Velero server says of itself. `velero version` asks with a
//! ServerStatusRequest (`velero.io/v1`, short name `ssr`): the server's controller answers in
//! `status.serverVersion` (its build's `buildinfo.Version`) and sets `status.phase` to
//! `Processed` (Velero v1.18 `pkg/controller/server_status_request_controller.go`, which also
//! deletes a processed request a minute later). We ask the same way, and delete our request
//! once read.

use std::time::Duration;

use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams};
use serde_json::json;

use super::{Cluster, ClusterError};

/// What a region's Velero said when asked for its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VeleroServer {
    /// `status.serverVersion`, as Velero writes it (`v1.18.3`).
    Version(String),
    /// The cluster does not serve ServerStatusRequests: Velero's CRDs are not installed.
    NotInstalled,
    /// Velero's namespace does not exist in the cluster.
    NoNamespace { namespace: String },
    /// No Velero server processed the request within the wait (none runs for that
    /// namespace, or it is down).
    NoAnswer { namespace: String, seconds: u64 },
}

/// Asks the Velero server watching `namespace` for its version, waiting up to `wait` for the
/// answer (polled every 200 ms).
///
/// Errors: the server refused the request (RBAC: `create`/`get`/`delete` on
/// `serverstatusrequests.velero.io`; a missing namespace) or could not be reached.
pub async fn server_version(
    cluster: &Cluster,
    namespace: &str,
    wait: Duration,
) -> Result<VeleroServer, ClusterError> {
    if cluster
        .preferred_api_version("velero.io", "ServerStatusRequest")
        .await?
        .is_none()
    {
        return Ok(VeleroServer::NotInstalled);
    }
    let gvk = GroupVersionKind::gvk("velero.io", "v1", "ServerStatusRequest");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "serverstatusrequests");
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client(), namespace, &resource);
    let request: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "velero.io/v1",
        "kind": "ServerStatusRequest",
        "metadata": {"generateName": "hadr-validate-", "namespace": namespace},
        "spec": {},
    }))
    .map_err(|e| ClusterError::Api {
        region: cluster.region.clone(),
        id: format!("ServerStatusRequest {namespace}/hadr-validate-"),
        message: e.to_string(),
        source: Some(e.into()),
    })?;
    let id = |name: &str| format!("ServerStatusRequest {namespace}/{name}");
    let created = match api.create(&PostParams::default(), &request).await {
        Ok(created) => created,
        Err(kube::Error::Api(s)) if s.code == 404 => {
            return Ok(VeleroServer::NoNamespace {
                namespace: namespace.into(),
            });
        }
        Err(e) => return Err(cluster.request_error(id("hadr-validate-"), e)),
    };
    let name = created.metadata.name.unwrap_or_default();
    let answer = answer(cluster, &api, &name, wait).await;
    // Best effort: Velero deletes processed requests after a minute anyway.
    let _ = api.delete(&name, &DeleteParams::default()).await;
    Ok(match answer? {
        Some(version) => VeleroServer::Version(version),
        None => VeleroServer::NoAnswer {
            namespace: namespace.into(),
            seconds: wait.as_secs(),
        },
    })
}

/// `status.serverVersion` once the request is `Processed`; `None` when `wait` passes first.
async fn answer(
    cluster: &Cluster,
    api: &Api<DynamicObject>,
    name: &str,
    wait: Duration,
) -> Result<Option<String>, ClusterError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let seen = api
            .get_opt(name)
            .await
            .map_err(|e| cluster.request_error(format!("ServerStatusRequest {name}"), e))?;
        let status = seen.as_ref().map(|o| &o.data["status"]);
        if let Some(status) = status.filter(|s| s["phase"] == "Processed") {
            let version = status["serverVersion"].as_str().unwrap_or_default();
            return Ok(Some(version.to_string()));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
