//! Starts (or reuses) the local multi-region control plane and hands each test its own namespace.
