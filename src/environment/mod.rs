//! Environment files: their schema, loading with `extends`, region overrides and validation.
//!
//! A file is read strictly into a *partial* shape (every field optional), the `extends` chain is
//! merged field by field (the child wins, maps merge, lists are replaced), and only then are
//! required fields and names checked. Every error names the file, line:column and field path.

pub mod cron;
mod describe;
mod duration;
mod extends;
mod go_duration;
mod merge;
pub mod names;
mod numbers;
mod quantity;
mod resolve;
mod schema;
mod workload;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::yaml::{Path as YamlPath, Position};

pub use duration::{parse_duration, parse_percent};
pub use go_duration::{GoDurationError, parse_go_duration, suggest_go_duration};
pub use merge::merge_values;
pub use names::dns1123_label;
pub use quantity::{Quantity, QuantityError, parse_quantity, parse_quantity_json, quantity_hint};
pub use schema::{
    AntiAffinity, AppSpec, BackupSpec, DisruptionBudget, DrSpec, EnvironmentFile, EnvironmentSpec,
    HaSpec, IntOrPercent, Kind, Metadata, PodManagementPolicy, PolicySpec, Probe, RegionSpec,
    RegionWorkloadSpec, Resources, Severity, SpreadKey, StorageClassSpec, StorageTopology, Survive,
    VolumeBindingMode, VolumeSpec, Waiver, WorkloadHaSpec, WorkloadKind, WorkloadSpec, json_schema,
};
pub use workload::{StorageClass, Volume, Workload, WorkloadHa};

pub const API_VERSION: &str = "hadr.dev/v1alpha1";

/// An environment file that cannot be used, with where and how to fix it.
#[derive(Debug, Clone, thiserror::Error)]
pub struct EnvironmentError {
    pub file: PathBuf,
    pub position: Option<Position>,
    pub path: Option<YamlPath>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for EnvironmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(p) = self.position {
            write!(f, ":{p}")?;
        }
        f.write_str(": ")?;
        if let Some(path) = &self.path
            && !path.0.is_empty()
        {
            write!(f, "{path}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  help: {h}")?;
        }
        Ok(())
    }
}

/// The application after defaults and region overrides.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    pub name: String,
    pub image: String,
    pub port: u16,
    pub replicas: u32,
    pub resources: Resources,
    pub readiness_probe: Probe,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ha {
    pub spread: Vec<SpreadKey>,
    pub anti_affinity: AntiAffinity,
    pub disruption_budget: Option<DisruptionBudget>,
    pub survive: Survive,
    pub capacity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    pub schedule: String,
    /// A Go duration (checked): what Velero's `metav1.Duration` reads.
    pub ttl: String,
    /// The environment's Velero version (regions may run another: `Region::velero`).
    pub velero: cron::VeleroVersion,
    pub storage_location: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dr {
    pub rpo: Option<String>,
    pub rto: Option<String>,
    pub backup: Option<Backup>,
    /// BackupStorageLocation name -> the region its bucket lives in (`dr.storageLocations`).
    pub storage_locations: BTreeMap<String, String>,
    pub restore_target: Option<String>,
    /// How often a drill must pass (`dr.drillEvery`), in seconds.
    pub drill_every: Option<u64>,
}

/// A region after merging its overrides over the environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Region {
    pub name: String,
    pub context: String,
    /// `spec.app` with this region's `replicas` and `image`; absent when the environment has
    /// only `workloads`.
    pub app: Option<App>,
    /// The environment's workloads with this region's overrides, by name.
    pub workloads: Vec<Workload>,
    /// The StorageClass facts of this region: the environment's, the region's over them.
    pub storage_classes: BTreeMap<String, StorageClass>,
    /// The region's own config entries (the per-region ConfigMap); the environment's config
    /// is the environment ConfigMap, and pods see both, the region's winning.
    pub config: BTreeMap<String, String>,
    pub values: Value,
    pub zones: Vec<String>,
    /// The Velero version the region runs: `velero` of the region, else of `dr.backup`.
    pub velero: cron::VeleroVersion,
}

/// A loaded, merged and validated environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub name: String,
    /// The file it was loaded from, relative to the repository root as given.
    #[serde(skip)]
    pub file: PathBuf,
    /// Every file it was loaded from (the file, then its `extends` chain) with the sha256 of
    /// the bytes read: the environment is a function of these alone (the render cache's key).
    #[serde(skip)]
    pub sources: Vec<(PathBuf, String)>,
    pub namespace: String,
    /// `spec.app`, the one-Deployment shorthand; absent when only `workloads` are given.
    pub app: Option<App>,
    /// `spec.workloads`, sorted by name.
    pub workloads: Vec<Workload>,
    pub storage_classes: BTreeMap<String, StorageClass>,
    pub ha: Ha,
    pub dr: Dr,
    pub config: BTreeMap<String, String>,
    pub values: Value,
    pub regions: Vec<Region>,
    pub policy: PolicySpec,
}

impl Environment {
    /// Its regions, in rollout order, or only the one named.
    pub fn selected_regions(&self, only: Option<&str>) -> Vec<&Region> {
        self.regions
            .iter()
            .filter(|r| only.is_none_or(|o| o == r.name))
            .collect()
    }
}

/// Lists the environment files of a directory: `*.yaml` / `*.yml`, except `_`-prefixed
/// partials that only serve as `extends` bases. Sorted by name.
pub fn discover(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let stem = name
            .strip_suffix(".yaml")
            .or_else(|| name.strip_suffix(".yml"));
        // Anything but a directory: a dangling or looping link is reported when it is read,
        // not skipped in silence.
        if let Some(stem) = stem
            && !stem.starts_with(['_', '.'])
            && !path.is_dir()
        {
            found.push((stem.to_string(), path));
        }
    }
    found.sort();
    Ok(found)
}

/// Loads one environment file with its `extends` chain, merges and validates it.
pub fn load(file: &Path) -> Result<Environment, EnvironmentError> {
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    let chain = extends::chain(file)?;
    extends::check_top(&chain[0], &stem)?;
    resolve::resolve(&stem, &chain, extends::merged_spec(&chain))
}

/// Loads an environment from the text of its `spec` alone (written under a temp directory as
/// `dev.yaml`), for tests of this and later stages.
#[cfg(test)]
pub(crate) fn load_spec(spec: &str) -> Result<Environment, EnvironmentError> {
    let dir = tempfile::tempdir().map_err(|e| EnvironmentError {
        file: PathBuf::from("dev.yaml"),
        position: None,
        path: None,
        message: e.to_string(),
        hint: None,
    })?;
    let path = dir.path().join("dev.yaml");
    let text = format!("apiVersion: hadr.dev/v1alpha1\nkind: Environment\nspec:\n{spec}");
    std::fs::write(&path, text).map_err(|e| EnvironmentError {
        file: path.clone(),
        position: None,
        path: None,
        message: e.to_string(),
        hint: None,
    })?;
    load(&path)
}
