//! Tests against the real local multi-region control plane (see `testenv/`).
