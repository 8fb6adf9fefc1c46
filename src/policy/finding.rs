//! Findings, and the reporter the rule families push them through: it points each finding at a
//! line of the environment file.

use serde::{Serialize, Serializer};

use super::rule::RuleId;
use crate::environment::{Environment, Severity};
use crate::render::RenderedObject;
use crate::yaml::Path as YamlPath;

/// One violation of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule: RuleId,
    /// The rule's default, or the environment's `spec.policy.severities` for it.
    pub severity: Severity,
    pub environment: String,
    pub region: Option<String>,
    /// The object concerned, as `Kind namespace/name`.
    pub object: Option<String>,
    pub message: String,
    /// The file and line to point at.
    pub file: String,
    pub line: usize,
    /// Set when the environment waived the rule, with its reason.
    pub waived: Option<String>,
}

/// The JSON form of a finding: the rule's name and fix are spelled out beside its ID, so a
/// report reads without the catalogue (the shape `validate -o json` has always had).
#[derive(Serialize)]
struct FindingJson<'a> {
    rule: RuleId,
    name: &'static str,
    severity: Severity,
    environment: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<&'a str>,
    message: &'a str,
    fix: &'static str,
    file: &'a str,
    line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    waived: Option<&'a str>,
}

impl Serialize for Finding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        FindingJson {
            rule: self.rule,
            name: self.rule.name(),
            severity: self.severity,
            environment: &self.environment,
            region: self.region.as_deref(),
            object: self.object.as_deref(),
            message: &self.message,
            fix: self.rule.fix(),
            file: &self.file,
            line: self.line,
            waived: self.waived.as_deref(),
        }
        .serialize(s)
    }
}

/// Collects the findings of one environment, at their rules' default severities.
pub(super) struct Reporter<'a> {
    pub env: &'a Environment,
    /// The environment file's text, to turn a field's path into a line.
    text: String,
    findings: Vec<Finding>,
}

impl<'a> Reporter<'a> {
    pub(super) fn new(env: &'a Environment) -> Reporter<'a> {
        Reporter {
            env,
            // An unreadable file only costs the line numbers (every finding points at line 1).
            text: std::fs::read_to_string(&env.file).unwrap_or_default(),
            findings: Vec::new(),
        }
    }

    /// Reports a violation of `rule`, pointing at the field `path` of the environment file.
    pub(super) fn report(
        &mut self,
        rule: RuleId,
        region: Option<&str>,
        object: Option<&RenderedObject>,
        path: YamlPath,
        message: String,
    ) {
        let line = crate::yaml::locate(&self.text, &path)
            .map(|p| p.line)
            .unwrap_or(1);
        self.findings.push(Finding {
            rule,
            severity: rule.default_severity(),
            environment: self.env.name.clone(),
            region: region.map(str::to_string),
            object: object.map(|o| o.id.to_string()),
            message,
            file: self.env.file.display().to_string(),
            line,
            waived: None,
        });
    }

    pub(super) fn into_findings(self) -> Vec<Finding> {
        self.findings
    }
}

/// `spec` of the environment file.
pub(super) fn spec() -> YamlPath {
    YamlPath::default().key("spec")
}

/// `spec.regions[i]` of the region named `region` (the first region if there is none).
pub(super) fn region_path(env: &Environment, region: &str) -> YamlPath {
    let i = env
        .regions
        .iter()
        .position(|r| r.name == region)
        .unwrap_or(0);
    spec().key("regions").index(i)
}

/// The path of a rendered workload in the environment file: its `spec.workloads` entry, else
/// `spec.app`.
pub(super) fn workload_path(env: &Environment, object: &RenderedObject) -> YamlPath {
    if env.workloads.iter().any(|w| w.name == object.id.name) {
        spec().key("workloads").key(&object.id.name)
    } else {
        spec().key("app")
    }
}
