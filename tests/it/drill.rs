//! `kubectl hadr drill`: a zone lost on purpose on the real local control plane (kwok nodes,
//! the real scheduler, controllers and Eviction API). The tests cordon zones of
//! `DRILL_REGION`, a region no other test uses, one test at a time.

use std::time::Duration;
use tokio::sync::Mutex;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use serde_json::Value;

use crate::support::json_of;
use crate::support::testenv::{self, TestNamespace};
use crate::support::workspace::Workspace;

const DRILL_REGION: &str = "northeurope";
const ZONE: &str = "northeurope-2";

/// Drills of this module never overlap: they cordon zones of the same region.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// An environment in the drill region: REPLICAS spread over zones, HA as given.
fn workspace(ns: &str, replicas: u32, ha: &str) -> Workspace {
    let ws = Workspace::empty();
    ws.write(
        &format!("environments/{ns}.yaml"),
        format!(
            "apiVersion: hadr.dev/v1alpha1
kind: Environment
spec:
  namespace: {ns}
  app: {{name: web, image: 'registry.k8s.io/pause:3.10', replicas: {replicas}}}
  ha: {ha}
  regions:
    - {{name: {DRILL_REGION}, context: {DRILL_REGION}}}
"
        ),
    );
    ws.hadr(&["render", "--allow-violations"])
        .assert()
        .success();
    ws
}

fn hadr(ws: &Workspace, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = ws.hadr(args);
    cmd.arg("--kubeconfig").arg(testenv::kubeconfig_path());
    cmd
}

fn roll_out(ws: &Workspace, env: &str) {
    hadr(
        ws,
        &[
            "rollout",
            env,
            "--yes",
            "--take-ownership",
            "--allow-violations",
        ],
    )
    .args(["--timeout", "90s"])
    .assert()
    .success();
}

/// The drill's JSON report and its exit code.
fn drill(ws: &Workspace, env: &str, timeout: &str) -> (Option<i32>, Value) {
    drill_zone(ws, env, ZONE, timeout)
}

fn drill_zone(ws: &Workspace, env: &str, zone: &str, timeout: &str) -> (Option<i32>, Value) {
    json_of(
        hadr(
            ws,
            &["drill", env, "--lose", &format!("zone={zone}"), "--yes"],
        )
        .args(["--timeout", timeout, "-o", "json"]),
    )
}

/// The drill region's nodes that are cordoned or still marked by a drill.
async fn cordoned_nodes(ns: &TestNamespace) -> Vec<String> {
    let nodes: Api<Node> = Api::all(ns.client(DRILL_REGION));
    let list = nodes.list(&ListParams::default()).await.unwrap();
    list.items
        .into_iter()
        .filter(|n| {
            let cordoned = n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true);
            let marked = n
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key("hadr.dev/drill"));
            cordoned || marked
        })
        .filter_map(|n| n.metadata.name)
        .collect()
}

async fn lock() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn a_zone_drill_on_a_spread_environment_recovers_as_predicted_and_restores_the_nodes() {
    let _one = lock().await;
    let ns = TestNamespace::create("drill-good", &[DRILL_REGION]).await;
    let ha = "{spread: [zone], disruptionBudget: {maxUnavailable: 1}, survive: zone}";
    let ws = workspace(&ns.name, 3, ha);
    roll_out(&ws, &ns.name);
    let (code, report) = drill(&ws, &ns.name, "60s");
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["verdict"], "pass", "{report:#}");
    assert_eq!(report["restored"], true);
    let web = &report["workloads"][0];
    assert_eq!(web["observed_min"], web["predicted_min"], "{report:#}");
    assert!(web["recovered_after"].is_number(), "{report:#}");
    assert_eq!(report["placement"].get(ZONE), None, "{report:#}");
    assert!(cordoned_nodes(&ns).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn a_weak_environment_shows_its_outage_and_fails_as_validate_predicted() {
    let _one = lock().await;
    let ns = TestNamespace::create("drill-weak", &[DRILL_REGION]).await;
    // One replica, no spread: losing the zone it runs in is an outage.
    let ws = workspace(&ns.name, 1, "{disruptionBudget: {maxUnavailable: 1}}");
    roll_out(&ws, &ns.name);
    let pods: Api<k8s_openapi::api::core::v1::Pod> = ns.api(DRILL_REGION);
    let pod = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .remove(0);
    let node_name = pod.spec.unwrap().node_name.unwrap();
    let nodes: Api<Node> = Api::all(ns.client(DRILL_REGION));
    let node = nodes.get(&node_name).await.unwrap();
    let zone = node.metadata.labels.unwrap()["topology.kubernetes.io/zone"].clone();
    let validate = ws
        .hadr(&["validate", &ns.name, "--lose", &format!("zone={zone}")])
        .output()
        .unwrap();
    assert_eq!(
        validate.status.code(),
        Some(1),
        "validate predicted no outage"
    );
    let (code, report) = drill_zone(&ws, &ns.name, &zone, "20s");
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["workloads"][0]["observed_min"], 0, "{report:#}");
    let timeline = report["timeline"].as_array().unwrap();
    assert!(
        timeline.iter().any(|s| s["available"] == 0),
        "the outage is not in the timeline: {report:#}"
    );
    assert!(
        report["findings"][0]
            .as_str()
            .unwrap()
            .contains("fell to 0"),
        "{report:#}"
    );
    assert!(cordoned_nodes(&ns).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn an_eviction_a_pdb_forbids_is_reported_and_the_drill_still_ends_with_the_nodes_restored() {
    let _one = lock().await;
    let ns = TestNamespace::create("drill-pdb", &[DRILL_REGION]).await;
    let ha = "{spread: [zone], disruptionBudget: {minAvailable: 3}}";
    let ws = workspace(&ns.name, 3, ha);
    roll_out(&ws, &ns.name);
    let (code, report) = drill(&ws, &ns.name, "5s");
    assert_eq!(code, Some(1), "{report:#}");
    let refused = report["refused_evictions"].as_array().unwrap();
    assert!(!refused.is_empty(), "{report:#}");
    assert!(
        refused[0]["message"]
            .as_str()
            .unwrap()
            .contains("disruption budget"),
        "{report:#}"
    );
    assert_eq!(report["restored"], true);
    assert!(cordoned_nodes(&ns).await.is_empty());

    // Evidence that cannot be written (the report directory is a file) hides nothing: the
    // drill's report is still printed, with why, and the command exits 2.
    let file = ws.root().join("not-a-directory");
    std::fs::write(&file, "").unwrap();
    let out = hadr(
        &ws,
        &[
            "drill",
            &ns.name,
            "--lose",
            &format!("zone={ZONE}"),
            "--yes",
        ],
    )
    .args(["--timeout", "5s", "-o", "json", "--report"])
    .arg(&file)
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "fail", "{report:#}");
    assert!(report["evidence_error"].is_string(), "{report:#}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the drill ran, but its evidence was not kept")
            && stderr.contains("not-a-directory"),
        "{stderr}"
    );
    assert!(cordoned_nodes(&ns).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn a_terminated_drill_uncordons_and_a_killed_one_is_undone_by_cleanup() {
    let _one = lock().await;
    let ns = TestNamespace::create("drill-signal", &[DRILL_REGION]).await;
    // minAvailable 3 of 3: the drill waits for the refused evictions until its timeout.
    let ws = workspace(
        &ns.name,
        3,
        "{spread: [zone], disruptionBudget: {minAvailable: 3}}",
    );
    roll_out(&ws, &ns.name);
    for (signal, cleanup) in [("-TERM", false), ("-KILL", true)] {
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kubectl-hadr"))
            .arg("-C")
            .arg(ws.root())
            .args([
                "drill",
                &ns.name,
                "--lose",
                &format!("zone={ZONE}"),
                "--yes",
            ])
            .args(["--timeout", "120s", "--kubeconfig"])
            .arg(testenv::kubeconfig_path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        testenv::poll_until(
            "the drill cordoned the zone",
            Duration::from_secs(30),
            || {
                let ns = &ns;
                async move {
                    let c = cordoned_nodes(ns).await;
                    if c.len() == 2 {
                        Ok(())
                    } else {
                        Err(format!("{c:?}"))
                    }
                }
            },
        )
        .await;
        let pid = child.id().to_string();
        assert!(
            std::process::Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
        let out = child.wait_with_output().unwrap();
        if cleanup {
            assert_eq!(
                cordoned_nodes(&ns).await.len(),
                2,
                "SIGKILL left nothing to clean up"
            );
            hadr(&ws, &["drill", &ns.name, "--cleanup"])
                .assert()
                .success()
                .stdout(predicates::str::contains("uncordoned"));
        } else {
            assert!(
                out.status.code().is_some(),
                "SIGTERM killed it: {:?}",
                out.status
            );
        }
        assert!(
            cordoned_nodes(&ns).await.is_empty(),
            "{signal}: nodes left cordoned"
        );
    }
}
