//! Differential tests: our cron and Go-duration readers against the libraries Velero uses,
//! built as test oracles (testenv/tools/oracles/cron-robfig for Velero v1.18.1, cron-gocron
//! for v1.18.3, duration for Go's `time.ParseDuration`). Over generated inputs, each property
//! compares one kind of input: validity, the next firings from a start, and the longest gap
//! between firings over a window (and over the whole 28-year cycle for sparse schedules).

use std::cell::RefCell;

use jiff::Timestamp;
use kubectl_hadr::environment::cron::{Dialect, Schedule};
use kubectl_hadr::environment::parse_go_duration;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::support::oracle::Oracle;

const DAY: i64 = 86_400;
/// 2024-01-01T00:00:00Z and 2031-01-01T00:00:00Z: where generated start times lie.
const FROM_2024: i64 = 1_704_067_200;
const TO_2031: i64 = 1_924_992_000;
/// Days in the 28-year cycle `Schedule::longest_gap` walks.
const CYCLE_DAYS: i64 = 10_227;
/// Firings compared per case.
const FIRINGS: usize = 12;

fn oracle_name(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Robfig => "cron-robfig",
        Dialect::GoCron => "cron-gocron",
    }
}

/// The library of one Velero version, asked through its oracle.
struct Judge {
    dialect: Dialect,
    oracle: Oracle,
}

/// What the oracle says of a window: longest step, count, first and last firing.
#[derive(Debug, PartialEq)]
struct Window {
    longest: i64,
    count: i64,
    first: i64,
    last: i64,
}

impl Judge {
    fn new(dialect: Dialect) -> Judge {
        Judge {
            dialect,
            oracle: Oracle::start(oracle_name(dialect)),
        }
    }

    fn ask(&mut self, query: &str, spec: &str) -> Result<Vec<String>, String> {
        let line = format!("{query}\t{}", serde_json::to_string(spec).unwrap());
        let answer = self.oracle.ask_line(&line);
        match answer.split_once('\t') {
            Some(("ok", rest)) => Ok(rest.split(['\t', ' ']).map(str::to_string).collect()),
            Some(("err", why)) => Err(why.to_string()),
            _ => panic!("oracle answered {answer:?} to {line:?}"),
        }
    }

    /// The next `n` firings after `after`; `None` where the library gives the zero time.
    fn next(&mut self, spec: &str, after: i64, n: usize) -> Result<Vec<Option<i64>>, String> {
        let words = self.ask(&format!("next\t{after}\t{n}"), spec)?;
        Ok(words.iter().map(|w| w.parse().ok()).collect())
    }

    fn window(&mut self, spec: &str, from: i64, to: i64) -> Window {
        let w = self
            .ask(&format!("gap\t{from}\t{to}"), spec)
            .unwrap_or_else(|e| panic!("{spec:?} parsed for next but not for gap: {e}"));
        let n: Vec<i64> = w.iter().map(|x| x.parse().unwrap()).collect();
        Window {
            longest: n[0],
            count: n[1],
            first: n[2],
            last: n[3],
        }
    }
}

fn ours_next(s: &Schedule, after: i64, n: usize) -> Vec<Option<i64>> {
    let mut out = Vec::new();
    let mut t = after;
    while out.len() < n {
        match s.next(t) {
            Some(x) => {
                out.push(Some(x));
                t = s.step(t).unwrap();
            }
            None => {
                out.push(None);
                break;
            }
        }
    }
    out
}

/// Validity, the next firings after `start`, and the longest gap in `(start, start+window]`
/// agree with the library; for schedules whose gap is a day or more, so is the gap over the
/// whole cycle (`Schedule::longest_gap`, what DR002 uses).
fn agree(judge: &mut Judge, spec: &str, start: i64, window: i64) -> Result<(), TestCaseError> {
    let ours = Schedule::parse(spec, judge.dialect);
    let theirs = judge.next(spec, start, FIRINGS);
    prop_assert_eq!(
        ours.is_ok(),
        theirs.is_ok(),
        "validity of {:?} under {:?}: ours {:?}, the library's {:?}",
        spec,
        judge.dialect,
        ours.as_ref().err(),
        theirs.as_ref().err()
    );
    let (Ok(schedule), Ok(times)) = (ours, theirs) else {
        return Ok(());
    };
    prop_assert_eq!(
        ours_next(&schedule, start, FIRINGS),
        times,
        "{:?} next firings of {:?} after {}",
        judge.dialect,
        spec,
        start
    );
    let w = judge.window(spec, start, start + window);
    let window_count = w.count;
    let mine = schedule
        .longest_gap_between(start, start + window)
        .unwrap_or(0);
    prop_assert_eq!(
        mine,
        w.longest,
        "{:?} gap of {:?} in ({}, +{}]: {:?}",
        judge.dialect,
        spec,
        start,
        window,
        w
    );
    // `@every` has no calendar cycle: its gap is its delay, compared over the window above.
    // The oracle walks the cycle firing by firing: only for schedules that fire rarely.
    let rare = window_count * (CYCLE_DAYS / (window / DAY).max(1)) <= 30_000;
    // A gap of more than four years can outrun the libraries' five-year search: their chain
    // stops there (Velero then finds the zero time due at every resync).
    let searchable = |g: &i64| *g < 4 * 365 * DAY;
    if let Some(gap) = schedule
        .longest_gap()
        .filter(|g| *g >= DAY && rare && searchable(g) && !spec.contains("@every"))
    {
        let (from, to) = cycle(&schedule);
        let w = judge.window(spec, from, to);
        let wrap = w.first + (to - from) - w.last;
        prop_assert_eq!(
            gap,
            w.longest.max(wrap),
            "{:?} cycle gap of {:?}: {:?}",
            judge.dialect,
            spec,
            w
        );
    }
    Ok(())
}

/// The 28-year cycle `Schedule::longest_gap` walks: local 2025-01-01 to 2053-01-01.
fn cycle(s: &Schedule) -> (i64, i64) {
    let at = |y: i16| {
        let tz = match s.zone() {
            kubectl_hadr::environment::cron::Zone::Utc => jiff::tz::TimeZone::UTC,
            kubectl_hadr::environment::cron::Zone::Named(_, tz) => tz.clone(),
        };
        jiff::civil::date(y, 1, 1)
            .to_zoned(tz)
            .unwrap()
            .timestamp()
            .as_second()
            - 1
    };
    (at(2025), at(2053))
}

/// Runs `property` over `cases` values of `strategy`, with a fresh random seed.
fn check<S: Strategy>(
    cases: u32,
    strategy: S,
    property: impl FnMut(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let property = RefCell::new(property);
    if let Err(e) = runner.run(&strategy, |v| (property.borrow_mut())(v)) {
        panic!("{e}");
    }
}

// ------------------------------------------------------------------ generators --

/// One value of a field: mostly a number in `lo..=max`, sometimes one just outside, a name
/// in any case, or junk.
fn value(lo: u32, max: u32, names: &'static [&'static str]) -> BoxedStrategy<String> {
    let name = if names.is_empty() {
        Just("mon".to_string()).boxed()
    } else {
        (select(names), any::<bool>())
            .prop_map(|(n, upper)| {
                if upper {
                    n.to_uppercase()
                } else {
                    n.to_string()
                }
            })
            .boxed()
    };
    prop_oneof![
        24 => (lo..=max).prop_map(|n| n.to_string()),
        2 => select(vec![lo.saturating_sub(1), max + 1, max + 2]).prop_map(|n| n.to_string()),
        4 => name,
        1 => select(vec!["+5", "05", "-1", "", "L", "W", "5#3", "H", "1.5", "x", "7", "0", "?", "*"]).prop_map(str::to_string),
    ]
    .boxed()
}

/// One comma item: `*`, `?`, a value, a range, with or without a step.
fn item(lo: u32, max: u32, names: &'static [&'static str]) -> BoxedStrategy<String> {
    let v = || value(lo, max, names);
    let base = prop_oneof![
        6 => Just("*".to_string()),
        1 => Just("?".to_string()),
        4 => v(),
        4 => (v(), v()).prop_map(|(a, b)| format!("{a}-{b}")),
    ];
    let step = prop_oneof![8 => 1..=max / 2 + 1, 1 => 0..=max + 2];
    prop_oneof![
        12 => base.clone(),
        6 => (base, step).prop_map(|(b, s)| format!("{b}/{s}")),
        1 => (v(), v(), v()).prop_map(|(a, b, c)| format!("{a}-{b}-{c}")),
        1 => (v(), 1..5u32, 1..5u32).prop_map(|(a, s, t)| format!("{a}/{s}/{t}")),
    ]
    .boxed()
}

fn field(lo: u32, max: u32, names: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![
        4 => item(lo, max, names),
        1 => prop::collection::vec(item(lo, max, names), 2..=3).prop_map(|items| items.join(",")),
        1 => Just(",".to_string()),
    ]
    .boxed()
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Five fields, mostly separated by one space (sometimes by tabs or two spaces), sometimes
/// four or six.
fn five_fields() -> BoxedStrategy<String> {
    let fields = (
        field(0, 59, &[]),
        field(0, 23, &[]),
        field(1, 31, &[]),
        field(1, 12, MONTHS),
        field(0, 7, DAYS),
    );
    let sep = prop_oneof![8 => Just(" "), 1 => Just("  "), 1 => Just("\t")];
    prop_oneof![
        12 => (fields, sep).prop_map(|((a, b, c, d, e), s)| [a, b, c, d, e].join(s)),
        1 => (field(0, 59, &[]), field(0, 23, &[])).prop_map(|(a, b)| format!("{a} {b} * *")),
        1 => (field(0, 59, &[]), field(0, 7, DAYS)).prop_map(|(a, b)| format!("{a} 0 * * * {b}")),
    ]
    .boxed()
}

/// Both day fields restricted, the case where the two libraries part ways.
fn both_day_fields() -> BoxedStrategy<String> {
    (
        0..60u32,
        0..24u32,
        field(1, 31, &[]),
        field(1, 12, MONTHS),
        field(0, 7, DAYS),
    )
        .prop_map(|(m, h, dom, mon, dow)| format!("{m} {h} {dom} {mon} {dow}"))
        .boxed()
}

fn go_duration_text() -> BoxedStrategy<String> {
    let num = prop_oneof![
        4 => (0..100_000u64).prop_map(|n| n.to_string()),
        1 => Just(String::new()),
        1 => Just("99999999999999999999".to_string()),
        1 => Just("2562047".to_string()),
    ];
    let frac = prop_oneof![
        4 => Just(String::new()),
        1 => Just(".".to_string()),
        2 => (0..1000u32).prop_map(|n| format!(".{n}")),
        1 => Just(".1234567890123456789012".to_string()),
    ];
    let unit = select(vec![
        "ns", "us", "\u{b5}s", "\u{3bc}s", "ms", "s", "m", "h", "d", "H", "", "x", " h", "w",
    ]);
    let term = (num, frac, unit).prop_map(|(n, f, u)| format!("{n}{f}{u}"));
    let sign = select(vec!["", "", "", "-", "+"]);
    prop_oneof![
        8 => (sign, prop::collection::vec(term, 1..=3)).prop_map(|(s, t)| format!("{s}{}", t.concat())),
        1 => select(vec!["0", "-0", "+0", "", "-", ".", "1e3s", " 1s", "1s ", "00", "0.0", "2562047h47m16.854775807s", "2562047h47m16.854775808s", "-2562047h47m16.854775808s", "9223372036s", "9223372037s"]).prop_map(str::to_string),
    ]
    .boxed()
}

fn descriptor() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(vec!["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly", "@reboot", "@manual", "@triggered", "@none", "@Daily", "@daily ", "@every", "@every ", "@every  6h", "@", "@every 6h", "@every 1h30m"]).prop_map(str::to_string),
        3 => go_duration_text().prop_map(|d| format!("@every {d}")),
    ]
    .boxed()
}

const ZONES: &[&str] = &[
    "Europe/Berlin",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kolkata",
];

/// A time-zone prefix: real zones, the built-in names, quoting and junk.
fn tz_prefix() -> BoxedStrategy<String> {
    let name = prop_oneof![
        6 => select(ZONES).prop_map(str::to_string),
        1 => select(vec!["UTC", "Local", "", "europe/berlin", "Mars/Olympus", "'Europe/Berlin'", "\"America/New_York\"", "../zoneinfo/UTC", "Etc/GMT+5", "EST5EDT"]).prop_map(str::to_string),
    ];
    (select(vec!["CRON_TZ=", "TZ="]), name)
        .prop_map(|(p, n)| format!("{p}{n} "))
        .boxed()
}

/// Hours and minutes that land in or next to the hours a DST change skips or repeats.
fn dst_fields() -> BoxedStrategy<String> {
    let minute = select(vec!["0", "30", "45", "*/15", "*/20", "0,30", "59", "*"]);
    let hour = select(vec![
        "0", "1", "2", "3", "1-3", "*/2", "2,3", "*", "23", "0-4/2",
    ]);
    let dom = select(vec!["*", "*", "*", "1-7", "25-31"]);
    let dow = select(vec!["*", "*", "*", "0", "sun", "6,0", "7"]);
    (minute, hour, dom, dow)
        .prop_map(|(m, h, d, w)| format!("{m} {h} {d} * {w}"))
        .boxed()
}

/// A start time up to four days before a UTC-offset change of `zone` between 2024 and 2030.
fn start_near_transition(zone: &str, pick: u64) -> i64 {
    let tz = jiff::tz::db().get(zone).unwrap();
    let from = Timestamp::from_second(FROM_2024).unwrap();
    let changes: Vec<i64> = tz
        .following(from)
        .map(|t| t.timestamp().as_second())
        .take_while(|t| *t < TO_2031)
        .collect();
    if changes.is_empty() {
        return FROM_2024 + (pick % (TO_2031 - FROM_2024) as u64) as i64;
    }
    let at = changes[(pick % changes.len() as u64) as usize];
    at - ((pick / 7) % (4 * DAY as u64)) as i64
}

// ------------------------------------------------------------------ properties --

fn five_field_schedules_agree(dialect: Dialect) {
    let mut judge = Judge::new(dialect);
    check(400, (five_fields(), FROM_2024..TO_2031), |(spec, start)| {
        agree(&mut judge, &spec, start, 45 * DAY)
    });
}

#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn five_field_schedules_agree_with_robfig_cron_v3_0_1() {
    five_field_schedules_agree(Dialect::Robfig);
}

#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn five_field_schedules_agree_with_go_cron_v0_15_0() {
    five_field_schedules_agree(Dialect::GoCron);
}

#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn both_day_fields_agree_with_both_libraries() {
    for dialect in [Dialect::Robfig, Dialect::GoCron] {
        let mut judge = Judge::new(dialect);
        check(
            150,
            (both_day_fields(), FROM_2024..TO_2031),
            |(spec, start)| agree(&mut judge, &spec, start, 120 * DAY),
        );
    }
}

#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn descriptors_agree_with_both_libraries() {
    for dialect in [Dialect::Robfig, Dialect::GoCron] {
        let mut judge = Judge::new(dialect);
        let spec = (prop::option::of(tz_prefix()), descriptor())
            .prop_map(|(tz, d)| format!("{}{d}", tz.unwrap_or_default()));
        check(200, (spec, FROM_2024..TO_2031), |(spec, start)| {
            agree(&mut judge, &spec, start, 3 * DAY)
        });
    }
}

#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn time_zones_agree_with_both_libraries_around_dst_changes() {
    for dialect in [Dialect::Robfig, Dialect::GoCron] {
        let mut judge = Judge::new(dialect);
        let case = (tz_prefix(), dst_fields(), any::<u64>());
        check(40, case, |(prefix, fields, pick)| {
            let zone = ZONES
                .iter()
                .find(|z| prefix.contains(*z))
                .unwrap_or(&"Europe/Berlin");
            let spec = format!("{prefix}{fields}");
            agree(
                &mut judge,
                &spec,
                start_near_transition(zone, pick),
                8 * DAY,
            )
        });
    }
}

#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn junk_prefixes_and_time_zones_agree_on_validity() {
    for dialect in [Dialect::Robfig, Dialect::GoCron] {
        let mut judge = Judge::new(dialect);
        let junk = select(vec![
            "",
            "TZ=",
            "CRON_TZ=",
            "TZ=Europe/Berlin",
            "CRON_TZ=Europe/Berlin\t",
            "TZ= ",
            "CRON_TZ=UTC  ",
            "cron_tz=UTC ",
            "TZ=Europe/Berlin@daily ",
            " ",
        ]);
        check(
            100,
            (junk, prop::option::of(five_fields())),
            |(prefix, rest)| {
                let spec = format!("{prefix}{}", rest.unwrap_or_default());
                agree(&mut judge, &spec, FROM_2024, DAY)
            },
        );
    }
}

#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn go_durations_agree_with_time_parse_duration() {
    let mut oracle = Oracle::start("duration");
    check(2000, go_duration_text(), |text| {
        let answer = oracle.ask_line(&serde_json::to_string(&text).unwrap());
        let theirs: Result<i64, ()> = match answer.split_once('\t') {
            Some(("ok", n)) => Ok(n.parse().unwrap()),
            _ => Err(()),
        };
        let ours = parse_go_duration(&text).map_err(|_| ());
        prop_assert_eq!(
            ours,
            theirs,
            "ParseDuration({:?}): Go says {}",
            text,
            answer
        );
        Ok(())
    });
}

// ------------------------------------------------------ issue 13, items 1 to 3 --

/// Item 1: `45 20 2-31 * 0` under each library, over 2025 (oracle) and the cycle (ours).
#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn issue13_item1_gap_of_45_20_2_31_x_0_is_14_days_on_1_18_3_and_2_days_on_1_18_1() {
    let spec = "45 20 2-31 * 0";
    for (dialect, days) in [(Dialect::GoCron, 14), (Dialect::Robfig, 2)] {
        let mut judge = Judge::new(dialect);
        let w = judge.window(spec, 1_735_689_599, 1_767_225_599);
        assert_eq!(w.longest, days * DAY, "{dialect:?} (oracle)");
        let ours = Schedule::parse(spec, dialect).unwrap();
        assert_eq!(ours.longest_gap(), Some(days * DAY), "{dialect:?} (ours)");
    }
}

/// Item 1: `0 0 * * 7` is Sunday for v1.18.3 and an error for v1.18.1.
#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn issue13_item1_sunday_as_7_is_valid_on_1_18_3_only() {
    let mut robfig = Judge::new(Dialect::Robfig);
    assert!(robfig.next("0 0 * * 7", FROM_2024, 1).is_err());
    assert!(Schedule::parse("0 0 * * 7", Dialect::Robfig).is_err());
    let mut go_cron = Judge::new(Dialect::GoCron);
    // 2024-01-07 was a Sunday.
    assert_eq!(
        go_cron.next("0 0 * * 7", FROM_2024, 1),
        Ok(vec![Some(FROM_2024 + 6 * DAY)])
    );
    let ours = Schedule::parse("0 0 * * 7", Dialect::GoCron).unwrap();
    assert_eq!(ours.next(FROM_2024), Some(FROM_2024 + 6 * DAY));
}

/// Item 2: `7d` is not a Go duration, `1.5h` is 5400 s.
#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn issue13_item2_ttl_7d_is_refused_and_1_5h_accepted_by_go() {
    let mut oracle = Oracle::start("duration");
    assert!(oracle.ask_line("\"7d\"").starts_with("err\t"));
    assert!(parse_go_duration("7d").is_err());
    assert_eq!(oracle.ask_line("\"1.5h\""), "ok\t5400000000000");
    assert_eq!(parse_go_duration("1.5h"), Ok(5_400_000_000_000));
    assert_eq!(oracle.ask_line("\"168h\""), "ok\t604800000000000");
}

/// Item 3: descriptors and a time zone are valid for both libraries, with the gaps we compute.
#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn issue13_item3_descriptors_and_cron_tz_are_valid_with_the_right_gaps() {
    for dialect in [Dialect::Robfig, Dialect::GoCron] {
        let mut judge = Judge::new(dialect);
        for (spec, gap) in [
            ("@every 6h", 6 * 3600),
            ("@daily", DAY),
            // 2025: Berlin's clocks change on March 30 and October 26.
            (
                "CRON_TZ=Europe/Berlin 0 2 * * *",
                match dialect {
                    Dialect::Robfig => 2 * DAY - 3600,
                    Dialect::GoCron => DAY,
                },
            ),
        ] {
            let w = judge.window(spec, 1_735_689_599, 1_767_225_599);
            assert_eq!(w.longest, gap, "{spec} {dialect:?} (oracle)");
            let ours = Schedule::parse(spec, dialect).unwrap();
            assert_eq!(ours.longest_gap(), Some(gap), "{spec} {dialect:?} (ours)");
        }
    }
}

/// The generators produce both valid and invalid schedules (else the properties prove little).
#[test]
fn the_generators_cover_valid_and_invalid_schedules() {
    let mut runner = TestRunner::deterministic();
    let (mut valid, mut invalid) = (0, 0);
    for _ in 0..500 {
        let spec = five_fields().new_tree(&mut runner).unwrap().current();
        match Schedule::parse(&spec, Dialect::GoCron) {
            Ok(_) => valid += 1,
            Err(_) => invalid += 1,
        }
    }
    assert!(
        valid > 50 && invalid > 50,
        "valid {valid}, invalid {invalid}"
    );
}
