//! Field-by-field merge of a file over the one it extends (the child wins, maps merge, lists
//! are replaced), and of defaults under what a file sets.

use std::collections::BTreeMap;

use serde_json::Value;

use super::schema::*;

/// Field-by-field merge of a child over its base.
pub(super) trait Merge {
    fn merge(self, base: Self) -> Self;
}

macro_rules! child_wins {
    ($($t:ty),*) => {$(
        impl Merge for $t {
            fn merge(self, _base: Self) -> Self { self }
        }
    )*};
}
child_wins!(
    String,
    Vec<String>,
    Vec<Waiver>,
    u16,
    u32,
    Vec<SpreadKey>,
    Vec<RegionSpec>,
    AntiAffinity,
    Survive,
    IntOrPercent,
    WorkloadKind,
    PodManagementPolicy,
    Vec<VolumeSpec>,
    VolumeBindingMode,
    StorageTopology
);

/// Mappings by name (workloads, StorageClasses, a region's workload overrides) merge entry by
/// entry: a file that extends another can change one field of one workload.
impl<T: Merge> Merge for BTreeMap<String, T>
where
    T: MergeEntry,
{
    fn merge(self, mut base: Self) -> Self {
        for (k, v) in self {
            let merged = match base.remove(&k) {
                Some(b) => v.merge(b),
                None => v,
            };
            base.insert(k, merged);
        }
        base
    }
}

/// The structs that merge field by field as values of a mapping by name.
pub(super) trait MergeEntry {}
impl MergeEntry for WorkloadSpec {}
impl MergeEntry for StorageClassSpec {}
impl MergeEntry for RegionWorkloadSpec {}

impl<T: Merge> Merge for Option<T> {
    fn merge(self, base: Self) -> Self {
        match (self, base) {
            (Some(a), Some(b)) => Some(a.merge(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Maps of plain values merge by key, the child's entry replacing the base's.
macro_rules! entries_replace {
    ($($t:ty),*) => {$(
        impl Merge for BTreeMap<String, $t> {
            fn merge(self, mut base: Self) -> Self {
                base.extend(self);
                base
            }
        }
    )*};
}
entries_replace!(Severity, String, StorageLocationSpec);

impl Merge for Value {
    fn merge(self, base: Self) -> Self {
        merge_values(base, self)
    }
}

/// Deep merge as Helm does it: mappings merge, a `null` removes the key, anything else replaces.
pub fn merge_values(base: Value, over: Value) -> Value {
    match (base, over) {
        (Value::Object(mut b), Value::Object(o)) => {
            for (k, v) in o {
                if v.is_null() {
                    b.remove(&k);
                    continue;
                }
                let merged = match b.remove(&k) {
                    Some(old) => merge_values(old, v),
                    None => v,
                };
                b.insert(k, merged);
            }
            Value::Object(b)
        }
        (_, o) => o,
    }
}

macro_rules! merge_fields {
    ($t:ident { $($f:ident),* }) => {
        impl Merge for $t {
            fn merge(self, base: Self) -> Self {
                $t { $($f: self.$f.merge(base.$f)),* }
            }
        }
    };
}
merge_fields!(Resources {
    cpu,
    memory,
    memory_limit
});
merge_fields!(Probe {
    path,
    command,
    initial_delay_seconds,
    period_seconds
});
merge_fields!(AppSpec {
    name,
    image,
    port,
    replicas,
    resources,
    readiness_probe
});
merge_fields!(WorkloadHaSpec {
    spread,
    anti_affinity,
    disruption_budget,
    capacity
});
merge_fields!(WorkloadSpec {
    kind,
    image,
    replicas,
    port,
    resources,
    readiness_probe,
    config,
    ha,
    volumes,
    pod_management_policy
});
merge_fields!(RegionWorkloadSpec { replicas, image });
merge_fields!(StorageClassSpec {
    volume_binding_mode,
    topology
});
merge_fields!(DisruptionBudget {
    min_available,
    max_unavailable
});
merge_fields!(HaSpec {
    spread,
    anti_affinity,
    disruption_budget,
    survive,
    capacity
});
merge_fields!(BackupSpec {
    schedule,
    ttl,
    storage_location,
    velero
});
merge_fields!(DrSpec {
    rpo,
    rto,
    backup,
    storage_locations,
    restore_target,
    drill_every
});
merge_fields!(PolicySpec {
    severities,
    waivers
});
merge_fields!(EnvironmentSpec {
    namespace,
    app,
    workloads,
    storage_classes,
    ha,
    dr,
    config,
    regions,
    values,
    policy
});

impl Resources {
    pub(super) fn merge_over(self, over: Option<Resources>) -> Resources {
        over.map(|o| o.merge(self.clone())).unwrap_or(self)
    }
}

impl Probe {
    pub(super) fn merge_over(self, over: Option<Probe>) -> Probe {
        over.map(|o| o.merge(self.clone())).unwrap_or(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_merge_deeply_and_null_removes() {
        let base = serde_json::json!({"a": {"b": 1, "c": 2}, "d": [1, 2]});
        let over = serde_json::json!({"a": {"c": 3, "b": null}, "d": [3]});
        assert_eq!(
            merge_values(base, over),
            serde_json::json!({"a": {"c": 3}, "d": [3]})
        );
    }
}
