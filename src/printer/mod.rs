//! The one place that writes to stdout and stderr: reports for people (text) and machines (JSON).

mod backup;
mod drill_region;

use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};

use serde::Serialize;

use crate::drill::{DrillReport, Verdict, ZonePlan};
use crate::environment::Severity;
use crate::plan::Plan as DiffReport;
use crate::plan::{Action, ObjectPlan};
use crate::policy::{Finding, Loss, RuleId, Survival};
use crate::render::Warning;
use crate::report::Drilled;
use crate::report::{HistoryEntry, RenderReport, StatusReport, ValidateReport};
use crate::revision::tree::ChangeKind;
use crate::rollout::{Progress, RolloutReport};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

pub struct Printer {
    format: Format,
    /// Colour on stderr (messages) and on stdout (diffs), decided separately: either may be
    /// piped while the other is a terminal.
    color: bool,
    color_out: bool,
    /// stderr is a terminal: progress is a status line rewritten in place.
    live: bool,
    last_status: std::sync::Mutex<Option<std::time::Instant>>,
}

/// Text in a terminal colour, or plain (see `Printer::paint`).
struct Painted<'a> {
    code: Option<&'a str>,
    text: &'a str,
}

impl std::fmt::Display for Painted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(f, "\x1b[{code}m{}\x1b[0m", self.text),
            None => f.write_str(self.text),
        }
    }
}

impl Printer {
    pub fn new(format: Format) -> Printer {
        let no_color = std::env::var_os("NO_COLOR").is_some();
        Printer {
            format,
            color: io::stderr().is_terminal() && !no_color,
            color_out: io::stdout().is_terminal() && !no_color,
            live: io::stderr().is_terminal(),
            last_status: std::sync::Mutex::new(None),
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// `s` in the SGR colour `code` for stderr, when it is a terminal; written where it is
    /// formatted, so a line per file of a render allocates nothing for it.
    fn paint<'a>(&self, code: &'a str, s: &'a str) -> Painted<'a> {
        Painted {
            code: self.color.then_some(code),
            text: s,
        }
    }

    /// `paint` for reports on stdout, coloured only when stdout is a terminal: `render >
    /// changes.txt` at a terminal gets no escape codes in the file.
    fn paint_out<'a>(&self, code: &'a str, s: &'a str) -> Painted<'a> {
        Painted {
            code: self.color_out.then_some(code),
            text: s,
        }
    }

    /// Writes raw text to stdout (schemas, completion scripts).
    pub fn raw(&self, text: &str) {
        let mut out = io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
    }

    pub fn json<T: Serialize>(&self, value: &T) {
        let mut s = serde_json::to_string_pretty(value)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        s.push('\n');
        self.raw(&s);
    }

    pub fn warnings(&self, warnings: &[Warning]) {
        let mut err = io::stderr().lock();
        for w in warnings {
            let _ = writeln!(err, "{} {w}", self.paint("33", "warning:"));
        }
    }

    /// Errors go to stderr in both formats; JSON also gets them on stdout for machines.
    pub fn errors(&self, messages: &[String]) {
        self.errors_on_stderr(messages);
        if self.format != Format::Text {
            self.json(&serde_json::json!({ "errors": messages }));
        }
    }

    /// Errors that a report already printed on stdout carries: stderr only, in both formats.
    pub fn errors_on_stderr(&self, messages: &[String]) {
        let mut err = io::stderr().lock();
        for m in messages {
            let _ = writeln!(err, "{} {m}", self.paint("31", "error:"));
        }
    }

    pub fn render_report(&self, report: &RenderReport) {
        if self.format != Format::Text {
            self.json(report);
            self.warnings(&report.warnings);
            return;
        }
        self.warnings(&report.warnings);
        // One line per file of a first render (thousands): written in place, not formatted
        // line by line. `out` with one trailing separator, as `join` would put it.
        let root = report.out.join("");
        let mut out = String::with_capacity(
            report.sets.len() * 110 + report.changes.len() * (root.as_os_str().len() + 80),
        );
        for s in &report.sets {
            let _ = writeln!(
                out,
                "{}/{}  {} objects  {}",
                s.environment, s.region, s.objects, s.digest
            );
        }
        let root = root.display();
        for c in &report.changes {
            let (mark, code) = match c.kind {
                ChangeKind::Added => ("+", "32"),
                ChangeKind::Changed => ("~", "33"),
                ChangeKind::Removed => ("-", "31"),
            };
            let _ = writeln!(
                out,
                "{} {root}{}",
                self.paint_out(code, mark),
                c.path.display()
            );
        }
        match report.up_to_date {
            Some(true) => out.push_str(&format!("{} is up to date\n", report.out.display())),
            Some(false) => out.push_str(&format!(
                "{} is not what the sources render ({} files differ); run `kubectl hadr render` and commit\n",
                report.out.display(),
                report.changes.len()
            )),
            None if report.changes.is_empty() && report.commit.is_none() => {
                out.push_str("nothing changed\n")
            }
            None => {}
        }
        if let Some(c) = &report.commit {
            match &c.id {
                Some(id) => out.push_str(&format!(
                    "committed {} to {}\n",
                    &id[..12.min(id.len())],
                    c.target
                )),
                None => out.push_str(&format!("nothing to commit on {}\n", c.target)),
            }
        }
        self.raw(&out);
    }

    fn colored_diff(&self, diff: &str) -> String {
        if !self.color_out {
            return diff.to_string();
        }
        diff.lines()
            .map(|l| {
                let code = match l.as_bytes().first() {
                    Some(b'+') if !l.starts_with("+++") => "32",
                    Some(b'-') if !l.starts_with("---") => "31",
                    Some(b'@') => "36",
                    _ => return format!("{l}\n"),
                };
                format!("{}\n", self.paint_out(code, l))
            })
            .collect()
    }

    pub fn diff_report(&self, report: &DiffReport) {
        if self.format != Format::Text {
            return self.json(report);
        }
        let mut out = String::new();
        for r in &report.regions {
            for o in &r.objects {
                if !o.diff.is_empty() {
                    out.push_str(&self.colored_diff(&o.diff));
                }
            }
        }
        for r in &report.regions {
            match &r.error {
                Some(e) => out.push_str(&format!(
                    "{}/{}: {} {e}\n",
                    report.environment,
                    r.region,
                    self.paint_out("31", "error:")
                )),
                None => {
                    let changed = r.objects.iter().filter(|o| o.action != Action::Unchanged);
                    for o in changed {
                        let line = self.plan_line(o);
                        out.push_str(&format!("{}/{}: {line}\n", report.environment, r.region));
                    }
                    let s = &r.summary;
                    out.push_str(&format!(
                        "{}/{} ({}): {}\n",
                        report.environment,
                        r.region,
                        r.context,
                        summary_line(s)
                    ));
                }
            }
        }
        let t = &report.total;
        out.push_str(&format!(
            "total ({}): {}\n",
            report.revision,
            summary_line(t)
        ));
        self.raw(&out);
    }

    /// One object of a plan: `action  Kind ns/name`, with what else it means.
    fn plan_line(&self, o: &ObjectPlan) -> String {
        let mut line = match (&o.renamed_from, o.action) {
            (Some(from), _) => format!("rename  {} (from {from})", o.id),
            (None, Action::Create) if o.after_crd => format!("create  {} (after its CRD)", o.id),
            (None, Action::Error) => format!("{} {}", self.paint_out("31", "error  "), o.id),
            (None, action) => format!("{:<7} {}", action.to_string(), o.id),
        };
        if !o.also_deletes.is_empty() {
            line.push_str(&format!(" (also deletes {})", o.also_deletes.join(", ")));
        }
        if let Some(p) = &o.problem {
            line.push_str(&format!(": {}", p.message));
            if let Some(help) = &p.help {
                line.push_str(&format!("\n  help: {help}"));
            }
        }
        line
    }

    pub fn rollout_reports(&self, reports: &[RolloutReport]) {
        if self.format != Format::Text {
            return match reports {
                [one] => self.json(one),
                many => self.json(&many),
            };
        }
        let mut out = String::new();
        for report in reports {
            for r in &report.regions {
                out.push_str(&format!(
                    "{}/{} ({}): {} — revision {}, {} applied, {} unchanged, {} pruned, {:.1}s{}\n",
                    report.environment,
                    r.region,
                    r.context,
                    r.status,
                    report.revision,
                    r.applied,
                    r.unchanged,
                    r.pruned.len(),
                    r.seconds,
                    r.message
                        .as_ref()
                        .map(|m| format!("\n  {m}"))
                        .unwrap_or_default()
                ));
                for c in &r.changes {
                    out.push_str(&format!("  {:<8} {}\n", past(c.action), c.object));
                }
            }
        }
        self.raw(&out);
    }

    pub fn drill(&self, drilled: &Drilled) {
        if self.format != Format::Text {
            return match drilled {
                Drilled::Planned(p) => self.json(p),
                Drilled::Ran(r) => self.json(r),
                Drilled::RegionPlanned(p) => self.json(p),
                Drilled::RegionRan(r) => self.json(r),
                Drilled::CleanedUp(c) => self.json(c),
            };
        }
        self.raw(&match drilled {
            Drilled::Planned(p) => drill_plan_text(p),
            Drilled::Ran(r) => self.drill_report_text(r),
            Drilled::RegionPlanned(p) => drill_region::region_plan_text(p),
            Drilled::RegionRan(r) => self.region_drill_text(r),
            Drilled::CleanedUp(c) => cleanup_text(c),
        });
    }

    fn drill_report_text(&self, r: &DrillReport) -> String {
        let mut out = format!(
            "{}/{}: zone {} lost at {}: {} node(s) cordoned, {} pod(s) evicted, {} eviction(s) refused at first\n",
            r.environment,
            r.region,
            r.zone,
            r.started,
            r.nodes.iter().filter(|n| !n.was_cordoned).count(),
            r.evicted.len(),
            r.refused_evictions.len()
        );
        for e in &r.refused_evictions {
            out.push_str(&format!(
                "  {:>6.1}s refused  {}: {}\n",
                e.t, e.pod, e.message
            ));
        }
        for p in &r.pending {
            out.push_str(&format!(
                "  {:>6.1}s pending  {}: {}\n",
                p.t, p.pod, p.message
            ));
        }
        for w in &r.workloads {
            let range = |a: Option<u32>, b: Option<u32>| match (a, b) {
                (Some(a), Some(b)) if a == b => a.to_string(),
                (Some(a), Some(b)) => format!("{a}-{b}"),
                _ => "-".into(),
            };
            // A pinned workload is predicted to stay short until the zone returns: the end
            // count against that prediction is the figure that tells whether it behaved.
            let pinned = if w.pinned {
                ", pinned to its volumes' zone"
            } else {
                ""
            };
            out.push_str(&format!(
                "  {}: {} desired, fewest available {} (predicted {}, PDB minimum {}), {} at the end (predicted {}{pinned}), {}\n",
                w.workload,
                w.desired,
                w.observed_min,
                range(w.predicted_min, w.predicted_max),
                w.pdb_minimum.map_or("-".into(), |m| m.to_string()),
                w.observed_end,
                range(w.predicted_recovered_min, w.predicted_recovered_max),
                w.recovered_after
                    .map_or("not recovered".into(), |t| format!(
                        "fully available after {t:.1}s"
                    ))
            ));
        }
        let placement: Vec<String> = r
            .placement
            .iter()
            .map(|(z, n)| format!("{z}: {n}"))
            .collect();
        out.push_str(&format!("  placement after: {}\n", placement.join(", ")));
        if let Some(t) = r.sampled_from {
            out.push_str(&format!(
                "  availability sampled every 200 ms from {t:.1}s: the pod watch ended (a short outage between two samples may be missing; RBAC: `watch` on pods)\n"
            ));
        }
        out.push_str(&drill_region::objectives_table(&r.objectives));
        for f in &r.findings {
            out.push_str(&format!("  {} {f}\n", self.paint_out("33", "finding:")));
        }
        out.push_str(&format!(
            "{}/{}: drill {} {} in {:.1}s; nodes {}\n",
            r.environment,
            r.region,
            r.id,
            match r.verdict {
                Verdict::Pass => self.paint_out("32", "passed"),
                Verdict::Fail => self.paint_out("31", "failed"),
            },
            r.seconds,
            if r.restored {
                "uncordoned"
            } else {
                "NOT all uncordoned: run drill --cleanup"
            }
        ));
        out.push_str(&drill_region::evidence_text(r.evidence.as_ref()));
        out
    }

    pub fn status_report(&self, report: &StatusReport) {
        if self.format != Format::Text {
            return self.json(report);
        }
        let mut out = format!(
            "{:<14} {:<18} {:<14} {:<16} {:<22} {:<20} {:<8} {}\n",
            "REGION", "CONTEXT", "REVISION", "DIGEST", "DEPLOYED", "BY", "HEALTH", "DRIFT"
        );
        for r in &report.regions {
            let d = r.deployed.as_ref();
            let short = |s: &str, n: usize| s.chars().take(n).collect::<String>();
            out.push_str(&format!(
                "{:<14} {:<18} {:<14} {:<16} {:<22} {:<20} {:<8} {}\n",
                r.region,
                r.context,
                d.map_or("-".into(), |d| short(&d.revision, 12)),
                d.map_or("-".into(), |d| short(
                    d.digest.trim_start_matches("sha256:"),
                    12
                )),
                d.map_or("-".into(), |d| short(&d.time, 19)),
                d.map_or("-".into(), |d| d.user.clone()),
                d.map_or("-".into(), |d| d.health.to_string()),
                r.error
                    .as_ref()
                    .map_or(r.drift.to_string(), |e| format!("error: {e}")),
            ));
            for object in &r.drifted {
                out.push_str(&format!("  {object}\n"));
            }
            if let Some(b) = &r.backups {
                out.push_str(&backup::backup_lines(b));
            }
        }
        out.push_str(&drill_lines(&report.drills));
        self.raw(&out);
    }

    pub fn history_report(&self, entries: &[HistoryEntry]) {
        if self.format != Format::Text {
            return self.json(&entries);
        }
        let mut out = String::new();
        for e in entries {
            let here = if e.deployed_in.is_empty() {
                String::new()
            } else {
                format!("  <- {}", e.deployed_in.join(", "))
            };
            out.push_str(&format!(
                "{} {}{here}\n",
                &e.commit[..12.min(e.commit.len())],
                e.summary
            ));
            for (region, digest) in &e.digests {
                out.push_str(&format!("    {region:<14} {digest}\n"));
            }
        }
        self.raw(&out);
    }

    /// Asks on the terminal; anything but y/yes is no.
    pub fn confirm(&self, question: &str) -> bool {
        let mut err = io::stderr().lock();
        let _ = write!(err, "{question} [y/N] ");
        let _ = err.flush();
        let mut answer = String::new();
        io::stdin().read_line(&mut answer).is_ok() && matches!(answer.trim(), "y" | "Y" | "yes")
    }

    pub fn validate_report(&self, report: &ValidateReport) {
        match self.format {
            Format::Json => return self.json(report),
            Format::Sarif => return self.json(&sarif(&report.findings)),
            Format::Text => {}
        }
        let mut out = String::new();
        for f in &report.findings {
            out.push_str(&self.finding(f, report.strict));
        }
        if let (Some(loss), Some(rows)) = (&report.lose, &report.what_if) {
            out.push_str(&self.what_if_table(loss, rows));
        }
        out.push_str(&finding_counts(&report.findings));
        self.raw(&out);
    }

    /// One finding of the text report: where, how severe, which rule, and how to fix it.
    fn finding(&self, f: &Finding, strict: bool) -> String {
        let (label, code) = match (f.severity, &f.waived) {
            (_, Some(_)) => ("waived", "2"),
            (Severity::Error, _) => ("error", "31"),
            (Severity::Warning, _) if strict => ("error", "31"),
            (Severity::Warning, _) => ("warning", "33"),
            _ => ("info", "36"),
        };
        let place = match &f.region {
            Some(r) => format!("{}/{r}", f.environment),
            None => f.environment.clone(),
        };
        let mut out = format!(
            "{}:{}: {} {} [{}] {place}: {}\n  fix: {}\n",
            f.file,
            f.line,
            self.paint_out(code, label),
            f.rule,
            f.rule.name(),
            f.message,
            f.rule.fix()
        );
        if let Some(reason) = &f.waived {
            out.push_str(&format!("  waived: {reason}\n"));
        }
        out
    }

    /// The `--lose` table: per region and workload, what the loss leaves.
    fn what_if_table(&self, loss: &Loss, rows: &[Survival]) -> String {
        let lost = match loss {
            Loss::Region(r) => format!("region {r}"),
            Loss::Zone(z) => format!("zone {z}"),
        };
        let mut out = format!("\nIf {lost} is lost:\n");
        out.push_str(&format!(
            "  {:<24} {:<32} {:>8} {:>6} {:>8}  {}\n",
            "REGION", "WORKLOAD", "REPLICAS", "LEFT", "PDB MIN", "BUDGET"
        ));
        for s in rows {
            let left = if s.left_min == s.left_max {
                s.left_min.to_string()
            } else {
                format!("{}-{}", s.left_min, s.left_max)
            };
            let lost_region = matches!(loss, Loss::Region(r) if *r == s.region);
            let holds = match (lost_region, s.holds) {
                (true, true) => self.paint_out("2", "lost; the other regions carry the capacity"),
                (true, false) => {
                    self.paint_out("31", "lost; the other regions CANNOT carry the capacity")
                }
                (false, true) => self.paint_out("32", "holds"),
                (false, false) => self.paint_out("31", "BROKEN"),
            };
            out.push_str(&format!(
                "  {:<24} {:<32} {:>8} {:>6} {:>8}  {holds}\n",
                format!("{}/{}", s.environment, s.region),
                s.workload,
                s.replicas,
                left,
                s.pdb_minimum.map_or("-".into(), |m| m.to_string()),
            ));
            out.push_str(&after_zone_loss(loss, s));
        }
        out
    }
}

/// What the scheduler can bring back of a workload before a lost zone returns, when it differs
/// from what the loss left: the pods of a StatefulSet whose volumes lived in the zone stay
/// Pending.
fn after_zone_loss(loss: &Loss, s: &Survival) -> String {
    let Loss::Zone(zone) = loss else {
        return String::new();
    };
    if !s.pinned || s.left_max == s.replicas {
        return String::new();
    }
    let pending = if s.left_min == s.left_max {
        (s.replicas - s.left_min).to_string()
    } else {
        format!("{}-{}", s.replicas - s.left_max, s.replicas - s.left_min)
    };
    format!(
        "    {pending} of {} pods stay Pending until zone {zone} returns: their volumes live there (volume node affinity conflict)\n",
        s.replicas
    )
}

/// The last line of the text report: unwaived findings per severity, and the waived ones.
fn finding_counts(findings: &[Finding]) -> String {
    let count = |sev: Severity| {
        findings
            .iter()
            .filter(|f| f.waived.is_none() && f.severity == sev)
            .count()
    };
    format!(
        "{} errors, {} warnings, {} info, {} waived\n",
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
        findings.iter().filter(|f| f.waived.is_some()).count()
    )
}

/// SARIF 2.1.0: one run, the rule catalogue, one result per finding (waived ones suppressed).
fn sarif(findings: &[Finding]) -> serde_json::Value {
    let level = |s: Severity| match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        _ => "note",
    };
    let rules: Vec<serde_json::Value> = RuleId::ALL
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id(),
                "name": r.name(),
                "shortDescription": {"text": r.summary()},
                "help": {"text": r.fix()},
                "defaultConfiguration": {"level": level(r.default_severity())},
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            let mut r = serde_json::json!({
                "ruleId": f.rule,
                "ruleIndex": f.rule.index(),
                "level": level(f.severity),
                "message": {"text": format!("{}{}: {}", f.environment, f.region.as_ref().map(|r| format!("/{r}")).unwrap_or_default(), f.message)},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": f.file},
                    "region": {"startLine": f.line},
                }}],
            });
            if let Some(reason) = &f.waived {
                r["suppressions"] = serde_json::json!([{"kind": "inSource", "justification": reason}]);
            }
            r
        })
        .collect();
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "kubectl-hadr",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

/// Progress of long operations: plain lines on stderr, so they never mix with the report.
impl Progress for Printer {
    fn line(&self, text: &str) {
        let mut err = io::stderr().lock();
        if self.live {
            // Clear a status line first.
            let _ = write!(err, "\r\x1b[K");
        }
        let _ = writeln!(err, "{text}");
    }

    fn status(&self, text: &str) {
        let mut err = io::stderr().lock();
        if self.live {
            // One line, rewritten in place, cut to the terminal's usual width.
            let short: String = text.chars().take(150).collect();
            let _ = write!(err, "\r\x1b[K{short}");
            let _ = err.flush();
            return;
        }
        let mut last = self.last_status.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(5)) {
            let _ = writeln!(err, "{text}");
            *last = Some(std::time::Instant::now());
        }
    }
}

/// `N to create, N to change, N renamed, N to prune[, N to expire], N unchanged`: expiries
/// (hashed config beyond `--keep`) are named only when there are any.
fn drill_plan_text(p: &ZonePlan) -> String {
    let nodes: Vec<String> = p
        .nodes
        .iter()
        .map(|n| {
            if n.was_cordoned {
                format!("{} (already cordoned: left as it is)", n.name)
            } else {
                n.name.clone()
            }
        })
        .collect();
    let mut out = format!(
        "drill (dry run): zone {} of region {}\n  1. cordon and mark hadr.dev/drill: {}\n  2. evict through the Eviction API ({} pod(s)):\n",
        p.zone,
        p.region,
        nodes.join(", "),
        p.evictions.len()
    );
    for e in &p.evictions {
        out.push_str(&format!("       {e}\n"));
    }
    out.push_str(&format!(
        "  3. watch until fully available: {}\n  4. uncordon the nodes it cordoned (also on error and Ctrl-C)\n",
        p.workloads.join(", ")
    ));
    out
}

fn cleanup_text(regions: &[crate::drill::CleanedUp]) -> String {
    let mut out = String::new();
    for r in regions {
        if r.nodes.is_empty() && r.namespaces.is_empty() {
            out.push_str(&format!("{}: nothing left by a drill\n", r.region));
        }
        for (node, drill) in &r.nodes {
            out.push_str(&format!(
                "{}: uncordoned {node} (left by drill {drill})\n",
                r.region
            ));
        }
        for (namespace, drill) in &r.namespaces {
            out.push_str(&format!(
                "{}: deleted namespace {namespace} (left by drill {drill})\n",
                r.region
            ));
        }
    }
    out
}

/// What a rollout did to an object, in the report.
fn past(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Change => "changed",
        Action::Rename => "renamed",
        Action::Prune => "pruned",
        Action::Expire => "expired",
        Action::Replace => "replaced",
        Action::Unchanged => "unchanged",
        Action::Error => "failed",
    }
}

fn summary_line(s: &crate::plan::Summary) -> String {
    let optional = |n: usize, what: &str| {
        if n > 0 {
            format!(", {n} {what}")
        } else {
            String::new()
        }
    };
    format!(
        "{} to create, {} to change, {} renamed, {} to prune{}{}, {} unchanged{}",
        s.create,
        s.change,
        s.rename,
        s.prune,
        optional(s.expire, "to expire"),
        optional(s.replace, "to replace"),
        s.unchanged,
        optional(s.error, "with errors"),
    )
}

/// `last drill: ...` under `status`: the newest drill on record, the newest pass if it is
/// another, and whether `dr.drillEvery` is overdue. Nothing without drills or `drillEvery`.
fn drill_lines(d: &crate::report::DrillStatus) -> String {
    use crate::drill::history::DrillRecord;
    let line = |label: &str, r: &DrillRecord| {
        let verdict = match r.verdict {
            crate::drill::Verdict::Pass => "passed",
            crate::drill::Verdict::Fail => "FAILED",
        };
        format!(
            "{label}: {} {} drill, {}: {verdict} ({})\n",
            r.started,
            r.drill,
            r.lost,
            r.path.display()
        )
    };
    let mut out = String::new();
    if let Some(e) = &d.error {
        out.push_str(&format!("drills: error: {e}\n"));
    }
    match (&d.last, &d.last_passed) {
        (Some(last), passed) => {
            out.push_str(&line("last drill", last));
            if let Some(p) = passed.as_ref().filter(|p| p.id != last.id) {
                out.push_str(&line("last passing drill", p));
            }
        }
        (None, _) if d.every_seconds.is_some() => out.push_str("last drill: none on record\n"),
        (None, _) => {}
    }
    if d.overdue {
        let every = d.every_seconds.map_or(String::new(), |s| {
            crate::environment::cron::format_seconds(i64::try_from(s).unwrap_or(i64::MAX))
        });
        out.push_str(&format!(
            "drill overdue: no drill passed within dr.drillEvery ({every}); validate reports DR009\n"
        ));
    }
    out
}
