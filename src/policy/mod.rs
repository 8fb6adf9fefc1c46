//! HA/DR policy: the rules `kubectl hadr validate` checks over an environment and its rendered
//! objects, their severities and waivers, and the what-if analysis of losing a zone or region.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::environment::cron::{Schedule, format_minutes};
use crate::environment::{Environment, Severity, Survive, parse_duration, parse_percent};
use crate::render::hash::kustomize_suffix;
use crate::render::{RenderedObject, RenderedSet};
use crate::yaml::Path as YamlPath;

/// A rule: an ID, a default severity, what it protects against and how to fix a violation.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    pub fix: &'static str,
}

macro_rules! rules {
    ($($id:literal $name:literal $sev:ident $summary:literal $fix:literal;)*) => {
        pub const RULES: &[Rule] = &[$(Rule { id: $id, name: $name, severity: Severity::$sev, summary: $summary, fix: $fix }),*];
    };
}

rules! {
    "HA001" "min-replicas" Error "Fewer than two replicas in a region: one node drain or crash takes the app down there." "set `spec.app.replicas` (or the region's `replicas`) to at least 2";
    "HA002" "pdb-selects-workload" Error "No PodDisruptionBudget selects the workload's pods: drains can evict all of them at once." "set `spec.ha.disruptionBudget` so the PodDisruptionBudget selects the pods";
    "HA003" "pdb-allows-disruption" Error "The PodDisruptionBudget allows no disruption: node drains and upgrades block forever." "keep minAvailable below replicas (or maxUnavailable at least 1)";
    "HA004" "zone-spread" Warning "Pods are not spread over zones: one zone outage can take every replica." "add `zone` to `spec.ha.spread`";
    "HA005" "hostname-spread" Warning "Pods are neither spread nor anti-affine over hostnames: one node can hold every replica." "add `hostname` to `spec.ha.spread` or set `spec.ha.antiAffinity`";
    "HA006" "readiness-probe" Warning "A container has no readiness probe: traffic reaches pods before they can serve." "set `spec.app.readinessProbe`";
    "HA007" "resource-requests" Warning "A container has no CPU or memory request: the scheduler cannot place it safely." "set `spec.app.resources.cpu` and `.memory`";
    "HA008" "image-pinned" Error "An image is not pinned (no tag, or `latest`): regions and rollbacks can run different code." "pin a version tag, better a digest (`image@sha256:...`)";
    "HA009" "image-digest" Info "An image is pinned by tag, not digest: a tag can be moved." "use `image:tag@sha256:...`";
    "HA010" "config-immutable" Error "A ConfigMap is mutable or its name carries no content hash: a config change does not roll the pods and cannot be rolled back." "leave content hashing on (remove `hadr.dev/hash-suffix: \"false\"`)";
    "MR001" "regions-for-region-survival" Error "The environment must survive a region loss but runs in fewer than two regions." "add a region, or lower `spec.ha.survive`";
    "MR002" "distinct-contexts" Error "Two regions use the same kubeconfig context: they are one cluster, one failure domain." "give each region the context of its own cluster";
    "MR003" "region-loss-capacity" Error "Losing one region leaves the others fewer replicas than the declared capacity." "raise replicas in the other regions or lower `spec.ha.capacity`";
    "MR004" "zone-loss-budget" Error "Losing one zone of a region can leave fewer pods than the PodDisruptionBudget's minimum." "spread over zones and add replicas, or lower minAvailable";
    "DR001" "backup-for-rpo" Error "An RPO is declared but no backup schedule exists." "set `spec.dr.backup.schedule`";
    "DR002" "backup-gap-within-rpo" Error "The longest gap between two backups exceeds the RPO." "run backups more often (the schedule's longest gap is computed over the calendar)";
    "DR003" "ttl-covers-rpo" Error "Backups expire before the RPO window ends: a restore point may not exist." "set `spec.dr.backup.ttl` to at least the RPO";
    "DR004" "backup-covers-namespace" Error "No backup Schedule includes the environment's namespace." "include the namespace in the Velero Schedule's `includedNamespaces`";
    "DR005" "storage-location" Error "A backup Schedule has no storage location." "set `spec.dr.backup.storageLocation`";
}

pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// One violation of a rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub environment: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The object concerned, as `Kind namespace/name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    pub message: String,
    pub fix: &'static str,
    /// The file and line to point at.
    pub file: String,
    pub line: usize,
    /// Set when the environment waived the rule, with its reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waived: Option<String>,
}

/// A workload as the policy sees it.
#[derive(Debug, Clone)]
struct Workload<'a> {
    object: &'a RenderedObject,
    replicas: u32,
    labels: BTreeMap<String, String>,
    spread: Vec<(String, String)>,
    hostname_anti_affinity: bool,
    containers: Vec<&'a Value>,
}

const ZONE_KEY: &str = "topology.kubernetes.io/zone";
const HOST_KEY: &str = "kubernetes.io/hostname";

fn workloads(set: &RenderedSet) -> Vec<Workload<'_>> {
    set.objects
        .iter()
        .filter(|o| {
            matches!(
                o.id.kind.as_str(),
                "Deployment" | "StatefulSet" | "ReplicaSet"
            )
        })
        .map(|o| {
            let spec = &o.object["spec"];
            let pod = &spec["template"]["spec"];
            let labels = string_map(&spec["template"]["metadata"]["labels"]);
            let spread = pod["topologySpreadConstraints"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|c| {
                            (
                                c["topologyKey"].as_str().unwrap_or_default().to_string(),
                                c["whenUnsatisfiable"]
                                    .as_str()
                                    .unwrap_or("DoNotSchedule")
                                    .to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let anti = &pod["affinity"]["podAntiAffinity"];
            let on_host = |terms: &Value, nested: bool| {
                terms.as_array().is_some_and(|a| {
                    a.iter().any(|t| {
                        let t = if nested { &t["podAffinityTerm"] } else { t };
                        t["topologyKey"] == HOST_KEY
                    })
                })
            };
            let hostname_anti_affinity = on_host(
                &anti["requiredDuringSchedulingIgnoredDuringExecution"],
                false,
            ) || on_host(
                &anti["preferredDuringSchedulingIgnoredDuringExecution"],
                true,
            );
            let containers = pod["containers"]
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            Workload {
                object: o,
                replicas: spec["replicas"].as_u64().unwrap_or(1) as u32,
                labels,
                spread,
                hostname_anti_affinity,
                containers,
            }
        })
        .collect()
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The minimum of available pods a PDB demands for a workload of `replicas`.
fn pdb_minimum(pdb: &Value, replicas: u32) -> u32 {
    let spec = &pdb["spec"];
    let resolve = |v: &Value| -> Option<u32> {
        match v {
            Value::Number(n) => n.as_u64().map(|n| n as u32),
            Value::String(s) => parse_percent(s).map(|p| (replicas * p).div_ceil(100)),
            _ => None,
        }
    };
    if let Some(min) = resolve(&spec["minAvailable"]) {
        return min;
    }
    if let Some(max) = resolve(&spec["maxUnavailable"]) {
        return replicas.saturating_sub(max);
    }
    // A PDB with neither field behaves as minAvailable: 1 would not; it allows everything.
    0
}

fn pdb_for<'a>(set: &'a RenderedSet, w: &Workload<'_>) -> Option<&'a Value> {
    set.objects
        .iter()
        .filter(|o| o.id.kind == "PodDisruptionBudget" && o.id.namespace == w.object.id.namespace)
        .map(|o| &o.object)
        .find(|pdb| {
            let sel = string_map(&pdb["spec"]["selector"]["matchLabels"]);
            !sel.is_empty() && sel.iter().all(|(k, v)| w.labels.get(k) == Some(v))
        })
}

/// What losing one zone leaves of a workload: at least `min`, at most `max` replicas.
fn zone_loss(w: &Workload<'_>, zones: usize) -> (u32, u32) {
    let hard_zone_spread = w
        .spread
        .iter()
        .any(|(k, when)| k == ZONE_KEY && when == "DoNotSchedule");
    let zones = zones.max(1) as u32;
    if zones == 1 {
        return (0, 0);
    }
    if hard_zone_spread {
        // maxSkew 1: every zone holds floor or ceil of replicas / zones.
        (
            w.replicas - w.replicas.div_ceil(zones),
            w.replicas - w.replicas / zones,
        )
    } else {
        (0, w.replicas)
    }
}

struct Ctx<'a> {
    env: &'a Environment,
    text: String,
    findings: Vec<Finding>,
}

impl Ctx<'_> {
    fn report(
        &mut self,
        id: &str,
        region: Option<&str>,
        object: Option<&RenderedObject>,
        path: YamlPath,
        message: String,
    ) {
        let rule = rule(id).expect("rule IDs in checks are defined");
        let line = crate::yaml::locate(&self.text, &path)
            .map(|p| p.line)
            .unwrap_or(1);
        self.findings.push(Finding {
            rule: rule.id,
            name: rule.name,
            severity: rule.severity,
            environment: self.env.name.clone(),
            region: region.map(str::to_string),
            object: object.map(|o| o.id.to_string()),
            message,
            fix: rule.fix,
            file: self.env.file.display().to_string(),
            line,
            waived: None,
        });
    }
}

fn spec() -> YamlPath {
    YamlPath::default().key("spec")
}

fn region_path(env: &Environment, region: &str) -> YamlPath {
    let i = env
        .regions
        .iter()
        .position(|r| r.name == region)
        .unwrap_or(0);
    spec().key("regions").index(i)
}

/// Checks one environment and its rendered sets; findings come sorted, with severities and
/// waivers of the environment applied (waived findings are kept, marked).
pub fn validate(env: &Environment, sets: &[&RenderedSet]) -> Vec<Finding> {
    let mut cx = Ctx {
        env,
        text: std::fs::read_to_string(&env.file).unwrap_or_default(),
        findings: Vec::new(),
    };
    check_regions(&mut cx);
    check_dr(&mut cx, sets);
    for set in sets {
        check_set(&mut cx, set);
    }
    let severities = env.policy.severities.clone().unwrap_or_default();
    let waivers = env.policy.waivers.clone().unwrap_or_default();
    let mut findings: Vec<Finding> = cx
        .findings
        .into_iter()
        .filter_map(|mut f| {
            if let Some(s) = severities.get(f.rule) {
                f.severity = *s;
            }
            if f.severity == Severity::Off {
                return None;
            }
            f.waived = waivers
                .iter()
                .find(|w| w.rule == f.rule)
                .map(|w| w.reason.clone());
            Some(f)
        })
        .collect();
    findings.sort_by(|a, b| {
        (&a.environment, &a.region, a.rule, &a.object, &a.message).cmp(&(
            &b.environment,
            &b.region,
            b.rule,
            &b.object,
            &b.message,
        ))
    });
    findings.dedup();
    findings
}

/// Rule IDs named in the environment's policy that do not exist, with a suggestion.
pub fn unknown_rule_ids(env: &Environment) -> Vec<(String, Option<String>)> {
    let named = env
        .policy
        .severities
        .iter()
        .flat_map(|m| m.keys().cloned())
        .chain(env.policy.waivers.iter().flatten().map(|w| w.rule.clone()));
    let ids: Vec<String> = RULES.iter().map(|r| r.id.to_string()).collect();
    named
        .filter(|n| rule(n).is_none())
        .map(|n| {
            let hint = crate::yaml::did_you_mean(&n, &ids);
            (n, hint)
        })
        .collect()
}

fn check_regions(cx: &mut Ctx<'_>) {
    let env = cx.env;
    let survive = env.ha.survive;
    if survive == Survive::Region && env.regions.len() < 2 {
        cx.report(
            "MR001",
            None,
            None,
            spec().key("ha").key("survive"),
            format!("`survive: region` with {} region", env.regions.len()),
        );
    }
    let mut contexts: BTreeMap<&str, &str> = BTreeMap::new();
    for r in &env.regions {
        if let Some(first) = contexts.insert(&r.context, &r.name) {
            cx.report(
                "MR002",
                Some(&r.name),
                None,
                region_path(env, &r.name).key("context"),
                format!(
                    "regions `{first}` and `{}` both use context `{}`",
                    r.name, r.context
                ),
            );
        }
    }
    if survive == Survive::Region && env.regions.len() >= 2 {
        for lost in &env.regions {
            let left: u32 = env
                .regions
                .iter()
                .filter(|r| r.name != lost.name)
                .map(|r| r.app.replicas)
                .sum();
            if left < env.ha.capacity {
                cx.report(
                    "MR003",
                    Some(&lost.name),
                    None,
                    region_path(env, &lost.name),
                    format!(
                        "losing region `{}` leaves {left} replicas, below the capacity of {}",
                        lost.name, env.ha.capacity
                    ),
                );
            }
        }
    }
}

fn check_dr(cx: &mut Ctx<'_>, sets: &[&RenderedSet]) {
    let env = cx.env;
    let dr = spec().key("dr");
    let rpo = env.dr.rpo.as_deref().and_then(parse_duration);
    let Some(backup) = &env.dr.backup else {
        if rpo.is_some() {
            cx.report(
                "DR001",
                None,
                None,
                dr.key("rpo"),
                format!(
                    "RPO {} but no `backup`",
                    env.dr.rpo.as_deref().unwrap_or_default()
                ),
            );
        }
        return;
    };
    if let (Some(rpo), Ok(schedule)) = (rpo, Schedule::parse(&backup.schedule))
        && let Some(gap) = schedule.longest_gap_minutes()
        && gap * 60 > rpo
    {
        cx.report(
            "DR002",
            None,
            None,
            dr.key("backup").key("schedule"),
            format!(
                "`{}` leaves up to {} between backups, beyond the RPO of {}",
                backup.schedule,
                format_minutes(gap),
                format_minutes(rpo / 60)
            ),
        );
    }
    if let (Some(rpo), Some(ttl)) = (rpo, parse_duration(&backup.ttl))
        && ttl < rpo
    {
        cx.report(
            "DR003",
            None,
            None,
            dr.key("backup").key("ttl"),
            format!(
                "ttl {} is shorter than the RPO of {}",
                backup.ttl,
                format_minutes(rpo / 60)
            ),
        );
    }
    for set in sets {
        let schedules: Vec<&RenderedObject> = set
            .objects
            .iter()
            .filter(|o| o.id.kind == "Schedule" && o.id.group() == "velero.io")
            .collect();
        let covers = schedules.iter().any(|s| {
            s.object["spec"]["template"]["includedNamespaces"]
                .as_array()
                .is_some_and(|ns| ns.iter().any(|n| n == env.namespace.as_str() || n == "*"))
        });
        if !covers {
            cx.report(
                "DR004",
                Some(&set.region),
                None,
                dr.key("backup"),
                format!(
                    "no Velero Schedule in region `{}` includes namespace `{}`",
                    set.region, env.namespace
                ),
            );
        }
        for s in schedules {
            let loc = s.object["spec"]["template"]["storageLocation"]
                .as_str()
                .unwrap_or_default();
            if loc.is_empty() {
                cx.report(
                    "DR005",
                    Some(&set.region),
                    Some(s),
                    dr.key("backup"),
                    format!("{} has no storageLocation", s.id),
                );
            }
        }
    }
}

fn check_set(cx: &mut Ctx<'_>, set: &RenderedSet) {
    let env = cx.env;
    let region = env.regions.iter().find(|r| r.name == set.region);
    let zones = region.map_or(3, |r| r.zones.len());
    let here = region_path(env, &set.region);
    let ha = spec().key("ha");
    for w in workloads(set) {
        let o = w.object;
        let r = Some(set.region.as_str());
        if w.replicas < 2 {
            cx.report(
                "HA001",
                r,
                Some(o),
                here.clone(),
                format!("{} has {} replica(s)", o.id, w.replicas),
            );
        }
        match pdb_for(set, &w) {
            None => cx.report(
                "HA002",
                r,
                Some(o),
                ha.clone(),
                format!("no PodDisruptionBudget selects the pods of {}", o.id),
            ),
            Some(pdb) => {
                let min = pdb_minimum(pdb, w.replicas);
                if min >= w.replicas {
                    cx.report(
                        "HA003",
                        r,
                        Some(o),
                        ha.key("disruptionBudget"),
                        format!("the PodDisruptionBudget keeps {min} of {} replicas available: no pod can be evicted", w.replicas),
                    );
                }
                if matches!(env.ha.survive, Survive::Zone | Survive::Region) {
                    let (left, _) = zone_loss(&w, zones);
                    if left < min {
                        cx.report(
                            "MR004",
                            r,
                            Some(o),
                            ha.clone(),
                            format!("losing a zone can leave {left} of {} replicas, below the PodDisruptionBudget minimum of {min}", w.replicas),
                        );
                    }
                }
            }
        }
        if !w.spread.iter().any(|(k, _)| k == ZONE_KEY) {
            cx.report(
                "HA004",
                r,
                Some(o),
                ha.key("spread"),
                format!("{} has no topology spread over {ZONE_KEY}", o.id),
            );
        }
        if !w.hostname_anti_affinity && !w.spread.iter().any(|(k, _)| k == HOST_KEY) {
            cx.report(
                "HA005",
                r,
                Some(o),
                ha.clone(),
                format!("{} has no anti-affinity or spread over {HOST_KEY}", o.id),
            );
        }
        for c in &w.containers {
            let name = c["name"].as_str().unwrap_or("?");
            if c.get("readinessProbe").is_none_or(Value::is_null) {
                cx.report(
                    "HA006",
                    r,
                    Some(o),
                    spec().key("app"),
                    format!("container `{name}` of {} has no readiness probe", o.id),
                );
            }
            let req = &c["resources"]["requests"];
            if req.get("cpu").is_none() || req.get("memory").is_none() {
                cx.report(
                    "HA007",
                    r,
                    Some(o),
                    spec().key("app"),
                    format!(
                        "container `{name}` of {} lacks a CPU or memory request",
                        o.id
                    ),
                );
            }
            let image = c["image"].as_str().unwrap_or_default();
            match image_pin(image) {
                Pin::Unpinned => cx.report(
                    "HA008",
                    r,
                    Some(o),
                    spec().key("app").key("image"),
                    format!("image `{image}` is not pinned"),
                ),
                Pin::Tag => cx.report(
                    "HA009",
                    r,
                    Some(o),
                    spec().key("app").key("image"),
                    format!("image `{image}` is pinned by tag only"),
                ),
                Pin::Digest => {}
            }
        }
    }
    for o in set.objects.iter().filter(|o| o.id.kind == "ConfigMap") {
        let hashed =
            kustomize_suffix(&o.object).is_some_and(|s| o.id.name.ends_with(&format!("-{s}")));
        if o.object["immutable"] != Value::Bool(true) || !hashed {
            cx.report(
                "HA010",
                Some(&set.region),
                Some(o),
                spec().key("config"),
                format!("{} is not immutable and content-hashed", o.id),
            );
        }
    }
}

enum Pin {
    Unpinned,
    Tag,
    Digest,
}

fn image_pin(image: &str) -> Pin {
    if image.contains("@sha256:") {
        return Pin::Digest;
    }
    // The tag is what follows the last ':' after the last '/' (a registry port is not a tag).
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) if !tag.is_empty() && tag != "latest" => Pin::Tag,
        _ => Pin::Unpinned,
    }
}

/// What to lose in a what-if analysis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "name")]
pub enum Loss {
    Region(String),
    Zone(String),
}

/// One line of a what-if analysis: a workload in a region after the loss.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Survival {
    pub environment: String,
    pub region: String,
    pub workload: String,
    pub replicas: u32,
    /// Replicas left right after the loss: at least `left_min`, at most `left_max` (the
    /// scheduler decides which zone holds the extra pod when replicas do not divide evenly).
    pub left_min: u32,
    pub left_max: u32,
    pub pdb_minimum: Option<u32>,
    pub holds: bool,
}

/// Predicts what a loss leaves of every workload of an environment. For a region loss,
/// `holds` says whether the remaining regions carry the declared capacity.
pub fn what_if(env: &Environment, sets: &[&RenderedSet], loss: &Loss) -> Vec<Survival> {
    let mut out = Vec::new();
    let lost_region = match loss {
        Loss::Region(r) => Some(r.as_str()),
        Loss::Zone(_) => None,
    };
    let remaining: u32 = sets
        .iter()
        .filter(|s| Some(s.region.as_str()) != lost_region)
        .flat_map(|s| workloads(s).into_iter().map(|w| w.replicas))
        .sum();
    for set in sets {
        let region = env.regions.iter().find(|r| r.name == set.region);
        for w in workloads(set) {
            let pdb_minimum = pdb_for(set, &w).map(|p| pdb_minimum(p, w.replicas));
            let (left_min, left_max) = match loss {
                Loss::Region(r) if *r == set.region => (0, 0),
                Loss::Region(_) => (w.replicas, w.replicas),
                Loss::Zone(z) if region.is_some_and(|r| r.zones.iter().any(|x| x == z)) => {
                    zone_loss(&w, region.map_or(3, |r| r.zones.len()))
                }
                Loss::Zone(_) => (w.replicas, w.replicas),
            };
            let holds = match loss {
                Loss::Region(_) => remaining >= env.ha.capacity,
                Loss::Zone(_) => left_min >= pdb_minimum.unwrap_or(1).max(1),
            };
            out.push(Survival {
                environment: env.name.clone(),
                region: set.region.clone(),
                workload: w.object.id.to_string(),
                replicas: w.replicas,
                left_min,
                left_max,
                pdb_minimum,
                holds,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment;
    use crate::render::Renderer;
    use crate::render::templates::TemplateSet;

    /// Loads an environment from text (written to a temp file) and renders it.
    fn check(spec: &str) -> Vec<Finding> {
        let (env, sets) = load(spec);
        let refs: Vec<&RenderedSet> = sets.iter().collect();
        validate(&env, &refs)
    }

    fn load(spec: &str) -> (Environment, Vec<RenderedSet>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.yaml");
        std::fs::write(
            &path,
            format!("apiVersion: hadr.dev/v1alpha1\nkind: Environment\nspec:\n{spec}"),
        )
        .unwrap();
        let env = environment::load(&path).unwrap();
        let renderer = Renderer::new(TemplateSet::builtin()).unwrap();
        let (sets, _) = renderer
            .render_all(std::slice::from_ref(&env), None)
            .unwrap();
        (env, sets)
    }

    fn ids(f: &[Finding]) -> Vec<&str> {
        let mut v: Vec<&str> = f
            .iter()
            .filter(|f| f.waived.is_none())
            .map(|f| f.rule)
            .collect();
        v.dedup();
        v
    }

    const GOOD: &str = "  app: {name: web, image: 'r.io/web:1.0@sha256:abc', replicas: 3}
  ha: {antiAffinity: required, disruptionBudget: {minAvailable: 2}, survive: region}
  dr: {rpo: 24h, backup: {schedule: '0 */6 * * *', ttl: 720h}}
  regions:
    - {name: east, context: c-east}
    - {name: west, context: c-west}
";

    #[test]
    fn a_well_configured_environment_is_clean() {
        assert_eq!(ids(&check(GOOD)), Vec::<&str>::new());
    }

    #[test]
    fn one_replica_and_no_pdb_are_flagged() {
        let f = check(
            "  app: {name: web, image: 'r.io/web:1', replicas: 1}\n  regions: [{name: east, context: c}]\n",
        );
        let got = ids(&f);
        assert!(got.contains(&"HA001") && got.contains(&"HA002"), "{got:?}");
    }

    #[test]
    fn a_pdb_that_allows_no_disruption_is_flagged() {
        let f = check(&GOOD.replace("minAvailable: 2", "minAvailable: 3"));
        assert!(ids(&f).contains(&"HA003"));
        let f = check(&GOOD.replace("minAvailable: 2", "minAvailable: '100%'"));
        assert!(ids(&f).contains(&"HA003"));
    }

    #[test]
    fn missing_spread_probe_and_unpinned_images_are_flagged() {
        let f = check(
            &GOOD
                .replace("antiAffinity: required", "antiAffinity: none, spread: []")
                .replace("r.io/web:1.0@sha256:abc", "r.io/web:latest"),
        );
        let got = ids(&f);
        for id in ["HA004", "HA005", "HA008"] {
            assert!(got.contains(&id), "{id} in {got:?}");
        }
        let f = check(&GOOD.replace("r.io/web:1.0@sha256:abc", "r.io:5000/web:1.0"));
        assert_eq!(ids(&f), vec!["HA009"]);
        let f = check(&GOOD.replace("r.io/web:1.0@sha256:abc", "r.io:5000/web"));
        assert!(ids(&f).contains(&"HA008"));
    }

    #[test]
    fn region_survival_needs_two_regions_with_distinct_contexts_and_enough_capacity() {
        let one = GOOD.replace("    - {name: west, context: c-west}\n", "");
        assert!(ids(&check(&one)).contains(&"MR001"));
        let same = GOOD.replace("c-west", "c-east");
        assert!(ids(&check(&same)).contains(&"MR002"));
        let small = GOOD.replace("survive: region}", "survive: region, capacity: 5}");
        let f = check(&small);
        assert!(ids(&f).contains(&"MR003"), "{f:?}");
    }

    #[test]
    fn zone_loss_below_the_pdb_minimum_is_flagged() {
        // 3 replicas over 3 zones leave 2 >= 2: fine. minAvailable 2 with 2 replicas: a zone
        // loss leaves 1.
        let f = check(
            &GOOD
                .replace("replicas: 3", "replicas: 2")
                .replace("minAvailable: 2", "minAvailable: 1")
                .replace("survive: region", "survive: zone"),
        );
        assert!(!ids(&f).contains(&"MR004"), "{f:?}");
        let f = check(
            &GOOD
                .replace("replicas: 3", "replicas: 4")
                .replace("minAvailable: 2", "minAvailable: 3")
                .replace("survive: region", "survive: zone"),
        );
        assert!(ids(&f).contains(&"MR004"), "{f:?}");
    }

    #[test]
    fn backups_must_exist_and_fit_the_rpo() {
        let none = GOOD.replace(", backup: {schedule: '0 */6 * * *', ttl: 720h}", "");
        assert!(ids(&check(&none)).contains(&"DR001"));
        let weekdays = GOOD.replace("0 */6 * * *", "0 */6 * * 1-5");
        let f = check(&weekdays);
        let dr2 = f
            .iter()
            .find(|f| f.rule == "DR002")
            .expect("weekend gap beyond 24h");
        assert!(dr2.message.contains("2d6h"), "{}", dr2.message);
        let short_ttl = GOOD.replace("ttl: 720h", "ttl: 12h");
        assert!(ids(&check(&short_ttl)).contains(&"DR003"));
    }

    #[test]
    fn severities_and_waivers_apply() {
        let tuned = format!(
            "{}  policy:\n    severities: {{HA009: off}}\n    waivers: [{{rule: HA001, reason: batch job}}]\n",
            GOOD.replace("r.io/web:1.0@sha256:abc", "r.io/web:1.0")
                .replace("replicas: 3", "replicas: 1")
                .replace("minAvailable: 2", "maxUnavailable: 1")
        );
        let f = check(&tuned);
        assert!(!f.iter().any(|f| f.rule == "HA009"));
        let waived = f.iter().find(|f| f.rule == "HA001").unwrap();
        assert_eq!(waived.waived.as_deref(), Some("batch job"));
    }

    #[test]
    fn what_if_predicts_zone_and_region_losses() {
        let (env, sets) = load(&GOOD.replace("replicas: 3", "replicas: 4"));
        let refs: Vec<&RenderedSet> = sets.iter().collect();
        let zone = what_if(&env, &refs, &Loss::Zone("east-1".into()));
        let east = zone.iter().find(|s| s.region == "east").unwrap();
        assert_eq!(
            (east.left_min, east.left_max, east.pdb_minimum, east.holds),
            (2, 3, Some(2), true)
        );
        let west = zone.iter().find(|s| s.region == "west").unwrap();
        assert_eq!((west.left_min, west.left_max), (4, 4));
        let region = what_if(&env, &refs, &Loss::Region("east".into()));
        assert!(region.iter().all(|s| s.holds));
        assert_eq!(
            region.iter().find(|s| s.region == "east").unwrap().left_max,
            0
        );
    }
}
