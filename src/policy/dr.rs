//! DR rules (DR001..DR005): whether the Velero backups the environment declares can meet its
//! RPO, and whether the rendered Schedules back up its namespace somewhere.

use super::finding::{Reporter, spec};
use super::rule::RuleId;
use crate::environment::cron::{Schedule, VeleroVersion, format_seconds};
use crate::environment::{Backup, parse_duration, parse_go_duration};
use crate::render::{RenderedObject, RenderedSet};

/// Checks `spec.dr` against the RPO: DR001, DR002 and DR003. An RPO that does not parse is the
/// environment loader's to report; these rules skip it.
pub(super) fn check_backup(cx: &mut Reporter<'_>) {
    let env = cx.env;
    let Some(rpo) = env.dr.rpo.as_deref().and_then(parse_duration) else {
        return;
    };
    match &env.dr.backup {
        None => backup_for_rpo(cx),
        Some(backup) => {
            backup_gap_within_rpo(cx, backup, rpo);
            ttl_covers_rpo(cx, backup, rpo);
        }
    }
}

/// DR001: an RPO with nothing to restore from.
fn backup_for_rpo(cx: &mut Reporter<'_>) {
    let rpo = cx.env.dr.rpo.as_deref().unwrap_or_default();
    cx.report(
        RuleId::BackupForRpo,
        None,
        None,
        spec().key("dr").key("rpo"),
        format!("RPO {rpo} but no `backup`"),
    );
}

/// DR002: the longest gap between two backups, walked over the calendar (so weekday-only
/// schedules show their weekend gap and time zones their DST nights) with the cron library of
/// each Velero version the regions run: the same schedule can fire every other day under
/// v1.18.1 and every other week under v1.18.3. One finding per version that misses the RPO.
fn backup_gap_within_rpo(cx: &mut Reporter<'_>, backup: &Backup, rpo: u64) {
    let versions: Vec<VeleroVersion> = VeleroVersion::ALL
        .into_iter()
        .filter(|v| cx.env.regions.iter().any(|r| r.velero == *v))
        .collect();
    for version in versions {
        let Ok(schedule) = Schedule::parse(&backup.schedule, version.dialect()) else {
            continue;
        };
        let gap = schedule.longest_gap();
        if gap.is_some_and(|g| u64::try_from(g).unwrap_or(0) <= rpo) {
            continue;
        }
        let leaves = match gap {
            Some(g) => format!("leaves up to {} between backups", format_seconds(g)),
            None => "never fires".to_string(),
        };
        cx.report(
            RuleId::BackupGapWithinRpo,
            None,
            None,
            spec().key("dr").key("backup").key("schedule"),
            format!(
                "`{}` {leaves} under Velero {version}, beyond the RPO of {}",
                backup.schedule,
                format_seconds(rpo as i64)
            ),
        );
    }
}

/// Velero's `--default-backup-ttl` when nobody changed it: what a `ttl` of 0 means.
const VELERO_DEFAULT_TTL_SECS: u64 = 720 * 3600;

/// DR003: Velero deletes a backup once its ttl passes, so a shorter ttl than the RPO can leave
/// no restore point.
fn ttl_covers_rpo(cx: &mut Reporter<'_>, backup: &Backup, rpo: u64) {
    let Ok(ns) = parse_go_duration(&backup.ttl) else {
        return;
    };
    let ttl = match u64::try_from(ns / 1_000_000_000).unwrap_or(0) {
        0 if ns == 0 => VELERO_DEFAULT_TTL_SECS,
        s => s,
    };
    if ttl < rpo {
        cx.report(
            RuleId::TtlCoversRpo,
            None,
            None,
            spec().key("dr").key("backup").key("ttl"),
            format!(
                "ttl {} is shorter than the RPO of {}",
                backup.ttl,
                format_seconds(rpo as i64)
            ),
        );
    }
}

/// Checks the Velero Schedules rendered for one region: DR004 and DR005 (Velero API,
/// `Schedule.spec.template` is a Backup spec). An environment without `spec.dr.backup` has
/// DR001 to say so, not one DR004 per region.
pub(super) fn check_schedules(cx: &mut Reporter<'_>, set: &RenderedSet) {
    if cx.env.dr.backup.is_none() {
        return;
    }
    let schedules: Vec<&RenderedObject> = set
        .objects
        .iter()
        .filter(|o| o.id.kind == "Schedule" && o.id.group() == "velero.io")
        .collect();
    backup_covers_namespace(cx, set, &schedules);
    for s in schedules {
        storage_location(cx, set, s);
    }
}

/// DR004: some Schedule of the region includes the environment's namespace (`*` is Velero's
/// wildcard for every namespace).
fn backup_covers_namespace(
    cx: &mut Reporter<'_>,
    set: &RenderedSet,
    schedules: &[&RenderedObject],
) {
    let namespace = cx.env.namespace.as_str();
    let covers = schedules.iter().any(|s| {
        s.object["spec"]["template"]["includedNamespaces"]
            .as_array()
            .is_some_and(|ns| ns.iter().any(|n| n == namespace || n == "*"))
    });
    if !covers {
        cx.report(
            RuleId::BackupCoversNamespace,
            Some(&set.region),
            None,
            spec().key("dr").key("backup"),
            format!(
                "no Velero Schedule in region `{}` includes namespace `{namespace}`",
                set.region
            ),
        );
    }
}

/// DR005: a Schedule names the BackupStorageLocation its backups go to.
fn storage_location(cx: &mut Reporter<'_>, set: &RenderedSet, schedule: &RenderedObject) {
    let location = schedule.object["spec"]["template"]["storageLocation"]
        .as_str()
        .unwrap_or_default();
    if location.is_empty() {
        cx.report(
            RuleId::StorageLocation,
            Some(&set.region),
            Some(schedule),
            spec().key("dr").key("backup"),
            format!("{} has no storageLocation", schedule.id),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{GOOD, check, check_edited, ids};
    use super::*;
    use serde_json::Value;

    #[test]
    fn an_rpo_without_a_backup_is_flagged() {
        let none = GOOD.replace(", backup: {schedule: '0 */6 * * *', ttl: 720h}", "");
        assert!(ids(&check(&none)).contains(&RuleId::BackupForRpo));
    }

    #[test]
    fn a_weekday_schedule_has_a_weekend_gap_beyond_a_day_rpo() {
        let weekdays = GOOD.replace("0 */6 * * *", "0 */6 * * 1-5");
        let f = check(&weekdays);
        let dr2 = f
            .iter()
            .find(|f| f.rule == RuleId::BackupGapWithinRpo)
            .expect("weekend gap beyond 24h");
        assert!(dr2.message.contains("2d6h"), "{}", dr2.message);
    }

    #[test]
    fn a_ttl_shorter_than_the_rpo_is_flagged() {
        let short_ttl = GOOD.replace("ttl: 720h", "ttl: 12h");
        assert!(ids(&check(&short_ttl)).contains(&RuleId::TtlCoversRpo));
    }

    #[test]
    fn an_environment_without_backup_gets_no_schedule_findings() {
        let none = GOOD.replace(", backup: {schedule: '0 */6 * * *', ttl: 720h}", "");
        let got = ids(&check(&none));
        assert!(!got.contains(&RuleId::BackupCoversNamespace), "{got:?}");
    }

    #[test]
    fn a_schedule_that_misses_the_namespace_is_flagged_unless_it_says_every_namespace() {
        let only = |ns: &'static str| {
            move |o: &mut Value| {
                if o["kind"] == "Schedule" {
                    o["spec"]["template"]["includedNamespaces"] = serde_json::json!([ns]);
                }
            }
        };
        let f = check_edited(GOOD, only("other"));
        assert_eq!(ids(&f), vec![RuleId::BackupCoversNamespace]);
        assert_eq!(f.len(), 2, "one per region: {f:?}");
        assert_eq!(ids(&check_edited(GOOD, only("*"))), vec![]);
    }

    #[test]
    fn a_schedule_without_a_storage_location_is_flagged() {
        let f = check_edited(GOOD, |o| {
            if o["kind"] == "Schedule" {
                o["spec"]["template"]["storageLocation"] = Value::Null;
            }
        });
        assert_eq!(ids(&f), vec![RuleId::StorageLocation]);
    }
}
