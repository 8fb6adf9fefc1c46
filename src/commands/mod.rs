//! The subcommands: the only place that joins the pipeline's stages.
//!
//! `run` is the whole program: it turns parsed arguments into calls of the domain modules and
//! hands their results to the printer. Nothing below it sees clap or prints.

pub mod complete;
pub mod pipeline;
pub mod render;
pub mod select;
pub mod status;
pub mod validate;

use clap::CommandFactory;

use crate::cli::{self, Cli, Command, CompletionShell};
use crate::commands::render::{self as render_cmd, Action, RenderOptions};
use crate::commands::validate as validate_cmd;

use crate::environment;
use crate::error;
use crate::plan;
use crate::policy;
use crate::printer::{Format, Printer};
use crate::rollout;

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
    match cli.command {
        Command::Status(args) => {
            let opts = status::StatusOptions {
                root: cli.root,
                out: args.out,
                kubeconfig: args.kubeconfig,
            };
            conclude(
                &printer,
                pipeline::status(&opts, &args.environment),
                |report| {
                    printer.status_report(&report);
                    if report.regions.iter().any(|r| r.error.is_some()) {
                        Outcome::Error
                    } else if report.regions.iter().any(|r| r.drift == "drifted") {
                        Outcome::CheckFailed
                    } else {
                        Outcome::Ok
                    }
                },
            )
        }
        Command::History(args) => {
            let s = args.status;
            let opts = status::StatusOptions {
                root: cli.root,
                out: s.out,
                kubeconfig: s.kubeconfig,
            };
            conclude(
                &printer,
                pipeline::history(&opts, &s.environment, args.limit),
                |entries| {
                    printer.history_report(&entries);
                    Outcome::Ok
                },
            )
        }
        Command::Rollout(args) => {
            let c = args.cluster;
            if args.dry_run {
                return run_diff(&printer, diff_options(cli.root, c.target, args.revision));
            }
            if !c.yes
                && std::io::IsTerminal::is_terminal(&std::io::stdin())
                && !printer.confirm(&format!(
                    "Roll out {} to its clusters?",
                    c.target.environment
                ))
            {
                printer.errors(&["aborted".into()]);
                return Outcome::Error;
            }
            let opts = rollout_options(cli.root, c, args.revision, args.auto_rollback);
            conclude(
                &printer,
                pipeline::rollout(&opts, args.allow_violations, &printer),
                |report| {
                    printer.rollout_reports(std::slice::from_ref(&report));
                    outcome_of(&[report])
                },
            )
        }
        Command::Rollback(args) => {
            let c = args.cluster;
            if !c.yes
                && std::io::IsTerminal::is_terminal(&std::io::stdin())
                && !printer.confirm(&format!(
                    "Roll {} back to {}?",
                    c.target.environment, args.to
                ))
            {
                printer.errors(&["aborted".into()]);
                return Outcome::Error;
            }
            let opts = rollout_options(cli.root, c, None, false);
            conclude(
                &printer,
                pipeline::rollback(&opts, &args.to, &printer),
                |reports| {
                    printer.rollout_reports(&reports);
                    outcome_of(&reports)
                },
            )
        }
        Command::Diff(args) => {
            run_diff(&printer, diff_options(cli.root, args.target, args.revision))
        }
        Command::Validate(args) => {
            let opts = validate_cmd::ValidateOptions {
                root: cli.root,
                environments: args.environments,
                strict: args.strict,
                lose: args.lose.map(|(kind, name)| match kind.as_str() {
                    "region" => policy::Loss::Region(name),
                    _ => policy::Loss::Zone(name),
                }),
            };
            conclude(&printer, validate_cmd::validate(&opts), |report| {
                printer.validate_report(&report);
                if report.failed() {
                    Outcome::CheckFailed
                } else {
                    Outcome::Ok
                }
            })
        }
        Command::Render(args) => {
            let opts = RenderOptions {
                root: cli.root,
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
            conclude(&printer, render_cmd::render(&opts), |report| {
                printer.render_report(&report);
                if report.up_to_date == Some(false) {
                    Outcome::CheckFailed
                } else {
                    Outcome::Ok
                }
            })
        }
        Command::Schema => {
            let mut s =
                serde_json::to_string_pretty(&environment::json_schema()).unwrap_or_default();
            s.push('\n');
            printer.raw(&s);
            Outcome::Ok
        }
        Command::Version => {
            let version = env!("CARGO_PKG_VERSION");
            match printer.format() {
                Format::Json | Format::Sarif => {
                    printer.json(&serde_json::json!({ "version": version }))
                }
                Format::Text => printer.raw(&format!("kubectl-hadr {version}\n")),
            }
            Outcome::Ok
        }
        Command::Completion { shell } => {
            let mut cmd = Cli::command();
            let mut buf = Vec::new();
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
            clap_complete::generate(generator, &mut cmd, "kubectl-hadr", &mut buf);
            printer.raw(&String::from_utf8_lossy(&buf));
            Outcome::Ok
        }
        Command::Complete { words } => {
            let candidates = complete::candidates(&Cli::command(), &cli.root, &words);
            printer.raw(&complete::cobra_output(&candidates));
            Outcome::Ok
        }
    }
}

fn run_diff(printer: &Printer, opts: plan::DiffOptions) -> Outcome {
    conclude(printer, pipeline::diff(&opts), |report| {
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

fn diff_options(
    root: std::path::PathBuf,
    t: cli::TargetArgs,
    revision: Option<String>,
) -> plan::DiffOptions {
    plan::DiffOptions {
        root,
        out: t.out,
        environment: t.environment,
        region: t.region,
        revision,
        kubeconfig: t.kubeconfig,
        context: t.context,
        force_conflicts: t.force_conflicts,
        concurrency: usize::from(t.concurrency),
    }
}

fn rollout_options(
    root: std::path::PathBuf,
    c: cli::ClusterArgs,
    revision: Option<String>,
    auto_rollback: bool,
) -> rollout::RolloutOptions {
    let t = c.target;
    rollout::RolloutOptions {
        root,
        out: t.out,
        environment: t.environment,
        region: t.region,
        revision,
        kubeconfig: t.kubeconfig,
        context: t.context,
        force_conflicts: t.force_conflicts,
        parallel: c.parallel,
        timeout: c.timeout,
        auto_rollback,
        keep: c.keep,
        concurrency: usize::from(t.concurrency),
    }
}

fn outcome_of(reports: &[rollout::RolloutReport]) -> Outcome {
    match reports.iter().map(|r| r.outcome()).max().unwrap_or(0) {
        0 => Outcome::Ok,
        1 => Outcome::CheckFailed,
        _ => Outcome::Error,
    }
}

/// Shows a command's result, or its errors (exit 2).
fn conclude<T>(
    printer: &Printer,
    result: Result<T, error::Error>,
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
