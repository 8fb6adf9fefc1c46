//! `kubectl hadr rollout` and `rollback` against the real local control plane.

use git2::Repository;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use kubectl_hadr::render::manifest::ObjectId;
use predicates::str::contains;
use serde_json::json;

use crate::diff::{REGIONS, diff_cmd, edit_env, env_name, workspace};
use crate::support::testenv::{self, TestNamespace};
use crate::support::workspace::Workspace;

fn hadr(ws: &Workspace, verb: &str, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = ws.hadr(&[verb, &env_name(ws)]);
    // The test's Namespace was made by the harness, in no ApplySet: the environment adopts it.
    cmd.args(args)
        .arg("--take-ownership")
        .arg("--kubeconfig")
        .arg(testenv::kubeconfig_path())
        .args(["--timeout", "90s", "--yes"]);
    cmd
}

/// A workspace whose environment has only the eastus2 region.
fn eastus2_only(namespace: &str) -> Workspace {
    let ws = workspace(namespace, "");
    edit_env(&ws, "    - {name: centralus, context: centralus}\n", "");
    ws
}

/// Sets the replicas of the Deployment `web` in eastus2 as another field manager would.
async fn scale_as(ns: &TestNamespace, manager: &str, replicas: u32) {
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> = ns.api("eastus2");
    let scale = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": replicas}});
    deployments
        .patch(
            "web",
            &PatchParams::apply(manager).force(),
            &Patch::Apply(&scale),
        )
        .await
        .unwrap();
}

fn git_repo(ws: &Workspace) -> Repository {
    let repo = Repository::init(ws.root()).unwrap();
    let mut cfg = repo.config().unwrap();
    cfg.set_str("user.name", "Test").unwrap();
    cfg.set_str("user.email", "test@example.com").unwrap();
    repo
}

fn edit(ws: &Workspace, from: &str, to: &str) {
    edit_env(ws, from, to);
    ws.hadr(&["render", "--commit", "--allow-violations"])
        .assert()
        .success();
}

fn head(repo: &Repository) -> String {
    repo.head().unwrap().target().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn rollout_then_diff_is_empty_and_a_change_rolls_out_cleanly() {
    let ns = TestNamespace::create("rollout-basic", &REGIONS).await;
    let ws = workspace(&ns.name, "");
    hadr(&ws, "rollout", &[])
        .assert()
        .success()
        .stdout(contains("eastus2 (eastus2): ok"));
    diff_cmd(&ws, &[]).assert().code(0);
    edit_env(&ws, "replicas: 2", "replicas: 3");
    ws.hadr(&["render"]).assert().success();
    diff_cmd(&ws, &[])
        .assert()
        .code(1)
        .stdout(contains("+    replicas: 3").or(contains("+  replicas: 3")));
    hadr(&ws, "rollout", &[]).assert().success();
    diff_cmd(&ws, &[]).assert().code(0);
    // The deployment record is in the cluster.
    let cms: kube::Api<ConfigMap> = ns.api("centralus");
    let parent = cms.get(&format!("hadr-{}", ns.name)).await.unwrap();
    let data = parent.data.unwrap();
    assert_eq!(data["revision"], "working-tree");
    assert!(data["digest"].starts_with("sha256:"));
    assert_eq!(data["health"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn a_no_op_rollout_sends_nothing_and_a_deleted_or_edited_object_is_applied_again() {
    let ns = TestNamespace::create("rollout-noop", &REGIONS[..1]).await;
    let ws = eastus2_only(&ns.name);
    let report = |out: &[u8]| -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_slice(out).unwrap();
        v["regions"][0].clone()
    };
    let first = hadr(&ws, "rollout", &["-o", "json"]).assert().success();
    let first = report(&first.get_output().stdout);
    // The Namespace was applied before the Lease was taken, so it is already unchanged.
    let total = first["applied"].as_u64().unwrap() + first["unchanged"].as_u64().unwrap();
    assert!(total > 3, "{first}");

    let again = hadr(&ws, "rollout", &["-o", "json"]).assert().success();
    let again = report(&again.get_output().stdout);
    assert_eq!(again["applied"], 0, "{again}");
    assert_eq!(again["unchanged"], total, "{again}");

    // Drift: the Service deleted, a label of the Deployment changed by another writer. Exactly
    // those two are applied again and the live state is back to the revision.
    let services: kube::Api<k8s_openapi::api::core::v1::Service> = ns.api("eastus2");
    services.delete("web", &Default::default()).await.unwrap();
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> = ns.api("eastus2");
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"hadr.dev/region": "elsewhere"}}})),
        )
        .await
        .unwrap();
    // The label is now another manager's: diff names the conflict, and shows the change
    // when told to take it over.
    diff_cmd(&ws, &[])
        .assert()
        .code(2)
        .stdout(contains("conflict"));
    diff_cmd(&ws, &["--force-conflicts"]).assert().code(1);
    let fix = hadr(&ws, "rollout", &["-o", "json", "--force-conflicts"])
        .assert()
        .success();
    let fix = report(&fix.get_output().stdout);
    assert_eq!(fix["applied"], 2, "{fix}");
    assert_eq!(fix["unchanged"], total - 2, "{fix}");
    assert!(services.get_opt("web").await.unwrap().is_some());
    diff_cmd(&ws, &[]).assert().code(0);
}

use predicates::prelude::PredicateBooleanExt;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn rollback_restores_pruned_objects_and_removes_added_ones() {
    let ns = TestNamespace::create("rollout-rollback", &REGIONS[..1]).await;
    let ws = eastus2_only(&ns.name);
    let repo = git_repo(&ws);
    ws.hadr(&["render", "--commit"]).assert().success();
    let first = head(&repo);
    hadr(&ws, "rollout", &[]).assert().success();
    // Revision 2: the PodDisruptionBudget goes, a new config key comes (a renamed ConfigMap).
    edit(&ws, "  ha: {disruptionBudget: {maxUnavailable: 1}}\n", "");
    edit(
        &ws,
        "config: {LOG_LEVEL: info}",
        "config: {LOG_LEVEL: info, EXTRA: x}",
    );
    // No PodDisruptionBudget is left in the revision at all: diff finds the live one through the
    // ApplySet inventory and lists it to prune.
    diff_cmd(&ws, &[]).assert().code(1).stdout(
        contains("prune   PodDisruptionBudget.policy")
            .or(contains("prune PodDisruptionBudget.policy")),
    );
    // validate flags the missing PDB; this test wants it gone.
    hadr(&ws, "rollout", &["--allow-violations"])
        .assert()
        .success()
        .stderr(contains("pruned"));
    let pdbs: kube::Api<k8s_openapi::api::policy::v1::PodDisruptionBudget> = ns.api("eastus2");
    assert!(
        pdbs.get_opt("web").await.unwrap().is_none(),
        "the PDB was not pruned"
    );

    hadr(&ws, "rollback", &["--to", &first]).assert().success();
    assert!(
        pdbs.get_opt("web").await.unwrap().is_some(),
        "the PDB was not restored"
    );
    diff_cmd(&ws, &["--revision", &first]).assert().code(0);

    // `previous` comes from the in-cluster record, not from the working tree.
    std::fs::remove_dir_all(ws.root().join("rendered")).unwrap();
    hadr(&ws, "rollback", &["--to", "previous"])
        .assert()
        .success();
    assert!(pdbs.get_opt("web").await.unwrap().is_none());
    diff_cmd(&ws, &["--revision", "HEAD"]).assert().code(0);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn a_region_that_cannot_become_ready_stops_the_wave_and_auto_rollback_restores_it() {
    let ns = TestNamespace::create("rollout-unhealthy", &REGIONS).await;
    let ws = workspace(&ns.name, "");
    let repo = git_repo(&ws);
    ws.hadr(&["render", "--commit"]).assert().success();
    let good = head(&repo);
    hadr(&ws, "rollout", &[]).assert().success();
    // A template change no node can satisfy.
    ws.write(
        "templates/deployment.yaml",
        kubectl_hadr::render::templates::TemplateSet::builtin().templates["deployment.yaml"]
            .source
            .replace(
                "      containers:\n",
                "      nodeSelector: {no-such-label: \"true\"}\n      containers:\n",
            ),
    );
    ws.hadr(&["render", "--commit"]).assert().success();
    let mut cmd = ws.hadr(&[
        "rollout",
        &ns.name,
        "--auto-rollback",
        "--yes",
        "--timeout",
        "20s",
    ]);
    cmd.arg("--kubeconfig").arg(testenv::kubeconfig_path());
    cmd.assert()
        .code(1)
        .stdout(contains("eastus2 (eastus2): rolled-back"))
        .stdout(contains("centralus (centralus): skipped"));
    diff_cmd(&ws, &["--region", "eastus2", "--revision", &good])
        .assert()
        .code(0);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn a_live_lease_blocks_a_second_rollout_and_names_the_holder() {
    let ns = TestNamespace::create("rollout-lease", &REGIONS[..1]).await;
    let ws = workspace(&ns.name, "");
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> = ns.api("eastus2");
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": format!("hadr-rollout-{}", ns.name)},
        "spec": {"holderIdentity": "alice@ci-runner pid 42", "leaseDurationSeconds": 600,
                 "renewTime": kubectl_hadr::cluster::lease::micro_time(k8s_openapi::jiff::Timestamp::now())},
    });
    leases
        .patch(
            &format!("hadr-rollout-{}", ns.name),
            &PatchParams::apply("test"),
            &Patch::Apply(&lease),
        )
        .await
        .unwrap();
    hadr(&ws, "rollout", &["--region", "eastus2"])
        .assert()
        .code(2)
        .stdout(contains(
            "another rollout holds the lease: alice@ci-runner pid 42",
        ));
    // An expired lease is taken over.
    let expired = json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": format!("hadr-rollout-{}", ns.name)},
        "spec": {"holderIdentity": "alice@ci-runner pid 42", "leaseDurationSeconds": 1,
                 "renewTime": "2020-01-01T00:00:00.000000Z"},
    });
    leases
        .patch(
            &format!("hadr-rollout-{}", ns.name),
            &PatchParams::apply("test").force(),
            &Patch::Apply(&expired),
        )
        .await
        .unwrap();
    hadr(&ws, "rollout", &["--region", "eastus2"])
        .assert()
        .success();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn a_field_owned_by_another_manager_is_a_conflict_until_forced() {
    let ns = TestNamespace::create("rollout-conflict", &REGIONS[..1]).await;
    let ws = workspace(&ns.name, "");
    hadr(&ws, "rollout", &["--region", "eastus2"])
        .assert()
        .success();
    scale_as(&ns, "ops-script", 5).await;
    hadr(&ws, "rollout", &["--region", "eastus2"])
        .assert()
        .code(2)
        .stdout(contains("field conflict"))
        .stdout(contains("ops-script"))
        .stdout(contains("--force-conflicts"));
    hadr(
        &ws,
        "rollout",
        &["--region", "eastus2", "--force-conflicts"],
    )
    .assert()
    .success();
    diff_cmd(&ws, &["--region", "eastus2"]).assert().code(0);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn status_shows_the_deployed_revision_and_drift_and_history_marks_it() {
    let ns = TestNamespace::create("rollout-status", &REGIONS[..1]).await;
    let ws = eastus2_only(&ns.name);
    let repo = git_repo(&ws);
    ws.hadr(&["render", "--commit"]).assert().success();
    let commit = head(&repo);
    hadr(&ws, "rollout", &[]).assert().success();
    let status = |ws: &Workspace| {
        let mut cmd = ws.hadr(&["status", &env_name(ws), "-o", "json"]);
        cmd.arg("--kubeconfig").arg(testenv::kubeconfig_path());
        cmd
    };
    let out = status(&ws).assert().code(0).get_output().stdout.clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let region = &v["regions"][0];
    assert_eq!(region["deployed"]["revision"], commit.as_str());
    assert_eq!(region["deployed"]["health"], "ok");
    assert_eq!(region["drift"], "none");
    // Someone scales by hand: drift.
    scale_as(&ns, "someone", 4).await;
    status(&ws)
        .assert()
        .code(1)
        .stdout(contains("\"drift\": \"drifted\""));
    let mut history = ws.hadr(&["history", &env_name(&ws)]);
    history.arg("--kubeconfig").arg(testenv::kubeconfig_path());
    history
        .assert()
        .success()
        .stdout(contains(format!(
            "{} render: {}  <- eastus2",
            &commit[..12],
            env_name(&ws)
        )))
        .stdout(contains("eastus2        sha256:"));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn a_rollout_killed_mid_way_and_run_again_converges_with_no_leaked_objects() {
    let ns = TestNamespace::create("rollout-sigkill", &REGIONS[..1]).await;
    let ws = eastus2_only(&ns.name);
    // Revision A: an extra ConfigMap, and a Deployment that never becomes ready, so the run is
    // still waiting for health when it is killed.
    ws.write(
        "templates/extra.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: {{ environment.namespace }}\n  annotations: {hadr.dev/hash-suffix: \"false\"}\ndata: {a: b}\n",
    );
    ws.write(
        "templates/deployment.yaml",
        kubectl_hadr::render::templates::TemplateSet::builtin().templates["deployment.yaml"]
            .source
            .replace(
                "      containers:\n",
                "      nodeSelector: {no-such-label: \"true\"}\n      containers:\n",
            ),
    );
    ws.hadr(&["render"]).assert().success();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kubectl-hadr"))
        .arg("-C")
        .arg(ws.root())
        // --allow-violations: the unhashed `extra` ConfigMap breaks HA010 on purpose.
        .args([
            "rollout",
            &ns.name,
            "--yes",
            "--take-ownership",
            "--allow-violations",
            "--timeout",
            "300s",
            "--kubeconfig",
        ])
        .arg(testenv::kubeconfig_path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let cms: kube::Api<ConfigMap> = ns.api("eastus2");
    testenv::poll_until(
        "the killed run applied its objects",
        std::time::Duration::from_secs(60),
        || {
            let cms = cms.clone();
            async move {
                match cms.get_opt("extra").await {
                    Ok(Some(_)) => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            }
        },
    )
    .await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // Revision B: no extra ConfigMap, the built-in Deployment.
    std::fs::remove_file(ws.root().join("templates/extra.yaml")).unwrap();
    std::fs::remove_file(ws.root().join("templates/deployment.yaml")).unwrap();
    ws.hadr(&["render"]).assert().success();
    // The dead run's lease blocks for at most its 30 s; then the rerun takes it over.
    let root = ws.root().to_path_buf();
    let env_name = ns.name.clone();
    testenv::poll_until(
        "a rerun after the dead run's lease expired",
        std::time::Duration::from_secs(120),
        || {
            let (root, env_name) = (root.clone(), env_name.clone());
            async move {
                let out = tokio::task::spawn_blocking(move || {
                    std::process::Command::new(assert_cmd::cargo::cargo_bin("kubectl-hadr"))
                        .arg("-C")
                        .arg(&root)
                        .args([
                            "rollout",
                            &env_name,
                            "--yes",
                            "--take-ownership",
                            "--timeout",
                            "90s",
                            "--kubeconfig",
                        ])
                        .arg(testenv::kubeconfig_path())
                        .output()
                        .unwrap()
                })
                .await
                .unwrap();
                let text = String::from_utf8_lossy(&out.stdout).to_string();
                if out.status.success() {
                    Ok(())
                } else {
                    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                    Err(text)
                }
            }
        },
    )
    .await;
    assert!(
        cms.get_opt("extra").await.unwrap().is_none(),
        "the killed run's extra ConfigMap leaked"
    );
    diff_cmd(&ws, &["--region", "eastus2"]).assert().code(0);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn the_first_rollout_creates_the_namespace_its_lease_and_record_live_in() {
    let ns = TestNamespace::create("rollout-fresh", &REGIONS[..1]).await;
    // The environment's namespace does not exist yet (only the test's does).
    let fresh = format!("{}-x", ns.name);
    let ws = eastus2_only(&fresh);
    ws.hadr(&["render"]).assert().success();
    let out = hadr(&ws, "rollout", &[]).assert().get_output().clone();
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(ns.client("eastus2"));
    let _ = namespaces.delete(&fresh, &Default::default()).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Every object of the test's namespace that a rollout could delete, as `Kind.group ns/name`
/// (the spelling of the plan's object ids).
async fn namespace_objects(ns: &TestNamespace) -> std::collections::BTreeSet<String> {
    use kube::api::{Api, DynamicObject, ListParams};
    use kube::discovery::ApiResource;
    let client = ns.client("eastus2");
    let mut found = std::collections::BTreeSet::new();
    for (group, version, kind, plural) in [
        ("", "v1", "ConfigMap", "configmaps"),
        ("", "v1", "Secret", "secrets"),
        ("", "v1", "Service", "services"),
        ("apps", "v1", "Deployment", "deployments"),
        (
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
        ),
        ("velero.io", "v1", "Schedule", "schedules"),
    ] {
        let gvk = kube::core::GroupVersionKind::gvk(group, version, kind);
        let ar = ApiResource::from_gvk_with_plural(&gvk, plural);
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns.name, &ar);
        let Ok(list) = api.list(&ListParams::default()).await else {
            continue; // a kind this region does not serve
        };
        let kind = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        for o in list.items {
            found.insert(format!("{kind} {}/{}", ns.name, o.metadata.name.unwrap()));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn the_dry_run_lists_exactly_the_objects_the_rollout_deletes_including_expired_config() {
    let ns = TestNamespace::create("rollout-honest", &REGIONS[..1]).await;
    let ws = eastus2_only(&ns.name);
    git_repo(&ws);
    ws.hadr(&["render", "--commit"]).assert().success();
    let keep = ["--keep", "1"];
    hadr(&ws, "rollout", &keep).assert().success();
    // Two config revisions later, the first hashed ConfigMap is beyond `--keep 1`; the PDB
    // leaves the set at the same time.
    edit(
        &ws,
        "config: {LOG_LEVEL: info}",
        "config: {LOG_LEVEL: debug}",
    );
    hadr(&ws, "rollout", &["--keep", "1", "--allow-violations"])
        .assert()
        .success();
    edit(
        &ws,
        "config: {LOG_LEVEL: debug}",
        "config: {LOG_LEVEL: warn}",
    );
    edit(&ws, "  ha: {disruptionBudget: {maxUnavailable: 1}}\n", "");

    let planned = hadr(&ws, "rollout", &["--keep", "1", "--dry-run", "-o", "json"])
        .assert()
        .code(1);
    let planned: serde_json::Value = serde_json::from_slice(&planned.get_output().stdout).unwrap();
    let deletions: std::collections::BTreeSet<String> = planned["regions"][0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| matches!(o["action"].as_str(), Some("prune" | "expire")))
        .map(|o| {
            let id: ObjectId = serde_json::from_value(o["id"].clone()).unwrap();
            id.to_string()
        })
        .collect();
    let actions: Vec<&str> = planned["regions"][0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["action"].as_str())
        .collect();
    assert!(actions.contains(&"expire"), "{planned}");
    assert!(actions.contains(&"prune"), "{planned}");

    let before = namespace_objects(&ns).await;
    let done = hadr(
        &ws,
        "rollout",
        &["--keep", "1", "--allow-violations", "-o", "json"],
    )
    .assert()
    .success();
    let after = namespace_objects(&ns).await;
    let gone: std::collections::BTreeSet<String> = before.difference(&after).cloned().collect();
    assert_eq!(deletions, gone, "planned deletions vs objects gone");
    // The report names them too.
    let done: serde_json::Value = serde_json::from_slice(&done.get_output().stdout).unwrap();
    let reported: std::collections::BTreeSet<String> = done["regions"][0]["pruned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(reported, gone);
    diff_cmd(&ws, &["--keep", "1"]).assert().code(0);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn a_revision_that_cannot_be_planned_changes_nothing_not_even_the_namespace() {
    let ns = TestNamespace::create("rollout-unplanned", &REGIONS[..1]).await;
    // The environment's namespace does not exist yet, and the revision holds a kind that no
    // CRD serves: the rollout must not create the namespace and then fail.
    let fresh = format!("{}-y", ns.name);
    let ws = eastus2_only(&fresh);
    ws.write(
        "templates/widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: {{ environment.namespace | tojson }}\n  labels: {{ labels | tojson }}\n",
    );
    ws.hadr(&["render"]).assert().success();
    let out = hadr(&ws, "rollout", &["-o", "json"])
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let region = &report["regions"][0];
    assert_eq!(region["status"], "error", "{report}");
    assert!(
        region["message"]
            .as_str()
            .unwrap()
            .contains("does not serve"),
        "{report}"
    );
    assert_eq!(region["changes"], json!([]), "{report}");
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(ns.client("eastus2"));
    assert!(
        namespaces.get_opt(&fresh).await.unwrap().is_none(),
        "the namespace was created by a rollout that could not be planned"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn an_interrupted_rollout_releases_its_lease_and_reports_what_it_changed() {
    let ns = TestNamespace::create("rollout-sigint", &REGIONS[..1]).await;
    let ws = eastus2_only(&ns.name);
    // A Deployment that never becomes ready: the run is waiting for health when interrupted.
    ws.write(
        "templates/deployment.yaml",
        kubectl_hadr::render::templates::TemplateSet::builtin().templates["deployment.yaml"]
            .source
            .replace(
                "      containers:\n",
                "      nodeSelector: {no-such-label: \"true\"}\n      containers:\n",
            ),
    );
    ws.hadr(&["render"]).assert().success();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kubectl-hadr"))
        .arg("-C")
        .arg(ws.root())
        .args([
            "rollout",
            &ns.name,
            "--yes",
            "--take-ownership",
            "--timeout",
            "300s",
        ])
        .args(["--auto-rollback", "-o", "json", "--kubeconfig"])
        .arg(testenv::kubeconfig_path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> = ns.api("eastus2");
    testenv::poll_until(
        "the run applied its Deployment",
        std::time::Duration::from_secs(60),
        || {
            let deployments = deployments.clone();
            async move {
                match deployments.get_opt("web").await {
                    Ok(Some(_)) => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            }
        },
    )
    .await;
    let interrupted = std::time::Instant::now();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        interrupted.elapsed() < std::time::Duration::from_secs(10),
        "took {:?} to stop",
        interrupted.elapsed()
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let region = &report["regions"][0];
    // The signal lands while the health wait runs (`failed`), or, on a slow machine, while
    // the last objects are still being applied (`error`: not carried out); both stop at once.
    assert!(
        region["status"] == "failed" || region["status"] == "error",
        "{report}"
    );
    assert!(
        region["message"].as_str().unwrap().contains("interrupted"),
        "{report}"
    );
    let changed: Vec<&str> = region["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["object"].as_str())
        .collect();
    assert!(changed.iter().any(|o| o.contains("Deployment")), "{report}");
    // The Lease is free at once: the next rollout does not wait for it to expire.
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> = ns.api("eastus2");
    let lease = leases
        .get(&format!("hadr-rollout-{}", ns.name))
        .await
        .unwrap();
    assert_eq!(lease.spec.unwrap().holder_identity, None);
}
