//! Plans: for each region, every object of a revision created, changed, renamed, unchanged or
//! pruned, with its diff against the live cluster.

pub mod diff;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

use crate::cluster::{Cluster, ClusterError, load_kubeconfig};
use crate::environment::Environment;
use crate::error::Error;
use crate::render::manifest::{INDEX_FILE, Index, ObjectId};
use crate::revision::store::Store;
use diff::Action;

/// One object's fate in a region.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectPlan {
    pub id: ObjectId,
    pub action: Action,
    /// For a rename: the name of the object it replaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// Unified diff, Secret values masked; empty when unchanged.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub diff: String,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub create: usize,
    pub change: usize,
    pub rename: usize,
    pub prune: usize,
    pub unchanged: usize,
}

impl Summary {
    fn add(&mut self, a: Action) {
        match a {
            Action::Create => self.create += 1,
            Action::Change => self.change += 1,
            Action::Rename => self.rename += 1,
            Action::Prune => self.prune += 1,
            Action::Unchanged => self.unchanged += 1,
        }
    }

    pub fn differs(&self) -> bool {
        self.create + self.change + self.rename + self.prune > 0
    }

    fn merge(&mut self, o: &Summary) {
        self.create += o.create;
        self.change += o.change;
        self.rename += o.rename;
        self.prune += o.prune;
        self.unchanged += o.unchanged;
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RegionPlan {
    pub region: String,
    pub context: String,
    pub objects: Vec<ObjectPlan>,
    pub summary: Summary,
    /// Set when the region could not be planned (unreachable, API error); its objects are then
    /// incomplete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `kubectl hadr diff` for one environment.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    pub environment: String,
    /// The git revision compared, or `working tree`.
    pub revision: String,
    pub regions: Vec<RegionPlan>,
    pub total: Summary,
}

impl DiffReport {
    pub fn failed(&self) -> bool {
        self.regions.iter().any(|r| r.error.is_some())
    }
}

pub struct DiffOptions {
    pub root: PathBuf,
    pub out: Option<PathBuf>,
    pub environment: String,
    pub region: Option<String>,
    pub revision: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    /// Overrides the context of the (single) region selected.
    pub context: Option<String>,
    pub force_conflicts: bool,
    pub concurrency: usize,
}

/// The index of one region at a revision.
pub(crate) fn revision_index(
    root: &Path,
    out: &Path,
    env: &str,
    region: &str,
    revision: Option<&str>,
) -> Result<Index, Error> {
    let files = revision_files(root, out, env, region, revision)?;
    parse_index(&files, out, env, region, revision)
}

fn revision_files(
    root: &Path,
    out: &Path,
    env: &str,
    region: &str,
    revision: Option<&str>,
) -> Result<BTreeMap<PathBuf, Vec<u8>>, Error> {
    Ok(match revision {
        None => {
            let dir = out.join(env).join(region);
            crate::revision::tree::existing(
                &dir,
                &crate::revision::tree::Scope {
                    dirs: vec![PathBuf::new()],
                    prune_environments: false,
                },
            )?
        }
        Some(rev) => {
            let store = Store::discover(root)?;
            let rel = store.relative(out)?.join(env).join(region);
            store.read_tree(rev, &rel)?
        }
    })
}

fn parse_index(
    files: &BTreeMap<PathBuf, Vec<u8>>,
    out: &Path,
    env: &str,
    region: &str,
    revision: Option<&str>,
) -> Result<Index, Error> {
    let index_bytes = files.get(Path::new(INDEX_FILE)).ok_or_else(|| Error::Io {
        path: out.join(env).join(region).join(INDEX_FILE),
        message: format!(
            "no rendered set for {env}/{region}{}; run `kubectl hadr render {env}` first",
            revision.map(|r| format!(" at {r}")).unwrap_or_default()
        ),
    })?;
    std::str::from_utf8(index_bytes)
        .ok()
        .and_then(|s| crate::yaml::from_str(s).ok())
        .ok_or_else(|| Error::Io {
            path: out.join(env).join(region).join(INDEX_FILE),
            message: "unreadable index; re-render".into(),
        })
}

/// The objects of one region at a revision: from the rendered tree on disk, or from git.
pub(crate) fn revision_objects(
    root: &Path,
    out: &Path,
    env: &str,
    region: &str,
    revision: Option<&str>,
) -> Result<Vec<(ObjectId, Value)>, Error> {
    let files = revision_files(root, out, env, region, revision)?;
    let index = parse_index(&files, out, env, region, revision)?;
    let mut objects = Vec::new();
    for entry in index.objects {
        let bytes = files.get(Path::new(&entry.file)).ok_or_else(|| Error::Io {
            path: out.join(env).join(region).join(&entry.file),
            message: "listed in the index but missing; re-render".into(),
        })?;
        let text = String::from_utf8_lossy(bytes);
        let value: Value = crate::yaml::documents(&text)
            .ok()
            .and_then(|mut d| d.pop())
            .ok_or_else(|| Error::Io {
                path: out.join(env).join(region).join(&entry.file),
                message: "not a YAML object; re-render".into(),
            })?;
        objects.push((entry.id, value));
    }
    Ok(objects)
}

/// Plans every selected region of an environment against its live cluster, regions in
/// parallel and requests within a region concurrently (bounded).
pub async fn diff(opts: &DiffOptions, env: &Environment) -> Result<DiffReport, Error> {
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| opts.root.join("rendered"));
    let regions: Vec<_> = env.selected_regions(opts.region.as_deref());
    let mut wanted = Vec::new();
    for r in &regions {
        let objects = revision_objects(
            &opts.root,
            &out,
            &env.name,
            &r.name,
            opts.revision.as_deref(),
        )?;
        let context = opts.context.clone().unwrap_or_else(|| r.context.clone());
        wanted.push((r.name.clone(), context, objects));
    }
    let kubeconfig = load_kubeconfig(opts.kubeconfig.as_deref())?;
    let plans = futures::future::join_all(wanted.into_iter().map(|(region, context, objects)| {
        let kubeconfig = &kubeconfig;
        async move {
            match plan_region(
                kubeconfig,
                &env.name,
                &env.namespace,
                &region,
                &context,
                objects,
                opts,
            )
            .await
            {
                Ok(p) => p,
                Err(e) => RegionPlan {
                    region,
                    context,
                    objects: Vec::new(),
                    summary: Summary::default(),
                    error: Some(e.to_string()),
                },
            }
        }
    }))
    .await;
    let mut total = Summary::default();
    for p in &plans {
        total.merge(&p.summary);
    }
    Ok(DiffReport {
        environment: env.name.clone(),
        revision: opts
            .revision
            .clone()
            .unwrap_or_else(|| "working tree".into()),
        regions: plans,
        total,
    })
}

async fn plan_region(
    kubeconfig: &kube::config::Kubeconfig,
    env: &str,
    namespace: &str,
    region: &str,
    context: &str,
    objects: Vec<(ObjectId, Value)>,
    opts: &DiffOptions,
) -> Result<RegionPlan, ClusterError> {
    let cluster = Cluster::connect(kubeconfig, region, context).await?;
    let rev = opts.revision.as_deref().unwrap_or("rendered");
    let set_id = &crate::rollout::applyset_id(env, namespace);
    // One LIST per kind and namespace gives the live objects for the plan and for pruning.
    // Hashed config is listed whatever the revision holds: its history is shown as renames.
    // Kinds and namespaces the revision no longer has at all are found through the ApplySet
    // inventory the last rollout recorded.
    let (inventory_kinds, inventory_namespaces) =
        crate::rollout::inventory(&cluster, env, namespace).await?;
    let mut kinds: BTreeSet<(String, String)> = objects
        .iter()
        .map(|(id, _)| (id.api_version.clone(), id.kind.clone()))
        .chain([
            ("v1".to_string(), "ConfigMap".to_string()),
            ("v1".to_string(), "Secret".to_string()),
        ])
        .collect();
    for gk in &inventory_kinds {
        let (api_version, kind) = crate::rollout::listable(gk);
        if !kinds.iter().any(|(_, k)| *k == kind) {
            kinds.insert((api_version, kind));
        }
    }
    let kinds: Vec<_> = kinds.into_iter().collect();
    let namespaces: Vec<String> = objects
        .iter()
        .filter_map(|(id, _)| id.namespace.clone())
        .chain(inventory_namespaces)
        .chain([namespace.to_string()])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut live = cluster.list_managed(env, &kinds, &namespaces).await?;
    let listed: HashMap<&ObjectId, &Value> = live.iter().map(|(id, v)| (id, v)).collect();
    let results: Vec<Result<ObjectPlan, ClusterError>> = futures::stream::iter(objects.iter())
        .map(|(id, object)| {
            let cluster = &cluster;
            let listed = &listed;
            async move {
                let object = &crate::cluster::live::prepared(object.clone(), set_id);
                // Proven unchanged from the LIST alone: no dry run needed.
                if listed
                    .get(id)
                    .is_some_and(|l| crate::cluster::live::unchanged(l, object))
                {
                    return Ok(ObjectPlan {
                        id: id.clone(),
                        action: Action::Unchanged,
                        renamed_from: None,
                        diff: String::new(),
                    });
                }
                // Not listed: absent, or present without the environment's labels.
                let live = match listed.get(id) {
                    Some(l) => Some((*l).clone()),
                    None => cluster.get(id).await?,
                }
                .map(diff::normalize);
                let planned = match cluster
                    .dry_run_apply(id, object, opts.force_conflicts)
                    .await
                {
                    Ok(v) => diff::normalize(v),
                    // The server cannot dry-run into a namespace the same apply would create:
                    // show the object as the revision has it.
                    Err(ClusterError::NamespaceMissing { .. }) if live.is_none() => object.clone(),
                    Err(e) => return Err(e),
                };
                let action = match &live {
                    None => Action::Create,
                    Some(l) if *l == planned => Action::Unchanged,
                    Some(_) => Action::Change,
                };
                let (mut before, mut after) = (live, Some(planned));
                diff::mask_secrets(before.as_mut(), after.as_mut());
                let text = if action == Action::Unchanged {
                    String::new()
                } else {
                    diff::unified(
                        before.as_ref(),
                        after.as_ref(),
                        &format!("live/{region}/{id}"),
                        &format!("{rev}/{region}/{id}"),
                    )
                };
                Ok(ObjectPlan {
                    id: id.clone(),
                    action,
                    renamed_from: None,
                    diff: text,
                })
            }
        })
        .buffered(opts.concurrency.max(1))
        .collect()
        .await;
    let mut plans = Vec::with_capacity(results.len());
    for r in results {
        plans.push(r?);
    }

    // Prune: live objects of this environment and region, of the kinds and in the namespaces
    // of the revision or the ApplySet inventory, that the revision no longer holds.
    let wanted: BTreeSet<&ObjectId> = objects.iter().map(|(id, _)| id).collect();
    live.retain(|(id, _)| !wanted.contains(id));
    for (id, value) in live {
        let mut before = Some(diff::normalize(value));
        diff::mask_secrets(before.as_mut(), None);
        // A content-hashed ConfigMap/Secret whose successor is created: show it as a rename.
        let successor = diff::unhashed_name(&id.name).and_then(|base| {
            plans.iter().position(|p| {
                p.action == Action::Create
                    && p.id.kind == id.kind
                    && p.id.namespace == id.namespace
                    && diff::unhashed_name(&p.id.name) == Some(base)
            })
        });
        match successor {
            Some(i) => {
                let new_obj = objects
                    .iter()
                    .find(|(o, _)| *o == plans[i].id)
                    .map(|(_, v)| v.clone());
                let mut after =
                    new_obj.map(|o| diff::normalize(crate::cluster::live::prepared(o, set_id)));
                let mut before_c = before.clone();
                diff::mask_secrets(before_c.as_mut(), after.as_mut());
                // Compare contents, not names.
                for side in [before_c.as_mut(), after.as_mut()].into_iter().flatten() {
                    side["metadata"]["name"] = Value::String(String::new());
                }
                plans[i].action = Action::Rename;
                plans[i].renamed_from = Some(id.name.clone());
                plans[i].diff = diff::unified(
                    before_c.as_ref(),
                    after.as_ref(),
                    &format!("live/{region}/{id}"),
                    &format!("{rev}/{region}/{}", plans[i].id),
                );
            }
            // Hashed config without a successor is history that rollout keeps (`--keep`),
            // not drift.
            None if matches!(id.kind.as_str(), "ConfigMap" | "Secret")
                && diff::unhashed_name(&id.name).is_some() => {}
            None => plans.push(ObjectPlan {
                diff: diff::unified(
                    before.as_ref(),
                    None,
                    &format!("live/{region}/{id}"),
                    "/dev/null",
                ),
                id,
                action: Action::Prune,
                renamed_from: None,
            }),
        }
    }
    plans.sort_by_key(|a| a.id.file_name());
    let mut summary = Summary::default();
    for p in &plans {
        summary.add(p.action);
    }
    Ok(RegionPlan {
        region: region.into(),
        context: context.into(),
        objects: plans,
        summary,
        error: None,
    })
}
