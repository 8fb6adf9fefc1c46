//! kubectl-hadr: high availability and disaster recovery for applications on Kubernetes.

pub mod yaml;
pub mod environment;
pub mod hash;
