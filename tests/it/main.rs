//! The one integration-test binary: render, git and cluster behaviour through the real binary,
//! real git repositories and the real local control plane.

mod apimachinery;
mod backup;
mod cluster;
mod crd_checks;
mod cron_oracles;
mod diff;
mod drill;
mod drill_region;
mod examples;
mod git;
mod image_reference;
mod kubectl_yaml;
mod kustomize_parity;
mod messages;
mod ownership;
mod patterns;
mod policy_cluster;
mod rbac;
mod render;
mod rollout;
mod schema;
mod stateful;
mod support;
mod validate;
mod velero;
