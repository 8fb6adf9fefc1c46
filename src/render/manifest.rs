//! Kubernetes objects as rendered: identity, file names, standard labels and the per-region index.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Label that marks every object this tool renders.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "kubectl-hadr");
pub const ENVIRONMENT_LABEL: &str = "hadr.dev/environment";
pub const REGION_LABEL: &str = "hadr.dev/region";
/// Annotation that turns the content-hash name suffix off for one ConfigMap or Secret.
pub const HASH_SUFFIX_ANNOTATION: &str = "hadr.dev/hash-suffix";
/// Annotation by which a template says it really means to write a Secret's values to git.
pub const PLAINTEXT_SECRET_ANNOTATION: &str = "hadr.dev/plaintext-secret";
/// The index file of a rendered region directory. Not `.yaml`, so `kubectl apply -f DIR`
/// leaves it alone.
pub const INDEX_FILE: &str = "hadr.lock";

/// What identifies an object in a cluster: group, kind, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectId {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectId {
    /// Reads the identity of an object, or says what is missing.
    pub fn of(object: &Value) -> Result<ObjectId, String> {
        let Value::Object(map) = object else {
            return Err(
                "a document is not a mapping (every document must be one Kubernetes object)".into(),
            );
        };
        let field = |name: &str| -> Result<String, String> {
            match map.get(name) {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(_) => Err(format!("`{name}` must be a non-empty string")),
                None => Err(format!("the object has no `{name}`")),
            }
        };
        let api_version = field("apiVersion")?;
        let kind = field("kind")?;
        let meta = map
            .get("metadata")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("the {kind} has no `metadata` mapping"))?;
        let name = match meta.get("name") {
            Some(Value::String(s)) => s.clone(),
            _ => return Err(format!("the {kind} has no string `metadata.name`")),
        };
        safe_name(&name).map_err(|p| format!("{kind} name `{name}` {p}"))?;
        let namespace = match meta.get("namespace") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                crate::environment::dns1123_label(s)
                    .map_err(|p| format!("{kind} `{name}` has an invalid namespace `{s}`: {p}"))?;
                Some(s.clone())
            }
            Some(_) => return Err(format!("the {kind} `{name}` has a non-string namespace")),
        };
        Ok(ObjectId {
            api_version,
            kind,
            namespace,
            name,
        })
    }

    pub fn group(&self) -> &str {
        match self.api_version.rsplit_once('/') {
            Some((group, _)) => group,
            None => "",
        }
    }

    /// The stable file name: `<group|core>_<kind>_<namespace|_>_<name>.yaml`, lowercase kind.
    /// `_` never occurs in a group, kind, namespace or name, so the name is unambiguous.
    pub fn file_name(&self) -> String {
        let group = match self.group() {
            "" => "core",
            g => g,
        };
        format!(
            "{group}_{}_{}_{}.yaml",
            self.kind.to_ascii_lowercase(),
            self.namespace.as_deref().unwrap_or("_"),
            self.name
        )
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.group() {
            "" => write!(f, "{}", self.kind)?,
            g => write!(f, "{}.{g}", self.kind)?,
        }
        match &self.namespace {
            Some(ns) => write!(f, " {ns}/{}", self.name),
            None => write!(f, " {}", self.name),
        }
    }
}

/// Refuses names that could not be Kubernetes names or could leave the output directory.
fn safe_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 253 {
        return Err("must be 1 to 253 characters");
    }
    if name.starts_with('.') {
        return Err("must not start with '.'");
    }
    if name.contains(['/', '\\', '\0', '_']) || name.chars().any(char::is_whitespace) {
        return Err("must not contain '/', '\\', '_', whitespace or NUL");
    }
    Ok(())
}

/// Sets the standard labels on an object, over whatever the template wrote for those keys.
pub fn set_standard_labels(object: &mut Value, environment: &str, region: &str) {
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let labels = meta
        .entry("labels")
        .or_insert_with(|| Value::Object(Default::default()));
    if !labels.is_object() {
        *labels = Value::Object(Default::default());
    }
    let labels = labels.as_object_mut().expect("just made an object");
    labels.insert(MANAGED_BY.0.into(), MANAGED_BY.1.into());
    labels.insert(ENVIRONMENT_LABEL.into(), environment.into());
    labels.insert(REGION_LABEL.into(), region.into());
}

/// One line of the index: an object, its file and the sha256 of the file's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexEntry {
    pub file: String,
    #[serde(flatten)]
    pub id: ObjectId,
    pub sha256: String,
}

/// The index of one rendered region directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Index {
    pub api_version: String,
    pub kind: String,
    pub environment: String,
    pub region: String,
    /// `sha256:` + the sha256 of every object's bytes, each preceded by `---\n`, in file order:
    /// the digest of the multi-document stream of the whole set.
    pub digest: String,
    pub objects: Vec<IndexEntry>,
}

impl Index {
    pub fn to_bytes(&self) -> String {
        format!(
            "# Written by kubectl-hadr render; do not edit.\n{}",
            crate::yaml::to_string_in_order(self, Index::field_rank)
        )
    }

    /// The order in which the fields of `Index` and `IndexEntry` are declared (their key sets
    /// share only `apiVersion` and `kind`, which come in the same order in both).
    fn field_rank(key: &str) -> u8 {
        match key {
            "file" => 0,
            "apiVersion" => 1,
            "kind" => 2,
            "environment" => 3,
            "region" => 4,
            "digest" => 5,
            "objects" => 6,
            "namespace" => 7,
            "name" => 8,
            "sha256" => 9,
            _ => 10,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_index_is_written_as_serde_saphyr_writes_it() {
        let entry = |kind: &str, namespace: Option<&str>, name: &str| IndexEntry {
            file: format!("{kind}_{name}.yaml"),
            id: ObjectId {
                api_version: "v1".into(),
                kind: kind.into(),
                namespace: namespace.map(str::to_string),
                name: name.into(),
            },
            sha256: "0123abcd".repeat(8),
        };
        let index = Index {
            api_version: "hadr.dev/v1alpha1".into(),
            kind: "RenderedSet".into(),
            environment: "on".into(),
            region: "eastus2".into(),
            digest: format!("sha256:{}", "9".repeat(64)),
            objects: vec![
                entry("Namespace", None, "shop"),
                entry("ConfigMap", Some("shop"), "0777"),
                entry("Service", Some("yes"), "web"),
            ],
        };
        let expected = format!(
            "# Written by kubectl-hadr render; do not edit.\n{}",
            crate::yaml::to_string(&index)
        );
        assert_eq!(index.to_bytes(), expected);
        assert_eq!(
            Index {
                objects: vec![],
                ..index.clone()
            }
            .to_bytes(),
            format!(
                "# Written by kubectl-hadr render; do not edit.\n{}",
                crate::yaml::to_string(&Index {
                    objects: vec![],
                    ..index
                })
            )
        );
    }

    #[test]
    fn file_names_are_stable_and_unambiguous() {
        let d = ObjectId::of(&json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}})).unwrap();
        assert_eq!(d.file_name(), "apps_deployment_shop_web.yaml");
        let n = ObjectId::of(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
        )
        .unwrap();
        assert_eq!(n.file_name(), "core_namespace___shop.yaml");
    }

    #[test]
    fn names_that_escape_the_directory_are_refused() {
        for name in ["../etc", "a/b", ".hidden", "", "a b"] {
            let v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
            assert!(ObjectId::of(&v).is_err(), "{name}");
        }
        let v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "../x"}});
        assert!(ObjectId::of(&v).is_err());
    }
}
