//! Shared test support: temp workspaces, the binary under test, the local control plane.

pub mod oracle;
pub mod snapshot;
pub mod testenv;
pub mod workspace;
