//! kubectl-hadr: high availability and disaster recovery for applications on Kubernetes.

pub mod yaml;
