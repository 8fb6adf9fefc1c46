//! The parts of Go's `time` package the cron libraries' `Next` relies on, in whole Unix
//! seconds: civil fields in a location, `time.Date` with its normalisation and its choice of
//! offset for local times that a DST change skips or repeats, and `AddDate`.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Where a schedule's times are read: UTC (no `CRON_TZ`, or `UTC`/`Local` on a Velero server
/// whose local zone is UTC) or an IANA zone from the bundled tz database.
#[derive(Debug, Clone, PartialEq)]
pub enum Zone {
    Utc,
    Named(String, TimeZone),
}

impl Zone {
    /// The UTC offset in seconds at the instant `unix`.
    pub fn offset(&self, unix: i64) -> i64 {
        match self {
            Zone::Utc => 0,
            Zone::Named(_, tz) => Timestamp::from_second(unix)
                .map(|ts| i64::from(tz.to_offset(ts).seconds()))
                .unwrap_or(0),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Zone::Utc => "UTC",
            Zone::Named(n, _) => n,
        }
    }
}

/// The calendar fields of an instant in a zone, as Go's `Time` methods give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Civil {
    pub(super) year: i64,
    pub(super) month: u32,
    pub(super) day: u32,
    pub(super) hour: u32,
    pub(super) minute: u32,
    pub(super) second: u32,
    /// 0 = Sunday, as Go's `Weekday`.
    pub(super) weekday: u32,
}

/// Days since 1970-01-01 of a proleptic Gregorian date; `day` may run past the month (Go's
/// `Date` normalises `Jan 32` to `Feb 1`), `month` is 1..=12.
pub(super) fn days_from_civil(year: i64, month: u32, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 + (day - 1)
}

/// (year, month, day) of a day number since 1970-01-01.
pub(super) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// The civil fields of local seconds (Unix seconds shifted by the offset).
pub(super) fn civil_of_local(local: i64) -> Civil {
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: (secs / 3600) as u32,
        minute: (secs % 3600 / 60) as u32,
        second: (secs % 60) as u32,
        weekday: (days + 4).rem_euclid(7) as u32,
    }
}

pub(super) fn civil(zone: &Zone, unix: i64) -> Civil {
    civil_of_local(unix + zone.offset(unix))
}

/// Go's `time.Date(year, month, day, hour, min, sec, 0, loc)` in Unix seconds: fields past
/// their range carry over, and a local time that does not exist or exists twice gets the
/// offset Go picks: the offset in force at the local time read as UTC, corrected once when
/// the resulting instant lies in another zone period (and not at all when that first offset
/// is 0, as Go does).
pub(super) fn date(
    zone: &Zone,
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    min: i64,
    sec: i64,
) -> i64 {
    let m = month - 1;
    let (year, m) = (year + m.div_euclid(12), m.rem_euclid(12));
    let local = days_from_civil(year, (m + 1) as u32, day) * 86_400 + hour * 3600 + min * 60 + sec;
    let first = zone.offset(local);
    if first == 0 {
        return local;
    }
    local - zone.offset(local - first)
}

/// Go's `t.AddDate(years, months, days)`.
pub(super) fn add_date(zone: &Zone, t: i64, years: i64, months: i64, days: i64) -> i64 {
    let c = civil(zone, t);
    date(
        zone,
        c.year + years,
        i64::from(c.month) + months,
        i64::from(c.day) + days,
        i64::from(c.hour),
        i64::from(c.minute),
        i64::from(c.second),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> Zone {
        Zone::Named(
            "Europe/Berlin".into(),
            jiff::tz::db().get("Europe/Berlin").unwrap(),
        )
    }

    #[test]
    fn calendar_round_trips() {
        for d in [-1, 0, 59, 10_957, 20_000, 100_000] {
            let (y, m, day) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, i64::from(day)), d);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_of_local(0).weekday, 4); // a Thursday
        assert_eq!(days_from_civil(2025, 1, 32), days_from_civil(2025, 2, 1));
    }

    #[test]
    fn date_picks_gos_offsets_around_dst() {
        let z = berlin();
        // 2025-03-30 02:30 does not exist in Berlin: Go gives 03:30 CEST (01:30 UTC).
        let t = date(&z, 2025, 3, 30, 2, 30, 0);
        assert_eq!(t, days_from_civil(2025, 3, 30) * 86_400 + 3600 + 1800);
        // 2025-10-26 02:30 exists twice: Go gives the second one, CET (01:30 UTC).
        let t = date(&z, 2025, 10, 26, 2, 30, 0);
        assert_eq!(t, days_from_civil(2025, 10, 26) * 86_400 + 3600 + 1800);
    }
}
