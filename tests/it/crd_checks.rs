//! The CustomResourceDefinitions a repository ships, held to what the API server accepts: a
//! custom resource of a version its CRD does not serve, or of a kind no CRD of its group
//! defines ("no matches for kind"), and a CRD the API server refuses itself (a `type` that is
//! no OpenAPI type, an unknown field). Each reviewer input pinned with its message; the
//! testenv test checks render refuses exactly what the real kube-apiserver refuses.

use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::support::snapshot::{cli, filters};
use crate::support::testenv::{self, TestNamespace};
use crate::support::workspace::{Workspace, environment};

/// The reviewer's `crds/widget.yaml`: group example.com, kind Widget, v1 served (and v2 not).
const WIDGET_CRD: &str = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
  - name: v2
    served: false
    storage: false
    schema:
      openAPIV3Schema: {type: object}
";

/// A workspace with WIDGET_CRD in crds/ (with `from` replaced by `to`) and a template
/// rendering one custom resource of `api` and `kind`.
fn workspace(from: &str, to: &str, api: &str, kind: &str) -> Workspace {
    let ws = Workspace::empty();
    ws.write("environments/dev.yaml", environment("dev", ""));
    assert!(WIDGET_CRD.contains(from), "{from}");
    ws.write("crds/widget.yaml", WIDGET_CRD.replacen(from, to, 1));
    ws.write(
        "templates/widget.yaml",
        format!("apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: w\n  namespace: web\nspec:\n  size: 3\n"),
    );
    ws
}

/// `kubectl hadr render` in WS as a snapshot text, with the workspace path filtered.
fn render(ws: &Workspace) -> (String, insta::internals::SettingsBindDropGuard) {
    let out = cli(&mut ws.hadr(&["render"]));
    assert!(!out.contains("panicked"), "{out}");
    (
        out,
        filters(&ws.root().display().to_string()).bind_to_scope(),
    )
}

#[test]
fn a_custom_resource_its_crd_serves_renders() {
    let ws = workspace("", "", "example.com/v1", "Widget");
    ws.hadr(&["render"]).assert().success();
}

#[test]
fn crd_item_a_a_version_the_crd_does_not_serve_is_refused_naming_the_crd_file() {
    for api in ["example.com/v2", "example.com/v3"] {
        let (out, _s) = render(&workspace("", "", api, "Widget"));
        assert!(out.starts_with("exit: 2\n"), "{out}");
        assert!(
            out.contains("templates/widget.yaml: Widget web/w: apiVersion: "),
            "{out}"
        );
        assert!(
            out.contains("crds/widget.yaml serves Widget as v1"),
            "{out}"
        );
        assert!(out.contains("use `apiVersion: example.com/v1`"), "{out}");
        if api.ends_with("v2") {
            insta::assert_snapshot!(out);
        }
    }
}

#[test]
fn crd_item_a_a_kind_no_crd_of_the_group_defines_is_refused_with_a_did_you_mean() {
    let (out, _s) = render(&workspace("", "", "example.com/v1", "Widgit"));
    assert!(out.starts_with("exit: 2\n"), "{out}");
    assert!(out.contains("Widgit web/w: kind: "), "{out}");
    assert!(out.contains("did you mean `Widget`?"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn crd_item_a_a_group_no_shipped_crd_defines_stays_allowed() {
    let ws = workspace("", "", "other.example.org/v9", "Gadget");
    ws.hadr(&["render"]).assert().success();
}

#[test]
fn crd_item_b_a_type_that_is_no_openapi_type_is_refused_at_its_line() {
    let ws = workspace(
        "size: {type: integer}",
        "size: {type: int}",
        "example.com/v1",
        "Widget",
    );
    let (out, _s) = render(&ws);
    assert!(out.starts_with("exit: 2\n"), "{out}");
    assert!(out.contains("crds/widget.yaml:20:22: spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.size.type"), "{out}");
    assert!(out.contains("write `type: integer`"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn crd_item_b_an_unknown_field_of_the_crd_is_refused_with_a_did_you_mean() {
    let ws = workspace(
        "scope: Namespaced",
        "scop: Namespaced",
        "example.com/v1",
        "Widget",
    );
    let (out, _s) = render(&ws);
    assert!(out.starts_with("exit: 2\n"), "{out}");
    assert!(
        out.contains("crds/widget.yaml:8:3: spec.scop: unknown field `scop`"),
        "{out}"
    );
    assert!(out.contains("did you mean `scope`?"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn a_bad_crd_after_the_first_document_of_a_file_is_found_at_its_line() {
    let second = WIDGET_CRD
        .replace("widgets", "gadgets")
        .replace("Widget", "Gadget");
    let ws = workspace("", "", "example.com/v1", "Widget");
    let bad = second.replacen("type: integer", "type: float", 1);
    ws.write("crds/widget.yaml", format!("{WIDGET_CRD}---\n{bad}"));
    let (out, _s) = render(&ws);
    assert!(out.contains("crds/widget.yaml:46:22: "), "{out}");
    assert!(out.contains("write `type: number`"), "{out}");
}

/// CRDs of group GROUP the server refuses or accepts: (what differs, the CRD).
fn crd_variants(group: &str) -> Vec<(&'static str, Value)> {
    let base = |spec_schema: Value| {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("widgets.{group}")},
            "spec": {"group": group, "names": {"kind": "Widget", "plural": "widgets"},
                "scope": "Namespaced",
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object",
                        "properties": {"spec": spec_schema}}}}]}})
    };
    let mut scop = base(json!({"type": "object"}));
    scop["spec"]["scop"] = scop["spec"]["scope"].take();
    let mut lower_scope = base(json!({"type": "object"}));
    lower_scope["spec"]["scope"] = json!("namespaced");
    let mut misnamed = base(json!({"type": "object"}));
    misnamed["metadata"]["name"] = json!(format!("widget.{group}"));
    let mut no_storage = base(json!({"type": "object"}));
    no_storage["spec"]["versions"][0]["storage"] = json!(false);
    let mut no_schema = base(json!({"type": "object"}));
    no_schema["spec"]["versions"][0]["schema"].take();
    let mut root_string = base(json!({"type": "object"}));
    root_string["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = json!({"type": "string"});
    let dotless = group.split('.').next().unwrap_or_default();
    let mut no_dot = base(json!({"type": "object"}));
    no_dot["spec"]["group"] = json!(dotless);
    no_dot["metadata"]["name"] = json!(format!("widgets.{dotless}"));
    vec![
        ("scope namespaced", lower_scope),
        ("name not plural.group", misnamed),
        ("no storage version", no_storage),
        ("a version without a schema", no_schema),
        ("root of type string", root_string),
        ("group without a dot", no_dot),
        ("valid", base(json!({"type": "object"}))),
        ("type int", base(json!({"type": "int"}))),
        (
            "items type str",
            base(json!({"type": "array", "items": {"type": "str"}})),
        ),
        (
            "items a list",
            base(json!({"type": "array", "items": [{"type": "string"}]})),
        ),
        ("no type", base(json!({"description": "x"}))),
        (
            "preserve unknown, no type",
            base(json!({"x-kubernetes-preserve-unknown-fields": true})),
        ),
        (
            "int-or-string, no type",
            base(json!({"x-kubernetes-int-or-string": true})),
        ),
        (
            "additionalProperties untyped",
            base(json!({"type": "object", "additionalProperties": {"description": "x"}})),
        ),
        (
            "allOf with a type",
            base(json!({"type": "object", "allOf": [{"type": "object"}]})),
        ),
        (
            "allOf without a type",
            base(json!({"type": "object", "allOf": [{"required": ["a"]}]})),
        ),
        (
            "properties and additionalProperties",
            base(json!({"type": "object",
            "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}})),
        ),
        (
            "unknown schema field",
            base(json!({"type": "object",
            "properties": {"a": {"type": "string", "patern": "x"}}})),
        ),
        ("scop", scop),
    ]
}

/// The variants the API server (v1.36) accepted; it refused every other one.
const ACCEPTED: [&str; 4] = [
    "valid",
    "preserve unknown, no type",
    "int-or-string, no type",
    "allOf without a type",
];

#[test]
fn render_accepts_exactly_the_crds_the_api_server_accepted() {
    for (what, crd) in crd_variants("example.com") {
        let render = kubectl_hadr::render::check_output(&kubectl_hadr::yaml::to_canonical(&crd));
        assert_eq!(
            render.is_ok(),
            ACCEPTED.contains(&what),
            "{what}: {render:?}"
        );
    }
}

fn crd_api(client: kube::Client) -> Api<DynamicObject> {
    Api::all_with(
        client,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn the_api_server_refuses_exactly_the_crds_render_refuses() {
    let ns = TestNamespace::create("crd-checks", &["eastus2"]).await;
    let group = format!("{}.example.com", ns.name);
    let crds = crd_api(ns.client("eastus2"));
    // What kubectl sends: strict field validation (kube's default, Warn, drops unknown fields).
    let params = PatchParams::apply("kubectl-hadr-test")
        .dry_run()
        .validation_strict();
    for (what, crd) in crd_variants(&group) {
        let name = format!("widgets.{group}");
        let server = crds.patch(&name, &params, &Patch::Apply(&crd)).await;
        assert_eq!(
            server.is_ok(),
            ACCEPTED.contains(&what),
            "{what}: {server:?}"
        );
        let render = kubectl_hadr::render::check_output(&kubectl_hadr::yaml::to_canonical(&crd));
        assert_eq!(
            render.is_ok(),
            server.is_ok(),
            "{what}: render {:?}, server {server:?}",
            render.err()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn the_api_server_serves_exactly_the_custom_resources_render_accepts() {
    let ns = TestNamespace::create("crd-served", &["eastus2"]).await;
    let group = format!("{}.example.com", ns.name);
    let crds = crd_api(ns.client("eastus2"));
    let text = WIDGET_CRD.replace("example.com", &group);
    let crd: Value = kubectl_hadr::yaml::documents(&text).unwrap().remove(0);
    let definition: DynamicObject = serde_json::from_value(crd).unwrap();
    crds.create(&PostParams::default(), &definition)
        .await
        .unwrap();
    let params = &PatchParams::apply("kubectl-hadr-test")
        .dry_run()
        .validation_strict();
    let apply = |version: &str, kind: &str| {
        let api = Api::<DynamicObject>::namespaced_with(
            ns.client("eastus2"),
            &ns.name,
            &ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk(&group, version, kind),
                &format!("{}s", kind.to_lowercase()),
            ),
        );
        let object = json!({"apiVersion": format!("{group}/{version}"), "kind": kind,
            "metadata": {"name": "w"}, "spec": {"size": 3}});
        async move {
            api.patch("w", params, &Patch::Apply(&object))
                .await
                .map(|_| object)
        }
    };
    testenv::poll_until(
        "the CRD is served",
        std::time::Duration::from_secs(30),
        || apply("v1", "Widget"),
    )
    .await;
    for (version, kind) in [
        ("v1", "Widget"),
        ("v2", "Widget"),
        ("v3", "Widget"),
        ("v1", "Widgit"),
    ] {
        let server = apply(version, kind).await;
        assert_eq!(
            server.is_ok(),
            (version, kind) == ("v1", "Widget"),
            "{server:?}"
        );
        let object = json!({"apiVersion": format!("{group}/{version}"), "kind": kind,
            "metadata": {"name": "w"}, "spec": {"size": 3}});
        let render = kubectl_hadr::render::check_output(&format!(
            "{text}---\n{}",
            kubectl_hadr::yaml::to_canonical(&object)
        ));
        assert_eq!(
            render.is_ok(),
            server.is_ok(),
            "{version} {kind}: render {:?}, server {server:?}",
            render.err()
        );
    }
    crds.delete(&format!("widgets.{group}"), &Default::default())
        .await
        .unwrap();
}
