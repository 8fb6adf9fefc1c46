use super::gotime::days_from_civil;
use super::*;

const MIN: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

fn gap_in(s: &str, dialect: Dialect) -> i64 {
    Schedule::parse(s, dialect)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .longest_gap()
        .unwrap_or_else(|| panic!("{s} never fires"))
}

/// The gap under both libraries, which must agree.
fn gap(s: &str) -> i64 {
    let g = gap_in(s, Dialect::Robfig);
    assert_eq!(g, gap_in(s, Dialect::GoCron), "{s}");
    g
}

fn utc(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
    days_from_civil(y, mo, d.into()) * DAY + h * HOUR + mi * MIN
}

#[test]
fn simple_schedules() {
    assert_eq!(gap("* * * * *"), MIN);
    assert_eq!(gap("0 * * * *"), HOUR);
    assert_eq!(gap("0 0 * * *"), DAY);
    assert_eq!(gap("0 */6 * * *"), 6 * HOUR);
    assert_eq!(gap("30 1,13 * * *"), 12 * HOUR);
    assert_eq!(gap("5/15 * * * *"), 15 * MIN); // 5, 20, 35, 50, then 5 of the next hour
    assert_eq!(gap("5,10 * * * *"), 55 * MIN);
}

#[test]
fn weekday_only_schedules_have_a_weekend_gap() {
    // Friday 18:00 to Monday 00:00.
    assert_eq!(gap("0 */6 * * 1-5"), 2 * DAY + 6 * HOUR);
    assert_eq!(gap("0 2 * * mon-fri"), 3 * DAY);
    assert_eq!(gap("0 0 * * 0"), 7 * DAY);
    assert_eq!(gap_in("0 0 * * 7", Dialect::GoCron), 7 * DAY);
}

#[test]
fn day_of_month_schedules_follow_month_lengths() {
    assert_eq!(gap("0 0 1 * *"), 31 * DAY);
    // The 31st only exists in seven months: August 31 to October 31 is 61 days.
    assert_eq!(gap("0 0 31 * *"), 61 * DAY);
    // Feb 29: once every four years.
    assert_eq!(gap("0 0 29 2 *"), (366 + 365 * 3) * DAY);
}

/// Issue 13, item 1: robfig ORs restricted day fields, go-cron ANDs them.
#[test]
fn both_day_fields_restricted_depend_on_the_version() {
    let s = "45 20 2-31 * 0";
    assert_eq!(gap_in(s, VeleroVersion::V1_18_3.dialect()), 14 * DAY);
    assert_eq!(gap_in(s, VeleroVersion::V1_18_1.dialect()), 2 * DAY);
    assert!(Schedule::parse("0 0 * * 7", Dialect::GoCron).is_ok());
    assert!(Schedule::parse("0 0 * * 7", Dialect::Robfig).is_err());
}

/// Issue 13, item 3.
#[test]
fn descriptors_and_time_zones_are_schedules() {
    assert_eq!(gap("@every 6h"), 6 * HOUR);
    assert_eq!(gap("@daily"), DAY);
    assert_eq!(gap("@hourly"), HOUR);
    assert_eq!(gap("@weekly"), 7 * DAY);
    assert_eq!(gap("@monthly"), 31 * DAY);
    assert_eq!(gap("@yearly"), 366 * DAY);
    assert_eq!(gap("@annually"), 366 * DAY);
    assert_eq!(gap("@midnight"), DAY);
    // Daily at 02:00 Berlin time: robfig skips the day the spring-forward gap swallows
    // 02:00; go-cron runs it at 03:00 CEST, and runs both 02:00s of the autumn night.
    assert_eq!(
        gap_in("CRON_TZ=Europe/Berlin 0 2 * * *", Dialect::Robfig),
        2 * DAY - HOUR
    );
    assert_eq!(
        gap_in("CRON_TZ=Europe/Berlin 0 2 * * *", Dialect::GoCron),
        DAY
    );
    // 01:30 New York time repeats the night the clocks go back: an hour apart, then a day.
    assert_eq!(
        gap_in("TZ=America/New_York 30 1 * * *", Dialect::GoCron),
        DAY
    );
}

#[test]
fn robfig_skips_and_go_cron_delays_a_time_the_clocks_skip() {
    let s = "CRON_TZ=Europe/Berlin 30 2 * * *";
    let before = utc(2025, 3, 29, 1, 30); // 02:30 CET on Saturday
    let robfig = Schedule::parse(s, Dialect::Robfig).unwrap();
    assert_eq!(robfig.next(before), Some(utc(2025, 3, 31, 0, 30)));
    let go_cron = Schedule::parse(s, Dialect::GoCron).unwrap();
    // 03:30 CEST on the Sunday the clocks skip 02:00-03:00.
    assert_eq!(go_cron.next(before), Some(utc(2025, 3, 30, 1, 30)));
}

#[test]
fn bad_schedules_are_rejected_by_both() {
    for s in [
        "",
        "0 0 * *",
        "0 0 * * * *",
        "61 0 * * *",
        "0 0 * * */0",
        "0 0 32 * *",
        "0 0 0 * *",
        "0 0 * * funday",
        "0 0 L * *",
        "0 0 * * 5#3",
        "H 0 * * *",
        "@reboot",
        "@every 7d",
        "@every6h",
        "CRON_TZ=Europe/Berlin",
        "CRON_TZ=Mars/Olympus 0 0 * * *",
        "CRON_TZ=europe/berlin 0 0 * * *",
        "TZ=../etc/passwd 0 0 * * *",
    ] {
        assert!(Schedule::parse(s, Dialect::Robfig).is_err(), "robfig {s:?}");
        assert!(
            Schedule::parse(s, Dialect::GoCron).is_err(),
            "go-cron {s:?}"
        );
    }
}

#[test]
fn the_libraries_disagree_where_go_cron_added_rules() {
    // go-cron wraps backwards ranges and refuses steps as wide as the range.
    for (s, robfig, go_cron) in [
        ("5-1 * * * *", false, true),
        ("0 0 * * fri-mon", false, true),
        ("*/60 * * * *", true, false),
        ("50/20 * * * *", true, false),
        ("@every 500ms", true, false),
        ("@manual", false, true),
        ("CRON_TZ= 0 0 * * *", true, false),
        ("CRON_TZ='Europe/Berlin' 0 0 * * *", false, true),
    ] {
        assert_eq!(
            Schedule::parse(s, Dialect::Robfig).is_ok(),
            robfig,
            "robfig {s}"
        );
        assert_eq!(
            Schedule::parse(s, Dialect::GoCron).is_ok(),
            go_cron,
            "go-cron {s}"
        );
    }
    assert_eq!(
        Schedule::parse("@manual", Dialect::GoCron)
            .unwrap()
            .longest_gap(),
        None
    );
}

#[test]
fn versions_map_to_their_libraries() {
    assert_eq!(
        VeleroVersion::parse("v1.18.1"),
        Some(VeleroVersion::V1_18_1)
    );
    assert_eq!(
        VeleroVersion::parse("1.18.3").map(VeleroVersion::dialect),
        Some(Dialect::GoCron)
    );
    assert_eq!(VeleroVersion::parse("1.17.0"), None);
}

#[test]
fn seconds_format_as_durations() {
    assert_eq!(format_seconds(2 * DAY + 6 * HOUR), "2d6h");
    assert_eq!(format_seconds(45 * MIN), "45m");
    assert_eq!(format_seconds(90), "1m30s");
    assert_eq!(format_seconds(0), "0m");
}

/// robfig's `Next` can give back its input around a DST change whose hour is not a whole hour
/// of UTC: Velero then backs up at every minute's resync until the time passes.
#[test]
fn a_next_that_does_not_move_forward_is_a_backup_each_minute() {
    let s = Schedule::parse("CRON_TZ=Pacific/Chatham 45 3 * * 0", Dialect::Robfig).unwrap();
    // 2025-04-05T14:00Z: Chatham's clocks go back from 03:45 to 02:45.
    let at = utc(2025, 4, 5, 14, 0);
    assert_eq!(s.next(at), Some(at));
    assert_eq!(s.step(at), Some(at + MIN));
    // And it skips the Sunday whose 03:00 hour the spring-forward change swallows.
    assert_eq!(s.longest_gap(), Some(14 * DAY - HOUR));
}

#[test]
fn several_schedules_back_up_at_the_union_of_their_firings() {
    let union = |specs: &[&str]| {
        let parsed: Vec<Schedule> = specs
            .iter()
            .map(|s| Schedule::parse(s, Dialect::GoCron).unwrap())
            .collect();
        Schedule::longest_gap_of_union(&parsed)
    };
    assert_eq!(union(&["0 0 * * *", "0 12 * * *"]), Some(12 * HOUR));
    // Weekdays at midnight and weekends at noon: Friday 00:00 to Saturday 12:00.
    assert_eq!(
        union(&["0 0 * * 1-5", "0 12 * * 0,6"]),
        Some(DAY + 12 * HOUR)
    );
    assert_eq!(union(&["0 0 * * 1-5"]), Some(3 * DAY));
    assert_eq!(union(&["@every 6h", "0 0 * * *"]), Some(6 * HOUR));
    assert_eq!(union(&["@manual", "0 0 * * *"]), Some(DAY));
    assert_eq!(union(&["@manual"]), None);
    assert_eq!(union(&[]), None);
}
