//! `ParseStandard` of robfig/cron v3.0.1 and of netresearch/go-cron v0.15.0, rule for rule:
//! which specs each accepts, and the bit sets they build. Error texts are ours; which inputs
//! are errors is theirs (proven by the `cron-robfig` and `cron-gocron` oracles).

use super::gotime::Zone;
use super::{CronError, Dialect, Kind, Schedule, Spec};
use crate::environment::go_duration::parse_go_duration;

pub(super) const STAR: u64 = 1 << 63;

/// One field's bounds and names, as the library's `bounds`.
struct Bounds {
    name: &'static str,
    min: u64,
    max: u64,
    names: &'static [(&'static str, u64)],
}

const MONTH_NAMES: &[(&str, u64)] = &[
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];
const DAY_NAMES: &[(&str, u64)] = &[
    ("sun", 0),
    ("mon", 1),
    ("tue", 2),
    ("wed", 3),
    ("thu", 4),
    ("fri", 5),
    ("sat", 6),
];

const fn bounds(name: &'static str, min: u64, max: u64) -> Bounds {
    Bounds {
        name,
        min,
        max,
        names: &[],
    }
}

const MINUTES: Bounds = bounds("minute", 0, 59);
const HOURS: Bounds = bounds("hour", 0, 23);
const DOM: Bounds = bounds("day-of-month", 1, 31);
const MONTHS: Bounds = Bounds {
    names: MONTH_NAMES,
    ..bounds("month", 1, 12)
};

/// Day of week: 0-6 for robfig, 0-7 (7 is Sunday again) for go-cron.
fn dow(dialect: Dialect) -> Bounds {
    let max = match dialect {
        Dialect::Robfig => 6,
        Dialect::GoCron => 7,
    };
    Bounds {
        names: DAY_NAMES,
        ..bounds("day-of-week", 0, max)
    }
}

/// Parses `spec` as the dialect's `ParseStandard` does.
pub(super) fn parse(spec: &str, dialect: Dialect) -> Result<Schedule, CronError> {
    if spec.is_empty() {
        return Err(CronError::new("the schedule is empty"));
    }
    if dialect == Dialect::GoCron && spec.len() > 1024 {
        return Err(CronError::new("the schedule is longer than 1024 bytes"));
    }
    let (zone, rest) = time_zone(spec, dialect)?;
    if rest.starts_with('@') {
        let kind = descriptor(rest, dialect)?;
        return Ok(Schedule {
            kind,
            zone,
            dialect,
        });
    }
    let fields: Vec<&str> = rest
        .split(char::is_whitespace)
        .filter(|f| !f.is_empty())
        .collect();
    if fields.len() != 5 {
        return Err(CronError::new(format!(
            "it has {} fields; a schedule has 5 (minute hour day-of-month month day-of-week) or is a descriptor such as @daily",
            fields.len()
        )));
    }
    if dialect == Dialect::GoCron {
        go_cron_extensions(&fields)?;
    }
    let dow_bounds = dow(dialect);
    let mut spec = Spec {
        minute: field(fields[0], &MINUTES, dialect)?,
        hour: field(fields[1], &HOURS, dialect)?,
        month: field(fields[3], &MONTHS, dialect)?,
        dom: field(fields[2], &DOM, dialect)?,
        dow: field(fields[4], &dow_bounds, dialect)?,
    };
    // go-cron's NormalizeDOW: 7 is Sunday.
    if spec.dow & (1 << 7) != 0 {
        spec.dow = (spec.dow | 1) & !(1 << 7);
    }
    Ok(Schedule {
        kind: Kind::Spec(spec),
        zone,
        dialect,
    })
}

/// go-cron knows extended syntax (`H`, `L`, `W`, `#`) that its standard parser refuses with
/// its own errors; robfig refuses the same inputs as bad numbers.
fn go_cron_extensions(fields: &[&str]) -> Result<(), CronError> {
    if fields
        .iter()
        .any(|f| f.split(',').any(|p| p.starts_with('H')))
    {
        return Err(CronError::new(
            "`H` (hashed) values are not accepted by Velero's parser",
        ));
    }
    if fields[2].contains(['L', 'l', 'W', 'w']) {
        return Err(CronError::new(
            "`L` and `W` in the day-of-month field are not accepted by Velero's parser",
        ));
    }
    if fields[4].contains('#') {
        return Err(CronError::new(
            "`#` in the day-of-week field is not accepted by Velero's parser",
        ));
    }
    Ok(())
}

/// A `TZ=Zone ` or `CRON_TZ=Zone ` prefix: the zone and the rest of the spec.
fn time_zone(spec: &str, dialect: Dialect) -> Result<(Zone, &str), CronError> {
    if !spec.starts_with("TZ=") && !spec.starts_with("CRON_TZ=") {
        return Ok((Zone::Utc, spec));
    }
    // robfig slices up to the first space and panics without one (Velero reports the panic).
    let Some(space) = spec.find(' ') else {
        return Err(CronError::new(
            "a `CRON_TZ=` prefix must be followed by a space and the schedule",
        ));
    };
    let eq = spec.find('=').unwrap_or(0);
    let mut name = &spec[eq + 1..space];
    let rest = spec[space..].trim();
    if dialect == Dialect::GoCron {
        let b = name.as_bytes();
        if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
            name = &name[1..name.len() - 1];
        }
        go_cron_zone_name(name)?;
    }
    let zone = load_location(name)?;
    if dialect == Dialect::GoCron && rest.is_empty() {
        return Err(CronError::new(format!(
            "nothing follows the time zone `{name}`"
        )));
    }
    Ok((zone, rest))
}

/// go-cron's `validateTimezone`: 1-64 characters of `A-Za-z0-9/_-+:`.
fn go_cron_zone_name(name: &str) -> Result<(), CronError> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "/_-+:".contains(c);
    if name.is_empty() || name.len() > 64 || !name.chars().all(ok) {
        return Err(CronError::new(format!(
            "`{name}` is not a time zone name Velero's parser accepts"
        )));
    }
    Ok(())
}

/// Go's `time.LoadLocation`: `""`, `UTC` and `Local` (UTC on a Velero server) are built in;
/// other names must be zones of the tz database, spelled exactly.
fn load_location(name: &str) -> Result<Zone, CronError> {
    if name.is_empty() || name == "UTC" || name == "Local" {
        return Ok(Zone::Utc);
    }
    let unknown = || {
        CronError::new(format!(
            "`{name}` is not a time zone of the tz database (names are case-sensitive, such as `Europe/Berlin` or `America/New_York`)"
        ))
    };
    if name.contains("..") || name.starts_with(['/', '\\']) {
        return Err(unknown());
    }
    let tz = jiff::tz::db().get(name).map_err(|_| unknown())?;
    if tz.iana_name() != Some(name) {
        return Err(unknown());
    }
    Ok(Zone::Named(name.to_string(), tz))
}

/// `@daily` and friends, and `@every DURATION`.
fn descriptor(d: &str, dialect: Dialect) -> Result<Kind, CronError> {
    let fields = |minute: u64, hour: u64, dom: u64, month: u64, dow: u64| {
        Kind::Spec(Spec {
            minute,
            hour,
            dom,
            month,
            dow,
        })
    };
    let all = |b: &Bounds| bits(b.min, b.max, 1) | STAR;
    let all_dow = bits(0, 6, 1) | STAR;
    Ok(match d {
        "@yearly" | "@annually" => fields(1, 1, 1 << 1, 1 << 1, all_dow),
        "@monthly" => fields(1, 1, 1 << 1, all(&MONTHS), all_dow),
        "@weekly" => fields(1, 1, all(&DOM), all(&MONTHS), 1),
        "@daily" | "@midnight" => fields(1, 1, all(&DOM), all(&MONTHS), all_dow),
        "@hourly" => fields(1, all(&HOURS), all(&DOM), all(&MONTHS), all_dow),
        "@triggered" | "@manual" | "@none" if dialect == Dialect::GoCron => Kind::Never,
        _ => match d.strip_prefix("@every ") {
            Some(text) => every(text, dialect)?,
            None => {
                return Err(CronError::new(format!(
                    "`{d}` is not a descriptor; use @yearly, @monthly, @weekly, @daily, @hourly or @every DURATION"
                )));
            }
        },
    })
}

/// `@every`: a Go duration, whole seconds, at least one second (robfig raises shorter ones
/// to a second, go-cron refuses them).
fn every(text: &str, dialect: Dialect) -> Result<Kind, CronError> {
    let ns = parse_go_duration(text).map_err(|e| {
        CronError::new(format!(
            "`@every {text}`: {e}; write a Go duration such as `@every 6h` or `@every 1h30m`"
        ))
    })?;
    const SECOND: i64 = 1_000_000_000;
    if ns < SECOND && dialect == Dialect::GoCron {
        return Err(CronError::new(format!(
            "`@every {text}` is shorter than a second"
        )));
    }
    Ok(Kind::Every(ns.max(SECOND) / SECOND))
}

/// A comma-separated field into its bit set (bit 63: it was a `*`, which robfig's day
/// matching looks at). Empty items are skipped, as Go's `strings.FieldsFunc` does.
fn field(text: &str, b: &Bounds, dialect: Dialect) -> Result<u64, CronError> {
    let mut all = 0;
    for expr in text.split(',').filter(|e| !e.is_empty()) {
        all |= range(expr, b, dialect)?;
    }
    Ok(all)
}

/// One `*`, `?`, `N`, `N-M`, with an optional `/STEP`.
fn range(expr: &str, b: &Bounds, dialect: Dialect) -> Result<u64, CronError> {
    let bad = |why: String| CronError::new(format!("`{expr}` in the {} field: {why}", b.name));
    let slash: Vec<&str> = expr.split('/').collect();
    let dash: Vec<&str> = slash[0].split('-').collect();
    let (start, mut end, mut extra) = if dash[0] == "*" || dash[0] == "?" {
        (b.min, b.max, STAR)
    } else {
        let start = int_or_name(dash[0], b).map_err(&bad)?;
        match dash.len() {
            1 => (start, start, 0),
            2 => (start, int_or_name(dash[1], b).map_err(&bad)?, 0),
            _ => return Err(bad("too many `-`".into())),
        }
    };
    let step = match slash.len() {
        1 => 1,
        2 => {
            let step = int(slash[1]).map_err(&bad)?;
            if dash.len() == 1 {
                end = b.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(bad("too many `/`".into())),
    };
    if start < b.min || end > b.max {
        return Err(bad(format!("values run from {} to {}", b.min, b.max)));
    }
    // go-cron reads a backwards range as wrapping around (`fri-mon`, `22-2`).
    let wraps = start > end && dialect == Dialect::GoCron;
    if start > end && !wraps {
        return Err(bad(format!("the range runs backwards ({start} > {end})")));
    }
    if step == 0 {
        return Err(bad("the step must be positive".into()));
    }
    if dialect == Dialect::GoCron {
        // Go's uint arithmetic: a start past the maximum (`60-5`) wraps around.
        let size = if wraps {
            (b.max.wrapping_sub(start).wrapping_add(1))
                .wrapping_add(end.wrapping_sub(b.min).wrapping_add(1))
        } else {
            end - start + 1
        };
        if step > 1 && step >= size {
            return Err(bad(format!(
                "the step {step} must be smaller than the range ({size} values)"
            )));
        }
    }
    if wraps {
        return Ok(wrap_bits(start, end, step, b) | extra);
    }
    Ok(bits(start, end, step) | extra)
}

fn bits(min: u64, max: u64, step: u64) -> u64 {
    let mut out = 0;
    let mut i = min;
    while i <= max {
        out |= 1 << i;
        i = i.saturating_add(step);
    }
    out
}

/// go-cron's `getWraparoundBits`.
fn wrap_bits(start: u64, end: u64, step: u64, b: &Bounds) -> u64 {
    let size = b.max - b.min + 1;
    let mut out = 0;
    let mut i = start;
    while i <= end + size {
        let v = if i > b.max {
            (i - b.min) % size + b.min
        } else {
            i
        };
        out |= 1 << v;
        i = i.saturating_add(step);
    }
    out
}

fn int_or_name(s: &str, b: &Bounds) -> Result<u64, String> {
    let lower = s.to_lowercase();
    if let Some((_, v)) = b.names.iter().find(|(n, _)| *n == lower) {
        return Ok(*v);
    }
    int(s)
}

/// Go's `strconv.Atoi` (optional sign, decimal digits, 64 bits), then non-negative.
fn int(s: &str) -> Result<u64, String> {
    let n: i64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    u64::try_from(n).map_err(|_| format!("`{s}` is negative"))
}
