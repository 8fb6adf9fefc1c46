//! A region drill's report for people: each recovery path with its RTO (and RPO), the
//! survivors, the objectives table and the findings.

use super::Printer;
use crate::drill::Verdict;
use crate::drill::evidence::Written;
use crate::drill::objective::{Objective, seconds_text};
use crate::drill::region::{RegionDrillReport, RegionPlan};

impl Printer {
    pub(super) fn region_drill_text(&self, r: &RegionDrillReport) -> String {
        let mut out = format!(
            "{}: region {} lost at {}; recovered into {} (drill {})\n",
            r.environment, r.lost, r.started, r.restore_into, r.id
        );
        for p in &r.recoveries {
            let source = match (&p.source, &p.source_time) {
                (Some(s), Some(t)) => format!("{s} ({t})"),
                (Some(s), None) => s.clone(),
                _ => "-".into(),
            };
            let rto = p.rto_seconds.map_or("NOT available".into(), |s| {
                format!("available after {}", seconds_text(s))
            });
            let rpo = p
                .rpo_seconds
                .map(|s| format!(", RPO {}", seconds_text(s)))
                .unwrap_or_default();
            let equal = p.compared - p.differences.len().min(p.compared);
            out.push_str(&format!(
                "  {:<11} {source} -> namespace {}: {rto}{rpo}; {equal}/{} object(s) equal the revision\n  {:<11} ({})\n",
                p.path.to_string(),
                p.namespace,
                p.compared,
                "",
                p.note
            ));
        }
        for s in &r.survivors {
            out.push_str(&format!(
                "  survivor    {} {}: {}/{} available\n",
                s.region, s.workload, s.available, s.desired
            ));
        }
        out.push_str(&objectives_table(&r.objectives));
        for f in &r.findings {
            out.push_str(&format!("  {} {f}\n", self.paint_out("33", "finding:")));
        }
        out.push_str(&format!(
            "{}: drill {} {} in {}; drill namespaces {}\n",
            r.environment,
            r.id,
            match r.verdict {
                Verdict::Pass => self.paint_out("32", "passed"),
                Verdict::Fail => self.paint_out("31", "failed"),
            },
            seconds_text(r.seconds),
            if r.removed { "deleted" } else { "kept" }
        ));
        out.push_str(&evidence_text(r.evidence.as_ref()));
        out
    }
}

/// Where `--report` / `--commit` put the evidence, one line each.
pub(super) fn evidence_text(written: Option<&Written>) -> String {
    let Some(w) = written else {
        return String::new();
    };
    let files: Vec<String> = w.files.iter().map(|f| f.display().to_string()).collect();
    let mut out = format!("report: {}\n", files.join(", "));
    if let (Some(c), Some(dir)) = (&w.commit, &w.committed_to) {
        out.push_str(&format!("committed {c} ({})\n", dir.display()));
    }
    out
}

/// `OBJECTIVE SCOPE TARGET ACHIEVED RESULT`, one line each (nothing when none is declared).
pub(super) fn objectives_table(objectives: &[Objective]) -> String {
    if objectives.is_empty() {
        return String::new();
    }
    let width = objectives
        .iter()
        .map(|o| o.scope.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = format!(
        "  {:<12} {:<width$} {:>8} {:>12}  RESULT\n",
        "OBJECTIVE", "SCOPE", "TARGET", "ACHIEVED"
    );
    for o in objectives {
        out.push_str(&format!(
            "  {:<12} {:<width$} {:>8} {:>12}  {}\n",
            o.objective.to_string(),
            o.scope,
            o.target,
            o.achieved_text(),
            if o.met { "met" } else { "MISSED" }
        ));
    }
    out
}

pub(super) fn region_plan_text(p: &RegionPlan) -> String {
    let mut out = format!(
        "drill (dry run): lose region {}, recover into {}\n",
        p.lost, p.restore_into
    );
    for (i, step) in p.steps.iter().enumerate() {
        out.push_str(&format!("  {}. {step}\n", i + 1));
    }
    out
}
