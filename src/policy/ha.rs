//! HA rules (HA001..HA011): what keeps a workload serving within one region, through node
//! drains, node and zone failures, bad rollouts and config changes.

use serde_json::Value;

use super::finding::{Reporter, region_path, spec, workload_path};
use super::rule::RuleId;
use super::workload::{HOST_KEY, Workload, ZONE_KEY};
use crate::render::RenderedSet;
use crate::render::hash::kustomize_suffix;

/// Checks the workloads of one rendered set and its ConfigMaps.
pub(super) fn check(cx: &mut Reporter<'_>, set: &RenderedSet, workloads: &[Workload<'_>]) {
    for w in workloads {
        min_replicas(cx, set, w);
        disruption_budget(cx, set, w);
        single_pdb(cx, set, w);
        spread(cx, set, w);
        for c in &w.containers {
            container(cx, set, w, c);
        }
    }
    config_immutable(cx, set);
}

/// HA001: a Deployment with one replica is down while its node drains (Kubernetes API,
/// "Disruptions").
fn min_replicas(cx: &mut Reporter<'_>, set: &RenderedSet, w: &Workload<'_>) {
    if w.replicas < 2 {
        let o = w.object;
        cx.report(
            RuleId::MinReplicas,
            Some(&set.region),
            Some(o),
            region_path(cx.env, &set.region),
            format!("{} has {} replica(s)", o.id, w.replicas),
        );
    }
}

/// HA002 and HA003: a PodDisruptionBudget selects the pods and still allows an eviction
/// (Kubernetes API, "Specifying a Disruption Budget for your Application").
fn disruption_budget(cx: &mut Reporter<'_>, set: &RenderedSet, w: &Workload<'_>) {
    let (r, o) = (Some(set.region.as_str()), Some(w.object));
    let ha = spec().key("ha");
    match w.pdb_minimum() {
        None => cx.report(
            RuleId::PdbSelectsWorkload,
            r,
            o,
            ha,
            format!("no PodDisruptionBudget selects the pods of {}", w.object.id),
        ),
        Some(min) if min >= w.replicas => cx.report(
            RuleId::PdbAllowsDisruption,
            r,
            o,
            ha.key("disruptionBudget"),
            format!(
                "the PodDisruptionBudget keeps {min} of {} replicas available: no pod can be evicted",
                w.replicas
            ),
        ),
        Some(_) => {}
    }
}

/// HA011: the Eviction API refuses to evict a pod that more than one PodDisruptionBudget
/// selects ("This pod has more than one PodDisruptionBudget, which the eviction subresource
/// does not support", HTTP 500), so a drain of its node never finishes (Kubernetes API,
/// "API-initiated Eviction").
fn single_pdb(cx: &mut Reporter<'_>, set: &RenderedSet, w: &Workload<'_>) {
    if let [first, rest @ ..] = w.pdbs.as_slice()
        && !rest.is_empty()
    {
        let others: Vec<String> = rest.iter().map(|n| format!("`{n}`")).collect();
        cx.report(
            RuleId::SinglePdb,
            Some(&set.region),
            Some(w.object),
            spec().key("ha").key("disruptionBudget"),
            format!(
                "the PodDisruptionBudgets `{first}` and {} all select the pods of {}: the Eviction API refuses to evict them, so node drains block",
                others.join(", "),
                w.object.id
            ),
        );
    }
}

/// HA004 and HA005: topology spread over zones, and spread or anti-affinity over hostnames
/// (Kubernetes API, "Pod Topology Spread Constraints", "Assigning Pods to Nodes").
fn spread(cx: &mut Reporter<'_>, set: &RenderedSet, w: &Workload<'_>) {
    let (r, o) = (Some(set.region.as_str()), Some(w.object));
    let ha = spec().key("ha");
    if !w.spreads_over(ZONE_KEY) {
        cx.report(
            RuleId::ZoneSpread,
            r,
            o,
            ha.key("spread"),
            format!("{} has no topology spread over {ZONE_KEY}", w.object.id),
        );
    }
    if !w.hostname_anti_affinity && !w.spreads_over(HOST_KEY) {
        cx.report(
            RuleId::HostnameSpread,
            r,
            o,
            ha,
            format!(
                "{} has no anti-affinity or spread over {HOST_KEY}",
                w.object.id
            ),
        );
    }
}

/// HA006..HA009: one container's readiness probe, resource requests and image pinning.
fn container(cx: &mut Reporter<'_>, set: &RenderedSet, w: &Workload<'_>, c: &Value) {
    let (r, o) = (Some(set.region.as_str()), Some(w.object));
    let name = c["name"].as_str().unwrap_or("?");
    if c.get("readinessProbe").is_none_or(Value::is_null) {
        cx.report(
            RuleId::ReadinessProbe,
            r,
            o,
            workload_path(cx.env, w.object),
            format!(
                "container `{name}` of {} has no readiness probe",
                w.object.id
            ),
        );
    }
    let req = &c["resources"]["requests"];
    if req.get("cpu").is_none() || req.get("memory").is_none() {
        cx.report(
            RuleId::ResourceRequests,
            r,
            o,
            workload_path(cx.env, w.object),
            format!(
                "container `{name}` of {} lacks a CPU or memory request",
                w.object.id
            ),
        );
    }
    let image = c["image"].as_str().unwrap_or_default();
    let (rule, how) = match image_pin(image) {
        Pin::Unpinned => (RuleId::ImagePinned, "not pinned"),
        Pin::Tag => (RuleId::ImageDigest, "pinned by tag only"),
        Pin::Digest => return,
    };
    cx.report(
        rule,
        r,
        o,
        workload_path(cx.env, w.object).key("image"),
        format!("image `{image}` is {how}"),
    );
}

/// HA010: every ConfigMap is immutable and named after its content, so a config change rolls
/// the pods and an old ReplicaSet still finds its config (Kubernetes API, "Immutable
/// ConfigMaps"; kustomize's configMapGenerator hash suffix).
fn config_immutable(cx: &mut Reporter<'_>, set: &RenderedSet) {
    for o in set.objects.iter().filter(|o| o.id.kind == "ConfigMap") {
        let hashed =
            kustomize_suffix(&o.object).is_some_and(|s| o.id.name.ends_with(&format!("-{s}")));
        if o.object["immutable"] != Value::Bool(true) || !hashed {
            cx.report(
                RuleId::ConfigImmutable,
                Some(&set.region),
                Some(o),
                spec().key("config"),
                format!("{} is not immutable and content-hashed", o.id),
            );
        }
    }
}

/// How an image reference is pinned (Kubernetes API, "Images": `name[:tag][@digest]`).
#[derive(Debug, PartialEq, Eq)]
enum Pin {
    /// No tag, or `latest`.
    Unpinned,
    Tag,
    Digest,
}

fn image_pin(image: &str) -> Pin {
    if image.contains("@sha256:") {
        return Pin::Digest;
    }
    // The tag is what follows the last ':' after the last '/' (a registry port is not a tag).
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) if !tag.is_empty() && tag != "latest" => Pin::Tag,
        _ => Pin::Unpinned,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{GOOD, check, check_edited, deployment_container, ids};
    use super::*;

    #[test]
    fn a_single_replica_is_flagged_min_replicas() {
        let f = check(&GOOD.replace("replicas: 3", "replicas: 1"));
        assert!(ids(&f).contains(&RuleId::MinReplicas), "{f:?}");
        assert!(!ids(&check(GOOD)).contains(&RuleId::MinReplicas));
    }

    #[test]
    fn a_workload_no_pdb_selects_is_flagged() {
        let f = check(
            "  app: {name: web, image: 'r.io/web:1', replicas: 1}\n  regions: [{name: east, context: c}]\n",
        );
        let got = ids(&f);
        assert!(
            got.contains(&RuleId::MinReplicas) && got.contains(&RuleId::PdbSelectsWorkload),
            "{got:?}"
        );
    }

    #[test]
    fn a_pdb_that_allows_no_disruption_is_flagged() {
        let f = check(&GOOD.replace("minAvailable: 2", "minAvailable: 3"));
        assert!(ids(&f).contains(&RuleId::PdbAllowsDisruption));
        let f = check(&GOOD.replace("minAvailable: 2", "minAvailable: '100%'"));
        assert!(ids(&f).contains(&RuleId::PdbAllowsDisruption));
    }

    /// A second PodDisruptionBudget, as a repository template might add: `selector` is its
    /// `spec.selector`.
    fn with_pdb(set: &mut crate::render::RenderedSet, name: &str, selector: Value) {
        let mut extra = set
            .objects
            .iter()
            .find(|o| o.id.kind == "PodDisruptionBudget")
            .expect("the built-in PDB")
            .clone();
        extra.id.name = name.to_string();
        extra.object["metadata"]["name"] = name.into();
        extra.object["spec"]["selector"] = selector;
        set.objects.push(extra);
    }

    fn check_with_pdb(
        spec: &str,
        selector: Value,
        replace_builtin: bool,
    ) -> Vec<super::super::Finding> {
        let (env, mut sets) = super::super::fixture::load(spec);
        for set in &mut sets {
            if replace_builtin {
                set.objects
                    .retain(|o| o.id.kind != "PodDisruptionBudget" || o.id.name != "web");
                let template = super::super::fixture::load(GOOD).1.remove(0);
                let pdb = template
                    .objects
                    .into_iter()
                    .find(|o| o.id.kind == "PodDisruptionBudget")
                    .unwrap();
                set.objects.push(pdb);
                set.objects.last_mut().unwrap().id.name = "templated".into();
                set.objects.last_mut().unwrap().object["metadata"]["name"] = "templated".into();
                set.objects.last_mut().unwrap().object["spec"]["selector"] = selector.clone();
            } else {
                with_pdb(set, "every-managed-pod", selector.clone());
            }
        }
        let refs: Vec<&crate::render::RenderedSet> = sets.iter().collect();
        super::super::validate(&env, &refs)
    }

    #[test]
    fn issue_13_item_12_a_pdb_selecting_by_match_expressions_or_empty_selector_selects_the_pods() {
        let in_expr = serde_json::json!({"matchExpressions": [
            {"key": "app.kubernetes.io/name", "operator": "In", "values": ["web"]}]});
        for selector in [in_expr, serde_json::json!({})] {
            let f = check_with_pdb(GOOD, selector.clone(), true);
            assert_eq!(ids(&f), vec![], "{selector}: {f:?}");
        }
        let f = check_with_pdb(
            GOOD,
            serde_json::json!({"matchExpressions": [
            {"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["web"]}]}),
            true,
        );
        assert_eq!(ids(&f), vec![RuleId::PdbSelectsWorkload]);
    }

    #[test]
    fn issue_13_item_13_two_pdbs_over_the_same_pods_are_flagged_single_pdb() {
        let every_managed_pod =
            serde_json::json!({"matchLabels": {"app.kubernetes.io/managed-by": "kubectl-hadr"}});
        let f = check_with_pdb(GOOD, every_managed_pod, false);
        assert_eq!(ids(&f), vec![RuleId::SinglePdb], "{f:?}");
        let finding = f.iter().find(|f| f.rule == RuleId::SinglePdb).unwrap();
        assert!(
            finding
                .message
                .contains("`web` and `every-managed-pod` all select the pods of Deployment.apps"),
            "{}",
            finding.message
        );
    }

    #[test]
    fn no_zone_spread_and_no_hostname_spread_or_anti_affinity_are_flagged() {
        let f = check(&GOOD.replace("antiAffinity: required", "antiAffinity: none, spread: []"));
        let got = ids(&f);
        assert!(got.contains(&RuleId::ZoneSpread), "{got:?}");
        assert!(got.contains(&RuleId::HostnameSpread), "{got:?}");
    }

    #[test]
    fn a_container_without_a_readiness_probe_is_flagged() {
        let f = check_edited(GOOD, |o| {
            if let Some(c) = deployment_container(o) {
                c.remove("readinessProbe");
            }
        });
        assert_eq!(ids(&f), vec![RuleId::ReadinessProbe]);
    }

    #[test]
    fn a_container_without_a_cpu_or_memory_request_is_flagged() {
        let f = check_edited(GOOD, |o| {
            if let Some(c) = deployment_container(o) {
                c["resources"]["requests"]
                    .as_object_mut()
                    .unwrap()
                    .remove("memory");
            }
        });
        assert_eq!(ids(&f), vec![RuleId::ResourceRequests]);
    }

    #[test]
    fn untagged_and_latest_images_are_unpinned_and_tags_without_digest_are_info() {
        let f = check(&GOOD.replace(
            "r.io/web:1.0@sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
            "r.io/web:latest",
        ));
        assert!(ids(&f).contains(&RuleId::ImagePinned));
        let f = check(&GOOD.replace(
            "r.io/web:1.0@sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
            "r.io:5000/web:1.0",
        ));
        assert_eq!(ids(&f), vec![RuleId::ImageDigest]);
        let f = check(&GOOD.replace(
            "r.io/web:1.0@sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
            "r.io:5000/web",
        ));
        assert!(ids(&f).contains(&RuleId::ImagePinned));
    }

    #[test]
    fn a_registry_port_is_not_a_tag() {
        assert_eq!(image_pin("r.io:5000/web"), Pin::Unpinned);
        assert_eq!(image_pin("r.io:5000/web:1.0"), Pin::Tag);
        assert_eq!(
            image_pin(
                "web@sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
            ),
            Pin::Digest
        );
        assert_eq!(image_pin("web:"), Pin::Unpinned);
    }

    #[test]
    fn a_mutable_or_unhashed_config_map_is_flagged() {
        let with_config = format!("{GOOD}  config: {{LOG_LEVEL: info}}\n");
        assert_eq!(ids(&check(&with_config)), vec![]);
        let f = check_edited(&with_config, |o| {
            if o["kind"] == "ConfigMap" {
                o["immutable"] = Value::Bool(false);
            }
        });
        assert_eq!(ids(&f), vec![RuleId::ConfigImmutable]);
    }
}
