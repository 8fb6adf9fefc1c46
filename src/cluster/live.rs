//! What a region's cluster holds for a set of objects: read in bulk (one LIST per kind and
//! namespace, not one GET per object), and the proof that applying an object would change
//! nothing, which lets `diff` and `rollout` skip the request for it.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use crate::cluster::{Cluster, ClusterError};
use crate::render::manifest::ObjectId;

/// The digest of the configuration kubectl-hadr last applied to an object. It is what makes
/// "the live object already holds every field we set" mean "applying would change nothing":
/// without it a field dropped from the configuration would still be live (and still ours), and
/// the object would look unchanged while an apply would remove that field.
pub const APPLIED_DIGEST_ANNOTATION: &str = "hadr.dev/applied-digest";

/// The object exactly as `rollout` applies it (and `diff` dry-runs it): a member of the
/// environment's ApplySet, annotated with the digest of its configuration.
pub fn prepared(mut object: Value, applyset_id: &str) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if let Some(l) = labels.as_object_mut() {
            l.insert(
                super::applyset::PART_OF_LABEL.into(),
                Value::String(applyset_id.into()),
            );
        }
        if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove(APPLIED_DIGEST_ANNOTATION);
        }
        // `annotations: {}` and none at all are the same configuration: one digest for both.
        if meta
            .get("annotations")
            .is_some_and(|a| a.as_object().is_some_and(|a| a.is_empty()))
        {
            meta.remove("annotations");
        }
    }
    // serde_json's maps are ordered by key, so the bytes and the digest are deterministic.
    let digest = format!(
        "sha256:{}",
        crate::digest::sha256_hex(&serde_json::to_vec(&object).unwrap_or_default())
    );
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(APPLIED_DIGEST_ANNOTATION.into(), Value::String(digest));
        }
    }
    object
}

/// Whether server-side applying `desired` (as prepared by [`prepared`]) over `live` would change
/// nothing: every field of `desired` is in `live` with the same value (maps may hold more keys:
/// defaults, other managers' fields; lists must match element by element), and the applied
/// digest matches, so the set of fields kubectl-hadr owns is the same as at the last apply.
///
/// Only ever errs towards "changed": a value the server normalises (`cpu: 0.5` is stored as
/// `500m`) makes the object look changed, and it is then applied or dry-run as usual.
pub fn unchanged(live: &Value, desired: &Value) -> bool {
    let digest = |v: &Value| {
        v["metadata"]["annotations"][APPLIED_DIGEST_ANNOTATION]
            .as_str()
            .map(str::to_string)
    };
    digest(desired).is_some() && digest(live) == digest(desired) && holds(live, desired)
}

fn holds(live: &Value, desired: &Value) -> bool {
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => d
            .iter()
            .all(|(k, dv)| l.get(k).is_some_and(|lv| holds(lv, dv))),
        (Value::Array(l), Value::Array(d)) => {
            l.len() == d.len() && l.iter().zip(d).all(|(lv, dv)| holds(lv, dv))
        }
        (l, d) => l == d,
    }
}

/// Live objects by id.
pub type Snapshot = HashMap<ObjectId, Value>;

/// The live objects of a set, read with one LIST per kind and namespace of the set, selected
/// by the environment's and region's labels (which render puts on every object). Objects the
/// LIST did not return are absent from the snapshot: they do not exist, or exist without those
/// labels (created by someone else), which callers that must know tell apart with a GET.
pub async fn snapshot(
    cluster: &Cluster,
    environment: &str,
    objects: &[&ObjectId],
) -> Result<Snapshot, ClusterError> {
    let kinds: BTreeSet<(String, String)> = objects
        .iter()
        .map(|id| (id.api_version.clone(), id.kind.clone()))
        .collect();
    let namespaces: BTreeSet<String> = objects
        .iter()
        .filter_map(|id| id.namespace.clone())
        .collect();
    let kinds: Vec<_> = kinds.into_iter().collect();
    let namespaces: Vec<_> = namespaces.into_iter().collect();
    let wanted: BTreeSet<&ObjectId> = objects.iter().copied().collect();
    Ok(cluster
        .list_managed(environment, &kinds, &namespaces)
        .await?
        .into_iter()
        .filter(|(id, _)| wanted.contains(id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}},
        })
    }

    /// What the server returns after applying `desired`: defaults and bookkeeping added.
    fn served(desired: &Value) -> Value {
        let mut live = desired.clone();
        live["metadata"]["uid"] = json!("1234");
        live["metadata"]["resourceVersion"] = json!("42");
        live["spec"]["strategy"] = json!({"type": "RollingUpdate"});
        live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] =
            json!("IfNotPresent");
        live["status"] = json!({"replicas": 2});
        live
    }

    #[test]
    fn an_object_holding_every_applied_field_is_unchanged_despite_defaults_and_status() {
        let desired = prepared(deployment("web:1"), "applyset-x-v1");
        assert!(unchanged(&served(&desired), &desired));
    }

    #[test]
    fn a_changed_or_removed_field_is_a_change() {
        let desired = prepared(deployment("web:1"), "applyset-x-v1");
        let mut live = served(&desired);
        live["spec"]["replicas"] = json!(3);
        assert!(!unchanged(&live, &desired));
        let mut live = served(&desired);
        live["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("app");
        assert!(!unchanged(&live, &desired));
        let mut live = served(&desired);
        live["spec"]["template"]["spec"]["containers"] =
            json!([{"name": "web", "image": "web:1"}, {"name": "sidecar", "image": "s:1"}]);
        assert!(!unchanged(&live, &desired));
    }

    #[test]
    fn a_field_dropped_from_the_configuration_is_a_change_through_the_digest() {
        // The old configuration had `paused`; the live object still holds it (it was ours), and
        // every field of the new configuration is live, but applying would remove `paused`.
        let mut old = deployment("web:1");
        old["spec"]["paused"] = json!(true);
        let live = served(&prepared(old, "applyset-x-v1"));
        let desired = prepared(deployment("web:1"), "applyset-x-v1");
        assert!(!unchanged(&live, &desired));
    }

    #[test]
    fn an_object_never_applied_by_kubectl_hadr_is_not_proven_unchanged() {
        let desired = prepared(deployment("web:1"), "applyset-x-v1");
        let mut live = served(&desired);
        live["metadata"]["annotations"]
            .as_object_mut()
            .unwrap()
            .remove(APPLIED_DIGEST_ANNOTATION);
        assert!(!unchanged(&live, &desired));
    }

    #[test]
    fn the_digest_is_stable_and_ignores_a_stale_digest_in_the_input() {
        let a = prepared(deployment("web:1"), "applyset-x-v1");
        let b = prepared(a.clone(), "applyset-x-v1");
        assert_eq!(a, b);
        let c = prepared(deployment("web:2"), "applyset-x-v1");
        assert_ne!(
            a["metadata"]["annotations"][APPLIED_DIGEST_ANNOTATION],
            c["metadata"]["annotations"][APPLIED_DIGEST_ANNOTATION]
        );
    }
}
