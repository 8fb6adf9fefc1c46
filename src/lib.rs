//! kubectl-hadr: high availability and disaster recovery for applications on Kubernetes.
//!
//! The modules are the pipeline's stages, in order (DESIGN.md §1, §6): each imports only from
//! earlier stages and the shared leaves (`yaml`, `digest`), never back.
//!
//! `Environment` -> `RenderedSet` (render) -> `Revision` (revision) -> `LiveState` (cluster)
//! -> `Plan` (plan) -> carried out (rollout) -> backed up (backup) -> `Report` (report, printer).

// Only the printer writes to stdout and stderr (DESIGN.md §6); items of private modules say
// how far they reach (`pub(crate)`, `pub(super)`), so `pub` means the library's API.
#![deny(clippy::print_stdout, clippy::print_stderr)]
#![deny(unreachable_pub)]

// Shared leaves.
pub mod digest;
pub mod yaml;

// The stages.
pub mod backup;
pub mod cluster;
pub mod drill;
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
pub mod report;

pub use commands::{Outcome, run};
