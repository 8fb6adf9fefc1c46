//! The rule catalogue: one typed ID per rule, with its name, default severity, what it protects
//! against, how to fix a violation and where the practice it enforces is documented.
//!
//! The environment names rules by ID (`spec.policy.severities`, `spec.policy.waivers`); those
//! strings become a `RuleId` through `FromStr` and nowhere else.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::environment::Severity;

/// An ID the environment names that no rule has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rule `{0}`")]
pub struct UnknownRuleId(pub String);

/// Declares the catalogue once, so that the enum, `ALL` and every attribute come from the same
/// line and cannot disagree.
macro_rules! rules {
    ($($variant:ident $id:literal $name:literal $severity:ident
        $summary:literal $fix:literal $source:literal;)*) => {
        /// A policy rule, by its ID: parsed from and displayed as `HA001`, `MR001`, `DR001`...
        /// Each variant is the rule's name in PascalCase.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum RuleId {
            $(
                #[doc = concat!("`", $id, "` ", $name, ": ", $summary, "\n\nSource: ", $source)]
                $variant,
            )*
        }

        impl RuleId {
            /// Every rule, in the catalogue's order (the README's table, SARIF's `rules`).
            pub const ALL: &[RuleId] = &[$(RuleId::$variant),*];

            /// The ID, such as `HA001`.
            pub const fn id(self) -> &'static str {
                match self { $(RuleId::$variant => $id),* }
            }

            /// The kebab-case name, such as `min-replicas`.
            pub const fn name(self) -> &'static str {
                match self { $(RuleId::$variant => $name),* }
            }

            /// The severity unless the environment's `spec.policy.severities` says otherwise.
            pub const fn default_severity(self) -> Severity {
                match self { $(RuleId::$variant => Severity::$severity),* }
            }

            /// What a violation risks, in one sentence.
            pub const fn summary(self) -> &'static str {
                match self { $(RuleId::$variant => $summary),* }
            }

            /// How to fix a violation, in the environment file's terms.
            pub const fn fix(self) -> &'static str {
                match self { $(RuleId::$variant => $fix),* }
            }

            /// Where the practice the rule enforces is documented.
            pub const fn source(self) -> &'static str {
                match self { $(RuleId::$variant => $source),* }
            }
        }
    };
}

rules! {
    MinReplicas "HA001" "min-replicas" Error
        "Fewer than two replicas in a region: one node drain or crash takes the app down there."
        "set `spec.app.replicas` or the workload's `replicas` (or the region's override) to at least 2"
        "https://kubernetes.io/docs/concepts/workloads/pods/disruptions/";
    PdbSelectsWorkload "HA002" "pdb-selects-workload" Error
        "No PodDisruptionBudget selects the workload's pods: drains can evict all of them at once."
        "set `spec.ha.disruptionBudget` so the PodDisruptionBudget selects the pods"
        "https://kubernetes.io/docs/tasks/run-application/configure-pdb/";
    PdbAllowsDisruption "HA003" "pdb-allows-disruption" Error
        "The PodDisruptionBudget allows no disruption: node drains and upgrades block forever."
        "keep minAvailable below replicas (or maxUnavailable at least 1)"
        "https://kubernetes.io/docs/tasks/run-application/configure-pdb/#think-about-how-your-application-reacts-to-disruptions";
    ZoneSpread "HA004" "zone-spread" Warning
        "Pods are not spread over zones: one zone outage can take every replica."
        "add `zone` to `spec.ha.spread`"
        "https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/";
    HostnameSpread "HA005" "hostname-spread" Warning
        "Pods are neither spread nor anti-affine over hostnames: one node can hold every replica."
        "add `hostname` to `spec.ha.spread` or set `spec.ha.antiAffinity`"
        "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity";
    ReadinessProbe "HA006" "readiness-probe" Warning
        "A container has no readiness probe: traffic reaches pods before they can serve."
        "set `readinessProbe` of `spec.app` or of the workload"
        "https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/";
    ResourceRequests "HA007" "resource-requests" Warning
        "A container has no CPU or memory request: the scheduler cannot place it safely."
        "set `resources.cpu` and `.memory` of `spec.app` or of the workload"
        "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/";
    ImagePinned "HA008" "image-pinned" Error
        "An image is not pinned (no tag, or `latest`): regions and rollbacks can run different code."
        "pin a version tag, better a digest (`image@sha256:...`)"
        "https://kubernetes.io/docs/concepts/containers/images/#image-names";
    ImageDigest "HA009" "image-digest" Info
        "An image is pinned by tag, not digest: a tag can be moved."
        "use `image:tag@sha256:...`"
        "https://kubernetes.io/docs/concepts/containers/images/#image-names";
    ConfigImmutable "HA010" "config-immutable" Error
        "A ConfigMap is mutable or its name carries no content hash: a config change does not roll the pods and cannot be rolled back."
        "leave content hashing on (remove `hadr.dev/hash-suffix: \"false\"`)"
        "https://kubernetes.io/docs/concepts/configuration/configmap/#configmap-immutable";
    SinglePdb "HA011" "single-pdb" Error
        "More than one PodDisruptionBudget selects the same pods: the Eviction API refuses to evict them, so every node drain blocks."
        "keep one PodDisruptionBudget per workload: drop `spec.ha.disruptionBudget`, or narrow the other budget's selector so it no longer selects these pods"
        "https://kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/#how-api-initiated-eviction-works";
    RegionsForRegionSurvival "MR001" "regions-for-region-survival" Error
        "The environment must survive a region loss but runs in fewer than two regions."
        "add a region, or lower `spec.ha.survive`"
        "README.md, \"Validate: the HA/DR policy\" (`spec.ha.survive: region`)";
    DistinctContexts "MR002" "distinct-contexts" Error
        "Two regions use the same kubeconfig context: they are one cluster, one failure domain."
        "give each region the context of its own cluster"
        "https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/";
    RegionLossCapacity "MR003" "region-loss-capacity" Error
        "Losing one region leaves the others fewer replicas than the declared capacity."
        "raise replicas in the other regions or lower `spec.ha.capacity`"
        "README.md, \"Validate: the HA/DR policy\" (`spec.ha.capacity`)";
    ZoneLossBudget "MR004" "zone-loss-budget" Error
        "Losing one zone of a region can leave fewer pods than the PodDisruptionBudget's minimum."
        "spread over zones and add replicas, or lower minAvailable"
        "https://kubernetes.io/docs/setup/best-practices/multiple-zones/";
    BackupForRpo "DR001" "backup-for-rpo" Error
        "An RPO is declared but nothing backs the namespace up: no `spec.dr.backup`, and no unpaused Velero Schedule from the templates includes it."
        "set `spec.dr.backup.schedule`"
        "https://velero.io/docs/main/api-types/schedule/";
    BackupGapWithinRpo "DR002" "backup-gap-within-rpo" Error
        "The longest gap between two backups exceeds the RPO (with no `spec.dr.backup`: between two firings of any of the region's Schedules that back up the namespace)."
        "run backups more often (the schedule's longest gap is computed over the calendar)"
        "https://velero.io/docs/main/api-types/schedule/";
    TtlCoversRpo "DR003" "ttl-covers-rpo" Error
        "Backups expire before the RPO window ends: a restore point may not exist."
        "set `spec.dr.backup.ttl` to at least the RPO"
        "https://velero.io/docs/main/how-velero-works/#set-a-backup-to-expire";
    BackupCoversNamespace "DR004" "backup-covers-namespace" Error
        "No backup Schedule includes the environment's namespace."
        "include the namespace in the Velero Schedule's `includedNamespaces`"
        "https://velero.io/docs/main/resource-filtering/#includes";
    StorageLocation "DR005" "storage-location" Error
        "A backup Schedule has no storage location."
        "set `spec.dr.backup.storageLocation`"
        "https://velero.io/docs/main/locations/";
    BackupsOffRegion "DR006" "backups-off-region" Error
        "A region's backups are kept only in that region (or nobody declared where): losing the region loses the backups that were to restore it."
        "declare the storage location in `spec.dr.storageLocations` with the region its bucket lives in, and point the Schedule at one outside the region it protects"
        "https://velero.io/docs/main/locations/ (\"a BSL in a different region\" for disaster recovery)";
    RtoRestorable "DR007" "rto-restorable" Error
        "An RTO is declared with nothing to restore from or nowhere to restore into when the region is lost."
        "set `spec.dr.backup`, and add a second region or declare `spec.dr.restoreTarget`"
        "https://velero.io/docs/main/disaster-case/";
    TtlKeepsTwoBackups "DR008" "ttl-keeps-two-backups" Error
        "Backups expire so soon that at times only the newest one exists: if it is bad, there is nothing older to restore."
        "raise `spec.dr.backup.ttl` to at least twice the schedule's longest gap"
        "https://velero.io/docs/main/how-velero-works/#set-a-backup-to-expire";
    DrillEvery "DR009" "drill-every" Warning
        "No drill has passed within `dr.drillEvery`: the recovery the objectives promise is untested (a DR plan is only as good as its last test)."
        "run `kubectl hadr drill <env> --lose zone=<zone> --commit` (or `--lose region=<r> --restore-into <r2>`) and keep its report under `drills/<env>/`"
        "README.md, \"DR drills\" (`drill --commit`, `dr.drillEvery`)";
    VeleroServer "DR010" "velero-server" Error
        "A region's Velero server does not answer, or runs another version than the environment declares: its cron reads the schedule otherwise, so DR002's gap is not the one Velero keeps (`validate --server` only)."
        "set `spec.dr.backup.velero` (or the region's `velero`) to the version the server reports, or start Velero in the region"
        "Velero `ServerStatusRequest` (what `velero version` asks); issue 13 (robfig/cron v3.0.1 in v1.18.1, netresearch/go-cron v0.15.0 in v1.18.3)";
    StatefulVolumeBinding "ST001" "stateful-volume-binding" Error
        "A zone-spread StatefulSet's volume is on a zonal StorageClass that binds at once (`Immediate`): the volume is placed before its pod, possibly in a zone the spread forbids, and the pod stays Pending."
        "set the class's `volumeBindingMode: WaitForFirstConsumer` in the cluster and in `spec.storageClasses`"
        "https://kubernetes.io/docs/concepts/storage/storage-classes/#volume-binding-mode";
    StatefulBackupVolumes "ST002" "stateful-backup-volumes" Error
        "A StatefulSet's volumes are in no backup: the Schedule saves the claims but not their data (velero-io/velero #5834, #7705)."
        "render the Schedule from `spec.workloads` (built-in `velero-schedule` sets `defaultVolumesToFsBackup: true`), or set `snapshotVolumes: true` / the pod annotation `backup.velero.io/backup-volumes`"
        "https://velero.io/docs/main/file-system-backup/#to-back-up";
    StatefulRegionCopy "ST003" "stateful-region-copy" Error
        "The environment must survive a region loss, but a StatefulSet's data lives only in zonal or regional volumes and nothing copies it out of the region."
        "add `spec.dr.backup` (Velero copies the data to off-region storage, within `dr.rpo`), or use a `multi-region` StorageClass"
        "README.md, \"Stateful workloads\" (`spec.storageClasses`, ST003)";
}

impl RuleId {
    /// The rule's position in `ALL` (SARIF's `ruleIndex`).
    pub fn index(self) -> usize {
        // The macro lists `ALL` in declaration order, so the discriminant is the position.
        self as usize
    }
}

impl FromStr for RuleId {
    type Err = UnknownRuleId;

    /// Exact IDs only: `ha001` is unknown (and `unknown_rule_ids` suggests `HA001`).
    fn from_str(s: &str) -> Result<RuleId, UnknownRuleId> {
        RuleId::ALL
            .iter()
            .copied()
            .find(|r| r.id() == s)
            .ok_or_else(|| UnknownRuleId(s.to_string()))
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for RuleId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_parses_back_to_its_rule() {
        for &rule in RuleId::ALL {
            assert_eq!(rule.id().parse::<RuleId>(), Ok(rule));
            assert_eq!(rule.to_string(), rule.id());
        }
    }

    #[test]
    fn an_unknown_or_miscased_id_does_not_parse() {
        assert_eq!(
            "HA04".parse::<RuleId>(),
            Err(UnknownRuleId("HA04".to_string()))
        );
        assert!("ha001".parse::<RuleId>().is_err());
    }

    #[test]
    fn the_catalogue_lists_its_rules_in_family_order_with_their_index() {
        let ids: Vec<&str> = RuleId::ALL.iter().map(|r| r.id()).collect();
        let expected: Vec<String> = (1..=11)
            .map(|n| format!("HA{n:03}"))
            .chain((1..=4).map(|n| format!("MR{n:03}")))
            .chain((1..=10).map(|n| format!("DR{n:03}")))
            .chain((1..=3).map(|n| format!("ST{n:03}")))
            .collect();
        assert_eq!(ids, expected);
        for (i, rule) in RuleId::ALL.iter().enumerate() {
            assert_eq!(rule.index(), i);
        }
    }

    #[test]
    fn ids_and_names_are_unique_and_every_rule_is_documented() {
        let mut names: Vec<&str> = RuleId::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RuleId::ALL.len());
        for rule in RuleId::ALL {
            assert!(!rule.summary().is_empty() && !rule.fix().is_empty());
            assert!(!rule.source().is_empty());
        }
    }

    #[test]
    fn a_rule_id_serializes_as_its_id_string() {
        assert_eq!(
            serde_json::to_string(&RuleId::ZoneLossBudget).unwrap(),
            "\"MR004\""
        );
    }
}
