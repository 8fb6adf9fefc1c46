//! `kubectl hadr backup` against the local control plane with Velero (`hadr-testenv up
//! --with-velero`): a real Velero server per region, all writing to one versitygw bucket.
//! kwok runs no kubelet, so no volume data is backed up here; resources are, for real.

use std::process::Command;
use std::time::Duration;

use kube::api::{Api, DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use predicates::str::contains;
use serde_json::{Value, json};

use crate::diff::{diff_cmd, edit_env, env_name, workspace};
use crate::support::testenv::{self, TestNamespace, poll_until};
use crate::support::workspace::Workspace;

/// The object store is shared: the test that stops it holds this for writing, the others for
/// reading, so none of them sees it stopped by another.
/// (Tokio's lock: each test has a runtime of its own, and the guard is held across awaits.)
pub(crate) static STORE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

const DR: &str = "  dr: {rpo: 24h, backup: {schedule: '0 3 * * *', ttl: 720h}}\n";

/// A workspace whose environment (named like the test's namespace) backs up daily, in
/// eastus2 only.
fn backed_up(namespace: &str) -> Workspace {
    let ws = workspace(namespace, DR);
    edit_env(&ws, "    - {name: centralus, context: centralus}\n", "");
    ws.hadr(&["render"]).assert().success();
    ws
}

fn hadr(ws: &Workspace, verb: &str, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = ws.hadr(&[verb, &env_name(ws)]);
    cmd.args(args)
        .arg("--kubeconfig")
        .arg(testenv::kubeconfig_path());
    cmd
}

fn rollout(ws: &Workspace) {
    // The test's Namespace was made by the harness, in no ApplySet: the environment adopts it.
    hadr(ws, "rollout", &["--take-ownership", "--allow-violations"])
        .args(["--timeout", "90s", "--yes"])
        .assert()
        .success();
}

/// `backup --wait` in eastus2, as JSON; asserts the exit code.
fn backup(ws: &Workspace, code: i32) -> Value {
    let out = hadr(ws, "backup", &["--region", "eastus2", "--wait", "--yes"])
        .args(["--timeout", "120s", "-o", "json"])
        .assert()
        .code(code);
    let report: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    report["regions"][0].clone()
}

pub(crate) fn velero_api(client: kube::Client, kind: &str, plural: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("velero.io", "v1", kind);
    Api::namespaced_with(
        client,
        "velero",
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    )
}

/// Waits until Velero ends the object (a Backup or Restore) and returns it.
pub(crate) async fn ended(api: &Api<DynamicObject>, name: &str, timeout: Duration) -> Value {
    poll_until(&format!("{name} ended by Velero"), timeout, || async {
        let found = api.get_opt(name).await.map_err(|e| e.to_string())?;
        let v = serde_json::to_value(found.ok_or("not there yet")?).unwrap();
        match v["status"]["phase"].as_str() {
            Some("Completed" | "PartiallyFailed" | "Failed" | "FailedValidation") => Ok(v),
            other => Err(format!("phase {other:?}")),
        }
    })
    .await
}

async fn create(api: &Api<DynamicObject>, object: Value) {
    let object: DynamicObject = serde_json::from_value(object).unwrap();
    api.create(&PostParams::default(), &object)
        .await
        .unwrap_or_else(|e| panic!("create {:?}: {e}", object.metadata.name));
}

/// The entries of a gzipped tarball in the bucket.
pub(crate) fn tar_entries(path: &std::path::Path) -> Vec<String> {
    let out = Command::new("tar").arg("tzf").arg(path).output().unwrap();
    assert!(out.status.success(), "tar tzf {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn rollout_then_backup_completes_and_its_tarball_is_in_the_shared_bucket() {
    let _store = STORE.read().await;
    testenv::ensure_velero(&["eastus2"]);
    let ns = TestNamespace::create("backup-basic", &["eastus2"]).await;
    let ws = backed_up(&ns.name);
    // Nothing to back up from before the Schedule is rolled out: said so, exit 2.
    hadr(&ws, "backup", &["--yes"])
        .assert()
        .code(2)
        .stdout(contains("is not in the cluster"));
    rollout(&ws);

    let dry = hadr(&ws, "backup", &["--dry-run", "-o", "json"])
        .assert()
        .success();
    let dry: Value = serde_json::from_slice(&dry.get_output().stdout).unwrap();
    let object = &dry["regions"][0]["object"];
    assert_eq!(
        object["spec"]["includedNamespaces"],
        json!([ns.name]),
        "{dry}"
    );
    assert_eq!(
        object["metadata"]["labels"]["velero.io/schedule-name"],
        json!(format!("web-{}", ns.name))
    );

    let r = backup(&ws, 0);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["phase"], "Completed", "{r}");
    assert_eq!(
        (r["errors"].as_u64(), r["warnings"].as_u64()),
        (Some(0), Some(0))
    );
    let name = r["backup"].as_str().unwrap().to_string();
    assert!(
        name.starts_with(&format!("web-{}-eastus2-", ns.name)),
        "{name}"
    );

    // The Backup inherited the Schedule's labels, the ApplySet's part-of included.
    let backups = velero_api(ns.client("eastus2"), "Backup", "backups");
    let live = serde_json::to_value(backups.get(&name).await.unwrap()).unwrap();
    let labels = &live["metadata"]["labels"];
    assert!(
        labels["applyset.kubernetes.io/part-of"].is_string(),
        "{labels}"
    );
    assert_eq!(labels["hadr.dev/environment"], json!(ns.name));

    // Velero wrote the tarball (and its metadata) to the shared bucket, on versitygw's disk.
    let dir = testenv::bucket_dir().join("backups").join(&name);
    let tarball = dir.join(format!("{name}.tar.gz"));
    let entries = tar_entries(&tarball);
    let deployment = format!("resources/deployments.apps/namespaces/{}/web.json", ns.name);
    assert!(
        entries.iter().any(|e| e.ends_with(&deployment)),
        "{deployment} not in {}: {entries:?}",
        tarball.display()
    );
    assert!(dir.join("velero-backup.json").is_file());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn backups_and_restores_carrying_our_labels_are_never_members_of_the_rendered_set() {
    let _store = STORE.read().await;
    testenv::ensure_velero(&["eastus2"]);
    let ns = TestNamespace::create("backup-not-member", &["eastus2"]).await;
    let ws = backed_up(&ns.name);
    ws.commit_rendered();
    rollout(&ws);
    let r = backup(&ws, 0);
    let name = r["backup"].as_str().unwrap().to_string();
    let backups = velero_api(ns.client("eastus2"), "Backup", "backups");
    let labels =
        serde_json::to_value(backups.get(&name).await.unwrap()).unwrap()["metadata"]["labels"]
            .clone();
    // A Restore with the very same labels (Velero does not copy them to restores; a person
    // or a tool could): it must be left alone too.
    let restores = velero_api(ns.client("eastus2"), "Restore", "restores");
    let restore = json!({
        "apiVersion": "velero.io/v1", "kind": "Restore",
        "metadata": {"name": format!("{name}-r"), "namespace": "velero", "labels": labels},
        "spec": {"backupName": "no-such-backup"},
    });
    create(&restores, restore).await;

    // diff: nothing to change, nothing to prune; status: no drift; rollout: prunes nothing.
    diff_cmd(&ws, &[]).assert().code(0);
    let status = hadr(&ws, "status", &["-o", "json"]).assert().success();
    let status: Value = serde_json::from_slice(&status.get_output().stdout).unwrap();
    assert_eq!(status["regions"][0]["drift"], "none", "{status}");
    let again = hadr(&ws, "rollout", &["--take-ownership", "--allow-violations"])
        .args(["--timeout", "90s", "--yes", "-o", "json"])
        .assert()
        .success();
    let again: Value = serde_json::from_slice(&again.get_output().stdout).unwrap();
    assert_eq!(again["regions"][0]["pruned"], json!([]), "{again}");
    assert!(backups.get_opt(&name).await.unwrap().is_some());
    assert!(
        restores
            .get_opt(&format!("{name}-r"))
            .await
            .unwrap()
            .is_some()
    );
}

/// Whether every field of `want` is in `got` with the same value (what the API server adds,
/// defaults and allocated fields such as a Service's clusterIP, is ignored).
fn subset(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => w
            .iter()
            .all(|(k, v)| g.get(k).is_some_and(|gv| subset(v, gv))),
        (Value::Array(w), Value::Array(g)) => {
            w.len() == g.len() && w.iter().zip(g).all(|(a, b)| subset(a, b))
        }
        _ => want == got,
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn a_backup_of_one_region_restored_into_another_recreates_the_environment() {
    let _store = STORE.read().await;
    testenv::ensure_velero(&["eastus2", "centralus"]);
    let ns = TestNamespace::create("backup-restore", &["eastus2"]).await;
    let ws = backed_up(&ns.name);
    rollout(&ws);
    let name = backup(&ws, 0)["backup"].as_str().unwrap().to_string();

    // centralus sees eastus2's backup through the shared bucket (Velero's backup sync).
    let b_client = testenv::client("centralus").await;
    let synced = velero_api(b_client.clone(), "Backup", "backups");
    ended(&synced, &name, Duration::from_secs(60)).await;
    let mapped = format!("{}-r", ns.name);
    let restores = velero_api(b_client.clone(), "Restore", "restores");
    let restore = json!({
        "apiVersion": "velero.io/v1", "kind": "Restore",
        "metadata": {"name": &mapped, "namespace": "velero"},
        "spec": {"backupName": &name, "namespaceMapping": {&ns.name: &mapped}},
    });
    create(&restores, restore).await;
    let _cleanup = DeleteNamespaceOnDrop("centralus", mapped.clone());
    let done = ended(&restores, &mapped, Duration::from_secs(120)).await;
    assert_eq!(done["status"]["phase"], "Completed", "{done}");

    // Every namespaced object of the revision eastus2 runs is in centralus's mapped
    // namespace with the same spec and data.
    use kubectl_hadr::cluster::{Cluster, load_kubeconfig};
    let kubeconfig = load_kubeconfig(Some(&testenv::kubeconfig_path())).unwrap();
    let cluster = Cluster::connect(&kubeconfig, "centralus", "centralus")
        .await
        .unwrap();
    let revision = kubectl_hadr::revision::Revision::read(
        &kubectl_hadr::revision::Source {
            root: ws.root(),
            out: &ws.root().join("rendered"),
            revision: None,
        },
        &env_name(&ws),
        "eastus2",
    )
    .unwrap();
    let mut compared = 0;
    for (id, rendered) in &revision.objects {
        if id.namespace.as_deref() != Some(ns.name.as_str()) {
            continue;
        }
        let mut there = id.clone();
        there.namespace = Some(mapped.clone());
        let live = cluster.get(&there).await.unwrap();
        let live = live.unwrap_or_else(|| panic!("{there} was not restored"));
        for field in ["spec", "data"] {
            assert!(
                subset(&rendered[field], &live[field]) || rendered[field].is_null(),
                "{there}: {field} differs:\nrendered {}\nrestored {}",
                rendered[field],
                live[field]
            );
        }
        compared += 1;
    }
    assert!(compared >= 3, "only {compared} objects compared");
}

/// Deletes a namespace Velero made (not the harness) when the test ends.
struct DeleteNamespaceOnDrop(&'static str, String);

impl Drop for DeleteNamespaceOnDrop {
    fn drop(&mut self) {
        let _ = Command::new(testenv::kubectl())
            .arg(format!(
                "--kubeconfig={}",
                testenv::kubeconfig_path().display()
            ))
            .arg(format!("--context={}", self.0))
            .args(["--request-timeout=10s", "delete", "namespace", &self.1])
            .args(["--wait=false", "--ignore-not-found"])
            .output();
    }
}

/// Starts the object store again (and waits for the locations to be Available) when the test
/// that stopped it ends, also when it fails.
struct RestartStore;

impl Drop for RestartStore {
    fn drop(&mut self) {
        testenv::hadr_testenv(&["up", "--with-velero", "--regions", "eastus2"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn with_the_object_store_stopped_the_backup_ends_unfinished_and_exits_1_without_hanging() {
    let _store = STORE.write().await;
    testenv::ensure_velero(&["eastus2"]);
    let ns = TestNamespace::create("backup-no-store", &["eastus2"]).await;
    let ws = backed_up(&ns.name);
    ws.commit_rendered();
    rollout(&ws);
    let _restart = RestartStore;
    testenv::hadr_testenv(&["down", "--component", "object-store"]);
    let started = std::time::Instant::now();
    let r = backup(&ws, 1);
    assert!(started.elapsed() < Duration::from_secs(110), "{r}");
    assert_ne!(r["phase"], "Completed", "{r}");
    assert!(
        ["failed", "timed-out"].contains(&r["status"].as_str().unwrap()),
        "{r}"
    );
    // status --check: the newest backup failed (or, still running, none ever completed).
    let started = std::time::Instant::now();
    let b = status_backups(&ws, true, 1);
    assert!(started.elapsed() < Duration::from_secs(30), "{b}");
    let alarm = if r["status"] == "failed" {
        "newest-backup-failed"
    } else {
        "no-completed-backup"
    };
    assert!(
        b["alarms"].as_array().unwrap().contains(&json!(alarm)),
        "{b}"
    );
    if r["status"] == "failed" {
        assert_eq!(b["last_failed"]["name"], r["backup"], "{b}");
        assert_eq!(b["last_failed"]["phase"], r["phase"], "{b}");
    }
}

/// `status` of the workspace's environment (eastus2 only), `--check` when asked, as JSON;
/// asserts the exit code and returns eastus2's `backups`.
fn status_backups(ws: &Workspace, check: bool, code: i32) -> Value {
    let mut args = vec!["-o", "json"];
    if check {
        args.push("--check");
    }
    let out = hadr(ws, "status", &args).assert().code(code);
    let report: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    report["regions"][0]["backups"].clone()
}

/// The text filters of `status`: times, ages, backup names (which carry the time).
fn status_filters(ns: &str) -> insta::Settings {
    let mut s = crate::support::snapshot::filters(ns);
    s.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]");
    s.add_filter(r"-eastus2-\d{14}", "-eastus2-[STAMP]");
    s.add_filter(r"\b(\d+[dhms])+ ago", "[AGE] ago");
    s.add_filter(r"RPO (\d+[dhms])+ of", "RPO [AGE] of");
    s.add_filter(r"\b[0-9a-f]{12}\b", "[SHORT]");
    s.add_filter(
        r"(?m)^(eastus2 +eastus2 +)\S+ +\S+ +\S+ +\S+",
        "$1[REVISION] [DIGEST] [TIME] [USER]",
    );
    s
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn status_shows_the_last_backup_s_age_as_the_achieved_rpo_and_check_fails_past_the_rpo() {
    let _store = STORE.read().await;
    testenv::ensure_velero(&["eastus2"]);
    let ns = TestNamespace::create("backup-rpo", &["eastus2"]).await;
    let ws = backed_up(&ns.name);
    // A one-minute RPO: the test waits it out instead of moving any clock.
    edit_env(&ws, "rpo: 24h", "rpo: 1m");
    ws.hadr(&["render"]).assert().success();
    ws.commit_rendered();
    rollout(&ws);
    let name = backup(&ws, 0)["backup"].as_str().unwrap().to_string();

    let b = status_backups(&ws, true, 0);
    assert_eq!(b["state"], "enabled", "{b}");
    assert_eq!(b["last_completed"]["name"], json!(name), "{b}");
    let age = b["achieved_rpo_seconds"].as_i64().unwrap();
    assert!((0..60).contains(&age), "{b}");
    assert_eq!(b["last_completed"]["age_seconds"], json!(age));
    assert_eq!(
        (b["rpo_seconds"].as_u64(), &b["verdict"]),
        (Some(60), &json!("met"))
    );
    assert_eq!(b["alarms"], json!([]), "{b}");
    // Velero's next run of `0 3 * * *`: 03:00 UTC after the last one, in the future.
    let next: jiff::Timestamp = b["next_due"].as_str().unwrap().parse().unwrap();
    assert!(next > jiff::Timestamp::now(), "{b}");
    assert_eq!(next.strftime("%H:%M:%S").to_string(), "03:00:00");

    // Past the RPO (the backup's start, as Velero recorded it, plus 60s) with no new backup.
    let started: jiff::Timestamp = b["last_completed"]["started"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let past = started.as_second() + 62 - jiff::Timestamp::now().as_second();
    tokio::time::sleep(Duration::from_secs(u64::try_from(past).unwrap_or(0))).await;
    let b = status_backups(&ws, false, 0);
    assert_eq!(b["verdict"], "missed", "{b}");
    assert!(b["achieved_rpo_seconds"].as_i64().unwrap() > 60, "{b}");
    let b = status_backups(&ws, true, 1);
    assert_eq!(b["alarms"], json!(["rpo-missed"]), "{b}");
    let _s = status_filters(&ns.name).bind_to_scope();
    let mut cmd = hadr(&ws, "status", &["--check"]);
    insta::assert_snapshot!(crate::support::snapshot::cli(&mut cmd));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn a_schedule_velero_refuses_is_reported_by_status_with_velero_s_message() {
    let _store = STORE.read().await;
    testenv::ensure_velero(&["eastus2"]);
    let ns = TestNamespace::create("backup-refused", &["eastus2"]).await;
    let ws = backed_up(&ns.name);
    // The environment says its regions run Velero 1.18.1, whose cron library (robfig) takes a
    // step as large as its range, so this renders; the region runs 1.18.3 (go-cron), which
    // refuses it, and the API server takes any string. (Velero checks nothing else of a
    // Schedule: a storage location that does not exist is only found when a backup runs.)
    edit_env(
        &ws,
        "schedule: '0 3 * * *', ttl: 720h}",
        "schedule: '*/60 * * * *', ttl: 720h, velero: '1.18.1'}",
    );
    ws.hadr(&["render"]).assert().success();
    ws.commit_rendered();
    rollout(&ws);
    let b = poll_until(
        "Velero to validate the Schedule",
        Duration::from_secs(60),
        || async {
            let b = status_backups(&ws, false, 0);
            match b["state"].as_str() {
                Some("new") => Err(format!("{b}")),
                _ => Ok(b),
            }
        },
    )
    .await;
    assert_eq!(b["state"], "failed-validation", "{b}");
    assert_eq!(b["phase"], "FailedValidation", "{b}");
    let errors = b["validation_errors"].to_string();
    assert!(errors.contains("invalid schedule"), "{b}");
    let b = status_backups(&ws, true, 1);
    assert_eq!(
        b["alarms"],
        json!(["schedule-failed-validation", "no-completed-backup"]),
        "{b}"
    );
    let _s = status_filters(&ns.name).bind_to_scope();
    let mut cmd = hadr(&ws, "status", &["--check"]);
    insta::assert_snapshot!(crate::support::snapshot::cli(&mut cmd));
}
