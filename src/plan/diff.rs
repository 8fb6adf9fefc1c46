//! Object diffs: strip server bookkeeping, mask Secret values, and compare what the server
//! would make of a revision with what is live, as unified diffs.

use serde::Serialize;
use serde_json::Value;

use crate::yaml;

/// Fields the server owns that say nothing about the desired state.
const METADATA_BOOKKEEPING: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
];

/// Removes server bookkeeping (metadata above and `status`) so a clean revision compares equal
/// to what it deployed.
pub fn normalize(mut object: Value) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in METADATA_BOOKKEEPING {
                meta.remove(*k);
            }
            // Bookkeeping of kubectl-hadr's own: it changes whenever the configuration does,
            // so it would only repeat the real change.
            if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
                a.remove(crate::cluster::live::APPLIED_DIGEST_ANNOTATION);
            }
            if meta
                .get("annotations")
                .and_then(Value::as_object)
                .is_some_and(|a| a.is_empty())
            {
                meta.remove("annotations");
            }
        }
    }
    object
}

const MASK: &str = "***";

/// Masks the values of a Secret on both sides, keeping visible which keys changed: equal values
/// become `***`, differing ones `*** (before)` and `*** (after)`. Annotations of Secrets are
/// masked too (`last-applied-configuration` carries the values).
pub fn mask_secrets(before: Option<&mut Value>, after: Option<&mut Value>) {
    let is_secret = |v: &Option<&mut Value>| v.as_ref().is_some_and(|v| v["kind"] == "Secret");
    if !is_secret(&before) && !is_secret(&after) {
        return;
    }
    let (mut before, mut after) = (before, after);
    for field in ["data", "stringData"] {
        let b = before.as_deref().and_then(|v| v.get(field)).cloned();
        let a = after.as_deref().and_then(|v| v.get(field)).cloned();
        let mask_side = |side: &mut Option<&mut Value>,
                         own: &Option<Value>,
                         other: &Option<Value>,
                         tag: &str| {
            let Some(Value::Object(map)) = side.as_deref_mut().and_then(|v| v.get_mut(field))
            else {
                return;
            };
            for (k, v) in map.iter_mut() {
                let same =
                    other.as_ref().and_then(|o| o.get(k)) == own.as_ref().and_then(|o| o.get(k));
                *v = Value::String(if same {
                    MASK.into()
                } else {
                    format!("{MASK} ({tag})")
                });
            }
        };
        mask_side(&mut before, &b, &a, "before");
        mask_side(&mut after, &a, &b, "after");
    }
    for side in [before, after].into_iter().flatten() {
        if let Some(Value::Object(ann)) = side
            .get_mut("metadata")
            .and_then(|m| m.get_mut("annotations"))
        {
            for v in ann.values_mut() {
                *v = Value::String(MASK.into());
            }
        }
    }
}

/// What happens to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Change,
    /// A content-hashed ConfigMap or Secret replaced by its successor.
    Rename,
    Prune,
    /// A content-hashed ConfigMap or Secret that left the set longer ago than the `--keep`
    /// newest of its name: deleted.
    Expire,
    /// A change to a field that cannot change after creation, carried out (with `--replace`)
    /// by deleting the object and creating it again, as `kubectl replace --force` does.
    Replace,
    Unchanged,
    /// Cannot be carried out as it stands (see the object's problem): `rollout` changes
    /// nothing while any object of the plan has one.
    Error,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::Create => "create",
            Action::Change => "change",
            Action::Rename => "rename",
            Action::Prune => "prune",
            Action::Expire => "expire",
            Action::Replace => "replace",
            Action::Unchanged => "unchanged",
            Action::Error => "error",
        })
    }
}

/// A unified diff of two objects as canonical YAML (`None` for an absent side).
pub fn unified(before: Option<&Value>, after: Option<&Value>, from: &str, to: &str) -> String {
    let a = before.map(yaml::to_canonical).unwrap_or_default();
    let b = after.map(yaml::to_canonical).unwrap_or_default();
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header(from, to)
        .to_string()
}

/// The name without a kustomize-style content hash suffix (`-` and ten characters).
pub fn unhashed_name(name: &str) -> Option<&str> {
    let (base, suffix) = name.rsplit_once('-')?;
    (suffix.len() == 10
        && suffix
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
    .then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bookkeeping_and_status_are_stripped() {
        let v = json!({"kind": "ConfigMap", "metadata": {"name": "a", "uid": "1", "resourceVersion": "5", "managedFields": [], "annotations": {}}, "status": {}, "data": {"k": "v"}});
        assert_eq!(
            normalize(v),
            json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}})
        );
    }

    #[test]
    fn secret_values_are_masked_but_changes_stay_visible() {
        let mut before = json!({"kind": "Secret", "metadata": {"annotations": {"x": "c2VjcmV0"}}, "data": {"same": "c2VjcmV0", "changed": "b2xk"}});
        let mut after = json!({"kind": "Secret", "metadata": {}, "data": {"same": "c2VjcmV0", "changed": "bmV3"}});
        mask_secrets(Some(&mut before), Some(&mut after));
        let text = format!("{before}{after}");
        assert!(
            !text.contains("c2VjcmV0") && !text.contains("b2xk") && !text.contains("bmV3"),
            "{text}"
        );
        assert_eq!(before["data"]["changed"], "*** (before)");
        assert_eq!(after["data"]["changed"], "*** (after)");
        assert_eq!(after["data"]["same"], "***");
    }

    #[test]
    fn hashed_names_are_recognised() {
        assert_eq!(
            unhashed_name("my-app-config-mg7bcdtkt5"),
            Some("my-app-config")
        );
        assert_eq!(unhashed_name("my-app"), None);
    }
}
