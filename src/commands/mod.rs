//! The subcommands: the only place that joins the pipeline's stages.
//!
//! `run` is the whole program: it turns parsed arguments into calls of the stages and hands
//! their results to the printer. Nothing below it sees clap or prints.

pub mod backup;
pub mod complete;
pub mod diff;
pub mod drill;
pub mod render;
pub mod rollout;
pub mod select;
pub mod status;
pub mod validate;

use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::cli::{self, Cli, Command, CompletionShell};
use crate::cluster::stop::Stop;
use crate::error::Error;
use crate::plan::{Plan, PlanOptions, Target};
use crate::printer::{Format, Printer};
use crate::report::Drilled;
use crate::rollout::{RolloutOptions, RolloutReport};
use render::{Action, RenderOptions};

/// How a command ended, as a process exit code: 0 ok, 1 a check found differences, 2 error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok = 0,
    CheckFailed = 1,
    Error = 2,
}

pub fn run(cli: Cli) -> Outcome {
    let printer = Printer::new(match cli.output {
        cli::Format::Text => Format::Text,
        cli::Format::Json => Format::Json,
        cli::Format::Sarif => Format::Sarif,
    });
    if printer.format() == Format::Sarif && !matches!(cli.command, Command::Validate(_)) {
        printer.errors(&["-o sarif is only for `kubectl hadr validate`; use text or json".into()]);
        return Outcome::Error;
    }
    let root = cli.root;
    match cli.command {
        Command::Status(args) => status(&printer, &root, args),
        Command::History(args) => history(&printer, &root, args),
        Command::Rollout(args) => rollout(&printer, &root, args),
        Command::Rollback(args) => rollback(&printer, &root, args),
        Command::Backup(args) => backup::run(&printer, &root, args),
        Command::Diff(args) => {
            let (env, target, opts) = plan_target(&root, args.target, args.revision);
            show_plan(&printer, diff::diff(&env, &target, &opts))
        }
        Command::Validate(args) => validate(&printer, root, args),
        Command::Drill(args) => drill_command(&printer, &root, &args),
        Command::Render(args) => render(&printer, root, args),
        Command::Schema => {
            let mut s = serde_json::to_string_pretty(&crate::environment::json_schema())
                .unwrap_or_default();
            s.push('\n');
            printer.raw(&s);
            Outcome::Ok
        }
        Command::Version => version(&printer),
        Command::Completion { shell } => completion(&printer, shell),
        Command::Complete { words } => {
            let candidates = complete::candidates(&Cli::command(), &root, &words);
            printer.raw(&complete::cobra_output(&candidates));
            Outcome::Ok
        }
    }
}

/// The environment, the target and the plan options of a cluster command.
fn plan_target(
    root: &Path,
    t: cli::TargetArgs,
    revision: Option<String>,
) -> (String, Target, PlanOptions) {
    let (environment, target) = scope_target(root, t.scope, revision);
    let opts = PlanOptions {
        force_conflicts: t.force_conflicts,
        concurrency: usize::from(t.concurrency),
        keep: t.keep,
        replace: t.replace,
        prune_crd_resources: t.prune_crd_resources,
        take_ownership: t.take_ownership,
    };
    (environment, target, opts)
}

/// The environment named and where its regions are.
pub(crate) fn scope_target(
    root: &Path,
    s: cli::ScopeArgs,
    revision: Option<String>,
) -> (String, Target) {
    let target = Target {
        root: root.to_path_buf(),
        out: crate::revision::out_dir(root, s.out),
        revision,
        region: s.region,
        kubeconfig: s.kubeconfig,
        context: s.context,
    };
    (s.environment, target)
}

fn rollout_options(
    root: &Path,
    c: cli::ClusterArgs,
    revision: Option<String>,
    auto_rollback: bool,
) -> (String, RolloutOptions) {
    let (env, target, plan) = plan_target(root, c.target, revision);
    let opts = RolloutOptions {
        target,
        plan,
        parallel: c.parallel,
        timeout: c.timeout,
        auto_rollback,
        stop: Stop::default(),
    };
    (env, opts)
}

/// Whether a command that changes clusters asks first: on a terminal, unless `--yes`.
fn asks(yes: bool) -> bool {
    !yes && std::io::IsTerminal::is_terminal(&std::io::stdin())
}

/// Whether to go on with a command that changes clusters: `--yes`, no terminal to ask on
/// (CI), or the user says so.
pub(crate) fn confirmed(printer: &Printer, yes: bool, question: &str) -> bool {
    if !asks(yes) || printer.confirm(question) {
        return true;
    }
    printer.errors(&["aborted".into()]);
    false
}

fn rollout(printer: &Printer, root: &Path, args: cli::RolloutArgs) -> Outcome {
    if args.dry_run {
        let (env, target, opts) = plan_target(root, args.cluster.target, args.revision);
        return show_plan(printer, diff::diff(&env, &target, &opts));
    }
    let yes = args.cluster.yes;
    let (env, opts) = rollout_options(root, args.cluster, args.revision, args.auto_rollback);
    if asks(yes) {
        // On a terminal the question comes after the plan, as `terraform apply` does; the
        // rollout plans again under its Leases and carries out only that.
        let planned = diff::diff(&env, &opts.target, &opts.plan);
        if show_plan(printer, planned) == Outcome::Error {
            return Outcome::Error;
        }
    }
    if !confirmed(
        printer,
        yes,
        &format!("Roll out {env} to its clusters as planned?"),
    ) {
        return Outcome::Error;
    }
    let result = rollout::rollout(&env, &opts, args.allow_violations, printer);
    conclude(printer, result, |report| {
        printer.rollout_reports(std::slice::from_ref(&report));
        outcome_of(&[report])
    })
}

fn rollback(printer: &Printer, root: &Path, args: cli::RollbackArgs) -> Outcome {
    let yes = args.cluster.yes;
    let (env, opts) = rollout_options(root, args.cluster, None, false);
    if !confirmed(printer, yes, &format!("Roll {env} back to {}?", args.to)) {
        return Outcome::Error;
    }
    conclude(
        printer,
        rollout::rollback(&env, &opts, &args.to, printer),
        |reports| {
            printer.rollout_reports(&reports);
            outcome_of(&reports)
        },
    )
}

fn status_target(root: &Path, s: &cli::StatusArgs) -> Target {
    Target {
        root: root.to_path_buf(),
        out: crate::revision::out_dir(root, s.out.clone()),
        revision: None,
        region: None,
        kubeconfig: s.kubeconfig.clone(),
        context: None,
    }
}

fn status(printer: &Printer, root: &Path, args: cli::StatusCommandArgs) -> Outcome {
    let target = status_target(root, &args.status);
    conclude(
        printer,
        status::status(&args.status.environment, &target, args.check),
        |report| {
            printer.status_report(&report);
            match report.outcome() {
                0 => Outcome::Ok,
                1 => Outcome::CheckFailed,
                _ => Outcome::Error,
            }
        },
    )
}

fn drill_command(printer: &Printer, root: &Path, args: &cli::DrillArgs) -> Outcome {
    let result = if args.cleanup {
        drill::cleanup(root, args).map(Some)
    } else {
        drill::drill(root, args, |question| {
            confirmed(printer, args.yes, question)
        })
    };
    conclude(printer, result, |drilled| match drilled {
        None => Outcome::Error,
        Some(d) => {
            printer.drill(&d);
            let (verdict, evidence_error) = match &d {
                Drilled::Ran(r) => (Some(r.verdict), r.evidence_error.as_ref()),
                Drilled::RegionRan(r) => (Some(r.verdict), r.evidence_error.as_ref()),
                _ => (None, None),
            };
            if let Some(why) = evidence_error {
                // `-o json` has it in the report (`evidence_error`): stdout stays one document.
                printer.errors_on_stderr(&[format!(
                    "the drill ran, but its evidence was not kept: {why}"
                )]);
                return Outcome::Error;
            }
            match verdict {
                Some(crate::drill::Verdict::Fail) => Outcome::CheckFailed,
                _ => Outcome::Ok,
            }
        }
    })
}

fn history(printer: &Printer, root: &Path, args: cli::HistoryArgs) -> Outcome {
    let target = status_target(root, &args.status);
    let result = status::history(&args.status.environment, &target, args.limit);
    conclude(printer, result, |entries| {
        printer.history_report(&entries);
        Outcome::Ok
    })
}

fn validate(printer: &Printer, root: PathBuf, args: cli::ValidateArgs) -> Outcome {
    let opts = validate::ValidateOptions {
        root,
        environments: args.environments,
        strict: args.strict,
        lose: args.lose.map(|(kind, name)| match kind.as_str() {
            "region" => crate::policy::Loss::Region(name),
            _ => crate::policy::Loss::Zone(name),
        }),
        server: args.server.then_some(validate::ServerCheck {
            kubeconfig: args.kubeconfig,
        }),
    };
    conclude(printer, validate::validate(&opts), |report| {
        printer.validate_report(&report);
        if report.failed() {
            Outcome::CheckFailed
        } else {
            Outcome::Ok
        }
    })
}

fn render(printer: &Printer, root: PathBuf, args: cli::RenderArgs) -> Outcome {
    let opts = RenderOptions {
        root,
        environments: args.environments,
        region: args.region,
        out: args.out,
        action: if args.check {
            Action::Check
        } else if let Some(b) = args.branch {
            Action::Branch(b)
        } else if args.commit {
            Action::Commit
        } else {
            Action::Write
        },
        force: args.force,
        allow_violations: args.allow_violations,
    };
    conclude(printer, render::render(&opts), |report| {
        printer.render_report(&report);
        if report.up_to_date == Some(false) {
            Outcome::CheckFailed
        } else {
            Outcome::Ok
        }
    })
}

fn version(printer: &Printer) -> Outcome {
    let version = env!("CARGO_PKG_VERSION");
    match printer.format() {
        Format::Json | Format::Sarif => printer.json(&serde_json::json!({ "version": version })),
        Format::Text => printer.raw(&format!("kubectl-hadr {version}\n")),
    }
    Outcome::Ok
}

fn completion(printer: &Printer, shell: CompletionShell) -> Outcome {
    let generator = match shell {
        CompletionShell::KubectlPlugin => {
            printer.raw(complete::KUBECTL_PLUGIN_SCRIPT);
            return Outcome::Ok;
        }
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
        CompletionShell::Elvish => clap_complete::Shell::Elvish,
        CompletionShell::Powershell => clap_complete::Shell::PowerShell,
    };
    let mut buf = Vec::new();
    clap_complete::generate(generator, &mut Cli::command(), "kubectl-hadr", &mut buf);
    printer.raw(&String::from_utf8_lossy(&buf));
    Outcome::Ok
}

/// Shows a plan: exit codes as `kubectl diff` (0 no differences, 1 differences, 2 error).
fn show_plan(printer: &Printer, result: Result<Plan, Error>) -> Outcome {
    conclude(printer, result, |report| {
        printer.diff_report(&report);
        if report.failed() {
            Outcome::Error
        } else if report.total.differs() {
            Outcome::CheckFailed
        } else {
            Outcome::Ok
        }
    })
}

fn outcome_of(reports: &[RolloutReport]) -> Outcome {
    match reports.iter().map(|r| r.outcome()).max().unwrap_or(0) {
        0 => Outcome::Ok,
        1 => Outcome::CheckFailed,
        _ => Outcome::Error,
    }
}

/// Shows a command's result, or its errors (exit 2).
pub(crate) fn conclude<T>(
    printer: &Printer,
    result: Result<T, Error>,
    show: impl FnOnce(T) -> Outcome,
) -> Outcome {
    match result {
        Ok(value) => show(value),
        Err(e) => {
            printer.errors(&e.messages());
            Outcome::Error
        }
    }
}
