//! Command-line types (clap derive) and nothing else.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-hadr",
    bin_name = "kubectl hadr",
    version,
    about = "High availability and disaster recovery for applications on Kubernetes",
    long_about = "Describe an application once per environment (environments/*.yaml), render it into \
immutable, content-hashed, per-region manifests committed to git, and roll revisions out region by region.",
    after_help = "Examples:\n  kubectl hadr render                      render every environment into rendered/\n  kubectl hadr render prod --commit        render prod and commit the result\n  kubectl hadr render --check              exit 1 if rendered/ is not what the sources produce\n  kubectl hadr schema > environment.schema.json"
)]
pub struct Cli {
    /// Repository root holding environments/ and templates/.
    #[arg(
        long,
        short = 'C',
        global = true,
        default_value = ".",
        value_name = "DIR"
    )]
    pub root: PathBuf,

    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Format::Text)]
    pub output: Format,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// SARIF 2.1.0, for code scanning in CI (validate only).
    Sarif,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render environments into per-region manifests (and optionally commit them).
    #[command(
        after_help = "Examples:\n  kubectl hadr render\n  kubectl hadr render prod --region eastus2\n  kubectl hadr render --commit\n  kubectl hadr render --branch rendered\n  kubectl hadr render --check -o json\n\nExit codes: 0 ok, 1 --check found differences, 2 error."
    )]
    Render(RenderArgs),
    /// Compare a revision with the live clusters (server-side dry-run apply), region by region.
    #[command(
        after_help = "Examples:\n  kubectl hadr diff prod\n  kubectl hadr diff prod --region eastus2 --revision HEAD~1\n  kubectl hadr diff prod -o json\n\nExit codes (as kubectl diff): 0 no differences, 1 differences, 2 error (a region unreachable included)."
    )]
    Diff(DiffArgs),
    /// Apply a revision region by region, wait for health, record it in the cluster.
    #[command(
        after_help = "Examples:\n  kubectl hadr rollout prod\n  kubectl hadr rollout prod --revision v1.4.2 --yes\n  kubectl hadr rollout prod --dry-run\n  kubectl hadr rollout prod --auto-rollback --timeout 10m\n\nExit codes: 0 ok, 1 a region failed its health check (the wave stopped), 2 error."
    )]
    Rollout(RolloutArgs),
    /// Take a Velero backup now, from the environment's Schedule, in each region.
    #[command(
        after_help = "Examples:\n  kubectl hadr backup prod --wait\n  kubectl hadr backup prod --region eastus2 --wait --timeout 10m --yes\n  kubectl hadr backup prod --dry-run -o json\n\nThe Backup is what `velero backup create --from-schedule` makes of the live Schedule\n(its spec.template, its labels plus velero.io/schedule-name), named\n<schedule>-<region>-<UTC yyyymmddhhmmss>.\n\nExit codes: 0 created (with --wait: Completed), 1 with --wait: a backup ended in another\nphase or not within --timeout, 2 error (a region unreachable, its lease held, no Schedule)."
    )]
    Backup(BackupArgs),
    /// Put an earlier git revision of the rendered tree back (`previous`: from the in-cluster record).
    #[command(
        after_help = "Examples:\n  kubectl hadr rollback prod --to previous\n  kubectl hadr rollback prod --to HEAD~3 --region eastus2"
    )]
    Rollback(RollbackArgs),
    /// Per region: the deployed revision, its set digest, when, by whom, health and drift;
    /// the Velero Schedule, the last good backup's age against the RPO, the next one due.
    #[command(
        after_help = "Examples:\n  kubectl hadr status prod\n  kubectl hadr status prod --check -o json   # in a monitoring or CI cron job\n\nExit codes: 0 every region in sync (with --check: and no backup alarm), 1 a region drifted,\nunhealthy or not deployed (with --check: or a backup alarm: Schedule missing, paused or\nFailedValidation, RPO missed, newest backup failed), 2 a region could not be read."
    )]
    Status(StatusCommandArgs),
    /// The git history of an environment's rendered tree, marked where each region is now.
    History(HistoryArgs),
    /// DR drill: lose a zone on purpose (cordon its nodes, evict its pods through the Eviction
    /// API), or a region (recover it into another from backup and from git), and measure the
    /// recovery against the objectives.
    #[command(
        after_help = "Examples:\n  kubectl hadr drill prod --lose zone=eastus2-1 --dry-run\n  kubectl hadr drill prod --lose zone=eastus2-1 --yes -o json\n  kubectl hadr drill prod --lose region=eastus2 --restore-into centralus --yes --report drill-out --commit\n  kubectl hadr drill prod --cleanup\n\nExit codes: 0 every objective met, 1 one missed, 2 error."
    )]
    Drill(DrillArgs),
    /// Check environments and their rendered objects against the HA/DR policy.
    #[command(
        after_help = "Examples:\n  kubectl hadr validate\n  kubectl hadr validate prod --strict -o sarif > hadr.sarif\n  kubectl hadr validate prod --lose zone=eastus2-1\n  kubectl hadr validate prod --lose region=centralus\n\nExit codes: 0 clean, 1 violations (or a loss the environment does not survive), 2 error."
    )]
    Validate(ValidateArgs),
    /// Print the JSON Schema of environment files (for yaml-language-server and editors).
    Schema,
    /// Print the version.
    Version,
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  kubectl hadr completion bash > /etc/bash_completion.d/kubectl-hadr\n  kubectl hadr completion kubectl-plugin > ~/bin/kubectl_complete-hadr && chmod +x ~/bin/kubectl_complete-hadr"
    )]
    Completion {
        /// bash, zsh, fish, elvish, powershell, or kubectl-plugin for the
        /// `kubectl_complete-hadr` script that `kubectl hadr <TAB>` uses.
        shell: CompletionShell,
    },
    /// Completion candidates for the words given (used by `kubectl_complete-hadr`).
    #[command(name = "__complete", hide = true)]
    Complete {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
    KubectlPlugin,
}

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Environments to render (default: all in environments/).
    #[arg(value_name = "ENV")]
    pub environments: Vec<String>,

    /// Render only this region.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Output directory (default: <root>/rendered).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Commit the rendered changes to the checked-out branch.
    #[arg(long, conflicts_with_all = ["check", "branch"])]
    pub commit: bool,

    /// Commit the rendered tree to this branch without touching the working tree or index.
    #[arg(long, value_name = "BRANCH", conflicts_with = "check")]
    pub branch: Option<String>,

    /// Exit 1 and list the files if the rendered tree is not what the sources produce.
    #[arg(long)]
    pub check: bool,

    /// Overwrite hand edits in the rendered tree.
    #[arg(long)]
    pub force: bool,

    /// Commit even when `validate` finds error-level violations.
    #[arg(long)]
    pub allow_violations: bool,
}

/// Which environment and regions, and how to reach their clusters.
#[derive(Debug, clap::Args)]
pub struct ScopeArgs {
    /// The environment.
    #[arg(value_name = "ENV")]
    pub environment: String,

    /// Only this region.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Rendered tree directory (default: <root>/rendered).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Context to use instead of the region's (needs --region).
    #[arg(long, value_name = "CONTEXT", requires = "region")]
    pub context: Option<String>,
}

/// The scope of a command that plans and applies, and how it plans.
#[derive(Debug, clap::Args)]
pub struct TargetArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,

    /// Take over (or, for diff, show taking over) fields owned by other field managers.
    #[arg(long)]
    pub force_conflicts: bool,

    /// Content-hashed ConfigMaps/Secrets kept per name after they leave the set; older ones
    /// are deleted (shown as `expire`).
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub keep: usize,

    /// Delete and re-create an object whose change touches a field that cannot change after
    /// creation (a selector, a Service's clusterIP, a Job's template), as `kubectl replace
    /// --force` does; shown as `replace`. The object is absent in between.
    #[arg(long)]
    pub replace: bool,

    /// Prune a CustomResourceDefinition that left the set even though custom resources
    /// outside the set remain: the API server deletes them with it (the plan lists them).
    #[arg(long)]
    pub prune_crd_resources: bool,

    /// Adopt rendered objects that already exist in no ApplySet (made by hand or by another
    /// tool) into the environment's set, as Helm's `--take-ownership`; they are then pruned
    /// with it. Members of another environment's set are never taken over.
    #[arg(long)]
    pub take_ownership: bool,

    /// Requests in flight per region.
    #[arg(long, default_value_t = 16, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Git commit-ish of the rendered tree to compare (default: the working tree).
    #[arg(long, value_name = "REV")]
    pub revision: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Roll out every region at once instead of in waves.
    #[arg(long)]
    pub parallel: bool,

    /// How long to wait for each region to become healthy (e.g. 90s, 5m).
    #[arg(long, default_value = "5m", value_parser = parse_timeout)]
    pub timeout: std::time::Duration,

    /// Do not ask for confirmation on a terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    crate::environment::parse_duration(s)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("`{s}` is not a duration such as 90s or 5m"))
}

#[derive(Debug, clap::Args)]
pub struct RolloutArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Git commit-ish of the rendered tree (default: the working tree).
    #[arg(long, value_name = "REV")]
    pub revision: Option<String>,

    /// Show the plan (the diff) and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Roll a region that fails its health check back to its previous revision.
    #[arg(long)]
    pub auto_rollback: bool,

    /// Roll out even when `validate` finds error-level violations.
    #[arg(long)]
    pub allow_violations: bool,
}

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,

    /// Wait until Velero ends each backup, showing its progress.
    #[arg(long)]
    pub wait: bool,

    /// How long to wait for each region's backup (e.g. 90s, 10m).
    #[arg(long, default_value = "10m", value_parser = parse_timeout, requires = "wait")]
    pub timeout: std::time::Duration,

    /// Show the Backup each region would get (validated by its API server) and create none.
    #[arg(long, conflicts_with = "wait")]
    pub dry_run: bool,

    /// Do not ask for confirmation on a terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// A git commit-ish, or `previous` (the revision deployed before the current one).
    #[arg(long, value_name = "REV|previous")]
    pub to: String,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[arg(value_name = "ENV")]
    pub environment: String,
    /// Rendered tree directory (default: <root>/rendered).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct StatusCommandArgs {
    #[command(flatten)]
    pub status: StatusArgs,
    /// For monitoring and CI cron jobs: exit 1 also when a region's backups need attention
    /// (its Schedule missing, paused or refused by Velero, the last completed backup older
    /// than `spec.dr.rpo`, or the newest backup failed).
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, clap::Args)]
pub struct DrillArgs {
    #[arg(value_name = "ENV")]
    pub environment: String,

    /// What to lose: `zone=NAME` (a zone of one of the environment's regions) or
    /// `region=NAME` (with --restore-into).
    #[arg(long, value_name = "zone=NAME|region=NAME", value_parser = parse_loss, required_unless_present = "cleanup")]
    pub lose: Option<(String, String)>,

    /// Region drill: the region to recover into, from the lost region's newest backup and
    /// from git, each in a drill namespace of its own.
    #[arg(long, value_name = "REGION")]
    pub restore_into: Option<String>,

    /// Write the evidence into DIR: report.json, report.md and timeline.svg.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,

    /// Commit the evidence under drills/<env>/<date>-<id>/ of the repository, with the
    /// verdict in the message (one commit, of those files only).
    #[arg(long)]
    pub commit: bool,

    /// Region drill: keep the drill namespaces (they are deleted by default, and always after
    /// an error or a signal).
    #[arg(long)]
    pub keep: bool,

    /// The region of the zone (default: the region whose zones list it).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// How long recovery may take before the drill ends unrecovered (e.g. 90s, 5m).
    #[arg(long, default_value = "5m", value_parser = parse_timeout)]
    pub timeout: std::time::Duration,

    /// Show the nodes it would cordon, the pods it would evict and the workloads it would
    /// watch, and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Uncordon the nodes a killed drill left cordoned (marked `hadr.dev/drill`).
    #[arg(long, conflicts_with = "lose")]
    pub cleanup: bool,

    /// Do not ask for confirmation on a terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Rendered tree directory (default: <root>/rendered).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub status: StatusArgs,
    /// How many revisions to show.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub limit: usize,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Environments to validate (default: all in environments/).
    #[arg(value_name = "ENV")]
    pub environments: Vec<String>,

    /// Treat warnings as errors.
    #[arg(long)]
    pub strict: bool,

    /// Predict what losing one region or zone leaves: `region=NAME` or `zone=NAME`.
    #[arg(long, value_name = "region=NAME|zone=NAME", value_parser = parse_loss)]
    pub lose: Option<(String, String)>,

    /// Also ask each region's Velero server for its version (a ServerStatusRequest, as
    /// `velero version` does) and check it against the declared one (DR010).
    #[arg(long)]
    pub server: bool,

    /// kubeconfig file for --server (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE", requires = "server")]
    pub kubeconfig: Option<PathBuf>,
}

fn parse_loss(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((kind @ ("region" | "zone"), name)) if !name.is_empty() => {
            Ok((kind.to_string(), name.to_string()))
        }
        _ => Err(format!("`{s}`: expected region=NAME or zone=NAME")),
    }
}
