//! Selecting what a command works on: the environments asked for, loaded and checked, and the
//! async runtime the cluster commands run on.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::cluster::stop::Stop;
use crate::environment::{self, Environment, EnvironmentError};
use crate::error::Error;

/// Loads the environments asked for (all when none is named), reporting every bad file.
pub fn load_environments(root: &Path, names: &[String]) -> Result<Vec<Environment>, Error> {
    load_files(&discover_environments(root, names)?)
}

/// The environment files asked for (all when none is named): name and path.
pub(crate) fn discover_environments(
    root: &Path,
    names: &[String],
) -> Result<Vec<(String, PathBuf)>, Error> {
    let dir = if root == Path::new(".") {
        PathBuf::from("environments")
    } else {
        root.join("environments")
    };
    let found = match environment::discover(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NoEnvironments(dir));
        }
        found => found.map_err(|e| Error::Io {
            path: dir.clone(),
            message: e.kind().to_string(),
        })?,
    };
    if found.is_empty() {
        return Err(Error::NoEnvironments(dir));
    }
    // `discover` sorts by name: two files of one name are neighbours.
    if let Some(pair) = found.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(Error::DuplicateEnvironment {
            name: pair[0].0.clone(),
            first: pair[0].1.clone(),
            second: pair[1].1.clone(),
        });
    }
    let mut chosen = Vec::new();
    for name in names {
        match found.iter().find(|(n, _)| n == name) {
            Some(f) => chosen.push(f.clone()),
            None => {
                return Err(Error::UnknownEnvironment {
                    name: name.clone(),
                    available: found.iter().map(|(n, _)| n.clone()).collect(),
                });
            }
        }
    }
    if names.is_empty() {
        chosen = found;
    }
    chosen.dedup();
    Ok(chosen)
}

/// Loads environment files in parallel, in order, reporting every bad one.
pub(crate) fn load_files(files: &[(String, PathBuf)]) -> Result<Vec<Environment>, Error> {
    let results: Vec<Result<Environment, EnvironmentError>> = files
        .par_iter()
        .map(|(_, path)| environment::load(path))
        .collect();
    let (ok, bad): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    if !bad.is_empty() {
        return Err(Error::Environments(
            bad.into_iter().filter_map(Result::err).collect(),
        ));
    }
    Ok(ok.into_iter().filter_map(Result::ok).collect())
}

/// A multi-threaded runtime for the cluster commands (the rest of the program is sync).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io {
            path: PathBuf::from("tokio runtime"),
            message: e.to_string(),
        })
}

/// A [`Stop`] that the first SIGINT or SIGTERM requests; a second one ends the process at once
/// (exit 130, as a shell reports an interrupted command).
pub(crate) fn stop_on_signals(rt: &tokio::runtime::Runtime) -> Stop {
    let (tx, rx) = tokio::sync::watch::channel(false);
    rt.spawn(async move {
        if signal().await {
            let _ = tx.send(true);
            if signal().await {
                std::process::exit(130);
            }
        }
    });
    Stop::on(rx)
}

/// The next SIGINT or SIGTERM; false if they cannot be listened to.
async fn signal() -> bool {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return false;
    };
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.is_ok(),
        r = term.recv() => r.is_some(),
    }
}

pub(crate) fn one_environment(
    root: &Path,
    name: &str,
    region: Option<&String>,
) -> Result<Environment, Error> {
    let env = load_environments(root, std::slice::from_ref(&name.to_string()))?
        .pop()
        .ok_or_else(|| Error::NoEnvironments(root.join("environments")))?;
    if let Some(region) = region
        && !env.regions.iter().any(|r| &r.name == region)
    {
        return Err(Error::UnknownRegion {
            name: region.clone(),
            available: env.regions.iter().map(|r| r.name.clone()).collect(),
        });
    }
    Ok(env)
}
