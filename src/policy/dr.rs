//! DR rules (DR001..DR008): whether the Velero backups the environment declares can meet its
//! RPO, whether the rendered Schedules back up its namespace somewhere a region's loss does not
//! take with it, and whether the RTO has something to restore and somewhere to restore into.

use super::finding::{Reporter, region_path, spec};
use super::rule::RuleId;
use crate::environment::cron::{Schedule, VeleroVersion, format_seconds};
use crate::environment::{Backup, parse_duration, parse_go_duration};
use crate::render::{RenderedObject, RenderedSet};

/// Checks `spec.dr` against the RPO: DR001, DR002 and DR003. An RPO that does not parse is the
/// environment loader's to report; these rules skip it. Without `dr.backup`, the Velero
/// Schedules the templates render are the backups (see `template_backups`).
pub(super) fn check_backup(cx: &mut Reporter<'_>, sets: &[&RenderedSet]) {
    let env = cx.env;
    let Some(rpo) = env.dr.rpo.as_deref().and_then(parse_duration) else {
        return;
    };
    match &env.dr.backup {
        None => template_backups(cx, sets, rpo),
        Some(backup) => {
            backup_gap_within_rpo(cx, backup, rpo);
            ttl_covers_rpo(cx, backup, rpo);
            ttl_keeps_two_backups(cx, backup, rpo);
        }
    }
}

/// The Velero versions the environment's regions run, each once.
fn versions(cx: &Reporter<'_>) -> Vec<VeleroVersion> {
    VeleroVersion::ALL
        .into_iter()
        .filter(|v| cx.env.regions.iter().any(|r| r.velero == *v))
        .collect()
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
    for version in versions(cx) {
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

/// Without `spec.dr.backup`, the Velero Schedules that repository templates render: DR001
/// when no region has one that backs up the namespace, DR004 for a region without one while
/// others have, and DR002 per region over the union of the firings of those that do (Velero
/// runs each Schedule on its own), read with the cron of the region's Velero.
fn template_backups(cx: &mut Reporter<'_>, sets: &[&RenderedSet], rpo: u64) {
    let namespace = cx.env.namespace.clone();
    let covering: Vec<(&RenderedSet, Vec<&RenderedObject>)> = sets
        .iter()
        .map(|set| (*set, covering_schedules(set, &namespace)))
        .collect();
    if covering.iter().all(|(_, found)| found.is_empty()) {
        return backup_for_rpo(cx);
    }
    for (set, found) in covering {
        if found.is_empty() {
            no_schedule_covers(cx, set);
            continue;
        }
        let Some(region) = cx.env.regions.iter().find(|r| r.name == set.region) else {
            continue;
        };
        let version = region.velero;
        let schedules: Vec<Schedule> = (found.iter())
            .filter_map(|o| o.object["spec"]["schedule"].as_str())
            .filter_map(|s| Schedule::parse(s, version.dialect()).ok())
            .collect();
        let gap = Schedule::longest_gap_of_union(&schedules);
        if gap.is_some_and(|g| u64::try_from(g).unwrap_or(0) <= rpo) {
            continue;
        }
        let leaves = match gap {
            Some(g) => format!("leave up to {} between backups", format_seconds(g)),
            None => "never fire".to_string(),
        };
        let names: Vec<String> = found.iter().map(|o| format!("`{}`", o.id.name)).collect();
        cx.report(
            RuleId::BackupGapWithinRpo,
            Some(&set.region),
            found.first().copied(),
            spec().key("dr").key("rpo"),
            format!(
                "the Velero Schedules that back up namespace `{namespace}` in region `{}` ({}) {leaves} under Velero {version}, beyond the RPO of {}",
                set.region,
                names.join(", "),
                format_seconds(rpo as i64)
            ),
        );
    }
}

/// The unpaused Velero Schedules of a region whose backups include `namespace`.
fn covering_schedules<'a>(set: &'a RenderedSet, namespace: &str) -> Vec<&'a RenderedObject> {
    (set.objects.iter())
        .filter(|o| o.id.kind == "Schedule" && o.id.group() == "velero.io")
        .filter(|o| o.object["spec"]["paused"] != true)
        .filter(|o| covers_namespace(&o.object["spec"]["template"], namespace))
        .collect()
}

/// Whether a Backup spec includes `namespace`, as Velero's namespace filter reads it
/// (velero.io docs, "Resource filtering"): no `includedNamespaces` (or an empty list) means
/// every namespace, `*` too, and `excludedNamespaces` wins over an include.
fn covers_namespace(template: &serde_json::Value, namespace: &str) -> bool {
    let listed = |field: &str| -> Vec<&str> {
        (template[field].as_array().into_iter().flatten())
            .filter_map(serde_json::Value::as_str)
            .collect()
    };
    let included = listed("includedNamespaces");
    let excluded = listed("excludedNamespaces");
    !excluded.contains(&namespace)
        && (included.is_empty() || included.iter().any(|n| *n == namespace || *n == "*"))
}

/// Velero's `--default-backup-ttl` when nobody changed it: what a `ttl` of 0 means.
const VELERO_DEFAULT_TTL_SECS: u64 = 720 * 3600;

/// DR003: Velero deletes a backup once its ttl passes, so a shorter ttl than the RPO can leave
/// no restore point.
fn ttl_covers_rpo(cx: &mut Reporter<'_>, backup: &Backup, rpo: u64) {
    if ttl_seconds(backup).is_some_and(|ttl| ttl < rpo) {
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

/// The ttl in whole seconds as Velero keeps backups (0: Velero's default); `None` when it
/// does not parse (the loader reports that).
fn ttl_seconds(backup: &Backup) -> Option<u64> {
    let ns = parse_go_duration(&backup.ttl).ok()?;
    Some(match u64::try_from(ns / 1_000_000_000).unwrap_or(0) {
        0 if ns == 0 => VELERO_DEFAULT_TTL_SECS,
        s => s,
    })
}

/// DR008: Velero deletes a backup `ttl` after it was made. With backups up to `gap` apart the
/// one before the newest is up to 2 × gap old when the next is due, so a ttl under that leaves
/// the newest backup alone for a while: if it is bad (`PartiallyFailed`, or taken after the
/// data went wrong), there is nothing older to restore. One finding per Velero version whose
/// cron fires the schedule with a gap that needs more; not reported where DR003 is (a ttl
/// below the RPO is the more urgent fix).
fn ttl_keeps_two_backups(cx: &mut Reporter<'_>, backup: &Backup, rpo: u64) {
    let Some(ttl) = ttl_seconds(backup).filter(|ttl| *ttl >= rpo) else {
        return;
    };
    for version in versions(cx) {
        let Ok(schedule) = Schedule::parse(&backup.schedule, version.dialect()) else {
            continue;
        };
        let Some(gap) = schedule.longest_gap() else {
            continue;
        };
        let need = u64::try_from(gap).unwrap_or(0).saturating_mul(2);
        if ttl >= need {
            continue;
        }
        cx.report(
            RuleId::TtlKeepsTwoBackups,
            None,
            None,
            spec().key("dr").key("backup").key("ttl"),
            format!(
                "ttl {} keeps only the newest backup at times: `{}` leaves up to {} between backups under Velero {version}, so two need a ttl of at least {}",
                backup.ttl,
                backup.schedule,
                format_seconds(gap),
                format_seconds(need as i64)
            ),
        );
    }
}

/// Checks the Velero Schedules rendered for one region: DR004, DR005 and DR006 (Velero API,
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
    backup_covers_namespace(cx, set);
    for s in schedules {
        storage_location(cx, set, s);
        backups_off_region(cx, set, s);
    }
}

/// DR004: some unpaused Schedule of the region backs up the environment's namespace (see
/// `covers_namespace` for how Velero reads the namespace filter).
fn backup_covers_namespace(cx: &mut Reporter<'_>, set: &RenderedSet) {
    if covering_schedules(set, &cx.env.namespace).is_empty() {
        no_schedule_covers(cx, set);
    }
}

/// DR004's finding for one region.
fn no_schedule_covers(cx: &mut Reporter<'_>, set: &RenderedSet) {
    let path = match cx.env.dr.backup {
        Some(_) => spec().key("dr").key("backup"),
        None => spec().key("dr").key("rpo"),
    };
    cx.report(
        RuleId::BackupCoversNamespace,
        Some(&set.region),
        None,
        path,
        format!(
            "no Velero Schedule in region `{}` includes namespace `{}`",
            set.region, cx.env.namespace
        ),
    );
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

/// DR006: the Schedule's backups are readable when the region it protects is lost: its
/// storage location is declared in `spec.dr.storageLocations` and lives in another region
/// (or off every region of the environment).
fn backups_off_region(cx: &mut Reporter<'_>, set: &RenderedSet, schedule: &RenderedObject) {
    let location = schedule.object["spec"]["template"]["storageLocation"]
        .as_str()
        .unwrap_or_default();
    if location.is_empty() {
        return; // DR005 says so.
    }
    let message = match cx.env.dr.storage_locations.get(location) {
        None => format!(
            "{}: where storage location `{location}` keeps its backups is not declared, so they are not known to survive the loss of region `{}`",
            schedule.id, set.region
        ),
        Some(region) if *region == set.region => format!(
            "{}: storage location `{location}` lives in region `{region}`, the region it protects: losing `{region}` loses its backups too",
            schedule.id
        ),
        Some(_) => return,
    };
    cx.report(
        RuleId::BackupsOffRegion,
        Some(&set.region),
        Some(schedule),
        spec().key("dr").key("storageLocations"),
        message,
    );
}

/// DR007: an RTO is a promise to restore: it needs backups to restore from and a cluster to
/// restore into when the region is gone (another region of the environment, or a declared
/// `restoreTarget`).
pub(super) fn check_rto(cx: &mut Reporter<'_>) {
    let env = cx.env;
    let Some(rto) = env.dr.rto.as_deref() else {
        return;
    };
    let missing = match (
        &env.dr.backup,
        env.regions.len() > 1 || env.dr.restore_target.is_some(),
    ) {
        (None, _) => "no `backup` to restore from",
        (Some(_), false) => "one region and no `restoreTarget` to restore into when it is lost",
        (Some(_), true) => return,
    };
    cx.report(
        RuleId::RtoRestorable,
        None,
        None,
        spec().key("dr").key("rto"),
        format!("RTO {rto} but {missing}"),
    );
}

/// What a region's Velero server reported of its version, as `validate --server` saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerVelero {
    /// `status.serverVersion` of a ServerStatusRequest (`v1.18.3`).
    Version(String),
    /// No version: why, in words (no Velero CRDs; no server answered within the wait).
    Silent(String),
}

/// DR010: each region's Velero against the version its `velero` declares (the cron dialect
/// DR002 and DR008 computed with). Only for environments with `dr.backup`: without one no
/// Velero is needed.
pub(super) fn check_velero_servers(cx: &mut Reporter<'_>, seen: &[(String, ServerVelero)]) {
    let Some(backup) = &cx.env.dr.backup else {
        return;
    };
    let declared_for_env = backup.velero;
    for (region, answer) in seen {
        let Some(r) = cx.env.regions.iter().find(|r| &r.name == region) else {
            continue;
        };
        let declared = r.velero;
        let message = match answer {
            ServerVelero::Version(v) if VeleroVersion::parse(v) == Some(declared) => continue,
            ServerVelero::Version(v) => format!(
                "Velero {v} runs here, but schedules were checked as Velero {declared} reads them{}",
                match VeleroVersion::parse(v) {
                    Some(_) => String::new(),
                    None => format!(
                        " (kubectl-hadr knows the cron of {} only)",
                        VeleroVersion::ALL.map(|v| v.as_str()).join(", ")
                    ),
                }
            ),
            ServerVelero::Silent(why) => format!("no Velero version: {why}"),
        };
        let path = if declared == declared_for_env {
            spec().key("dr").key("backup").key("velero")
        } else {
            region_path(cx.env, region).key("velero")
        };
        cx.report(RuleId::VeleroServer, Some(region), None, path, message);
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{GOOD, check, check_edited, ids, load};
    use super::*;
    use serde_json::Value;

    #[test]
    fn dr010_names_each_region_whose_velero_is_not_its_declared_one_or_is_silent() {
        // west declares 1.18.1 of its own; east takes the environment's default (1.18.3).
        let (env, _) = load(&GOOD.replace(
            "{name: west, context: c-west}",
            "{name: west, context: c-west, velero: '1.18.1'}",
        ));
        let seen = |east: &str, west: &str| {
            let answer = |v: &str| match v.strip_prefix("silent:") {
                Some(why) => ServerVelero::Silent(why.into()),
                None => ServerVelero::Version(v.into()),
            };
            let found = super::super::validate_velero_servers(
                &env,
                &[("east".into(), answer(east)), ("west".into(), answer(west))],
            );
            found
                .iter()
                .map(|f| (f.region.clone().unwrap(), f.message.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(seen("v1.18.3", "v1.18.1"), vec![]);
        let found = seen("v1.18.1", "v1.17.0");
        assert_eq!(
            found[0].1,
            "Velero v1.18.1 runs here, but schedules were checked as Velero 1.18.3 reads them"
        );
        assert_eq!(
            found[1].1,
            "Velero v1.17.0 runs here, but schedules were checked as Velero 1.18.1 reads them (kubectl-hadr knows the cron of 1.18.1, 1.18.3 only)"
        );
        let found = seen("silent:no server answered", "v1.18.1");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1, "no Velero version: no server answered");
    }

    fn drill_findings(spec: &str, last_pass: Option<&str>) -> Vec<super::super::Finding> {
        let (env, _) = load(spec);
        let now: jiff::Timestamp = "2026-11-30T12:00:00Z".parse().unwrap();
        let last = last_pass.map(|t| LastDrill {
            path: "drills/prod/2026-11-01-zone-z1-1".into(),
            started: t.parse().unwrap(),
        });
        super::super::validate_drills(&env, last.as_ref(), now)
    }

    #[test]
    fn dr009_no_passing_drill_within_drill_every_is_a_warning() {
        let every = GOOD.replace("dr: {", "dr: {drillEvery: 30d, ");
        let none = drill_findings(&every, None);
        assert_eq!(ids(&none), vec![RuleId::DrillEvery]);
        assert!(
            none[0].message.starts_with("no passing drill"),
            "{}",
            none[0].message
        );
        let old = drill_findings(&every, Some("2026-10-01T12:00:00Z"));
        assert_eq!(ids(&old), vec![RuleId::DrillEvery]);
        assert!(
            old[0]
                .message
                .contains("is 60d old; `dr.drillEvery` asks for one every 30d"),
            "{}",
            old[0].message
        );
        assert_eq!(drill_findings(&every, Some("2026-11-01T12:00:00Z")), vec![]);
        // Without `drillEvery`, drills are not asked for.
        assert_eq!(drill_findings(GOOD, None), vec![]);
    }

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

    /// GOOD rendered with its Schedule, then checked as if a repository template wrote the
    /// Schedules (no `dr.backup`), after `edit` changed each region's objects.
    fn check_template_schedules(
        edit: impl Fn(&mut Vec<RenderedObject>),
    ) -> Vec<crate::policy::Finding> {
        let (mut env, mut sets) = load(GOOD);
        env.dr.backup = None;
        for set in &mut sets {
            edit(&mut set.objects);
        }
        let refs: Vec<&RenderedSet> = sets.iter().collect();
        super::super::validate(&env, &refs)
    }

    fn reschedule(objects: &mut [RenderedObject], cron: &str) {
        for o in objects.iter_mut().filter(|o| o.id.kind == "Schedule") {
            o.object["spec"]["schedule"] = cron.into();
        }
    }

    /// Issue 13 review: DR002 used only `dr.backup` and said DR001 ("no backup") for an
    /// environment whose Velero Schedules a repository template writes.
    #[test]
    fn schedules_only_a_template_writes_are_the_backups_and_their_union_meets_the_rpo() {
        assert_eq!(ids(&check_template_schedules(|_| {})), vec![]);
        let f = check_template_schedules(|o| reschedule(o, "0 0 * * 1-5"));
        assert_eq!(ids(&f), vec![RuleId::BackupGapWithinRpo]);
        assert_eq!(f.len(), 2, "one per region: {f:?}");
        assert!(
            f[0].message.contains("leave up to 3d between backups"),
            "{}",
            f[0].message
        );
        assert_eq!(f[0].region.as_deref(), Some("east"));
        // Weekends at noon too: the union's longest gap is Friday 00:00 to Saturday 12:00.
        let weekends = |objects: &mut Vec<RenderedObject>| {
            reschedule(objects, "0 0 * * 1-5");
            let mut other = objects
                .iter()
                .find(|o| o.id.kind == "Schedule")
                .unwrap()
                .clone();
            other.id.name = "weekends".into();
            other.object["spec"]["schedule"] = "0 12 * * 0,6".into();
            objects.push(other);
        };
        let f = check_template_schedules(weekends);
        assert!(
            f[0].message
                .contains("(`web-dev`, `weekends`) leave up to 1d12h"),
            "{}",
            f[0].message
        );
        let paused = |objects: &mut Vec<RenderedObject>| {
            for o in objects.iter_mut().filter(|o| o.id.kind == "Schedule") {
                o.object["spec"]["paused"] = true.into();
            }
        };
        assert_eq!(
            ids(&check_template_schedules(paused)),
            vec![RuleId::BackupForRpo]
        );
    }

    /// Velero's namespace filter: no `includedNamespaces` means every namespace, and
    /// `excludedNamespaces` wins over an include.
    #[test]
    fn a_schedule_without_included_namespaces_covers_every_namespace_but_excluded_ones() {
        let filter = |included: Value, excluded: Value| {
            move |o: &mut Value| {
                if o["kind"] == "Schedule" {
                    o["spec"]["template"]["includedNamespaces"] = included.clone();
                    o["spec"]["template"]["excludedNamespaces"] = excluded.clone();
                }
            }
        };
        assert_eq!(
            ids(&check_edited(GOOD, filter(Value::Null, Value::Null))),
            vec![]
        );
        let excluded = check_edited(
            GOOD,
            filter(serde_json::json!(["*"]), serde_json::json!(["web"])),
        );
        assert_eq!(ids(&excluded), vec![RuleId::BackupCoversNamespace]);
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

    #[test]
    fn backups_kept_only_in_the_region_they_protect_or_nowhere_declared_are_flagged() {
        let f = check(&GOOD.replace("{default: {region: central}}", "{default: {region: east}}"));
        assert_eq!(ids(&f), vec![RuleId::BackupsOffRegion]);
        assert_eq!(f.len(), 1, "only east's backups live in east: {f:?}");
        assert!(
            f[0].message.contains("lives in region `east`"),
            "{}",
            f[0].message
        );
        let undeclared =
            check(&GOOD.replace(", storageLocations: {default: {region: central}}", ""));
        assert_eq!(ids(&undeclared), vec![RuleId::BackupsOffRegion]);
        assert_eq!(undeclared.len(), 2, "{undeclared:?}");
        assert!(undeclared[0].message.contains("not declared"));
        // Each region writing to a bucket in the other is fine too.
        let two = GOOD.replace(
            "{default: {region: central}}",
            "{in-east: {region: east}, in-west: {region: west}}",
        );
        let crossed = check_edited(&two, |o| {
            if o["kind"] == "Schedule" {
                let other = match o["metadata"]["labels"]["hadr.dev/region"].as_str() {
                    Some("east") => "in-west",
                    _ => "in-east",
                };
                o["spec"]["template"]["storageLocation"] = other.into();
            }
        });
        assert_eq!(ids(&crossed), vec![]);
    }

    #[test]
    fn an_rto_needs_a_backup_and_somewhere_to_restore_into() {
        let with_rto = GOOD.replace("dr: {rpo: 24h,", "dr: {rto: 30m, rpo: 24h,");
        assert_eq!(ids(&check(&with_rto)), vec![]);
        let no_backup = with_rto.replace(", backup: {schedule: '0 */6 * * *', ttl: 720h}", "");
        let f = check(&no_backup);
        let dr7: Vec<_> = f
            .iter()
            .filter(|f| f.rule == RuleId::RtoRestorable)
            .collect();
        assert_eq!(dr7.len(), 1, "{f:?}");
        assert!(dr7[0].message.contains("no `backup`"));
        let one_region = with_rto.replace("    - {name: west, context: c-west}\n", "");
        let f = check(&one_region);
        assert!(ids(&f).contains(&RuleId::RtoRestorable), "{f:?}");
        let documented = one_region.replace(
            "dr: {rto: 30m,",
            "dr: {restoreTarget: dr-westus3, rto: 30m,",
        );
        assert!(!ids(&check(&documented)).contains(&RuleId::RtoRestorable));
    }

    #[test]
    fn a_ttl_that_keeps_only_the_newest_backup_is_flagged_once_and_not_with_dr003() {
        // Daily backups, a day's RPO, a ttl of 36h: at 03:00 the day before yesterday's
        // backup is gone and only yesterday's is there.
        let daily = GOOD.replace("0 */6 * * *", "0 3 * * *");
        assert_eq!(ids(&check(&daily.replace("ttl: 720h", "ttl: 48h"))), vec![]);
        let f = check(&daily.replace("ttl: 720h", "ttl: 36h"));
        assert_eq!(ids(&f), vec![RuleId::TtlKeepsTwoBackups]);
        assert!(f[0].message.contains("at least 2d"), "{}", f[0].message);
        // Below the RPO it is DR003's to say.
        let f = check(&daily.replace("ttl: 720h", "ttl: 12h"));
        assert_eq!(ids(&f), vec![RuleId::TtlCoversRpo]);
    }
}

/// The newest passing drill on record, as DR009 reads it.
#[derive(Debug, Clone)]
pub struct LastDrill {
    /// Where its evidence is kept (`drills/<env>/<date>-<id>`).
    pub path: String,
    pub started: jiff::Timestamp,
}

/// DR009: with `dr.drillEvery`, the newest passing drill is at most that old.
pub(super) fn check_drill_age(
    cx: &mut Reporter<'_>,
    last_pass: Option<&LastDrill>,
    now: jiff::Timestamp,
) {
    let Some(every) = cx.env.dr.drill_every else {
        return;
    };
    let message = match last_pass {
        None => "no passing drill is on record under `drills/` (committed at HEAD)".to_string(),
        Some(last) => {
            let age = now.as_second().saturating_sub(last.started.as_second());
            if u64::try_from(age).unwrap_or(0) <= every {
                return;
            }
            format!(
                "the newest passing drill ({}, {}) is {} old",
                last.path,
                last.started,
                format_seconds(age)
            )
        }
    };
    let every_text = format_seconds(i64::try_from(every).unwrap_or(i64::MAX));
    cx.report(
        RuleId::DrillEvery,
        None,
        None,
        spec().key("dr").key("drillEvery"),
        format!("{message}; `dr.drillEvery` asks for one every {every_text}"),
    );
}
