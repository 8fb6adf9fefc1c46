//! `kubectl hadr backup`: a Velero Backup now, from the environment's Schedule, per region.

use std::path::Path;

use super::{Outcome, conclude, confirmed, scope_target};
use crate::backup::{self, BackupOptions};
use crate::cli::BackupArgs;
use crate::commands::select::{one_environment, runtime};
use crate::error::Error;
use crate::printer::Printer;
use crate::report::BackupReport;

pub(crate) fn run(printer: &Printer, root: &Path, args: BackupArgs) -> Outcome {
    let (environment, target) = scope_target(root, args.scope, None);
    let opts = BackupOptions {
        target,
        wait: args.wait,
        timeout: args.timeout,
        dry_run: args.dry_run,
    };
    let question = format!(
        "Back up {} in {}?",
        environment,
        opts.target.region.as_deref().unwrap_or("every region")
    );
    if !args.dry_run && !confirmed(printer, args.yes, &question) {
        return Outcome::Error;
    }
    conclude(printer, take(&environment, &opts, printer), |report| {
        printer.backup_report(&report);
        match report.outcome() {
            0 => Outcome::Ok,
            1 => Outcome::CheckFailed,
            _ => Outcome::Error,
        }
    })
}

fn take(environment: &str, opts: &BackupOptions, printer: &Printer) -> Result<BackupReport, Error> {
    let target = &opts.target;
    let env = one_environment(&target.root, environment, target.region.as_ref())?;
    let regions = runtime()?.block_on(backup::backup(&env, opts, printer))?;
    Ok(BackupReport {
        environment: env.name.clone(),
        dry_run: opts.dry_run,
        waited: opts.wait,
        regions,
    })
}
