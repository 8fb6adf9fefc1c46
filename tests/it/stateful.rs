//! A stateful environment on the real local control plane: a StorageClass that waits for the
//! first consumer, statically provisioned local PersistentVolumes pinned to their node's zone
//! (no provisioner needed), a 3-replica StatefulSet spread over the zones next to two
//! Deployments. Losing a zone (`drill --lose zone=`) brings the Deployments' pods back in the
//! other zones but leaves the StatefulSet pod of that zone Pending on its volume's node
//! affinity: per workload, what was observed is what `validate --lose zone=` predicted. A
//! Velero backup of it (`--with-velero`) holds the claims and the volumes bound to them.
//! The tests use `STATEFUL_REGION`, a region no other test uses.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};

use crate::support::json_of;
use crate::support::testenv::{self, TestNamespace, ZONE_LABEL, poll_until};
use crate::support::workspace::Workspace;

const STATEFUL_REGION: &str = "westcentralus";
const LOST_ZONE: &str = "westcentralus-1";
/// The tests of this module never overlap: one cordons a zone the other's pods need.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
/// The scheduler's words for a pod whose bound volume lives where it may not run
/// (VolumeBinding plugin, `ErrReasonNodeConflict`).
const VOLUME_AFFINITY_REASON: &str = "didn't match PersistentVolume's node affinity";

/// web (Deployment, 3), worker (Deployment, 2) and db (StatefulSet, 3, one volume each of
/// storage class CLASS, declared zonal and `WaitForFirstConsumer`), spread over zones and hosts.
/// DR adds lines to the spec (e.g. `dr:`).
fn workspace(ns: &str, class: &str, dr: &str) -> Workspace {
    let ws = Workspace::empty();
    ws.write(
        &format!("environments/{ns}.yaml"),
        format!(
            "apiVersion: hadr.dev/v1alpha1
kind: Environment
spec:
  namespace: {ns}
  workloads:
    web: {{image: 'registry.k8s.io/pause:3.10', replicas: 3, port: 8080}}
    worker: {{image: 'registry.k8s.io/pause:3.10', replicas: 2}}
    db:
      kind: StatefulSet
      image: 'registry.k8s.io/pause:3.10'
      replicas: 3
      port: 5432
      volumes:
        - {{name: data, size: 1Gi, storageClass: {class}, mountPath: /data}}
      podManagementPolicy: Parallel
  storageClasses:
    {class}: {{volumeBindingMode: WaitForFirstConsumer, topology: zonal}}
  ha:
    spread: [zone, hostname]
    antiAffinity: required
    disruptionBudget: {{maxUnavailable: 1}}
    survive: zone
{dr}  regions:
    - {{name: {STATEFUL_REGION}, context: {STATEFUL_REGION}}}
"
        ),
    );
    ws.hadr(&["render", "--allow-violations"])
        .assert()
        .success();
    ws
}

/// Cluster-scoped storage of one test: a StorageClass named after the test's namespace and
/// one local PersistentVolume per node, pinned to the node's zone; deleted when dropped.
struct Storage {
    class: String,
    volumes: Vec<String>,
    client: kube::Client,
}

impl Storage {
    async fn create(ns: &TestNamespace, region: &str) -> Storage {
        let client = ns.client(region);
        let class = ns.name.clone();
        let classes: Api<StorageClass> = Api::all(client.clone());
        let sc: StorageClass = serde_json::from_value(json!({
            "metadata": {"name": class},
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "WaitForFirstConsumer",
        }))
        .unwrap();
        classes.create(&PostParams::default(), &sc).await.unwrap();
        let mut storage = Storage {
            class,
            volumes: Vec::new(),
            client: client.clone(),
        };
        let pvs: Api<PersistentVolume> = Api::all(client.clone());
        let nodes: Api<Node> = Api::all(client);
        for node in nodes.list(&ListParams::default()).await.unwrap().items {
            let node_name = node.metadata.name.unwrap();
            let zone = node.metadata.labels.unwrap()[ZONE_LABEL].clone();
            let name = format!("{}-{node_name}", storage.class);
            let pv: PersistentVolume = serde_json::from_value(json!({
                "metadata": {"name": name},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": storage.class,
                    "local": {"path": "/mnt/data"},
                    "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                        {"key": ZONE_LABEL, "operator": "In", "values": [zone]}
                    ]}]}},
                },
            }))
            .unwrap();
            pvs.create(&PostParams::default(), &pv).await.unwrap();
            storage.volumes.push(name);
        }
        storage
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        // Best effort, from a thread of its own: Drop may run inside the test's runtime.
        let (client, class, volumes) = (
            self.client.clone(),
            self.class.clone(),
            self.volumes.clone(),
        );
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let dp = DeleteParams::default();
                let pvs: Api<PersistentVolume> = Api::all(client.clone());
                for v in &volumes {
                    let _ = pvs.delete(v, &dp).await;
                }
                let classes: Api<StorageClass> = Api::all(client);
                let _ = classes.delete(&class, &dp).await;
            });
        })
        .join();
    }
}

/// Rolls ENV out into the region and waits until its StatefulSet `db` is 3/3 ready.
async fn roll_out(ws: &Workspace, ns: &TestNamespace) {
    ws.hadr_on_testenv(&["rollout", &ns.name, "--yes", "--take-ownership"])
        .args(["--allow-violations", "--timeout", "120s"])
        .assert()
        .success();
    let sets: Api<StatefulSet> = ns.api(STATEFUL_REGION);
    poll_until("db 3/3 ready", Duration::from_secs(60), || async {
        let s = sets.get("db").await.map_err(|e| e.to_string())?;
        match s.status.and_then(|s| s.ready_replicas) {
            Some(3) => Ok(()),
            other => Err(format!("ready: {other:?}")),
        }
    })
    .await;
}

/// The entry of `what_if` (validate) or `workloads` (drill) for WORKLOAD (`Kind/name`; both
/// name it `Kind.group namespace/name`).
fn entry<'a>(list: &'a Value, workload: &str) -> &'a Value {
    let (kind, name) = workload.split_once('/').unwrap();
    let (kind, name) = (format!("{kind}."), format!("/{name}"));
    list.as_array()
        .unwrap()
        .iter()
        .find(|w| {
            w["workload"]
                .as_str()
                .is_some_and(|n| n.starts_with(&kind) && n.ends_with(&name))
        })
        .unwrap_or_else(|| panic!("no {workload} in {list:#}"))
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn losing_a_zone_leaves_the_pinned_statefulset_pod_pending_as_validate_predicted() {
    let _one = ONE_AT_A_TIME.lock().await;
    let ns = TestNamespace::create("stateful-zone", &[STATEFUL_REGION]).await;
    let storage = Storage::create(&ns, STATEFUL_REGION).await;
    let ws = workspace(&ns.name, &storage.class, "");
    let env = ns.name.as_str();
    roll_out(&ws, &ns).await;
    // Bound one claim per zone; the pod whose volume is in the lost zone is the pinned one.
    let claims: Api<PersistentVolumeClaim> = ns.api(STATEFUL_REGION);
    let pvs: Api<PersistentVolume> = Api::all(ns.client(STATEFUL_REGION));
    let mut zones = Vec::new();
    let mut pinned_pod = None;
    for claim in claims.list(&ListParams::default()).await.unwrap().items {
        let volume = claim.spec.unwrap().volume_name.expect("claim bound");
        let pv = serde_json::to_value(pvs.get(&volume).await.unwrap()).unwrap();
        let zone = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]
            ["matchExpressions"][0]["values"][0]
            .as_str()
            .unwrap()
            .to_string();
        if zone == LOST_ZONE {
            // Claims of a StatefulSet are named `<template>-<pod>`.
            let name = claim.metadata.name.unwrap();
            pinned_pod = Some(name.trim_start_matches("data-").to_string());
        }
        zones.push(zone);
    }
    zones.sort();
    assert_eq!(
        zones,
        ["westcentralus-1", "westcentralus-2", "westcentralus-3"]
    );
    let pinned_pod = pinned_pod.unwrap();

    let lose = format!("zone={LOST_ZONE}");
    let (_, predicted) = json_of(&mut ws.hadr(&["validate", env, "--lose", &lose, "-o", "json"]));
    let (code, drill) = json_of(&mut ws.hadr_on_testenv(&[
        "drill",
        env,
        "--lose",
        &lose,
        "--yes",
        "--timeout",
        "90s",
        "-o",
        "json",
    ]));
    let what_if = &predicted["what_if"];
    assert!(what_if.is_array(), "validate: {predicted:#}");
    assert!(drill["workloads"].is_array(), "drill: {drill:#}");
    for workload in ["Deployment/web", "Deployment/worker", "StatefulSet/db"] {
        let p = entry(what_if, workload);
        let o = entry(&drill["workloads"], workload);
        assert_eq!(o["pinned"], p["pinned"], "{workload}: {drill:#}");
        assert!(
            o["observed_min"].as_u64() >= p["left_min"].as_u64(),
            "{workload}: fell below the prediction {p:#}: {drill:#}"
        );
        assert!(
            p["recovered_min"].as_u64() <= o["observed_end"].as_u64()
                && o["observed_end"].as_u64() <= p["recovered_max"].as_u64(),
            "{workload}: ended outside the prediction {p:#}: {drill:#}"
        );
    }
    assert_eq!(entry(what_if, "StatefulSet/db")["recovered_max"], 2);
    assert_eq!(
        entry(&drill["workloads"], "Deployment/web")["observed_end"],
        3
    );
    assert_eq!(
        entry(&drill["workloads"], "Deployment/worker")["observed_end"],
        2
    );
    let pending = drill["pending"].as_array().unwrap();
    assert!(
        pending.iter().any(|p| p["pod"] == pinned_pod.as_str()
            && p["message"]
                .as_str()
                .is_some_and(|m| m.contains(VOLUME_AFFINITY_REASON))),
        "{pinned_pod} is not Pending on its volume's node affinity: {drill:#}"
    );
    assert!(
        pending.iter().all(|p| p["pod"] == pinned_pod.as_str()),
        "only the pinned pod stays Pending: {drill:#}"
    );
    assert_eq!(drill["findings"], json!([]), "{drill:#}");
    assert_eq!(drill["verdict"], "pass", "{drill:#}");
    assert_eq!(code, Some(0), "{drill:#}");
    assert_eq!(drill["restored"], true, "{drill:#}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn a_backup_of_the_stateful_environment_holds_its_claims_and_volumes() {
    let _one = ONE_AT_A_TIME.lock().await;
    let _store = crate::backup::STORE.read().await;
    testenv::ensure_velero(&[STATEFUL_REGION]);
    // The Schedule is named `<namespace>-<environment>`, both this name: kept within the 63
    // characters Velero's backup label allows (a longer one is refused by render).
    let ns = TestNamespace::create("sts-backup", &[STATEFUL_REGION]).await;
    let storage = Storage::create(&ns, STATEFUL_REGION).await;
    let dr = "  dr: {rpo: 24h, backup: {schedule: '0 3 * * *', ttl: 720h}}\n";
    let ws = workspace(&ns.name, &storage.class, dr);
    roll_out(&ws, &ns).await;
    let (code, report) = json_of(
        ws.hadr_on_testenv(&["backup", &ns.name, "--wait", "--yes"])
            .args(["--timeout", "120s", "-o", "json"]),
    );
    // The rendered Schedule asks for a file-system backup of every volume; kwok runs no
    // kubelet and so no Velero node agent: Velero takes the resources and fails exactly the
    // data of each db pod, which makes the backup PartiallyFailed (exit 1).
    let r = &report["regions"][0];
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(r["phase"], "PartiallyFailed", "{report:#}");
    assert_eq!(r["errors"], 3, "{report:#}");
    let name = r["backup"].as_str().unwrap();
    let dir = testenv::bucket_dir().join("backups").join(name);
    let results = gunzip(&dir.join(format!("{name}-results.gz")));
    let results: Value = serde_json::from_str(&results).unwrap();
    let errors = results["errors"]["velero"].as_array().unwrap();
    for pod in ["db-0", "db-1", "db-2"] {
        assert!(
            errors.iter().any(|e| e
                .as_str()
                .is_some_and(|e| e.contains(&format!("name: /{pod} "))
                    && e.contains("daemonset pod not found"))),
            "no fs-backup attempt of {pod}'s volume: {results:#}"
        );
    }

    // Velero took each claim and, with it, the cluster-scoped volume it is bound to.
    let claims: Api<PersistentVolumeClaim> = ns.api(STATEFUL_REGION);
    let mut expected = Vec::new();
    for claim in claims.list(&ListParams::default()).await.unwrap().items {
        let volume = claim.spec.unwrap().volume_name.expect("claim bound");
        let claim = claim.metadata.name.unwrap();
        expected.push(format!(
            "resources/persistentvolumeclaims/namespaces/{}/{claim}.json",
            ns.name
        ));
        expected.push(format!("resources/persistentvolumes/cluster/{volume}.json"));
    }
    assert_eq!(expected.len(), 6, "{expected:?}");
    let tarball = dir.join(format!("{name}.tar.gz"));
    let entries = crate::backup::tar_entries(&tarball);
    for path in &expected {
        assert!(
            entries.iter().any(|e| e.ends_with(path.as_str())),
            "{path} not in {}: {entries:?}",
            tarball.display()
        );
    }
}

/// The text of a gzipped file.
fn gunzip(path: &std::path::Path) -> String {
    let out = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "gzip -dc {}", path.display());
    String::from_utf8(out.stdout).unwrap()
}
