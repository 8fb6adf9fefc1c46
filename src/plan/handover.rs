//! Handing `spec.replicas` to an autoscaler. When a revision stops setting the replicas of a
//! workload whose replicas kubectl-hadr owns, a plain server-side apply would remove the field,
//! and the API server would default it to 1 (a scale-down to one pod) before the autoscaler
//! corrects it. The Kubernetes documentation's hand-over ("Server-Side Apply: transferring
//! ownership") avoids that: first apply just the current replicas under a hand-over field
//! manager, then the revision; the field stays, owned by the hand-over manager, until the
//! autoscaler's next write takes it.

use serde_json::{Value, json};

use crate::cluster::FIELD_MANAGER;

/// The field manager that holds `spec.replicas` between kubectl-hadr and the autoscaler.
pub const HANDOVER_MANAGER: &str = "kubectl-hadr-handover";

/// The object to apply under [`HANDOVER_MANAGER`] before `desired`, when `desired` leaves out
/// `spec.replicas` and the live object's replicas are kubectl-hadr's (its `Apply` entry in
/// `managedFields` owns `f:spec.f:replicas`): the live replicas, nothing else.
pub fn replicas_handover(desired: &Value, live: &Value) -> Option<Value> {
    if desired["spec"].get("replicas").is_some() {
        return None;
    }
    let replicas = live["spec"].get("replicas")?;
    let ours = live["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .any(|m| {
            m["manager"] == FIELD_MANAGER
                && m["operation"] == "Apply"
                && m["fieldsV1"]["f:spec"].get("f:replicas").is_some()
        });
    ours.then(|| {
        json!({
            "apiVersion": desired["apiVersion"],
            "kind": desired["kind"],
            "metadata": {
                "name": desired["metadata"]["name"],
                "namespace": desired["metadata"]["namespace"],
            },
            "spec": {"replicas": replicas},
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(manager: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "a", "managedFields": [
                {"manager": manager, "operation": "Apply",
                 "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {}}}}]},
            "spec": {"replicas": 4}})
    }

    #[test]
    fn replicas_left_out_of_the_revision_are_handed_over_at_their_live_value() {
        let desired = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "a"}, "spec": {"template": {}}});
        let handover = replicas_handover(&desired, &live(FIELD_MANAGER)).unwrap();
        assert_eq!(handover["spec"], json!({"replicas": 4}));
        assert_eq!(handover["metadata"]["name"], "web");
    }

    #[test]
    fn nothing_is_handed_over_that_is_not_ours_or_still_rendered() {
        let without = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "a"}, "spec": {}});
        assert!(replicas_handover(&without, &live("kube-controller-manager")).is_none());
        let with = json!({"spec": {"replicas": 2}});
        assert!(replicas_handover(&with, &live(FIELD_MANAGER)).is_none());
    }
}
