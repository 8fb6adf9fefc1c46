//! `kubectl hadr diff` against the real local control plane.

use std::time::Duration;

use kubectl_hadr::cluster::{Cluster, load_kubeconfig};
use kubectl_hadr::render::manifest::ObjectId;
use predicates::str::contains;
use serde_json::json;

use crate::support::testenv::{self, TestNamespace, poll_until};
use crate::support::workspace::Workspace;

pub(crate) const REGIONS: [&str; 2] = ["eastus2", "centralus"];

/// An environment named like the test's namespace (so no other test's objects carry its
/// labels), one region per local control plane.
pub(crate) fn workspace(ns: &str, extra: &str) -> Workspace {
    let ws = Workspace::empty();
    ws.write(
        &format!("environments/{ns}.yaml"),
        format!(
            "apiVersion: hadr.dev/v1alpha1
kind: Environment
spec:
  namespace: {ns}
  app: {{name: web, image: 'registry.k8s.io/pause:3.10', replicas: 2}}
  ha: {{disruptionBudget: {{maxUnavailable: 1}}}}
  config: {{LOG_LEVEL: info}}
  regions:
    - {{name: eastus2, context: eastus2}}
    - {{name: centralus, context: centralus}}
{extra}"
        ),
    );
    ws.hadr(&["render"]).assert().success();
    ws
}

pub(crate) fn env_name(ws: &Workspace) -> String {
    let found = kubectl_hadr::environment::discover(&ws.root().join("environments")).unwrap();
    found[0].0.clone()
}

pub(crate) fn env_file(ws: &Workspace) -> String {
    format!("environments/{}.yaml", env_name(ws))
}

/// Replaces the first `from` in the environment file with `to` (which must be there).
pub(crate) fn edit_env(ws: &Workspace, from: &str, to: &str) {
    let text = ws.read(&env_file(ws));
    assert!(text.contains(from), "{from} not in the environment file");
    ws.write(&env_file(ws), text.replacen(from, to, 1));
}

pub(crate) fn diff_cmd(ws: &Workspace, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = ws.hadr(&["diff", &env_name(ws)]);
    // The test's Namespace was made by the harness, in no ApplySet: the environment adopts it.
    cmd.args(args)
        .arg("--take-ownership")
        .arg("--kubeconfig")
        .arg(testenv::kubeconfig_path());
    cmd
}

/// Applies a region's rendered objects (namespaces first) as `kubectl-hadr` would.
async fn apply_rendered(ws: &Workspace, region: &str) {
    // As `rollout` applies them: members of the environment's ApplySet (the test environments
    // are named like their namespace).
    let set_id = kubectl_hadr::cluster::applyset::applyset_id(&env_name(ws), &env_name(ws));
    testenv::apply_rendered(ws, &env_name(ws), region, Some(&set_id)).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn after_apply_the_diff_is_empty_and_one_change_shows_exactly_that_change() {
    let ns = TestNamespace::create("diff-change", &REGIONS).await;
    let ws = workspace(&ns.name, "");
    // Before anything is applied: everything is to be created, exit 1.
    diff_cmd(&ws, &[])
        .assert()
        .code(1)
        .stdout(contains("to create"));
    for r in REGIONS {
        apply_rendered(&ws, r).await;
    }
    diff_cmd(&ws, &[]).assert().code(0).stdout(contains(
        "total (working tree): 0 to create, 0 to change, 0 renamed, 0 to prune",
    ));

    // One value changes in one region.
    edit_env(
        &ws,
        "{name: centralus, context: centralus}",
        "{name: centralus, context: centralus, replicas: 3}",
    );
    ws.hadr(&["render"]).assert().success();
    let out = diff_cmd(&ws, &[])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    let changed: Vec<&str> = out
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(changed, vec!["-  replicas: 2", "+  replicas: 3"], "{out}");
    let _filters = crate::support::snapshot::filters(&ns.name).bind_to_scope();
    insta::assert_snapshot!(crate::support::snapshot::cli(&mut diff_cmd(&ws, &[])));
    assert!(
        out.contains(&format!("{}/centralus: change  Deployment.apps", ns.name)),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{}/eastus2 (eastus2): 0 to create, 0 to change",
            ns.name
        )),
        "{out}"
    );
    apply_rendered(&ws, "centralus").await;
    diff_cmd(&ws, &[]).assert().code(0);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn a_config_change_is_shown_as_a_rename_of_the_hashed_config_map() {
    let ns = TestNamespace::create("diff-rename", &REGIONS[..1]).await;
    let ws = workspace(&ns.name, "");
    apply_rendered(&ws, "eastus2").await;
    edit_env(&ws, "LOG_LEVEL: info", "LOG_LEVEL: debug");
    ws.hadr(&["render"]).assert().success();
    let out = diff_cmd(&ws, &["--region", "eastus2"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("rename  ConfigMap ") && out.contains("(from web-config-"),
        "{out}"
    );
    assert!(
        out.contains("-  LOG_LEVEL: info") && out.contains("+  LOG_LEVEL: debug"),
        "{out}"
    );
    assert!(out.contains("1 renamed, 0 to prune"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn secret_values_never_appear_in_text_or_json() {
    let ns = TestNamespace::create("diff-secret", &REGIONS[..1]).await;
    let ws = workspace(&ns.name, "");
    ws.write(
        "templates/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: {{ environment.namespace }}\n  annotations: {hadr.dev/plaintext-secret: allow, hadr.dev/hash-suffix: \"false\"}\nstringData: {password: hunter2-old}\n",
    );
    ws.hadr(&["render"]).assert().success();
    apply_rendered(&ws, "eastus2").await;
    ws.write(
        "templates/secret.yaml",
        ws.read("templates/secret.yaml")
            .replace("hunter2-old", "hunter2-new"),
    );
    ws.hadr(&["render"]).assert().success();
    for format in ["text", "json"] {
        let out = diff_cmd(&ws, &["--region", "eastus2", "-o", format])
            .assert()
            .code(1)
            .get_output()
            .stdout
            .clone();
        let out = String::from_utf8(out).unwrap();
        for secret in ["hunter2", "aHVudGVyMi"] {
            assert!(
                !out.contains(secret),
                "{format} output leaks `{secret}`:\n{out}"
            );
        }
        assert!(out.contains("*** (after)"), "{format}:\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn an_unreachable_region_is_reported_with_its_context_and_the_others_are_still_diffed() {
    let ns = TestNamespace::create("diff-unreachable", &REGIONS[..1]).await;
    let ws = workspace(&ns.name, "");
    apply_rendered(&ws, "eastus2").await;
    edit_env(&ws, "context: centralus", "context: no-such-context");
    diff_cmd(&ws, &[])
        .assert()
        .code(2)
        .stdout(contains(
            "region `centralus`: context `no-such-context` is not in the kubeconfig",
        ))
        .stdout(contains(format!(
            "{}/eastus2 (eastus2): 0 to create, 0 to change",
            ns.name
        )));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn crds_are_discovered_and_json_output_has_the_documented_shape() {
    let ns = TestNamespace::create("diff-crd", &REGIONS[..1]).await;
    install_velero_schedule_crd("eastus2").await;
    let ws = workspace(
        &ns.name,
        "  dr: {rpo: 24h, backup: {schedule: '0 */6 * * *', ttl: 720h}}\n",
    );
    let out = diff_cmd(&ws, &["--region", "eastus2", "-o", "json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["environment"], ns.name.as_str());
    assert_eq!(v["revision"], "working tree");
    let region = &v["regions"][0];
    assert_eq!(region["region"], "eastus2");
    assert_eq!(region["context"], "eastus2");
    let schedule = region["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"]["kind"] == "Schedule")
        .expect("the Velero Schedule is planned");
    assert_eq!(schedule["action"], "create");
    assert!(
        schedule["diff"]
            .as_str()
            .unwrap()
            .contains("+  schedule: 0 */6 * * *")
    );
    for key in ["create", "change", "rename", "prune", "unchanged"] {
        assert!(v["total"][key].is_u64(), "total.{key}");
    }
}

/// A minimal Velero Schedule CRD: enough for the API server to serve the kind.
async fn install_velero_schedule_crd(region: &str) {
    let kubeconfig = load_kubeconfig(Some(&testenv::kubeconfig_path())).unwrap();
    let cluster = Cluster::connect(&kubeconfig, region, region).await.unwrap();
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "schedules.velero.io"},
        "spec": {
            "group": "velero.io",
            "names": {"kind": "Schedule", "listKind": "ScheduleList", "plural": "schedules", "singular": "schedule"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}],
        },
    });
    let id = ObjectId::of(&crd).unwrap();
    cluster.apply(&id, &crd, true).await.unwrap();
    let client = testenv::client(region).await;
    poll_until(
        "the velero.io/v1 Schedule kind is served",
        Duration::from_secs(30),
        || {
            let client = client.clone();
            async move {
                let gvk = kube::core::GroupVersionKind::gvk("velero.io", "v1", "Schedule");
                kube::discovery::pinned_kind(&client, &gvk)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        },
    )
    .await;
    // The namespace `velero` the Schedule lives in.
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "velero"}});
    cluster
        .apply(&ObjectId::of(&ns).unwrap(), &ns, true)
        .await
        .unwrap();
}
