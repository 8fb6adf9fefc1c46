//! `kubectl hadr backup`'s report: per region, the Backup and how Velero ended it, or (dry
//! run) the Backup itself as YAML.

use super::{Format, Printer};
use crate::backup::{BackupState, BackupStatus, RegionBackup};
use crate::environment::cron::format_seconds;
use crate::report::BackupReport;

impl Printer {
    pub fn backup_report(&self, report: &BackupReport) {
        if self.format != Format::Text {
            return self.json(report);
        }
        let mut out = String::new();
        for r in &report.regions {
            if let (BackupStatus::Planned, Some(object)) = (r.status, &r.object) {
                out.push_str(&format!(
                    "# {}/{} ({}): from Schedule {}, accepted by the API server (dry run: nothing created)\n---\n{}",
                    report.environment,
                    r.region,
                    r.context,
                    r.schedule,
                    crate::yaml::to_string(object)
                ));
                continue;
            }
            out.push_str(&format!(
                "{}/{} ({}): {}{}\n",
                report.environment,
                r.region,
                r.context,
                self.paint(status_color(r.status), &r.status.to_string()),
                summary(r)
            ));
            out.push_str(&details(r));
        }
        self.raw(&out);
    }
}

fn status_color(status: BackupStatus) -> &'static str {
    match status {
        BackupStatus::Completed | BackupStatus::Created | BackupStatus::Planned => "32",
        BackupStatus::Failed | BackupStatus::TimedOut => "33",
        BackupStatus::Error => "31",
    }
}

/// ` — Backup velero/NAME Completed, 12/12 items, 0 errors, 0 warnings, 0.9s`.
fn summary(r: &RegionBackup) -> String {
    let Some(name) = &r.backup else {
        return format!(" — from Schedule {}, {:.1}s", r.schedule, r.seconds);
    };
    let namespace = r.schedule.split_once('/').map_or("", |(ns, _)| ns);
    let mut s = format!(" — Backup {namespace}/{name}");
    if let Some(phase) = &r.phase {
        s.push_str(&format!(" {phase}"));
    }
    if let (Some(done), Some(total)) = (r.items_backed_up, r.total_items) {
        s.push_str(&format!(", {done}/{total} items"));
    }
    if r.phase.is_some() {
        s.push_str(&format!(
            ", {} error{}, {} warning{}",
            r.errors,
            plural(r.errors),
            r.warnings,
            plural(r.warnings)
        ));
    }
    s.push_str(&format!(", {:.1}s", r.seconds));
    s
}

/// Velero's failure reason and validation errors, and our own message, one per line.
fn details(r: &RegionBackup) -> String {
    let mut s = String::new();
    if let Some(reason) = &r.failure_reason {
        s.push_str(&format!("  failure reason: {reason}\n"));
    }
    for e in &r.validation_errors {
        s.push_str(&format!("  validation error: {e}\n"));
    }
    if r.status == BackupStatus::Failed
        && (r.errors > 0 || r.warnings > 0)
        && let Some(name) = &r.backup
    {
        s.push_str(&format!(
            "  help: Velero's log of it: `velero backup logs {name}`, or backups/{name}/{name}-logs.gz in the storage location\n"
        ));
    }
    if let Some(m) = &r.message {
        s.push_str(&format!("  {m}\n"));
    }
    s
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `status`'s backup lines for one region (none when the environment renders no Schedule):
///
/// ```text
///   backups: Schedule velero/web-prod enabled, next due 2026-12-01T03:00:00Z
///     last completed web-prod-eastus2-20261130030000 at 2026-11-30T03:00:00Z, 6h ago: RPO 6h of 24h met
///     last failed    web-prod-eastus2-20261130080000 PartiallyFailed at ..., 1h ago: 2 errors, 0 warnings
///     ALARM: newest backup failed
/// ```
pub(super) fn backup_lines(b: &BackupState) -> String {
    let mut out = format!("  backups: Schedule {} {}", b.schedule, b.state);
    if let Some(next) = &b.next_due {
        out.push_str(&format!(", next due {next}"));
    }
    if let Some(last) = &b.last_backup {
        out.push_str(&format!(", last run {last}"));
    }
    out.push('\n');
    for e in &b.validation_errors {
        out.push_str(&format!("    Velero: {e}\n"));
    }
    let rpo = b.rpo_seconds.map(|s| format_seconds(s as i64));
    match &b.last_completed {
        Some(c) => out.push_str(&format!(
            "    last completed {} at {}, {} ago: RPO {} of {} {}\n",
            c.name,
            c.started,
            format_seconds(c.age_seconds.max(0)),
            format_seconds(c.age_seconds.max(0)),
            rpo.as_deref().unwrap_or("(none declared)"),
            b.verdict
        )),
        None => out.push_str(&format!(
            "    no completed backup{}\n",
            rpo.map(|r| format!(" (RPO {r})")).unwrap_or_default()
        )),
    }
    if let Some(f) = &b.last_failed {
        out.push_str(&format!(
            "    last failed    {} {} at {}, {} ago: {} errors, {} warnings{}\n",
            f.name,
            f.phase,
            f.started,
            format_seconds(f.age_seconds.max(0)),
            f.errors,
            f.warnings,
            f.failure_reason
                .as_ref()
                .map(|r| format!(", {r}"))
                .unwrap_or_default()
        ));
        for e in &f.validation_errors {
            out.push_str(&format!("      Velero: {e}\n"));
        }
    }
    if !b.alarms.is_empty() {
        let alarms: Vec<String> = b.alarms.iter().map(ToString::to_string).collect();
        out.push_str(&format!("    ALARM: {}\n", alarms.join(", ")));
    }
    out
}
