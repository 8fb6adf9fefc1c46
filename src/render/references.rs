//! References to content-hashed ConfigMaps and Secrets, rewritten to their new names wherever
//! kustomize v5.7.1 rewrites them (its name-reference table,
//! `api/internal/konfig/builtinpluginconsts/namereference.go` in sigs.k8s.io/kustomize/api
//! v0.20.1, ConfigMap and Secret entries), plus a ServiceAccount's `secrets`, ephemeral
//! containers and ReplicationController templates; and the references nothing rewrites, found
//! so that `render` can warn about them.

use std::collections::BTreeSet;

use serde_json::Value;

use super::hash::Renames;

/// What a reference points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    ConfigMap,
    Secret,
}

impl Target {
    pub(super) fn kind(self) -> &'static str {
        match self {
            Target::ConfigMap => "ConfigMap",
            Target::Secret => "Secret",
        }
    }
}

/// The renames one object's references can see: those of its own namespace, or of every
/// namespace for a cluster-scoped object (a ClusterRole or StorageClass names objects in any).
pub(super) struct Scope<'a> {
    pub(super) tables: Vec<&'a Renames>,
}

impl Scope<'_> {
    /// The distinct new names of `old`, a `target` renamed in the scope.
    fn new_names(&self, target: Target, old: &str) -> BTreeSet<&str> {
        self.tables
            .iter()
            .filter_map(|t| match target {
                Target::ConfigMap => t.config_maps.get(old),
                Target::Secret => t.secrets.get(old),
            })
            .map(String::as_str)
            .collect()
    }
}

/// Kinds whose objects are cluster-scoped and refer to ConfigMaps or Secrets by name.
pub(super) fn cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "ClusterRole" | "StorageClass" | "PersistentVolume" | "Node"
    )
}

use Target::{ConfigMap, Secret};

/// References inside a pod spec (kustomize lists them per workload kind).
const POD_SPEC: &[(Target, &[&str])] = &[
    (ConfigMap, &["volumes", "configMap", "name"]),
    (
        ConfigMap,
        &["volumes", "projected", "sources", "configMap", "name"],
    ),
    (Secret, &["volumes", "secret", "secretName"]),
    (
        Secret,
        &["volumes", "projected", "sources", "secret", "name"],
    ),
    (Secret, &["imagePullSecrets", "name"]),
];

/// References inside each container of a pod spec.
const CONTAINER: &[(Target, &[&str])] = &[
    (ConfigMap, &["env", "valueFrom", "configMapKeyRef", "name"]),
    (ConfigMap, &["envFrom", "configMapRef", "name"]),
    (Secret, &["env", "valueFrom", "secretKeyRef", "name"]),
    (Secret, &["envFrom", "secretRef", "name"]),
];

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// References outside pod specs: (kind, target, path).
const OTHER: &[(&str, Target, &[&str])] = &[
    ("ServiceAccount", Secret, &["imagePullSecrets", "name"]),
    ("ServiceAccount", Secret, &["secrets", "name"]),
    ("Ingress", Secret, &["spec", "tls", "secretName"]),
    (
        "Ingress",
        Secret,
        &[
            "metadata",
            "annotations",
            "ingress.kubernetes.io/auth-secret",
        ],
    ),
    (
        "Ingress",
        Secret,
        &[
            "metadata",
            "annotations",
            "nginx.ingress.kubernetes.io/auth-secret",
        ],
    ),
    (
        "Ingress",
        Secret,
        &[
            "metadata",
            "annotations",
            "nginx.ingress.kubernetes.io/auth-tls-secret",
        ],
    ),
    (
        "Ingress",
        ConfigMap,
        &[
            "metadata",
            "annotations",
            "nginx.ingress.kubernetes.io/fastcgi-params-configmap",
        ],
    ),
    ("StorageClass", Secret, &["parameters", "secretName"]),
    ("StorageClass", Secret, &["parameters", "adminSecretName"]),
    ("StorageClass", Secret, &["parameters", "userSecretName"]),
    ("StorageClass", Secret, &["parameters", "secretRef"]),
    (
        "PersistentVolume",
        Secret,
        &["spec", "azureFile", "secretName"],
    ),
    (
        "Node",
        ConfigMap,
        &["spec", "configSource", "configMap", "name"],
    ),
];

/// The path from an object to its pod spec, for every kind that carries one.
fn pod_spec_path(object: &Value, kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Pod" => &["spec"],
        "PodTemplate" => &["template", "spec"],
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        // Knative's Service (kustomize lists its env secretKeyRef).
        "Service"
            if object
                .get("apiVersion")
                .and_then(Value::as_str)
                .is_some_and(|v| v.starts_with("serving.knative.dev/")) =>
        {
            &["spec", "template", "spec"]
        }
        _ => return None,
    })
}

/// Calls `f` on every value at `path` under `value`, stepping through lists on the way as
/// kustomize's field specs do (`spec/tls/secretName` reaches each `tls[].secretName`).
fn each_at(value: &mut Value, path: &[&str], f: &mut dyn FnMut(&mut Value)) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| each_at(v, path, f)),
        _ => match path.split_first() {
            None => f(value),
            Some((first, rest)) => {
                if let Some(v) = value.get_mut(*first) {
                    each_at(v, rest, f);
                }
            }
        },
    }
}

/// Rewrites one name field: when the old name has exactly one new name in scope.
fn rename_field(field: &mut Value, target: Target, scope: &Scope<'_>, n: &mut usize) {
    let Value::String(name) = field else {
        return;
    };
    let new = scope.new_names(target, name);
    if let [only] = new.into_iter().collect::<Vec<_>>()[..] {
        *name = only.to_string();
        *n += 1;
    }
}

/// Rewrites every reference to a renamed ConfigMap or Secret the object holds (see the
/// module doc for where); returns how many names were rewritten.
pub(super) fn rewrite(object: &mut Value, scope: &Scope<'_>) -> usize {
    let Some(kind) = object
        .get("kind")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return 0;
    };
    let mut n = 0;
    if let Some(path) = pod_spec_path(object, &kind) {
        let mut on_pod = |pod: &mut Value| {
            for (target, field) in POD_SPEC {
                each_at(pod, field, &mut |v| rename_field(v, *target, scope, &mut n));
            }
            for list in CONTAINER_LISTS {
                let Some(containers) = pod.get_mut(list) else {
                    continue;
                };
                for (target, field) in CONTAINER {
                    each_at(containers, field, &mut |v| {
                        rename_field(v, *target, scope, &mut n)
                    });
                }
            }
        };
        each_at(object, path, &mut on_pod);
    }
    for (_, target, field) in OTHER.iter().filter(|(k, ..)| *k == kind) {
        each_at(object, field, &mut |v| {
            rename_field(v, *target, scope, &mut n)
        });
    }
    if matches!(kind.as_str(), "Role" | "ClusterRole") {
        n += rewrite_resource_names(object, scope);
    }
    n
}

/// RBAC rules name objects in `resourceNames`: a name that a rule about `configmaps` or
/// `secrets` lists is replaced by every new name it has in scope (a ClusterRole's rule covers
/// the objects of that name in every namespace, each renamed after its own content).
fn rewrite_resource_names(object: &mut Value, scope: &Scope<'_>) -> usize {
    let Some(Value::Array(rules)) = object.get_mut("rules") else {
        return 0;
    };
    let mut n = 0;
    for rule in rules {
        let resources: Vec<&str> = rule
            .get("resources")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let targets: Vec<Target> = [("configmaps", ConfigMap), ("secrets", Secret)]
            .into_iter()
            .filter(|(plural, _)| resources.iter().any(|r| r == plural || *r == "*"))
            .map(|(_, t)| t)
            .collect();
        let Some(Value::Array(names)) = rule.get_mut("resourceNames") else {
            continue;
        };
        let mut rewritten = Vec::with_capacity(names.len());
        for name in names.drain(..) {
            let new: BTreeSet<&str> = match name.as_str() {
                Some(old) => targets
                    .iter()
                    .flat_map(|t| scope.new_names(*t, old))
                    .collect(),
                None => BTreeSet::new(),
            };
            if new.is_empty() {
                rewritten.push(name);
            } else {
                n += 1;
                rewritten.extend(new.into_iter().map(|s| Value::String(s.to_string())));
            }
        }
        *names = rewritten;
    }
    n
}

/// A field that still names a renamed ConfigMap or Secret by its old name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Dangling {
    /// Where, as `spec.tls[0].secretName`.
    pub(super) path: String,
    pub(super) target: Target,
    pub(super) old: String,
    pub(super) new: String,
}

/// The fields still holding the old name of a renamed ConfigMap or Secret after `rewrite`,
/// judged by their path: some key on the way to the value mentions a secret or a config map
/// (`secretName`, `configMapRef.name`, `example.com/tls-secret`), so that a name that only
/// happens to match (a container named like a ConfigMap) is not reported.
pub(super) fn dangling(object: &Value, scope: &Scope<'_>) -> Vec<Dangling> {
    let mut found = Vec::new();
    walk(object, &mut Vec::new(), false, scope, &mut found);
    found
}

/// One step of the path to a value: a key or a list index.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// `spec.tls[0].secretName`.
fn path_text(path: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Whether a key mentions a secret or a config map, in any case (no allocation: this runs
/// on every key of every object of a render).
fn mentions_reference(key: &str) -> bool {
    let contains = |needle: &[u8]| {
        key.as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    contains(b"secret") || contains(b"configmap")
}

fn walk<'a>(
    value: &'a Value,
    path: &mut Vec<Step<'a>>,
    mentioned: bool,
    scope: &Scope<'_>,
    found: &mut Vec<Dangling>,
) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                path.push(Step::Key(key));
                walk(v, path, mentioned || mentions_reference(key), scope, found);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Step::Index(i));
                walk(v, path, mentioned, scope, found);
                path.pop();
            }
        }
        Value::String(s) if mentioned => {
            for target in [ConfigMap, Secret] {
                if let Some(new) = scope.new_names(target, s).into_iter().next() {
                    found.push(Dangling {
                        path: path_text(path),
                        target,
                        old: s.clone(),
                        new: new.to_string(),
                    });
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn renames() -> Renames {
        let mut r = Renames::default();
        r.config_maps
            .insert("app-config".into(), "app-config-aaaa".into());
        r.secrets.insert("creds".into(), "creds-bbbb".into());
        r
    }

    fn rewritten(mut object: Value) -> (Value, usize) {
        let r = renames();
        let scope = Scope { tables: vec![&r] };
        let n = rewrite(&mut object, &scope);
        assert_eq!(dangling(&object, &scope), vec![], "{object}");
        (object, n)
    }

    #[test]
    fn a_service_account_s_image_pull_secrets_and_secrets_are_rewritten() {
        let (sa, n) = rewritten(json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "sa"},
            "imagePullSecrets": [{"name": "creds"}, {"name": "other"}],
            "secrets": [{"name": "creds"}]}));
        assert_eq!(n, 2);
        assert_eq!(
            sa["imagePullSecrets"],
            json!([{"name": "creds-bbbb"}, {"name": "other"}])
        );
        assert_eq!(sa["secrets"], json!([{"name": "creds-bbbb"}]));
    }

    #[test]
    fn an_ingress_tls_secret_and_its_auth_annotations_are_rewritten() {
        let (ing, n) = rewritten(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "i", "annotations": {"nginx.ingress.kubernetes.io/auth-secret": "creds"}},
            "spec": {"tls": [{"hosts": ["a"], "secretName": "creds"}, {"secretName": "x"}]}}),
        );
        assert_eq!(n, 2);
        assert_eq!(ing["spec"]["tls"][0]["secretName"], json!("creds-bbbb"));
        assert_eq!(ing["spec"]["tls"][1]["secretName"], json!("x"));
        assert_eq!(
            ing["metadata"]["annotations"]["nginx.ingress.kubernetes.io/auth-secret"],
            json!("creds-bbbb")
        );
    }

    #[test]
    fn role_resource_names_are_rewritten_for_rules_about_configmaps_or_secrets() {
        let (role, n) = rewritten(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "r"},
            "rules": [
                {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["app-config", "creds"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["secrets", "configmaps"], "resourceNames": ["creds"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["pods"], "resourceNames": ["app-config"], "verbs": ["get"]}
            ]}),
        );
        assert_eq!(n, 2);
        assert_eq!(
            role["rules"][0]["resourceNames"],
            json!(["app-config-aaaa", "creds"])
        );
        assert_eq!(role["rules"][1]["resourceNames"], json!(["creds-bbbb"]));
        assert_eq!(role["rules"][2]["resourceNames"], json!(["app-config"]));
    }

    #[test]
    fn pod_templates_of_every_workload_kind_are_rewritten() {
        let pod = json!({"containers": [{"name": "c",
                "envFrom": [{"configMapRef": {"name": "app-config"}}, {"secretRef": {"name": "creds"}}],
                "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "k"}}},
                        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "k"}}}]}],
            "initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "creds"}}]}],
            "volumes": [{"name": "v", "configMap": {"name": "app-config"}},
                        {"name": "s", "secret": {"secretName": "creds"}},
                        {"name": "p", "projected": {"sources": [{"configMap": {"name": "app-config"}}, {"secret": {"name": "creds"}}]}}],
            "imagePullSecrets": [{"name": "creds"}]});
        for (kind, object) in [
            ("Pod", json!({"spec": pod})),
            ("PodTemplate", json!({"template": {"spec": pod}})),
            ("Deployment", json!({"spec": {"template": {"spec": pod}}})),
            (
                "CronJob",
                json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": pod}}}}}),
            ),
        ] {
            let mut object = object;
            object["kind"] = json!(kind);
            object["apiVersion"] = json!("v1");
            let (_, n) = rewritten(object);
            assert_eq!(n, 10, "{kind}");
        }
    }

    #[test]
    fn a_cluster_role_names_each_namespace_s_renamed_object() {
        let a = renames();
        let mut b = Renames::default();
        b.config_maps
            .insert("app-config".into(), "app-config-cccc".into());
        let scope = Scope {
            tables: vec![&a, &b],
        };
        let mut role = json!({"kind": "ClusterRole", "rules": [{"resources": ["configmaps"], "resourceNames": ["app-config"]}]});
        assert_eq!(rewrite(&mut role, &scope), 1);
        assert_eq!(
            role["rules"][0]["resourceNames"],
            json!(["app-config-aaaa", "app-config-cccc"])
        );
    }

    #[test]
    fn references_nothing_rewrites_are_found_and_lookalike_names_are_not() {
        let r = renames();
        let scope = Scope { tables: vec![&r] };
        let mut object = json!({"apiVersion": "example.com/v1", "kind": "Thing",
            "metadata": {"name": "app-config", "labels": {"creds": "creds"}},
            "spec": {"tlsSecret": "creds", "sources": [{"configMapName": "app-config"}], "name": "creds"}});
        assert_eq!(rewrite(&mut object, &scope), 0);
        let found: Vec<(String, &str)> = dangling(&object, &scope)
            .into_iter()
            .map(|d| (d.path, d.target.kind()))
            .collect();
        assert_eq!(
            found,
            vec![
                ("spec.sources[0].configMapName".to_string(), "ConfigMap"),
                ("spec.tlsSecret".to_string(), "Secret"),
            ]
        );
    }
}
