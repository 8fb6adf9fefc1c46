//! What a newcomer copies: the shipped example environments against the local regions, and the
//! GitHub Actions recipes in `examples/ci/github-actions/`, judged by actionlint built from its
//! Go module (`testenv/tools/oracles/actionlint`).

use std::path::PathBuf;
use std::process::Command;

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

use crate::support::testenv;
use crate::support::workspace::{Workspace, repo_root};

fn workflows() -> Vec<PathBuf> {
    let dir = repo_root().join("examples/ci/github-actions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    files
}

/// Every `kubectl-hadr VERB --flag` in the recipes: the verb and each flag of its line.
fn invocations() -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    for file in workflows() {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines() {
            let Some(at) = line.find("kubectl-hadr ") else {
                continue;
            };
            let mut words = line[at + "kubectl-hadr ".len()..].split_whitespace();
            let verb = words.next().unwrap_or_default().to_string();
            let flags = words
                .filter(|w| w.starts_with("--"))
                .map(String::from)
                .collect();
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, verb, flags));
        }
    }
    out
}

#[test]
fn the_ci_recipes_use_only_commands_and_flags_that_exist() {
    let ws = Workspace::empty();
    let found = invocations();
    assert!(found.iter().any(|(_, v, _)| v == "rollout"), "{found:?}");
    for (file, verb, flags) in found {
        let out = ws.hadr(&[verb.as_str(), "--help"]).output().unwrap();
        assert!(out.status.success(), "{file}: no command `{verb}`");
        let help = String::from_utf8_lossy(&out.stdout);
        for flag in flags {
            assert!(
                help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                "{file}: `{verb}` has no {flag}"
            );
        }
    }
}

#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn the_ci_recipes_pass_actionlint_and_a_broken_one_does_not() {
    let actionlint = testenv::oracle("actionlint");
    let out = Command::new(&actionlint)
        .args(["-no-color", "-oneline"])
        .args(workflows())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "actionlint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The judge is awake: a job that needs a job that does not exist is an error.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&workflows()[0]).unwrap();
    let broken = dir.path().join("broken.yml");
    std::fs::write(&broken, text.replace("needs: eastus2", "needs: westeurope")).unwrap();
    let out = Command::new(&actionlint)
        .args(["-no-color", "-oneline"])
        .arg(&broken)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && said.contains("westeurope"),
        "{said}"
    );
}

#[test]
#[ignore = "needs testenv: scripts/test runs it"]
fn the_shipped_examples_diff_against_the_local_regions_by_their_own_context_names() {
    // The examples render Velero Schedules: their regions need Velero's CRDs, or diff exits 2.
    let _store = crate::backup::STORE.blocking_read();
    testenv::ensure_velero(&["eastus2", "centralus"]);
    let ws = Workspace::examples();
    ws.hadr(&["render"]).assert().success();
    // Exit 0 (nothing to change) or 1 (changes: nothing of the examples is deployed on a fresh
    // control plane), as `kubectl diff`; 2 would be a region that could not be read.
    let deployed_or_not = predicates::ord::eq(0).or(predicates::ord::eq(1));
    ws.hadr(&["diff", "prod", "--kubeconfig"])
        .arg(testenv::kubeconfig_path())
        .assert()
        .code(deployed_or_not)
        .stderr("")
        .stdout(contains("prod/eastus2 (prod-eastus2): "))
        .stdout(contains("prod/centralus (prod-centralus): "));
    ws.hadr(&["diff", "staging", "--kubeconfig"])
        .arg(testenv::kubeconfig_path())
        .assert()
        .code(deployed_or_not)
        .stderr("")
        .stdout(contains("staging/eastus2 (staging-eastus2): "));
}
