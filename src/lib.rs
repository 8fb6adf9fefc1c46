//! kubectl-hadr: high availability and disaster recovery for applications on Kubernetes.
//!
//! The modules are the pipeline's stages, in order (DESIGN.md §1, §6): each imports only from
//! earlier stages and the shared leaves (`yaml`, `digest`), never back.
//!
//! `Environment` -> `RenderedSet` (render) -> `Revision` (revision) -> `LiveState` (cluster)
//! -> `Plan` (plan) -> carried out (rollout) -> `Report` (report, printer).

// Shared leaves.
pub mod digest;
pub mod yaml;

// The stages.
pub mod cluster;
pub mod environment;
pub mod plan;
pub mod policy;
pub mod render;
pub mod revision;
pub mod rollout;

// Joining them.
pub mod cli;
pub mod commands;
pub mod error;
pub mod printer;

pub use commands::{Outcome, run};
