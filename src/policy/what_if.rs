//! The loss model: what losing a zone or a region leaves of each workload (`validate --lose`,
//! and MR004 for every zone).

use serde::Serialize;

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
    pub pdb_minimum: Option<u32>,
    pub holds: bool,
}

/// The zones a region is assumed to have when the environment does not list them (the
/// environment's own default is three, `<region>-1` to `<region>-3`).
const DEFAULT_ZONES: usize = 3;

/// What losing one of `zones` zones leaves of a workload: at least `.0`, at most `.1` replicas.
///
/// Only a hard topology spread over `topology.kubernetes.io/zone` bounds it: with maxSkew 1
/// every zone holds the floor or the ceiling of replicas / zones (Kubernetes API, "Pod
/// Topology Spread Constraints"). Without one, the scheduler may have put every pod in the
/// lost zone.
pub(super) fn zone_loss(w: &Workload<'_>, zones: usize) -> (u32, u32) {
    let zones = zones.max(1) as u32;
    if zones == 1 {
        return (0, 0);
    }
    if w.hard_spread_over(ZONE_KEY) {
        (
            w.replicas - w.replicas.div_ceil(zones),
            w.replicas - w.replicas / zones,
        )
    } else {
        (0, w.replicas)
    }
}

/// The number of zones of the region a set is rendered for.
pub(super) fn zones_of(env: &Environment, set: &RenderedSet) -> usize {
    env.regions
        .iter()
        .find(|r| r.name == set.region)
        .map_or(DEFAULT_ZONES, |r| r.zones.len())
}

/// Predicts what a loss leaves of every workload of an environment. For a region loss,
/// `holds` says whether the remaining regions carry the declared capacity (`spec.ha.capacity`);
/// for a zone loss, whether each workload keeps its PodDisruptionBudget's minimum (at least 1).
pub fn what_if(env: &Environment, sets: &[&RenderedSet], loss: &Loss) -> Vec<Survival> {
    let lost_region = match loss {
        Loss::Region(r) => Some(r.as_str()),
        Loss::Zone(_) => None,
    };
    let remaining: u32 = sets
        .iter()
        .filter(|s| Some(s.region.as_str()) != lost_region)
        .flat_map(|s| workloads(s).into_iter().map(|w| w.replicas))
        .sum();
    let mut out = Vec::new();
    for set in sets {
        let region = env.regions.iter().find(|r| r.name == set.region);
        for w in workloads(set) {
            let pdb_minimum = w.pdb_minimum();
            let (left_min, left_max) = match loss {
                Loss::Region(r) if *r == set.region => (0, 0),
                Loss::Region(_) => (w.replicas, w.replicas),
                Loss::Zone(z) if region.is_some_and(|r| r.zones.iter().any(|x| x == z)) => {
                    zone_loss(&w, zones_of(env, set))
                }
                Loss::Zone(_) => (w.replicas, w.replicas),
            };
            let holds = match loss {
                Loss::Region(_) => remaining >= env.ha.capacity,
                Loss::Zone(_) => left_min >= pdb_minimum.unwrap_or(1).max(1),
            };
            out.push(Survival {
                environment: env.name.clone(),
                region: set.region.clone(),
                workload: w.object.id.to_string(),
                replicas: w.replicas,
                left_min,
                left_max,
                pdb_minimum,
                holds,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{GOOD, load};
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
    fn losing_a_zone_without_a_hard_zone_spread_can_leave_nothing() {
        let (env, sets) = load(&GOOD.replace("antiAffinity: required", "spread: [hostname]"));
        let refs: Vec<&RenderedSet> = sets.iter().collect();
        let zone = what_if(&env, &refs, &Loss::Zone("east-2".into()));
        let east = zone.iter().find(|s| s.region == "east").unwrap();
        assert_eq!((east.left_min, east.left_max, east.holds), (0, 3, false));
    }
}
