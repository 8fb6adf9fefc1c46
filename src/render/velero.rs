//! What Velero reads in the velero.io objects a template renders, beyond their schema. Velero's
//! CRDs type a `metav1.Duration` and a Schedule's `schedule` as plain strings, so the API server
//! accepts any text there; Velero then parses it, and text it cannot read stops it. A Schedule
//! whose ttl is not a Go duration makes Velero fail to list *every* Schedule of its namespace
//! ("time: unknown unit", seen with v1.18.3: issue 13, item 2), and a schedule its cron library
//! refuses is never run. The environment file's `dr.backup` is checked when it is loaded; this
//! holds a repository's own templates (or an override of the built-in Schedule) to the same.

use serde_json::Value;

use super::validate::{Violation, shown_object};
use crate::environment::cron::{REFERENCE_TIME, Schedule, VeleroVersion};
use crate::environment::{parse_go_duration, suggest_go_duration};

/// The `metav1.Duration` fields of Velero v1.18's API types (`pkg/apis/velero/v1`), by kind, as
/// paths below the object; `[]` stands for every item of a list.
const DURATIONS: &[(&str, &[&str])] = &[
    (
        "Backup",
        &[
            "spec.ttl",
            "spec.csiSnapshotTimeout",
            "spec.itemOperationTimeout",
            "spec.hooks.resources[].pre[].exec.timeout",
            "spec.hooks.resources[].post[].exec.timeout",
        ],
    ),
    (
        "Schedule",
        &[
            "spec.template.ttl",
            "spec.template.csiSnapshotTimeout",
            "spec.template.itemOperationTimeout",
            "spec.template.hooks.resources[].pre[].exec.timeout",
            "spec.template.hooks.resources[].post[].exec.timeout",
        ],
    ),
    (
        "Restore",
        &[
            "spec.itemOperationTimeout",
            "spec.hooks.resources[].postHooks[].exec.execTimeout",
            "spec.hooks.resources[].postHooks[].exec.waitTimeout",
            "spec.hooks.resources[].postHooks[].init.timeout",
        ],
    ),
    (
        "BackupStorageLocation",
        &["spec.backupSyncPeriod", "spec.validationFrequency"],
    ),
    ("BackupRepository", &["spec.maintenanceFrequency"]),
];

/// Checks a velero.io/v1 object as the region's Velero (`velero`) reads it: every duration
/// field a Go duration, a Schedule's `schedule` one its cron library accepts and that fires.
/// Other objects pass.
pub(super) fn check_object(object: &Value, velero: VeleroVersion) -> Result<(), Violation> {
    if object["apiVersion"] != "velero.io/v1" {
        return Ok(());
    }
    let kind = object["kind"].as_str().unwrap_or_default();
    let paths = DURATIONS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(&[][..], |(_, p)| *p);
    for pattern in paths {
        for (field, value) in at(object, pattern) {
            check_duration(value).map_err(|(message, hint)| Violation {
                object: shown_object(object),
                field,
                message,
                hint,
            })?;
        }
    }
    if kind == "Schedule"
        && let Some(schedule) = object["spec"]["schedule"].as_str()
    {
        check_schedule(schedule, velero).map_err(|(message, hint)| Violation {
            object: shown_object(object),
            field: "spec.schedule".into(),
            message,
            hint,
        })?;
    }
    Ok(())
}

/// The values at a dotted path with `[]` for every list item, each with its concrete path
/// (`spec.hooks.resources[0].pre[1].exec.timeout`).
fn at<'a>(object: &'a Value, pattern: &str) -> Vec<(String, &'a Value)> {
    let mut found = vec![(String::new(), object)];
    for step in pattern.split('.') {
        let (key, every) = match step.strip_suffix("[]") {
            Some(key) => (key, true),
            None => (step, false),
        };
        let join = |path: &str| match path {
            "" => key.to_string(),
            _ => format!("{path}.{key}"),
        };
        found = found
            .into_iter()
            .filter_map(|(path, v)| Some((join(&path), v.get(key)?)))
            .flat_map(|(path, v)| match (every, v.as_array()) {
                (false, _) => vec![(path, v)],
                (true, Some(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| (format!("{path}[{i}]"), item))
                    .collect(),
                (true, None) => vec![],
            })
            .collect();
    }
    found
}

/// A duration as `metav1.Duration` reads it (Go's `time.ParseDuration`); a non-string is the
/// schema's to report.
fn check_duration(value: &Value) -> Result<(), (String, String)> {
    let Some(text) = value.as_str() else {
        return Ok(());
    };
    let Err(e) = parse_go_duration(text) else {
        return Ok(());
    };
    let hint = match suggest_go_duration(text) {
        Some(s) => format!("write `{s}`: Velero reads a Go duration, whose largest unit is `h`"),
        None => {
            "write a Go duration such as `720h`, `1h30m` or `1.5h` (units: ns, us, ms, s, m, h)"
                .into()
        }
    };
    Err((
        format!(
            "{e}: Velero reads it with Go's time.ParseDuration; the API server accepts it, and Velero then cannot read any object of this kind in its namespace"
        ),
        hint,
    ))
}

/// A schedule as the region's Velero reads it: accepted by its cron library, and firing.
fn check_schedule(schedule: &str, velero: VeleroVersion) -> Result<(), (String, String)> {
    let problem = match Schedule::parse(schedule, velero.dialect()) {
        Err(e) => e.to_string(),
        Ok(s) if s.next(REFERENCE_TIME).is_none() => "it never fires".to_string(),
        Ok(_) => return Ok(()),
    };
    Err((
        format!("`{schedule}` is not a schedule Velero {velero} runs: {problem}"),
        velero.schedule_hint(),
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schedule(spec: Value) -> Value {
        json!({"apiVersion": "velero.io/v1", "kind": "Schedule",
            "metadata": {"name": "nightly", "namespace": "velero"}, "spec": spec})
    }

    #[test]
    fn issue13_item2_a_templated_schedule_with_ttl_7d_is_refused_with_168h_as_the_fix() {
        let o = schedule(json!({"schedule": "0 3 * * *", "template": {"ttl": "7d"}}));
        let v = check_object(&o, VeleroVersion::V1_18_3).unwrap_err();
        assert_eq!(v.field, "spec.template.ttl");
        assert!(v.message.contains("`7d`"), "{}", v.message);
        assert!(v.hint.contains("`168h`"), "{}", v.hint);
    }

    #[test]
    fn go_durations_pass_and_hook_timeouts_are_found_in_every_list_item() {
        let ok = schedule(json!({"schedule": "@every 6h", "template": {"ttl": "1.5h",
            "csiSnapshotTimeout": "10m"}}));
        assert_eq!(check_object(&ok, VeleroVersion::V1_18_3), Ok(()));
        let hooks = json!({"apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": "b", "namespace": "velero"},
            "spec": {"hooks": {"resources": [{"pre": [{"exec": {"timeout": "30s"}},
                {"exec": {"timeout": "10 minutes"}}]}]}}});
        let v = check_object(&hooks, VeleroVersion::V1_18_3).unwrap_err();
        assert_eq!(v.field, "spec.hooks.resources[0].pre[1].exec.timeout");
    }

    #[test]
    fn a_templated_schedule_is_read_with_the_regions_velero_cron() {
        let o = schedule(json!({"schedule": "0 0 * * 7", "template": {}}));
        assert_eq!(check_object(&o, VeleroVersion::V1_18_3), Ok(()));
        let v = check_object(&o, VeleroVersion::V1_18_1).unwrap_err();
        assert_eq!(v.field, "spec.schedule");
        assert!(v.message.contains("Velero 1.18.1"), "{}", v.message);
        let never = schedule(json!({"schedule": "0 0 31 2 *", "template": {}}));
        let v = check_object(&never, VeleroVersion::V1_18_3).unwrap_err();
        assert!(v.message.ends_with("it never fires"), "{}", v.message);
    }

    #[test]
    fn objects_of_other_groups_are_not_read_as_velero_objects() {
        let mut o = schedule(json!({"schedule": "bad", "template": {"ttl": "7d"}}));
        o["apiVersion"] = json!("example.com/v1");
        assert_eq!(check_object(&o, VeleroVersion::V1_18_3), Ok(()));
    }
}
