//! Velero Schedules as the Velero version of each region reads them (issue 13, items 1 to 3):
//! `render` refuses a schedule or ttl Velero would refuse, and `validate`'s DR002 computes the
//! backup gap with that version's cron library. The libraries themselves are compared with our
//! reader in cron_oracles.rs.

use predicates::str::contains;

use crate::support::workspace::{Workspace, environment};

/// An environment `dev` with `dr` as given (a flow mapping) and regions `east` (and `west`,
/// when `west_velero` is set, running that Velero version).
fn env_with(dr: &str, west_velero: Option<&str>) -> Workspace {
    let ws = Workspace::empty();
    let mut text = environment("dev", "");
    if let Some(v) = west_velero {
        text.push_str(&format!(
            "    - {{name: west, context: ctx-west, velero: '{v}'}}\n"
        ));
    }
    text.push_str(&format!("  dr: {dr}\n"));
    ws.write("environments/dev.yaml", text);
    ws
}

/// The stdout of a run (other rules may fail the minimal environment: the exit code is theirs).
fn stdout(ws: &Workspace, args: &[&str]) -> String {
    let out = ws.hadr(args).output().unwrap().stdout;
    String::from_utf8(out).unwrap()
}

/// The value of `key:` in the rendered Velero Schedule of region `east`, unquoted.
fn rendered(ws: &Workspace, key: &str) -> String {
    let text = ws.read("rendered/dev/east/velero.io_schedule_velero_web-dev.yaml");
    let line = text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix(&format!("{key}:"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("no {key} in {text}"));
    line.trim().trim_matches('"').to_string()
}

#[test]
fn issue13_item1_the_gap_of_45_20_2_31_x_0_follows_the_velero_version() {
    let dr =
        |v: &str| format!("{{rpo: 72h, backup: {{schedule: '45 20 2-31 * 0', velero: '{v}'}}}}");
    // v1.18.3 (go-cron): only Sundays other than the 1st, so up to 14 days apart.
    let ws = env_with(&dr("1.18.3"), None);
    let out = stdout(&ws, &["validate"]);
    assert!(out.contains("DR002"), "{out}");
    assert!(
        out.contains("leaves up to 14d between backups under Velero 1.18.3"),
        "{out}"
    );
    // v1.18.1 (robfig): every day from the 2nd, or a Sunday: at most 2 days apart.
    let ws = env_with(&dr("1.18.1"), None);
    let out = stdout(&ws, &["validate"]);
    assert!(!out.contains("DR002"), "{out}");
    // The default is 1.18.3, and a region running 1.18.1 gets its own verdict.
    let ws = env_with(
        "{rpo: 72h, backup: {schedule: '45 20 2-31 * 0'}}",
        Some("1.18.1"),
    );
    let out = stdout(&ws, &["validate", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let gaps: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "DR002")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert!(
        gaps[0].contains("14d") && gaps[0].contains("1.18.3"),
        "{gaps:?}"
    );
}

#[test]
fn issue13_item1_sunday_as_7_is_an_error_for_velero_1_18_1_only() {
    let dr = |v: &str| format!("{{backup: {{schedule: '0 0 * * 7', velero: '{v}'}}}}");
    env_with(&dr("1.18.3"), None)
        .hadr(&["render"])
        .assert()
        .success();
    env_with(&dr("1.18.1"), None)
        .hadr(&["render"])
        .assert()
        .code(2)
        .stderr(contains("environments/dev.yaml:"))
        .stderr(contains("spec.dr.backup.schedule"))
        .stderr(contains("not a schedule Velero 1.18.1 accepts"))
        .stderr(contains("Sunday is 0; 7 is refused"));
    // A region that runs 1.18.1 is enough to refuse it, and the error names the region.
    env_with("{backup: {schedule: '0 0 * * 7'}}", Some("v1.18.1"))
        .hadr(&["render"])
        .assert()
        .code(2)
        .stderr(contains("region `west` runs it"));
}

#[test]
fn an_unknown_velero_version_is_an_error_listing_the_known_ones() {
    env_with("{backup: {schedule: '@daily', velero: '1.17.0'}}", None)
        .hadr(&["render"])
        .assert()
        .code(2)
        .stderr(contains("spec.dr.backup.velero"))
        .stderr(contains("one of 1.18.1, 1.18.3"));
}

#[test]
fn issue13_item2_ttl_7d_is_refused_with_168h_as_the_fix() {
    env_with("{backup: {schedule: '@daily', ttl: 7d}}", None)
        .hadr(&["render"])
        .assert()
        .code(2)
        .stderr(contains("environments/dev.yaml:"))
        .stderr(contains("spec.dr.backup.ttl"))
        .stderr(contains("unit `d`"))
        .stderr(contains("write `168h`"));
    env_with("{backup: {schedule: '@daily', ttl: -1h}}", None)
        .hadr(&["render"])
        .assert()
        .code(2)
        .stderr(contains("negative"));
}

#[test]
fn issue13_item2_ttl_1_5h_and_other_go_durations_render_as_written() {
    for ttl in ["1.5h", "1h30m", "300ms", "0", "720h"] {
        let ws = env_with(
            &format!("{{backup: {{schedule: '@daily', ttl: '{ttl}'}}}}"),
            None,
        );
        ws.hadr(&["render"]).assert().success();
        assert_eq!(rendered(&ws, "ttl"), ttl);
    }
}

#[test]
fn issue13_item3_descriptors_and_cron_tz_render_and_validate() {
    for (schedule, rpo, gap) in [
        ("@every 6h", "6h", None),
        ("@daily", "24h", None),
        ("CRON_TZ=Europe/Berlin 0 2 * * *", "24h", Some("1d23h")),
    ] {
        let ws = env_with(
            &format!("{{rpo: {rpo}, backup: {{schedule: '{schedule}', velero: '1.18.1'}}}}"),
            None,
        );
        ws.hadr(&["render"]).assert().success();
        assert_eq!(rendered(&ws, "schedule"), schedule);
        let out = stdout(&ws, &["validate"]);
        match gap {
            // robfig skips the 02:00 the spring-forward night does not have.
            Some(g) => assert!(
                out.contains(&format!("leaves up to {g} between backups")),
                "{out}"
            ),
            None => assert!(!out.contains("DR002"), "{out}"),
        }
    }
}

#[test]
fn the_environment_schema_documents_the_velero_version() {
    let ws = Workspace::empty();
    let out = stdout(&ws, &["schema"]);
    assert!(out.contains("\"velero\""), "{out}");
}

/// A Schedule from the repository's own templates is read as the region's Velero reads it,
/// as `dr.backup` is (issue 13, item 2: the reviewer's `ttl: 7d` in `templates/s.yaml`
/// rendered with exit 0).
#[test]
fn issue13_item2_a_templated_schedule_is_held_to_go_durations_and_the_regions_cron() {
    let ws = Workspace::empty();
    let mut env = environment("e", "");
    env.push_str("    - {name: west, context: ctx-west, velero: '1.18.1'}\n");
    ws.write("environments/e.yaml", env);
    let schedule = |cron: &str, ttl: &str| {
        format!(
            "apiVersion: velero.io/v1\nkind: Schedule\nmetadata: {{name: nightly, namespace: velero}}\nspec: {{schedule: \"{cron}\", template: {{ttl: {ttl}, includedNamespaces: [my-app]}}}}\n"
        )
    };
    ws.write("templates/s.yaml", schedule("0 0 * * 0", "7d"));
    ws.hadr(&["render"])
        .assert()
        .code(2)
        .stderr(contains("Schedule velero/nightly: spec.template.ttl: `7d`"))
        .stderr(contains("help: write `168h`"));
    // Sunday as 7: go-cron (Velero 1.18.3) reads it, robfig (1.18.1, region west) refuses it.
    ws.write("templates/s.yaml", schedule("0 0 * * 7", "168h"));
    ws.hadr(&["render"])
        .assert()
        .code(2)
        .stderr(contains(
            "spec.schedule: `0 0 * * 7` is not a schedule Velero 1.18.1 runs",
        ))
        .stderr(contains("region `west`"));
    ws.write("templates/s.yaml", schedule("0 0 * * 0", "1.5h"));
    ws.hadr(&["render", "--allow-violations"])
        .assert()
        .success();
}

/// `validate --server` asks each region's Velero for its version (a ServerStatusRequest, as
/// `velero version` does): eastus2 runs the testenv's v1.18.3 where 1.18.1 is declared, a
/// region with no Velero says so, and the declared version matching gives nothing. The
/// request is deleted once read.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs testenv: scripts/test runs it"]
async fn validate_server_reports_a_velero_other_than_declared_and_a_region_without_one() {
    use kube::api::ListParams;

    use crate::backup::{STORE, velero_api};
    use crate::support::testenv;

    let _store = STORE.read().await;
    testenv::ensure_velero(&["eastus2"]);
    let ws = Workspace::empty();
    ws.write(
        "environments/shop.yaml",
        "apiVersion: hadr.dev/v1alpha1
kind: Environment
spec:
  namespace: shop-velero-version
  app: {name: web, image: 'registry.k8s.io/pause:3.10', replicas: 2}
  dr:
    rpo: 24h
    backup: {schedule: '0 3 * * *', ttl: 720h, velero: '1.18.1'}
  regions:
    - {name: eastus2, context: eastus2}
    - {name: westus3, context: westus3, velero: '1.18.3'}
",
    );
    let (_, report) = crate::support::json_of(
        ws.hadr(&["validate", "--server", "-o", "json", "--kubeconfig"])
            .arg(testenv::kubeconfig_path()),
    );
    let dr010: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "DR010")
        .map(|f| {
            let text = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (text("region"), text("message"))
        })
        .collect();
    assert_eq!(dr010.len(), 2, "{dr010:#?}");
    assert_eq!(dr010[0].0, "eastus2");
    assert_eq!(
        dr010[0].1,
        "Velero v1.18.3 runs here, but schedules were checked as Velero 1.18.1 reads them"
    );
    // westus3 runs no Velero server (its CRDs may be there, from another test).
    assert_eq!(dr010[1].0, "westus3");
    assert!(
        dr010[1].1.starts_with("no Velero version: "),
        "{}",
        dr010[1].1
    );

    // Declared as it runs: nothing to say of eastus2.
    ws.write(
        "environments/shop.yaml",
        std::fs::read_to_string(ws.root().join("environments/shop.yaml"))
            .unwrap()
            .replace("velero: '1.18.1'", "velero: '1.18.3'"),
    );
    let out = ws
        .hadr(&["validate", "--server", "--kubeconfig"])
        .arg(testenv::kubeconfig_path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("shop/eastus2: Velero"), "{text}");

    let requests = velero_api(
        testenv::client("eastus2").await,
        "ServerStatusRequest",
        "serverstatusrequests",
    );
    let left = requests.list(&ListParams::default()).await.unwrap();
    assert!(
        left.items.iter().all(|r| !r
            .metadata
            .name
            .as_deref()
            .unwrap_or_default()
            .starts_with("hadr-validate-")),
        "a ServerStatusRequest was left behind"
    );
}
