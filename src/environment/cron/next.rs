//! `SpecSchedule.Next` of robfig/cron v3.0.1 and netresearch/go-cron v0.15.0, step for step:
//! fields are advanced in the schedule's zone with Go's `Date`/`AddDate`/`Add`, so the
//! firings around DST changes are the libraries' (a spring-forward hour is skipped by robfig
//! and run late by go-cron; an autumn hour may run twice).

use super::gotime::{Civil, Zone, add_date, civil, date};
use super::parse::STAR;
use super::{Dialect, Spec};

fn has(bits: u64, v: u32) -> bool {
    bits & (1 << v) != 0
}

impl Spec {
    /// Whether a day matches: robfig ORs the two day fields when neither is a `*`; go-cron
    /// requires both.
    pub(super) fn day_matches(&self, dialect: Dialect, c: &Civil) -> bool {
        let dom = has(self.dom, c.day);
        let dow = has(self.dow, c.weekday);
        let any_star = self.dom & STAR != 0 || self.dow & STAR != 0;
        match dialect {
            Dialect::Robfig if !any_star => dom || dow,
            _ => dom && dow,
        }
    }

    /// The first firing after `after` (Unix seconds), or `None` when there is none within five
    /// years (the libraries then return Go's zero time).
    pub(super) fn next(&self, dialect: Dialect, zone: &Zone, after: i64) -> Option<i64> {
        // Next rounds up to the next whole second.
        let mut t = after + 1;
        let mut added = false;
        let year_limit = civil(zone, t).year + 5;
        'wrap: loop {
            if civil(zone, t).year > year_limit {
                return None;
            }
            while !has(self.month, civil(zone, t).month) {
                if !added {
                    added = true;
                    let c = civil(zone, t);
                    t = date(zone, c.year, c.month.into(), 1, 0, 0, 0);
                }
                t = add_date(zone, t, 0, 1, 0);
                if civil(zone, t).month == 1 {
                    continue 'wrap;
                }
            }
            while !self.day_matches(dialect, &civil(zone, t)) {
                if !added {
                    added = true;
                    let c = civil(zone, t);
                    t = date(zone, c.year, c.month.into(), c.day.into(), 0, 0, 0);
                }
                t = add_date(zone, t, 0, 0, 1);
                // Back to midnight when a DST change moved the hour.
                let h = i64::from(civil(zone, t).hour);
                if h > 12 {
                    t += (24 - h) * 3600;
                } else {
                    t -= h * 3600;
                }
                if civil(zone, t).day == 1 {
                    continue 'wrap;
                }
            }
            if self.advance_hour(dialect, zone, &mut t, &mut added) {
                continue 'wrap;
            }
            while !has(self.minute, civil(zone, t).minute) {
                if !added {
                    added = true;
                    t -= t.rem_euclid(60);
                }
                t += 60;
                if civil(zone, t).minute == 0 {
                    continue 'wrap;
                }
            }
            // The seconds field is always 0.
            while civil(zone, t).second != 0 {
                added = true;
                t += 1;
                if civil(zone, t).second == 0 {
                    continue 'wrap;
                }
            }
            return Some(t);
        }
    }

    /// The hour loop; true when it wrapped into the next day. go-cron stops at the hour after a
    /// spring-forward gap when the skipped hour was wanted.
    fn advance_hour(&self, dialect: Dialect, zone: &Zone, t: &mut i64, added: &mut bool) -> bool {
        while !has(self.hour, civil(zone, *t).hour) {
            if !*added {
                *added = true;
                let c = civil(zone, *t);
                *t = date(
                    zone,
                    c.year,
                    c.month.into(),
                    c.day.into(),
                    c.hour.into(),
                    0,
                    0,
                );
            }
            let prev = civil(zone, *t).hour;
            *t += 3600;
            let now = civil(zone, *t).hour;
            if dialect == Dialect::GoCron && now == prev + 2 && has(self.hour, now - 1) {
                break;
            }
            if now == 0 {
                return true;
            }
        }
        false
    }
}
