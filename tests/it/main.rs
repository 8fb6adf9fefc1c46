//! The one integration-test binary: render, git and cluster behaviour through the real binary,
//! real git repositories and the real local control plane.

mod backup;
mod cluster;
mod diff;
mod git;
mod ownership;
mod policy_cluster;
mod render;
mod rollout;
mod support;
mod validate;
