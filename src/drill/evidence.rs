//! A drill's evidence on disk (`--report DIR`) and in git (`--commit`):
//!
//! - `report.json`: `{"apiVersion": "hadr.dev/v1alpha1", "kind": "DrillReport", "drill":
//!   "zone"|"region", "environment", "id", "started" (RFC 3339), "seconds", "verdict":
//!   "pass"|"fail", "lost" (what was lost, in words), "rto_seconds" (achieved, per path or
//!   the slowest workload; `null` if not reached), "objectives" (see [`Objective`]),
//!   "findings", "timeline" (`{t, workload, available, desired}`), "report" (the whole
//!   report, as `-o json` prints it)}`;
//! - `report.md`: what was lost, the objectives table, the timeline, the findings;
//! - `timeline.svg`: available replicas per workload over time, with the achieved RTO as
//!   vertical lines and each PDB minimum as a horizontal one (plotters' SVG backend).
//!
//! `--commit` adds exactly these files under `drills/<env>/<date>-<id>/` of the repository
//! and makes one commit of only them on HEAD, with the verdict in the message.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use super::objective::{Objective, seconds_text};
use super::region::RegionDrillReport;
use super::{DrillReport, Sample, Verdict};

/// The files of a report, in the order they are written.
pub const FILES: [&str; 3] = ["report.json", "report.md", "timeline.svg"];

/// A drill report of either kind, as the evidence files read it.
#[derive(Debug, Clone, Copy)]
pub enum Evidence<'a> {
    Zone(&'a DrillReport),
    Region(&'a RegionDrillReport),
}

/// Where the evidence went.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub directory: PathBuf,
    pub files: Vec<PathBuf>,
    /// The commit made with `--commit`, and the directory of the repository it added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub committed_to: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("{}: cannot write the drill report: {message}\n  help: check that the directory is writable", .path.display())]
    Write { path: PathBuf, message: String },
    #[error("{}: cannot commit the drill report: {message}\n  help: --commit needs a git repository with a committer (user.name, user.email)", .path.display())]
    Git {
        path: PathBuf,
        message: String,
        #[source]
        source: git2::Error,
    },
}

/// A series of the timeline: a workload's available replicas at each change.
struct Series<'a> {
    name: &'a str,
    points: Vec<(f64, u32)>,
}

impl<'a> Evidence<'a> {
    fn kind(self) -> &'static str {
        match self {
            Evidence::Zone(_) => "zone",
            Evidence::Region(_) => "region",
        }
    }

    pub fn environment(self) -> &'a str {
        match self {
            Evidence::Zone(r) => &r.environment,
            Evidence::Region(r) => &r.environment,
        }
    }

    pub fn id(self) -> &'a str {
        match self {
            Evidence::Zone(r) => &r.id,
            Evidence::Region(r) => &r.id,
        }
    }

    fn started(self) -> &'a str {
        match self {
            Evidence::Zone(r) => &r.started,
            Evidence::Region(r) => &r.started,
        }
    }

    fn seconds(self) -> f64 {
        match self {
            Evidence::Zone(r) => r.seconds,
            Evidence::Region(r) => r.seconds,
        }
    }

    pub fn verdict(self) -> Verdict {
        match self {
            Evidence::Zone(r) => r.verdict,
            Evidence::Region(r) => r.verdict,
        }
    }

    /// What was lost, in words.
    pub fn lost(self) -> String {
        match self {
            Evidence::Zone(r) => format!("lost zone {} of region {}", r.zone, r.region),
            Evidence::Region(r) => format!(
                "lost region {}, recovered into {} from backup and from git",
                r.lost, r.restore_into
            ),
        }
    }

    fn objectives(self) -> &'a [Objective] {
        match self {
            Evidence::Zone(r) => &r.objectives,
            Evidence::Region(r) => &r.objectives,
        }
    }

    fn findings(self) -> &'a [String] {
        match self {
            Evidence::Zone(r) => &r.findings,
            Evidence::Region(r) => &r.findings,
        }
    }

    fn timeline(self) -> &'a [Sample] {
        match self {
            Evidence::Zone(r) => &r.timeline,
            Evidence::Region(r) => &r.timeline,
        }
    }

    /// The achieved RTO lines: (label, seconds) per recovery path, or the slowest workload of
    /// a zone drill.
    fn rto_lines(self) -> Vec<(String, Option<f64>)> {
        match self {
            Evidence::Zone(r) => vec![(
                "RTO".into(),
                r.workloads
                    .iter()
                    .map(|w| w.recovered_after)
                    .try_fold(0.0_f64, |m, t| t.map(|t| m.max(t))),
            )],
            Evidence::Region(r) => r
                .recoveries
                .iter()
                .map(|p| (format!("RTO {}", p.path), p.rto_seconds))
                .collect(),
        }
    }

    /// Each workload's PDB minimum: (series name prefix, minimum).
    fn pdb_minimums(self) -> Vec<(String, u32)> {
        match self {
            Evidence::Zone(r) => r
                .workloads
                .iter()
                .filter_map(|w| w.pdb_minimum.map(|m| (w.workload.clone(), m)))
                .collect(),
            Evidence::Region(r) => r
                .survivors
                .iter()
                .filter_map(|s| s.pdb_minimum.map(|m| (s.workload.clone(), m)))
                .collect(),
        }
    }

    fn series(self) -> Vec<Series<'a>> {
        let mut out: Vec<Series<'a>> = Vec::new();
        for s in self.timeline() {
            match out.iter_mut().find(|x| x.name == s.workload) {
                Some(x) => x.points.push((s.t, s.available)),
                None => out.push(Series {
                    name: &s.workload,
                    points: vec![(s.t, s.available)],
                }),
            }
        }
        out
    }

    fn report_value(self) -> Value {
        match self {
            Evidence::Zone(r) => serde_json::to_value(r),
            Evidence::Region(r) => serde_json::to_value(r),
        }
        .unwrap_or(Value::Null)
    }
}

/// `report.json`'s document (the shape in the module's docs).
pub fn json(ev: Evidence<'_>) -> Value {
    let rto: Vec<Value> = ev
        .rto_lines()
        .into_iter()
        .map(|(label, s)| json!({"label": label, "seconds": s}))
        .collect();
    json!({
        "apiVersion": "hadr.dev/v1alpha1",
        "kind": "DrillReport",
        "drill": ev.kind(),
        "environment": ev.environment(),
        "id": ev.id(),
        "started": ev.started(),
        "seconds": ev.seconds(),
        "verdict": ev.verdict(),
        "lost": ev.lost(),
        "rto": rto,
        "objectives": ev.objectives(),
        "findings": ev.findings(),
        "timeline": ev.timeline(),
        "report": ev.report_value(),
    })
}

/// `report.md`: a person's summary.
pub fn markdown(ev: Evidence<'_>) -> String {
    let verdict = match ev.verdict() {
        Verdict::Pass => "passed",
        Verdict::Fail => "FAILED",
    };
    let mut md = format!(
        "# Drill {} of {}: {verdict}\n\n- **What:** {}\n- **Started (t0):** {}\n- **Took:** {}\n",
        ev.id(),
        ev.environment(),
        ev.lost(),
        ev.started(),
        seconds_text(ev.seconds())
    );
    for (label, s) in ev.rto_lines() {
        md.push_str(&format!(
            "- **{label} achieved:** {}\n",
            s.map_or("not reached".into(), seconds_text)
        ));
    }
    md.push_str("\n## Objectives\n\n| objective | scope | target | achieved | result |\n|---|---|---|---|---|\n");
    for o in ev.objectives() {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            o.objective,
            o.scope,
            o.target,
            o.achieved_text(),
            if o.met { "met" } else { "**missed**" }
        ));
    }
    md.push_str("\n## Timeline\n\n![available replicas over time](timeline.svg)\n\n| t (s) | workload | available | desired |\n|---:|---|---:|---:|\n");
    for s in ev.timeline() {
        md.push_str(&format!(
            "| {:.1} | {} | {} | {} |\n",
            s.t, s.workload, s.available, s.desired
        ));
    }
    md.push_str("\n## Findings\n\n");
    if ev.findings().is_empty() {
        md.push_str("None.\n");
    }
    for f in ev.findings() {
        md.push_str(&format!("- {}\n", f.replace('\n', " ")));
    }
    md
}

/// `timeline.svg`: one step line per workload, the achieved RTO as vertical lines, each PDB
/// minimum as a horizontal dashed line.
pub fn svg(ev: Evidence<'_>) -> String {
    use plotters::prelude::*;
    let series = ev.series();
    let rto = ev.rto_lines();
    let end = rto
        .iter()
        .filter_map(|(_, s)| *s)
        .chain(std::iter::once(ev.seconds()))
        .fold(1.0_f64, f64::max)
        * 1.1;
    let top = ev
        .timeline()
        .iter()
        .map(|s| s.desired.max(s.available))
        .max()
        .unwrap_or(1)
        + 1;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (900, 480)).into_drawing_area();
        let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(format!("{}: {}", ev.id(), ev.lost()), ("sans-serif", 16))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(44)
                .build_cartesian_2d(0.0..end, 0u32..top)?;
            chart
                .configure_mesh()
                .x_desc("seconds after t0")
                .y_desc("available replicas")
                .draw()?;
            // Red is the RTO's and green the PDB minimum's: the workloads get other colours.
            let colors = [
                BLUE,
                MAGENTA,
                CYAN,
                BLACK,
                RGBColor(255, 140, 0),
                RGBColor(128, 0, 128),
            ];
            for (i, s) in series.iter().enumerate() {
                let color = colors[i % colors.len()].to_rgba();
                let mut steps = Vec::new();
                for (j, (t, n)) in s.points.iter().enumerate() {
                    if j > 0 {
                        steps.push((*t, s.points[j - 1].1));
                    }
                    steps.push((*t, *n));
                }
                if let Some(last) = s.points.last() {
                    steps.push((end, last.1));
                }
                chart
                    .draw_series(LineSeries::new(steps, color.stroke_width(2)))?
                    .label(s.name.to_string())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
            }
            for (label, t) in rto.iter().filter_map(|(l, t)| t.map(|t| (l, t))) {
                chart
                    .draw_series(LineSeries::new(vec![(t, 0), (t, top)], RED.stroke_width(1)))?
                    .label(format!("{label} {}", seconds_text(t)))
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED));
            }
            for (name, min) in ev.pdb_minimums() {
                let dashes =
                    DashedLineSeries::new(vec![(0.0, min), (end, min)], 6, 4, GREEN.into());
                chart
                    .draw_series(dashes)?
                    .label(format!("PDB minimum {name}: {min}"))
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], GREEN));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .position(SeriesLabelPosition::LowerRight)
                .draw()?;
            root.present()?;
            Ok(())
        })();
        // Drawing into a String fails only on a bug in the chart's ranges; the report files
        // still get an (empty) chart rather than no report at all.
        let _ = drawn;
    }
    out
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), EvidenceError> {
    std::fs::write(path, bytes).map_err(|e| EvidenceError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Writes the three files into `dir` (created if needed); returns their paths.
pub fn write(dir: &Path, ev: Evidence<'_>) -> Result<Vec<PathBuf>, EvidenceError> {
    std::fs::create_dir_all(dir).map_err(|e| EvidenceError::Write {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut json_text = serde_json::to_string_pretty(&json(ev)).unwrap_or_default();
    json_text.push('\n');
    let contents = [json_text, markdown(ev), svg(ev)];
    let mut paths = Vec::new();
    for (name, text) in FILES.iter().zip(contents) {
        let path = dir.join(name);
        write_file(&path, text.as_bytes())?;
        paths.push(path);
    }
    Ok(paths)
}

/// `drills/<env>/<YYYY-MM-DD>-<id>`: where `--commit` keeps a drill's report.
pub fn commit_dir(ev: Evidence<'_>) -> PathBuf {
    let date: String = ev.started().chars().take(10).collect();
    Path::new("drills")
        .join(ev.environment())
        .join(format!("{date}-{}", ev.id()))
}

/// Writes the report under `drills/...` of the repository holding `root` and commits exactly
/// those files on HEAD (other staged or unstaged changes stay out of the commit). Returns the
/// commit id.
pub fn commit(root: &Path, ev: Evidence<'_>) -> Result<(Written, String), EvidenceError> {
    let git = |message: &str, source: git2::Error| EvidenceError::Git {
        path: root.to_path_buf(),
        message: format!("{message}: {}", source.message()),
        source,
    };
    let repo = git2::Repository::discover(root).map_err(|e| git("not a git repository", e))?;
    let workdir = repo
        .workdir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.to_path_buf());
    let rel = commit_dir(ev);
    let files = write(&workdir.join(&rel), ev)?;
    let head = repo
        .head()
        .and_then(|h| h.peel_to_commit())
        .map_err(|e| git("no commit at HEAD", e))?;
    let mut index = git2::Index::new().map_err(|e| git("index", e))?;
    index
        .read_tree(&head.tree().map_err(|e| git("HEAD's tree", e))?)
        .map_err(|e| git("HEAD's tree", e))?;
    let mut staged = repo.index().map_err(|e| git("the index", e))?;
    for name in FILES {
        let path = rel.join(name);
        let bytes = std::fs::read(workdir.join(&path)).map_err(|e| EvidenceError::Write {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let blob = repo.blob(&bytes).map_err(|e| git("add", e))?;
        index
            .add(&index_entry(&path, bytes.len(), blob))
            .map_err(|e| git("add", e))?;
        staged.add_path(&path).map_err(|e| git("add", e))?;
    }
    staged.write().map_err(|e| git("the index", e))?;
    let tree_id = index.write_tree_to(&repo).map_err(|e| git("tree", e))?;
    let tree = repo.find_tree(tree_id).map_err(|e| git("tree", e))?;
    let sig = repo.signature().map_err(|e| git("no committer", e))?;
    let message = commit_message(ev);
    let id = repo
        .commit(Some("HEAD"), &sig, &sig, &message, &tree, &[&head])
        .map_err(|e| git("commit", e))?;
    let written = Written {
        directory: rel.clone(),
        files,
        commit: Some(id.to_string()),
        committed_to: Some(rel),
    };
    Ok((written, id.to_string()))
}

fn index_entry(path: &Path, len: usize, id: git2::Oid) -> git2::IndexEntry {
    git2::IndexEntry {
        ctime: git2::IndexTime::new(0, 0),
        mtime: git2::IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode: 0o100_644,
        uid: 0,
        gid: 0,
        file_size: len as u32,
        id,
        flags: 0,
        flags_extended: 0,
        path: path.to_string_lossy().replace('\\', "/").into_bytes(),
    }
}

/// `drill prod: region eastus2 lost, ...: passed`, then one line per objective.
pub fn commit_message(ev: Evidence<'_>) -> String {
    let verdict = match ev.verdict() {
        Verdict::Pass => "passed",
        Verdict::Fail => "failed",
    };
    let mut m = format!(
        "drill {}: {}: {verdict}\n\nDrill {} at {}.\n",
        ev.environment(),
        ev.lost(),
        ev.id(),
        ev.started()
    );
    for o in ev.objectives() {
        m.push_str(&format!(
            "{} ({}): target {}, achieved {}: {}\n",
            o.objective,
            o.scope,
            o.target,
            o.achieved_text(),
            if o.met { "met" } else { "missed" }
        ));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::super::objective::ObjectiveKind;
    use super::super::region::{Path as RecoveryPath, Recovery, SurvivorLoad};
    use super::*;

    fn sample(t: f64, workload: &str, available: u32) -> Sample {
        Sample {
            t,
            workload: workload.into(),
            available,
            desired: 2,
        }
    }

    fn recovery(path: RecoveryPath, rto: f64) -> Recovery {
        Recovery {
            path,
            namespace: format!("shop-drill-x-{path:?}").to_lowercase(),
            source: Some("b1".into()),
            source_time: None,
            rto_seconds: Some(rto),
            rpo_seconds: None,
            restore: None,
            compared: 5,
            differences: Vec::new(),
            note: String::new(),
            error: None,
        }
    }

    fn report() -> RegionDrillReport {
        RegionDrillReport {
            environment: "shop".into(),
            id: "region-eastus2-t1".into(),
            lost: "eastus2".into(),
            restore_into: "centralus".into(),
            started: "2026-11-30T09:00:00Z".into(),
            seconds: 6.0,
            revision: Some("abc".into()),
            recoveries: vec![
                recovery(RecoveryPath::Backup, 5.4),
                recovery(RecoveryPath::Git, 0.9),
            ],
            survivors: vec![SurvivorLoad {
                region: "centralus".into(),
                workload: "Deployment/web".into(),
                available: 2,
                desired: 2,
                pdb_minimum: Some(1),
            }],
            timeline: vec![
                sample(0.1, "from git: Deployment/web", 0),
                sample(0.9, "from git: Deployment/web", 2),
                sample(0.2, "from backup: Deployment/web", 0),
                sample(5.4, "from backup: Deployment/web", 2),
            ],
            objectives: vec![
                Objective::at_most(ObjectiveKind::Rto, "from backup", "1s", Some(5.4)).unwrap(),
            ],
            findings: vec!["dr.rto (from backup) missed: target 1s, achieved 5.4s".into()],
            removed: true,
            evidence: None,
            evidence_error: None,
            verdict: Verdict::Fail,
        }
    }

    #[test]
    fn the_json_has_the_documented_shape() {
        let r = report();
        let v = json(Evidence::Region(&r));
        for key in [
            "apiVersion",
            "kind",
            "drill",
            "environment",
            "id",
            "started",
            "seconds",
            "verdict",
            "lost",
            "rto",
            "objectives",
            "findings",
            "timeline",
            "report",
        ] {
            assert!(v.get(key).is_some(), "{key} missing");
        }
        assert_eq!(v["kind"], "DrillReport");
        assert_eq!(v["drill"], "region");
        assert_eq!(v["verdict"], "fail");
        assert_eq!(v["rto"][0]["label"], "RTO from backup");
        assert_eq!(v["objectives"][0]["objective"], "dr.rto");
        assert_eq!(v["report"]["recoveries"][1]["path"], "git");
    }

    #[test]
    fn the_markdown_has_its_sections_and_the_objectives_table() {
        let r = report();
        let md = markdown(Evidence::Region(&r));
        assert!(
            md.starts_with("# Drill region-eastus2-t1 of shop: FAILED\n"),
            "{md}"
        );
        for section in ["## Objectives", "## Timeline", "## Findings"] {
            assert!(md.contains(section), "{section}: {md}");
        }
        assert!(
            md.contains("| dr.rto | from backup | 1s | 5.4s | **missed** |"),
            "{md}"
        );
        assert!(md.contains("- **RTO from git achieved:** 0.9s"), "{md}");
    }

    #[test]
    fn the_svg_is_one_document_with_a_line_per_workload_rto_and_pdb() {
        let r = report();
        let svg = svg(Evidence::Region(&r));
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("from backup: Deployment/web"));
        assert!(svg.contains("RTO from git 0.9s"));
        assert!(svg.contains("PDB minimum Deployment/web: 1"));
        assert!(svg.matches("<polyline").count() >= 4, "{svg}");
    }

    #[test]
    fn commit_adds_exactly_the_report_files_in_one_commit_on_head() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        let mut cfg = repo.config().unwrap();
        cfg.set_str("user.name", "T").unwrap();
        cfg.set_str("user.email", "t@example.com").unwrap();
        std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("a.txt")).unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = repo.signature().unwrap();
        let first = repo
            .commit(Some("HEAD"), &sig, &sig, "first", &tree, &[])
            .unwrap();
        // An unrelated change, not to be committed by the drill.
        std::fs::write(dir.path().join("a.txt"), "changed").unwrap();

        let r = report();
        let (written, id) = commit(dir.path(), Evidence::Region(&r)).unwrap();
        let head = repo.head().unwrap().peel_to_commit().unwrap();
        assert_eq!(head.id().to_string(), id);
        assert_eq!(head.parent_id(0).unwrap(), first);
        assert!(
            head.message()
                .unwrap()
                .starts_with("drill shop: lost region eastus2")
        );
        assert!(head.message().unwrap().contains(": failed\n"));
        let diff = repo
            .diff_tree_to_tree(Some(&tree), Some(&head.tree().unwrap()), None)
            .unwrap();
        let paths: Vec<String> = diff
            .deltas()
            .map(|d| d.new_file().path().unwrap().display().to_string())
            .collect();
        let base = "drills/shop/2026-11-30-region-eastus2-t1";
        assert_eq!(paths, FILES.map(|f| format!("{base}/{f}")));
        assert_eq!(written.directory, Path::new(base));
        let blob = head.tree().unwrap().get_path(Path::new("a.txt")).unwrap();
        assert_eq!(repo.find_blob(blob.id()).unwrap().content(), b"a");
    }
}
