//! The longest time between two consecutive firings: the RPO a schedule can promise.
//!
//! Firings are walked over a window day by day. On a day away from any UTC-offset change,
//! the schedule fires at the same local times (its hours x minutes) and the day costs O(1);
//! the days around an offset change, and the window's first and last day, are walked with
//! the library's own `Next` (see `next.rs`), so DST skips and repeats come out as Velero
//! sees them.

use jiff::Timestamp;

use super::gotime::{Zone, civil, civil_from_days, civil_of_local, date};
use super::{Kind, Schedule, Spec};

/// The first year of the window: 28 years from any year in 1901..2072 repeat every weekday
/// and leap day, and the tz rules of today repeat with them.
const CYCLE_START: i64 = 2025;
const CYCLE_YEARS: i64 = 28;

/// Firings walked for a union of schedules before settling for a bound: hourly schedules over
/// the cycle are about 245,000 each.
const MAX_UNION_STEPS: usize = 2_000_000;

/// The largest gap seen so far over a stream of firings in time order.
#[derive(Default)]
struct Gaps {
    first: Option<i64>,
    last: Option<i64>,
    longest: i64,
}

impl Gaps {
    fn fire(&mut self, t: i64) {
        self.day(t, t, 0);
    }

    /// A day whose firings run from `first` to `last`, `inner` apart at most.
    fn day(&mut self, first: i64, last: i64, inner: i64) {
        if let Some(prev) = self.last {
            self.longest = self.longest.max(first - prev);
        }
        self.first.get_or_insert(first);
        self.longest = self.longest.max(inner);
        self.last = Some(last);
    }
}

/// A day's firing times as seconds after local midnight, and the widest step between two.
struct DayPlan {
    first: i64,
    last: i64,
    inner: i64,
}

impl DayPlan {
    fn of(spec: &Spec) -> Option<DayPlan> {
        let times: Vec<i64> = (0..24i64)
            .filter(|h| spec.hour & (1 << h) != 0)
            .flat_map(|h| {
                (0..60i64)
                    .filter(|m| spec.minute & (1 << m) != 0)
                    .map(move |m| h * 3600 + m * 60)
            })
            .collect();
        let inner = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        Some(DayPlan {
            first: *times.first()?,
            last: *times.last()?,
            inner,
        })
    }
}

impl Schedule {
    /// The longest time in seconds between two consecutive firings, over the 28-year cycle
    /// after which weekdays, leap days and today's DST rules repeat, counting the wrap from
    /// the cycle's last firing to its first. `None` when it never fires.
    pub fn longest_gap(&self) -> Option<i64> {
        match &self.kind {
            Kind::Every(secs) => Some(*secs),
            Kind::Never => None,
            Kind::Spec(_) => {
                let from = date(&self.zone, CYCLE_START, 1, 1, 0, 0, 0) - 1;
                let to = date(&self.zone, CYCLE_START + CYCLE_YEARS, 1, 1, 0, 0, 0) - 1;
                let g = self.gaps_between(from, to)?;
                Some(g.longest.max(g.first? + (to - from) - g.last?))
            }
        }
    }

    /// The longest time in seconds between two consecutive firings of any of `schedules`,
    /// over the cycle of `longest_gap` (taken in UTC): Velero runs each Schedule on its own, so
    /// a namespace that several Schedules cover is backed up at the union of their firings.
    /// Walking the union costs a step per firing, so past `MAX_UNION_STEPS` firings the shortest
    /// single gap is returned instead: the union never waits longer than any one member, so
    /// that bound can only overstate the gap, never hide one. `None` when none fires.
    pub fn longest_gap_of_union(schedules: &[Schedule]) -> Option<i64> {
        let bound = schedules.iter().filter_map(Schedule::longest_gap).min()?;
        if schedules.len() == 1 {
            return Some(bound);
        }
        let from = date(&Zone::Utc, CYCLE_START, 1, 1, 0, 0, 0) - 1;
        let to = date(&Zone::Utc, CYCLE_START + CYCLE_YEARS, 1, 1, 0, 0, 0) - 1;
        let mut due: Vec<Option<i64>> = schedules.iter().map(|s| s.step(from)).collect();
        let mut gaps = Gaps::default();
        for _ in 0..MAX_UNION_STEPS {
            let Some((i, t)) = (due.iter().enumerate())
                .filter_map(|(i, t)| t.map(|t| (i, t)))
                .min_by_key(|(_, t)| *t)
                .filter(|(_, t)| *t <= to)
            else {
                return Some(gaps.longest.max(gaps.first? + (to - from) - gaps.last?));
            };
            if gaps.last != Some(t) {
                gaps.fire(t);
            }
            due[i] = schedules[i].step(t);
        }
        Some(bound)
    }

    /// The longest time in seconds between two consecutive firings after `from` and up to
    /// `to` (Unix seconds), firings chained as Velero chains them (each `step` from the one
    /// before); `None` with fewer than two.
    pub fn longest_gap_between(&self, from: i64, to: i64) -> Option<i64> {
        let g = self.gaps_between(from, to)?;
        (g.first? != g.last?).then_some(g.longest)
    }

    fn gaps_between(&self, from: i64, to: i64) -> Option<Gaps> {
        let mut gaps = Gaps::default();
        match &self.kind {
            Kind::Never => return None,
            Kind::Every(_) => {
                let mut t = from;
                while let Some(n) = self.step(t).filter(|n| *n <= to) {
                    gaps.fire(n);
                    t = n;
                }
            }
            Kind::Spec(spec) => self.walk_days(spec, from, to, &mut gaps),
        }
        Some(gaps)
    }

    /// Feeds the firings in `(from, to]` into `gaps`, day by day. A walk with `Next` that
    /// starts at a special day goes on until its chain of firings meets the plain daily
    /// pattern again: a time the clocks moved can shift the chain for days (robfig and go-cron
    /// keep the shifted minute until an hour or day wraps).
    fn walk_days(&self, spec: &Spec, from: i64, to: i64, gaps: &mut Gaps) {
        let Some(plan) = DayPlan::of(spec) else {
            return;
        };
        let zone = &self.zone;
        let local_day = |t: i64| (t + zone.offset(t)).div_euclid(86_400);
        let (lo, hi) = (local_day(from), local_day(to));
        let special = special_days(zone, from, to, lo, hi);
        let is_special = |d: i64| special[(d - lo) as usize];
        // The first firing of local day `d` when it is a plain day of the schedule.
        let plain_first = |d: i64| -> Option<i64> {
            let c = civil_of_local(d * 86_400);
            let fires = spec.month & (1 << c.month) != 0 && spec.day_matches(self.dialect, &c);
            let noon = d * 86_400 + 43_200;
            fires.then(|| d * 86_400 - zone.offset(noon - zone.offset(noon)) + plan.first)
        };
        let mut d = lo;
        while d <= hi {
            if !is_special(d) {
                if let Some(first) = plain_first(d) {
                    gaps.day(first, first + plan.last - plan.first, plan.inner);
                }
                d += 1;
                continue;
            }
            let mut end = d;
            while end < hi && is_special(end + 1) {
                end += 1;
            }
            let mut t = if d == lo { from } else { midnight(zone, d) - 1 };
            d = hi + 1;
            while let Some(n) = self.step(t).filter(|n| *n <= to) {
                let day = local_day(n);
                if day > end && !is_special(day) && plain_first(day) == Some(n) {
                    d = day;
                    break;
                }
                gaps.fire(n);
                t = n;
            }
        }
    }
}

/// The instant of local midnight starting local day `d`, as Go's `Date` gives it.
fn midnight(zone: &Zone, d: i64) -> i64 {
    let (y, m, day) = civil_from_days(d);
    date(zone, y, m.into(), day.into(), 0, 0, 0)
}

/// Per local day of `lo..=hi`: walk it with `Next` (the first and last day, and a day either
/// side of every change of UTC offset).
fn special_days(zone: &Zone, from: i64, to: i64, lo: i64, hi: i64) -> Vec<bool> {
    let mut special = vec![false; (hi - lo + 1) as usize];
    special[0] = true;
    special[(hi - lo) as usize] = true;
    let Zone::Named(_, tz) = zone else {
        return special;
    };
    let Ok(start) = Timestamp::from_second(from - 86_400) else {
        return special;
    };
    for tr in tz.following(start) {
        let at = tr.timestamp().as_second();
        if at > to + 86_400 {
            break;
        }
        for t in [at - 1, at] {
            let c = civil(zone, t);
            let day = super::gotime::days_from_civil(c.year, c.month, c.day.into());
            for x in day - 1..=day + 1 {
                if (lo..=hi).contains(&x) {
                    special[(x - lo) as usize] = true;
                }
            }
        }
    }
    special
}
