//! What a Namespace holds and what a CustomResourceDefinition serves: the objects a delete
//! would take with it, found before anything is deleted.

use kube::api::{Api, ListParams, PartialObjectMeta};
use kube::core::DynamicObject;
use kube::discovery::{ApiResource, Discovery, Scope, verbs};
use serde_json::Value;

use super::{Cluster, ClusterError};
use crate::render::manifest::ObjectId;

/// Kinds whose objects the control plane makes in every Namespace or keeps in step with
/// others (events, the Endpoints of a Service): they go with the Namespace and are nobody's.
const CONTROL_PLANE_KINDS: &[&str] = &["Event", "Endpoints", "EndpointSlice"];

/// Objects the control plane creates in every Namespace.
const PER_NAMESPACE_DEFAULTS: &[(&str, &str)] = &[
    ("ServiceAccount", "default"),
    ("ConfigMap", "kube-root-ca.crt"),
];

impl Cluster {
    /// Every object in `namespace` that someone made: of every listable namespaced kind the
    /// cluster serves (discovery), without what the control plane makes by itself and without
    /// objects that have an owner (they are deleted with it; the owner is listed).
    pub async fn namespace_contents(&self, namespace: &str) -> Result<Vec<ObjectId>, ClusterError> {
        let discovery = Discovery::new(self.client())
            .run()
            .await
            .map_err(|e| self.request_error(format!("discovery for Namespace {namespace}"), e))?;
        let mut out = Vec::new();
        for group in discovery.groups() {
            for (ar, caps) in group.recommended_resources() {
                let listable =
                    caps.supports_operation(verbs::LIST) && caps.scope == Scope::Namespaced;
                if !listable || CONTROL_PLANE_KINDS.contains(&ar.kind.as_str()) {
                    continue;
                }
                let api: Api<DynamicObject> = Api::namespaced_with(self.client(), namespace, &ar);
                let items = self
                    .list_meta(&api, &ar, &format!("{} in {namespace}", ar.kind))
                    .await?;
                out.extend(
                    items
                        .into_iter()
                        .filter(|m| {
                            m.metadata
                                .owner_references
                                .as_ref()
                                .is_none_or(Vec::is_empty)
                        })
                        .filter_map(|m| object_id(&ar, m.metadata.namespace, m.metadata.name?))
                        .filter(|id| {
                            !PER_NAMESPACE_DEFAULTS.contains(&(id.kind.as_str(), id.name.as_str()))
                        }),
                );
            }
        }
        out.sort_by_key(ObjectId::file_name);
        Ok(out)
    }

    /// Every custom resource a live CustomResourceDefinition serves, in every namespace.
    pub async fn custom_resources(&self, crd: &Value) -> Result<Vec<ObjectId>, ClusterError> {
        let spec = &crd["spec"];
        let group = spec["group"].as_str().unwrap_or_default();
        let served = spec["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["storage"] == true || v["served"] == true);
        let (Some(version), Some(kind), Some(plural)) = (
            served.and_then(|v| v["name"].as_str()),
            spec["names"]["kind"].as_str(),
            spec["names"]["plural"].as_str(),
        ) else {
            return Ok(Vec::new());
        };
        let ar = ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: format!("{group}/{version}"),
            kind: kind.into(),
            plural: plural.into(),
        };
        let api: Api<DynamicObject> = Api::all_with(self.client(), &ar);
        let items = self.list_meta(&api, &ar, &format!("{kind} list")).await?;
        let mut out: Vec<ObjectId> = items
            .into_iter()
            .filter_map(|m| object_id(&ar, m.metadata.namespace, m.metadata.name?))
            .collect();
        out.sort_by_key(ObjectId::file_name);
        Ok(out)
    }

    async fn list_meta(
        &self,
        api: &Api<DynamicObject>,
        ar: &ApiResource,
        what: &str,
    ) -> Result<Vec<PartialObjectMeta<DynamicObject>>, ClusterError> {
        match api.list_metadata(&ListParams::default()).await {
            Ok(list) => Ok(list.items),
            // Served but gone meanwhile (a CRD being deleted): nothing of it is left.
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 405 => Ok(Vec::new()),
            Err(e) => Err(self.request_error(format!("{what} ({})", ar.api_version), e)),
        }
    }
}

fn object_id(ar: &ApiResource, namespace: Option<String>, name: String) -> Option<ObjectId> {
    Some(ObjectId {
        api_version: ar.api_version.clone(),
        kind: ar.kind.clone(),
        namespace,
        name,
    })
}
