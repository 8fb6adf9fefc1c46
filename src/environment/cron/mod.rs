//! Velero Schedule `schedule`s as the Velero version a region runs reads them: which specs
//! it accepts, when it fires, and the longest gap between two backups.
//!
//! Velero parses schedules with `cron.ParseStandard` and takes the next backup at
//! `Next(last backup)`; the library changed between releases (checked in Velero's go.mod and
//! `pkg/controller/schedule_controller.go`):
//!
//! | Velero | library | day of week | both day fields restricted |
//! | --- | --- | --- | --- |
//! | v1.18.1 | github.com/robfig/cron/v3 v3.0.1 | 0-6 | a day matches if either does |
//! | v1.18.3 | github.com/netresearch/go-cron v0.15.0 | 0-7, and ranges may wrap (`fri-mon`) | both must match |
//!
//! Both take `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`, `@hourly`,
//! `@every DURATION` (a Go duration) and a `CRON_TZ=Zone `/`TZ=Zone ` prefix (times without
//! one are UTC, Velero's local zone). This module follows both libraries rule for rule and is
//! proven against them by the differential tests in tests/it/oracles.rs.

mod gap;
mod gotime;
mod next;
mod parse;

use std::fmt;

use serde::Serialize;

pub use gotime::Zone;

/// 2025-01-01T00:00:00Z: where load-time checks start looking for a firing.
pub const REFERENCE_TIME: i64 = 1_735_689_600;

/// A schedule Velero refuses (or that never fires), with why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(pub String);

impl CronError {
    fn new(s: impl Into<String>) -> CronError {
        CronError(s.into())
    }
}

/// Which cron library reads the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dialect {
    /// github.com/robfig/cron/v3 v3.0.1
    Robfig,
    /// github.com/netresearch/go-cron v0.15.0
    GoCron,
}

/// A Velero release whose schedule parser is known here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VeleroVersion {
    V1_18_1,
    V1_18_3,
}

impl VeleroVersion {
    /// The version the testenv builds and environments get unless they say otherwise.
    pub const DEFAULT: VeleroVersion = VeleroVersion::V1_18_3;
    pub const ALL: [VeleroVersion; 2] = [VeleroVersion::V1_18_1, VeleroVersion::V1_18_3];

    /// `1.18.3` or `v1.18.3`.
    pub fn parse(s: &str) -> Option<VeleroVersion> {
        let s = s.strip_prefix('v').unwrap_or(s);
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VeleroVersion::V1_18_1 => "1.18.1",
            VeleroVersion::V1_18_3 => "1.18.3",
        }
    }

    pub fn dialect(self) -> Dialect {
        match self {
            VeleroVersion::V1_18_1 => Dialect::Robfig,
            VeleroVersion::V1_18_3 => Dialect::GoCron,
        }
    }

    /// How to write a schedule this version accepts.
    pub fn schedule_hint(self) -> String {
        let dow = match self.dialect() {
            Dialect::Robfig => "0-6 or sun-sat (Sunday is 0; 7 is refused)",
            Dialect::GoCron => "0-7 or sun-sat (0 and 7 are Sunday)",
        };
        format!(
            "use five fields, minute hour day-of-month month day-of-week (day-of-week {dow}), or @hourly, @daily, @weekly, @monthly, @yearly or @every DURATION such as `@every 6h`; prefix `CRON_TZ=Europe/Berlin ` for a time zone other than UTC"
        )
    }
}

impl fmt::Display for VeleroVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for VeleroVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A parsed schedule: what fires, in which zone, read by which library.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    kind: Kind,
    zone: Zone,
    dialect: Dialect,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Spec(Spec),
    /// `@every`: a constant delay in whole seconds.
    Every(i64),
    /// go-cron's `@triggered`, `@manual`, `@none`: never fires by itself.
    Never,
}

/// Bit sets of the allowed values per field (bit 63: the field was a `*`).
#[derive(Debug, Clone, PartialEq)]
struct Spec {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
}

impl Schedule {
    /// Parses `spec` as `ParseStandard` of the dialect's library does; the error says why in
    /// our words (the libraries' own texts are not stable across versions).
    pub fn parse(spec: &str, dialect: Dialect) -> Result<Schedule, CronError> {
        parse::parse(spec, dialect)
    }

    /// The first firing after `after` (Unix seconds, UTC), as Velero's `Next(after)`;
    /// `None` when the library finds none (it looks five years ahead).
    pub fn next(&self, after: i64) -> Option<i64> {
        match &self.kind {
            Kind::Spec(spec) => spec.next(self.dialect, &self.zone, after),
            Kind::Every(secs) => Some(after + secs),
            Kind::Never => None,
        }
    }

    /// The backup Velero takes after one at `t`: at `Next(t)`, or, when `Next` does not move
    /// past `t` (robfig around some DST changes), at the next minute's resync, since Velero
    /// then finds a backup due at once (`scheduleSyncPeriod` is a minute).
    pub fn step(&self, t: i64) -> Option<i64> {
        self.next(t).map(|n| if n > t { n } else { t + 60 })
    }

    /// The zone its times are read in.
    pub fn zone(&self) -> &Zone {
        &self.zone
    }
}

/// Seconds as a short duration: `14d`, `2d6h`, `45m`, `90s` -> `1m30s`.
pub fn format_seconds(secs: i64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let mut out = String::new();
    for (n, u) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{u}"));
        }
    }
    if out.is_empty() {
        out.push_str("0m");
    }
    out
}

#[cfg(test)]
mod tests;
