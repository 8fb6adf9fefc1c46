//! What the commands report, for people (the printer's text) and machines (JSON, SARIF):
//! the shapes the printer reads, kept apart from the commands that fill them so that the
//! printer depends on no command.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::cluster::record::Record;
use crate::environment::Severity;
use crate::plan::Summary;
use crate::policy::{Finding, Loss, Survival};
use crate::render::Warning;
use crate::revision::tree::Change;

#[derive(Debug, Clone, Serialize)]
pub struct SetSummary {
    pub environment: String,
    pub region: String,
    pub digest: String,
    pub objects: usize,
    pub directory: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommitSummary {
    /// The commit id, or `None` when nothing changed.
    pub id: Option<String>,
    /// `HEAD` or `refs/heads/<branch>`.
    pub target: String,
}

/// What a render did.
#[derive(Debug, Clone, Serialize)]
pub struct RenderReport {
    pub out: PathBuf,
    pub sets: Vec<SetSummary>,
    /// Files added, changed or removed (or, with --check, that would be).
    pub changes: Vec<Change>,
    pub warnings: Vec<Warning>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitSummary>,
    /// With --check: whether the tree is up to date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub up_to_date: Option<bool>,
}

/// What validate found.
#[derive(Debug, Clone, Serialize)]
pub struct ValidateReport {
    pub findings: Vec<Finding>,
    pub strict: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lose: Option<Loss>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what_if: Option<Vec<Survival>>,
}

impl ValidateReport {
    /// Whether the run fails: an unwaived error (or warning, with --strict), or a loss the
    /// environment does not survive.
    pub fn failed(&self) -> bool {
        let blocking = |f: &Finding| {
            f.waived.is_none()
                && (f.severity == Severity::Error
                    || (self.strict && f.severity == Severity::Warning))
        };
        self.findings.iter().any(blocking)
            || self
                .what_if
                .as_ref()
                .is_some_and(|w| w.iter().any(|s| !s.holds))
    }
}

/// Live versus the deployed revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Drift {
    /// Live is what the deployed revision says.
    None,
    /// Something would be created, changed, renamed, pruned or expired.
    Drifted,
    /// Nothing deployed, deployed from an uncommitted working tree, or not readable.
    Unknown,
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Drift::None => "none",
            Drift::Drifted => "drifted",
            Drift::Unknown => "unknown",
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RegionStatus {
    pub region: String,
    pub context: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployed: Option<Record>,
    pub drift: Drift,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift_summary: Option<Summary>,
    /// Each object that differs from the deployed revision: `action Kind ns/name` (what a
    /// rollout of that revision would do to it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drifted: Vec<String>,
    /// The region's Velero Schedule and backups; `None` when the environment renders no
    /// Schedule (no `spec.dr.backup`) or the region could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backups: Option<crate::backup::BackupState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RegionStatus {
    /// Whether the region runs what its record says, healthy and unchanged since.
    pub fn in_sync(&self) -> bool {
        self.drift == Drift::None
            && self
                .deployed
                .as_ref()
                .is_some_and(|d| d.health == crate::cluster::record::Health::Ok)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub environment: String,
    /// `--check`: backup alarms fail the run too.
    pub check: bool,
    pub regions: Vec<RegionStatus>,
    /// The drills on record for the environment.
    pub drills: DrillStatus,
}

/// The drills committed under `drills/<env>/` at HEAD (`drill --commit`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct DrillStatus {
    /// The newest drill, whatever its verdict.
    pub last: Option<crate::drill::history::DrillRecord>,
    /// The newest drill that passed.
    pub last_passed: Option<crate::drill::history::DrillRecord>,
    /// `dr.drillEvery`, in seconds.
    pub every_seconds: Option<u64>,
    /// With `dr.drillEvery`: no drill passed within it (validate's DR009).
    pub overdue: bool,
    /// The history could not be read (a `report.json` that is not a drill report).
    pub error: Option<String>,
}

impl StatusReport {
    /// The exit code of `status`: 0 every region runs its recorded revision, healthy, without
    /// drift (and, with `--check`, no region has a backup alarm); 1 a region drifted, failed
    /// its last health check, has nothing deployed, or runs a revision whose drift cannot be
    /// known (rolled out from an uncommitted working tree), or, with `--check`, has a backup
    /// alarm (its Schedule missing, paused or refused, its RPO missed, its newest backup
    /// failed); 2 a region could not be read (this wins: an unreadable region is not known to
    /// be fine).
    pub fn outcome(&self) -> u8 {
        let alarmed = |r: &RegionStatus| r.backups.as_ref().is_some_and(|b| !b.alarms.is_empty());
        if self.regions.iter().any(|r| r.error.is_some()) {
            2
        } else if self.regions.iter().all(RegionStatus::in_sync)
            && !(self.check && self.regions.iter().any(alarmed))
        {
            0
        } else {
            1
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub commit: String,
    /// Seconds since the Unix epoch.
    pub time: i64,
    pub summary: String,
    /// Region -> set digest at this commit.
    pub digests: BTreeMap<String, String>,
    /// Regions whose deployed revision is this commit.
    pub deployed_in: Vec<String>,
}

/// What a `drill` command did.
#[derive(Debug, Clone)]
pub enum Drilled {
    /// `--dry-run`: what it would touch.
    Planned(crate::drill::ZonePlan),
    Ran(Box<crate::drill::DrillReport>),
    /// `--lose region=X --dry-run`: the steps it would take.
    RegionPlanned(crate::drill::region::RegionPlan),
    RegionRan(Box<crate::drill::region::RegionDrillReport>),
    /// What `--cleanup` undid, per region.
    CleanedUp(Vec<crate::drill::CleanedUp>),
}

/// What `backup` did: one Velero Backup per selected region.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    pub environment: String,
    /// Nothing was created: each Backup was only validated by the API server.
    pub dry_run: bool,
    /// Whether the command waited for Velero to end each backup.
    pub waited: bool,
    pub regions: Vec<crate::backup::RegionBackup>,
}

impl BackupReport {
    /// 0 every Backup created (and, when waited for, `Completed`); 1 one ended in another
    /// phase or was not ended in time; 2 one could not be created.
    pub fn outcome(&self) -> u8 {
        use crate::backup::BackupStatus;
        match self.regions.iter().map(|r| r.status).max() {
            None
            | Some(BackupStatus::Completed | BackupStatus::Created | BackupStatus::Planned) => 0,
            Some(BackupStatus::Failed | BackupStatus::TimedOut) => 1,
            Some(BackupStatus::Error) => 2,
        }
    }
}
