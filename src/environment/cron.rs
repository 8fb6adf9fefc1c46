//! Five-field cron schedules (as Velero and Kubernetes CronJobs read them): parsing and the
//! longest gap between two runs, computed by walking the calendar rather than guessed.

/// A parsed schedule: the set of allowed values per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: Vec<u32>,
    hours: Vec<u32>,
    days_of_month: [bool; 32],
    months: [bool; 13],
    days_of_week: [bool; 7],
    /// Vixie cron: when both day fields are restricted, a day matches if either does.
    dom_restricted: bool,
    dow_restricted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(pub String);

struct Field {
    name: &'static str,
    lo: u32,
    hi: u32,
    names: &'static [&'static str],
}

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        lo: 0,
        hi: 59,
        names: &[],
    },
    Field {
        name: "hour",
        lo: 0,
        hi: 23,
        names: &[],
    },
    Field {
        name: "day of month",
        lo: 1,
        hi: 31,
        names: &[],
    },
    Field {
        name: "month",
        lo: 1,
        hi: 12,
        names: &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
    },
    Field {
        name: "day of week",
        lo: 0,
        hi: 7,
        names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    },
];

fn value(field: &Field, s: &str) -> Result<u32, CronError> {
    let n = match s.parse::<u32>() {
        Ok(n) => n,
        Err(_) => {
            let lower = s.to_ascii_lowercase();
            let idx = field
                .names
                .iter()
                .position(|n| *n == lower)
                .ok_or_else(|| {
                    CronError(format!("`{s}` is not valid in the {} field", field.name))
                })? as u32;
            if field.name == "month" { idx + 1 } else { idx }
        }
    };
    if n < field.lo || n > field.hi {
        return Err(CronError(format!(
            "{n} is outside {}-{} in the {} field",
            field.lo, field.hi, field.name
        )));
    }
    Ok(n)
}

fn parse_field(field: &Field, text: &str) -> Result<(Vec<u32>, bool), CronError> {
    let mut values = Vec::new();
    let restricted = text != "*" && text != "?";
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, st)) => {
                let step: u32 = st.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    CronError(format!("bad step `{st}` in the {} field", field.name))
                })?;
                (r, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            (field.lo, field.hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(field, a)?, value(field, b)?)
        } else {
            let v = value(field, range)?;
            // `5/15` means from 5 to the end, every 15.
            (v, if step > 1 { field.hi } else { v })
        };
        if lo > hi {
            return Err(CronError(format!(
                "range `{range}` runs backwards in the {} field",
                field.name
            )));
        }
        values.extend((lo..=hi).step_by(step as usize));
    }
    values.sort_unstable();
    values.dedup();
    Ok((values, restricted))
}

impl Schedule {
    pub fn parse(s: &str) -> Result<Schedule, CronError> {
        let parts: Vec<&str> = s.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(CronError(format!("it has {} fields, not 5", parts.len())));
        }
        let mut parsed = Vec::with_capacity(5);
        for (field, text) in FIELDS.iter().zip(&parts) {
            parsed.push(parse_field(field, text)?);
        }
        let mut days_of_month = [false; 32];
        for d in &parsed[2].0 {
            days_of_month[*d as usize] = true;
        }
        let mut months = [false; 13];
        for m in &parsed[3].0 {
            months[*m as usize] = true;
        }
        let mut days_of_week = [false; 7];
        for d in &parsed[4].0 {
            days_of_week[(*d % 7) as usize] = true;
        }
        Ok(Schedule {
            minutes: parsed[0].0.clone(),
            hours: parsed[1].0.clone(),
            days_of_month,
            months,
            days_of_week,
            dom_restricted: parsed[2].1,
            dow_restricted: parsed[4].1,
        })
    }

    fn day_matches(&self, month: u32, day: u32, weekday: u32) -> bool {
        if !self.months[month as usize] {
            return false;
        }
        let dom = self.days_of_month[day as usize];
        let dow = self.days_of_week[weekday as usize];
        match (self.dom_restricted, self.dow_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    /// The longest time between two consecutive runs, in minutes, over a 28-year window
    /// (weekdays and leap years repeat every 28 years between 1901 and 2099), counting the
    /// wrap from the last run of the window to the first. `None` if it never runs.
    pub fn longest_gap_minutes(&self) -> Option<u64> {
        const START_YEAR: i64 = 2001;
        const YEARS: i64 = 28;
        let mut first: Option<u64> = None;
        let mut prev: Option<u64> = None;
        let mut longest = 0u64;
        let mut day_index: u64 = 0;
        // 2001-01-01 was a Monday.
        let mut weekday = 1u32;
        for year in START_YEAR..START_YEAR + YEARS {
            for month in 1..=12u32 {
                for day in 1..=days_in_month(year, month) {
                    if self.day_matches(month, day, weekday) {
                        for h in &self.hours {
                            for m in &self.minutes {
                                let t = day_index * 1440 + u64::from(*h) * 60 + u64::from(*m);
                                if let Some(p) = prev {
                                    longest = longest.max(t - p);
                                }
                                first.get_or_insert(t);
                                prev = Some(t);
                            }
                        }
                    }
                    day_index += 1;
                    weekday = (weekday + 1) % 7;
                }
            }
        }
        let (first, last) = (first?, prev?);
        // The window is a whole number of weeks and leap cycles: it wraps around seamlessly.
        let wrap = day_index * 1440 - last + first;
        Some(longest.max(wrap))
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Minutes as a short duration: `2d6h`, `6h`, `45m`.
pub fn format_minutes(m: u64) -> String {
    let (d, h, min) = (m / 1440, (m % 1440) / 60, m % 60);
    let mut s = String::new();
    if d > 0 {
        s.push_str(&format!("{d}d"));
    }
    if h > 0 {
        s.push_str(&format!("{h}h"));
    }
    if min > 0 || s.is_empty() {
        s.push_str(&format!("{min}m"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gap(s: &str) -> u64 {
        Schedule::parse(s).unwrap().longest_gap_minutes().unwrap()
    }

    #[test]
    fn simple_schedules() {
        assert_eq!(gap("* * * * *"), 1);
        assert_eq!(gap("0 * * * *"), 60);
        assert_eq!(gap("0 0 * * *"), 1440);
        assert_eq!(gap("0 */6 * * *"), 360);
        assert_eq!(gap("30 1,13 * * *"), 720);
        assert_eq!(gap("5/15 * * * *"), 15); // 5, 20, 35, 50, then 5 of the next hour
        assert_eq!(gap("5,10 * * * *"), 55);
    }

    #[test]
    fn weekday_only_schedules_have_a_weekend_gap() {
        // Friday 18:00 to Monday 00:00.
        assert_eq!(gap("0 */6 * * 1-5"), 2 * 1440 + 360);
        assert_eq!(gap("0 2 * * mon-fri"), 3 * 1440);
        assert_eq!(gap("0 0 * * 0"), 7 * 1440);
        assert_eq!(gap("0 0 * * 7"), 7 * 1440);
    }

    #[test]
    fn day_of_month_schedules_follow_month_lengths() {
        // The 1st of each month: the longest gap is 31 days.
        assert_eq!(gap("0 0 1 * *"), 31 * 1440);
        // The 31st only exists in seven months: July 31 to August 31 is 31 days, but
        // August 31 to October 31 is 61.
        assert_eq!(gap("0 0 31 * *"), 61 * 1440);
        // Feb 29: once every four years in this window.
        assert_eq!(gap("0 0 29 2 *"), (366 + 365 * 3) * 1440);
    }

    #[test]
    fn both_day_fields_restricted_means_either() {
        // The 1st or any Monday: never more than 7 days apart.
        assert!(gap("0 0 1 * 1") <= 7 * 1440);
    }

    #[test]
    fn bad_schedules_are_rejected() {
        for s in [
            "0 0 * *",
            "61 0 * * *",
            "0 0 * * */0",
            "0 0 32 * *",
            "0 0 * * funday",
            "5-1 * * * *",
        ] {
            assert!(Schedule::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn minutes_format_as_durations() {
        assert_eq!(format_minutes(2 * 1440 + 360), "2d6h");
        assert_eq!(format_minutes(45), "45m");
        assert_eq!(format_minutes(0), "0m");
    }
}
