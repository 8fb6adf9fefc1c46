//! `spec.workloads` and `spec.storageClasses` resolved: each workload with its defaults, its
//! HA settings over the environment's, its volumes checked, and a region's overrides.

use std::collections::BTreeMap;

use serde::Serialize;

use super::quantity::{parse_quantity, quantity_hint};
use super::resolve::Chain;
use super::schema::{
    AccessMode, AntiAffinity, DisruptionBudget, PodManagementPolicy, Probe, RegionWorkloadSpec,
    Resources, SpreadKey, StorageClassSpec, StorageTopology, VolumeBindingMode, VolumeSpec,
    WorkloadKind, WorkloadSpec,
};
use super::{EnvironmentError, Ha};
use crate::yaml::Path as YamlPath;

/// One workload after defaults, HA inheritance and (in a `Region`) region overrides.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Workload {
    /// A DNS-1035 label: it names the controller, its Services, PDB and ConfigMap.
    pub name: String,
    pub kind: WorkloadKind,
    pub image: String,
    /// Pods per region.
    pub replicas: u32,
    /// The container port; `None`: no client Service.
    pub port: Option<u16>,
    pub resources: Resources,
    /// `None` for a workload with no port and no `readinessProbe.command`.
    pub readiness_probe: Option<Probe>,
    /// The environment's config with the workload's entries over it.
    pub config: BTreeMap<String, String>,
    pub ha: WorkloadHa,
    /// Persistent volumes (StatefulSets only).
    pub volumes: Vec<Volume>,
    pub pod_management_policy: Option<PodManagementPolicy>,
}

/// A workload's HA settings: its own where it sets them, else the environment's.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadHa {
    pub spread: Vec<SpreadKey>,
    pub anti_affinity: AntiAffinity,
    pub disruption_budget: Option<DisruptionBudget>,
    /// Replicas the workload needs across regions (`validate --lose region=`, MR003).
    pub capacity: u32,
}

/// One `volumeClaimTemplates` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub name: String,
    /// A Kubernetes quantity, checked.
    pub size: String,
    /// `None`: the cluster's default class.
    pub storage_class: Option<String>,
    pub access_modes: Vec<AccessMode>,
    pub mount_path: String,
}

/// The facts of a StorageClass, with defaults.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageClass {
    pub volume_binding_mode: VolumeBindingMode,
    pub topology: StorageTopology,
}

/// StorageClass facts at `at`, each class name a DNS-1123 subdomain as the API requires.
pub(super) fn storage_classes(
    chain: &Chain<'_>,
    at: &YamlPath,
    specs: BTreeMap<String, StorageClassSpec>,
    base: &BTreeMap<String, StorageClass>,
) -> Result<BTreeMap<String, StorageClass>, EnvironmentError> {
    let mut out = base.clone();
    for (name, spec) in specs {
        super::names::dns1123_subdomain(&name).map_err(|problem| {
            chain.invalid(
                at.key(&name),
                format!("StorageClass name `{name}` is not a valid name: {problem}"),
                Some("use lowercase letters, digits, '-' and '.'".into()),
            )
        })?;
        let under = out.get(&name);
        out.insert(
            name,
            StorageClass {
                volume_binding_mode: spec
                    .volume_binding_mode
                    .or(under.map(|c| c.volume_binding_mode))
                    .unwrap_or(VolumeBindingMode::WaitForFirstConsumer),
                topology: spec
                    .topology
                    .or(under.map(|c| c.topology))
                    .unwrap_or(StorageTopology::Zonal),
            },
        );
    }
    Ok(out)
}

/// Every workload of `spec.workloads` at `at`, sorted by name. `taken` is the app's name, if
/// any: two workloads of one name would share their objects.
pub(super) fn workloads(
    chain: &Chain<'_>,
    at: &YamlPath,
    specs: BTreeMap<String, WorkloadSpec>,
    ha: &Ha,
    env_config: &BTreeMap<String, String>,
    taken: Option<&str>,
) -> Result<Vec<Workload>, EnvironmentError> {
    specs
        .into_iter()
        .map(|(name, spec)| {
            let here = at.key(&name);
            chain.check_service_name(here.clone(), &name, "workload name")?;
            if taken == Some(name.as_str()) {
                return Err(chain.invalid(
                    here,
                    format!("workload `{name}` has the name of `spec.app`: their objects would be the same objects"),
                    Some("rename the workload, or move `spec.app` into `spec.workloads`".into()),
                ));
            }
            workload(chain, &here, name, spec, ha, env_config)
        })
        .collect()
}

fn workload(
    chain: &Chain<'_>,
    here: &YamlPath,
    name: String,
    spec: WorkloadSpec,
    ha: &Ha,
    env_config: &BTreeMap<String, String>,
) -> Result<Workload, EnvironmentError> {
    let kind = spec.kind.unwrap_or(WorkloadKind::Deployment);
    if kind == WorkloadKind::StatefulSet {
        check_stateful_name(chain, here, &name)?;
    }
    let image = spec
        .image
        .ok_or_else(|| chain.required(here.key("image"), "the workload's container image"))?;
    chain.check_image(here.key("image"), &image)?;
    if spec.port == Some(0) {
        return Err(chain.invalid(
            here.key("port"),
            "port must be between 1 and 65535",
            Some("the port the container listens on, from 1 to 65535 (e.g. `port: 8080`)".into()),
        ));
    }
    let resources = Resources {
        cpu: Some("100m".into()),
        memory: Some("128Mi".into()),
        memory_limit: None,
    }
    .merge_over(spec.resources);
    chain.check_resources(here, &resources)?;
    let readiness_probe = probe(chain, here, spec.port, spec.readiness_probe)?;
    let mut config = env_config.clone();
    let own = spec.config.unwrap_or_default();
    chain.check_config_keys(&here.key("config"), &own)?;
    config.extend(own);
    let replicas = spec.replicas.unwrap_or(2);
    let w_ha = spec.ha.unwrap_or_default();
    if let Some(pdb) = &w_ha.disruption_budget {
        chain.check_disruption_budget(here.key("ha").key("disruptionBudget"), pdb)?;
    }
    let volumes = volumes(chain, here, kind, spec.volumes.unwrap_or_default())?;
    check_volume_mounts(chain, here, &volumes)?;
    if kind == WorkloadKind::Deployment && spec.pod_management_policy.is_some() {
        return Err(stateful_only(chain, here.key("podManagementPolicy")));
    }
    Ok(Workload {
        name,
        kind,
        image,
        replicas,
        port: spec.port,
        resources,
        readiness_probe,
        config,
        ha: WorkloadHa {
            spread: w_ha.spread.unwrap_or_else(|| ha.spread.clone()),
            anti_affinity: w_ha.anti_affinity.unwrap_or(ha.anti_affinity),
            disruption_budget: w_ha
                .disruption_budget
                .or_else(|| ha.disruption_budget.clone()),
            capacity: w_ha.capacity.unwrap_or(replicas),
        },
        volumes,
        pod_management_policy: spec.pod_management_policy,
    })
}

/// Longest StatefulSet name whose pods can be created: the controller labels each pod with
/// `controller-revision-hash: <name>-<10-character hash>`, a label value of at most 63
/// characters (kubernetes/kubernetes#64023); its headless Service, `<name>-headless`, needs
/// less.
const STATEFUL_NAME_MAX: usize = 52;

/// A StatefulSet name the controller can label its pods with.
fn check_stateful_name(
    chain: &Chain<'_>,
    here: &YamlPath,
    name: &str,
) -> Result<(), EnvironmentError> {
    if name.len() <= STATEFUL_NAME_MAX {
        return Ok(());
    }
    Err(chain.invalid(
        here.clone(),
        format!(
            "StatefulSet name `{name}` is {} characters; its pods are labelled `controller-revision-hash: {name}-<hash>`, which cannot exceed 63",
            name.len()
        ),
        Some(format!("use a name of at most {STATEFUL_NAME_MAX} characters")),
    ))
}

/// What the API server refuses of a StatefulSet's volumes: two mounted at one path
/// (`volumeMounts[].mountPath` must be unique) and a claim with no access mode
/// (`spec.accessModes: at least 1 access mode is required`).
fn check_volume_mounts(
    chain: &Chain<'_>,
    here: &YamlPath,
    volumes: &[Volume],
) -> Result<(), EnvironmentError> {
    for (i, v) in volumes.iter().enumerate() {
        let at = here.key("volumes").index(i);
        if v.access_modes.is_empty() {
            return Err(chain.invalid(
                at.key("accessModes"),
                "a volume needs at least one access mode",
                Some("write `[ReadWriteOnce]`, or leave `accessModes` out for that default".into()),
            ));
        }
        if let Some(first) = volumes[..i]
            .iter()
            .position(|o| o.mount_path == v.mount_path)
        {
            return Err(chain.invalid(
                at.key("mountPath"),
                format!(
                    "volume `{}` is mounted at `{}`, where volume `{}` (volumes[{first}]) already is",
                    v.name, v.mount_path, volumes[first].name
                ),
                Some("give each volume its own mount path".into()),
            ));
        }
    }
    Ok(())
}

fn stateful_only(chain: &Chain<'_>, at: YamlPath) -> EnvironmentError {
    chain.invalid(
        at,
        "only a StatefulSet has this: a Deployment's pods share no identity or volumes",
        Some("set `kind: StatefulSet`, or remove the field".into()),
    )
}

/// The readiness probe: an HTTP GET on the port by default; with no port, only a `command`.
fn probe(
    chain: &Chain<'_>,
    here: &YamlPath,
    port: Option<u16>,
    spec: Option<Probe>,
) -> Result<Option<Probe>, EnvironmentError> {
    let at = here.key("readinessProbe");
    let has_command = spec.as_ref().is_some_and(|p| p.command.is_some());
    if has_command && spec.as_ref().is_some_and(|p| p.path.is_some()) {
        return Err(chain.invalid(
            at,
            "set either `path` (an HTTP GET) or `command`, not both",
            None,
        ));
    }
    if port.is_none() && !has_command {
        if spec.as_ref().is_some_and(|p| p.path.is_some()) {
            return Err(chain.invalid(
                at.key("path"),
                "an HTTP probe needs the workload's `port`",
                Some("set `port`, or probe with `command: [...]`".into()),
            ));
        }
        return Ok(None);
    }
    let defaults = Probe {
        path: (!has_command).then(|| "/healthz".into()),
        command: None,
        initial_delay_seconds: Some(2),
        period_seconds: Some(5),
    };
    Ok(Some(defaults.merge_over(spec)))
}

fn volumes(
    chain: &Chain<'_>,
    here: &YamlPath,
    kind: WorkloadKind,
    specs: Vec<VolumeSpec>,
) -> Result<Vec<Volume>, EnvironmentError> {
    if kind == WorkloadKind::Deployment && !specs.is_empty() {
        return Err(stateful_only(chain, here.key("volumes")));
    }
    let mut out: Vec<Volume> = Vec::with_capacity(specs.len());
    for (i, v) in specs.into_iter().enumerate() {
        let at = here.key("volumes").index(i);
        let name = v
            .name
            .ok_or_else(|| chain.required(at.key("name"), "the volume name"))?;
        chain.check_name(at.key("name"), &name, "volume name")?;
        if out.iter().any(|o| o.name == name) {
            return Err(chain.invalid(
                at.key("name"),
                format!("volume `{name}` is listed twice"),
                Some("give each volume its own name".into()),
            ));
        }
        let size = v
            .size
            .ok_or_else(|| chain.required(at.key("size"), "the volume size, such as `20Gi`"))?;
        match parse_quantity(&size) {
            Ok(q) if !q.is_negative() && !q.is_zero() => {}
            Ok(_) => {
                return Err(chain.invalid(
                    at.key("size"),
                    format!("`{size}` is not a positive size"),
                    None,
                ));
            }
            Err(problem) => {
                return Err(chain.invalid(
                    at.key("size"),
                    format!("`{size}` is not a Kubernetes quantity: {problem}"),
                    Some(quantity_hint(&size)),
                ));
            }
        }
        let mount_path = v.mount_path.ok_or_else(|| {
            chain.required(at.key("mountPath"), "where the container mounts the volume")
        })?;
        if !mount_path.starts_with('/') {
            return Err(chain.invalid(
                at.key("mountPath"),
                format!("mount path `{mount_path}` is not absolute"),
                Some(format!("write `/{mount_path}`")),
            ));
        }
        out.push(Volume {
            name,
            size,
            storage_class: v.storage_class,
            access_modes: v
                .access_modes
                .unwrap_or_else(|| vec![AccessMode::ReadWriteOnce]),
            mount_path,
        });
    }
    Ok(out)
}

/// The workloads with a region's overrides (`regions[].workloads.<name>`), at `at`. An
/// override for a workload that does not exist is an error: it would silently do nothing.
pub(super) fn region_workloads(
    chain: &Chain<'_>,
    at: &YamlPath,
    overrides: BTreeMap<String, RegionWorkloadSpec>,
    workloads: &[Workload],
) -> Result<Vec<Workload>, EnvironmentError> {
    let names: Vec<String> = workloads.iter().map(|w| w.name.clone()).collect();
    for name in overrides.keys() {
        if !names.contains(name) {
            return Err(chain.invalid(
                at.key(name),
                format!("no workload `{name}` in `spec.workloads`"),
                crate::yaml::did_you_mean(name, &names)
                    .or_else(|| Some(format!("the workloads are: {}", names.join(", ")))),
            ));
        }
    }
    let mut out = workloads.to_vec();
    for w in &mut out {
        let Some(o) = overrides.get(&w.name) else {
            continue;
        };
        if let Some(n) = o.replicas {
            w.replicas = n;
        }
        if let Some(image) = &o.image {
            chain.check_image(at.key(&w.name).key("image"), image)?;
            w.image = image.clone();
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{EnvironmentError, WorkloadKind, load_spec};

    fn env(spec: &str) -> Result<super::super::Environment, EnvironmentError> {
        load_spec(spec)
    }

    const SHOP: &str = "  namespace: shop
  workloads:
    web: {image: 'r.io/web:1', port: 8080, replicas: 3}
    db:
      kind: StatefulSet
      image: 'r.io/pg:16'
      volumes: [{name: data, size: 1Gi, storageClass: ssd, mountPath: /data}]
      ha: {disruptionBudget: {maxUnavailable: 1}}
  storageClasses: {ssd: {volumeBindingMode: Immediate}}
  ha: {disruptionBudget: {minAvailable: 2}}
  regions:
    - {name: east, context: c-east, workloads: {db: {replicas: 5}}}
    - {name: west, context: c-west, storageClasses: {ssd: {topology: regional}}}
";

    #[test]
    fn workloads_resolve_with_defaults_inherited_ha_and_region_overrides() {
        let e = env(SHOP).unwrap();
        assert!(e.app.is_none());
        let names: Vec<&str> = e.workloads.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["db", "web"]);
        let db = &e.workloads[0];
        assert_eq!(
            (db.kind, db.replicas, db.port),
            (WorkloadKind::StatefulSet, 2, None)
        );
        assert!(db.readiness_probe.is_none());
        assert_eq!(db.volumes[0].size, "1Gi");
        let web = &e.workloads[1];
        assert_eq!(
            web.readiness_probe.as_ref().unwrap().path.as_deref(),
            Some("/healthz")
        );
        assert!(format!("{:?}", web.ha.disruption_budget).contains("min_available: Some(Int(2))"));
        assert_eq!(e.regions[0].workloads[0].replicas, 5);
        assert_eq!(e.regions[1].workloads[0].replicas, 2);
        let east = &e.regions[0].storage_classes["ssd"];
        let west = &e.regions[1].storage_classes["ssd"];
        assert_eq!(format!("{:?}", east.topology), "Zonal");
        assert_eq!(format!("{:?}", west.topology), "Regional");
        assert_eq!(format!("{:?}", west.volume_binding_mode), "Immediate");
    }

    fn error(spec: &str) -> String {
        env(spec).unwrap_err().to_string()
    }

    #[test]
    fn a_workload_name_that_is_no_service_name_is_refused_at_its_key() {
        let e = error(&SHOP.replace("    web:", "    1web:"));
        assert!(
            e.contains(":6:5: spec.workloads.1web: workload name `1web` is not a valid name"),
            "{e}"
        );
        assert!(e.contains("DNS-1035"), "{e}");
        let e = error(&SHOP.replace("    web:", "    Web:"));
        assert!(e.contains("spec.workloads.Web: workload name `Web`"), "{e}");
    }

    #[test]
    fn stateful_only_fields_on_a_deployment_are_refused() {
        let e = error(&SHOP.replace("kind: StatefulSet", "kind: Deployment"));
        assert!(
            e.contains(":10:7: spec.workloads.db.volumes: only a StatefulSet"),
            "{e}"
        );
    }

    #[test]
    fn bad_volumes_are_refused_with_their_field() {
        let e = error(&SHOP.replace("size: 1Gi", "size: 1GB"));
        assert!(
            e.contains("spec.workloads.db.volumes[0].size: `1GB` is not a Kubernetes quantity"),
            "{e}"
        );
        let e = error(&SHOP.replace("mountPath: /data", "mountPath: data"));
        assert!(e.contains("mount path `data` is not absolute"), "{e}");
        let e = error(&SHOP.replace(", mountPath: /data", ""));
        assert!(
            e.contains("spec.workloads.db.volumes[0].mountPath: this field is required"),
            "{e}"
        );
    }

    /// Issue 13 review: these were blamed on the built-in template (a volumeMounts key
    /// conflict; a headless Service name over 63 characters) or rendered (`accessModes: []`).
    #[test]
    fn volumes_and_stateful_names_the_api_server_refuses_are_refused_at_their_field() {
        let e = error(&SHOP.replace(
            "mountPath: /data}]",
            "mountPath: /data}, {name: logs, size: 1Gi, mountPath: /data}]",
        ));
        assert!(
            e.contains("spec.workloads.db.volumes[1].mountPath: volume `logs` is mounted at `/data`, where volume `data` (volumes[0]) already is"),
            "{e}"
        );
        let e = error(&SHOP.replace("mountPath: /data}", "mountPath: /data, accessModes: []}"));
        assert!(
            e.contains("volumes[0].accessModes: a volume needs at least one access mode"),
            "{e}"
        );
        let long = "d".repeat(53);
        let e = error(
            &SHOP
                .replace("    db:\n", &format!("    {long}:\n"))
                .replace("workloads: {db:", &format!("workloads: {{{long}:")),
        );
        assert!(
            e.contains(&format!("spec.workloads.{long}: StatefulSet name")),
            "{e}"
        );
        assert!(e.contains("at most 52 characters"), "{e}");
    }

    #[test]
    fn zones_are_label_values_listed_once() {
        let e = error(&SHOP.replace("context: c-west,", "context: c-west, zones: [w1, w1],"));
        assert!(
            e.contains("spec.regions[1].zones[1]: zone `w1` is listed twice"),
            "{e}"
        );
        let e = error(&SHOP.replace("context: c-west,", "context: c-west, zones: [w1, ''],"));
        assert!(e.contains("zones[1]: a zone name cannot be empty"), "{e}");
        let e = error(&SHOP.replace("context: c-west,", "context: c-west, zones: [a b],"));
        assert!(e.contains("zone `a b` is not a label value"), "{e}");
    }

    #[test]
    fn a_region_override_of_an_unknown_workload_is_refused_with_a_suggestion() {
        let e = error(&SHOP.replace("workloads: {db:", "workloads: {dbs:"));
        assert!(
            e.contains("spec.regions[0].workloads.dbs: no workload `dbs`"),
            "{e}"
        );
        assert!(e.contains("db"), "{e}");
    }

    #[test]
    fn without_an_app_the_namespace_is_required_and_app_overrides_are_refused() {
        let e = error(&SHOP.replace("  namespace: shop\n", ""));
        assert!(e.contains("spec.namespace: this field is required"), "{e}");
        let e = error(&SHOP.replace("context: c-west,", "context: c-west, replicas: 3,"));
        assert!(e.contains("`replicas` overrides `spec.app`"), "{e}");
    }

    #[test]
    fn an_http_probe_needs_a_port() {
        let e = error(&SHOP.replace(
            "ha: {disruptionBudget: {maxUnavailable: 1}}",
            "readinessProbe: {path: /ready}",
        ));
        assert!(
            e.contains("spec.workloads.db.readinessProbe.path: an HTTP probe needs"),
            "{e}"
        );
    }

    #[test]
    fn a_workload_named_like_the_app_is_refused() {
        let e = error(&format!("  app: {{name: web, image: 'r.io/a:1'}}\n{SHOP}"));
        assert!(
            e.contains("workload `web` has the name of `spec.app`"),
            "{e}"
        );
    }
}
