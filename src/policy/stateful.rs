//! Stateful rules (ST001..ST003): what volumes pinned to a zone do to a StatefulSet's HA and
//! DR. A StatefulSet without a PodDisruptionBudget, or with one that allows no disruption, is
//! HA002 / HA003, as for every workload.
//!
//! A volume's StorageClass facts come from the region's `storageClasses`; a class the
//! environment does not declare is taken as zonal (the common case for block storage) with an
//! unknown binding mode, so ST001 says nothing about it.

use serde_json::Value;

use super::finding::{Reporter, spec, workload_path};
use super::rule::RuleId;
use super::workload::{Workload, ZONE_KEY};
use crate::environment::{Region, StorageClass, StorageTopology, Survive, VolumeBindingMode};
use crate::render::{RenderedObject, RenderedSet};

/// One claim template of a StatefulSet: its volume name and StorageClass (`None`: the
/// cluster's default class).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ClaimTemplate<'a> {
    pub name: &'a str,
    pub storage_class: Option<&'a str>,
}

/// The `volumeClaimTemplates` of a StatefulSet (none for other kinds).
pub(super) fn claim_templates(object: &RenderedObject) -> Vec<ClaimTemplate<'_>> {
    if object.id.kind != "StatefulSet" {
        return Vec::new();
    }
    object.object["spec"]["volumeClaimTemplates"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| ClaimTemplate {
                    name: t["metadata"]["name"].as_str().unwrap_or_default(),
                    storage_class: t["spec"]["storageClassName"].as_str(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The facts of a claim's class in `region`, if the environment declares them.
pub(super) fn class_of<'r>(
    region: &'r Region,
    claim: &ClaimTemplate<'_>,
) -> Option<&'r StorageClass> {
    claim
        .storage_class
        .and_then(|c| region.storage_classes.get(c))
}

/// Whether a claim's volume lives in one zone: its pod can run only there.
pub(super) fn is_zonal(region: &Region, claim: &ClaimTemplate<'_>) -> bool {
    class_of(region, claim).is_none_or(|c| c.topology == StorageTopology::Zonal)
}

/// Checks the StatefulSets of one region's set.
pub(super) fn check(cx: &mut Reporter<'_>, set: &RenderedSet, workloads: &[Workload<'_>]) {
    let Some(region) = cx.env.regions.iter().find(|r| r.name == set.region) else {
        return;
    };
    for w in workloads {
        let claims = claim_templates(w.object);
        if claims.is_empty() {
            continue;
        }
        immediate_binding(cx, region, w, &claims);
        backup_covers_volumes(cx, set, w, &claims);
        region_copy(cx, region, w, &claims);
    }
}

/// ST001: a zonal class that binds at once places the volume before the scheduler places the
/// pod, in whatever zone the provisioner picks; a hard zone spread then cannot be met and the
/// pod stays Pending with a volume node affinity conflict.
fn immediate_binding(
    cx: &mut Reporter<'_>,
    region: &Region,
    w: &Workload<'_>,
    claims: &[ClaimTemplate<'_>],
) {
    if w.hard_spreads_over(ZONE_KEY).next().is_none() {
        return;
    }
    for claim in claims {
        let Some(class) = class_of(region, claim) else {
            continue;
        };
        if class.topology == StorageTopology::Zonal
            && class.volume_binding_mode == VolumeBindingMode::Immediate
        {
            let name = claim.storage_class.unwrap_or_default();
            cx.report(
                RuleId::StatefulVolumeBinding,
                Some(&region.name),
                Some(w.object),
                spec().key("storageClasses").key(name),
                format!(
                    "volume `{}` uses the zonal class `{name}` with `Immediate` binding, while the pods are spread over zones: a volume bound before its pod is placed can sit in a zone the spread forbids, and the pod stays Pending",
                    claim.name
                ),
            );
        }
    }
}

/// Velero's pod annotations that opt volumes in or out of its file-system backup.
const FS_BACKUP_VOLUMES: &str = "backup.velero.io/backup-volumes";
const FS_BACKUP_EXCLUDES: &str = "backup.velero.io/backup-volumes-excludes";

/// ST002: the region's Schedules that include the namespace take each claim's data: by volume
/// snapshot (`snapshotVolumes: true`), by file-system backup of every volume
/// (`defaultVolumesToFsBackup: true`, unless the pod excludes it) or of the volumes the pod
/// lists (Velero API, BackupSpec; `labels_annotations.go`). Anything else backs up the claim
/// objects and not the data (velero-io/velero #5834, #7705).
fn backup_covers_volumes(
    cx: &mut Reporter<'_>,
    set: &RenderedSet,
    w: &Workload<'_>,
    claims: &[ClaimTemplate<'_>],
) {
    if cx.env.dr.backup.is_none() {
        return;
    }
    let namespace = cx.env.namespace.as_str();
    let templates: Vec<&Value> = set
        .objects
        .iter()
        .filter(|o| o.id.kind == "Schedule" && o.id.group() == "velero.io")
        .map(|o| &o.object["spec"]["template"])
        .filter(|t| {
            t["includedNamespaces"]
                .as_array()
                .is_some_and(|ns| ns.iter().any(|n| n == namespace || n == "*"))
        })
        .collect();
    let annotations = &w.object.object["spec"]["template"]["metadata"]["annotations"];
    let listed = |key: &str, volume: &str| {
        annotations[key]
            .as_str()
            .is_some_and(|l| l.split(',').any(|v| v.trim() == volume))
    };
    for claim in claims {
        let covered = templates.iter().any(|t| {
            t["snapshotVolumes"] == Value::Bool(true)
                || (t["defaultVolumesToFsBackup"] == Value::Bool(true)
                    && !listed(FS_BACKUP_EXCLUDES, claim.name))
                || listed(FS_BACKUP_VOLUMES, claim.name)
        });
        if !covered {
            cx.report(
                RuleId::StatefulBackupVolumes,
                Some(&set.region),
                Some(w.object),
                spec().key("dr").key("backup"),
                format!(
                    "volume `{}` is in no backup: the Schedule takes the claim object but neither snapshots the volume (`snapshotVolumes: true`) nor copies its files (`defaultVolumesToFsBackup: true` or the pod annotation `{FS_BACKUP_VOLUMES}`)",
                    claim.name
                ),
            );
        }
    }
}

/// ST003: with `survive: region`, data only in zonal or regional volumes dies with the region
/// unless something copies it out: a multi-region class, or a backup (in the storage location,
/// off the region; its RPO is `dr.rpo`).
fn region_copy(
    cx: &mut Reporter<'_>,
    region: &Region,
    w: &Workload<'_>,
    claims: &[ClaimTemplate<'_>],
) {
    if cx.env.ha.survive != Survive::Region || cx.env.dr.backup.is_some() {
        return;
    }
    let local: Vec<&str> = claims
        .iter()
        .filter(|c| class_of(region, c).is_none_or(|k| k.topology != StorageTopology::MultiRegion))
        .map(|c| c.name)
        .collect();
    if !local.is_empty() {
        cx.report(
            RuleId::StatefulRegionCopy,
            Some(&region.name),
            Some(w.object),
            workload_path(cx.env, w.object).key("volumes"),
            format!(
                "`survive: region`, but volume(s) {} live only in region `{}` and nothing copies them out: losing the region loses the data",
                local.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", "),
                region.name
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{STATEFUL, check, check_edited, ids};
    use super::*;

    const DB: &str = STATEFUL;

    #[test]
    fn a_stateful_environment_done_right_is_clean() {
        assert_eq!(ids(&check(DB)), vec![]);
    }

    #[test]
    fn st001_immediate_binding_on_a_zonal_class_under_a_zone_spread() {
        let f = check(&DB.replace("WaitForFirstConsumer", "Immediate"));
        assert_eq!(ids(&f), vec![RuleId::StatefulVolumeBinding], "{f:?}");
        assert_eq!(f.len(), 2, "one per region");
        assert!(f[0].message.contains("volume `data`"), "{}", f[0].message);
        // A regional class can follow the pod to any zone; without a zone spread nothing is
        // forbidden.
        let regional = DB.replace(
            "WaitForFirstConsumer, topology: zonal",
            "Immediate, topology: regional",
        );
        assert_eq!(ids(&check(&regional)), vec![]);
        let unspread = DB.replace("WaitForFirstConsumer", "Immediate").replace(
            "antiAffinity: required,",
            "antiAffinity: required, spread: [hostname],",
        );
        assert!(!ids(&check(&unspread)).contains(&RuleId::StatefulVolumeBinding));
    }

    #[test]
    fn a_stateful_set_without_a_pdb_or_with_one_allowing_nothing_is_ha002_or_ha003() {
        let none = DB.replace(" disruptionBudget: {maxUnavailable: 1},", "");
        assert_eq!(ids(&check(&none)), vec![RuleId::PdbSelectsWorkload]);
        let all = DB.replace("maxUnavailable: 1", "minAvailable: 3");
        let f = check(&all);
        assert!(ids(&f).contains(&RuleId::PdbAllowsDisruption), "{f:?}");
    }

    #[test]
    fn st002_a_schedule_that_skips_the_volumes() {
        let skip = |o: &mut Value| {
            if o["kind"] == "Schedule" {
                let t = o["spec"]["template"].as_object_mut().unwrap();
                t.remove("defaultVolumesToFsBackup");
                t.remove("snapshotVolumes");
            }
        };
        let f = check_edited(DB, skip);
        assert_eq!(ids(&f), vec![RuleId::StatefulBackupVolumes], "{f:?}");
        // Snapshots, or the pod's opt-in annotation, cover it.
        let snapshot = |o: &mut Value| {
            skip(o);
            if o["kind"] == "Schedule" {
                o["spec"]["template"]["snapshotVolumes"] = true.into();
            }
        };
        assert_eq!(ids(&check_edited(DB, snapshot)), vec![]);
        let opt_in = |o: &mut Value| {
            skip(o);
            if o["kind"] == "StatefulSet" {
                o["spec"]["template"]["metadata"]["annotations"] =
                    serde_json::json!({FS_BACKUP_VOLUMES: "data"});
            }
        };
        assert_eq!(ids(&check_edited(DB, opt_in)), vec![]);
        // Excluded from the default file-system backup: not covered.
        let excluded = |o: &mut Value| {
            if o["kind"] == "StatefulSet" {
                o["spec"]["template"]["metadata"]["annotations"] =
                    serde_json::json!({FS_BACKUP_EXCLUDES: "tmp, data"});
            }
        };
        assert_eq!(
            ids(&check_edited(DB, excluded)),
            vec![RuleId::StatefulBackupVolumes]
        );
    }

    #[test]
    fn st003_region_survival_with_zonal_data_and_no_backup() {
        let no_backup = DB.replace(
            "  dr: {rpo: 24h, backup: {schedule: '0 */6 * * *', ttl: 720h}, storageLocations: {default: {region: elsewhere}}}\n",
            "",
        );
        let f = check(&no_backup);
        assert_eq!(ids(&f), vec![RuleId::StatefulRegionCopy], "{f:?}");
        assert!(
            f[0].message.contains("`data` live only in region `east`"),
            "{}",
            f[0].message
        );
        let replicated = no_backup.replace("topology: zonal", "topology: multi-region");
        assert_eq!(ids(&check(&replicated)), vec![]);
        let zone_only = no_backup.replace("survive: region", "survive: zone");
        assert_eq!(ids(&check(&zone_only)), vec![]);
    }
}
