//! CustomResourceDefinitions as the API server reads them: a CRD itself (strict decoding into
//! apiextensions.k8s.io/v1 `CustomResourceDefinition`, and the structural-schema rules of each
//! version's `openAPIV3Schema`), and the kinds and versions a CRD serves, which decide whether
//! a custom resource of its group is served at all ("no matches for kind").

use serde_json::Value;

use super::walk::{self, Issue};
use super::{Schemas, builtin};
use crate::render::validate::{Violation, shown_object};
use crate::yaml::{self, Path, Segment};

/// The definition a CRD is decoded into (strictly: unknown fields are refused).
const CRD: &str =
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition";
/// The definition of every node of a CRD's `openAPIV3Schema`.
const SCHEMA_PROPS: &str =
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps";

/// The types a structural schema may name (apiextensions-apiserver `validateStructuralInvariants`
/// and `ValidateCustomResourceDefinitionOpenAPISchema`: "Unsupported value" for any other).
const TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];

/// Whether `object` is an apiextensions.k8s.io/v1 CustomResourceDefinition.
pub(crate) fn is_crd(object: &Value) -> bool {
    object["apiVersion"] == "apiextensions.k8s.io/v1"
        && object["kind"] == "CustomResourceDefinition"
}

/// Checks a CRD as the API server does on create: its fields against the embedded
/// `CustomResourceDefinition` schema (unknown fields, types, required fields), then each
/// version's schema (`check_rules`). Errors: the first problem, with its path in the CRD.
pub(crate) fn check_definition(crd: &Value) -> Result<(), Issue> {
    let schemas = Schemas::with_crds(std::iter::empty());
    let bundle = builtin();
    if let Some(node) = bundle.defs.get(CRD) {
        walk::check(&schemas, node, crd, false, &|_| None)?;
    }
    check_rules(crd)
}

/// The rules the embedded schema cannot express (`check_spec`), and the structural-schema
/// rules of each version's `openAPIV3Schema` (it stops at `items` and `additionalProperties`,
/// which may be a schema or a boolean): every node is a mapping of JSONSchemaProps fields,
/// names one of the six types, and has one schema (not a list) as `items`. Anything but a
/// CRD passes.
pub(crate) fn check_rules(crd: &Value) -> Result<(), Issue> {
    if !is_crd(crd) {
        return Ok(());
    }
    check_spec(crd)?;
    let versions = crd["spec"]["versions"].as_array().into_iter().flatten();
    for (i, version) in versions.enumerate() {
        let path = Path(vec![key("spec"), key("versions"), Segment::Index(i)]);
        let schema = &version["schema"]["openAPIV3Schema"];
        let path = path.key("schema").key("openAPIV3Schema");
        if !schema.is_object() {
            return Err(issue(
                &path,
                "the version has no schema: an apiextensions.k8s.io/v1 CRD needs one for every version".into(),
                "add `schema: {openAPIV3Schema: {type: object, ...}}` to the version (`x-kubernetes-preserve-unknown-fields: true` accepts any fields)".into(),
            ));
        }
        if schema.get("type").is_some_and(|t| t != "object") {
            return Err(issue(
                &path.key("type"),
                format!(
                    "the root of the schema is of type {}: it must be object",
                    schema["type"]
                ),
                "write `type: object` at the root".into(),
            ));
        }
        check_node(schema, path, Place::Root)?;
    }
    Ok(())
}

/// The CRD's own rules (apiextensions-apiserver `ValidateCustomResourceDefinition`): the group
/// has a dot, the name is `<plural>.<group>`, the scope is Namespaced or Cluster, and exactly
/// one version is the storage version.
fn check_spec(crd: &Value) -> Result<(), Issue> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let at = |steps: &[&str]| Path(steps.iter().map(|s| key(s)).collect());
    if !group.contains('.') {
        return Err(issue(
            &at(&["spec", "group"]),
            format!("the group `{group}` is no domain with a dot: the API server refuses it"),
            format!("use a domain you own, such as `{group}.example.com`"),
        ));
    }
    let wanted = format!(
        "{}.{group}",
        spec["names"]["plural"].as_str().unwrap_or_default()
    );
    if crd["metadata"]["name"] != wanted.as_str() {
        return Err(issue(
            &at(&["metadata", "name"]),
            format!("the name must be spec.names.plural + \".\" + spec.group (`{wanted}`)"),
            format!("name the CRD `{wanted}`"),
        ));
    }
    if !matches!(spec["scope"].as_str(), Some("Namespaced" | "Cluster")) {
        return Err(issue(
            &at(&["spec", "scope"]),
            format!(
                "{} is no scope: the API server takes Namespaced or Cluster",
                spec["scope"]
            ),
            "write `scope: Namespaced` (objects in a namespace) or `scope: Cluster`".into(),
        ));
    }
    let versions = spec["versions"].as_array().into_iter().flatten();
    let storage = versions.filter(|v| v["storage"] == true).count();
    if storage != 1 {
        return Err(issue(
            &at(&["spec", "versions"]),
            format!(
                "{storage} versions are marked `storage: true`: the API server needs exactly one"
            ),
            "mark one version `storage: true` and the others `storage: false`".into(),
        ));
    }
    Ok(())
}

fn key(k: &str) -> Segment {
    Segment::Key(k.to_string())
}

/// Where a schema node is: the rules for its `type` differ.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Root,
    /// A property, `items` or `additionalProperties`: it needs a type.
    Field,
    /// Under `allOf`, `anyOf`, `oneOf` or `not`: it only validates, and must not set a type.
    Junctor,
}

/// One schema node and the nodes below it.
fn check_node(node: &Value, path: Path, place: Place) -> Result<(), Issue> {
    let Some(map) = node.as_object() else {
        return Err(issue(
            &path,
            "a schema must be a mapping of schema fields".into(),
            "write the schema as a mapping (`type: string`, `properties: ...`)".into(),
        ));
    };
    let fields = schema_fields();
    if let Some(unknown) = map.keys().find(|k| !fields.contains(k)) {
        let hint = yaml::did_you_mean(unknown, &fields)
            .unwrap_or_else(|| format!("remove it (schema fields: {})", fields.join(", ")));
        return Err(issue(
            &path.key(unknown),
            format!(
                "unknown schema field `{unknown}`: the API server refuses it (strict decoding)"
            ),
            hint,
        ));
    }
    check_typed(map, &path, place)?;
    if map.contains_key("properties") && map.contains_key("additionalProperties") {
        return Err(issue(
            &path.key("additionalProperties"),
            "a schema may not have both `properties` and `additionalProperties`: the API server refuses the CustomResourceDefinition".into(),
            "keep `properties` for an object of known fields, or `additionalProperties` for a map".into(),
        ));
    }
    for (name, child, below_place) in below(map, &path)? {
        check_node(child, name, below_place)?;
    }
    Ok(())
}

/// The `type` of a node at `place`: one of the six; required on a field (unless it may hold
/// anything), forbidden under a junctor.
fn check_typed(
    map: &serde_json::Map<String, Value>,
    path: &Path,
    place: Place,
) -> Result<(), Issue> {
    match map.get("type") {
        Some(_) if place == Place::Junctor => Err(issue(
            &path.key("type"),
            "a schema under allOf, anyOf, oneOf or not may not set `type` (it must be empty for the schema to be structural): the API server refuses the CustomResourceDefinition".into(),
            "remove `type` here; the field's own schema gives its type".into(),
        )),
        Some(t) => check_type(t, &path.key("type")),
        None if place == Place::Field && !untyped_allowed(map) => Err(issue(
            &path.key("type"),
            "the field has no `type`: the API server refuses the CustomResourceDefinition (a structural schema types every field)".into(),
            "add `type:` (array, boolean, integer, number, object or string), or `x-kubernetes-preserve-unknown-fields: true` for a field of any shape".into(),
        )),
        None => Ok(()),
    }
}

/// Whether a field may go without a type: int-or-string and preserve-unknown-fields ones.
fn untyped_allowed(map: &serde_json::Map<String, Value>) -> bool {
    map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        || map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
}

/// The OpenAPI type of a node: one of `TYPES`.
fn check_type(t: &Value, path: &Path) -> Result<(), Issue> {
    let text = t.as_str().unwrap_or_default();
    if TYPES.contains(&text) {
        return Ok(());
    }
    let meant = match text {
        "int" | "int32" | "int64" | "long" => Some("integer".to_string()),
        "float" | "double" | "decimal" => Some("number".into()),
        "bool" => Some("boolean".into()),
        "str" | "text" => Some("string".into()),
        "map" | "dict" | "mapping" => Some("object".into()),
        "list" | "slice" => Some("array".into()),
        _ => None,
    };
    let fix = match meant {
        Some(m) => format!("write `type: {m}`"),
        None => "use one of them".into(),
    };
    Err(issue(
        path,
        format!(
            "{t} is not an OpenAPI type: the API server refuses the CustomResourceDefinition (Unsupported value; the types are {})",
            TYPES.join(", ")
        ),
        fix,
    ))
}

/// The schema nodes directly below `map`, with their paths: each property, `additionalProperties`
/// and `items` when a schema, `not` and each `allOf`/`anyOf`/`oneOf` entry. Errors: `items`
/// that is a list (a structural schema has one schema for every item).
fn below<'v>(
    map: &'v serde_json::Map<String, Value>,
    path: &Path,
) -> Result<Vec<(Path, &'v Value, Place)>, Issue> {
    let mut out = Vec::new();
    let properties = map.get("properties").and_then(Value::as_object);
    for (name, child) in properties.into_iter().flatten() {
        out.push((path.key("properties").key(name), child, Place::Field));
    }
    for (single, place) in [
        ("additionalProperties", Place::Field),
        ("not", Place::Junctor),
    ] {
        if let Some(child) = map.get(single).filter(|c| c.is_object()) {
            out.push((path.key(single), child, place));
        }
    }
    match map.get("items") {
        Some(Value::Array(_)) => {
            return Err(issue(
                &path.key("items"),
                "`items` is a list of schemas: the API server takes one schema for every item"
                    .into(),
                "write `items:` as one schema (a mapping), not a list".into(),
            ));
        }
        Some(child) => out.push((path.key("items"), child, Place::Field)),
        None => {}
    }
    for list in ["allOf", "anyOf", "oneOf"] {
        let entries = map
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for (i, child) in entries.enumerate() {
            out.push((path.key(list).index(i), child, Place::Junctor));
        }
    }
    Ok(out)
}

/// The fields a schema node may have, sorted (those of JSONSchemaProps).
fn schema_fields() -> Vec<String> {
    let mut fields: Vec<String> = builtin()
        .defs
        .get(SCHEMA_PROPS)
        .and_then(|d| d.p.as_ref())
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    fields.sort();
    fields
}

fn issue(path: &Path, message: String, hint: String) -> Issue {
    Issue {
        field: path.to_string(),
        path: path.clone(),
        message,
        hint,
    }
}

/// A kind a CustomResourceDefinition defines: its group, the versions it serves, the CRD's
/// name and the file it comes from (`crds/widget.yaml`, or the template that renders it).
#[derive(Debug, Clone)]
struct Defined {
    group: String,
    kind: String,
    served: Vec<String>,
    /// The versions listed without `served: true`.
    unserved: Vec<String>,
    name: String,
    from: String,
}

/// The kinds the repository's CRDs define, by group: what the API server will serve once they
/// are applied.
#[derive(Debug, Default)]
pub(crate) struct Served(Vec<Defined>);

impl Served {
    /// The CRDs among `objects`, each with the file it comes from.
    pub(crate) fn collect<'a>(objects: impl Iterator<Item = (&'a Value, String)>) -> Served {
        let crds = objects.filter(|(o, _)| is_crd(o));
        Served(crds.filter_map(|(crd, from)| defined(crd, from)).collect())
    }

    /// Why the API server would answer "no matches for kind" for an object of `api`/`kind`
    /// whose group one of these CRDs defines: the kind is no CRD's of the group (field `kind`),
    /// or its CRD does not serve that version (field `apiVersion`). `None` for other groups
    /// and for the kinds the embedded schemas serve.
    pub(crate) fn refusal(&self, object: &Value, api: &str, kind: &str) -> Option<Violation> {
        let (group, version) = api.rsplit_once('/')?;
        // A kind the embedded schemas serve (Velero's, when crds/ ships one of its CRDs).
        if builtin().kinds.contains_key(&format!("{api}/{kind}")) {
            return None;
        }
        let of_group: Vec<&Defined> = self.0.iter().filter(|d| d.group == group).collect();
        if of_group.is_empty() {
            return None;
        }
        let violation = |field: &str, message: String, hint: String| Violation {
            object: shown_object(object),
            field: field.into(),
            message,
            hint,
        };
        let Some(own) = of_group.iter().find(|d| d.kind == kind) else {
            let (message, hint) = unknown_kind(group, kind, &of_group);
            return Some(violation("kind", message, hint));
        };
        if own.served.iter().any(|v| v == version) {
            return None;
        }
        let (message, hint) = unserved_version(api, version, own);
        Some(violation("apiVersion", message, hint))
    }
}

/// What one CRD defines; `None` without a group or kind (the CRD checks report those).
fn defined(crd: &Value, from: String) -> Option<Defined> {
    let spec = &crd["spec"];
    let versions = spec["versions"].as_array().into_iter().flatten();
    let (served, unserved): (Vec<&Value>, Vec<&Value>) =
        versions.partition(|v| v["served"] == true);
    let names = |vs: Vec<&Value>| -> Vec<String> {
        let named = vs.into_iter().filter_map(|v| v["name"].as_str());
        named.map(str::to_string).collect()
    };
    Some(Defined {
        group: spec["group"].as_str()?.to_string(),
        kind: spec["names"]["kind"].as_str()?.to_string(),
        served: names(served),
        unserved: names(unserved),
        name: crd["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        from,
    })
}

/// The message and fix for a kind no CRD of its group defines.
fn unknown_kind(group: &str, kind: &str, of_group: &[&Defined]) -> (String, String) {
    let kinds: Vec<String> = of_group.iter().map(|d| d.kind.clone()).collect();
    let defined = of_group
        .iter()
        .map(|d| format!("{} ({}, serving {})", d.kind, d.from, versions(&d.served)))
        .collect::<Vec<_>>()
        .join("; ");
    let message = format!(
        "no CustomResourceDefinition of group {group} defines a kind `{kind}`, so the API server answers \"no matches for kind\"; the group's kinds: {defined}"
    );
    let hint = match yaml::did_you_mean(kind, &kinds) {
        Some(near) => {
            format!("{near} Otherwise add a CustomResourceDefinition of kind {kind} to crds/")
        }
        None => format!(
            "use one of the group's kinds, or add a CustomResourceDefinition of kind {kind} to crds/"
        ),
    };
    (message, hint)
}

/// The message and fix for a version the kind's CRD does not serve.
fn unserved_version(api: &str, version: &str, own: &Defined) -> (String, String) {
    let group = &own.group;
    let message = format!(
        "`{api}` {kind} is not served: the CustomResourceDefinition {name} in {from} serves {kind} as {served}{off}, so the API server answers \"no matches for kind\"",
        kind = own.kind,
        name = own.name,
        from = own.from,
        served = versions(&own.served),
        off = if own.unserved.iter().any(|v| v == version) {
            format!(" ({version} is listed without `served: true`)")
        } else {
            String::new()
        },
    );
    let hint = match own.served.as_slice() {
        _ if own.unserved.iter().any(|v| v == version) => format!(
            "set `served: true` on version {version} in {}{}",
            own.from,
            own.served
                .first()
                .map(|v| format!(", or use `apiVersion: {group}/{v}`"))
                .unwrap_or_default()
        ),
        [] => format!("set `served: true` on a version in {}", own.from),
        [one] => format!(
            "use `apiVersion: {group}/{one}`, or serve {version} in {} (a `spec.versions` entry named {version} with `served: true`)",
            own.from
        ),
        many => format!(
            "use one of {}, or serve {version} in {}",
            many.iter()
                .map(|v| format!("`{group}/{v}`"))
                .collect::<Vec<_>>()
                .join(", "),
            own.from
        ),
    };
    (message, hint)
}

/// Served versions for a message: `v1`, `v1, v2`, or `no version (every one has served: false)`.
fn versions(served: &[String]) -> String {
    if served.is_empty() {
        "no version (none has `served: true`)".into()
    } else {
        served.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn widget_crd(schema: Value) -> Value {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"kind": "Widget", "plural": "widgets"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": schema}}]}})
    }

    #[test]
    fn a_valid_crd_passes() {
        let crd = widget_crd(
            json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"size": {"type": "integer"}, "tags": {"type": "array",
                "items": {"type": "string"}}}}}}),
        );
        assert_eq!(check_definition(&crd), Ok(()));
    }

    #[test]
    fn a_type_that_is_no_openapi_type_is_refused_with_the_one_meant() {
        let crd = widget_crd(
            json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"tags": {"type": "array", "items": {"type": "int"}}}}}}),
        );
        let issue = check_definition(&crd).unwrap_err();
        assert_eq!(
            issue.field,
            "spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.tags.items.type"
        );
        assert!(
            issue.message.contains("\"int\" is not an OpenAPI type"),
            "{}",
            issue.message
        );
        assert_eq!(issue.hint, "write `type: integer`");
    }

    #[test]
    fn an_unknown_field_of_the_crd_or_its_schema_is_refused_with_a_did_you_mean() {
        let mut crd = widget_crd(json!({"type": "object"}));
        crd["spec"]["scop"] = crd["spec"]["scope"].take();
        let issue = check_definition(&crd).unwrap_err();
        assert_eq!(issue.field, "spec.scop");
        assert!(
            issue.hint.contains("did you mean `scope`?"),
            "{}",
            issue.hint
        );
        let crd = widget_crd(
            json!({"type": "object", "properties": {"a": {"type": "array",
            "items": {"type": "string", "patern": "^a$"}}}}),
        );
        let issue = check_definition(&crd).unwrap_err();
        assert!(issue.field.ends_with("items.patern"), "{}", issue.field);
        assert!(
            issue.hint.contains("did you mean `pattern`?"),
            "{}",
            issue.hint
        );
    }

    #[test]
    fn the_crd_s_own_rules_are_checked_with_their_fix() {
        let mut crd = widget_crd(json!({"type": "object"}));
        crd["spec"]["scope"] = json!("namespaced");
        let issue = check_definition(&crd).unwrap_err();
        assert_eq!(issue.field, "spec.scope");
        assert!(
            issue.hint.starts_with("write `scope: Namespaced`"),
            "{}",
            issue.hint
        );
        let mut crd = widget_crd(json!({"type": "object"}));
        crd["metadata"]["name"] = json!("widget.example.com");
        let issue = check_definition(&crd).unwrap_err();
        assert_eq!(issue.hint, "name the CRD `widgets.example.com`");
        let mut crd = widget_crd(json!({"type": "object"}));
        crd["spec"]["versions"][0]["schema"].take();
        let issue = check_definition(&crd).unwrap_err();
        assert_eq!(issue.field, "spec.versions[0].schema.openAPIV3Schema");
    }

    #[test]
    fn a_version_a_crd_does_not_serve_or_a_kind_it_does_not_define_is_refused() {
        let mut crd = widget_crd(json!({"type": "object"}));
        crd["spec"]["versions"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "v2", "served": false, "storage": false}));
        let served = Served::collect([(&crd, "crds/widget.yaml".to_string())].into_iter());
        let object = json!({"kind": "Widget", "metadata": {"name": "w"}});
        assert!(
            served
                .refusal(&object, "example.com/v1", "Widget")
                .is_none()
        );
        assert!(served.refusal(&object, "other.com/v1", "Widgit").is_none());
        let v2 = served.refusal(&object, "example.com/v2", "Widget").unwrap();
        assert_eq!(v2.field, "apiVersion");
        assert!(
            v2.message.contains("crds/widget.yaml serves Widget as v1"),
            "{}",
            v2.message
        );
        let velero = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "spec": {"group": "velero.io", "names": {"kind": "Schedule"}, "versions": []}});
        let with_velero = Served::collect([(&velero, "crds/velero.yaml".to_string())].into_iter());
        assert!(
            with_velero
                .refusal(&object, "velero.io/v1", "Backup")
                .is_none()
        );
        let typo = served.refusal(&object, "example.com/v1", "Widgit").unwrap();
        assert_eq!(typo.field, "kind");
        assert!(
            typo.hint.starts_with("did you mean `Widget`?"),
            "{}",
            typo.hint
        );
    }
}
