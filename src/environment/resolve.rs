//! The merged spec of an `extends` chain -> `Environment`: defaults filled in, region overrides
//! applied, and every required field, name and value checked, each error pointed at the file of
//! the chain that sets the field.

use std::collections::BTreeMap;

use serde_json::Value;

use super::cron::{Schedule, VeleroVersion};
use super::duration::{parse_duration, parse_percent};
use super::extends::{Loaded, owner};
use super::go_duration::{parse_go_duration, suggest_go_duration};
use super::merge::merge_values;
use super::names::{config_map_key, dns1035_label, dns1123_label};
use super::quantity::{parse_quantity, quantity_hint};
use super::schema::{
    AntiAffinity, AppSpec, DisruptionBudget, DrSpec, EnvironmentSpec, HaSpec, IntOrPercent, Probe,
    RegionSpec, Resources, SpreadKey, Survive,
};
use super::workload;
use super::{App, Backup, Dr, Environment, EnvironmentError, Ha, Region};
use crate::yaml::Path as YamlPath;

/// Resolves the merged spec of `chain` (the environment's file first) into the environment
/// `name`.
pub(super) fn resolve(
    name: &str,
    chain: &[Loaded],
    spec: EnvironmentSpec,
) -> Result<Environment, EnvironmentError> {
    let chain = Chain(chain);
    let spec_path = YamlPath::default().key("spec");
    chain
        .check_name(
            YamlPath::default().key("metadata").key("name"),
            name,
            "environment name",
        )
        .map_err(|mut e| {
            e.hint = Some(format!("rename the file: {}", e.hint.unwrap_or_default()));
            e
        })?;
    let workload_specs = spec.workloads.unwrap_or_default();
    let app = match spec.app {
        None if !workload_specs.is_empty() => None,
        app => Some(chain.app(&spec_path.key("app"), app.unwrap_or_default())?),
    };
    let namespace = match (spec.namespace, &app) {
        (Some(n), _) => n,
        (None, Some(app)) => app.name.clone(),
        (None, None) => {
            return Err(chain.required(
                spec_path.key("namespace"),
                "the namespace (without `spec.app` it has no default)",
            ));
        }
    };
    chain.check_name(spec_path.key("namespace"), &namespace, "namespace")?;
    let ha = chain.ha(
        &spec_path.key("ha"),
        spec.ha.unwrap_or_default(),
        app.as_ref(),
    )?;
    let dr_path = spec_path.key("dr");
    let dr = chain.dr(&dr_path, spec.dr.unwrap_or_default())?;
    let config = spec.config.unwrap_or_default();
    chain.check_config_keys(&spec_path.key("config"), &config)?;
    let workloads = workload::workloads(
        &chain,
        &spec_path.key("workloads"),
        workload_specs,
        &ha,
        &config,
        app.as_ref().map(|a| a.name.as_str()),
    )?;
    let storage_classes = workload::storage_classes(
        &chain,
        &spec_path.key("storageClasses"),
        spec.storage_classes.unwrap_or_default(),
        &BTreeMap::new(),
    )?;
    let values = spec.values.unwrap_or(Value::Object(Default::default()));
    let base = RegionBase {
        app: app.as_ref(),
        workloads: &workloads,
        storage_classes: &storage_classes,
        values: &values,
    };
    let regions = chain.regions(
        &spec_path.key("regions"),
        spec.regions.unwrap_or_default(),
        &base,
        dr.backup
            .as_ref()
            .map_or(VeleroVersion::DEFAULT, |b| b.velero),
    )?;
    if let Some(backup) = &dr.backup {
        chain.check_schedule(&dr_path.key("backup"), backup, &regions)?;
    }
    let top = chain.top();
    Ok(Environment {
        name: name.to_string(),
        file: top.file.clone(),
        sources: chain
            .0
            .iter()
            .map(|l| (l.file.clone(), crate::digest::sha256_hex(l.text.as_bytes())))
            .collect(),
        namespace,
        app,
        workloads,
        storage_classes,
        ha,
        dr,
        config,
        values,
        regions,
        policy: spec.policy.unwrap_or_default(),
    })
}

/// What every region starts from before its overrides.
struct RegionBase<'a> {
    app: Option<&'a App>,
    workloads: &'a [super::Workload],
    storage_classes: &'a BTreeMap<String, super::StorageClass>,
    values: &'a Value,
}

/// The files of one environment's `extends` chain, the environment's own first: what errors
/// point at.
pub(super) struct Chain<'a>(pub(super) &'a [Loaded]);

impl Chain<'_> {
    fn top(&self) -> &Loaded {
        &self.0[0]
    }

    /// A required field no file of the chain sets: pointed at where it would go in the
    /// environment's own file.
    pub(super) fn required(&self, path: YamlPath, what: &str) -> EnvironmentError {
        let top = self.top();
        // Written but empty (`image:`, `regions: []`): point at it and say so.
        if let Some(owner) = self
            .0
            .iter()
            .find(|l| crate::yaml::has_node(&l.text, &path))
        {
            return owner.error(path, "this field is empty", Some(format!("set {what}")));
        }
        let mut e = top.error(
            path.parent(),
            "this field is required".to_string(),
            Some(format!(
                "set {what} in {} or in a file it extends",
                top.file.display()
            )),
        );
        e.path = Some(path);
        e
    }

    /// A field whose value is wrong, pointed at the file of the chain that sets it.
    pub(super) fn invalid(
        &self,
        path: YamlPath,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> EnvironmentError {
        owner(self.0, &path).error(path, message, hint)
    }

    pub(super) fn check_name(
        &self,
        path: YamlPath,
        value: &str,
        what: &str,
    ) -> Result<(), EnvironmentError> {
        dns1123_label(value).map_err(|problem| {
            self.invalid(
                path,
                format!("{what} `{value}` is not a valid name: {problem}"),
                Some("use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters".into()),
            )
        })
    }

    /// The app name names the built-in Service, and the API server requires a Service name to
    /// be a DNS-1035 label (`ValidateServiceName`): a DNS-1123 label that starts with a letter.
    pub(super) fn check_service_name(
        &self,
        path: YamlPath,
        name: &str,
        what: &str,
    ) -> Result<(), EnvironmentError> {
        dns1035_label(name).map_err(|problem| {
            let fix = match name.trim_start_matches(|c: char| c.is_ascii_digit() || c == '-') {
                rest if !rest.is_empty() && rest != name && dns1035_label(rest).is_ok() => {
                    let digits = &name[..name.len() - rest.len()];
                    format!(
                        "rename it so it starts with a letter, such as `{rest}-{}`",
                        digits.trim_end_matches('-')
                    )
                }
                _ => "use lowercase letters, digits and '-', starting with a letter and ending with a letter or digit, at most 63 characters".into(),
            };
            self.invalid(
                path,
                format!(
                    "{what} `{name}` is not a valid name: it names the Service `{name}`, and a Service name must be a DNS-1035 label: {problem}"
                ),
                Some(fix),
            )
        })
    }

    /// CPU and memory are Kubernetes quantities, and the API server refuses a pod whose memory
    /// limit is below its request (`ValidateResourceRequirements`).
    pub(super) fn check_resources(
        &self,
        app_path: &YamlPath,
        r: &Resources,
    ) -> Result<(), EnvironmentError> {
        let at = app_path.key("resources");
        let mut parsed = Vec::new();
        for (field, value) in [
            ("cpu", &r.cpu),
            ("memory", &r.memory),
            ("memoryLimit", &r.memory_limit),
        ] {
            let Some(text) = value else {
                parsed.push(None);
                continue;
            };
            let q = parse_quantity(text).map_err(|problem| {
                self.invalid(
                    at.key(field),
                    format!("`{text}` is not a Kubernetes quantity: {problem}"),
                    Some(quantity_hint(text)),
                )
            })?;
            if q.is_negative() {
                // `ValidateResourceQuantityValue`: requests and limits must be >= 0.
                let example = if field == "cpu" { "250m" } else { "256Mi" };
                return Err(self.invalid(
                    at.key(field),
                    format!("`{text}` is negative, and the API server refuses a negative {field}"),
                    Some(format!(
                        "write a quantity of zero or more, such as `{example}`, or remove `{field}` to leave it unset"
                    )),
                ));
            }
            parsed.push(Some(q));
        }
        if let (Some(Some(request)), Some(Some(limit))) = (parsed.get(1), parsed.get(2))
            && limit < request
        {
            let (memory, limit_text) = (
                r.memory.as_deref().unwrap_or_default(),
                r.memory_limit.as_deref().unwrap_or_default(),
            );
            return Err(self.invalid(
                at.key("memoryLimit"),
                format!("the memory limit `{limit_text}` is below the memory request `{memory}`; the API server refuses such a pod"),
                Some(format!("raise `memoryLimit` to at least `{memory}`, or lower `memory`")),
            ));
        }
        Ok(())
    }

    pub(super) fn check_config_keys(
        &self,
        at: &YamlPath,
        config: &BTreeMap<String, String>,
    ) -> Result<(), EnvironmentError> {
        for key in config.keys() {
            config_map_key(key).map_err(|problem| {
                self.invalid(
                    at.key(key),
                    format!("config key `{key}` is not a valid ConfigMap key: {problem}"),
                    Some(
                        "use at most 253 letters, digits, '-', '_' and '.', not starting with `..`"
                            .into(),
                    ),
                )
            })?;
        }
        Ok(())
    }

    /// The kubelet refuses to pull an invalid reference (`InvalidImageName`), long after the
    /// API server stored it: see `names::image_reference`.
    pub(super) fn check_image(&self, path: YamlPath, image: &str) -> Result<(), EnvironmentError> {
        super::names::image_reference(image).map_err(|problem| {
            self.invalid(
                path,
                format!("image `{image}` is not a valid image reference: {problem}"),
                Some("write it as `registry.example.com/team/app:1.4.2`, or pin a digest: `registry.example.com/team/app@sha256:<64 hex digits>`".into()),
            )
        })
    }

    fn check_duration(&self, path: YamlPath, value: Option<&str>) -> Result<(), EnvironmentError> {
        match value {
            Some(s) if parse_duration(s).is_none() => Err(self.invalid(
                path,
                format!("`{s}` is not a duration"),
                Some("write whole days, hours, minutes and seconds such as `30d`, `24h`, `30m` or `1h30m`".into()),
            )),
            _ => Ok(()),
        }
    }

    /// The application, with its defaults.
    fn app(&self, app_path: &YamlPath, app_spec: AppSpec) -> Result<App, EnvironmentError> {
        let name = app_spec
            .name
            .ok_or_else(|| self.required(app_path.key("name"), "the application name"))?;
        self.check_service_name(app_path.key("name"), &name, "app name")?;
        let image = app_spec
            .image
            .ok_or_else(|| self.required(app_path.key("image"), "the container image"))?;
        self.check_image(app_path.key("image"), &image)?;
        if app_spec
            .readiness_probe
            .as_ref()
            .is_some_and(|p| p.command.is_some())
        {
            return Err(self.invalid(
                app_path.key("readinessProbe").key("command"),
                "`spec.app` probes its port over HTTP; a command probe is for `spec.workloads`",
                Some("remove `command`, or move the app into `spec.workloads`".into()),
            ));
        }
        let app = App {
            name,
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
                command: None,
                initial_delay_seconds: Some(2),
                period_seconds: Some(5),
            }
            .merge_over(app_spec.readiness_probe),
        };
        self.check_resources(app_path, &app.resources)?;
        if app.port == 0 {
            return Err(self.invalid(
                app_path.key("port"),
                "port must be between 1 and 65535",
                Some(
                    "the port the container listens on, from 1 to 65535 (e.g. `port: 8080`)".into(),
                ),
            ));
        }
        Ok(app)
    }

    /// The high-availability policy, with its defaults (the capacity is the app's replicas).
    fn ha(
        &self,
        ha_path: &YamlPath,
        ha_spec: HaSpec,
        app: Option<&App>,
    ) -> Result<Ha, EnvironmentError> {
        let ha = Ha {
            spread: ha_spec
                .spread
                .unwrap_or_else(|| vec![SpreadKey::Zone, SpreadKey::Hostname]),
            anti_affinity: ha_spec.anti_affinity.unwrap_or(AntiAffinity::Preferred),
            disruption_budget: ha_spec.disruption_budget,
            survive: ha_spec.survive.unwrap_or(Survive::None),
            capacity: ha_spec
                .capacity
                .unwrap_or_else(|| app.map_or(0, |a| a.replicas)),
        };
        if let Some(pdb) = &ha.disruption_budget {
            self.check_disruption_budget(ha_path.key("disruptionBudget"), pdb)?;
        }
        Ok(ha)
    }

    pub(super) fn check_disruption_budget(
        &self,
        p: YamlPath,
        pdb: &DisruptionBudget,
    ) -> Result<(), EnvironmentError> {
        match (&pdb.min_available, &pdb.max_unavailable) {
            (Some(_), Some(_)) | (None, None) => Err(self.invalid(
                p,
                "set exactly one of `minAvailable` and `maxUnavailable`",
                Some("keep `minAvailable` (the pods that must stay up) or `maxUnavailable` (the pods that may be down at once), not both (`PodDisruptionBudgetSpec`)".into()),
            )),
            (Some(IntOrPercent::Percent(s)), None) if parse_percent(s).is_none() => {
                Err(self.bad_percent(p.key("minAvailable"), s))
            }
            (None, Some(IntOrPercent::Percent(s))) if parse_percent(s).is_none() => {
                Err(self.bad_percent(p.key("maxUnavailable"), s))
            }
            _ => Ok(()),
        }
    }

    /// A PodDisruptionBudget's percentage the API server refuses: it must be a whole number
    /// of percent, at most 100 (`ValidatePodDisruptionBudgetSpec`, `IsNotMoreThan100Percent`).
    fn bad_percent(&self, path: YamlPath, s: &str) -> EnvironmentError {
        let over = s
            .strip_suffix('%')
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|n| *n > 100);
        let message = match over {
            Some(_) => format!("`{s}` is more than 100%, and the API server refuses it"),
            None => format!("`{s}` is neither a whole number nor a percentage such as `50%`"),
        };
        self.invalid(
            path,
            message,
            Some(
                "write a whole number of pods such as `2`, or a percentage from `0%` to `100%`"
                    .into(),
            ),
        )
    }

    /// The disaster-recovery policy, with the backup's defaults.
    fn dr(&self, dr_path: &YamlPath, dr: DrSpec) -> Result<Dr, EnvironmentError> {
        self.check_duration(dr_path.key("rpo"), dr.rpo.as_deref())?;
        self.check_duration(dr_path.key("rto"), dr.rto.as_deref())?;
        self.check_duration(dr_path.key("drillEvery"), dr.drill_every.as_deref())?;
        let backup = match dr.backup {
            None => None,
            Some(b) => Some(self.backup(&dr_path.key("backup"), b)?),
        };
        Ok(Dr {
            rpo: dr.rpo,
            rto: dr.rto,
            backup,
            storage_locations: dr
                .storage_locations
                .unwrap_or_default()
                .into_iter()
                .map(|(name, l)| (name, l.region))
                .collect(),
            restore_target: dr.restore_target.filter(|t| !t.trim().is_empty()),
            drill_every: dr.drill_every.as_deref().and_then(parse_duration),
        })
    }

    fn backup(
        &self,
        bp: &YamlPath,
        b: super::schema::BackupSpec,
    ) -> Result<Backup, EnvironmentError> {
        let schedule = b.schedule.ok_or_else(|| {
            let mut e = owner(self.0, bp).error(
                bp.clone(),
                "`schedule` is required for a backup",
                Some("add a cron schedule such as `schedule: \"0 */6 * * *\"`".into()),
            );
            e.path = Some(bp.key("schedule"));
            e
        })?;
        let ttl = b.ttl.unwrap_or_else(|| "720h".into());
        self.check_ttl(bp.key("ttl"), &ttl)?;
        let velero = self.velero(bp.key("velero"), b.velero.as_deref())?;
        Ok(Backup {
            schedule,
            ttl,
            velero,
            storage_location: b.storage_location.unwrap_or_else(|| "default".into()),
        })
    }

    /// A Velero version (`1.18.3` or `v1.18.3`) at `path`; absent: the default.
    fn velero(&self, path: YamlPath, v: Option<&str>) -> Result<VeleroVersion, EnvironmentError> {
        let Some(v) = v else {
            return Ok(VeleroVersion::DEFAULT);
        };
        VeleroVersion::parse(v).ok_or_else(|| {
            let known: Vec<&str> = VeleroVersion::ALL.iter().map(|v| v.as_str()).collect();
            self.invalid(
                path,
                format!("Velero `{v}` is not a version whose schedule parser kubectl-hadr knows"),
                Some(format!(
                    "write the version the cluster runs, one of {} (the cron library changed in 1.18.3)",
                    known.join(", ")
                )),
            )
        })
    }

    /// `ttl` is rendered into the Velero Schedule, whose `metav1.Duration` Velero reads with
    /// Go's `time.ParseDuration`: one it cannot read stops Velero from listing every Schedule
    /// of its namespace. A negative one expires each backup at once; `0` means the server's
    /// default (`--default-backup-ttl`).
    fn check_ttl(&self, path: YamlPath, ttl: &str) -> Result<(), EnvironmentError> {
        let fix = match suggest_go_duration(ttl) {
            Some(s) => {
                format!("write `{s}`: Velero reads a Go duration, whose largest unit is `h`")
            }
            None => {
                "write a Go duration such as `720h`, `1h30m` or `1.5h` (units: ns, us, ms, s, m, h)"
                    .to_string()
            }
        };
        match parse_go_duration(ttl) {
            Err(e) => Err(self.invalid(
                path,
                format!("ttl {e}: Velero reads it with Go's time.ParseDuration"),
                Some(fix),
            )),
            Ok(ns) if ns < 0 => Err(self.invalid(
                path,
                format!("ttl `{ttl}` is negative: Velero would delete every backup as soon as it is taken"),
                Some("write a positive duration such as `720h`".into()),
            )),
            Ok(_) => Ok(()),
        }
    }

    /// The schedule as every Velero version the regions run reads it: accepted, and firing.
    fn check_schedule(
        &self,
        bp: &YamlPath,
        backup: &Backup,
        regions: &[Region],
    ) -> Result<(), EnvironmentError> {
        let schedule = &backup.schedule;
        for version in VeleroVersion::ALL {
            let Some(region) = regions.iter().find(|r| r.velero == version) else {
                continue;
            };
            let problem = match Schedule::parse(schedule, version.dialect()) {
                Err(e) => e.to_string(),
                // Never firing within five years: Velero's Next gives the zero time.
                Ok(s) if s.next(super::cron::REFERENCE_TIME).is_none() => {
                    "it never fires".to_string()
                }
                Ok(_) => continue,
            };
            return Err(self.invalid(
                bp.key("schedule"),
                format!(
                    "`{schedule}` is not a schedule Velero {version} accepts (region `{}` runs it): {problem}",
                    region.name
                ),
                Some(version.schedule_hint()),
            ));
        }
        Ok(())
    }

    /// The regions, in order, each with its overrides over the environment's `app` and
    /// `values`.
    fn regions(
        &self,
        regions_path: &YamlPath,
        specs: Vec<RegionSpec>,
        base: &RegionBase<'_>,
        velero: VeleroVersion,
    ) -> Result<Vec<Region>, EnvironmentError> {
        if specs.is_empty() {
            return Err(self.required(regions_path.clone(), "at least one region"));
        }
        let mut regions = Vec::with_capacity(specs.len());
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, r) in specs.into_iter().enumerate() {
            let here = regions_path.index(i);
            let name = r
                .name
                .clone()
                .ok_or_else(|| self.required(here.key("name"), "the region name"))?;
            self.check_name(here.key("name"), &name, "region name")?;
            if let Some(first) = seen.insert(name.clone(), i) {
                return Err(self.invalid(
                    here.key("name"),
                    format!("region `{name}` is listed twice (first as regions[{first}])"),
                    Some("remove one entry or give it another name".into()),
                ));
            }
            let mut region = self.region(&here, name, r.clone(), base)?;
            region.velero = match r.velero.as_deref() {
                Some(v) => self.velero(here.key("velero"), Some(v))?,
                None => velero,
            };
            regions.push(region);
        }
        Ok(regions)
    }

    /// A region's zones: at least one, each a label value (`topology.kubernetes.io/zone`
    /// labels the nodes), each once (a zone listed twice would be lost twice in a what-if).
    fn zones(&self, at: &YamlPath, zones: Vec<String>) -> Result<Vec<String>, EnvironmentError> {
        if zones.is_empty() {
            return Err(self.invalid(
                at.clone(),
                "a region needs at least one zone",
                Some("list the zones of the region's nodes, as their `topology.kubernetes.io/zone` label names them, such as `[eastus2-1, eastus2-2, eastus2-3]`".into()),
            ));
        }
        for (i, zone) in zones.iter().enumerate() {
            let problem = match super::names::label_value(zone) {
                _ if zone.is_empty() => Some("a zone name cannot be empty".to_string()),
                Err(problem) => Some(format!("zone `{zone}` is not a label value: {problem}")),
                Ok(()) if zones[..i].contains(zone) => {
                    Some(format!("zone `{zone}` is listed twice"))
                }
                Ok(()) => None,
            };
            if let Some(problem) = problem {
                let fix = if problem.contains("label value") {
                    "write it as the nodes' `topology.kubernetes.io/zone` label does: letters, digits, '-', '_' and '.', at most 63, starting and ending with a letter or digit"
                } else {
                    "list each zone once, as the nodes' `topology.kubernetes.io/zone` label names it"
                };
                return Err(self.invalid(at.index(i), problem, Some(fix.into())));
            }
        }
        Ok(zones)
    }

    /// One region named `name` (checked), its spec at `here`.
    fn region(
        &self,
        here: &YamlPath,
        name: String,
        r: RegionSpec,
        base: &RegionBase<'_>,
    ) -> Result<Region, EnvironmentError> {
        let context = (r.context.filter(|c| !c.trim().is_empty())).ok_or_else(|| {
            self.required(here.key("context"), "the kubeconfig context of the region")
        })?;
        let config = r.config.unwrap_or_default();
        self.check_config_keys(&here.key("config"), &config)?;
        let mut region_app = base.app.cloned();
        if let Some(app) = &mut region_app {
            if let Some(n) = r.replicas {
                app.replicas = n;
            }
            if let Some(img) = r.image {
                self.check_image(here.key("image"), &img)?;
                app.image = img;
            }
        } else if r.replicas.is_some() || r.image.is_some() {
            let field = if r.replicas.is_some() {
                "replicas"
            } else {
                "image"
            };
            return Err(self.invalid(
                here.key(field),
                format!("`{field}` overrides `spec.app`, which this environment does not have"),
                Some(format!(
                    "override a workload: `workloads: {{NAME: {{{field}: ...}}}}`"
                )),
            ));
        }
        let workloads = workload::region_workloads(
            self,
            &here.key("workloads"),
            r.workloads.unwrap_or_default(),
            base.workloads,
        )?;
        let storage_classes = workload::storage_classes(
            self,
            &here.key("storageClasses"),
            r.storage_classes.unwrap_or_default(),
            base.storage_classes,
        )?;
        let zones = match r.zones {
            Some(z) => self.zones(&here.key("zones"), z)?,
            None => (1..=3).map(|n| format!("{name}-{n}")).collect(),
        };
        Ok(Region {
            zones,
            velero: VeleroVersion::DEFAULT,
            name,
            context,
            app: region_app,
            workloads,
            storage_classes,
            config,
            values: match r.values {
                Some(v) => merge_values(base.values.clone(), v),
                None => base.values.clone(),
            },
        })
    }
}
