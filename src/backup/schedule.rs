//! A Velero Backup made from a Schedule exactly as `velero backup create --from-schedule`
//! makes it, and Velero's backup phases.
//!
//! Source of the rule: Velero v1.18.3, `pkg/builder/backup_builder.go`
//! (`BackupBuilder.FromSchedule`) and `pkg/apis/velero/v1/backup_types.go` (`BackupPhase`).

use serde_json::{Map, Value, json};

/// The label Velero puts on every backup made from a schedule (`velero.io/schedule-name`).
pub const SCHEDULE_NAME_LABEL: &str = "velero.io/schedule-name";

/// The Backup Velero's `--from-schedule` makes of the live `schedule` (a `velero.io/v1`
/// Schedule as the API server returns it), named `name`:
/// - `spec` is the Schedule's `spec.template`;
/// - labels are the template's `metadata.labels` when it sets any, else the Schedule's own
///   labels, plus `velero.io/schedule-name: <schedule>`;
/// - the Schedule's annotations are copied;
/// - with `spec.useOwnerReferencesInBackup: true`, the Schedule is the Backup's controller
///   owner.
///
/// `resourcePolicy` needs nothing more: it is part of the template.
pub fn from_schedule(schedule: &Value, name: &str) -> Value {
    let meta = &schedule["metadata"];
    let template = schedule["spec"]["template"].clone();
    let template = if template.is_object() {
        template
    } else {
        json!({})
    };
    let mut labels: Map<String, Value> = match template["metadata"]["labels"].as_object() {
        Some(l) => l.clone(),
        None => meta["labels"].as_object().cloned().unwrap_or_default(),
    };
    let schedule_name = meta["name"].as_str().unwrap_or_default();
    labels.insert(SCHEDULE_NAME_LABEL.into(), schedule_name.into());
    let mut metadata = json!({
        "name": name,
        "namespace": meta["namespace"],
        "labels": labels,
    });
    if let Some(a) = meta["annotations"].as_object() {
        metadata["annotations"] = Value::Object(a.clone());
    }
    if schedule["spec"]["useOwnerReferencesInBackup"] == json!(true) {
        metadata["ownerReferences"] = json!([{
            "apiVersion": "velero.io/v1",
            "kind": "Schedule",
            "name": schedule_name,
            "uid": meta["uid"],
            "controller": true,
        }]);
    }
    json!({
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": metadata,
        "spec": template,
    })
}

/// Whether Velero is done with a backup in this phase (`status.phase`): `Completed`,
/// `PartiallyFailed`, `Failed`, `FailedValidation`, or `Deleting` (it is being removed).
/// Every other phase (`New`, `Queued`, `ReadyToStart`, `InProgress`,
/// `WaitingForPluginOperations*`, `Finalizing*`, or none yet) is still moving.
pub fn is_terminal(phase: &str) -> bool {
    matches!(
        phase,
        "Completed" | "PartiallyFailed" | "Failed" | "FailedValidation" | "Deleting"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Value {
        json!({
            "apiVersion": "velero.io/v1",
            "kind": "Schedule",
            "metadata": {
                "name": "web-prod",
                "namespace": "velero",
                "uid": "0b9c",
                "resourceVersion": "12",
                "labels": {
                    "applyset.kubernetes.io/part-of": "applyset-abc-v1",
                    "hadr.dev/environment": "prod",
                },
                "annotations": {"note": "kept"},
            },
            "spec": {
                "schedule": "0 0 * * *",
                "template": {"includedNamespaces": ["web"], "ttl": "720h0m0s"},
            },
            "status": {"phase": "Enabled"},
        })
    }

    #[test]
    fn a_backup_from_a_schedule_has_its_template_labels_and_annotations() {
        let b = from_schedule(&schedule(), "web-prod-eastus2-20261130061500");
        assert_eq!(
            b,
            json!({
                "apiVersion": "velero.io/v1",
                "kind": "Backup",
                "metadata": {
                    "name": "web-prod-eastus2-20261130061500",
                    "namespace": "velero",
                    "labels": {
                        "applyset.kubernetes.io/part-of": "applyset-abc-v1",
                        "hadr.dev/environment": "prod",
                        "velero.io/schedule-name": "web-prod",
                    },
                    "annotations": {"note": "kept"},
                },
                "spec": {"includedNamespaces": ["web"], "ttl": "720h0m0s"},
            })
        );
    }

    #[test]
    fn template_labels_replace_the_schedules_labels_and_owner_references_are_opt_in() {
        let mut s = schedule();
        s["spec"]["template"]["metadata"] = json!({"labels": {"tier": "gold"}});
        s["spec"]["useOwnerReferencesInBackup"] = json!(true);
        let b = from_schedule(&s, "x");
        assert_eq!(
            b["metadata"]["labels"],
            json!({"tier": "gold", "velero.io/schedule-name": "web-prod"})
        );
        assert_eq!(
            b["metadata"]["ownerReferences"],
            json!([{"apiVersion": "velero.io/v1", "kind": "Schedule", "name": "web-prod", "uid": "0b9c", "controller": true}])
        );
    }

    #[test]
    fn only_velero_s_final_phases_end_the_wait() {
        for p in [
            "Completed",
            "PartiallyFailed",
            "Failed",
            "FailedValidation",
            "Deleting",
        ] {
            assert!(is_terminal(p), "{p}");
        }
        for p in [
            "",
            "New",
            "Queued",
            "ReadyToStart",
            "InProgress",
            "WaitingForPluginOperations",
            "WaitingForPluginOperationsPartiallyFailed",
            "Finalizing",
            "FinalizingPartiallyFailed",
        ] {
            assert!(!is_terminal(p), "{p}");
        }
    }
}
