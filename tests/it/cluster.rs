//! Tests against the real local multi-region control plane (see `testenv/`).
//!
//! Each test works in a namespace of its own. Tests that only create objects share the
//! regions in `SHARED_REGIONS`; a test that breaks a region (stops its apiserver, loses a
//! zone) has a dedicated region, so tests running in parallel never see each other's damage.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use crate::support::testenv::{
    self, HOSTNAME_LABEL, NODES_PER_ZONE, OUTAGE_REGION, REGION_LABEL, SHARED_REGIONS,
    TestNamespace, ZONE_LABEL, ZONE_LOSS_REGION, ZONES_PER_REGION, poll_until,
};

const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(120);

/// A Deployment of REPLICAS pods labelled `app=NAME`, with POD_SPEC_EXTRA merged into the pod
/// spec. The image is never pulled: kwok's fake nodes only pretend to run containers.
fn deployment(name: &str, replicas: i32, pod_spec_extra: serde_json::Value) -> Deployment {
    let mut pod_spec = json!({
        "containers": [{ "name": "app", "image": "registry.k8s.io/pause:3.10" }],
        "terminationGracePeriodSeconds": 0,
    });
    if let (Some(spec), Some(extra)) = (pod_spec.as_object_mut(), pod_spec_extra.as_object()) {
        spec.extend(extra.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": pod_spec,
            },
        },
    }))
    .expect("valid Deployment")
}

fn zone_spread(app: &str) -> serde_json::Value {
    json!({
        "maxSkew": 1,
        "topologyKey": ZONE_LABEL,
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": { "matchLabels": { "app": app } },
    })
}

/// Waits until the Deployment's status reports all REPLICAS available for its latest spec.
async fn wait_rolled_out(
    region: &str,
    deployments: &Api<Deployment>,
    name: &str,
    replicas: i32,
    timeout: Duration,
) {
    let what = format!(
        "{region}: Deployment {name} to have {replicas} available replicas (component logs: {})",
        testenv::logs_dir(region).display()
    );
    poll_until(&what, timeout, || async {
        let d = deployments.get(name).await.map_err(|e| e.to_string())?;
        let status = d.status.clone().unwrap_or_default();
        let current = status.observed_generation.is_some()
            && status.observed_generation == d.metadata.generation;
        if current
            && status.available_replicas == Some(replicas)
            && status.updated_replicas == Some(replicas)
        {
            Ok(())
        } else {
            Err(format!("{status:?}"))
        }
    })
    .await;
}

/// node name -> zone, for the fake nodes of REGION.
async fn node_zones(client: Client, region: &str) -> BTreeMap<String, String> {
    let nodes: Api<Node> = Api::all(client);
    let list = nodes
        .list(&ListParams::default().labels(&format!("{REGION_LABEL}={region}")))
        .await
        .expect("list nodes");
    list.items
        .into_iter()
        .map(|n| {
            let labels = n.metadata.labels.unwrap_or_default();
            (
                n.metadata.name.unwrap_or_default(),
                labels.get(ZONE_LABEL).cloned().unwrap_or_default(),
            )
        })
        .collect()
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// One line per pod: name, node, phase, ready, terminating; for failure messages.
fn describe(pods: &[Pod]) -> Vec<String> {
    pods.iter()
        .map(|p| {
            let status = p.status.clone().unwrap_or_default();
            let unschedulable = status
                .conditions
                .unwrap_or_default()
                .into_iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
                .map(|c| format!(" unscheduled: {}", c.message.unwrap_or_default()))
                .unwrap_or_default();
            format!(
                "{} node={} phase={} ready={} terminating={}{unschedulable}",
                p.metadata.name.clone().unwrap_or_default(),
                p.spec
                    .as_ref()
                    .and_then(|s| s.node_name.clone())
                    .unwrap_or_default(),
                status.phase.unwrap_or_default(),
                is_ready(p),
                is_terminating(p),
            )
        })
        .collect()
}

async fn list_pods(pods: &Api<Pod>, app: &str) -> Result<Vec<Pod>, String> {
    pods.list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .map(|l| l.items)
        .map_err(|e| e.to_string())
}

/// Ready, not terminating pods per zone.
fn ready_pods_per_zone(pods: &[Pod], zones: &BTreeMap<String, String>) -> BTreeMap<String, usize> {
    let mut per_zone = BTreeMap::new();
    for pod in pods.iter().filter(|p| is_ready(p) && !is_terminating(p)) {
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        let zone = zones
            .get(&node)
            .cloned()
            .unwrap_or_else(|| format!("<unknown node {node}>"));
        *per_zone.entry(zone).or_insert(0) += 1;
    }
    per_zone
}

fn skew(per_zone: &BTreeMap<String, usize>) -> usize {
    per_zone.values().max().unwrap_or(&0) - per_zone.values().min().unwrap_or(&0)
}

#[tokio::test]
#[ignore = "needs testenv: scripts/test runs it"]
async fn zone_topology_spread_rolls_out_a_deployment_evenly_across_the_three_zones() {
    let region = SHARED_REGIONS[0];
    let ns = TestNamespace::create("zone-spread", &[region]).await;
    let deployments: Api<Deployment> = ns.api(region);
    let replicas = 7;
    let spec = deployment(
        "web",
        replicas,
        json!({ "topologySpreadConstraints": [zone_spread("web")] }),
    );
    deployments
        .create(&PostParams::default(), &spec)
        .await
        .expect("create Deployment");

    wait_rolled_out(region, &deployments, "web", replicas, ROLLOUT_TIMEOUT).await;

    let zones = node_zones(ns.client(region), region).await;
    let pods = list_pods(&ns.api(region), "web").await.expect("list pods");
    let per_zone = ready_pods_per_zone(&pods, &zones);
    let all_zones: BTreeSet<&String> = zones.values().collect();
    assert_eq!(
        all_zones.len(),
        ZONES_PER_REGION,
        "fake nodes of {region} should span 3 zones: {zones:?}"
    );
    assert_eq!(
        per_zone.keys().collect::<BTreeSet<_>>(),
        all_zones,
        "pods should run in every zone; per zone: {per_zone:?}; pods: {:#?}",
        describe(&pods)
    );
    assert_eq!(
        per_zone.values().sum::<usize>(),
        replicas as usize,
        "pods: {:#?}",
        describe(&pods)
    );
    assert!(skew(&per_zone) <= 1, "zone skew above 1: {per_zone:?}");
}

#[tokio::test]
#[ignore = "needs testenv: scripts/test runs it"]
async fn required_hostname_anti_affinity_leaves_replicas_beyond_the_node_count_pending() {
    let region = SHARED_REGIONS[1];
    let ns = TestNamespace::create("anti-affinity", &[region]).await;
    let deployments: Api<Deployment> = ns.api(region);
    let nodes = ZONES_PER_REGION * NODES_PER_ZONE;
    let replicas = nodes + 2;
    let anti_affinity = json!({
        "affinity": { "podAntiAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": [{
            "topologyKey": HOSTNAME_LABEL,
            "labelSelector": { "matchLabels": { "app": "one-per-node" } },
        }]}},
    });
    let spec = deployment("one-per-node", replicas as i32, anti_affinity);
    deployments
        .create(&PostParams::default(), &spec)
        .await
        .expect("create Deployment");

    let pods: Api<Pod> = ns.api(region);
    let (running, pending) = poll_until(
        &format!("{nodes} pods Ready on distinct nodes and 2 Unschedulable"),
        ROLLOUT_TIMEOUT,
        || async {
            let all = list_pods(&pods, "one-per-node")
                .await
                .map_err(|e| vec![e])?;
            let running: Vec<&Pod> = all.iter().filter(|p| is_ready(p)).collect();
            let unschedulable: Vec<&Pod> = all
                .iter()
                .filter(|p| {
                    let status = p.status.clone().unwrap_or_default();
                    status.phase.as_deref() == Some("Pending")
                        && status.conditions.unwrap_or_default().iter().any(|c| {
                            c.type_ == "PodScheduled"
                                && c.status == "False"
                                && c.reason.as_deref() == Some("Unschedulable")
                        })
                })
                .collect();
            if all.len() == replicas
                && running.len() == nodes
                && unschedulable.len() == replicas - nodes
            {
                let hosts: BTreeSet<String> = running
                    .iter()
                    .filter_map(|p| p.spec.as_ref().and_then(|s| s.node_name.clone()))
                    .collect();
                Ok((hosts, unschedulable.len()))
            } else {
                Err(describe(&all))
            }
        },
    )
    .await;
    assert_eq!(
        running.len(),
        nodes,
        "each Ready pod should be on its own node: {running:?}"
    );
    assert_eq!(pending, 2);

    // The scheduler keeps them pending: they are still unscheduled a few retries later.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = list_pods(&pods, "one-per-node").await.expect("list pods");
    let scheduled = all
        .iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
        .count();
    assert_eq!(
        scheduled,
        nodes,
        "no more than one pod per node: {:#?}",
        describe(&all)
    );
}

#[tokio::test]
#[ignore = "needs testenv: scripts/test runs it"]
async fn server_side_dry_run_apply_returns_server_defaulted_fields_without_persisting() {
    let region = SHARED_REGIONS[2];
    let ns = TestNamespace::create("dry-run-apply", &[region]).await;
    let deployments: Api<Deployment> = ns.api(region);
    let manifest = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "dry" },
        "spec": {
            "selector": { "matchLabels": { "app": "dry" } },
            "template": {
                "metadata": { "labels": { "app": "dry" } },
                "spec": { "containers": [{ "name": "app", "image": "registry.k8s.io/pause:3.10" }] },
            },
        },
    });
    let params = PatchParams::apply("kubectl-hadr-it").dry_run();
    let applied = deployments
        .patch("dry", &params, &Patch::Apply(&manifest))
        .await
        .expect("dry-run apply");

    let spec = applied.spec.expect("spec");
    let strategy = spec.strategy.expect("server-defaulted strategy");
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let rolling = strategy
        .rolling_update
        .expect("server-defaulted rollingUpdate");
    assert_eq!(rolling.max_surge, Some(IntOrString::String("25%".into())));
    assert_eq!(
        rolling.max_unavailable,
        Some(IntOrString::String("25%".into()))
    );
    assert_eq!(spec.revision_history_limit, Some(10));
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(spec.progress_deadline_seconds, Some(600));
    let pod_spec = spec.template.spec.expect("pod spec");
    assert_eq!(
        pod_spec.containers[0].termination_message_path.as_deref(),
        Some("/dev/termination-log")
    );
    assert_eq!(
        pod_spec.containers[0].image_pull_policy.as_deref(),
        Some("IfNotPresent")
    );
    assert_eq!(pod_spec.restart_policy.as_deref(), Some("Always"));
    assert_eq!(pod_spec.dns_policy.as_deref(), Some("ClusterFirst"));
    assert!(applied.metadata.managed_fields.is_some_and(|m| {
        m.iter()
            .any(|f| f.manager.as_deref() == Some("kubectl-hadr-it"))
    }));

    assert!(
        deployments.get_opt("dry").await.expect("get").is_none(),
        "a dry run must not persist the object"
    );
}

#[tokio::test]
#[ignore = "needs testenv: scripts/test runs it"]
async fn an_object_created_in_one_region_is_absent_from_the_other_region() {
    let (a, b) = (SHARED_REGIONS[0], SHARED_REGIONS[1]);
    let ns = TestNamespace::create("independent-regions", &[a, b]).await;
    let in_a: Api<ConfigMap> = ns.api(a);
    let in_b: Api<ConfigMap> = ns.api(b);
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("only-in-a".into()),
            ..ObjectMeta::default()
        },
        data: Some([("region".to_string(), a.to_string())].into()),
        ..ConfigMap::default()
    };
    in_a.create(&PostParams::default(), &cm)
        .await
        .expect("create in region a");

    assert_eq!(
        in_a.get("only-in-a")
            .await
            .expect("read back in a")
            .data
            .unwrap_or_default()
            .get("region"),
        Some(&a.to_string())
    );
    assert!(
        in_b.get_opt("only-in-a").await.expect("get in b").is_none(),
        "{b} must not see {a}'s ConfigMap"
    );

    // Each region has its own namespace object (own uid), not a replicated one.
    let uid = |client: Client| {
        let name = ns.name.clone();
        async move {
            Api::<Namespace>::all(client)
                .get(&name)
                .await
                .expect("namespace")
                .metadata
                .uid
        }
    };
    assert_ne!(uid(ns.client(a)).await, uid(ns.client(b)).await);
}

/// Restarts a region's stopped components when dropped, also if the test panics.
struct RestartOnDrop(&'static str);

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Never panic while unwinding; the next `up` restarts it as well.
            if let Err(e) = testenv::try_hadr_testenv(&["up", "--regions", self.0]) {
                eprintln!("restarting {} after a failed test: {e}", self.0);
            }
        } else {
            testenv::restart_region(self.0);
        }
    }
}

#[tokio::test]
#[ignore = "needs testenv: scripts/test runs it"]
async fn stopping_one_regions_apiserver_leaves_the_other_region_serving() {
    let (down, up) = (OUTAGE_REGION, SHARED_REGIONS[0]);
    let ns = TestNamespace::create("apiserver-outage", &[down, up]).await;
    let in_down: Api<ConfigMap> = ns.api(down);
    let in_up: Api<ConfigMap> = ns.api(up);
    let cm = |name: &str| ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    in_down
        .create(&PostParams::default(), &cm("before-outage"))
        .await
        .expect("create before outage");

    let restart = RestartOnDrop(down);
    testenv::stop_component(down, "kube-apiserver");

    let err = in_down
        .get("before-outage")
        .await
        .expect_err("the stopped apiserver must not answer");
    assert!(
        !matches!(err, kube::Error::Api(_)),
        "expected a connection error from {down}, got an API answer: {err:?}"
    );

    in_up
        .create(&PostParams::default(), &cm("during-outage"))
        .await
        .expect("the other region still accepts writes");
    assert!(
        in_up
            .get_opt("during-outage")
            .await
            .expect("the other region still serves reads")
            .is_some()
    );
    let nodes = Api::<Node>::all(ns.client(up))
        .list(&ListParams::default())
        .await
        .expect("list nodes");
    assert_eq!(nodes.items.len(), ZONES_PER_REGION * NODES_PER_ZONE);

    drop(restart);
    // The restarted apiserver serves the state kept in the region's etcd.
    poll_until(
        &format!("{down} to serve ConfigMap before-outage again"),
        Duration::from_secs(60),
        || async {
            in_down
                .get("before-outage")
                .await
                .map_err(|e| e.to_string())
        },
    )
    .await;
}

#[tokio::test]
#[ignore = "needs testenv: scripts/test runs it"]
async fn losing_a_zones_nodes_recreates_their_pods_in_the_remaining_zones() {
    let region = ZONE_LOSS_REGION;
    let ns = TestNamespace::create("zone-loss", &[region]).await;
    let client = ns.client(region);
    let nodes_api: Api<Node> = Api::all(client.clone());
    let zones = node_zones(client.clone(), region).await;

    // A previous run may have lost a zone: all nodes Ready and untainted before we start.
    poll_until(
        &format!("all nodes of {region} Ready without taints"),
        Duration::from_secs(90),
        || async {
            let list = nodes_api
                .list(&ListParams::default().labels(&format!("{REGION_LABEL}={region}")))
                .await
                .map_err(|e| vec![e.to_string()])?;
            let unhealthy: Vec<String> = list
                .items
                .iter()
                .filter(|n| {
                    let ready = n
                        .status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|cs| {
                            cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                        });
                    let tainted = n
                        .spec
                        .as_ref()
                        .and_then(|s| s.taints.as_ref())
                        .is_some_and(|t| !t.is_empty());
                    !ready || tainted
                })
                .map(|n| {
                    format!(
                        "{} {:?}",
                        n.metadata.name.clone().unwrap_or_default(),
                        n.spec.as_ref().and_then(|s| s.taints.clone())
                    )
                })
                .collect();
            if list.items.len() == zones.len() && unhealthy.is_empty() {
                Ok(())
            } else {
                Err(unhealthy)
            }
        },
    )
    .await;

    let replicas = 6;
    let tolerate = |key: &str| json!({ "key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2 });
    let mut spread = zone_spread("zonal");
    // Domains whose nodes the pods cannot tolerate (the lost zone) do not count for the skew.
    spread["nodeTaintsPolicy"] = json!("Honor");
    let spec = deployment(
        "zonal",
        replicas,
        json!({
            "topologySpreadConstraints": [spread],
            "tolerations": [tolerate("node.kubernetes.io/unreachable"), tolerate("node.kubernetes.io/not-ready")],
        }),
    );
    let deployments: Api<Deployment> = ns.api(region);
    deployments
        .create(&PostParams::default(), &spec)
        .await
        .expect("create Deployment");
    wait_rolled_out(region, &deployments, "zonal", replicas, ROLLOUT_TIMEOUT).await;

    let pods: Api<Pod> = ns.api(region);
    let before = list_pods(&pods, "zonal").await.expect("list pods");
    assert_eq!(
        ready_pods_per_zone(&before, &zones).len(),
        ZONES_PER_REGION,
        "pods: {:#?}",
        describe(&before)
    );

    let lost_zone = format!("{region}-1");
    let lost_nodes: Vec<String> = zones
        .iter()
        .filter(|(_, z)| **z == lost_zone)
        .map(|(n, _)| n.clone())
        .collect();
    assert_eq!(lost_nodes.len(), NODES_PER_ZONE);
    let lost_pods: BTreeSet<String> = before
        .iter()
        .filter(|p| {
            p.spec
                .as_ref()
                .and_then(|s| s.node_name.as_ref())
                .is_some_and(|n| lost_nodes.contains(n))
        })
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    assert!(
        !lost_pods.is_empty(),
        "some pods should run in {lost_zone}: {:#?}",
        describe(&before)
    );

    // Lose the zone: stop the kwok that stands in for its kubelets, so nobody renews its
    // nodes' leases or status any more. Restarted (and its nodes Ready again) when dropped.
    let _restart = RestartOnDrop(region);
    testenv::stop_component(region, "kwok-1");

    poll_until(
        &format!("nodes of {lost_zone} to turn NotReady"),
        Duration::from_secs(90),
        || async {
            let mut states = Vec::new();
            for node in &lost_nodes {
                let n = nodes_api.get(node).await.map_err(|e| vec![e.to_string()])?;
                let ready = n
                    .status
                    .and_then(|s| s.conditions)
                    .and_then(|cs| cs.into_iter().find(|c| c.type_ == "Ready"))
                    .map(|c| c.status)
                    .unwrap_or_default();
                states.push(format!("{node} Ready={ready}"));
            }
            if states.iter().all(|s| !s.ends_with("=True")) {
                Ok(())
            } else {
                Err(states)
            }
        },
    )
    .await;

    let per_zone = poll_until(
        &format!(
            "{replicas} Ready pods outside {lost_zone}, none of the lost zone's pods among them"
        ),
        Duration::from_secs(120),
        || async {
            let now = list_pods(&pods, "zonal")
                .await
                .map_err(|e| (BTreeMap::new(), vec![e]))?;
            let per_zone = ready_pods_per_zone(&now, &zones);
            let survivors_from_lost_zone = now
                .iter()
                .filter(|p| is_ready(p) && !is_terminating(p))
                .any(|p| {
                    p.metadata
                        .name
                        .as_ref()
                        .is_some_and(|n| lost_pods.contains(n))
                });
            let total: usize = per_zone.values().sum();
            if total == replicas as usize
                && !per_zone.contains_key(&lost_zone)
                && !survivors_from_lost_zone
            {
                Ok(per_zone)
            } else {
                Err((per_zone, describe(&now)))
            }
        },
    )
    .await;
    assert_eq!(
        per_zone.len(),
        ZONES_PER_REGION - 1,
        "pods should use both remaining zones: {per_zone:?}"
    );
    assert!(
        skew(&per_zone) <= 1,
        "zone skew above 1 over the remaining zones: {per_zone:?}"
    );
    wait_rolled_out(region, &deployments, "zonal", replicas, ROLLOUT_TIMEOUT).await;
}
