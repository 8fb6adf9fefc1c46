//! Least privilege: `rollout`, `backup`, a zone and a region `drill` as a ServiceAccount bound to exactly
//! the roles shipped in `deploy/rbac/`, applied by the real kubectl into the real API server's
//! RBAC authorizer; with one rule removed, each command names the missing permission and the
//! shipped role that grants it.
//!
//! The shipped ClusterRoles are cluster-wide and this test removes rules from them, so it runs
//! in a region of its own.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::diff::{edit_env, env_name, workspace};
use crate::support::snapshot::filters;
use crate::support::testenv::{self, TestNamespace};
use crate::support::workspace::Workspace;

const RBAC_REGION: &str = "southcentralus";
const ZONE: &str = "southcentralus-1";
/// The account and the environment namespace the shipped bindings name.
const ACCOUNT: (&str, &str) = ("hadr-system", "kubectl-hadr");
const SHIPPED_NAMESPACE: &str = "namespace: my-app\n";

fn kubectl(args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut cmd = Command::new(testenv::kubectl());
    cmd.arg(format!(
        "--kubeconfig={}",
        testenv::kubeconfig_path().display()
    ))
    .arg(format!("--context={RBAC_REGION}"))
    .args(args)
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("run kubectl");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn shipped(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/rbac")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Applies a shipped file as it is, but for the environment namespace (`my-app` in the
/// examples), which becomes the test's.
fn apply_shipped(file: &str, namespace: &str) {
    let text = shipped(file);
    assert!(text.contains(SHIPPED_NAMESPACE) || ["account.yaml", CLUSTER_WIDE].contains(&file));
    let text = text.replace(SHIPPED_NAMESPACE, &format!("namespace: {namespace}\n"));
    kubectl(&["apply", "-f", "-"], Some(&text));
}

/// A kubeconfig whose one context (named like the region) is the ServiceAccount, with a token
/// minted through the TokenRequest API (`kubectl create token`).
fn account_kubeconfig(dir: &Path) -> PathBuf {
    let token = kubectl(
        &[
            "-n",
            ACCOUNT.0,
            "create",
            "token",
            ACCOUNT.1,
            "--duration=1h",
        ],
        None,
    );
    let admin = kubectl(&["config", "view", "--raw", "--minify", "-o", "json"], None);
    let mut config: serde_json::Value = serde_json::from_str(&admin).unwrap();
    config["users"] = serde_json::json!([{"name": "ci", "user": {"token": token.trim()}}]);
    config["contexts"][0]["context"]["user"] = "ci".into();
    let path = dir.join("ci.kubeconfig");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// Removes rule INDEX of the shipped role KIND/NAME, as an admin would by mistake.
fn remove_rule(kind: &str, name: &str, namespace: Option<&str>, index: usize) {
    let mut args = vec!["patch", kind, name, "--type=json"];
    let patch = format!(r#"[{{"op":"remove","path":"/rules/{index}"}}]"#);
    args.extend(["-p", &patch]);
    if let Some(ns) = namespace {
        args.extend(["-n", ns]);
    }
    kubectl(&args, None);
}

fn hadr(ws: &Workspace, kubeconfig: &Path, verb: &str, args: &[&str]) -> std::process::Output {
    ws.hadr(&[verb, &env_name(ws)])
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .output()
        .unwrap()
}

fn rollout(ws: &Workspace, kubeconfig: &Path) -> std::process::Output {
    let args = ["--take-ownership", "--allow-violations", "--yes"];
    hadr(ws, kubeconfig, "rollout", &args)
}

fn backup(ws: &Workspace, kubeconfig: &Path) -> std::process::Output {
    hadr(
        ws,
        kubeconfig,
        "backup",
        &["--wait", "--yes", "--timeout", "120s"],
    )
}

fn drill(ws: &Workspace, kubeconfig: &Path) -> std::process::Output {
    let lose = format!("zone={ZONE}");
    hadr(
        ws,
        kubeconfig,
        "drill",
        &["--lose", &lose, "--yes", "--timeout", "90s"],
    )
}

/// Asserts the exit code; returns what the user saw (stdout, then stderr).
fn assert_code(what: &str, out: &std::process::Output, code: i32) -> String {
    let seen = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(code), "{what}\n{seen}");
    seen
}

/// The role a region drill needs besides drill.yaml: write access to the environment's kinds
/// in every namespace. It would grant what the other test removes rules for, so it is bound
/// only while the region drill test runs.
const CLUSTER_WIDE: &str = "drill-region.yaml";

/// Deletes the roles and bindings a shipped file creates (the cluster-scoped ones, and those in
/// the shipped namespace).
fn unapply(file: &str) {
    let args = ["delete", "-f", "-", "--ignore-not-found"];
    kubectl(&args, Some(&shipped(file)));
}

/// Unapplies a shipped file when dropped (even when the test fails).
struct Unapply(&'static str);

impl Drop for Unapply {
    fn drop(&mut self) {
        unapply(self.0);
    }
}

/// The tests here change the cluster-wide roles of RBAC_REGION: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn a_service_account_with_the_shipped_drill_roles_recovers_a_lost_region_into_its_own() {
    let _one = ONE_AT_A_TIME.lock().await;
    let _store = crate::backup::STORE.read().await;
    testenv::ensure_velero(&["eastus2", RBAC_REGION]);
    let ns = TestNamespace::create("rbac-region", &["eastus2", RBAC_REGION]).await;
    let ws = workspace(
        &ns.name,
        "  dr: {rpo: 24h, rto: 30m, backup: {schedule: '0 3 * * *', ttl: 720h}}\n",
    );
    edit_env(
        &ws,
        "{name: centralus, context: centralus}",
        &format!("{{name: {RBAC_REGION}, context: {RBAC_REGION}}}"),
    );
    ws.hadr(&["render"]).assert().success();
    ws.commit_rendered();
    // As an admin: the environment runs in both regions, and eastus2 has a backup that
    // RBAC_REGION's Velero lists (synced from the shared bucket).
    let admin = testenv::kubeconfig_path();
    let rolled = [
        "--take-ownership",
        "--allow-violations",
        "--yes",
        "--timeout",
        "90s",
    ];
    assert_code("rollout", &hadr(&ws, &admin, "rollout", &rolled), 0);
    let backed_up = hadr(
        &ws,
        &admin,
        "backup",
        &["--region", "eastus2", "--wait", "--yes", "-o", "json"],
    );
    assert_code("backup", &backed_up, 0);
    let report: serde_json::Value = serde_json::from_slice(&backed_up.stdout).unwrap();
    let name = report["regions"][0]["backup"].as_str().unwrap();
    let synced = crate::backup::velero_api(testenv::client(RBAC_REGION).await, "Backup", "backups");
    crate::backup::ended(&synced, name, std::time::Duration::from_secs(90)).await;

    // The drill itself as the account, whose kubeconfig knows only RBAC_REGION: nothing of
    // the lost region is contacted.
    // Exactly the drill roles: what the other test bound (deployer.yaml's cluster-wide
    // namespace patch, for one) must not stand in for a rule drill.yaml lacks.
    for file in ["deployer.yaml", "backup.yaml"] {
        unapply(file);
    }
    for file in ["account.yaml", "drill.yaml", CLUSTER_WIDE] {
        apply_shipped(file, &ns.name);
    }
    let _unbind = Unapply(CLUSTER_WIDE);
    let kubeconfig = account_kubeconfig(ws.root());
    let lose = ["--lose", "region=eastus2", "--restore-into", RBAC_REGION];
    let out = hadr(
        &ws,
        &kubeconfig,
        "drill",
        &[&lose[..], &["--yes", "--timeout", "120s", "-o", "json"]].concat(),
    );
    let seen = assert_code("region drill", &out, 0);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for r in report["recoveries"].as_array().unwrap() {
        assert!(r["error"].is_null(), "{seen}");
        assert_eq!(r["differences"], serde_json::json!([]), "{seen}");
    }
    assert_eq!(report["removed"], true, "{seen}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn a_service_account_with_the_shipped_roles_rolls_out_backs_up_and_drills_and_names_a_removed_rule()
 {
    let _one = ONE_AT_A_TIME.lock().await;
    testenv::ensure_velero(&[RBAC_REGION]);
    let ns = TestNamespace::create("rbac", &[RBAC_REGION]).await;
    let ws = workspace(
        &ns.name,
        "  dr: {rpo: 24h, backup: {schedule: '0 3 * * *', ttl: 720h}}\n",
    );
    edit_env(&ws, "    - {name: eastus2, context: eastus2}\n", "");
    edit_env(
        &ws,
        "{name: centralus, context: centralus}",
        &format!("{{name: {RBAC_REGION}, context: {RBAC_REGION}}}"),
    );
    ws.hadr(&["render"]).assert().success();
    let reapply = || {
        for file in ["account.yaml", "deployer.yaml", "backup.yaml", "drill.yaml"] {
            apply_shipped(file, &ns.name);
        }
    };
    reapply();
    let kubeconfig = account_kubeconfig(ws.root());
    let mut refusals = Vec::new();

    // Each command once without one rule of its role (each failing before it changed
    // anything), then with the shipped roles restored.
    remove_rule("clusterrole", "hadr-deployer", None, 2); // apps deployments
    refusals.push(assert_code(
        "rollout without deployments",
        &rollout(&ws, &kubeconfig),
        2,
    ));
    reapply();
    assert_code("rollout", &rollout(&ws, &kubeconfig), 0);

    remove_rule("role", "hadr-backup", Some("velero"), 1); // velero.io backups
    refusals.push(assert_code(
        "backup without backups",
        &backup(&ws, &kubeconfig),
        2,
    ));
    reapply();
    assert_code("backup", &backup(&ws, &kubeconfig), 0);

    remove_rule("clusterrole", "hadr-drill", None, 0); // nodes
    refusals.push(assert_code(
        "drill without nodes",
        &drill(&ws, &kubeconfig),
        2,
    ));
    reapply();
    let drilled = assert_code("drill", &drill(&ws, &kubeconfig), 0);
    // The drill followed the pods through a watch (the role's `watch` on pods), not sampling.
    assert!(!drilled.contains("availability sampled"), "{drilled}");
    // `--cleanup` lists nodes and namespaces (a killed region drill's copies).
    assert_code(
        "drill --cleanup",
        &hadr(&ws, &kubeconfig, "drill", &["--cleanup"]),
        0,
    );

    let mut settings = filters(&ns.name);
    // The Backup's name ends in the time it was asked for.
    settings.add_filter(r"-\d{14}\b", "-[TIME]");
    let _s = settings.bind_to_scope();
    insta::assert_snapshot!(refusals.join("-----\n"));
}
