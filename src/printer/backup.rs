//! `kubectl hadr backup`'s report: per region, the Backup and how Velero ended it, or (dry
//! run) the Backup itself as YAML.

use super::{Format, Printer};
use crate::backup::{BackupStatus, RegionBackup};
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
