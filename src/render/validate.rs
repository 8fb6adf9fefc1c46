//! The object rules the API server enforces beyond the schema, checked on every rendered object
//! before anything is written: names per kind, label and annotation syntax, ConfigMap and
//! Secret keys and their 1 MiB limit, and container resource quantities.
//!
//! Each rule cites the function of kubernetes `pkg/apis/*/validation` (v1.36) it mirrors; the
//! syntax checks themselves are `environment::names` and `environment::quantity`, proven equal
//! to apimachinery by differential tests.

use base64::Engine;
use serde_json::{Map, Value};

use super::manifest::HASH_SUFFIX_ANNOTATION;
use crate::environment::names::{
    config_map_key, dns1035_label, dns1123_label, dns1123_subdomain, label_value, qualified_name,
};
use crate::environment::{parse_quantity_json, quantity_hint};

/// The largest ConfigMap or Secret the API server accepts: the sum of the lengths of its values
/// (`core.MaxSecretSize`, 1 MiB; keys do not count, `binaryData` and Secret `data` count
/// decoded).
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;
/// The largest total of annotation keys and values (`TotalAnnotationSizeLimitB`, 256 KiB).
pub const MAX_ANNOTATION_BYTES: usize = 256 * 1024;
/// What the content hash adds to a ConfigMap or Secret name: `-` and ten characters.
const HASH_SUFFIX_LEN: usize = 11;

/// One rule an object breaks: the field (a path such as `metadata.name`), what is wrong and how
/// to fix it. Never holds a Secret's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The object, as `Kind namespace/name`.
    pub object: String,
    pub field: String,
    pub message: String,
    pub hint: String,
}

/// Checks one object as the template produced it (before content hashing), returning the first
/// rule it breaks. Objects without a readable kind and name are left to `ObjectId::of`.
pub fn check_object(object: &Value) -> Result<(), Violation> {
    let (Some(kind), Some(name)) = (object["kind"].as_str(), object["metadata"]["name"].as_str())
    else {
        return Ok(());
    };
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let shown = shown_object(object);
    let fail = |field: &str, message: String, hint: String| Violation {
        object: shown.clone(),
        field: field.to_string(),
        message,
        hint,
    };
    check_name(api_version, kind, name, object).map_err(|(m, h)| fail("metadata.name", m, h))?;
    check_metadata(&object["metadata"], "metadata").map_err(|(f, m, h)| fail(&f, m, h))?;
    if api_version == "v1" && matches!(kind, "ConfigMap" | "Secret") {
        check_config(kind, object).map_err(|(f, m, h)| fail(&f, m, h))?;
    }
    for (path, pod) in pod_specs(object) {
        check_pod(pod, &path).map_err(|(f, m, h)| fail(&f, m, h))?;
    }
    Ok(())
}

/// An object as messages name it: `Kind namespace/name`, or `Kind name` without a namespace.
pub fn shown_object(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("(no kind)");
    let name = object["metadata"]["name"].as_str().unwrap_or("(no name)");
    match object["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// A message and its fix.
type Problem = (String, String);
/// A field path, a message and its fix.
type FieldProblem = (String, String, String);

/// The name rule of each kind: Services are DNS-1035 labels (`ValidateServiceName`),
/// Namespaces DNS-1123 labels (`ValidateNamespaceName`), RBAC objects path segments
/// (`ValidateRBACName`), CronJobs subdomains of at most 52 characters (`ValidateCronJob`, room
/// for the Job suffix), and every other kind, custom resources included, a DNS-1123 subdomain.
fn check_name(api_version: &str, kind: &str, name: &str, object: &Value) -> Result<(), Problem> {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let (rule, result) = match (group, kind) {
        ("", "Service") => ("a DNS-1035 label", dns1035_label(name)),
        ("", "Namespace") => ("a DNS-1123 label", dns1123_label(name)),
        ("rbac.authorization.k8s.io", _) => ("a path segment", path_segment(name)),
        ("batch", "CronJob") if name.len() > 52 => (
            "at most 52 characters",
            Err("it is longer than 52 characters"),
        ),
        // Velero labels every Backup it takes from a Schedule with `velero.io/schedule-name:
        // <schedule>` (v1.18 pkg/builder `FromSchedule`, no shortening), and a label value
        // is at most 63 characters: the API server would refuse every one of those Backups.
        ("velero.io", "Schedule") if name.len() > crate::environment::names::LABEL_MAX => (
            "at most 63 characters",
            Err(
                "Velero labels each Backup it takes with the Schedule's name (`velero.io/schedule-name`), a label value the API server refuses over 63 characters, so no backup would ever be taken",
            ),
        ),
        _ => ("a DNS-1123 subdomain", dns1123_subdomain(name)),
    };
    if let Err(problem) = result {
        return Err((
            format!("`{name}` is not a valid {kind} name: it must be {rule}, and {problem}"),
            name_fix(rule),
        ));
    }
    let hashed = group.is_empty()
        && matches!(kind, "ConfigMap" | "Secret")
        && object["metadata"]["annotations"][HASH_SUFFIX_ANNOTATION] != "false";
    if hashed && name.len() + HASH_SUFFIX_LEN > crate::environment::names::SUBDOMAIN_MAX {
        return Err((
            format!(
                "the {kind} name is {} characters, and its content-hash suffix makes it {}: over the API server's 253",
                name.len(),
                name.len() + HASH_SUFFIX_LEN
            ),
            format!(
                "shorten the name to at most {} characters (the suffix adds {HASH_SUFFIX_LEN})",
                crate::environment::names::SUBDOMAIN_MAX - HASH_SUFFIX_LEN
            ),
        ));
    }
    Ok(())
}

fn name_fix(rule: &str) -> String {
    match rule {
        "a DNS-1035 label" => "start the name with a lowercase letter and use only lowercase letters, digits and '-', at most 63 characters (a Service name becomes a DNS name)".into(),
        "a DNS-1123 label" => "use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters".into(),
        "a path segment" => "leave out '/' and '%', and do not use `.` or `..`".into(),
        "at most 63 characters" => "shorten the name to at most 63 characters (the rendered Schedule is named `<app>-<environment>`: shorten the app's or the environment's name)".into(),
        _ => "use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters (52 for a CronJob)".into(),
    }
}

/// `path.IsValidPathSegmentName`.
fn path_segment(name: &str) -> Result<(), &'static str> {
    if name == "." || name == ".." {
        return Err("it must not be `.` or `..`");
    }
    if name.contains(['/', '%']) {
        return Err("it must not contain '/' or '%'");
    }
    Ok(())
}

/// Labels (`ValidateLabels`: qualified-name keys, label values) and annotations
/// (`ValidateAnnotations`: qualified-name keys, lowercased, and 256 KiB in all).
fn check_metadata(meta: &Value, at: &str) -> Result<(), FieldProblem> {
    for (key, value) in meta["labels"].as_object().into_iter().flatten() {
        let field = format!("{at}.labels[{key:?}]");
        qualified_name(key).map_err(|p| {
            (
                field.clone(),
                format!("`{key}` is not a valid label key: {p}"),
                "write keys as `name` or `prefix/name`: a DNS subdomain prefix, and a name of at most 63 letters, digits, '-', '_' and '.'".into(),
            )
        })?;
        let Some(text) = value.as_str() else {
            return Err((
                field,
                "a label value must be a string".into(),
                "quote it in the template (`| tojson` on a string, or `| string | tojson`)".into(),
            ));
        };
        label_value(text).map_err(|p| {
            (
                field,
                format!("`{text}` is not a valid label value: {p}"),
                "use at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit; put longer text in an annotation".into(),
            )
        })?;
    }
    let mut total = 0;
    for (key, value) in meta["annotations"].as_object().into_iter().flatten() {
        qualified_name(&key.to_lowercase()).map_err(|p| {
            (
                format!("{at}.annotations[{key:?}]"),
                format!("`{key}` is not a valid annotation key: {p}"),
                "write keys as `name` or `prefix/name`: a DNS subdomain prefix, and a name of at most 63 letters, digits, '-', '_' and '.'".into(),
            )
        })?;
        total += key.len() + value.as_str().map_or(0, str::len);
    }
    if total > MAX_ANNOTATION_BYTES {
        return Err((
            format!("{at}.annotations"),
            format!(
                "the annotations total {total} bytes, over the API server's limit of {MAX_ANNOTATION_BYTES} (256 KiB)"
            ),
            "keep large content out of annotations (a ConfigMap, or a file in the image)".into(),
        ));
    }
    Ok(())
}

/// ConfigMap and Secret keys (`IsConfigMapKey`, a key not in both `data` and `binaryData`)
/// and their size: `ValidateConfigMap` sums the `data` values and the `binaryData` bytes,
/// `ValidateSecret` the decoded `data` bytes, `stringData` merged in first.
fn check_config(kind: &str, object: &Value) -> Result<(), FieldProblem> {
    let empty = Map::new();
    let map = |f: &str| object[f].as_object().unwrap_or(&empty);
    let (first, second) = if kind == "ConfigMap" {
        ("data", "binaryData")
    } else {
        ("data", "stringData")
    };
    let mut sizes: std::collections::BTreeMap<&str, usize> = Default::default();
    for field in [first, second] {
        for (key, value) in map(field) {
            config_map_key(key).map_err(|p| {
                (
                    format!("{field}[{key:?}]"),
                    format!("`{key}` is not a valid {kind} key: {p}"),
                    "use at most 253 letters, digits, '-', '_' and '.', not starting with `..`"
                        .into(),
                )
            })?;
            if kind == "ConfigMap" && field == second && map(first).contains_key(key) {
                return Err((
                    format!("{field}[{key:?}]"),
                    format!("`{key}` is in both `data` and `binaryData`"),
                    "keep each key in one of them".into(),
                ));
            }
            let decoded = (field == "binaryData" || (kind == "Secret" && field == "data"))
                .then(|| value.as_str().map(base64_len));
            let size = match decoded {
                Some(Some(Some(n))) => n,
                Some(_) => {
                    return Err((
                        format!("{field}[{key:?}]"),
                        "the value is not base64".into(),
                        format!(
                            "encode the value with `| b64encode`, or put the text in `{}`",
                            if kind == "Secret" {
                                "stringData"
                            } else {
                                "data"
                            }
                        ),
                    ));
                }
                None => value.as_str().map_or(0, str::len),
            };
            // stringData replaces a data entry of the same key (the Secret's conversion).
            sizes.insert(key, size);
        }
    }
    let total: usize = sizes.values().sum();
    if total > MAX_CONFIG_BYTES {
        return Err((
            if map(second).is_empty() { first.into() } else { format!("{first}, {second}") },
            format!(
                "the values total {total} bytes, over the API server's limit of {MAX_CONFIG_BYTES} bytes (1 MiB) for a {kind}"
            ),
            "keep large content out of config: mount it from a volume or the image, fetch it from object storage, or split it over several objects".into(),
        ));
    }
    Ok(())
}

/// The decoded length of standard base64, or `None` when it is not base64.
fn base64_len(s: &str) -> Option<usize> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .ok()
        .map(|b| b.len())
}

/// The pod specs of an object with their paths: a Pod's own, a workload's template, a
/// CronJob's job template.
fn pod_specs(object: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    if object["kind"] == "Pod" {
        out.push(("spec".to_string(), &object["spec"]));
    }
    for (path, template) in [
        ("spec.template", &object["spec"]["template"]),
        (
            "spec.jobTemplate.spec.template",
            &object["spec"]["jobTemplate"]["spec"]["template"],
        ),
    ] {
        if template["spec"].is_object() {
            out.push((format!("{path}.spec"), &template["spec"]));
        }
    }
    out
}

/// Container resources: every request and limit a quantity, none negative, and no request
/// above its limit (`ValidateResourceRequirements`).
fn check_pod(pod: &Value, at: &str) -> Result<(), FieldProblem> {
    for list in ["initContainers", "containers"] {
        for (i, c) in pod[list].as_array().into_iter().flatten().enumerate() {
            let here = format!("{at}.{list}[{i}].resources");
            check_resources(&c["resources"], &here)?;
        }
    }
    Ok(())
}

fn check_resources(resources: &Value, at: &str) -> Result<(), FieldProblem> {
    let mut parsed: [Vec<(&str, crate::environment::Quantity)>; 2] = Default::default();
    for (i, part) in ["requests", "limits"].into_iter().enumerate() {
        for (name, value) in resources[part].as_object().into_iter().flatten() {
            let field = format!("{at}.{part}.{name}");
            let shown = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            let q = match parse_quantity_json(value) {
                Some(Ok(q)) => q,
                Some(Err(problem)) => {
                    return Err((
                        field,
                        format!("`{shown}` is not a Kubernetes quantity: {problem}"),
                        quantity_hint(&shown),
                    ));
                }
                None => continue,
            };
            if q.is_negative() {
                return Err((
                    field,
                    format!("`{shown}` is negative"),
                    "use 0 or more".into(),
                ));
            }
            parsed[i].push((name.as_str(), q));
        }
    }
    let [requests, limits] = &parsed;
    for (name, request) in requests {
        if let Some((_, limit)) = limits.iter().find(|(n, _)| n == name)
            && limit < request
        {
            return Err((
                format!("{at}.limits.{name}"),
                format!("the {name} limit is below its request; the API server refuses such a pod"),
                format!("raise the {name} limit to at least the request, or lower the request"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn violation(o: Value) -> Violation {
        check_object(&o).expect_err("a violation")
    }

    #[test]
    fn a_velero_schedule_named_over_63_characters_is_refused_as_velero_could_never_back_up() {
        // Found by the stateful backup test: `<app>-<env>` of 65 characters, whose Backup the
        // API server refused (metadata.labels: must be no more than 63 bytes).
        let long = "stateful-backup-a22c5347ce2a1749-stateful-backup-a22c5347ce2a1749";
        let schedule = |name: &str| {
            json!({"apiVersion": "velero.io/v1", "kind": "Schedule",
                "metadata": {"name": name, "namespace": "velero"}})
        };
        let v = violation(schedule(long));
        assert_eq!(v.field, "metadata.name");
        assert!(v.message.contains("velero.io/schedule-name"), "{v:?}");
        assert!(v.hint.contains("at most 63 characters"), "{v:?}");
        assert!(check_object(&schedule(&long[..63])).is_ok());
    }

    #[test]
    fn a_service_named_7days_api_breaks_the_dns1035_rule() {
        let v = violation(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "7days-api", "namespace": "shop"}}));
        assert_eq!(v.object, "Service shop/7days-api");
        assert_eq!(v.field, "metadata.name");
        assert!(
            v.message
                .contains("DNS-1035 label, and it must start with a lowercase letter"),
            "{v:?}"
        );
        assert!(
            check_object(&json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "7days-api"}}))
            .is_ok()
        );
    }

    #[test]
    fn a_config_map_over_one_mebibyte_is_refused() {
        let big = "x".repeat(1_100_000);
        let v = violation(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c"}, "data": {"BIG": big}}));
        assert!(
            v.message
                .contains("1100000 bytes, over the API server's limit of 1048576"),
            "{v:?}"
        );
        let exact = "x".repeat(MAX_CONFIG_BYTES);
        assert!(
            check_object(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c"}, "data": {"BIG": exact}}))
            .is_ok()
        );
    }

    #[test]
    fn a_secret_counts_decoded_bytes_and_never_shows_a_value() {
        let v = violation(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s"}, "data": {"pw": "hunter2!"}}));
        assert_eq!(v.message, "the value is not base64");
        assert!(!format!("{v:?}").contains("hunter2"));
    }

    #[test]
    fn quantities_and_limits_below_requests_are_refused() {
        let pod = |res: Value| {
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "resources": res}]}}}})
        };
        let v = violation(pod(json!({"requests": {"memory": "1GB"}})));
        assert_eq!(
            v.field,
            "spec.template.spec.containers[0].resources.requests.memory"
        );
        assert!(v.hint.starts_with("write `1G`"), "{v:?}");
        let v = violation(pod(
            json!({"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}}),
        ));
        assert_eq!(
            v.field,
            "spec.template.spec.containers[0].resources.limits.memory"
        );
        assert!(check_object(&pod(json!({"requests": {"cpu": 0.5, "memory": "1Gi"}, "limits": {"memory": "1073741824"}}))).is_ok());
    }

    #[test]
    fn label_and_annotation_syntax_is_checked() {
        let v = violation(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "labels": {"team": "a b"}}}));
        assert_eq!(v.field, "metadata.labels[\"team\"]");
        let v = violation(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "annotations": {"a/b/c": "x"}}}));
        assert!(v.message.contains("more than one '/'"), "{v:?}");
        assert!(
            check_object(
                &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "system:aggregate-to-edit"}})
            )
            .is_ok()
        );
    }

    #[test]
    fn a_253_character_config_map_name_has_no_room_for_its_hash_suffix() {
        let v = violation(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a".repeat(253)}}));
        assert!(v.hint.contains("at most 242 characters"), "{v:?}");
    }
}
