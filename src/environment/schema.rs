//! The environment file as written: every field optional (the `extends` chain fills them in
//! before `resolve` requires them), unknown fields rejected, and its JSON Schema for editors.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    Int(
        #[serde(deserialize_with = "super::numbers::int32")]
        #[schemars(range(max = 2147483647))]
        u32,
    ),
    #[schemars(example = "50%")]
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

/// The readiness probe: an HTTP GET on the app port, or (for a workload without a port) a
/// command run in the container.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Probe {
    pub path: Option<String>,
    /// An `exec` probe instead of the HTTP GET, for workloads with no port (workloads only).
    pub command: Option<Vec<String>>,
    #[serde(default, deserialize_with = "super::numbers::optional_int32")]
    #[schemars(range(max = 2147483647))]
    pub initial_delay_seconds: Option<u32>,
    #[serde(default, deserialize_with = "super::numbers::optional_int32")]
    #[schemars(range(max = 2147483647))]
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
    #[schemars(range(min = 1))]
    pub port: Option<u16>,
    /// Replicas per region (default 2); a region may override it.
    #[serde(default, deserialize_with = "super::numbers::optional_int32")]
    #[schemars(range(max = 2147483647))]
    pub replicas: Option<u32>,
    pub resources: Option<Resources>,
    pub readiness_probe: Option<Probe>,
}

/// What kind of workload controller runs the pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum WorkloadKind {
    /// Interchangeable pods: after a zone loss they come back in the other zones.
    Deployment,
    /// Pods with a stable name and their own volumes: a pod stays where its volume is.
    StatefulSet,
}

/// How a StatefulSet starts and stops its pods (`spec.podManagementPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum PodManagementPolicy {
    /// One at a time, in ordinal order (the API's default).
    OrderedReady,
    /// All at once.
    Parallel,
}

/// The access mode of a volume claim (`PersistentVolumeClaim.spec.accessModes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[allow(clippy::enum_variant_names)] // the API's own names
pub enum AccessMode {
    ReadWriteOnce,
    ReadOnlyMany,
    ReadWriteMany,
    ReadWriteOncePod,
}

/// A persistent volume of each StatefulSet pod: one `volumeClaimTemplates` entry. The API
/// server refuses changes to these after the StatefulSet exists (kubernetes #68737).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VolumeSpec {
    /// DNS-1123 label; names the claim `<volume>-<workload>-<ordinal>`.
    pub name: Option<String>,
    /// Requested size, a Kubernetes quantity (`20Gi`).
    pub size: Option<String>,
    /// The StorageClass; declare its facts in `spec.storageClasses`.
    pub storage_class: Option<String>,
    /// Default `[ReadWriteOnce]`.
    pub access_modes: Option<Vec<AccessMode>>,
    /// Where the container mounts it.
    pub mount_path: Option<String>,
}

/// HA settings of one workload, overriding the environment's `spec.ha`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadHaSpec {
    pub spread: Option<Vec<SpreadKey>>,
    pub anti_affinity: Option<AntiAffinity>,
    pub disruption_budget: Option<DisruptionBudget>,
    /// Replicas this workload needs across regions (default: its `replicas`).
    #[serde(default, deserialize_with = "super::numbers::optional_int32")]
    #[schemars(range(max = 2147483647))]
    pub capacity: Option<u32>,
}

/// One workload of `spec.workloads`; its name is its key.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadSpec {
    /// `Deployment` (default) or `StatefulSet`.
    pub kind: Option<WorkloadKind>,
    /// Container image; pin a tag or, better, a digest.
    pub image: Option<String>,
    /// Replicas per region (default 2); a region may override it.
    #[serde(default, deserialize_with = "super::numbers::optional_int32")]
    #[schemars(range(max = 2147483647))]
    pub replicas: Option<u32>,
    /// Container port; with one the workload gets a client Service on port 80.
    #[schemars(range(min = 1))]
    pub port: Option<u16>,
    pub resources: Option<Resources>,
    pub readiness_probe: Option<Probe>,
    /// Config entries of this workload, over the environment's `config`.
    pub config: Option<BTreeMap<String, String>>,
    pub ha: Option<WorkloadHaSpec>,
    /// StatefulSet only: a persistent volume per pod.
    pub volumes: Option<Vec<VolumeSpec>>,
    /// StatefulSet only (default `OrderedReady`).
    pub pod_management_policy: Option<PodManagementPolicy>,
}

/// What a region overrides of one workload.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegionWorkloadSpec {
    #[serde(default, deserialize_with = "super::numbers::optional_int32")]
    #[schemars(range(max = 2147483647))]
    pub replicas: Option<u32>,
    pub image: Option<String>,
}

/// When a StorageClass binds a claim to a volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum VolumeBindingMode {
    /// At once, before the pod is scheduled: a zonal volume may land in a zone the pod's
    /// spread cannot use.
    Immediate,
    /// When the first pod using it is scheduled, in that pod's zone.
    WaitForFirstConsumer,
}

/// Where a StorageClass's volumes live, so which failure they survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StorageTopology {
    /// In one zone: its pod can only run there.
    Zonal,
    /// Replicated across the zones of one region.
    Regional,
    /// Replicated to other regions.
    MultiRegion,
}

/// The facts of one StorageClass the workloads' volumes use.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StorageClassSpec {
    /// The StorageClass's `volumeBindingMode` (default `WaitForFirstConsumer`).
    pub volume_binding_mode: Option<VolumeBindingMode>,
    /// Where its volumes live (default `zonal`).
    pub topology: Option<StorageTopology>,
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
    #[serde(default, deserialize_with = "super::numbers::optional_int32")]
    #[schemars(range(max = 2147483647))]
    pub capacity: Option<u32>,
}

/// A Velero backup Schedule.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BackupSpec {
    /// Cron schedule as Velero reads it: five fields (minute hour day-of-month month
    /// day-of-week, UTC), a descriptor (`@daily`, `@every 6h`), optionally after a
    /// `CRON_TZ=Europe/Berlin ` prefix. Checked with the parser of the declared Velero version.
    pub schedule: Option<String>,
    /// How long backups are kept, as a Go duration (`720h`, `1h30m`; no `d`): Velero reads it
    /// with Go's time.ParseDuration. Default `720h`.
    pub ttl: Option<String>,
    /// The Velero version the regions run (`1.18.1` or `1.18.3`, default `1.18.3`): its cron
    /// library decides which schedules are valid and when they fire. A region may override it.
    pub velero: Option<String>,
    /// Velero BackupStorageLocation name (default: `default`).
    pub storage_location: Option<String>,
}

/// Disaster-recovery policy.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DrSpec {
    /// Recovery point objective, as a duration (`24h`).
    pub rpo: Option<String>,
    /// Recovery time objective, as a duration (`30m`). Needs a `backup` and a second region
    /// (or a `restoreTarget`) to restore into (DR007).
    pub rto: Option<String>,
    pub backup: Option<BackupSpec>,
    /// Where each Velero BackupStorageLocation the Schedules name keeps its backups, by
    /// location name (`default: {region: westus3}`): a region's backups must be readable when
    /// that region is lost (DR006).
    pub storage_locations: Option<BTreeMap<String, StorageLocationSpec>>,
    /// Where restores go when a region is lost and no other region of the environment can
    /// take them: a kubeconfig context, or a runbook that names the cluster (DR007).
    pub restore_target: Option<String>,
    /// How often a drill must pass (`30d`): `validate` warns (DR009) when the newest passing
    /// drill committed under `drills/<env>/` is older, or there is none.
    pub drill_every: Option<String>,
}

/// Where a BackupStorageLocation's bucket lives.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StorageLocationSpec {
    /// The region whose loss takes the bucket with it: one of the environment's regions, or
    /// any other name (`westus3`, or e.g. `geo-replicated` for a bucket replicated across
    /// regions), which is off-region for every region of the environment.
    pub region: String,
}

/// One region: one cluster. Fields set here override the environment's.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegionSpec {
    /// DNS-1123 label; names the output directory `rendered/<env>/<region>`.
    pub name: Option<String>,
    /// The kubeconfig context of this region's cluster.
    pub context: Option<String>,
    #[serde(default, deserialize_with = "super::numbers::optional_int32")]
    #[schemars(range(max = 2147483647))]
    pub replicas: Option<u32>,
    pub image: Option<String>,
    /// Region-specific config: the per-region ConfigMap, which overrides the environment's.
    pub config: Option<BTreeMap<String, String>>,
    /// Merged over the environment's values, deeply.
    pub values: Option<Value>,
    /// The Velero version this region's cluster runs, overriding `dr.backup.velero`.
    pub velero: Option<String>,
    /// Per workload overrides, by workload name.
    pub workloads: Option<BTreeMap<String, RegionWorkloadSpec>>,
    /// StorageClass facts of this region's cluster, over the environment's.
    pub storage_classes: Option<BTreeMap<String, StorageClassSpec>>,
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
    /// The shorthand for one Deployment; `workloads` adds others.
    pub app: Option<AppSpec>,
    /// Workloads by name (a DNS-1035 label: it names the Service).
    pub workloads: Option<BTreeMap<String, WorkloadSpec>>,
    /// Facts of the StorageClasses the workloads' volumes use, by class name.
    pub storage_classes: Option<BTreeMap<String, StorageClassSpec>>,
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
    #[schemars(extend("const" = "hadr.dev/v1alpha1"))]
    pub api_version: String,
    pub kind: Kind,
    #[serde(default)]
    pub metadata: Metadata,
    /// Another file (relative to this one) whose fields this one inherits and overrides.
    pub extends: Option<String>,
    #[serde(default)]
    pub spec: EnvironmentSpec,
}

/// The JSON Schema of an environment file, for editors (yaml-language-server).
pub fn json_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(EnvironmentFile)).unwrap_or(Value::Null)
}
