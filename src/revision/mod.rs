//! Revisions: the rendered tree on disk and in git, and what diff, rollout and rollback read
//! through.

pub mod store;
pub mod tree;
