//! The errors a command can end with, each carrying what went wrong, where, and how to fix it.

use std::fmt;
use std::path::PathBuf;

use crate::environment::EnvironmentError;
use crate::render::RenderError;
use crate::render::templates::TemplateLoadError;
use crate::revision::store::StoreError;
use crate::revision::tree::{HandEdit, TreeError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", join(.0))]
    Environments(Vec<EnvironmentError>),
    #[error("{}", join(.0))]
    Render(Vec<RenderError>),
    #[error(transparent)]
    Templates(#[from] TemplateLoadError),
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error(transparent)]
    Revision(#[from] crate::revision::RevisionError),
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    #[error(transparent)]
    Rollout(#[from] crate::rollout::RolloutError),
    #[error(transparent)]
    Drill(#[from] crate::drill::DrillError),
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
    #[error(transparent)]
    DrillHistory(#[from] crate::drill::history::HistoryError),
    #[error(
        "{environment}/{region}: no earlier healthy revision is recorded in the cluster\n  help: roll back with --to <commit>"
    )]
    NoPreviousRevision { environment: String, region: String },
    #[error(
        "{environment}/{region}: the previous rollout came from an uncommitted working tree\n  help: roll back with --to <commit>"
    )]
    PreviousFromWorkingTree { environment: String, region: String },
    #[error("refusing to overwrite hand edits in the rendered tree:\n{}\n  help: move the change into environments/ or templates/, or rerun with --force to discard it", hand_edits(.0))]
    HandEdits(Vec<HandEdit>),
    #[error("no environment files in {} (expected <name>.yaml files)\n  help: run in the repository that holds environments/, or pass -C <DIR>; `kubectl hadr schema` prints what a file holds", .0.display())]
    NoEnvironments(PathBuf),
    /// Two files of one environment (`staging.yaml` and `staging.yml`): each would render
    /// into the same directory.
    #[error("environment `{name}` is defined by {} and {}\n  help: keep one of the two files", .first.display(), .second.display())]
    DuplicateEnvironment {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("no environment `{name}`; available: {}\n  help: {}", .available.join(", "), environment_help(.name, .available))]
    UnknownEnvironment {
        name: String,
        available: Vec<String>,
    },
    #[error("no region `{name}` in the selected environments; available: {}", .available.join(", "))]
    UnknownRegion {
        name: String,
        available: Vec<String>,
    },
    #[error("{}: {message}", .path.display())]
    Io { path: PathBuf, message: String },
    #[error("{}", .0.join("\n"))]
    Policy(Vec<String>),
    #[error(
        "refusing to {action}: error-level policy violations (see `kubectl hadr validate`):\n{}\n  help: fix them, waive a rule with a reason in spec.policy.waivers, or pass --allow-violations",
        gate(findings)
    )]
    PolicyGate {
        action: Gated,
        findings: Vec<crate::policy::Finding>,
    },
}

/// What the policy gate stands in front of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gated {
    /// `render --commit` / `--branch`.
    Commit,
    /// `rollout`.
    Rollout,
}

impl fmt::Display for Gated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Gated::Commit => "commit",
            Gated::Rollout => "roll out",
        })
    }
}

/// The likely mistake behind an unknown environment name.
fn environment_help(name: &str, available: &[String]) -> String {
    let bare = name
        .rsplit('/')
        .next()
        .unwrap_or(name)
        .trim_end_matches(".yaml")
        .trim_end_matches(".yml");
    if bare != name && available.iter().any(|a| a == bare) {
        return format!("name the environment, not its file: `{bare}`");
    }
    if name.starts_with('_') {
        return "files named `_*.yaml` are not environments: they are read through another file's `extends`".into();
    }
    crate::yaml::did_you_mean(name, available).unwrap_or_else(|| {
        "name one of the available environments (the files in environments/, without `.yaml`)"
            .into()
    })
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    distinct(items).join("\n")
}

/// Each message once, in order: a mistake in a file that several environments extend fails
/// each of them with the same words.
fn distinct<T: fmt::Display>(items: &[T]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    (items.iter().map(ToString::to_string))
        .filter(|m| seen.insert(m.clone()))
        .collect()
}

fn hand_edits(edits: &[HandEdit]) -> String {
    edits
        .iter()
        .map(|e| format!("  {:<9}{}", e.what, e.path.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn gate(findings: &[crate::policy::Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            format!(
                "  {} {} {}{}: {}",
                f.rule,
                f.rule.name(),
                f.environment,
                f.region
                    .as_ref()
                    .map(|r| format!("/{r}"))
                    .unwrap_or_default(),
                f.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Error {
    /// The messages to show, one per problem (several files can be wrong at once).
    pub fn messages(&self) -> Vec<String> {
        match self {
            Error::Environments(v) => distinct(v),
            Error::Render(v) => distinct(v),
            Error::Policy(v) => v.clone(),
            other => vec![other.to_string()],
        }
    }
}
