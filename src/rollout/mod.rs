//! Rollout and rollback: apply a revision region by region (server-side apply in kind order,
//! ApplySet inventory and pruning, health checks, a Lease per environment and region, and a
//! record of what was deployed, kept in the cluster).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::cluster::live::{prepared, unchanged};
use crate::cluster::{Cluster, ClusterError, load_kubeconfig};
use crate::environment::{Environment, Region};
use crate::error::Error;
use crate::plan::diff::unhashed_name;
use crate::plan::revision_objects;
use crate::render::manifest::ObjectId;
use crate::revision::store::Store;

pub const PART_OF_LABEL: &str = "applyset.kubernetes.io/part-of";
const APPLYSET_ID_LABEL: &str = "applyset.kubernetes.io/id";
const TOOLING_ANNOTATION: &str = "applyset.kubernetes.io/tooling";
const GROUP_KINDS_ANNOTATION: &str = "applyset.kubernetes.io/contains-group-kinds";
const NAMESPACES_ANNOTATION: &str = "applyset.kubernetes.io/additional-namespaces";

/// The ApplySet parent of an environment in a region: a ConfigMap in its namespace, which also
/// holds the deployment record.
pub fn parent_name(environment: &str) -> String {
    format!("hadr-{environment}")
}

/// The ApplySet ID (KEP-3659): base64url(sha256("<name>.<namespace>.<kind>.<group>")), v1.
pub fn applyset_id(environment: &str, namespace: &str) -> String {
    let key = format!("{}.{namespace}.ConfigMap.", parent_name(environment));
    let digest = Sha256::digest(key.as_bytes());
    format!(
        "applyset-{}-v1",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

/// One deployment, as recorded in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub revision: String,
    pub digest: String,
    pub time: String,
    pub user: String,
    /// `ok` or `failed` (health check).
    pub health: String,
}

/// How a region's rollout ended.
#[derive(Debug, Clone, Serialize)]
pub struct RegionResult {
    pub region: String,
    pub context: String,
    /// `ok`, `failed`, `rolled-back`, `skipped` or `error`.
    pub status: String,
    /// Objects applied; the others were proven unchanged and not sent.
    pub applied: usize,
    pub unchanged: usize,
    pub pruned: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RolloutReport {
    pub environment: String,
    pub revision: String,
    pub regions: Vec<RegionResult>,
}

impl RolloutReport {
    pub fn outcome(&self) -> u8 {
        if self.regions.iter().any(|r| r.status == "error") {
            2
        } else if self.regions.iter().any(|r| r.status != "ok") {
            1
        } else {
            0
        }
    }
}

#[derive(Debug, Clone)]
pub struct RolloutOptions {
    pub root: PathBuf,
    pub out: Option<PathBuf>,
    pub environment: String,
    pub region: Option<String>,
    /// A git commit-ish of the rendered tree; `None`: the working tree.
    pub revision: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub force_conflicts: bool,
    pub parallel: bool,
    pub timeout: Duration,
    pub auto_rollback: bool,
    /// Content-hashed ConfigMaps/Secrets kept per name after they leave the set.
    pub keep: usize,
    /// Requests in flight per region.
    pub concurrency: usize,
}

/// Where progress goes (the printer); domain code never prints.
pub trait Progress: Sync {
    /// Something that happened, kept in the log.
    fn line(&self, text: &str);
    /// The current state of a wait, replaced by the next one on a terminal; a plain line
    /// (every few seconds) elsewhere.
    fn status(&self, text: &str);
}

/// Resolves the revision to record: a commit id, or `working-tree` when the rendered files of
/// the environment differ from HEAD's.
fn revision_name(opts: &RolloutOptions, env: &Environment, out: &std::path::Path) -> String {
    let Ok(store) = Store::discover(&opts.root) else {
        return opts
            .revision
            .clone()
            .unwrap_or_else(|| "working-tree".into());
    };
    if let Some(rev) = &opts.revision {
        return store.resolve(rev).unwrap_or_else(|_| rev.clone());
    }
    let Ok(head) = store.resolve("HEAD") else {
        return "working-tree".into();
    };
    let clean = env.regions.iter().all(|r| {
        let disk = revision_objects(&opts.root, out, &env.name, &r.name, None).ok();
        let git = revision_objects(&opts.root, out, &env.name, &r.name, Some("HEAD")).ok();
        disk.is_some() && disk == git
    });
    if clean { head } else { "working-tree".into() }
}

/// Rolls a revision out to the environment's regions, in waves (or all at once).
pub async fn rollout(
    opts: &RolloutOptions,
    env: &Environment,
    progress: &dyn Progress,
) -> Result<RolloutReport, Error> {
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| opts.root.join("rendered"));
    let revision = revision_name(opts, env, &out);
    let regions: Vec<&Region> = env.selected_regions(opts.region.as_deref());
    // Read everything first: a missing rendered set fails before any cluster is touched.
    let mut sets = Vec::new();
    for r in &regions {
        let objects = revision_objects(
            &opts.root,
            &out,
            &env.name,
            &r.name,
            opts.revision.as_deref(),
        )?;
        let digest = digest_of(
            &opts.root,
            &out,
            &env.name,
            &r.name,
            opts.revision.as_deref(),
        );
        sets.push((*r, objects, digest));
    }
    let kubeconfig = load_kubeconfig(opts.kubeconfig.as_deref())?;
    let mut results = Vec::new();
    if opts.parallel {
        let futures = sets.iter().map(|(r, objects, digest)| {
            region_rollout(
                opts,
                env,
                r,
                objects,
                digest,
                &revision,
                &kubeconfig,
                &out,
                progress,
            )
        });
        results = futures::future::join_all(futures).await;
    } else {
        let mut stopped = false;
        for (r, objects, digest) in &sets {
            if stopped {
                results.push(RegionResult {
                    region: r.name.clone(),
                    context: context_of(opts, r),
                    status: "skipped".into(),
                    applied: 0,
                    unchanged: 0,
                    pruned: vec![],
                    message: Some("an earlier region of the wave failed".into()),
                    seconds: 0.0,
                });
                continue;
            }
            let result = region_rollout(
                opts,
                env,
                r,
                objects,
                digest,
                &revision,
                &kubeconfig,
                &out,
                progress,
            )
            .await;
            stopped = result.status != "ok";
            results.push(result);
        }
    }
    Ok(RolloutReport {
        environment: env.name.clone(),
        revision,
        regions: results,
    })
}

fn context_of(opts: &RolloutOptions, r: &Region) -> String {
    opts.context.clone().unwrap_or_else(|| r.context.clone())
}

fn digest_of(
    root: &std::path::Path,
    out: &std::path::Path,
    env: &str,
    region: &str,
    rev: Option<&str>,
) -> String {
    crate::plan::revision_index(root, out, env, region, rev)
        .map(|i| i.digest)
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
async fn region_rollout(
    opts: &RolloutOptions,
    env: &Environment,
    region: &Region,
    objects: &[(ObjectId, Value)],
    digest: &str,
    revision: &str,
    kubeconfig: &kube::config::Kubeconfig,
    out: &std::path::Path,
    progress: &dyn Progress,
) -> RegionResult {
    let started = Instant::now();
    let context = context_of(opts, region);
    let mut result = RegionResult {
        region: region.name.clone(),
        context: context.clone(),
        status: "ok".into(),
        applied: 0,
        unchanged: 0,
        pruned: vec![],
        message: None,
        seconds: 0.0,
    };
    let outcome = async {
        let cluster = Cluster::connect(kubeconfig, &region.name, &context).await?;
        // A first rollout creates the namespace that the Lease and the record live in.
        let set_id = applyset_id(&env.name, &env.namespace);
        for (id, v) in objects.iter().filter(|(id, _)| id.kind == "Namespace") {
            cluster
                .apply(id, &prepared(v.clone(), &set_id), opts.force_conflicts)
                .await?;
        }
        let lease = acquire_lease(&cluster, env).await?;
        let _keeper = keep_lease(&cluster, env, &lease);
        let applied = apply_set(&cluster, env, objects, opts, progress).await;
        let applied = match applied {
            Ok(a) => a,
            Err(e) => {
                release_lease(&cluster, env, &lease).await;
                return Err(e);
            }
        };
        result.applied = applied.applied;
        result.unchanged = applied.unchanged;
        result.pruned = applied.pruned;
        let healthy = wait_healthy(&cluster, env, objects, opts.timeout, progress).await;
        let record = Record {
            revision: revision.into(),
            digest: digest.into(),
            time: Timestamp::now().to_string(),
            user: whoami(),
            health: if healthy.is_ok() {
                "ok".into()
            } else {
                "failed".into()
            },
        };
        let previous = write_record(&cluster, env, &record).await?;
        if let Err(why) = healthy {
            result.status = "failed".into();
            result.message = Some(why);
            if opts.auto_rollback
                && let Some(prev) = previous
            {
                progress.line(&format!(
                    "{}/{}: rolling back to {}",
                    env.name, region.name, prev.revision
                ));
                let objects = revision_objects(
                    &opts.root,
                    out,
                    &env.name,
                    &region.name,
                    Some(&prev.revision),
                )
                .map_err(|e| ClusterError::Api {
                    region: region.name.clone(),
                    id: "rollback".into(),
                    message: e.messages().join("; "),
                })?;
                let back = apply_set(&cluster, env, &objects, opts, progress).await?;
                let healthy = wait_healthy(&cluster, env, &objects, opts.timeout, progress).await;
                let record = Record {
                    health: if healthy.is_ok() {
                        "ok".into()
                    } else {
                        "failed".into()
                    },
                    time: Timestamp::now().to_string(),
                    ..prev.clone()
                };
                write_record(&cluster, env, &record).await?;
                result.status = "rolled-back".into();
                result.pruned.extend(back.pruned);
                result.message = Some(format!(
                    "{}; rolled back to {}",
                    result.message.take().unwrap_or_default(),
                    prev.revision
                ));
            }
        }
        release_lease(&cluster, env, &lease).await;
        Ok::<(), ClusterError>(())
    }
    .await;
    if let Err(e) = outcome {
        result.status = "error".into();
        result.message = Some(e.to_string());
    }
    result.seconds = started.elapsed().as_secs_f64();
    progress.line(&format!(
        "{}/{}: {}{}",
        env.name,
        region.name,
        result.status,
        result
            .message
            .as_ref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default()
    ));
    result
}

fn whoami() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host}")
}

/// Apply order: what others depend on first.
fn kind_rank(kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        "ServiceAccount" | "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => 2,
        "ConfigMap" | "Secret" => 3,
        "Service" => 4,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "CronJob" | "Pod" => 5,
        _ => 6,
    }
}

fn group_kind(id: &ObjectId) -> String {
    match id.group() {
        "" => id.kind.clone(),
        g => format!("{}.{g}", id.kind),
    }
}

/// What the environment's ApplySet parent in this region says the set holds: its group-kinds
/// and additional namespaces (both empty before the first rollout).
pub(crate) async fn inventory(
    cluster: &Cluster,
    environment: &str,
    namespace: &str,
) -> Result<(BTreeSet<String>, BTreeSet<String>), ClusterError> {
    let parent = ObjectId {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some(namespace.into()),
        name: parent_name(environment),
    };
    let live = cluster.get(&parent).await?;
    let annotation = |key: &str| -> BTreeSet<String> {
        live.as_ref()
            .and_then(|p| p["metadata"]["annotations"][key].as_str())
            .map(|s| {
                s.split(',')
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok((
        annotation(GROUP_KINDS_ANNOTATION),
        annotation(NAMESPACES_ANNOTATION),
    ))
}

/// The apiVersion and kind to list an inventory group-kind (`Kind.group`) with.
pub(crate) fn listable(gk: &str) -> (String, String) {
    let (group, kind) = split_group_kind(gk);
    (preferred_version(&group, &kind), kind)
}

fn split_group_kind(gk: &str) -> (String, String) {
    // contains-group-kinds has no versions; the preferred version is found by discovery.
    match gk.split_once('.') {
        Some((kind, group)) => (group.to_string(), kind.to_string()),
        None => (String::new(), gk.to_string()),
    }
}

/// Kind, namespace and unhashed name of a content-hashed ConfigMap or Secret.
type ConfigName = (String, Option<String>, String);

struct Applied {
    applied: usize,
    unchanged: usize,
    pruned: Vec<String>,
}

/// Widen the ApplySet parent, apply every object in kind order, prune what left the set, then
/// narrow the parent: an interruption at any point leaves every member findable.
async fn apply_set(
    cluster: &Cluster,
    env: &Environment,
    objects: &[(ObjectId, Value)],
    opts: &RolloutOptions,
    progress: &dyn Progress,
) -> Result<Applied, ClusterError> {
    let ns = &env.namespace;
    let set_id = applyset_id(&env.name, ns);
    // The environment's namespace, where the parent lives, was applied before the Lease was
    // taken; Namespaces go through the same unchanged-or-apply step as the rest, first.
    let mut sorted: Vec<&(ObjectId, Value)> = objects.iter().collect();
    sorted.sort_by_key(|(id, _)| (kind_rank(&id.kind), id.file_name()));
    let (old_kinds, old_namespaces) = inventory(cluster, &env.name, ns).await?;
    let new_kinds: BTreeSet<String> = objects.iter().map(|(id, _)| group_kind(id)).collect();
    let new_namespaces: BTreeSet<String> = objects
        .iter()
        .filter_map(|(id, _)| id.namespace.clone())
        .filter(|n| n != ns)
        .collect();
    let union_kinds: BTreeSet<String> = old_kinds.union(&new_kinds).cloned().collect();
    let union_namespaces: BTreeSet<String> =
        old_namespaces.union(&new_namespaces).cloned().collect();
    apply_parent(cluster, env, &set_id, &union_kinds, &union_namespaces).await?;

    // Objects the live cluster already holds exactly as configured are not sent again; the
    // rest are applied concurrently within a kind rank, ranks one after another.
    let ids: Vec<&ObjectId> = sorted.iter().map(|(id, _)| id).collect();
    let live = crate::cluster::live::snapshot(cluster, &env.name, &ids).await?;
    let mut todo: Vec<(&ObjectId, Value)> = Vec::new();
    let mut same = 0;
    for (id, v) in &sorted {
        let desired = prepared(v.clone(), &set_id);
        if live.get(id).is_some_and(|l| unchanged(l, &desired)) {
            same += 1;
        } else {
            todo.push((id, desired));
        }
    }
    let applied = todo.len();
    for rank in todo
        .chunk_by(|a, b| kind_rank(&a.0.kind) == kind_rank(&b.0.kind))
        .map(<[_]>::to_vec)
    {
        futures::stream::iter(rank)
            .map(|(id, desired)| async move {
                cluster.apply(id, &desired, opts.force_conflicts).await
            })
            .buffer_unordered(opts.concurrency.max(1))
            .try_collect::<Vec<_>>()
            .await?;
    }
    progress.line(&format!(
        "{}/{}: applied {applied} objects, {same} unchanged",
        env.name, cluster.region,
    ));

    // Prune members of the widened set that the revision no longer has.
    let mut kinds = Vec::new();
    for gk in &union_kinds {
        let (group, kind) = split_group_kind(gk);
        let api_version = objects
            .iter()
            .find(|(id, _)| group_kind(id) == *gk)
            .map(|(id, _)| id.api_version.clone())
            .unwrap_or_else(|| preferred_version(&group, &kind));
        kinds.push((api_version, kind));
    }
    let mut namespaces: Vec<String> = union_namespaces.iter().cloned().collect();
    namespaces.push(ns.clone());
    let members = cluster
        .list_labelled(&kinds, &namespaces, &format!("{PART_OF_LABEL}={set_id}"))
        .await?;
    let wanted: BTreeSet<&ObjectId> = objects.iter().map(|(id, _)| id).collect();
    let mut stale: Vec<(ObjectId, Value)> = members
        .into_iter()
        .filter(|(id, _)| !wanted.contains(id))
        .collect();
    // Content-hashed config that left the set stays a while: old ReplicaSets and earlier
    // revisions still reference it. Keep the newest `keep` per name.
    let mut by_base: BTreeMap<ConfigName, Vec<(String, ObjectId)>> = BTreeMap::new();
    stale.retain(|(id, v)| {
        let hashed =
            matches!(id.kind.as_str(), "ConfigMap" | "Secret") && unhashed_name(&id.name).is_some();
        if hashed {
            let base = unhashed_name(&id.name).unwrap_or_default().to_string();
            let created = v["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            by_base
                .entry((id.kind.clone(), id.namespace.clone(), base))
                .or_default()
                .push((created, id.clone()));
        }
        !hashed
    });
    for (_, mut olds) in by_base {
        olds.sort();
        let excess = olds.len().saturating_sub(opts.keep);
        for (_, id) in olds.into_iter().take(excess) {
            stale.push((id, Value::Null));
        }
    }
    // Delete in reverse kind order: workloads before the config they use.
    stale.sort_by_key(|(id, _)| std::cmp::Reverse(kind_rank(&id.kind)));
    let mut pruned = Vec::new();
    for (id, _) in stale {
        cluster.delete(&id).await?;
        pruned.push(id.to_string());
    }
    if !pruned.is_empty() {
        progress.line(&format!(
            "{}/{}: pruned {}",
            env.name,
            cluster.region,
            pruned.join(", ")
        ));
    }
    apply_parent(cluster, env, &set_id, &new_kinds, &new_namespaces).await?;
    Ok(Applied {
        applied,
        unchanged: same,
        pruned,
    })
}

fn preferred_version(group: &str, kind: &str) -> String {
    match (group, kind) {
        ("", _) => "v1".into(),
        (
            "apps"
            | "rbac.authorization.k8s.io"
            | "policy"
            | "batch"
            | "networking.k8s.io"
            | "apiextensions.k8s.io"
            | "coordination.k8s.io",
            _,
        ) => {
            format!("{group}/v1")
        }
        (g, _) => format!("{g}/v1"),
    }
}

async fn apply_parent(
    cluster: &Cluster,
    env: &Environment,
    set_id: &str,
    kinds: &BTreeSet<String>,
    namespaces: &BTreeSet<String>,
) -> Result<(), ClusterError> {
    let parent = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": parent_name(&env.name),
            "namespace": env.namespace,
            "labels": {
                APPLYSET_ID_LABEL: set_id,
                crate::render::manifest::MANAGED_BY.0: crate::render::manifest::MANAGED_BY.1,
                crate::render::manifest::ENVIRONMENT_LABEL: env.name,
            },
            "annotations": {
                TOOLING_ANNOTATION: format!("kubectl-hadr/v{}", env!("CARGO_PKG_VERSION")),
                GROUP_KINDS_ANNOTATION: kinds.iter().cloned().collect::<Vec<_>>().join(","),
                NAMESPACES_ANNOTATION: namespaces.iter().cloned().collect::<Vec<_>>().join(","),
            },
        },
    });
    let id = ObjectId::of(&parent).map_err(|m| ClusterError::Api {
        region: cluster.region.clone(),
        id: "ApplySet parent".into(),
        message: m,
    })?;
    // Field manager of its own: the record (data) is written by another one.
    cluster
        .apply_as(&id, &parent, "kubectl-hadr-applyset")
        .await?;
    Ok(())
}

/// Writes the record of this rollout and returns the previous healthy one (of another
/// revision), for rollback.
async fn write_record(
    cluster: &Cluster,
    env: &Environment,
    record: &Record,
) -> Result<Option<Record>, ClusterError> {
    let history = read_history(cluster, env).await?;
    let previous = history
        .iter()
        .rev()
        .find(|r| r.health == "ok" && r.revision != record.revision)
        .cloned();
    let mut history = history;
    history.push(record.clone());
    let skip = history.len().saturating_sub(20);
    let history: Vec<Record> = history.into_iter().skip(skip).collect();
    let data = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": parent_name(&env.name), "namespace": env.namespace},
        "data": {
            "revision": record.revision,
            "digest": record.digest,
            "time": record.time,
            "user": record.user,
            "health": record.health,
            "history": serde_json::to_string(&history).unwrap_or_default(),
        },
    });
    let id = ObjectId::of(&data).map_err(|m| ClusterError::Api {
        region: cluster.region.clone(),
        id: "record".into(),
        message: m,
    })?;
    cluster.apply_as(&id, &data, "kubectl-hadr-record").await?;
    Ok(previous)
}

/// The deployment history of an environment in a region, oldest first.
pub async fn read_history(
    cluster: &Cluster,
    env: &Environment,
) -> Result<Vec<Record>, ClusterError> {
    let id = ObjectId {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some(env.namespace.clone()),
        name: parent_name(&env.name),
    };
    Ok(cluster
        .get(&id)
        .await?
        .and_then(|p| {
            p["data"]["history"]
                .as_str()
                .and_then(|h| serde_json::from_str(h).ok())
        })
        .unwrap_or_default())
}

/// The previous healthy revision of another revision than the current one.
pub fn previous_revision(history: &[Record]) -> Option<&Record> {
    let current = history.last()?;
    history
        .iter()
        .rev()
        .skip(1)
        .find(|r| r.health == "ok" && r.revision != current.revision)
}

const LEASE_PREFIX: &str = "hadr-rollout-";
/// Short, and renewed while the rollout runs: a rollout that dies (SIGKILL, lost machine)
/// blocks the next one for at most this long.
const LEASE_SECONDS: i32 = 30;

/// Renews the lease every third of its duration until dropped.
pub struct LeaseKeeper(tokio::task::JoinHandle<()>);

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn keep_lease(cluster: &Cluster, env: &Environment, holder: &str) -> LeaseKeeper {
    let api: Api<Lease> = Api::namespaced(cluster.client(), &env.namespace);
    let name = format!("{LEASE_PREFIX}{}", env.name);
    let holder = holder.to_string();
    LeaseKeeper(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs((LEASE_SECONDS / 3) as u64)).await;
            if let Ok(Some(mut lease)) = api.get_opt(&name).await
                && let Some(spec) = lease.spec.as_mut()
                && spec.holder_identity.as_deref() == Some(holder.as_str())
            {
                spec.renew_time = serde_json::from_value(json!(micro_time(Timestamp::now()))).ok();
                let _ = api.replace(&name, &PostParams::default(), &lease).await;
            }
        }
    }))
}

/// Kubernetes MicroTime: RFC 3339 with exactly six fractional digits, UTC.
pub fn micro_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Takes the environment's Lease in this region, or says who holds it. An expired lease is
/// taken over. Optimistic concurrency (resourceVersion) settles races between two rollouts.
async fn acquire_lease(cluster: &Cluster, env: &Environment) -> Result<String, ClusterError> {
    let api: Api<Lease> = Api::namespaced(cluster.client(), &env.namespace);
    let name = format!("{LEASE_PREFIX}{}", env.name);
    let holder = format!("{} pid {}", whoami(), std::process::id());
    let duration = LEASE_SECONDS;
    let now = Timestamp::now();
    let spec = json!({
        "holderIdentity": holder,
        "leaseDurationSeconds": duration,
        "acquireTime": micro_time(now),
        "renewTime": micro_time(now),
    });
    let err = |message: String| ClusterError::Api {
        region: cluster.region.clone(),
        id: format!("Lease {}/{name}", env.namespace),
        message,
    };
    let api_text = |e: kube::Error| match e {
        kube::Error::Api(s) => format!("{} ({})", s.message, s.reason),
        other => other.to_string(),
    };
    match api.get_opt(&name).await.map_err(|e| err(api_text(e)))? {
        None => {
            let lease: Lease =
                serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec}))
                    .map_err(|e| err(e.to_string()))?;
            api.create(&PostParams::default(), &lease)
                .await
                .map_err(|e| match e {
                    kube::Error::Api(s) if s.code == 409 => {
                        err("another rollout took the lease at the same moment; retry".into())
                    }
                    other => err(other.to_string()),
                })?;
        }
        Some(mut lease) => {
            let s = lease.spec.clone().unwrap_or_default();
            let held_by = s.holder_identity.clone().unwrap_or_default();
            let renewed = s.renew_time.as_ref().map(|t| t.0);
            let secs = i64::from(s.lease_duration_seconds.unwrap_or(0));
            let live = !held_by.is_empty()
                && renewed.is_some_and(|t| t.as_second() + secs > now.as_second());
            if live {
                return Err(ClusterError::Api {
                    region: cluster.region.clone(),
                    id: format!("Lease {}/{name}", env.namespace),
                    message: format!(
                        "another rollout holds the lease: {held_by} (until {}); wait for it or, if it died, for the lease to expire",
                        renewed
                            .map(|t| Timestamp::from_second(t.as_second() + secs)
                                .map(|x| x.to_string())
                                .unwrap_or_default())
                            .unwrap_or_default()
                    ),
                });
            }
            lease.spec = Some(serde_json::from_value(spec).map_err(|e| err(e.to_string()))?);
            api.replace(&name, &PostParams::default(), &lease)
                .await
                .map_err(|e| match e {
                    kube::Error::Api(s) if s.code == 409 => {
                        err("another rollout took the lease at the same moment; retry".into())
                    }
                    other => err(other.to_string()),
                })?;
        }
    }
    Ok(holder)
}

async fn release_lease(cluster: &Cluster, env: &Environment, holder: &str) {
    let api: Api<Lease> = Api::namespaced(cluster.client(), &env.namespace);
    let name = format!("{LEASE_PREFIX}{}", env.name);
    if let Ok(Some(mut lease)) = api.get_opt(&name).await
        && lease
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref())
            == Some(holder)
    {
        if let Some(s) = lease.spec.as_mut() {
            s.holder_identity = None;
        }
        let _ = api.replace(&name, &PostParams::default(), &lease).await;
    }
}

/// Waits until every workload and PodDisruptionBudget of the set is healthy, or the timeout.
/// Each poll is one LIST per kind and namespace.
async fn wait_healthy(
    cluster: &Cluster,
    env: &Environment,
    objects: &[(ObjectId, Value)],
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let watched: Vec<&ObjectId> = objects
        .iter()
        .map(|(id, _)| id)
        .filter(|id| {
            matches!(
                id.kind.as_str(),
                "Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "PodDisruptionBudget"
            )
        })
        .collect();
    loop {
        let live = crate::cluster::live::snapshot(cluster, &env.name, &watched)
            .await
            .map_err(|e| e.to_string())?;
        let waiting: Vec<String> = watched
            .iter()
            .filter_map(|id| {
                live.get(*id)
                    .map_or(Some("not found".to_string()), |v| unhealthy(id, v))
                    .map(|why| format!("{id}: {why}"))
            })
            .collect();
        if waiting.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "not healthy after {}s: {}",
                timeout.as_secs(),
                waiting.join("; ")
            ));
        }
        progress.status(&format!(
            "{}: waiting {}s for {}",
            cluster.region,
            (deadline - Instant::now()).as_secs(),
            summarize(&waiting)
        ));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The first few of a long list, and how many more: a status line, not a wall of text.
fn summarize(items: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut text = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}

/// Why an object is not healthy yet, if it is not.
fn unhealthy(id: &ObjectId, v: &Value) -> Option<String> {
    let n = |p: &Value| p.as_i64().unwrap_or(0);
    let status = &v["status"];
    let generation = n(&v["metadata"]["generation"]);
    if status["observedGeneration"].is_i64() && n(&status["observedGeneration"]) < generation {
        return Some("update not observed yet".into());
    }
    match id.kind.as_str() {
        "Deployment" => {
            let want = v["spec"]["replicas"].as_i64().unwrap_or(1);
            let (updated, available) = (
                n(&status["updatedReplicas"]),
                n(&status["availableReplicas"]),
            );
            (updated < want || available < want)
                .then(|| format!("{available}/{want} available, {updated} updated"))
        }
        "StatefulSet" => {
            let want = v["spec"]["replicas"].as_i64().unwrap_or(1);
            let ready = n(&status["readyReplicas"]);
            (ready < want).then(|| format!("{ready}/{want} ready"))
        }
        "DaemonSet" => {
            let want = n(&status["desiredNumberScheduled"]);
            let ready = n(&status["numberReady"]);
            (ready < want).then(|| format!("{ready}/{want} ready"))
        }
        "Job" => (n(&status["succeeded"]) < 1).then(|| "not complete".into()),
        "PodDisruptionBudget" => {
            let (healthy, desired) = (n(&status["currentHealthy"]), n(&status["desiredHealthy"]));
            (healthy < desired).then(|| format!("{healthy}/{desired} healthy"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applyset_ids_follow_kep_3659() {
        let id = applyset_id("prod", "my-app");
        assert!(id.starts_with("applyset-") && id.ends_with("-v1"), "{id}");
        // base64url of a sha256 is 43 characters without padding.
        assert_eq!(id.len(), "applyset-".len() + 43 + "-v1".len());
        assert_ne!(id, applyset_id("staging", "my-app"));
    }

    #[test]
    fn previous_skips_failed_and_same_revisions() {
        let r = |rev: &str, health: &str| Record {
            revision: rev.into(),
            digest: String::new(),
            time: String::new(),
            user: String::new(),
            health: health.into(),
        };
        let h = vec![r("a", "ok"), r("b", "failed"), r("c", "ok"), r("c", "ok")];
        assert_eq!(previous_revision(&h).unwrap().revision, "a");
    }

    #[test]
    fn deployments_are_healthy_only_when_every_replica_is_available() {
        let id = ObjectId {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("x".into()),
            name: "d".into(),
        };
        let v = json!({"metadata": {"generation": 2}, "spec": {"replicas": 3}, "status": {"observedGeneration": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        assert!(unhealthy(&id, &v).is_some());
        let v = json!({"metadata": {"generation": 2}, "spec": {"replicas": 3}, "status": {"observedGeneration": 2, "updatedReplicas": 3, "availableReplicas": 3}});
        assert!(unhealthy(&id, &v).is_none());
    }
}
