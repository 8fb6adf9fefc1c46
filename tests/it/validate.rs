//! `kubectl hadr validate`: outputs (text, JSON, SARIF), exit codes, what-if, and the gate on
//! `render --commit`.

use predicates::str::contains;

use crate::support::snapshot::filters;
use crate::support::workspace::{Workspace, environment};

/// One replica, no PDB, no spread, `latest`, a backup that misses the weekend, in a region
/// that must survive a region loss on its own.
fn weak() -> Workspace {
    let ws = Workspace::empty();
    ws.write(
        "environments/weak.yaml",
        "apiVersion: hadr.dev/v1alpha1
kind: Environment
spec:
  app: {name: web, image: example.com/web:latest, replicas: 1}
  ha: {spread: [], antiAffinity: none, survive: region}
  dr: {rpo: 24h, backup: {schedule: '0 */6 * * 1-5', ttl: 12h}}
  regions:
    - {name: east, context: shared}
",
    );
    ws
}

fn output(ws: &Workspace, args: &[&str], code: i32) -> String {
    let out = ws
        .hadr(args)
        .assert()
        .code(code)
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out)
        .unwrap()
        .replace(&ws.root().display().to_string(), "[ROOT]")
}

/// A run of the binary in `ws` as a snapshot: exit code, stdout and stderr, shared filters.
fn run(ws: &Workspace, args: &[&str]) -> String {
    crate::support::snapshot::cli(&mut ws.hadr(args))
}

#[test]
fn weak_environment_text_report() {
    let ws = weak();
    let _filters = filters(&ws.root().display().to_string()).bind_to_scope();
    insta::assert_snapshot!(run(&ws, &["validate"]));
}

#[test]
fn weak_environment_json_report() {
    let ws = weak();
    let text = output(&ws, &["validate", "-o", "json"], 1);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    for id in [
        "HA001", "HA002", "HA004", "HA005", "HA008", "MR001", "DR002", "DR003",
    ] {
        assert!(rules.contains(&id), "{id} missing from {rules:?}");
    }
    insta::assert_snapshot!(text);
}

#[test]
fn weak_environment_sarif_report() {
    let ws = weak();
    let text = output(&ws, &["validate", "-o", "sarif"], 1);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "kubectl-hadr");
    for r in run["results"].as_array().unwrap() {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(run["tool"]["driver"]["rules"][idx]["id"], r["ruleId"]);
        assert!(
            r["locations"][0]["physicalLocation"]["region"]["startLine"]
                .as_u64()
                .unwrap()
                >= 1
        );
    }
    insta::assert_snapshot!(text.replace(env!("CARGO_PKG_VERSION"), "[VERSION]"));
}

#[test]
fn the_shipped_examples_are_clean_and_survive_a_zone_and_a_region_loss() {
    let ws = Workspace::examples();
    ws.hadr(&["validate", "--strict"]).assert().success();
    let _filters = filters(&ws.root().display().to_string()).bind_to_scope();
    insta::assert_snapshot!(run(&ws, &["validate", "prod", "--lose", "zone=eastus2-1"]));
    ws.hadr(&["validate", "prod", "--lose", "region=centralus"])
        .assert()
        .success()
        .stdout(contains("lost; the other regions carry the capacity"));
}

#[test]
fn a_loss_the_environment_does_not_survive_exits_1() {
    let ws = Workspace::empty();
    ws.write(
        "environments/dev.yaml",
        environment("dev", "  ha: {disruptionBudget: {minAvailable: 2}}\n").replace(
            "image: example.com/web:1.0.0",
            "image: example.com/web:1.0.0\n    replicas: 2",
        ),
    );
    ws.hadr(&["validate", "--lose", "zone=east-1"])
        .assert()
        .code(1)
        .stdout(contains("BROKEN"));
    ws.hadr(&["validate", "--lose", "zone=nowhere"])
        .assert()
        .code(2)
        .stderr(contains("no such zone"));
}

#[test]
fn strict_turns_warnings_into_a_failure_and_waivers_need_only_a_reason() {
    let ws = Workspace::empty();
    ws.write(
        "environments/dev.yaml",
        environment(
            "dev",
            "  ha: {spread: [hostname], disruptionBudget: {maxUnavailable: 1}}\n",
        )
        .replace(
            "image: example.com/web:1.0.0",
            "image: example.com/web:1.0.0\n    replicas: 2",
        ),
    );
    ws.hadr(&["validate"])
        .assert()
        .success()
        .stdout(contains("warning HA004"));
    ws.hadr(&["validate", "--strict"]).assert().code(1);
    let waived = ws.read("environments/dev.yaml")
        + "  policy:\n    waivers: [{rule: HA004, reason: single-zone lab cluster}]\n";
    ws.write("environments/dev.yaml", waived);
    ws.hadr(&["validate", "--strict"])
        .assert()
        .success()
        .stdout(contains("waived: single-zone lab cluster"));
    let typo = ws
        .read("environments/dev.yaml")
        .replace("rule: HA004", "rule: HA04");
    ws.write("environments/dev.yaml", typo);
    ws.hadr(&["validate"])
        .assert()
        .code(2)
        .stderr(contains("unknown rule `HA04`"));
}

#[test]
fn render_commit_refuses_error_level_violations_and_names_the_rules() {
    let ws = weak();
    git2::Repository::init(ws.root()).unwrap();
    ws.hadr(&["render", "--commit"])
        .assert()
        .code(2)
        .stderr(contains("refusing to commit"))
        .stderr(contains("HA001 min-replicas weak/east"))
        .stderr(contains("--allow-violations"));
    assert!(!ws.root().join("rendered").exists());
    // Rendering without committing is not gated; committing can be forced explicitly.
    ws.hadr(&["render"]).assert().success();
    ws.hadr(&["render", "--commit", "--allow-violations"])
        .assert()
        .success();
}
