//! What a cluster command works on: which rendered tree and revision, which regions, and how to
//! reach their clusters. One type for diff, rollout, rollback and status.

use std::path::PathBuf;

use crate::environment::Region;
use crate::revision::Source;

#[derive(Debug, Clone)]
pub struct Target {
    /// The repository root (`-C`).
    pub root: PathBuf,
    /// The rendered tree (`--out`, default `<root>/rendered`).
    pub out: PathBuf,
    /// A git commit-ish of the rendered tree; `None`: the working tree.
    pub revision: Option<String>,
    /// Only this region (`--region`); `None`: every region of the environment.
    pub region: Option<String>,
    /// `--kubeconfig`; `None`: `KUBECONFIG`, else `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// Overrides the context of the (single) region selected (`--context`).
    pub context: Option<String>,
}

impl Target {
    pub fn source(&self) -> Source<'_> {
        Source {
            root: &self.root,
            out: &self.out,
            revision: self.revision.as_deref(),
        }
    }

    /// The same target at another revision.
    pub fn at(&self, revision: Option<String>) -> Target {
        Target {
            revision,
            ..self.clone()
        }
    }
}

/// The kubeconfig context a region is reached through: `--context`, else the region's own.
pub fn context_of(target: &Target, region: &Region) -> String {
    target
        .context
        .clone()
        .unwrap_or_else(|| region.context.clone())
}
