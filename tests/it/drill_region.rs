//! `kubectl hadr drill --lose region=eastus2 --restore-into centralus` against the local
//! regions with Velero: eastus2's backup, synced to centralus through the shared bucket, is
//! restored there, and the revision git holds for eastus2 is applied there, each into a drill
//! namespace; the live namespace in centralus and everything `status`/`diff` read is untouched.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams};
use serde_json::Value;

use crate::backup::{STORE, ended, velero_api};
use crate::diff::{edit_env, env_name, workspace};
use crate::support::json_of;
use crate::support::testenv::{self, TestNamespace};
use crate::support::workspace::Workspace;

const LOST: &str = "eastus2";
const INTO: &str = "centralus";
const DR: &str = "  dr: {rpo: 24h, rto: 30m, backup: {schedule: '0 3 * * *', ttl: 720h}}\n";

fn hadr(ws: &Workspace, verb: &str, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = ws.hadr(&[verb, &env_name(ws)]);
    cmd.args(args)
        .arg("--kubeconfig")
        .arg(testenv::kubeconfig_path());
    cmd
}

/// Rolled out in both regions from a committed revision, with a Completed backup of eastus2
/// that centralus's Velero already lists.
async fn deployed_and_backed_up(ns: &TestNamespace) -> Workspace {
    let ws = workspace(&ns.name, DR);
    ws.commit_rendered();
    hadr(&ws, "rollout", &["--take-ownership", "--allow-violations"])
        .args(["--timeout", "90s", "--yes"])
        .assert()
        .success();
    let out = hadr(&ws, "backup", &["--region", LOST, "--wait", "--yes"])
        .args(["--timeout", "120s", "-o", "json"])
        .assert()
        .success();
    let report: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let name = report["regions"][0]["backup"].as_str().unwrap().to_string();
    let synced = velero_api(testenv::client(INTO).await, "Backup", "backups");
    ended(&synced, &name, Duration::from_secs(90)).await;
    ws
}

/// The drill's JSON report and exit code.
fn drill(ws: &Workspace, extra: &[&str]) -> (Option<i32>, Value) {
    json_of(
        hadr(
            ws,
            "drill",
            &["--lose", &format!("region={LOST}"), "--restore-into", INTO],
        )
        .args(["--yes", "--timeout", "120s", "-o", "json"])
        .args(extra),
    )
}

/// Whether the namespace is gone or being deleted.
async fn removed(namespaces: &Api<Namespace>, name: &str) -> bool {
    namespaces
        .get_opt(name)
        .await
        .unwrap()
        .is_none_or(|n| n.metadata.deletion_timestamp.is_some())
}

/// The live namespace's objects with their resourceVersions: what "untouched" compares.
async fn live_versions(client: kube::Client, namespace: &str) -> Vec<(String, String)> {
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client, namespace);
    let mut out: Vec<(String, String)> = Vec::new();
    for m in maps.list(&ListParams::default()).await.unwrap().items {
        out.push((
            format!("cm/{}", m.metadata.name.unwrap()),
            m.metadata.resource_version.unwrap(),
        ));
    }
    for d in deployments
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
    {
        out.push((
            format!("deploy/{}", d.metadata.name.unwrap()),
            d.metadata.resource_version.unwrap(),
        ));
    }
    out.sort();
    out
}

/// The region drills here run one at a time: two at once into the same region were seen to
/// stall the second before it made its namespaces (2 of 4 runs; cause not found yet).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn a_region_drill_recovers_from_backup_and_from_git_and_leaves_the_live_namespace_alone() {
    let _one = ONE_AT_A_TIME.lock().await;
    let _store = STORE.read().await;
    testenv::ensure_velero(&[LOST, INTO]);
    let ns = TestNamespace::create("drill-region", &[LOST, INTO]).await;
    let ws = deployed_and_backed_up(&ns).await;
    let into = ns.client(INTO);
    let before = live_versions(into.clone(), &ns.name).await;

    let (code, report) = drill(&ws, &["--keep"]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["verdict"], "pass", "{report:#}");
    let recoveries = report["recoveries"].as_array().unwrap();
    assert_eq!(recoveries.len(), 2);
    for r in recoveries {
        assert!(r["rto_seconds"].as_f64().unwrap() > 0.0, "{r:#}");
        assert!(r["compared"].as_u64().unwrap() >= 4, "{r:#}");
        assert_eq!(r["differences"], serde_json::json!([]), "{r:#}");
        assert!(r["error"].is_null(), "{r:#}");
    }
    assert_eq!(
        live_versions(into.clone(), &ns.name).await,
        before,
        "live namespace touched"
    );
    assert_eq!(recoveries[0]["path"], "backup");
    assert!(recoveries[0]["rpo_seconds"].as_f64().unwrap() >= 0.0);
    assert!(recoveries[1]["rpo_seconds"].is_null());
    let objectives: Vec<&str> = report["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["objective"].as_str().unwrap())
        .collect();
    for kind in ["dr.rto", "dr.rpo", "ha.capacity", "pdb.minimum"] {
        assert!(objectives.contains(&kind), "{kind} missing: {report:#}");
    }

    // The kept copies are no deployment of the environment in centralus: no ApplySet parent
    // or record among them, no member label, and status/diff/rollout see nothing new.
    for r in recoveries {
        let copy = r["namespace"].as_str().unwrap();
        let maps: Api<ConfigMap> = Api::namespaced(into.clone(), copy);
        let found = maps.list(&ListParams::default()).await.unwrap().items;
        assert!(found.len() >= 2, "{copy}: {found:?}");
        for m in &found {
            let name = m.metadata.name.as_deref().unwrap();
            assert_ne!(name, format!("hadr-{}", env_name(&ws)), "{copy}");
            let labels = m.metadata.labels.clone().unwrap_or_default();
            assert!(
                !labels.contains_key("applyset.kubernetes.io/part-of"),
                "{copy}/{name}"
            );
        }
    }
    hadr(&ws, "diff", &["--region", INTO]).assert().code(0);
    let status = hadr(&ws, "status", &["-o", "json"]).assert().success();
    let status: Value = serde_json::from_slice(&status.get_output().stdout).unwrap();
    assert_eq!(status["regions"][1]["drift"], "none", "{status}");
    let again = hadr(&ws, "rollout", &["--region", INTO, "--allow-violations"])
        .args(["--timeout", "90s", "--yes", "-o", "json"])
        .assert()
        .success();
    let again: Value = serde_json::from_slice(&again.get_output().stdout).unwrap();
    assert_eq!(
        again["regions"][0]["pruned"],
        serde_json::json!([]),
        "{again}"
    );
    let namespaces: Api<Namespace> = Api::all(into.clone());
    for r in recoveries {
        let copy = r["namespace"].as_str().unwrap();
        assert!(!removed(&namespaces, copy).await, "{copy} was pruned");
    }

    // An objective the backup path cannot meet: exit 1; the namespaces are deleted.
    let before = live_versions(into.clone(), &ns.name).await;
    // With the evidence written and committed: exactly one commit, of the three files.
    edit_env(&ws, "rto: 30m", "rto: 1s");
    let repo = git2::Repository::open(ws.root()).unwrap();
    let head_before = repo.head().unwrap().peel_to_commit().unwrap().id();
    let out_dir = ws.root().join("drill-out");
    let (code, report) = drill(&ws, &["--report", out_dir.to_str().unwrap(), "--commit"]);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["verdict"], "fail");
    let missed: Vec<&Value> = report["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["met"] == false)
        .collect();
    // The Restore alone takes Velero more than a second; the git path may make it on kwok
    // (no images to pull), so only the backup path is sure to miss.
    assert!(
        missed
            .iter()
            .any(|o| o["objective"] == "dr.rto" && o["scope"] == "from backup"),
        "{report:#}"
    );
    assert!(
        missed
            .iter()
            .all(|o| o["objective"] == "dr.rto" && o["target_value"] == 1.0)
    );
    assert_eq!(report["removed"], true);
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    assert_eq!(
        head.parent_id(0).unwrap(),
        head_before,
        "not exactly one commit"
    );
    assert!(
        head.message().unwrap().contains(": failed\n"),
        "{:?}",
        head.message()
    );
    let dir = report["evidence"]["committed_to"].as_str().unwrap();
    assert!(
        dir.starts_with(&format!("drills/{}/", env_name(&ws))),
        "{dir}"
    );
    let files = head.tree().unwrap();
    for f in ["report.json", "report.md", "timeline.svg"] {
        files
            .get_path(&std::path::Path::new(dir).join(f))
            .unwrap_or_else(|_| panic!("{dir}/{f} not committed"));
    }
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["kind"], "DrillReport");
    assert_eq!(json["drill"], "region");
    assert_eq!(json["verdict"], "fail");
    assert_eq!(json["rto"].as_array().unwrap().len(), 2);
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.contains("| dr.rto | from backup | 1s |"), "{md}");
    let svg = std::fs::read_to_string(out_dir.join("timeline.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("RTO from git"),
        "{svg}"
    );
    for r in report["recoveries"].as_array().unwrap() {
        assert!(removed(&namespaces, r["namespace"].as_str().unwrap()).await);
    }
    for r in recoveries {
        // The kept copies of the first drill.
        let _ = namespaces
            .delete(r["namespace"].as_str().unwrap(), &Default::default())
            .await;
    }
    assert_eq!(live_versions(into, &ns.name).await, before);
}

/// The drill namespaces of NS in INTO that are there and not being deleted.
async fn drill_copies(namespaces: &Api<Namespace>, ns: &str) -> Vec<String> {
    let list = namespaces
        .list(&ListParams::default().labels("hadr.dev/drill"))
        .await
        .unwrap();
    list.items
        .into_iter()
        .filter(|n| n.metadata.deletion_timestamp.is_none())
        .filter_map(|n| n.metadata.name)
        .filter(|name| name.starts_with(&format!("{ns}-drill-")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn a_terminated_region_drill_removes_its_namespaces_and_a_killed_ones_are_removed_by_cleanup()
{
    let _one = ONE_AT_A_TIME.lock().await;
    let _store = STORE.read().await;
    testenv::ensure_velero(&[LOST, INTO]);
    let ns = TestNamespace::create("drill-region-signal", &[LOST, INTO]).await;
    let ws = deployed_and_backed_up(&ns).await;
    // HEAD now asks for more CPU than any node has: the git path's copy stays Pending, so the
    // drill is still waiting when the signal comes (kwok is too fast to catch it otherwise).
    edit_env(&ws, "replicas: 2}", "replicas: 2, resources: {cpu: '64'}}");
    ws.hadr(&["render", "--allow-violations"])
        .assert()
        .success();
    ws.commit_rendered();
    let namespaces: Api<Namespace> = Api::all(ns.client(INTO));
    for (signal, cleanup) in [("-TERM", false), ("-KILL", true)] {
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kubectl-hadr"))
            .arg("-C")
            .arg(ws.root())
            .args(["drill", &env_name(&ws), "--lose", &format!("region={LOST}")])
            .args(["--restore-into", INTO, "--yes", "--timeout", "120s"])
            .arg("--kubeconfig")
            .arg(testenv::kubeconfig_path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut child = child;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while drill_copies(&namespaces, &ns.name).await.len() < 2 {
            let ended = child.try_wait().unwrap();
            if ended.is_some() || std::time::Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "no two drill namespaces ({ended:?}): {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let pid = child.id().to_string();
        let killed = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().unwrap();
        if cleanup {
            assert_eq!(
                drill_copies(&namespaces, &ns.name).await.len(),
                2,
                "SIGKILL left nothing to clean up"
            );
            hadr(&ws, "drill", &["--cleanup", "--region", INTO])
                .assert()
                .success()
                .stdout(predicates::str::contains("deleted namespace"));
        } else {
            assert!(
                out.status.code().is_some(),
                "SIGTERM killed it: {:?} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(
            drill_copies(&namespaces, &ns.name).await,
            Vec::<String>::new(),
            "{signal}: drill namespaces left"
        );
    }
}
