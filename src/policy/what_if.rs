//! The loss model: what losing a zone or a region leaves of each workload (`validate --lose`,
//! and MR004 for every zone).

use std::collections::BTreeMap;

use serde::Serialize;

use super::stateful::{claim_templates, is_zonal};
use super::workload::{Workload, ZONE_KEY, workloads};
use crate::environment::Environment;
use crate::render::RenderedSet;

/// What to lose in a what-if analysis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "name")]
pub enum Loss {
    Region(String),
    Zone(String),
}

/// One line of a what-if analysis: a workload in a region after the loss.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Survival {
    pub environment: String,
    pub region: String,
    pub workload: String,
    pub replicas: u32,
    /// Replicas left right after the loss: at least `left_min`, at most `left_max` (the
    /// scheduler decides which zone holds the extra pod when replicas do not divide evenly).
    pub left_min: u32,
    pub left_max: u32,
    /// Replicas running once the scheduler has placed what it can, before the lost zone
    /// returns: a Deployment's pods come back in the other zones; a StatefulSet's pods whose
    /// volumes live in the lost zone stay Pending (volume node affinity conflict), so it keeps
    /// what the loss left.
    pub recovered_min: u32,
    pub recovered_max: u32,
    /// Whether the workload's pods are pinned to their volumes' zones (a StatefulSet on zonal
    /// volumes).
    pub pinned: bool,
    pub pdb_minimum: Option<u32>,
    pub holds: bool,
}

/// The zones a region is assumed to have when the environment does not list them (the
/// environment's own default is three, `<region>-1` to `<region>-3`).
const DEFAULT_ZONES: usize = 3;

/// What losing one of `zones` zones leaves of a workload: at least `.0`, at most `.1` replicas,
/// over every placement the scheduler allows.
///
/// Only hard (`DoNotSchedule`) topology spreads over `topology.kubernetes.io/zone` that count
/// the workload's own pods bound it; with several, every one holds. A soft spread
/// (`ScheduleAnyway`) or none lets the scheduler put every pod in the lost zone (Kubernetes
/// API, "Pod Topology Spread Constraints").
pub(super) fn zone_loss(w: &Workload<'_>, zones: usize) -> (u32, u32) {
    let zones = zones.max(1) as u32;
    if zones == 1 {
        return (0, 0);
    }
    w.hard_spreads_over(ZONE_KEY)
        .map(|s| skew_bounds(w.replicas, zones, s.max_skew, s.min_domains))
        .fold((0, w.replicas), |(lo, hi), (l, h)| (lo.max(l), hi.min(h)))
}

/// The replicas left after losing one of `zones` zones under one hard spread: the scheduler
/// places a pod in a zone only while that zone's count + 1 minus the emptiest zone's count is
/// at most `max_skew` (the emptiest counts 0 while there are fewer zones than `min_domains`).
/// So every placement with `max - min <= max_skew` is reachable, and the lost zone may hold
/// the most: 3 replicas, 3 zones, maxSkew 2 can be 2/1/0, and a loss leaves 1.
fn skew_bounds(replicas: u32, zones: u32, max_skew: u32, min_domains: u32) -> (u32, u32) {
    let others = zones - 1;
    if zones < min_domains {
        // Each zone holds at most max_skew pods; the rest stay pending.
        let placed = replicas.min(zones.saturating_mul(max_skew));
        let most = placed.min(max_skew);
        let least = placed.saturating_sub(others.saturating_mul(max_skew));
        return (placed - most, placed - least);
    }
    // The lost zone holds x, every other at least x - max_skew: x + others * (x - skew) <= n.
    let most = if replicas <= max_skew {
        replicas
    } else {
        ((u64::from(replicas) + u64::from(others) * u64::from(max_skew)) / u64::from(zones)) as u32
    };
    // The lost zone holds y, every other at most y + max_skew: n - y <= others * (y + skew).
    let spare = u64::from(others) * u64::from(max_skew);
    let least = u64::from(replicas)
        .saturating_sub(spare)
        .div_ceil(u64::from(zones)) as u32;
    (replicas - most, replicas - least)
}

/// The number of zones of the region a set is rendered for.
pub(super) fn zones_of(env: &Environment, set: &RenderedSet) -> usize {
    env.regions
        .iter()
        .find(|r| r.name == set.region)
        .map_or(DEFAULT_ZONES, |r| r.zones.len())
}

/// Predicts what a loss leaves of every workload of an environment. For a region loss,
/// `holds` says whether the remaining regions carry that workload's declared capacity (its
/// `ha.capacity` in `spec.workloads`, else `spec.ha.capacity`); for a zone loss, whether each
/// workload keeps its PodDisruptionBudget's minimum (at least 1).
pub fn what_if(env: &Environment, sets: &[&RenderedSet], loss: &Loss) -> Vec<Survival> {
    let lost_region = match loss {
        Loss::Region(r) => Some(r.as_str()),
        Loss::Zone(_) => None,
    };
    // Each workload's replicas in the regions that remain, by object: a region loss is
    // carried workload by workload, not by a total over unlike pods.
    let mut remaining: BTreeMap<String, u32> = BTreeMap::new();
    for s in sets
        .iter()
        .filter(|s| Some(s.region.as_str()) != lost_region)
    {
        for w in workloads(s) {
            *remaining.entry(w.object.id.to_string()).or_default() += w.replicas;
        }
    }
    let mut out = Vec::new();
    for set in sets {
        let region = env.regions.iter().find(|r| r.name == set.region);
        for w in workloads(set) {
            let pdb_minimum = w.pdb_minimum();
            let pinned =
                region.is_some_and(|r| claim_templates(w.object).iter().any(|c| is_zonal(r, c)));
            let (left_min, left_max) = match loss {
                Loss::Region(r) if *r == set.region => (0, 0),
                Loss::Region(_) => (w.replicas, w.replicas),
                Loss::Zone(z) if region.is_some_and(|r| r.zones.iter().any(|x| x == z)) => {
                    zone_loss(&w, zones_of(env, set))
                }
                Loss::Zone(_) => (w.replicas, w.replicas),
            };
            let (recovered_min, recovered_max) = match loss {
                Loss::Zone(_) if !pinned => (w.replicas, w.replicas),
                _ => (left_min, left_max),
            };
            let id = w.object.id.to_string();
            let holds = match loss {
                Loss::Region(_) => {
                    remaining.get(&id).copied().unwrap_or(0) >= capacity(env, &w.object.id.name)
                }
                Loss::Zone(_) => left_min >= pdb_minimum.unwrap_or(1).max(1),
            };
            out.push(Survival {
                environment: env.name.clone(),
                region: set.region.clone(),
                workload: id,
                replicas: w.replicas,
                left_min,
                left_max,
                recovered_min,
                recovered_max,
                pinned,
                pdb_minimum,
                holds,
            });
        }
    }
    out
}

/// The replicas a workload needs across regions: its `ha.capacity` in `spec.workloads`, else
/// the environment's `spec.ha.capacity` (the app's, or for objects a template adds).
pub(super) fn capacity(env: &Environment, name: &str) -> u32 {
    env.workloads
        .iter()
        .find(|w| w.name == name)
        .map_or(env.ha.capacity, |w| w.ha.capacity)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{GOOD, STATEFUL, load};
    use super::*;

    #[test]
    fn losing_a_zone_of_a_hard_spread_leaves_the_floor_to_the_ceiling_of_two_thirds() {
        let (env, sets) = load(&GOOD.replace("replicas: 3", "replicas: 4"));
        let refs: Vec<&RenderedSet> = sets.iter().collect();
        let zone = what_if(&env, &refs, &Loss::Zone("east-1".into()));
        let east = zone.iter().find(|s| s.region == "east").unwrap();
        assert_eq!(
            (east.left_min, east.left_max, east.pdb_minimum, east.holds),
            (2, 3, Some(2), true)
        );
        let west = zone.iter().find(|s| s.region == "west").unwrap();
        assert_eq!((west.left_min, west.left_max), (4, 4));
    }

    #[test]
    fn losing_a_region_holds_when_the_others_carry_the_capacity() {
        let (env, sets) = load(&GOOD.replace("replicas: 3", "replicas: 4"));
        let refs: Vec<&RenderedSet> = sets.iter().collect();
        let region = what_if(&env, &refs, &Loss::Region("east".into()));
        assert!(region.iter().all(|s| s.holds));
        assert_eq!(
            region.iter().find(|s| s.region == "east").unwrap().left_max,
            0
        );
        let (env, sets) = load(&GOOD.replace("survive: region}", "survive: region, capacity: 5}"));
        let refs: Vec<&RenderedSet> = sets.iter().collect();
        let region = what_if(&env, &refs, &Loss::Region("east".into()));
        assert!(region.iter().all(|s| !s.holds));
    }

    #[test]
    fn skew_bounds_follow_max_skew_and_min_domains() {
        // maxSkew 1 is the floor or the ceiling of replicas / zones.
        assert_eq!(skew_bounds(3, 3, 1, 1), (2, 2));
        assert_eq!(skew_bounds(4, 3, 1, 1), (2, 3));
        // Issue 13 item 14: 2/1/0 is allowed.
        assert_eq!(skew_bounds(3, 3, 2, 1), (1, 3));
        assert_eq!(skew_bounds(6, 3, 2, 1), (3, 5));
        // Fewer zones than minDomains: at most maxSkew per zone, the rest pending.
        assert_eq!(skew_bounds(6, 3, 1, 5), (2, 2));
        assert_eq!(skew_bounds(2, 3, 5, 1), (0, 2));
    }

    /// Renders GOOD with `replicas`, `minAvailable: 2`, `survive: zone`, and the zone spread of
    /// the Deployment edited by `edit`.
    fn zone_what_if(
        edit: impl Fn(&mut serde_json::Value),
    ) -> (Survival, Vec<crate::policy::Finding>) {
        let spec = GOOD.replace("survive: region", "survive: zone");
        let (env, mut sets) = load(&spec);
        for o in sets.iter_mut().flat_map(|s| s.objects.iter_mut()) {
            if o.id.kind == "Deployment" {
                let spreads = o.object["spec"]["template"]["spec"]["topologySpreadConstraints"]
                    .as_array_mut()
                    .unwrap();
                let zone = spreads
                    .iter_mut()
                    .find(|c| c["topologyKey"] == ZONE_KEY)
                    .unwrap();
                edit(zone);
            }
        }
        let refs: Vec<&RenderedSet> = sets.iter().collect();
        let zone = what_if(&env, &refs, &Loss::Zone("east-1".into()));
        let east = zone.into_iter().find(|s| s.region == "east").unwrap();
        (east, crate::policy::validate(&env, &refs))
    }

    #[test]
    fn issue_13_item_14_a_zone_loss_under_max_skew_2_can_leave_one_of_three() {
        let (east, findings) = zone_what_if(|c| c["maxSkew"] = 2.into());
        assert_eq!(
            (east.left_min, east.left_max, east.pdb_minimum, east.holds),
            (1, 3, Some(2), false)
        );
        assert!(
            findings
                .iter()
                .any(|f| f.rule == crate::policy::RuleId::ZoneLossBudget),
            "{findings:?}"
        );
        let (east, _) = zone_what_if(|_| {});
        assert_eq!((east.left_min, east.holds), (2, true));
    }

    #[test]
    fn a_soft_zone_spread_or_one_counting_other_pods_bounds_nothing() {
        let (east, _) = zone_what_if(|c| c["whenUnsatisfiable"] = "ScheduleAnyway".into());
        assert_eq!((east.left_min, east.left_max), (0, 3));
        let (east, _) = zone_what_if(|c| {
            c["labelSelector"] = serde_json::json!({"matchLabels": {"app": "other"}});
        });
        assert_eq!((east.left_min, east.left_max), (0, 3));
        let (east, _) = zone_what_if(|c| c["minDomains"] = 4.into());
        assert_eq!((east.left_min, east.left_max), (2, 2));
    }

    #[test]
    fn losing_a_zone_without_a_hard_zone_spread_can_leave_nothing() {
        let (env, sets) = load(&GOOD.replace("antiAffinity: required", "spread: [hostname]"));
        let refs: Vec<&RenderedSet> = sets.iter().collect();
        let zone = what_if(&env, &refs, &Loss::Zone("east-2".into()));
        let east = zone.iter().find(|s| s.region == "east").unwrap();
        assert_eq!((east.left_min, east.left_max, east.holds), (0, 3, false));
    }

    fn row<'a>(rows: &'a [Survival], region: &str, kind: &str) -> &'a Survival {
        rows.iter()
            .find(|s| s.region == region && s.workload.starts_with(kind))
            .unwrap()
    }

    #[test]
    fn losing_a_zone_brings_deployment_pods_back_but_leaves_pinned_stateful_pods_pending() {
        let (env, sets) = load(&STATEFUL.replace("capacity: 3", "capacity: 4"));
        let refs: Vec<&RenderedSet> = sets.iter().collect();
        let rows = what_if(&env, &refs, &Loss::Zone("east-2".into()));
        let web = row(&rows, "east", "Deployment");
        assert_eq!(
            (
                web.left_min,
                web.recovered_min,
                web.recovered_max,
                web.pinned
            ),
            (2, 3, 3, false)
        );
        let db = row(&rows, "east", "StatefulSet");
        assert_eq!(
            (
                db.left_min,
                db.left_max,
                db.recovered_min,
                db.recovered_max,
                db.pinned
            ),
            (2, 2, 2, 2, true)
        );
        assert!(db.holds, "2 left >= the PDB minimum of 2");
        let west = row(&rows, "west", "StatefulSet");
        assert_eq!((west.left_min, west.recovered_min), (3, 3));
        // A regional class follows its pod to another zone.
        let (env, sets) = load(&STATEFUL.replace("topology: zonal", "topology: regional"));
        let refs: Vec<&RenderedSet> = sets.iter().collect();
        let rows = what_if(&env, &refs, &Loss::Zone("east-2".into()));
        let db = row(&rows, "east", "StatefulSet");
        assert_eq!((db.recovered_min, db.pinned), (3, false));
    }

    #[test]
    fn losing_a_region_counts_each_workloads_capacity_separately() {
        let (env, sets) = load(&STATEFUL.replace("capacity: 3", "capacity: 4"));
        let refs: Vec<&RenderedSet> = sets.iter().collect();
        let rows = what_if(&env, &refs, &Loss::Region("east".into()));
        // web needs 3 and west runs 3; db needs 4 and west runs 3, though 6 pods remain.
        assert!(row(&rows, "west", "Deployment").holds);
        assert!(!row(&rows, "west", "StatefulSet").holds);
        assert_eq!(row(&rows, "east", "StatefulSet").recovered_max, 0);
    }
}
