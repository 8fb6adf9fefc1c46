//! HA/DR policy: the rules `kubectl hadr validate` checks over an environment and its rendered
//! objects, their severities and waivers, and the what-if analysis of losing a zone or region.
//!
//! One file per rule family (`ha`, `multi_region`, `dr`, `stateful`), each rule a typed `RuleId` from the
//! catalogue in `rule`, checked over the `workload` model; `what_if` is the loss model that
//! `--lose` and MR004 share. This file runs the families and applies the environment's
//! `spec.policy`.

mod dr;
mod finding;
mod ha;
mod multi_region;
mod rule;
mod stateful;
mod what_if;
mod workload;

#[cfg(test)]
mod fixture;

pub use dr::{LastDrill, ServerVelero};
pub use finding::Finding;
pub use rule::{RuleId, UnknownRuleId};
pub use what_if::{Loss, Survival, what_if};

use crate::environment::{Environment, Severity};
use crate::render::RenderedSet;
use finding::Reporter;

/// Checks one environment and its rendered sets; findings come sorted, with severities and
/// waivers of the environment applied (waived findings are kept, marked).
pub fn validate(env: &Environment, sets: &[&RenderedSet]) -> Vec<Finding> {
    let mut cx = Reporter::new(env);
    multi_region::check_regions(&mut cx);
    dr::check_backup(&mut cx, sets);
    dr::check_rto(&mut cx);
    for set in sets {
        dr::check_schedules(&mut cx, set);
        let workloads = workload::workloads(set);
        ha::check(&mut cx, set, &workloads);
        multi_region::zone_loss_budget(&mut cx, set, &workloads);
        stateful::check(&mut cx, set, &workloads);
    }
    finish(env, cx.into_findings())
}

/// DR009 over the drills on record: `last_pass` is the newest drill that passed, `now` the
/// time it is measured at. Findings come as from [`validate`].
pub fn validate_drills(
    env: &Environment,
    last_pass: Option<&LastDrill>,
    now: jiff::Timestamp,
) -> Vec<Finding> {
    let mut cx = Reporter::new(env);
    dr::check_drill_age(&mut cx, last_pass, now);
    finish(env, cx.into_findings())
}

/// DR010 over what each region's Velero server reported (`validate --server`), as
/// `(region, answer)`. Findings come as from [`validate`].
pub fn validate_velero_servers(env: &Environment, seen: &[(String, ServerVelero)]) -> Vec<Finding> {
    let mut cx = Reporter::new(env);
    dr::check_velero_servers(&mut cx, seen);
    finish(env, cx.into_findings())
}

/// Applies `spec.policy`, then sorts and deduplicates.
fn finish(env: &Environment, findings: Vec<Finding>) -> Vec<Finding> {
    let mut findings = apply_policy(env, findings);
    findings.sort_by(|a, b| {
        // By the ID's text, as reports have always been ordered (DR before HA before MR).
        (
            &a.environment,
            &a.region,
            a.rule.id(),
            &a.object,
            &a.message,
        )
            .cmp(&(
                &b.environment,
                &b.region,
                b.rule.id(),
                &b.object,
                &b.message,
            ))
    });
    findings.dedup();
    findings
}

/// Applies `spec.policy`: a severity the environment sets replaces the rule's default (`off`
/// drops the finding), and a waiver marks the finding with its reason. IDs that name no rule
/// change nothing here; `unknown_rule_ids` reports them.
fn apply_policy(env: &Environment, findings: Vec<Finding>) -> Vec<Finding> {
    let severities: Vec<(RuleId, Severity)> = env
        .policy
        .severities
        .iter()
        .flatten()
        .filter_map(|(id, s)| Some((id.parse().ok()?, *s)))
        .collect();
    let waivers: Vec<(RuleId, &str)> = env
        .policy
        .waivers
        .iter()
        .flatten()
        .filter_map(|w| Some((w.rule.parse().ok()?, w.reason.as_str())))
        .collect();
    findings
        .into_iter()
        .filter_map(|mut f| {
            if let Some((_, s)) = severities.iter().find(|(r, _)| *r == f.rule) {
                f.severity = *s;
            }
            if f.severity == Severity::Off {
                return None;
            }
            // The first waiver of a rule wins, as the environment lists them.
            f.waived = waivers
                .iter()
                .find(|(r, _)| *r == f.rule)
                .map(|(_, reason)| reason.to_string());
            Some(f)
        })
        .collect()
}

/// Rule IDs named in the environment's policy that do not exist, with a suggestion.
pub fn unknown_rule_ids(env: &Environment) -> Vec<UnknownRule> {
    let policy = crate::yaml::Path::default().key("spec").key("policy");
    let named = (env.policy.severities.iter())
        .flat_map(|m| m.keys())
        .map(|id| (id.clone(), policy.key("severities").key(id)))
        .chain(
            (env.policy.waivers.iter().flatten().enumerate())
                .map(|(i, w)| (w.rule.clone(), policy.key("waivers").index(i).key("rule"))),
        );
    let ids: Vec<String> = RuleId::ALL.iter().map(|r| r.id().to_string()).collect();
    // An unreadable file only costs the line and column.
    let text = std::fs::read_to_string(&env.file).unwrap_or_default();
    named
        .filter(|(n, _)| n.parse::<RuleId>().is_err())
        .map(|(id, path)| UnknownRule {
            hint: crate::yaml::did_you_mean(&id, &ids),
            position: crate::yaml::locate(&text, &path)
                .filter(|_| crate::yaml::has_node(&text, &path)),
            id,
            path,
        })
        .collect()
}

/// A rule ID the environment's `policy` names that no rule has.
#[derive(Debug, Clone)]
pub struct UnknownRule {
    pub id: String,
    /// Where it is written (`spec.policy.severities.HA09`).
    pub path: crate::yaml::Path,
    /// Its line and column in the environment's file, when it is written there (not in a
    /// file it extends).
    pub position: Option<crate::yaml::Position>,
    /// The closest rule ID.
    pub hint: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::fixture::{GOOD, check, ids, load};
    use super::*;

    #[test]
    fn a_well_configured_environment_is_clean() {
        assert_eq!(ids(&check(GOOD)), Vec::<RuleId>::new());
    }

    #[test]
    fn severities_and_waivers_apply() {
        let tuned = format!(
            "{}  policy:\n    severities: {{HA009: off}}\n    waivers: [{{rule: HA001, reason: batch job}}]\n",
            GOOD.replace("r.io/web:1.0@sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", "r.io/web:1.0")
                .replace("replicas: 3", "replicas: 1")
                .replace("minAvailable: 2", "maxUnavailable: 1")
        );
        let f = check(&tuned);
        assert!(!f.iter().any(|f| f.rule == RuleId::ImageDigest));
        let waived = f.iter().find(|f| f.rule == RuleId::MinReplicas).unwrap();
        assert_eq!(waived.waived.as_deref(), Some("batch job"));
    }

    #[test]
    fn a_severity_override_raises_a_rule() {
        let tuned = format!(
            "{}  policy:\n    severities: {{HA009: error}}\n",
            GOOD.replace("r.io/web:1.0@sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", "r.io/web:1.0")
        );
        let f = check(&tuned);
        assert!(
            f.iter()
                .all(|f| f.rule == RuleId::ImageDigest && f.severity == Severity::Error),
            "{f:?}"
        );
    }

    #[test]
    fn findings_are_sorted_by_region_then_rule_id_text() {
        let f = check(
            &GOOD
                .replace("r.io/web:1.0@sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", "r.io/web:1.0")
                .replace("ttl: 720h", "ttl: 12h")
                .replace("c-west", "c-east"),
        );
        let order: Vec<(Option<&str>, &str)> = f
            .iter()
            .map(|f| (f.region.as_deref(), f.rule.id()))
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
        assert_eq!(order.first(), Some(&(None, "DR003")));
    }

    #[test]
    fn unknown_rule_ids_are_reported_with_a_suggestion() {
        let (env, _) = load(&format!(
            "{GOOD}  policy:\n    severities: {{HA04: off, HA009: off}}\n    waivers: [{{rule: XX999, reason: r}}]\n"
        ));
        let unknown = unknown_rule_ids(&env);
        assert_eq!(unknown.len(), 2, "{unknown:?}");
        assert_eq!(unknown[0].id, "HA04");
        assert!(
            unknown[0]
                .hint
                .as_deref()
                .is_some_and(|h| h.contains("HA00")),
            "{unknown:?}"
        );
        assert_eq!(unknown[0].path.to_string(), "spec.policy.severities.HA04");
        assert_eq!(unknown[1].id, "XX999");
        assert_eq!(unknown[1].path.to_string(), "spec.policy.waivers[0].rule");
    }

    #[test]
    fn a_finding_serializes_with_the_rule_name_and_fix_beside_its_id() {
        let f = check(&GOOD.replace(
            "r.io/web:1.0@sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
            "r.io/web:1.0",
        ));
        let json = serde_json::to_value(&f[0]).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(json["rule"], "HA009");
        assert_eq!(json["name"], "image-digest");
        assert_eq!(json["fix"], RuleId::ImageDigest.fix());
        assert!(!keys.contains(&"waived"), "{keys:?}");
    }
}
