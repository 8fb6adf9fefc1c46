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
}

impl Workload<'_> {
    /// Whether any topology spread constraint (hard or not) is over `key`.
    pub(super) fn spreads_over(&self, key: &str) -> bool {
        self.spread.iter().any(|s| s.topology_key == key)
    }

    /// Whether a hard (`DoNotSchedule`) topology spread constraint is over `key`.
    pub(super) fn hard_spread_over(&self, key: &str) -> bool {
        self.spread.iter().any(|s| {
            s.topology_key == key && s.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule
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
            let pdb = pdb_for(set, o, &labels);
            Workload {
                object: o,
                replicas: spec["replicas"].as_u64().unwrap_or(1) as u32,
                spread: spread(pod),
                hostname_anti_affinity: hostname_anti_affinity(pod),
                containers: pod["containers"]
                    .as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default(),
                pdb,
            }
        })
        .collect()
}

fn spread(pod: &Value) -> Vec<Spread> {
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

/// The PodDisruptionBudget of the workload's namespace that selects its pods (`matchLabels`
/// only: the builtin templates write no `matchExpressions`).
fn pdb_for<'a>(
    set: &'a RenderedSet,
    workload: &RenderedObject,
    labels: &BTreeMap<String, String>,
) -> Option<&'a Value> {
    set.objects
        .iter()
        .filter(|o| o.id.kind == "PodDisruptionBudget" && o.id.namespace == workload.id.namespace)
        .map(|o| &o.object)
        .find(|pdb| {
            let sel = string_map(&pdb["spec"]["selector"]["matchLabels"]);
            !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v))
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
    fn a_spread_without_when_unsatisfiable_is_hard() {
        let pod = json!({"topologySpreadConstraints": [{"topologyKey": ZONE_KEY}]});
        let spread = spread(&pod);
        assert_eq!(
            spread[0].when_unsatisfiable,
            WhenUnsatisfiable::DoNotSchedule
        );
    }
}
