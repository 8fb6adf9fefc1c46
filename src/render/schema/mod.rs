//! The OpenAPI schemas every rendered object is checked against: those of the pinned Kubernetes
//! version and of Velero's CRDs, embedded in the binary (`schema/openapi-bundle.json`, written
//! by `scripts/schema-bundle` from the testenv kube-apiserver's `/openapi/v3`), plus the schemas
//! of the CustomResourceDefinitions the repository renders itself.
//!
//! Why a walker of our own rather than a JSON-schema crate: what the API server does with these
//! schemas is not JSON Schema. `x-kubernetes-int-or-string`, `int32`/`int64` ranges, list-map
//! keys, `x-kubernetes-preserve-unknown-fields` and embedded resources are extensions; and the
//! walker must also say where a template's plain scalar means something else to kubectl
//! (`0644` is 420 in an integer field), which needs the schema type at each path.

pub(crate) mod crd;
pub mod pattern;
mod walk;

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

pub(crate) use walk::{Issue, check, check_big_integers};

/// The bundle, as `scripts/schema-bundle` writes it.
const BUNDLE: &str = include_str!("../../../schema/openapi-bundle.json");

/// The Kubernetes version whose schemas are embedded (`/version` of the apiserver they came from).
pub fn kubernetes_version() -> &'static str {
    &builtin().kubernetes
}

/// A schema node in the bundle's short form. Field names are kept one or two letters because
/// the bundle is embedded: `r` a reference to a definition, `t` the type (`object`, `array`,
/// `string`, `integer`, `number`, `boolean`, `int-or-string`, `number-or-string`), `f` the
/// format (`int32`, `int64`, `byte`), `e` enum, `q` required, `p` properties, `a`
/// additionalProperties, `i` items, `l`/`k` list type and map keys, `n` nullable, `u`
/// preserve-unknown-fields (`m`, embedded resource, is in the bundle but not checked), and
/// the bounds.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Node {
    #[serde(default)]
    pub(crate) r: Option<String>,
    #[serde(default)]
    pub(crate) t: Option<String>,
    #[serde(default)]
    pub(crate) f: Option<String>,
    #[serde(default)]
    pub(crate) e: Option<Vec<Value>>,
    #[serde(default)]
    pub(crate) q: Vec<String>,
    #[serde(default)]
    pub(crate) p: Option<HashMap<String, Node>>,
    #[serde(default)]
    pub(crate) a: Option<Box<Node>>,
    #[serde(default)]
    pub(crate) i: Option<Box<Node>>,
    #[serde(default)]
    pub(crate) l: Option<String>,
    #[serde(default)]
    pub(crate) k: Vec<String>,
    #[serde(default)]
    pub(crate) u: bool,
    #[serde(default)]
    pub(crate) min: Option<f64>,
    #[serde(default)]
    pub(crate) max: Option<f64>,
    #[serde(default)]
    pub(crate) mini: Option<usize>,
    #[serde(default)]
    pub(crate) maxi: Option<usize>,
    #[serde(default)]
    pub(crate) minl: Option<usize>,
    #[serde(default)]
    pub(crate) maxl: Option<usize>,
    /// A CRD's `pattern` (Go RE2 syntax), compiled on first use (`None` inside when it
    /// cannot be checked; see `pattern`).
    #[serde(default)]
    pub(crate) pat: Option<String>,
    #[serde(skip)]
    pub(crate) compiled: OnceLock<Option<regex::Regex>>,
}

impl Node {
    /// Whether TEXT matches the node's `pattern` as the API server tests it; `None` when
    /// there is no pattern or it cannot be checked.
    pub(crate) fn matches_pattern(&self, text: &str) -> Option<bool> {
        let pattern = self.pat.as_deref()?;
        let re = self.compiled.get_or_init(|| pattern::go_regex(pattern));
        re.as_ref().map(|re| re.is_match(text))
    }
}

#[derive(Debug, Deserialize)]
struct Bundle {
    kubernetes: String,
    /// `apiVersion/Kind` (`v1/ConfigMap`, `velero.io/v1/Schedule`) -> definition name.
    kinds: HashMap<String, String>,
    defs: HashMap<String, Node>,
}

/// The definition every object's `metadata` is checked against, custom resources included.
pub(crate) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

fn builtin() -> &'static Bundle {
    static BUILTIN: OnceLock<Bundle> = OnceLock::new();
    // The bundle is generated and checked by tests (`the_embedded_bundle_reads`); an unreadable
    // one is a build defect, and an empty bundle would validate nothing rather than crash.
    BUILTIN.get_or_init(|| {
        serde_json::from_str(BUNDLE).unwrap_or_else(|_| Bundle {
            kubernetes: "unknown".into(),
            kinds: HashMap::new(),
            defs: HashMap::new(),
        })
    })
}

/// The schemas one region's objects are checked against: the embedded ones and those of the
/// CRDs among the objects themselves.
pub(crate) struct Schemas {
    /// `apiVersion/Kind` -> the `openAPIV3Schema` of a CRD the repository renders.
    local: HashMap<String, Node>,
}

impl Schemas {
    /// Collects the schemas of the CustomResourceDefinitions among `objects`: each served
    /// version's `schema.openAPIV3Schema`, under `group/version/Kind` (a version with
    /// `served: false` is left out: the API server serves no object of it).
    pub(crate) fn with_crds<'a>(objects: impl Iterator<Item = &'a Value>) -> Schemas {
        let mut local = HashMap::new();
        for crd in objects.filter(|o| crd::is_crd(o)) {
            let spec = &crd["spec"];
            let (Some(group), Some(kind)) =
                (spec["group"].as_str(), spec["names"]["kind"].as_str())
            else {
                continue;
            };
            let versions = spec["versions"].as_array().into_iter().flatten();
            for version in versions.filter(|v| v["served"] != false) {
                let schema = &version["schema"]["openAPIV3Schema"];
                if let (Some(name), true) = (version["name"].as_str(), schema.is_object()) {
                    local.insert(format!("{group}/{name}/{kind}"), from_openapi(schema));
                }
            }
        }
        Schemas { local }
    }

    /// The schema of an object of `api_version` and `kind`, or `None` when neither the
    /// pinned Kubernetes, Velero nor a rendered CRD defines it.
    pub(crate) fn of(&self, api_version: &str, kind: &str) -> Option<&Node> {
        let key = format!("{api_version}/{kind}");
        if let Some(node) = self.local.get(&key) {
            return Some(node);
        }
        let bundle = builtin();
        bundle.kinds.get(&key).and_then(|d| bundle.defs.get(d))
    }

    /// Why the API server would refuse `api_version`/`kind` as not served, when its group is
    /// one the pinned Kubernetes serves (or Velero's, or `extensions`, a built-in group
    /// Kubernetes removed) and neither the bundle nor a rendered CRD has that version and kind.
    /// `None` for groups only other CRDs define: their schemas are not known here.
    pub(crate) fn unserved(&self, api_version: &str, kind: &str) -> Option<Unserved> {
        // A missing apiVersion or kind is the object rules' to report.
        if api_version.is_empty() || kind.is_empty() || self.of(api_version, kind).is_some() {
            return None;
        }
        let group = group_of(api_version);
        let bundle = builtin();
        let known =
            group == REMOVED_GROUP || bundle.kinds.keys().any(|k| group_of(api_of(k)) == group);
        if !known {
            return None;
        }
        let served_as = |same_group: bool| -> Vec<String> {
            let mut apis: Vec<String> = bundle
                .kinds
                .keys()
                .chain(self.local.keys())
                .filter(|k| k.rsplit_once('/').is_some_and(|(_, x)| x == kind))
                .map(|k| api_of(k).to_string())
                .filter(|api| (group_of(api) == group) == same_group)
                .collect();
            apis.sort();
            apis.dedup();
            apis
        };
        let same = served_as(true);
        let instead = if same.is_empty() {
            served_as(false)
        } else {
            same
        };
        Some(Unserved {
            kubernetes: bundle.kubernetes.clone(),
            instead,
        })
    }

    /// Follows `r` references to the node that describes the value.
    pub(crate) fn resolve<'a>(&'a self, mut node: &'a Node) -> &'a Node {
        let defs = &builtin().defs;
        while let Some(next) = node.r.as_deref().and_then(|r| defs.get(r)) {
            node = next;
        }
        node
    }
}

/// A kind the API server does not serve at the version asked for: the Kubernetes version
/// judged against and the apiVersions that serve a kind of that name (its own group's first;
/// empty when none does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unserved {
    pub(crate) kubernetes: String,
    pub(crate) instead: Vec<String>,
}

/// The built-in group Kubernetes removed whole (its kinds moved to `apps`, `networking.k8s.io`
/// and `policy`; the last of them stopped being served in v1.22), so the bundle cannot know it.
const REMOVED_GROUP: &str = "extensions";

/// The group of an apiVersion: `apps` for `apps/v1`, `` (core) for `v1`.
fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// The apiVersion of a bundle key `group/version/Kind` or `version/Kind`.
fn api_of(key: &str) -> &str {
    key.rsplit_once('/').map_or(key, |(api, _)| api)
}

/// A CRD's `openAPIV3Schema` in the bundle's short form (what `scripts/schema-bundle` does to
/// the apiserver's published schemas), with `apiVersion`, `kind` and `metadata` (as
/// `ObjectMeta`) added, as the API server does for every custom resource.
fn from_openapi(schema: &Value) -> Node {
    let mut node = short(schema);
    let p = node.p.get_or_insert_with(HashMap::new);
    let string = || Node {
        t: Some("string".into()),
        ..Node::default()
    };
    p.insert("apiVersion".into(), string());
    p.insert("kind".into(), string());
    p.insert(
        "metadata".into(),
        Node {
            r: Some(OBJECT_META.into()),
            ..Node::default()
        },
    );
    node
}

fn short(s: &Value) -> Node {
    let strings = |key: &str| -> Vec<String> {
        s[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    let count = |key: &str| s[key].as_u64().and_then(|n| usize::try_from(n).ok());
    let t = if s["x-kubernetes-int-or-string"] == true {
        Some("int-or-string".to_string())
    } else {
        s["type"].as_str().map(str::to_string)
    };
    Node {
        r: None,
        t,
        f: s["format"]
            .as_str()
            .filter(|f| matches!(*f, "int32" | "int64" | "byte"))
            .map(str::to_string),
        e: s["enum"].as_array().cloned(),
        q: strings("required"),
        p: s["properties"]
            .as_object()
            .map(|p| p.iter().map(|(k, v)| (k.clone(), short(v))).collect()),
        a: match &s["additionalProperties"] {
            Value::Object(_) => Some(Box::new(short(&s["additionalProperties"]))),
            Value::Bool(true) => Some(Box::default()),
            _ => None,
        },
        i: s["items"].is_object().then(|| Box::new(short(&s["items"]))),
        l: s["x-kubernetes-list-type"]
            .as_str()
            .filter(|l| matches!(*l, "map" | "set"))
            .map(str::to_string),
        k: strings("x-kubernetes-list-map-keys"),
        u: s["x-kubernetes-preserve-unknown-fields"] == true,
        min: s["minimum"].as_f64(),
        max: s["maximum"].as_f64(),
        mini: count("minItems"),
        maxi: count("maxItems"),
        minl: count("minLength"),
        maxl: count("maxLength"),
        pat: s["pattern"].as_str().map(str::to_string),
        compiled: OnceLock::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_embedded_bundle_reads() {
        let bundle: Bundle = serde_json::from_str(BUNDLE).expect("schema/openapi-bundle.json");
        assert!(
            bundle.kubernetes.starts_with("v1.36."),
            "{}",
            bundle.kubernetes
        );
        let schemas = Schemas::with_crds(std::iter::empty());
        for (api, kind) in [
            ("v1", "ConfigMap"),
            ("apps/v1", "Deployment"),
            ("policy/v1", "PodDisruptionBudget"),
            ("velero.io/v1", "Schedule"),
        ] {
            assert!(schemas.of(api, kind).is_some(), "{api} {kind}");
        }
        for node in bundle.defs.values() {
            if let Some(r) = &node.r {
                assert!(bundle.defs.contains_key(r), "dangling reference {r}");
            }
        }
    }

    /// Every `mode` and `defaultMode` of the pinned Kubernetes is a file mode the walk holds to
    /// the API server's range, and every definition listed has one.
    #[test]
    fn every_mode_field_is_a_file_mode() {
        let bundle = builtin();
        let mut with_modes: Vec<&str> = bundle
            .defs
            .iter()
            .filter(|(_, n)| {
                n.p.as_ref()
                    .is_some_and(|p| p.contains_key("mode") || p.contains_key("defaultMode"))
            })
            .map(|(name, _)| name.as_str())
            .collect();
        with_modes.sort();
        let mut listed = walk::FILE_MODES.to_vec();
        listed.sort();
        assert_eq!(with_modes, listed);
    }

    #[test]
    fn a_rendered_crd_gives_its_kind_a_schema() {
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "names": {"kind": "Widget"}, "versions": [
                {"name": "v1", "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}});
        let schemas = Schemas::with_crds([&crd].into_iter());
        let node = schemas.of("example.com/v1", "Widget").expect("a schema");
        let p = node.p.as_ref().expect("properties");
        assert_eq!(p["metadata"].r.as_deref(), Some(OBJECT_META));
        assert_eq!(
            p["spec"].p.as_ref().unwrap()["size"].t.as_deref(),
            Some("integer")
        );
    }
}
