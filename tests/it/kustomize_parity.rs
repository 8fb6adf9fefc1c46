//! kustomize v5.7.1 is the judge of content-hash names: the `kustomize-hash` oracle runs
//! kustomize's own generators (an in-memory `kustomize build`) and hasher, and every suffix we
//! compute must be the one it gives.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use serde_json::{Value, json};

use kubectl_hadr::render::hash::kustomize_suffix;

use crate::support::oracle::{Oracle, differential, text_of};
use crate::support::workspace::{Workspace, environment};

fn ask(oracle: &mut Oracle, request: &Value) -> Value {
    let answer = oracle.ask(request.to_string().as_bytes());
    if let Some(e) = answer.get("error") {
        panic!("kustomize refused {request}: {e}");
    }
    answer
}

/// kustomize's answer, or `None` where kustomize itself fails in a way it is known to: its
/// hasher reads the data back through go-yaml v3, which writes a value that starts with a tab
/// and spans lines as a literal block it then refuses to read (`kustomize build` fails on
/// such a file too), so there is no name to agree with.
fn ask_unless_kustomize_fails(oracle: &mut Oracle, request: &Value) -> Option<Value> {
    let answer = oracle.ask(request.to_string().as_bytes());
    match answer.get("error").and_then(Value::as_str) {
        None => Some(answer),
        Some(e) if e.contains("found a tab character where an indentation space is expected") => {
            None
        }
        Some(e) => panic!("kustomize refused {request}: {e}"),
    }
}

/// Pieces of values that JSON encoders disagree on: control characters (`\b`, `\f`, NUL, ESC),
/// DEL, HTML characters, U+2028/2029, non-ASCII, quotes and backslashes, line breaks.
const PIECES: &[&str] = &[
    "",
    " ",
    "a",
    "value",
    "\u{8}",
    "\u{c}",
    "\n",
    "\r",
    "\t",
    "\u{0}",
    "\u{1}",
    "\u{1b}",
    "\u{1f}",
    "\u{7f}",
    "\u{85}",
    "\u{a0}",
    "<",
    ">",
    "&",
    "<a href=\"x\">",
    "\u{2028}",
    "\u{2029}",
    "\u{feff}",
    "\u{e9}",
    "\u{2713}",
    "\u{1f600}",
    "\"",
    "\\",
    "/",
    "'",
    "#",
    ": ",
    "0",
    "true",
    "null",
    "  ",
];

fn value_text() -> impl Strategy<Value = String> {
    text_of(PIECES, 200)
}

/// ConfigMap and Secret keys (`[-._a-zA-Z0-9]+`) that kustomize can hash: it reads the data
/// back through YAML into a map of strings, so a key YAML reads as a number or bool (`0`,
/// `true`) makes kustomize itself fail ("json: unsupported type").
fn key() -> impl Strategy<Value = String> {
    "[a-zA-Z_][-._a-zA-Z0-9]{0,11}".prop_filter("a YAML bool or null", |k| {
        !["true", "false", "null", "y", "n", "yes", "no", "on", "off"]
            .contains(&k.to_ascii_lowercase().as_str())
    })
}

/// File contents: text, or bytes that are not UTF-8 (kustomize puts those in binaryData).
fn content() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => value_text().prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..120),
    ]
}

fn generator() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("ConfigMap"), Just("Secret")],
        prop_oneof![Just(""), Just("Opaque"), Just("example.com/x")],
        proptest::collection::btree_map(key(), content(), 0..6),
    )
        .prop_map(|(kind, ty, files)| {
            let files: Vec<Value> = files
                .into_iter()
                .map(|(k, c)| json!({"key": k, "base64": STANDARD.encode(c)}))
                .collect();
            let ty = if kind == "Secret" { ty } else { "" };
            json!({"build": {"kind": kind, "type": ty, "files": files}})
        })
}

/// Every ConfigMap and Secret a real `kustomize build` generates (data, binaryData, Secret
/// types, control characters, DEL, non-ASCII, empty values) has the name our suffix gives.
#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn our_suffix_is_kustomize_builds_for_every_generated_config_map_and_secret() {
    differential("kustomize-hash", 1500, generator(), |oracle, request| {
        let Some(built) = ask_unless_kustomize_fails(oracle, &request) else {
            return Ok(());
        };
        let object = &built["object"];
        let ours = kustomize_suffix(object).expect("a ConfigMap or Secret");
        let expected = format!("gen-{ours}");
        prop_assert_eq!(
            built["name"].as_str(),
            Some(expected.as_str()),
            "{}",
            object
        );
        Ok(())
    });
}

fn string_map() -> impl Strategy<Value = Value> {
    proptest::collection::btree_map(key(), value_text(), 0..5)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k, json!(v))).collect()))
}

/// ConfigMaps and Secrets as templates write them (any of data, binaryData, stringData, type).
fn object() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("ConfigMap"), Just("Secret")],
        proptest::option::of(string_map()),
        proptest::option::of(string_map()),
        proptest::option::of(prop_oneof![Just("Opaque"), Just("kubernetes.io/tls")]),
    )
        .prop_map(|(kind, data, extra, ty)| {
            let mut o = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": "x"}});
            if let Some(d) = data {
                o["data"] = d;
            }
            match (kind, extra) {
                ("ConfigMap", Some(b)) => o["binaryData"] = b,
                (_, Some(s)) => o["stringData"] = s,
                _ => {}
            }
            if let (Some(t), "Secret") = (ty, kind) {
                o["type"] = json!(t);
            }
            o
        })
}

/// kustomize's hasher agrees with ours on every ConfigMap and Secret a template can write.
#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn our_suffix_is_kustomize_hashers_for_generated_objects() {
    differential("kustomize-hash", 1500, object(), |oracle, object| {
        let request = json!({"hash": object});
        let Some(theirs) = ask_unless_kustomize_fails(oracle, &request) else {
            return Ok(());
        };
        let ours = kustomize_suffix(&object).expect("a ConfigMap or Secret");
        prop_assert_eq!(theirs["hash"].as_str(), Some(ours.as_str()), "{}", object);
        Ok(())
    });
}

/// Issue 13, item 10: `{PAGE_BREAK: "a\fb"}` is named `d586bdk8d5` by kustomize v5.7.1, and so
/// by `render`; kustomize's build of the same input says so too.
#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn a_form_feed_value_gets_kustomizes_suffix() {
    let built = ask(
        &mut Oracle::start("kustomize-hash"),
        &json!({"build": {"kind": "ConfigMap", "files": [{"key": "PAGE_BREAK", "base64": STANDARD.encode("a\u{c}b")}]}}),
    );
    assert_eq!(built["name"], json!("gen-d586bdk8d5"));
    let ws = Workspace::empty();
    ws.write(
        "environments/dev.yaml",
        environment("dev", "  config:\n    PAGE_BREAK: \"a\\fb\"\n"),
    );
    ws.hadr(&["render"]).assert().success();
    let files = ws.snapshot("rendered/dev/east");
    assert!(
        files.contains_key("core_configmap_web_web-config-d586bdk8d5.yaml"),
        "{:?}",
        files.keys()
    );
}

/// One object for each ConfigMap and Secret entry of kustomize v5.7.1's name-reference table,
/// each referring to `gen`. (Left out where we rewrite more than kustomize: a ServiceAccount's
/// `secrets`, ConfigMap references in a Knative Service, resourceNames of a rule that is not
/// about both configmaps and secrets.)
const REFERRERS: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    env:
    - {name: A, valueFrom: {configMapKeyRef: {name: gen, key: K}}}
    - {name: B, valueFrom: {secretKeyRef: {name: gen, key: K}}}
    envFrom: [{configMapRef: {name: gen}}, {secretRef: {name: gen}}]
  initContainers:
  - name: i
    env:
    - {name: A, valueFrom: {configMapKeyRef: {name: gen, key: K}}}
    - {name: B, valueFrom: {secretKeyRef: {name: gen, key: K}}}
    envFrom: [{configMapRef: {name: gen}}, {secretRef: {name: gen}}]
  volumes:
  - {name: a, configMap: {name: gen}}
  - {name: b, secret: {secretName: gen}}
  - {name: c, projected: {sources: [{configMap: {name: gen}}, {secret: {name: gen}}]}}
  imagePullSecrets: [{name: gen}]
---
apiVersion: v1
kind: PodTemplate
metadata: {name: pt}
template:
  spec:
    containers: [{name: c, envFrom: [{configMapRef: {name: gen}}, {secretRef: {name: gen}}]}]
    volumes: [{name: a, configMap: {name: gen}}, {name: b, secret: {secretName: gen}}]
    imagePullSecrets: [{name: gen}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c, image: x, envFrom: [{configMapRef: {name: gen}}, {secretRef: {name: gen}}]}]
      initContainers: [{name: i, image: x, env: [{name: A, valueFrom: {secretKeyRef: {name: gen, key: K}}}]}]
      volumes:
      - {name: a, configMap: {name: gen}}
      - {name: b, secret: {secretName: gen}}
      - {name: c, projected: {sources: [{configMap: {name: gen}}, {secret: {name: gen}}]}}
      imagePullSecrets: [{name: gen}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: s}
spec:
  selector: {matchLabels: {a: b}}
  template:
    spec:
      containers: [{name: c, env: [{name: A, valueFrom: {configMapKeyRef: {name: gen, key: K}}}]}]
      volumes: [{name: b, secret: {secretName: gen}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds}
spec:
  selector: {matchLabels: {a: b}}
  template:
    spec:
      containers: [{name: c, envFrom: [{secretRef: {name: gen}}]}]
      volumes: [{name: a, configMap: {name: gen}}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  selector: {matchLabels: {a: b}}
  template:
    spec:
      containers: [{name: c, envFrom: [{configMapRef: {name: gen}}]}]
      imagePullSecrets: [{name: gen}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec:
  template:
    spec:
      containers: [{name: c, envFrom: [{configMapRef: {name: gen}}, {secretRef: {name: gen}}]}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cj}
spec:
  schedule: "0 0 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: c, envFrom: [{configMapRef: {name: gen}}, {secretRef: {name: gen}}]}]
          initContainers: [{name: i, env: [{name: A, valueFrom: {configMapKeyRef: {name: gen, key: K}}}]}]
          volumes:
          - {name: a, configMap: {name: gen}}
          - {name: b, secret: {secretName: gen}}
          - {name: c, projected: {sources: [{configMap: {name: gen}}, {secret: {name: gen}}]}}
          imagePullSecrets: [{name: gen}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa}
imagePullSecrets: [{name: gen}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ing
  annotations:
    ingress.kubernetes.io/auth-secret: gen
    nginx.ingress.kubernetes.io/auth-secret: gen
    nginx.ingress.kubernetes.io/auth-tls-secret: gen
    nginx.ingress.kubernetes.io/fastcgi-params-configmap: gen
spec:
  tls: [{hosts: [a.example.com], secretName: gen}, {secretName: other}]
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: sc}
provisioner: example.com/x
parameters: {secretName: gen, adminSecretName: gen, userSecretName: gen, secretRef: gen}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteMany]
  azureFile: {secretName: gen, shareName: s}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r}
rules:
- {apiGroups: [""], resources: [configmaps, secrets], resourceNames: [gen, other], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cr}
rules:
- {apiGroups: [""], resources: [configmaps, secrets], resourceNames: [gen], verbs: [get]}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: kn}
spec:
  template:
    spec:
      containers: [{image: x, env: [{name: B, valueFrom: {secretKeyRef: {name: gen, key: K}}}]}]
"#;

/// Every string under `value` that names `gen` (old or new), with its path.
fn gen_names(value: &Value, path: String, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(m) => m
            .iter()
            .filter(|(k, _)| path.is_empty() || k.as_str() != "name" || !path.ends_with("metadata"))
            .for_each(|(k, v)| gen_names(v, format!("{path}.{k}"), out)),
        Value::Array(a) => {
            (a.iter().enumerate()).for_each(|(i, v)| gen_names(v, format!("{path}[{i}]"), out))
        }
        Value::String(s) if s == "gen" || s.starts_with("gen-") => out.push((path, s.clone())),
        _ => {}
    }
}

/// Issue 13, item 11, judged by kustomize: for each entry of its name-reference table,
/// `render` leaves the same name (old or new) in every field `kustomize build` does.
#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn references_are_rewritten_where_kustomize_rewrites_them() {
    let mut oracle = Oracle::start("kustomize-hash");
    let namespaced = |doc: &str| {
        let kind = doc
            .lines()
            .find_map(|l| l.strip_prefix("kind: "))
            .unwrap_or("");
        let cluster = ["StorageClass", "PersistentVolume", "ClusterRole"].contains(&kind);
        if cluster {
            doc.to_string()
        } else {
            doc.replacen("metadata: {name: ", "metadata: {namespace: web, name: ", 1)
                .replacen(
                    "metadata:\n  name:",
                    "metadata:\n  namespace: web\n  name:",
                    1,
                )
        }
    };
    let ours_yaml: Vec<String> = REFERRERS.split("---\n").map(namespaced).collect();
    for (kind, ours_generated) in [
        (
            "ConfigMap",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: gen, namespace: web}\ndata: {K: v}\n",
        ),
        (
            "Secret",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: gen, namespace: web, annotations: {hadr.dev/plaintext-secret: allow}}\ntype: Opaque\ndata: {K: dg==}\n",
        ),
    ] {
        let ty = if kind == "Secret" { "Opaque" } else { "" };
        let built = ask(
            &mut oracle,
            &json!({"build": {"kind": kind, "type": ty, "namespace": "web",
            "files": [{"key": "K", "base64": STANDARD.encode("v")}], "resources": REFERRERS}}),
        );
        let ws = Workspace::empty();
        ws.write(
            "environments/dev.yaml",
            environment("dev", "  namespace: web\n"),
        );
        ws.write(
            "templates/refs.yaml",
            format!("{ours_generated}---\n{}", ours_yaml.join("---\n")),
        );
        ws.hadr(&["render"]).assert().success();
        let files = ws.snapshot("rendered/dev/east");
        let mut compared = 0;
        let expected = format!("{}.yaml", built["name"].as_str().unwrap());
        assert!(
            files.keys().any(|f| f.ends_with(&expected)),
            "{kind}: {:?}",
            files.keys()
        );
        for theirs in built["objects"].as_array().unwrap() {
            let id = kubectl_hadr::render::manifest::ObjectId::of(theirs).unwrap();
            if id.name.starts_with("gen-") {
                continue;
            }
            let text = String::from_utf8(files[&id.file_name()].clone()).unwrap();
            let ours = &kubectl_hadr::yaml::documents(&text).unwrap()[0];
            let (mut a, mut b) = (Vec::new(), Vec::new());
            gen_names(ours, String::new(), &mut a);
            gen_names(theirs, String::new(), &mut b);
            assert_eq!(a, b, "{kind}: {id}\nours:\n{text}\nkustomize's: {theirs}");
            compared += b
                .iter()
                .filter(|(_, name)| name.starts_with("gen-"))
                .count();
        }
        assert!(
            compared >= 20,
            "{kind}: only {compared} references rewritten"
        );
    }
}
