//! `kubectl hadr validate` predictions checked against a real zone loss on the local control
//! plane: the environment is rendered, its what-if prediction taken, the rendered objects
//! applied, and then one zone of the region is lost (its kwok stopped, so its nodes turn
//! NotReady and the node lifecycle controller marks their pods not Ready).
//!
//! Both tests lose a zone of `POLICY_ZONE_LOSS_REGION`, a region no other test uses; they take
//! turns (a lock held for the whole test) so each sees only its own outage.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::ListParams;
use serde_json::Value;

use crate::support::testenv::{
    self, NODES_PER_ZONE, REGION_LABEL, TestNamespace, ZONE_LABEL, ZONES_PER_REGION, poll_until,
};
use crate::support::workspace::Workspace;

/// The region whose zones these tests lose (dedicated to this module).
const REGION: &str = "uksouth";
const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(120);
const NODE_TIMEOUT: Duration = Duration::from_secs(90);
/// The pods' selector as rendered (`app.name: web`).
const APP_SELECTOR: &str = "app.kubernetes.io/name=web";

/// Runs BODY on a runtime of its own while holding the region's lock: the two tests of this
/// module lose zones of the same region, never at the same time.
fn one_outage_at_a_time(body: impl Future<Output = ()>) {
    static REGION_LOCK: Mutex<()> = Mutex::new(());
    let _turn = REGION_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(body);
}

/// Restarts the region's stopped kwok (its zone's nodes turn Ready again) when dropped, also
/// when the test panics.
struct RestoreZone;

impl Drop for RestoreZone {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Never panic while unwinding; the next `up` restarts it as well.
            if let Err(e) = testenv::try_hadr_testenv(&["up", "--regions", REGION]) {
                eprintln!("restoring {REGION} after a failed test: {e}");
            }
        } else {
            testenv::restart_region(REGION);
        }
    }
}

/// A workspace with one environment named like the test namespace (so no other test's objects
/// carry its labels), its single region the dedicated one; rendered.
fn workspace(ns: &str, app: &str, ha: &str) -> Workspace {
    let ws = Workspace::empty();
    ws.write(
        &format!("environments/{ns}.yaml"),
        format!(
            "apiVersion: hadr.dev/v1alpha1
kind: Environment
spec:
  namespace: {ns}
  app: {{name: web, image: 'registry.k8s.io/pause:3.10', {app}}}
  ha: {{{ha}}}
  regions:
    - {{name: {REGION}, context: {REGION}}}
"
        ),
    );
    ws.hadr(&["render"]).assert().success();
    ws
}

/// `kubectl hadr validate ENV ARGS -o json`: exit code and parsed output.
fn validate(ws: &Workspace, env: &str, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["validate", env];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    let out = ws.hadr(&all).output().expect("run kubectl-hadr validate");
    let code = out.status.code().expect("exit code");
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "validate {args:?}: not JSON ({e}), exit {code}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, json)
}

/// The what-if line of the environment's one workload after losing ZONE.
struct Prediction {
    left_min: usize,
    left_max: usize,
    pdb_minimum: Option<usize>,
    holds: bool,
}

fn predict_zone_loss(ws: &Workspace, env: &str, zone: &str) -> Prediction {
    let (_, out) = validate(ws, env, &["--lose", &format!("zone={zone}")]);
    let lines = out["what_if"].as_array().expect("what_if lines");
    assert_eq!(lines.len(), 1, "one workload in one region: {out:#}");
    let line = &lines[0];
    assert_eq!(line["region"], REGION, "{out:#}");
    assert_eq!(
        line["workload"],
        format!("Deployment.apps {env}/web"),
        "{out:#}"
    );
    let count = |key: &str| {
        line[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} in {line:#}")) as usize
    };
    Prediction {
        left_min: count("left_min"),
        left_max: count("left_max"),
        pdb_minimum: line["pdb_minimum"].as_u64().map(|n| n as usize),
        holds: line["holds"].as_bool().expect("holds"),
    }
}

fn node_ready(n: &Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn node_of(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default()
}

/// One line per pod, for failure messages.
fn describe(pods: &[Pod], zones: &BTreeMap<String, String>) -> Vec<String> {
    pods.iter()
        .map(|p| {
            let node = node_of(p);
            format!(
                "{} node={node} zone={} phase={} ready={} terminating={}",
                p.metadata.name.clone().unwrap_or_default(),
                zones.get(&node).map_or("-", String::as_str),
                p.status
                    .as_ref()
                    .and_then(|s| s.phase.clone())
                    .unwrap_or_default(),
                pod_ready(p),
                p.metadata.deletion_timestamp.is_some(),
            )
        })
        .collect()
}

async fn list_pods(pods: &Api<Pod>) -> Result<Vec<Pod>, String> {
    pods.list(&ListParams::default().labels(APP_SELECTOR))
        .await
        .map(|l| l.items)
        .map_err(|e| e.to_string())
}

/// node name -> zone, once every node of the region is Ready and untainted (a previous run
/// may have lost a zone).
async fn healthy_nodes(nodes: &Api<Node>) -> BTreeMap<String, String> {
    poll_until(
        &format!("all nodes of {REGION} Ready without taints"),
        NODE_TIMEOUT,
        || async {
            let list = nodes
                .list(&ListParams::default().labels(&format!("{REGION_LABEL}={REGION}")))
                .await
                .map_err(|e| vec![e.to_string()])?;
            let unhealthy: Vec<String> = list
                .items
                .iter()
                .filter(|n| {
                    let tainted = n
                        .spec
                        .as_ref()
                        .and_then(|s| s.taints.as_ref())
                        .is_some_and(|t| !t.is_empty());
                    !node_ready(n) || tainted
                })
                .map(|n| n.metadata.name.clone().unwrap_or_default())
                .collect();
            if list.items.len() == ZONES_PER_REGION * NODES_PER_ZONE && unhealthy.is_empty() {
                Ok(list
                    .items
                    .into_iter()
                    .map(|n| {
                        let zone = n
                            .metadata
                            .labels
                            .as_ref()
                            .and_then(|l| l.get(ZONE_LABEL).cloned())
                            .unwrap_or_default();
                        (n.metadata.name.unwrap_or_default(), zone)
                    })
                    .collect())
            } else {
                Err(unhealthy)
            }
        },
    )
    .await
}

/// Waits until all REPLICAS pods are Ready (none terminating) and returns them.
async fn all_ready(pods: &Api<Pod>, replicas: usize, zones: &BTreeMap<String, String>) -> Vec<Pod> {
    poll_until(
        &format!(
            "{REGION}: {replicas} pods Ready (component logs: {})",
            testenv::logs_dir(REGION).display()
        ),
        ROLLOUT_TIMEOUT,
        || async {
            let all = list_pods(pods).await.map_err(|e| vec![e])?;
            let ready = all
                .iter()
                .filter(|p| pod_ready(p) && p.metadata.deletion_timestamp.is_none())
                .count();
            if all.len() == replicas && ready == replicas {
                Ok(all)
            } else {
                Err(describe(&all, zones))
            }
        },
    )
    .await
}

/// Loses ZONE: stops the kwok standing in for its kubelets (`kwok-<n>` for zone
/// `<region>-<n>`), then waits until its nodes are NotReady and the node lifecycle controller
/// has marked the pods on them not Ready. Returns the pods right after that, before any
/// eviction (the pods tolerate unreachable nodes for the default 300 s) changes the picture.
async fn lose_zone(
    zone: &str,
    nodes: &Api<Node>,
    pods: &Api<Pod>,
    zones: &BTreeMap<String, String>,
) -> Vec<Pod> {
    let n = zone
        .strip_prefix(&format!("{REGION}-"))
        .unwrap_or_else(|| panic!("zone {zone} is not one of {REGION}'s"));
    let lost_nodes: BTreeSet<&String> = zones
        .iter()
        .filter(|(_, z)| *z == zone)
        .map(|(node, _)| node)
        .collect();
    assert_eq!(
        lost_nodes.len(),
        NODES_PER_ZONE,
        "nodes of {zone}: {zones:?}"
    );
    testenv::stop_component(REGION, &format!("kwok-{n}"));

    poll_until(
        &format!("nodes of {zone} to turn NotReady"),
        NODE_TIMEOUT,
        || async {
            let mut states = Vec::new();
            for node in &lost_nodes {
                let n = nodes.get(node).await.map_err(|e| vec![e.to_string()])?;
                states.push((node.to_string(), node_ready(&n)));
            }
            if states.iter().all(|(_, ready)| !ready) {
                Ok(())
            } else {
                Err(states
                    .into_iter()
                    .map(|(n, r)| format!("{n} Ready={r}"))
                    .collect::<Vec<_>>())
            }
        },
    )
    .await;

    poll_until(
        &format!("pods on the nodes of {zone} to be marked not Ready"),
        NODE_TIMEOUT,
        || async {
            let all = list_pods(pods).await.map_err(|e| vec![e])?;
            let still_ready = all
                .iter()
                .any(|p| pod_ready(p) && lost_nodes.contains(&node_of(p)));
            if still_ready {
                Err(describe(&all, zones))
            } else {
                Ok(all)
            }
        },
    )
    .await
}

/// Ready, not terminating pods on nodes outside LOST_ZONE.
fn ready_outside(pods: &[Pod], zones: &BTreeMap<String, String>, lost_zone: &str) -> usize {
    pods.iter()
        .filter(|p| pod_ready(p) && p.metadata.deletion_timestamp.is_none())
        .filter(|p| zones.get(&node_of(p)).is_some_and(|z| z != lost_zone))
        .count()
}

fn per_zone(pods: &[Pod], zones: &BTreeMap<String, String>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for p in pods {
        let zone = zones.get(&node_of(p)).cloned().unwrap_or_default();
        *out.entry(zone).or_insert(0) += 1;
    }
    out
}

#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn zone_loss_matches_the_prediction_for_the_prod_shape() {
    one_outage_at_a_time(async {
        let ns = TestNamespace::create("policy-zone-loss-prod", &[REGION]).await;
        let env = ns.name.as_str();
        let replicas = 4;
        // The shipped `prod` example's HA shape (its eastus2 runs 4 replicas).
        let ws = workspace(
            env,
            &format!("replicas: {replicas}"),
            "spread: [zone, hostname], antiAffinity: required, \
             disruptionBudget: {minAvailable: 2}, survive: zone",
        );
        let (code, findings) = validate(&ws, env, &[]);
        assert_eq!(code, 0, "the prod shape validates clean: {findings:#}");

        let lost_zone = format!("{REGION}-1");
        let predicted = predict_zone_loss(&ws, env, &lost_zone);
        assert_eq!(predicted.pdb_minimum, Some(2));
        assert!(
            predicted.left_min <= predicted.left_max && predicted.left_max <= replicas,
            "prediction {}..{}",
            predicted.left_min,
            predicted.left_max
        );

        let client = ns.client(REGION);
        let nodes: Api<Node> = Api::all(client);
        let pods: Api<Pod> = ns.api(REGION);
        let zones = healthy_nodes(&nodes).await;
        testenv::apply_rendered(&ws, env, REGION, None).await;
        let before = all_ready(&pods, replicas, &zones).await;
        let before_per_zone = per_zone(&before, &zones);
        assert_eq!(
            before_per_zone.len(),
            ZONES_PER_REGION,
            "the hard zone spread uses every zone: {:#?}",
            describe(&before, &zones)
        );
        let hosts: BTreeSet<String> = before.iter().map(node_of).collect();
        assert_eq!(
            hosts.len(),
            replicas,
            "required anti-affinity: one pod per node"
        );

        let _restore = RestoreZone;
        let after = lose_zone(&lost_zone, &nodes, &pods, &zones).await;
        let ready_left = ready_outside(&after, &zones, &lost_zone);
        let ready_total = after
            .iter()
            .filter(|p| pod_ready(p) && p.metadata.deletion_timestamp.is_none())
            .count();
        eprintln!(
            "{env}: before {before_per_zone:?}; lost {lost_zone}: predicted {}..{} left \
             (pdb minimum {:?}, holds {}), observed {ready_left} Ready",
            predicted.left_min, predicted.left_max, predicted.pdb_minimum, predicted.holds
        );
        assert_eq!(
            ready_total,
            ready_left,
            "only pods outside {lost_zone} are Ready: {:#?}",
            describe(&after, &zones)
        );
        assert!(
            (predicted.left_min..=predicted.left_max).contains(&ready_left),
            "predicted {}..{} Ready pods after losing {lost_zone}, observed {ready_left}: {:#?}",
            predicted.left_min,
            predicted.left_max,
            describe(&after, &zones)
        );
        assert_eq!(
            predicted.holds,
            ready_left >= predicted.pdb_minimum.unwrap_or(1),
            "holds={} but {ready_left} Ready against a PDB minimum of {:?}",
            predicted.holds,
            predicted.pdb_minimum
        );
        assert!(predicted.holds, "the prod shape survives a zone loss");
    });
}

#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn a_weak_environment_is_flagged_before_the_outage_and_loses_everything() {
    one_outage_at_a_time(async {
        let ns = TestNamespace::create("policy-zone-loss-weak", &[REGION]).await;
        let env = ns.name.as_str();
        let ws = workspace(env, "replicas: 1", "spread: [], antiAffinity: none");

        // Flagged before the outage.
        let (code, out) = validate(&ws, env, &[]);
        assert_eq!(
            code, 1,
            "the weak environment must fail validation: {out:#}"
        );
        let rules: BTreeSet<&str> = out["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter_map(|f| f["rule"].as_str())
            .collect();
        for rule in ["HA001", "HA002", "HA004"] {
            assert!(
                rules.contains(rule),
                "{rule} missing from {rules:?}: {out:#}"
            );
        }

        let client = ns.client(REGION);
        let nodes: Api<Node> = Api::all(client);
        let pods: Api<Pod> = ns.api(REGION);
        let zones = healthy_nodes(&nodes).await;
        testenv::apply_rendered(&ws, env, REGION, None).await;
        let before = all_ready(&pods, 1, &zones).await;
        let lost_zone = zones
            .get(&node_of(&before[0]))
            .cloned()
            .unwrap_or_else(|| panic!("pod on an unknown node: {:#?}", describe(&before, &zones)));

        let predicted = predict_zone_loss(&ws, env, &lost_zone);
        assert_eq!(
            predicted.left_min, 0,
            "without a zone spread nothing is promised"
        );
        assert_eq!(predicted.pdb_minimum, None);
        assert!(
            !predicted.holds,
            "validate must not claim the weak shape holds"
        );

        let _restore = RestoreZone;
        let after = lose_zone(&lost_zone, &nodes, &pods, &zones).await;
        let ready_left = ready_outside(&after, &zones, &lost_zone);
        let ready_total = after.iter().filter(|p| pod_ready(p)).count();
        eprintln!(
            "{env}: pod on {lost_zone}; predicted {}..{} left (holds {}), observed {ready_left} Ready",
            predicted.left_min, predicted.left_max, predicted.holds
        );
        assert_eq!(
            (ready_left, ready_total),
            (0, 0),
            "losing the pod's zone leaves nothing Ready: {:#?}",
            describe(&after, &zones)
        );
        assert!((predicted.left_min..=predicted.left_max).contains(&ready_left));
        assert_eq!(predicted.holds, ready_left >= 1);
    });
}
