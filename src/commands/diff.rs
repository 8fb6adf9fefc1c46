//! `kubectl hadr diff` (and `rollout --dry-run`): the plan of a revision against the live
//! clusters.

use crate::commands::select::{one_environment, runtime};
use crate::error::Error;
use crate::plan::{self, Plan, PlanOptions, Target};

/// Plans one environment on a runtime of its own (the rest of the program is sync).
pub fn diff(environment: &str, target: &Target, opts: &PlanOptions) -> Result<Plan, Error> {
    let env = one_environment(&target.root, environment, target.region.as_ref())?;
    Ok(runtime()?.block_on(plan::plan(&env, target, opts))?)
}
