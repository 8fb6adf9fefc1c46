//! Workloads as the policy reads them from the rendered objects: replicas, pod labels, topology
//! spread, hostname anti-affinity, containers and the PodDisruptionBudget that selects them.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::environment::parse_percent;
use crate::render::{RenderedObject, RenderedSet};

/// The well-known zone label (Kubernetes API, "Well-Known Labels, Annotations and Taints").
pub(super) const ZONE_KEY: &str = "topology.kubernetes.io/zone";
/// The well-known node label, one value per node.
pub(super) const HOST_KEY: &str = "kubernetes.io/hostname";

/// One topology spread constraint (Kubernetes API, `PodSpec.topologySpreadConstraints`).
#[derive(Debug, Clone)]
pub(super) struct Spread {
    pub topology_key: String,
    pub when_unsatisfiable: WhenUnsatisfiable,
    /// `maxSkew`: how many more pods one domain may hold than the emptiest (the API requires
    /// at least 1).
    pub max_skew: u32,
    /// `minDomains`: below this many domains the scheduler counts the emptiest as 0 (1 when
    /// unset).
    pub min_domains: u32,
    /// Whether its `labelSelector` selects the workload's own pods; one that selects other pods
    /// bounds nothing about these.
    pub selects_own_pods: bool,
}

/// What the scheduler does with a pod that would break the spread's maxSkew.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WhenUnsatisfiable {
    /// Leaves it pending: the spread is hard. The API's default.
    DoNotSchedule,
    /// Places it anyway, preferring less skew: the spread bounds nothing.
    ScheduleAnyway,
}

/// A Deployment, StatefulSet or ReplicaSet as the policy sees it.
#[derive(Debug, Clone)]
pub(super) struct Workload<'a> {
    pub object: &'a RenderedObject,
    /// `spec.replicas`, 1 when absent as in the API.
    pub replicas: u32,
    pub spread: Vec<Spread>,
    /// Required or preferred pod anti-affinity over `kubernetes.io/hostname`.
    pub hostname_anti_affinity: bool,
    pub containers: Vec<&'a Value>,
    /// The first PodDisruptionBudget of the namespace whose selector matches the pod template's
    /// labels.
    pub pdb: Option<&'a Value>,
    /// Every PodDisruptionBudget that selects the pods, by name: the Eviction API refuses to
    /// evict a pod more than one selects.
    pub pdbs: Vec<&'a str>,
}

impl Workload<'_> {
    /// Whether any topology spread constraint (hard or not) is over `key`.
    pub(super) fn spreads_over(&self, key: &str) -> bool {
        self.spread.iter().any(|s| s.topology_key == key)
    }

    /// The hard (`DoNotSchedule`) topology spread constraints over `key` that count the
    /// workload's own pods: the only ones that bound where its pods can be.
    pub(super) fn hard_spreads_over<'s>(
        &'s self,
        key: &'s str,
    ) -> impl Iterator<Item = &'s Spread> {
        self.spread.iter().filter(move |s| {
            s.topology_key == key
                && s.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule
                && s.selects_own_pods
        })
    }

    /// The minimum of available pods its PodDisruptionBudget demands, if one selects it.
    pub(super) fn pdb_minimum(&self) -> Option<u32> {
        self.pdb.map(|pdb| pdb_minimum(pdb, self.replicas))
    }
}

/// The workloads of a rendered set, in the set's order.
pub(super) fn workloads(set: &RenderedSet) -> Vec<Workload<'_>> {
    set.objects
        .iter()
        .filter(|o| {
            matches!(
                o.id.kind.as_str(),
                "Deployment" | "StatefulSet" | "ReplicaSet"
            )
        })
        .map(|o| {
            let spec = &o.object["spec"];
            let pod = &spec["template"]["spec"];
            let labels = string_map(&spec["template"]["metadata"]["labels"]);
            let pdbs = pdbs_for(set, o, &labels);
            Workload {
                object: o,
                replicas: spec["replicas"].as_u64().unwrap_or(1) as u32,
                spread: spread(pod, &labels),
                hostname_anti_affinity: hostname_anti_affinity(pod),
                containers: pod["containers"]
                    .as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default(),
                pdb: pdbs.first().map(|p| &p.object),
                pdbs: pdbs.iter().map(|p| p.id.name.as_str()).collect(),
            }
        })
        .collect()
}

fn spread(pod: &Value, labels: &BTreeMap<String, String>) -> Vec<Spread> {
    let count = |v: &Value, default: u32| {
        v.as_u64()
            .map_or(default, |n| n.clamp(1, u64::from(u32::MAX)) as u32)
    };
    pod["topologySpreadConstraints"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| Spread {
                    topology_key: c["topologyKey"].as_str().unwrap_or_default().to_string(),
                    // The API accepts only the two values; an unknown one bounds nothing.
                    when_unsatisfiable: match c["whenUnsatisfiable"].as_str() {
                        None | Some("DoNotSchedule") => WhenUnsatisfiable::DoNotSchedule,
                        Some(_) => WhenUnsatisfiable::ScheduleAnyway,
                    },
                    max_skew: count(&c["maxSkew"], 1),
                    min_domains: count(&c["minDomains"], 1),
                    // A constraint without a labelSelector counts no pods (the scheduler's
                    // nil selector), so it bounds nothing.
                    selects_own_pods: c
                        .get("labelSelector")
                        .is_some_and(|sel| !sel.is_null() && selector_matches(sel, labels)),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn hostname_anti_affinity(pod: &Value) -> bool {
    let anti = &pod["affinity"]["podAntiAffinity"];
    // Preferred terms wrap the term in `podAffinityTerm`, required ones do not.
    let on_host = |terms: &Value, nested: bool| {
        terms.as_array().is_some_and(|a| {
            a.iter().any(|t| {
                let t = if nested { &t["podAffinityTerm"] } else { t };
                t["topologyKey"] == HOST_KEY
            })
        })
    };
    on_host(
        &anti["requiredDuringSchedulingIgnoredDuringExecution"],
        false,
    ) || on_host(
        &anti["preferredDuringSchedulingIgnoredDuringExecution"],
        true,
    )
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The minimum of available pods a PodDisruptionBudget demands for a workload of `replicas`:
/// `minAvailable`, or `replicas - maxUnavailable`, percentages rounded up as the disruption
/// controller does (Kubernetes API, "Specifying a Disruption Budget for your Application").
pub(super) fn pdb_minimum(pdb: &Value, replicas: u32) -> u32 {
    let spec = &pdb["spec"];
    let resolve = |v: &Value| -> Option<u32> {
        match v {
            Value::Number(n) => n.as_u64().map(|n| n as u32),
            Value::String(s) => parse_percent(s).map(|p| (replicas * p).div_ceil(100)),
            _ => None,
        }
    };
    if let Some(min) = resolve(&spec["minAvailable"]) {
        return min;
    }
    if let Some(max) = resolve(&spec["maxUnavailable"]) {
        return replicas.saturating_sub(max);
    }
    // A PDB with neither field behaves as minAvailable: 1 would not; it allows everything.
    0
}

/// The PodDisruptionBudgets of the workload's namespace that select its pods, in the set's
/// order.
fn pdbs_for<'a>(
    set: &'a RenderedSet,
    workload: &RenderedObject,
    labels: &BTreeMap<String, String>,
) -> Vec<&'a RenderedObject> {
    set.objects
        .iter()
        .filter(|o| o.id.kind == "PodDisruptionBudget" && o.id.namespace == workload.id.namespace)
        .filter(|pdb| {
            // policy/v1: a missing (null) selector selects no pods, an empty one every pod of
            // the namespace (`LabelSelectorAsSelector`: nil -> Nothing, {} -> Everything).
            let sel = &pdb.object["spec"]["selector"];
            !sel.is_null() && selector_matches(sel, labels)
        })
        .collect()
}

/// Whether a `metav1.LabelSelector` selects a pod with `labels`, as `LabelSelectorAsSelector`
/// and `labels.Selector.Matches` decide: every `matchLabels` pair equal, and every
/// `matchExpressions` requirement met (`In`: the label has one of the values; `NotIn`: it is
/// absent or has none of them; `Exists`; `DoesNotExist`). A selector the API would reject
/// (unknown operator, `In` without values) selects nothing.
pub(super) fn selector_matches(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let Some(sel) = selector.as_object() else {
        return false;
    };
    let match_labels = string_map(sel.get("matchLabels").unwrap_or(&Value::Null));
    if !match_labels.iter().all(|(k, v)| labels.get(k) == Some(v)) {
        return false;
    }
    let empty = Vec::new();
    let expressions = sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    expressions.iter().all(|e| {
        let Some(key) = e["key"].as_str() else {
            return false;
        };
        let values: Vec<&str> = e["values"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let value = labels.get(key).map(String::as_str);
        match e["operator"].as_str() {
            Some("In") if !values.is_empty() => value.is_some_and(|v| values.contains(&v)),
            Some("NotIn") if !values.is_empty() => value.is_none_or(|v| !values.contains(&v)),
            Some("Exists") if values.is_empty() => value.is_some(),
            Some("DoesNotExist") if values.is_empty() => value.is_none(),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pdb_minimum_comes_from_min_available_or_max_unavailable_rounding_percentages_up() {
        let pdb = |spec: Value| json!({ "spec": spec });
        assert_eq!(pdb_minimum(&pdb(json!({"minAvailable": 2})), 3), 2);
        assert_eq!(pdb_minimum(&pdb(json!({"minAvailable": "50%"})), 3), 2);
        assert_eq!(pdb_minimum(&pdb(json!({"maxUnavailable": 1})), 3), 2);
        assert_eq!(pdb_minimum(&pdb(json!({"maxUnavailable": "50%"})), 3), 1);
        assert_eq!(pdb_minimum(&pdb(json!({})), 3), 0);
    }

    #[test]
    fn hostname_anti_affinity_counts_required_and_preferred_terms() {
        let required = json!({"affinity": {"podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": HOST_KEY}]}}});
        let preferred = json!({"affinity": {"podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution":
                [{"weight": 1, "podAffinityTerm": {"topologyKey": HOST_KEY}}]}}});
        let zone = json!({"affinity": {"podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": ZONE_KEY}]}}});
        assert!(hostname_anti_affinity(&required));
        assert!(hostname_anti_affinity(&preferred));
        assert!(!hostname_anti_affinity(&zone));
    }

    #[test]
    fn selectors_follow_the_apis_match_expressions_and_empty_selector() {
        let labels: BTreeMap<String, String> =
            [("app.kubernetes.io/name".to_string(), "my-app".to_string())].into();
        let yes = |sel: Value| assert!(selector_matches(&sel, &labels), "{sel}");
        let no = |sel: Value| assert!(!selector_matches(&sel, &labels), "{sel}");
        // Issue 13 item 12: both select the pods.
        yes(
            json!({"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["my-app"]}]}),
        );
        yes(json!({}));
        yes(json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}));
        yes(json!({"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "Exists"}]}));
        yes(json!({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}));
        no(
            json!({"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["my-app"]}]}),
        );
        no(
            json!({"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": []}]}),
        );
        no(
            json!({"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "Equals", "values": ["my-app"]}]}),
        );
        no(json!({"matchLabels": {"app.kubernetes.io/name": "other"}}));
        no(Value::Null);
    }

    #[test]
    fn a_spread_without_when_unsatisfiable_is_hard() {
        let pod = json!({"topologySpreadConstraints": [{"topologyKey": ZONE_KEY}]});
        let spread = spread(&pod, &BTreeMap::new());
        assert_eq!(
            spread[0].when_unsatisfiable,
            WhenUnsatisfiable::DoNotSchedule
        );
    }
}
