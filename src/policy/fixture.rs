//! Test fixtures shared by the rule families: an environment that breaks no rule, and ways to
//! load, render and check a variant of it.

use serde_json::{Map, Value};

use super::{Finding, RuleId, validate};
use crate::environment::{self, Environment};
use crate::render::templates::TemplateSet;
use crate::render::{RenderedSet, Renderer};

/// Two regions, three replicas each, a PodDisruptionBudget, digest-pinned images, backups
/// every six hours for a day's RPO to a bucket in neither region: clean.
pub(super) const GOOD: &str = "  app: {name: web, image: 'r.io/web:1.0@sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789', replicas: 3}
  ha: {antiAffinity: required, disruptionBudget: {minAvailable: 2}, survive: region}
  dr: {rpo: 24h, backup: {schedule: '0 */6 * * *', ttl: 720h}, storageLocations: {default: {region: central}}}
  regions:
    - {name: east, context: c-east}
    - {name: west, context: c-west}
";

/// A web Deployment and a StatefulSet whose volume is on a zonal class that waits for its pod,
/// three replicas each, in two regions, backed up by file: clean (issue 16).
pub(super) const STATEFUL: &str = "  namespace: shop
  workloads:
    web: {image: 'r.io/web:1@sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789', replicas: 3, port: 8080}
    db:
      kind: StatefulSet
      image: 'r.io/pg:16@sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789'
      replicas: 3
      port: 5432
      readinessProbe: {command: [pg_isready]}
      volumes: [{name: data, size: 1Gi, storageClass: ssd, mountPath: /data}]
      ha: {capacity: 3}
  storageClasses: {ssd: {volumeBindingMode: WaitForFirstConsumer, topology: zonal}}
  ha: {antiAffinity: required, disruptionBudget: {maxUnavailable: 1}, survive: region}
  dr: {rpo: 24h, backup: {schedule: '0 */6 * * *', ttl: 720h}, storageLocations: {default: {region: elsewhere}}}
  regions:
    - {name: east, context: c-east}
    - {name: west, context: c-west}
";

/// Loads an environment from the text of its `spec` (written to a temp file) and renders it
/// with the builtin templates.
pub(super) fn load(spec: &str) -> (Environment, Vec<RenderedSet>) {
    let env = environment::load_spec(spec).unwrap();
    let renderer = Renderer::new(TemplateSet::builtin()).unwrap();
    let (sets, _) = renderer
        .render_all(std::slice::from_ref(&env), None)
        .unwrap();
    (env, sets)
}

/// Validates an environment given by the text of its `spec`.
pub(super) fn check(spec: &str) -> Vec<Finding> {
    check_edited(spec, |_| {})
}

/// Validates an environment after `edit` changed each rendered object: for what the
/// environment file cannot say but a template could write.
pub(super) fn check_edited(spec: &str, edit: impl Fn(&mut Value)) -> Vec<Finding> {
    let (env, mut sets) = load(spec);
    for o in sets.iter_mut().flat_map(|s| s.objects.iter_mut()) {
        edit(&mut o.object);
    }
    let refs: Vec<&RenderedSet> = sets.iter().collect();
    validate(&env, &refs)
}

/// The first container of a Deployment, for `check_edited`; `None` for other kinds.
pub(super) fn deployment_container(o: &mut Value) -> Option<&mut Map<String, Value>> {
    if o["kind"] != "Deployment" {
        return None;
    }
    o["spec"]["template"]["spec"]["containers"][0].as_object_mut()
}

/// The rules of the unwaived findings, consecutive duplicates removed.
pub(super) fn ids(f: &[Finding]) -> Vec<RuleId> {
    let mut v: Vec<RuleId> = f
        .iter()
        .filter(|f| f.waived.is_none())
        .map(|f| f.rule)
        .collect();
    v.dedup();
    v
}
