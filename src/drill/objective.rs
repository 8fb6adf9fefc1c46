//! Verdicts per objective: each declared objective (`dr.rpo`, `dr.rto`, `ha.capacity`, a
//! PodDisruptionBudget's minimum) with its target, what the drill achieved, and whether it was
//! met. A drill passes when every objective is met (exit 0), fails when one is missed (exit 1).

use serde::Serialize;

/// The objectives a drill is measured against, named as in the environment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ObjectiveKind {
    /// `spec.dr.rpo`: at most this much data lost (t0 minus the completion of the backup used).
    #[serde(rename = "dr.rpo")]
    Rpo,
    /// `spec.dr.rto`: every workload available again within this long of t0.
    #[serde(rename = "dr.rto")]
    Rto,
    /// `spec.ha.capacity`: replicas the surviving regions must carry after a region loss.
    #[serde(rename = "ha.capacity")]
    Capacity,
    /// A PodDisruptionBudget's minimum available (at least one replica without a PDB).
    #[serde(rename = "pdb.minimum")]
    PdbMinimum,
}

impl std::fmt::Display for ObjectiveKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ObjectiveKind::Rpo => "dr.rpo",
            ObjectiveKind::Rto => "dr.rto",
            ObjectiveKind::Capacity => "ha.capacity",
            ObjectiveKind::PdbMinimum => "pdb.minimum",
        })
    }
}

/// One objective's verdict. Durations are in seconds, capacities in replicas; `achieved` is
/// `None` when the drill could not measure it (a path that never recovered), which misses it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Objective {
    pub objective: ObjectiveKind,
    /// What it was measured on: a recovery path (`from backup`, `from git`), a workload.
    pub scope: String,
    /// The target as declared (`30m`, `6`).
    pub target: String,
    pub target_value: f64,
    pub achieved: Option<f64>,
    pub met: bool,
}

impl Objective {
    /// An upper bound (RPO, RTO): met when the achieved seconds are at most the target.
    pub fn at_most(
        kind: ObjectiveKind,
        scope: &str,
        target: &str,
        achieved: Option<f64>,
    ) -> Option<Objective> {
        let limit = crate::environment::parse_duration(target)? as f64;
        Some(Objective {
            objective: kind,
            scope: scope.into(),
            target: target.into(),
            target_value: limit,
            met: achieved.is_some_and(|a| a <= limit),
            achieved,
        })
    }

    /// A lower bound (capacity, PDB minimum): met when the achieved replicas are at least the
    /// target.
    pub fn at_least(kind: ObjectiveKind, scope: &str, target: u32, achieved: u32) -> Objective {
        Objective {
            objective: kind,
            scope: scope.into(),
            target: target.to_string(),
            target_value: f64::from(target),
            achieved: Some(f64::from(achieved)),
            met: achieved >= target,
        }
    }

    /// The achieved value as a person reads it: `42.1s` for durations, `5` for replicas,
    /// `not reached` when nothing was measured.
    pub fn achieved_text(&self) -> String {
        match (self.achieved, self.objective) {
            (None, _) => "not reached".into(),
            (Some(s), ObjectiveKind::Rpo | ObjectiveKind::Rto) => seconds_text(s),
            (Some(n), _) => format!("{n:.0}"),
        }
    }
}

/// `42.1s`, `12m03s`, `3h20m`: seconds as a person reads them.
pub fn seconds_text(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{}h{:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

/// Whether every objective was met (none declared: met).
pub fn all_met(objectives: &[Objective]) -> bool {
    objectives.iter().all(|o| o.met)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_bounds_are_met_at_or_below_the_target_and_missed_when_not_reached() {
        let o = |a| Objective::at_most(ObjectiveKind::Rto, "from git", "30m", a).unwrap();
        assert!(o(Some(1800.0)).met);
        assert!(!o(Some(1800.5)).met);
        assert!(!o(None).met);
        assert_eq!(o(None).achieved_text(), "not reached");
        let tight = Objective::at_most(ObjectiveKind::Rto, "from backup", "1s", Some(4.2)).unwrap();
        assert!(!tight.met);
        assert_eq!(tight.target_value, 1.0);
        assert!(Objective::at_most(ObjectiveKind::Rpo, "x", "soon", Some(1.0)).is_none());
    }

    #[test]
    fn lower_bounds_and_their_names() {
        let o = Objective::at_least(ObjectiveKind::Capacity, "centralus", 6, 3);
        assert!(!o.met);
        assert_eq!(o.achieved_text(), "3");
        assert_eq!(
            serde_json::to_value(ObjectiveKind::PdbMinimum).unwrap(),
            "pdb.minimum"
        );
        assert_eq!(ObjectiveKind::Rpo.to_string(), "dr.rpo");
        assert_eq!(seconds_text(725.0), "12m05s");
        assert_eq!(seconds_text(7260.0), "2h01m");
    }
}
