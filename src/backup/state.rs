//! A region's backups as `status` shows them: the live Velero Schedule's state, the last good
//! backup and its age (the RPO achieved now), the newest failed one, when the next is due, and
//! what of it an alarm (`status --check`) should fire on.
//!
//! Sources of the rules: Velero v1.18.3 `pkg/apis/velero/v1/schedule_types.go` (phases `New`,
//! `Enabled`, `FailedValidation`; `spec.paused`; `status.lastBackup`, `status.lastSkipped`,
//! `status.validationErrors`) and `pkg/controller/schedule_controller.go` (`getNextRunTime`:
//! the next backup is `Next(t)` of the later of `lastSkipped` and `lastBackup`, or of the
//! Schedule's creation when it never ran).

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::environment::cron::{Dialect, Schedule};

/// The Schedule as Velero sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleState {
    /// Validated: Velero takes backups when they are due.
    Enabled,
    /// Not yet looked at by Velero (no Velero server runs, or it has not got to it).
    New,
    /// `spec.paused: true`: no backups are taken.
    Paused,
    /// Velero refused it (`status.validationErrors` say why): no backups are taken.
    FailedValidation,
    /// Not in the cluster.
    Missing,
}

impl std::fmt::Display for ScheduleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ScheduleState::Enabled => "enabled",
            ScheduleState::New => "new",
            ScheduleState::Paused => "paused",
            ScheduleState::FailedValidation => "FailedValidation",
            ScheduleState::Missing => "missing",
        })
    }
}

/// The achieved RPO against the objective (`spec.dr.rpo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RpoVerdict {
    /// The last completed backup is no older than the RPO.
    Met,
    /// It is older than the RPO.
    Missed,
    /// There is no completed backup to restore from.
    NoBackup,
    /// The environment declares no RPO.
    NoObjective,
}

impl std::fmt::Display for RpoVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RpoVerdict::Met => "met",
            RpoVerdict::Missed => "MISSED",
            RpoVerdict::NoBackup => "no backup",
            RpoVerdict::NoObjective => "no objective",
        })
    }
}

/// What `status --check` fails on, one per cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackupAlarm {
    ScheduleMissing,
    SchedulePaused,
    ScheduleFailedValidation,
    /// The last completed backup is older than the RPO.
    RpoMissed,
    /// An RPO is declared and no backup ever completed.
    NoCompletedBackup,
    /// The newest backup Velero ended did not end `Completed`.
    NewestBackupFailed,
}

impl std::fmt::Display for BackupAlarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackupAlarm::ScheduleMissing => "Schedule missing",
            BackupAlarm::SchedulePaused => "Schedule paused",
            BackupAlarm::ScheduleFailedValidation => "Schedule failed validation",
            BackupAlarm::RpoMissed => "RPO missed",
            BackupAlarm::NoCompletedBackup => "no completed backup",
            BackupAlarm::NewestBackupFailed => "newest backup failed",
        })
    }
}

/// One Backup of the Schedule, as Velero left it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupSeen {
    pub name: String,
    /// `status.phase`.
    pub phase: String,
    /// `status.startTimestamp` (else `metadata.creationTimestamp`), RFC 3339: when Velero
    /// began reading the cluster, so the newest point in time a restore can go back to is no
    /// older than this.
    pub started: String,
    /// `status.completionTimestamp`, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    /// Seconds from `started` to now.
    pub age_seconds: i64,
    pub errors: u64,
    pub warnings: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub validation_errors: Vec<String>,
}

/// A region's backups, measured at `now`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupState {
    /// The Schedule, `namespace/name`.
    pub schedule: String,
    pub state: ScheduleState,
    /// `status.phase` as Velero wrote it (none when missing or not yet looked at).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// `status.validationErrors`: why Velero refused the Schedule.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub validation_errors: Vec<String>,
    /// `status.lastBackup`, RFC 3339: when Velero last made a backup of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_backup: Option<String>,
    /// The newest `Completed` backup: the restore point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_completed: Option<BackupSeen>,
    /// The newest `Failed`, `PartiallyFailed` or `FailedValidation` backup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failed: Option<BackupSeen>,
    /// The last completed backup's age, seconds: the data a disaster now would lose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub achieved_rpo_seconds: Option<i64>,
    /// `spec.dr.rpo`, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpo_seconds: Option<u64>,
    pub verdict: RpoVerdict,
    /// When Velero takes the next backup, RFC 3339, with the cron library of the region's
    /// Velero version (in the past: overdue). None when paused, refused or never firing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_due: Option<String>,
    /// The time all of this was measured at, RFC 3339.
    pub measured_at: String,
    pub alarms: Vec<BackupAlarm>,
}

/// Velero's phases a backup ends in without being usable in full.
fn failed(phase: &str) -> bool {
    matches!(phase, "Failed" | "PartiallyFailed" | "FailedValidation")
}

/// Reads `schedule` (the live `velero.io/v1` Schedule, `None` when missing, named `name` =
/// `namespace/name`) and `backups` (its Backups, in any order) at `now`, against the RPO
/// `rpo` (seconds), reading the cron with `dialect`.
pub fn assess(
    name: &str,
    schedule: Option<&Value>,
    backups: &[Value],
    rpo: Option<u64>,
    dialect: Dialect,
    now: Timestamp,
) -> BackupState {
    let mut seen: Vec<BackupSeen> = backups.iter().filter_map(|b| seen(b, now)).collect();
    seen.sort_by(|a, b| b.started.cmp(&a.started).then(b.name.cmp(&a.name)));
    let last_completed = seen.iter().find(|b| b.phase == "Completed").cloned();
    let last_failed = seen.iter().find(|b| failed(&b.phase)).cloned();
    let newest_ended = seen
        .iter()
        .find(|b| b.phase == "Completed" || failed(&b.phase));
    let achieved = last_completed.as_ref().map(|b| b.age_seconds);
    let verdict = match (rpo, achieved) {
        (None, _) => RpoVerdict::NoObjective,
        (Some(_), None) => RpoVerdict::NoBackup,
        (Some(rpo), Some(age)) if u64::try_from(age).unwrap_or(0) <= rpo => RpoVerdict::Met,
        (Some(_), Some(_)) => RpoVerdict::Missed,
    };
    let mut state = BackupState {
        schedule: name.to_string(),
        state: ScheduleState::Missing,
        phase: None,
        validation_errors: Vec::new(),
        last_backup: None,
        last_completed,
        last_failed,
        achieved_rpo_seconds: achieved,
        rpo_seconds: rpo,
        verdict,
        next_due: None,
        measured_at: now.to_string(),
        alarms: Vec::new(),
    };
    if let Some(s) = schedule {
        read_schedule(&mut state, s, dialect);
    }
    state.alarms = alarms(&state, newest_ended.is_some_and(|b| failed(&b.phase)));
    state
}

/// Takes in the live Schedule's state and when its next backup is due.
fn read_schedule(state: &mut BackupState, s: &Value, dialect: Dialect) {
    let text = |v: &Value| v.as_str().map(String::from);
    state.phase = text(&s["status"]["phase"]).filter(|p| !p.is_empty());
    state.validation_errors = strings(&s["status"]["validationErrors"]);
    state.last_backup = text(&s["status"]["lastBackup"]);
    state.state = match state.phase.as_deref() {
        Some("FailedValidation") => ScheduleState::FailedValidation,
        _ if s["spec"]["paused"] == Value::Bool(true) => ScheduleState::Paused,
        Some("Enabled") => ScheduleState::Enabled,
        _ => ScheduleState::New,
    };
    if matches!(state.state, ScheduleState::Enabled | ScheduleState::New) {
        state.next_due = next_due(s, dialect).map(|t| t.to_string());
    }
}

/// Velero's `getNextRunTime`: `Next` of the later of `lastSkipped` and `lastBackup` (or of
/// the creation time when no backup was made yet).
fn next_due(s: &Value, dialect: Dialect) -> Option<Timestamp> {
    let time = |v: &Value| v.as_str().and_then(|t| t.parse::<Timestamp>().ok());
    let last =
        time(&s["status"]["lastBackup"]).or_else(|| time(&s["metadata"]["creationTimestamp"]))?;
    let from = match time(&s["status"]["lastSkipped"]) {
        Some(skipped) if skipped > last => skipped,
        _ => last,
    };
    let cron = Schedule::parse(s["spec"]["schedule"].as_str()?, dialect).ok()?;
    Timestamp::from_second(cron.next(from.as_second())?).ok()
}

/// One Backup, or `None` when it carries no time to measure it by.
fn seen(b: &Value, now: Timestamp) -> Option<BackupSeen> {
    let st = &b["status"];
    let text = |v: &Value| v.as_str().map(String::from);
    let started =
        text(&st["startTimestamp"]).or_else(|| text(&b["metadata"]["creationTimestamp"]))?;
    let at: Timestamp = started.parse().ok()?;
    Some(BackupSeen {
        name: text(&b["metadata"]["name"]).unwrap_or_default(),
        phase: text(&st["phase"]).unwrap_or_else(|| "New".into()),
        age_seconds: now.as_second() - at.as_second(),
        started: at.to_string(),
        completed: text(&st["completionTimestamp"]),
        errors: st["errors"].as_u64().unwrap_or(0),
        warnings: st["warnings"].as_u64().unwrap_or(0),
        failure_reason: text(&st["failureReason"]).filter(|r| !r.is_empty()),
        validation_errors: strings(&st["validationErrors"]),
    })
}

/// A list of strings in Velero's status (`validationErrors`); empty when absent.
pub(super) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn alarms(state: &BackupState, newest_failed: bool) -> Vec<BackupAlarm> {
    let mut out = Vec::new();
    match state.state {
        ScheduleState::Missing => out.push(BackupAlarm::ScheduleMissing),
        ScheduleState::Paused => out.push(BackupAlarm::SchedulePaused),
        ScheduleState::FailedValidation => out.push(BackupAlarm::ScheduleFailedValidation),
        ScheduleState::Enabled | ScheduleState::New => {}
    }
    match state.verdict {
        RpoVerdict::Missed => out.push(BackupAlarm::RpoMissed),
        RpoVerdict::NoBackup => out.push(BackupAlarm::NoCompletedBackup),
        RpoVerdict::Met | RpoVerdict::NoObjective => {}
    }
    if newest_failed {
        out.push(BackupAlarm::NewestBackupFailed);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2026-11-30T09:00:00Z".parse().unwrap()
    }

    fn schedule(status: Value) -> Value {
        json!({
            "metadata": {"name": "web-prod", "namespace": "velero",
                         "creationTimestamp": "2026-11-29T10:00:00Z"},
            "spec": {"schedule": "0 3 * * *", "template": {}},
            "status": status,
        })
    }

    fn backup(name: &str, phase: &str, start: &str) -> Value {
        json!({"metadata": {"name": name, "creationTimestamp": start},
               "status": {"phase": phase, "startTimestamp": start, "errors": 1,
                          "failureReason": "object store unreachable"}})
    }

    fn assess_at(s: Option<&Value>, backups: &[Value], rpo: u64) -> BackupState {
        assess(
            "velero/web-prod",
            s,
            backups,
            Some(rpo),
            Dialect::GoCron,
            now(),
        )
    }

    #[test]
    fn the_last_completed_backup_s_age_is_the_achieved_rpo_and_the_next_is_due_by_the_cron() {
        let s = schedule(json!({"phase": "Enabled", "lastBackup": "2026-11-30T03:00:00Z"}));
        let b = [
            backup("a", "Completed", "2026-11-29T03:00:00Z"),
            backup("b", "Completed", "2026-11-30T03:00:00Z"),
        ];
        let st = assess_at(Some(&s), &b, 86_400);
        assert_eq!(st.state, ScheduleState::Enabled);
        assert_eq!(st.last_completed.as_ref().unwrap().name, "b");
        assert_eq!(st.achieved_rpo_seconds, Some(6 * 3600));
        assert_eq!(st.verdict, RpoVerdict::Met);
        assert_eq!(st.next_due.as_deref(), Some("2026-12-01T03:00:00Z"));
        assert_eq!(st.alarms, vec![]);
        let tight = assess_at(Some(&s), &b, 3600);
        assert_eq!(tight.verdict, RpoVerdict::Missed);
        assert_eq!(tight.alarms, vec![BackupAlarm::RpoMissed]);
    }

    #[test]
    fn a_never_run_schedule_is_due_after_its_creation_or_its_last_skip() {
        let s = schedule(json!({"phase": "Enabled"}));
        let st = assess_at(Some(&s), &[], 86_400);
        assert_eq!(st.next_due.as_deref(), Some("2026-11-30T03:00:00Z"));
        assert_eq!(st.verdict, RpoVerdict::NoBackup);
        assert_eq!(st.alarms, vec![BackupAlarm::NoCompletedBackup]);
        let s = schedule(json!({"phase": "Enabled", "lastSkipped": "2026-11-30T04:00:00Z"}));
        let st = assess_at(Some(&s), &[], 86_400);
        assert_eq!(st.next_due.as_deref(), Some("2026-12-01T03:00:00Z"));
    }

    #[test]
    fn a_newest_failed_backup_alarms_even_with_an_older_good_one_within_the_rpo() {
        let s = schedule(json!({"phase": "Enabled"}));
        let b = [
            backup("good", "Completed", "2026-11-30T03:00:00Z"),
            backup("bad", "PartiallyFailed", "2026-11-30T08:00:00Z"),
            backup("running", "InProgress", "2026-11-30T08:59:00Z"),
        ];
        let st = assess_at(Some(&s), &b, 86_400);
        let failed = st.last_failed.as_ref().unwrap();
        assert_eq!((failed.name.as_str(), failed.errors), ("bad", 1));
        assert_eq!(failed.age_seconds, 3600);
        assert_eq!(st.verdict, RpoVerdict::Met);
        assert_eq!(st.alarms, vec![BackupAlarm::NewestBackupFailed]);
        // A later good backup clears it; the failed one is still shown.
        let mut b = b.to_vec();
        b.push(backup("again", "Completed", "2026-11-30T08:30:00Z"));
        let st = assess_at(Some(&s), &b, 86_400);
        assert_eq!(st.alarms, vec![]);
        assert!(st.last_failed.is_some());
    }

    #[test]
    fn missing_paused_and_refused_schedules_alarm_and_are_not_due() {
        let st = assess_at(None, &[], 86_400);
        assert_eq!(st.state, ScheduleState::Missing);
        assert_eq!(
            st.alarms,
            vec![BackupAlarm::ScheduleMissing, BackupAlarm::NoCompletedBackup]
        );
        let mut paused = schedule(json!({"phase": "Enabled"}));
        paused["spec"]["paused"] = json!(true);
        let st = assess_at(Some(&paused), &[], 86_400);
        assert_eq!(
            (st.state, st.next_due.as_deref()),
            (ScheduleState::Paused, None)
        );
        let refused = schedule(json!({"phase": "FailedValidation",
            "validationErrors": ["a BackupStorageLocation CRD with name \"nowhere\" must exist"]}));
        let st = assess_at(Some(&refused), &[], 86_400);
        assert_eq!(st.state, ScheduleState::FailedValidation);
        assert_eq!(st.validation_errors.len(), 1);
        assert_eq!(st.alarms[0], BackupAlarm::ScheduleFailedValidation);
    }

    #[test]
    fn without_an_rpo_there_is_no_verdict_to_alarm_on() {
        let s = schedule(json!({"phase": "Enabled"}));
        let st = assess(
            "velero/web-prod",
            Some(&s),
            &[],
            None,
            Dialect::GoCron,
            now(),
        );
        assert_eq!(
            (st.verdict, st.alarms.clone()),
            (RpoVerdict::NoObjective, vec![])
        );
    }
}
