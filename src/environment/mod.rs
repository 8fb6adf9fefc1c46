//! Environment files: their schema, loading with `extends`, region overrides and validation.
//!
//! A file is read strictly into a *partial* shape (every field optional), the `extends` chain is
//! merged field by field (the child wins, maps merge, lists are replaced), and only then are
//! required fields and names checked. Every error names the file, line:column and field path.

pub mod cron;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::yaml::{self, Path as YamlPath, Position};

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

/// How pods are spread: one topologySpreadConstraint (maxSkew 1) per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SpreadKey {
    Zone,
    Hostname,
}

/// Pod anti-affinity on the hostname.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AntiAffinity {
    Required,
    Preferred,
    None,
}

/// The failure the environment must survive without losing capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Survive {
    None,
    Zone,
    Region,
}

/// An integer or a percentage (`"50%"`), as in a PodDisruptionBudget.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum IntOrPercent {
    Int(u32),
    Percent(String),
}

/// Container resource requests (and limits, when set).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Resources {
    pub cpu: Option<String>,
    pub memory: Option<String>,
    /// Memory limit; CPU limits are left unset on purpose (throttling hurts latency).
    pub memory_limit: Option<String>,
}

/// The readiness probe: an HTTP GET on the app port.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Probe {
    pub path: Option<String>,
    pub initial_delay_seconds: Option<u32>,
    pub period_seconds: Option<u32>,
}

/// The application: what runs in every region.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppSpec {
    /// DNS-1123 label; names the Deployment, Service, PDB and config.
    pub name: Option<String>,
    /// Container image; pin a tag or, better, a digest.
    pub image: Option<String>,
    /// Container port the Service targets (default 8080).
    pub port: Option<u16>,
    /// Replicas per region (default 2); a region may override it.
    pub replicas: Option<u32>,
    pub resources: Option<Resources>,
    pub readiness_probe: Option<Probe>,
}

/// PodDisruptionBudget: exactly one of minAvailable / maxUnavailable.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DisruptionBudget {
    pub min_available: Option<IntOrPercent>,
    pub max_unavailable: Option<IntOrPercent>,
}

/// High-availability policy.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HaSpec {
    /// Topology keys to spread over with maxSkew 1 (default: zone, hostname).
    pub spread: Option<Vec<SpreadKey>>,
    /// Pod anti-affinity on hostname (default: preferred).
    pub anti_affinity: Option<AntiAffinity>,
    pub disruption_budget: Option<DisruptionBudget>,
    /// What the environment must survive (default: none).
    pub survive: Option<Survive>,
    /// Replicas the application needs in total to carry its load, across regions
    /// (default: `app.replicas`). With `survive: region`, the other regions must hold it.
    pub capacity: Option<u32>,
}

/// A Velero backup Schedule.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BackupSpec {
    /// Five-field cron schedule, UTC.
    pub schedule: Option<String>,
    /// How long backups are kept, as a duration (`720h`).
    pub ttl: Option<String>,
    /// Velero BackupStorageLocation name (default: `default`).
    pub storage_location: Option<String>,
}

/// Disaster-recovery policy.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DrSpec {
    /// Recovery point objective, as a duration (`24h`).
    pub rpo: Option<String>,
    /// Recovery time objective, as a duration (`30m`).
    pub rto: Option<String>,
    pub backup: Option<BackupSpec>,
}

/// One region: one cluster. Fields set here override the environment's.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegionSpec {
    /// DNS-1123 label; names the output directory `rendered/<env>/<region>`.
    pub name: Option<String>,
    /// The kubeconfig context of this region's cluster.
    pub context: Option<String>,
    pub replicas: Option<u32>,
    pub image: Option<String>,
    /// Region-specific config: the per-region ConfigMap, which overrides the environment's.
    pub config: Option<BTreeMap<String, String>>,
    /// Merged over the environment's values, deeply.
    pub values: Option<Value>,
    /// The region's zones, as in `topology.kubernetes.io/zone` (default: `<region>-1`,
    /// `<region>-2`, `<region>-3`). Used to predict what a zone loss leaves.
    pub zones: Option<Vec<String>>,
}

/// How a policy rule applies to this environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    Error,
    Warning,
    Info,
    Off,
}

/// A rule this environment knowingly breaks, and why.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Waiver {
    /// The rule ID, such as `HA001`.
    pub rule: String,
    /// Why: shown in every report that the waiver silences.
    pub reason: String,
}

/// Tuning of the `kubectl hadr validate` rules.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicySpec {
    /// Severity per rule ID, overriding the rule's default.
    pub severities: Option<BTreeMap<String, Severity>>,
    /// Rules waived, each with a reason.
    pub waivers: Option<Vec<Waiver>>,
}

/// The environment's specification.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvironmentSpec {
    /// Namespace of every namespaced object (default: the app name).
    pub namespace: Option<String>,
    pub app: Option<AppSpec>,
    pub ha: Option<HaSpec>,
    pub dr: Option<DrSpec>,
    /// Becomes an immutable ConfigMap whose name carries a content hash.
    pub config: Option<BTreeMap<String, String>>,
    /// The regions, in rollout order.
    pub regions: Option<Vec<RegionSpec>>,
    /// Free-form values visible to templates as `values`.
    pub values: Option<Value>,
    /// Severities and waivers for `kubectl hadr validate`.
    pub policy: Option<PolicySpec>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Must match the file name (`prod` for `prod.yaml`); defaults to it.
    pub name: Option<String>,
}

/// Whether a file is an environment or shared defaults that environments extend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Kind {
    Environment,
    EnvironmentDefaults,
}

/// An environment file (`environments/<name>.yaml`) as written.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "kubectl-hadr environment")]
pub struct EnvironmentFile {
    /// Always `hadr.dev/v1alpha1`.
    pub api_version: String,
    pub kind: Kind,
    #[serde(default)]
    pub metadata: Metadata,
    /// Another file (relative to this one) whose fields this one inherits and overrides.
    pub extends: Option<String>,
    #[serde(default)]
    pub spec: EnvironmentSpec,
}

/// Field-by-field merge of a child over its base.
trait Merge {
    fn merge(self, base: Self) -> Self;
}

macro_rules! child_wins {
    ($($t:ty),*) => {$(
        impl Merge for $t {
            fn merge(self, _base: Self) -> Self { self }
        }
    )*};
}
child_wins!(
    String,
    Vec<String>,
    Vec<Waiver>,
    u16,
    u32,
    Vec<SpreadKey>,
    Vec<RegionSpec>,
    AntiAffinity,
    Survive,
    IntOrPercent
);

impl<T: Merge> Merge for Option<T> {
    fn merge(self, base: Self) -> Self {
        match (self, base) {
            (Some(a), Some(b)) => Some(a.merge(b)),
            (a, b) => a.or(b),
        }
    }
}

impl Merge for BTreeMap<String, Severity> {
    fn merge(self, mut base: Self) -> Self {
        base.extend(self);
        base
    }
}

impl Merge for BTreeMap<String, String> {
    fn merge(self, mut base: Self) -> Self {
        base.extend(self);
        base
    }
}

impl Merge for Value {
    fn merge(self, base: Self) -> Self {
        merge_values(base, self)
    }
}

/// Deep merge as Helm does it: mappings merge, a `null` removes the key, anything else replaces.
pub fn merge_values(base: Value, over: Value) -> Value {
    match (base, over) {
        (Value::Object(mut b), Value::Object(o)) => {
            for (k, v) in o {
                if v.is_null() {
                    b.remove(&k);
                    continue;
                }
                let merged = match b.remove(&k) {
                    Some(old) => merge_values(old, v),
                    None => v,
                };
                b.insert(k, merged);
            }
            Value::Object(b)
        }
        (_, o) => o,
    }
}

macro_rules! merge_fields {
    ($t:ident { $($f:ident),* }) => {
        impl Merge for $t {
            fn merge(self, base: Self) -> Self {
                $t { $($f: self.$f.merge(base.$f)),* }
            }
        }
    };
}
merge_fields!(Resources {
    cpu,
    memory,
    memory_limit
});
merge_fields!(Probe {
    path,
    initial_delay_seconds,
    period_seconds
});
merge_fields!(AppSpec {
    name,
    image,
    port,
    replicas,
    resources,
    readiness_probe
});
merge_fields!(DisruptionBudget {
    min_available,
    max_unavailable
});
merge_fields!(HaSpec {
    spread,
    anti_affinity,
    disruption_budget,
    survive,
    capacity
});
merge_fields!(BackupSpec {
    schedule,
    ttl,
    storage_location
});
merge_fields!(DrSpec { rpo, rto, backup });
merge_fields!(PolicySpec {
    severities,
    waivers
});
merge_fields!(EnvironmentSpec {
    namespace,
    app,
    ha,
    dr,
    config,
    regions,
    values,
    policy
});

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
    pub ttl: String,
    pub storage_location: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dr {
    pub rpo: Option<String>,
    pub rto: Option<String>,
    pub backup: Option<Backup>,
}

/// A region after merging its overrides over the environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Region {
    pub name: String,
    pub context: String,
    pub app: App,
    /// The region's own config entries (the per-region ConfigMap); the environment's config
    /// is the environment ConfigMap, and pods see both, the region's winning.
    pub config: BTreeMap<String, String>,
    pub values: Value,
    pub zones: Vec<String>,
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
    pub app: App,
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

/// One file of an `extends` chain, kept with its text to locate errors in it.
struct Loaded {
    file: PathBuf,
    text: String,
    doc: EnvironmentFile,
}

impl Loaded {
    fn error(
        &self,
        path: YamlPath,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> EnvironmentError {
        EnvironmentError {
            position: yaml::locate(&self.text, &path),
            file: self.file.clone(),
            path: Some(path),
            message: message.into(),
            hint,
        }
    }
}

fn read(file: &Path) -> Result<Loaded, EnvironmentError> {
    let fail = |message: String, hint: Option<&str>| EnvironmentError {
        file: file.to_path_buf(),
        position: None,
        path: None,
        message,
        hint: hint.map(str::to_string),
    };
    let bytes = std::fs::read(file).map_err(|e| fail(format!("cannot read: {e}"), None))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        fail(
            format!("not UTF-8 (invalid byte at offset {at})"),
            Some("save the file as UTF-8"),
        )
    })?;
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(fail(
            "the file is empty".into(),
            Some("start from `kubectl hadr schema` or a file in environments/ of the examples"),
        ));
    }
    let doc: EnvironmentFile = yaml::from_str(&text).map_err(|e| EnvironmentError {
        file: file.to_path_buf(),
        position: Some(e.position),
        path: Some(e.path),
        message: e.message,
        hint: e.hint,
    })?;
    let loaded = Loaded {
        file: file.to_path_buf(),
        text,
        doc,
    };
    if loaded.doc.api_version != API_VERSION {
        return Err(loaded.error(
            YamlPath::default().key("apiVersion"),
            format!("unsupported apiVersion `{}`", loaded.doc.api_version),
            Some(format!("use `apiVersion: {API_VERSION}`")),
        ));
    }
    Ok(loaded)
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
        if let Some(stem) = stem
            && !stem.starts_with(['_', '.'])
            && path.is_file()
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
    let mut chain = vec![read(file)?];
    let mut seen = BTreeSet::from([canonical(file)]);
    while let Some(base) = chain.last().and_then(|l| l.doc.extends.clone()) {
        let from = chain.last().expect("chain is never empty");
        let base_path = resolve_extends(from, &base)?;
        if !seen.insert(canonical(&base_path)) {
            return Err(from.error(
                YamlPath::default().key("extends"),
                format!("`extends: {base}` makes a cycle"),
                Some("remove `extends` from one of the files in the cycle".into()),
            ));
        }
        let loaded = read(&base_path)?;
        if loaded.doc.kind != Kind::EnvironmentDefaults {
            return Err(loaded.error(
                YamlPath::default().key("kind"),
                "a file that others extend must be `kind: EnvironmentDefaults`",
                Some("set `kind: EnvironmentDefaults` and keep environment-specific fields out of it".into()),
            ));
        }
        chain.push(loaded);
    }
    let top = &chain[0];
    if top.doc.kind != Kind::Environment {
        return Err(top.error(
            YamlPath::default().key("kind"),
            "this file is `kind: EnvironmentDefaults` but is not named like a partial",
            Some(format!(
                "rename it to `_{stem}.yaml` so it is only used through `extends`, or set `kind: Environment`"
            )),
        ));
    }
    if let Some(name) = &top.doc.metadata.name
        && name != &stem
    {
        return Err(top.error(
            YamlPath::default().key("metadata").key("name"),
            format!("metadata.name `{name}` differs from the file name `{stem}`"),
            Some(format!(
                "set `name: {stem}` or rename the file to `{name}.yaml`"
            )),
        ));
    }
    let spec = chain
        .iter()
        .rev()
        .fold(EnvironmentSpec::default(), |base, l| {
            l.doc.spec.clone().merge(base)
        });
    resolve(&stem, &chain, spec)
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

fn resolve_extends(from: &Loaded, base: &str) -> Result<PathBuf, EnvironmentError> {
    let here = YamlPath::default().key("extends");
    let rel = Path::new(base);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(from.error(
            here,
            format!("`extends: {base}` must name a file beside this one"),
            Some("use a file name such as `_defaults.yaml` in the same directory".into()),
        ));
    }
    let path = from.file.parent().unwrap_or(Path::new(".")).join(rel);
    if !path.is_file() {
        return Err(from.error(here, format!("`extends: {base}`: no such file"), None));
    }
    Ok(path)
}

/// Finds the file of the chain that sets `path`, child first, to point an error at it.
fn owner<'a>(chain: &'a [Loaded], path: &YamlPath) -> &'a Loaded {
    chain
        .iter()
        .find(|l| {
            yaml::locate(&l.text, path).is_some_and(|p| {
                // locate() falls back to the deepest node reached; accept only an exact hit.
                let parent = yaml::locate(&l.text, &path.parent());
                path.0.len() <= 1 || parent != Some(p)
            })
        })
        .unwrap_or(&chain[0])
}

fn resolve(
    name: &str,
    chain: &[Loaded],
    spec: EnvironmentSpec,
) -> Result<Environment, EnvironmentError> {
    let spec_path = YamlPath::default().key("spec");
    let top = &chain[0];
    let required = |path: YamlPath, what: &str| {
        let parent = path.parent();
        let mut e = top.error(
            parent,
            "this field is required".to_string(),
            Some(format!(
                "set {what} in {} or in a file it extends",
                top.file.display()
            )),
        );
        e.path = Some(path);
        e
    };
    let check_name = |path: YamlPath, value: &str, what: &str| -> Result<(), EnvironmentError> {
        dns1123_label(value).map_err(|problem| {
            owner(chain, &path).error(
                path,
                format!("{what} `{value}` is not a valid name: {problem}"),
                Some("use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters".into()),
            )
        })
    };
    check_name(
        YamlPath::default().key("metadata").key("name"),
        name,
        "environment name",
    )
    .map_err(|mut e| {
        e.hint = Some(format!("rename the file: {}", e.hint.unwrap_or_default()));
        e
    })?;

    let app_path = spec_path.key("app");
    let app_spec = spec.app.unwrap_or_default();
    let app_name = app_spec
        .name
        .clone()
        .ok_or_else(|| required(app_path.key("name"), "the application name"))?;
    check_name(app_path.key("name"), &app_name, "app name")?;
    let image = app_spec
        .image
        .clone()
        .ok_or_else(|| required(app_path.key("image"), "the container image"))?;
    if image.trim().is_empty() || image.contains(char::is_whitespace) {
        let p = app_path.key("image");
        return Err(owner(chain, &p).error(
            p,
            format!("image `{image}` is not a valid image reference"),
            None,
        ));
    }
    let app = App {
        name: app_name.clone(),
        image,
        port: app_spec.port.unwrap_or(8080),
        replicas: app_spec.replicas.unwrap_or(2),
        resources: Resources {
            cpu: Some("100m".into()),
            memory: Some("128Mi".into()),
            memory_limit: None,
        }
        .merge_over(app_spec.resources),
        readiness_probe: Probe {
            path: Some("/healthz".into()),
            initial_delay_seconds: Some(2),
            period_seconds: Some(5),
        }
        .merge_over(app_spec.readiness_probe),
    };
    if app.port == 0 {
        let p = app_path.key("port");
        return Err(owner(chain, &p).error(p, "port must be between 1 and 65535", None));
    }

    let namespace = spec.namespace.clone().unwrap_or_else(|| app_name.clone());
    check_name(spec_path.key("namespace"), &namespace, "namespace")?;

    let ha_spec = spec.ha.unwrap_or_default();
    let ha = Ha {
        spread: ha_spec
            .spread
            .unwrap_or_else(|| vec![SpreadKey::Zone, SpreadKey::Hostname]),
        anti_affinity: ha_spec.anti_affinity.unwrap_or(AntiAffinity::Preferred),
        disruption_budget: ha_spec.disruption_budget,
        survive: ha_spec.survive.unwrap_or(Survive::None),
        capacity: ha_spec.capacity.unwrap_or(app.replicas),
    };
    if let Some(pdb) = &ha.disruption_budget {
        let p = spec_path.key("ha").key("disruptionBudget");
        match (&pdb.min_available, &pdb.max_unavailable) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(owner(chain, &p).error(
                    p,
                    "set exactly one of `minAvailable` and `maxUnavailable`",
                    None,
                ));
            }
            (Some(v), None) | (None, Some(v)) => {
                if let IntOrPercent::Percent(s) = v
                    && parse_percent(s).is_none()
                {
                    return Err(owner(chain, &p).error(
                        p,
                        format!("`{s}` is neither a number nor a percentage"),
                        Some(
                            "write an integer such as `2` or a percentage such as `\"50%\"`".into(),
                        ),
                    ));
                }
            }
        }
    }

    let dr = resolve_dr(chain, &spec_path, spec.dr.unwrap_or_default())?;

    let config = spec.config.unwrap_or_default();
    check_config_keys(chain, &spec_path.key("config"), &config)?;
    let values = spec.values.unwrap_or(Value::Object(Default::default()));

    let regions_path = spec_path.key("regions");
    let region_specs = spec.regions.unwrap_or_default();
    if region_specs.is_empty() {
        return Err(required(regions_path, "at least one region"));
    }
    let mut regions = Vec::with_capacity(region_specs.len());
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, r) in region_specs.into_iter().enumerate() {
        let here = regions_path.index(i);
        let rname = r
            .name
            .clone()
            .ok_or_else(|| required(here.key("name"), "the region name"))?;
        check_name(here.key("name"), &rname, "region name")?;
        if let Some(first) = seen.insert(rname.clone(), i) {
            let p = here.key("name");
            return Err(owner(chain, &p).error(
                p,
                format!("region `{rname}` is listed twice (first as regions[{first}])"),
                Some("remove one entry or give it another name".into()),
            ));
        }
        let context = r
            .context
            .clone()
            .ok_or_else(|| required(here.key("context"), "the kubeconfig context of the region"))?;
        let region_config = r.config.clone().unwrap_or_default();
        check_config_keys(chain, &here.key("config"), &region_config)?;
        let mut region_app = app.clone();
        if let Some(n) = r.replicas {
            region_app.replicas = n;
        }
        if let Some(img) = r.image.clone() {
            region_app.image = img;
        }
        let zones = match r.zones.clone() {
            Some(z) if z.is_empty() => {
                let p = here.key("zones");
                return Err(owner(chain, &p).error(p, "a region needs at least one zone", None));
            }
            Some(z) => z,
            None => (1..=3).map(|n| format!("{rname}-{n}")).collect(),
        };
        regions.push(Region {
            zones,
            name: rname,
            context,
            app: region_app,
            config: region_config,
            values: match r.values {
                Some(v) => merge_values(values.clone(), v),
                None => values.clone(),
            },
        });
    }
    Ok(Environment {
        name: name.to_string(),
        file: top.file.clone(),
        sources: chain
            .iter()
            .map(|l| (l.file.clone(), crate::digest::sha256_hex(l.text.as_bytes())))
            .collect(),
        namespace,
        app,
        ha,
        dr,
        config,
        values,
        regions,
        policy: spec.policy.unwrap_or_default(),
    })
}

fn resolve_dr(chain: &[Loaded], spec_path: &YamlPath, dr: DrSpec) -> Result<Dr, EnvironmentError> {
    let dr_path = spec_path.key("dr");
    let duration = |path: YamlPath, v: &Option<String>| -> Result<(), EnvironmentError> {
        match v {
            Some(s) if parse_duration(s).is_none() => Err(owner(chain, &path).error(
                path,
                format!("`{s}` is not a duration"),
                Some("write hours, minutes and seconds such as `24h`, `30m` or `1h30m`".into()),
            )),
            _ => Ok(()),
        }
    };
    duration(dr_path.key("rpo"), &dr.rpo)?;
    duration(dr_path.key("rto"), &dr.rto)?;
    let backup = match dr.backup {
        None => None,
        Some(b) => {
            let bp = dr_path.key("backup");
            let schedule = b.schedule.ok_or_else(|| {
                let mut e = owner(chain, &bp).error(
                    bp.clone(),
                    "`schedule` is required for a backup",
                    Some("add a cron schedule such as `schedule: \"0 */6 * * *\"`".into()),
                );
                e.path = Some(bp.key("schedule"));
                e
            })?;
            if let Err(problem) = crate::environment::cron::Schedule::parse(&schedule) {
                let p = bp.key("schedule");
                return Err(owner(chain, &p).error(
                    p,
                    format!("`{schedule}` is not a cron schedule: {problem}"),
                    Some("use five fields: minute hour day-of-month month day-of-week".into()),
                ));
            }
            let ttl = b.ttl.unwrap_or_else(|| "720h".into());
            duration(bp.key("ttl"), &Some(ttl.clone()))?;
            Some(Backup {
                schedule,
                ttl,
                storage_location: b.storage_location.unwrap_or_else(|| "default".into()),
            })
        }
    };
    Ok(Dr {
        rpo: dr.rpo,
        rto: dr.rto,
        backup,
    })
}

fn check_config_keys(
    chain: &[Loaded],
    at: &YamlPath,
    config: &BTreeMap<String, String>,
) -> Result<(), EnvironmentError> {
    for key in config.keys() {
        let ok = !key.is_empty()
            && key.len() <= 253
            && key
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-._".contains(&c))
            && key != "."
            && key != "..";
        if !ok {
            let p = at.key(key);
            return Err(owner(chain, &p).error(
                p,
                format!("config key `{key}` is not a valid ConfigMap key"),
                Some("use letters, digits, '-', '_' and '.'".into()),
            ));
        }
    }
    Ok(())
}

impl Resources {
    fn merge_over(self, over: Option<Resources>) -> Resources {
        over.map(|o| o.merge(self.clone())).unwrap_or(self)
    }
}

impl Probe {
    fn merge_over(self, over: Option<Probe>) -> Probe {
        over.map(|o| o.merge(self.clone())).unwrap_or(self)
    }
}

/// Checks a DNS-1123 label (RFC 1123): what Kubernetes requires of namespaces and most names,
/// and what keeps a name from escaping the output directory.
pub fn dns1123_label(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("it is empty");
    }
    if s.len() > 63 {
        return Err("it is longer than 63 characters");
    }
    if !s
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        return Err("only lowercase letters, digits and '-' are allowed");
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("it must start and end with a letter or digit");
    }
    Ok(())
}

/// Parses `50%` into 50.
pub fn parse_percent(s: &str) -> Option<u32> {
    s.strip_suffix('%')?.parse().ok().filter(|p| *p <= 100)
}

/// Parses a Go-style duration made of hours, minutes and seconds (`1h30m`, `720h`, `45s`)
/// into seconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut any = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            'd' => 86_400,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
        any = true;
    }
    (any && num.is_empty()).then_some(total)
}

/// The JSON Schema of an environment file, for editors (yaml-language-server).
pub fn json_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(EnvironmentFile)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("24h"), Some(86_400));
        assert_eq!(parse_duration("1h30m"), Some(5_400));
        assert_eq!(parse_duration("45s"), Some(45));
        assert_eq!(parse_duration("24"), None);
        assert_eq!(parse_duration("1x"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn dns_labels_reject_path_escapes() {
        assert!(dns1123_label("eastus2").is_ok());
        for bad in ["..", "../x", "a/b", "Prod", "-a", "a-", "", &"a".repeat(64)] {
            assert!(dns1123_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_merge_deeply_and_null_removes() {
        let base = serde_json::json!({"a": {"b": 1, "c": 2}, "d": [1, 2]});
        let over = serde_json::json!({"a": {"c": 3, "b": null}, "d": [3]});
        assert_eq!(
            merge_values(base, over),
            serde_json::json!({"a": {"c": 3}, "d": [3]})
        );
    }
}
