//! Why one object of a plan cannot be carried out, and how to fix it. A plan shows every
//! other object's change next to it; `rollout` changes nothing while any object has one.

use serde::Serialize;

use crate::cluster::ClusterError;

/// The kind of a problem; the JSON report and tests match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// The live object is a member of another ApplySet (`applyset.kubernetes.io/part-of`):
    /// applying would take it over, pruning there would then delete it.
    OwnedElsewhere,
    /// The live object belongs to no ApplySet (made by hand or by another tool): it is
    /// adopted only with `--take-ownership`.
    Unowned,
    /// A Namespace to prune still holds objects that are not pruned with it; deleting it
    /// would delete them.
    NamespaceInUse,
    /// A CustomResourceDefinition to prune still has custom resources outside the set; the
    /// API server deletes every one of them with it.
    CrdInUse,
    /// Another field manager owns fields the object sets (server-side apply conflict).
    FieldConflict,
    /// An autoscaler (a HorizontalPodAutoscaler, through the `scale` subresource) owns
    /// `spec.replicas`.
    AutoscalerOwnsReplicas,
    /// The change touches a field that cannot change after creation.
    Immutable,
    /// The API server refused the object (validation or an admission policy).
    Refused,
    /// The cluster does not serve the kind and the revision does not create its CRD.
    UnknownKind,
}

/// What is wrong with one object, and how to fix it.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Problem {
    pub fn new(kind: ProblemKind, message: impl Into<String>, help: Option<String>) -> Problem {
        Problem {
            kind,
            message: message.into(),
            help,
        }
    }
}

/// What a failed dry-run apply means for the plan.
#[derive(Debug)]
pub(super) enum Refusal {
    /// The object is shown with this problem.
    Problem(Problem),
    /// A field that cannot change would change, and `--replace` was given: delete and
    /// create again.
    Replace,
    /// Its kind is unknown to the cluster, and the revision creates the CRD that serves it.
    AfterItsCrd,
    /// Not about the object (the cluster cannot be reached, say): the region cannot be planned.
    Region(ClusterError),
}

/// What the plan makes of an error of the dry-run apply of one object: `replace` is whether
/// `--replace` was given, `crd_in_revision` whether the revision has the CRD of its kind.
pub(super) fn refusal(e: ClusterError, replace: bool, crd_in_revision: bool) -> Refusal {
    match e {
        ClusterError::UnknownKind { .. } if crd_in_revision => Refusal::AfterItsCrd,
        ClusterError::UnknownKind {
            ref api_version,
            ref kind,
            ..
        } => Refusal::Problem(Problem::new(
            ProblemKind::UnknownKind,
            format!("the cluster does not serve {api_version} {kind}"),
            Some(format!(
                "install the CustomResourceDefinition of {kind} first, or add it to the environment's templates so the rollout creates it before {kind}"
            )),
        )),
        ClusterError::Conflict { message, .. } if autoscaler_owns_replicas(&message) => {
            Refusal::Problem(Problem::new(
                ProblemKind::AutoscalerOwnsReplicas,
                format!("field conflict: {message}"),
                Some(
                    "an autoscaler owns spec.replicas: leave replicas to it (`autoscaling:` in the environment renders a HorizontalPodAutoscaler and leaves `replicas` out of the workload); --force-conflicts would only fight it"
                        .into(),
                ),
            ))
        }
        ClusterError::Conflict { message, .. } => Refusal::Problem(Problem::new(
            ProblemKind::FieldConflict,
            format!("field conflict: {message}"),
            Some("another field manager owns these fields; stop it writing them, or rerun with --force-conflicts to take them over".into()),
        )),
        ClusterError::Invalid {
            immutable: true, ..
        } if replace => Refusal::Replace,
        ClusterError::Invalid {
            message,
            immutable: true,
            ..
        } => Refusal::Problem(Problem::new(
            ProblemKind::Immutable,
            message,
            Some("this field cannot change after creation: give the object a new name (the old one is then pruned), or rerun with --replace to delete it and create it again (it is absent meanwhile; a Deployment's pods are replaced)".into()),
        )),
        ClusterError::Invalid { message, .. } => Refusal::Problem(Problem::new(
            ProblemKind::Refused,
            message,
            Some("fix the template or environment value at the field named".into()),
        )),
        ClusterError::Api { message, .. } => {
            Refusal::Problem(Problem::new(ProblemKind::Refused, message, None))
        }
        other => Refusal::Region(other),
    }
}

/// Whether a server-side apply conflict is over `spec.replicas` with a manager that scales:
/// the HorizontalPodAutoscaler controller writes through the `scale` subresource as
/// `kube-controller-manager` (other autoscalers name themselves, e.g. KEDA's `keda-operator`).
fn autoscaler_owns_replicas(message: &str) -> bool {
    const SCALERS: &[&str] = &["kube-controller-manager", "autoscaler", "keda", "hpa"];
    message.contains(".spec.replicas")
        && SCALERS
            .iter()
            .any(|m| message.to_ascii_lowercase().contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conflict(message: &str) -> ClusterError {
        ClusterError::Conflict {
            region: "r".into(),
            id: "Deployment a/web".into(),
            message: message.into(),
            source: "x".into(),
        }
    }

    #[test]
    fn a_replicas_conflict_with_the_controller_manager_names_the_autoscaler_not_force() {
        let e = conflict(
            r#"Apply failed with 1 conflict: conflict with "kube-controller-manager" using apps/v1: .spec.replicas"#,
        );
        let Refusal::Problem(p) = refusal(e, false, false) else {
            panic!("not a problem")
        };
        assert_eq!(p.kind, ProblemKind::AutoscalerOwnsReplicas);
        assert!(p.help.unwrap().contains("autoscaling:"));
    }

    #[test]
    fn another_conflict_suggests_force_conflicts() {
        let e = conflict(
            r#"Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.template.spec.containers[name="web"].image"#,
        );
        let Refusal::Problem(p) = refusal(e, false, false) else {
            panic!("not a problem")
        };
        assert_eq!(p.kind, ProblemKind::FieldConflict);
        assert!(p.help.unwrap().contains("--force-conflicts"));
    }

    #[test]
    fn an_immutable_field_is_replaced_only_when_asked() {
        let invalid = || ClusterError::Invalid {
            region: "r".into(),
            id: "Job a/migrate".into(),
            message: "spec.template: field is immutable".into(),
            immutable: true,
            source: "x".into(),
        };
        assert!(matches!(refusal(invalid(), true, false), Refusal::Replace));
        let Refusal::Problem(p) = refusal(invalid(), false, false) else {
            panic!("not a problem")
        };
        assert_eq!(p.kind, ProblemKind::Immutable);
        assert!(p.help.unwrap().contains("--replace"));
    }

    #[test]
    fn a_kind_whose_crd_the_revision_creates_is_created_after_it() {
        let unknown = || ClusterError::UnknownKind {
            region: "r".into(),
            api_version: "example.com/v1".into(),
            kind: "Widget".into(),
        };
        assert!(matches!(
            refusal(unknown(), false, true),
            Refusal::AfterItsCrd
        ));
        assert!(matches!(
            refusal(unknown(), false, false),
            Refusal::Problem(Problem {
                kind: ProblemKind::UnknownKind,
                ..
            })
        ));
    }
}
