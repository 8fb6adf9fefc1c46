//! Multi-region rules (MR001..MR004): whether the environment survives what `spec.ha.survive`
//! says it must, a region loss (MR001..MR003) or a zone loss (MR004).

use std::collections::BTreeMap;

use super::finding::{Reporter, region_path, spec};
use super::rule::RuleId;
use super::what_if::{zone_loss, zones_of};
use super::workload::Workload;
use crate::environment::{Region, Survive};
use crate::render::RenderedSet;

/// Checks the environment's regions: MR001, MR002 and MR003.
pub(super) fn check_regions(cx: &mut Reporter<'_>) {
    regions_for_region_survival(cx);
    distinct_contexts(cx);
    region_loss_capacity(cx);
}

/// MR001: surviving a region loss takes a second region.
fn regions_for_region_survival(cx: &mut Reporter<'_>) {
    let env = cx.env;
    if env.ha.survive == Survive::Region && env.regions.len() < 2 {
        cx.report(
            RuleId::RegionsForRegionSurvival,
            None,
            None,
            spec().key("ha").key("survive"),
            format!("`survive: region` with {} region", env.regions.len()),
        );
    }
}

/// MR002: two regions on one kubeconfig context are one cluster, however they are named.
fn distinct_contexts(cx: &mut Reporter<'_>) {
    let env = cx.env;
    let mut contexts: BTreeMap<&str, &str> = BTreeMap::new();
    for r in &env.regions {
        if let Some(first) = contexts.insert(&r.context, &r.name) {
            cx.report(
                RuleId::DistinctContexts,
                Some(&r.name),
                None,
                region_path(env, &r.name).key("context"),
                format!(
                    "regions `{first}` and `{}` both use context `{}`",
                    r.name, r.context
                ),
            );
        }
    }
}

/// MR003: with `survive: region`, the regions left after any one is lost still run each
/// workload's capacity: `spec.ha.capacity` for the app, `ha.capacity` for each of
/// `spec.workloads` (a worker's pods cannot stand in for a web pod).
fn region_loss_capacity(cx: &mut Reporter<'_>) {
    let env = cx.env;
    if env.ha.survive != Survive::Region || env.regions.len() < 2 {
        return;
    }
    // (how the message starts, its replicas in a region, its capacity)
    type Unit<'a> = (String, Box<dyn Fn(&Region) -> u32 + 'a>, u32);
    let mut units: Vec<Unit<'_>> = Vec::new();
    if env.app.is_some() {
        units.push((
            String::new(),
            Box::new(|r: &Region| r.app.as_ref().map_or(0, |a| a.replicas)),
            env.ha.capacity,
        ));
    }
    for w in &env.workloads {
        let name = w.name.clone();
        units.push((
            format!("workload `{}`: ", w.name),
            Box::new(move |r: &Region| {
                r.workloads
                    .iter()
                    .find(|x| x.name == name)
                    .map_or(0, |x| x.replicas)
            }),
            w.ha.capacity,
        ));
    }
    for lost in &env.regions {
        for (what, replicas, capacity) in &units {
            let left: u32 = env
                .regions
                .iter()
                .filter(|r| r.name != lost.name)
                .map(replicas)
                .sum();
            if left < *capacity {
                cx.report(
                    RuleId::RegionLossCapacity,
                    Some(&lost.name),
                    None,
                    region_path(env, &lost.name),
                    format!(
                        "{what}losing region `{}` leaves {left} replicas, below the capacity of {capacity}",
                        lost.name
                    ),
                );
            }
        }
    }
}

/// MR004: with `survive: zone` or `region`, losing any zone of the set's region leaves each
/// workload at least its PodDisruptionBudget's minimum (workloads no PodDisruptionBudget
/// selects are HA002's).
pub(super) fn zone_loss_budget(
    cx: &mut Reporter<'_>,
    set: &RenderedSet,
    workloads: &[Workload<'_>],
) {
    if !matches!(cx.env.ha.survive, Survive::Zone | Survive::Region) {
        return;
    }
    let zones = zones_of(cx.env, set);
    for w in workloads {
        let Some(min) = w.pdb_minimum() else {
            continue;
        };
        let (left, _) = zone_loss(w, zones);
        if left < min {
            cx.report(
                RuleId::ZoneLossBudget,
                Some(&set.region),
                Some(w.object),
                spec().key("ha"),
                format!(
                    "losing a zone can leave {left} of {} replicas, below the PodDisruptionBudget minimum of {min}",
                    w.replicas
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{GOOD, check, ids};
    use super::*;

    #[test]
    fn region_survival_in_one_region_is_flagged() {
        let one = GOOD.replace("    - {name: west, context: c-west}\n", "");
        assert!(ids(&check(&one)).contains(&RuleId::RegionsForRegionSurvival));
        let zone = one.replace("survive: region", "survive: zone");
        assert!(!ids(&check(&zone)).contains(&RuleId::RegionsForRegionSurvival));
    }

    #[test]
    fn two_regions_on_one_context_are_flagged() {
        let same = GOOD.replace("c-west", "c-east");
        let f = check(&same);
        let mr002 = f
            .iter()
            .find(|f| f.rule == RuleId::DistinctContexts)
            .expect("MR002");
        assert_eq!(mr002.region.as_deref(), Some("west"));
    }

    #[test]
    fn a_region_loss_below_the_capacity_is_flagged() {
        let small = GOOD.replace("survive: region}", "survive: region, capacity: 5}");
        let f = check(&small);
        assert!(ids(&f).contains(&RuleId::RegionLossCapacity), "{f:?}");
        assert!(!ids(&check(GOOD)).contains(&RuleId::RegionLossCapacity));
    }

    #[test]
    fn a_region_loss_counts_each_workload_against_its_own_capacity() {
        let spec = "  namespace: shop
  workloads:
    web: {image: 'r.io/web:1@sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789', replicas: 3, port: 8080}
    worker: {image: 'r.io/w:1@sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789', replicas: 2, readinessProbe: {command: [ok]}, ha: {capacity: 3}}
  ha: {antiAffinity: required, disruptionBudget: {maxUnavailable: 1}, survive: region}
  dr: {rpo: 24h, backup: {schedule: '0 */6 * * *', ttl: 720h}, storageLocations: {default: {region: elsewhere}}}
  regions:
    - {name: east, context: c-east}
    - {name: west, context: c-west}
";
        // web: 3 left of capacity 3. worker: 2 left of capacity 3, though 5 pods remain.
        let f = check(spec);
        assert_eq!(ids(&f), vec![RuleId::RegionLossCapacity], "{f:?}");
        assert!(
            f.iter().all(|f| f.message.starts_with("workload `worker`")),
            "{f:?}"
        );
        assert_eq!(
            ids(&check(&spec.replace("capacity: 3", "capacity: 2"))),
            vec![]
        );
    }

    #[test]
    fn a_zone_loss_below_the_pdb_minimum_is_flagged() {
        // 3 replicas over 3 zones leave 2 >= 2: fine. minAvailable 2 with 2 replicas: a zone
        // loss leaves 1.
        let f = check(
            &GOOD
                .replace("replicas: 3", "replicas: 2")
                .replace("minAvailable: 2", "minAvailable: 1")
                .replace("survive: region", "survive: zone"),
        );
        assert!(!ids(&f).contains(&RuleId::ZoneLossBudget), "{f:?}");
        let f = check(
            &GOOD
                .replace("replicas: 3", "replicas: 4")
                .replace("minAvailable: 2", "minAvailable: 3")
                .replace("survive: region", "survive: zone"),
        );
        assert!(ids(&f).contains(&RuleId::ZoneLossBudget), "{f:?}");
    }
}
