//! `kubectl hadr validate`: render in memory and check the HA/DR policy, and the what-if of a
//! zone or region loss.

use std::path::PathBuf;

use crate::commands::render::*;
use crate::commands::select::*;
use crate::drill::history;
use crate::error::Error;
use crate::policy::{self, Loss};
use crate::report::ValidateReport;

/// What to validate.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    pub root: PathBuf,
    pub environments: Vec<String>,
    pub strict: bool,
    pub lose: Option<Loss>,
    /// Ask the regions' Velero servers too (`--server`).
    pub server: Option<ServerCheck>,
}

/// How to reach the regions for `validate --server`.
#[derive(Debug, Clone)]
pub struct ServerCheck {
    pub kubeconfig: Option<PathBuf>,
}

/// How long a region's Velero has to answer a ServerStatusRequest (seconds). Its controller
/// answers as soon as its watch sees the request: milliseconds when it runs.
const VELERO_ANSWER_SECONDS: u64 = 10;

/// Runs the policy over environments and their rendered objects (rendered in memory).
pub fn validate(opts: &ValidateOptions) -> Result<ValidateReport, Error> {
    let environments = load_environments(&opts.root, &opts.environments)?;
    let unknown: Vec<String> = environments
        .iter()
        .flat_map(|e| {
            policy::unknown_rule_ids(e).into_iter().map(move |u| {
                format!(
                    "{}{}: {}: unknown rule `{}`\n  help: {}",
                    e.file.display(),
                    u.position.map(|p| format!(":{p}")).unwrap_or_default(),
                    u.path,
                    u.id,
                    u.hint.unwrap_or_else(|| format!(
                        "the rules are {}",
                        policy::RuleId::ALL
                            .iter()
                            .map(|r| r.id())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                )
            })
        })
        .collect();
    if !unknown.is_empty() {
        return Err(Error::Policy(unknown));
    }
    if let Some(loss) = &opts.lose {
        let known = environments.iter().any(|e| match loss {
            Loss::Region(r) => e.regions.iter().any(|x| &x.name == r),
            Loss::Zone(z) => e.regions.iter().any(|x| x.zones.contains(z)),
        });
        if !known {
            let (what, name, available): (&str, &String, Vec<String>) = match loss {
                Loss::Region(r) => (
                    "region",
                    r,
                    environments
                        .iter()
                        .flat_map(|e| e.regions.iter().map(|x| x.name.clone()))
                        .collect(),
                ),
                Loss::Zone(z) => (
                    "zone",
                    z,
                    environments
                        .iter()
                        .flat_map(|e| e.regions.iter().flat_map(|x| x.zones.clone()))
                        .collect(),
                ),
            };
            return Err(Error::Policy(vec![format!(
                "--lose {what}={name}: no such {what} in the selected environments; available: {}",
                available.join(", ")
            )]));
        }
    }
    let (sets, _) = render_in_memory(&opts.root, &environments, None, true)?;
    let mut findings = Vec::new();
    let mut what_if = Vec::new();
    for env in &environments {
        let mine = sets_of(&sets, env);
        findings.extend(policy::validate(env, &mine));
        findings.extend(drill_age(&opts.root, env)?);
        if let Some(loss) = &opts.lose {
            what_if.extend(policy::what_if(env, &mine, loss));
        }
        if let Some(server) = &opts.server {
            findings.extend(velero_servers(env, &mine, server)?);
        }
    }
    Ok(ValidateReport {
        findings,
        strict: opts.strict,
        lose: opts.lose.clone(),
        what_if: opts.lose.as_ref().map(|_| what_if),
    })
}

/// DR009 for an environment with `dr.drillEvery`, over the drills committed under `drills/`.
fn drill_age(
    root: &std::path::Path,
    env: &crate::environment::Environment,
) -> Result<Vec<policy::Finding>, Error> {
    if env.dr.drill_every.is_none() {
        return Ok(Vec::new());
    }
    let records = history::read(root, &env.name)?;
    let last_pass = history::last_pass(&records);
    Ok(policy::validate_drills(
        env,
        last_pass.as_ref(),
        jiff::Timestamp::now(),
    ))
}

/// DR010 for an environment with `dr.backup`: what each region's Velero server says of its
/// version, asked in the namespace of the region's rendered Schedule (else `velero`).
fn velero_servers(
    env: &crate::environment::Environment,
    sets: &[&crate::render::RenderedSet],
    server: &ServerCheck,
) -> Result<Vec<policy::Finding>, Error> {
    use crate::cluster::velero::{VeleroServer, server_version};
    use crate::cluster::{Cluster, load_kubeconfig};
    use policy::ServerVelero;
    if env.dr.backup.is_none() {
        return Ok(Vec::new());
    }
    let rt = runtime()?;
    let kubeconfig = load_kubeconfig(server.kubeconfig.as_deref())?;
    let wait = std::time::Duration::from_secs(VELERO_ANSWER_SECONDS);
    let mut seen = Vec::new();
    for region in &env.regions {
        let namespace = sets
            .iter()
            .filter(|s| s.region == region.name)
            .flat_map(|s| &s.objects)
            .find(|o| o.id.kind == "Schedule" && o.id.api_version == "velero.io/v1")
            .and_then(|o| o.id.namespace.clone())
            .unwrap_or_else(|| "velero".into());
        let answer = rt.block_on(async {
            let cluster = Cluster::connect(&kubeconfig, &region.name, &region.context).await?;
            server_version(&cluster, &namespace, wait).await
        })?;
        let answer = match answer {
            VeleroServer::Version(v) => ServerVelero::Version(v),
            VeleroServer::NotInstalled => ServerVelero::Silent(
                "the cluster does not serve velero.io ServerStatusRequests (are Velero's CRDs installed?)".into(),
            ),
            VeleroServer::NoNamespace { namespace } => ServerVelero::Silent(format!(
                "Velero's namespace `{namespace}` (the Schedule's) does not exist"
            )),
            VeleroServer::NoAnswer { namespace, seconds } => ServerVelero::Silent(format!(
                "no Velero server for namespace `{namespace}` answered a ServerStatusRequest within {seconds} s (is it running?)"
            )),
        };
        seen.push((region.name.clone(), answer));
    }
    Ok(policy::validate_velero_servers(env, &seen))
}
