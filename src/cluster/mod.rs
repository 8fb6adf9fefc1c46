//! Kubernetes clusters, one per region: clients from kubeconfig contexts, discovery of any kind
//! (CRDs included), server-side dry-run apply and reads of live objects.

pub mod applyset;
pub mod forbidden;
pub mod health;
pub mod lease;
pub mod live;
pub mod record;
mod scan;
mod settle;
pub mod stop;
pub mod velero;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use kube::{Client, Config};
use serde_json::Value;
use tokio::sync::Mutex;

use self::forbidden::Permission;
use crate::render::manifest::{ENVIRONMENT_LABEL, MANAGED_BY, ObjectId, REGION_LABEL};

/// The underlying error of a failed request or connection.
pub type Source = Box<dyn std::error::Error + Send + Sync>;

/// The field manager of every apply.
pub const FIELD_MANAGER: &str = "kubectl-hadr";

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A kubeconfig that exists but cannot be read: `reason` never holds text of the file
    /// (it holds tokens and keys), only where and what.
    #[error("kubeconfig {file}{at}: {reason}\n  help: {help}")]
    Kubeconfig {
        /// The file, or the files of `KUBECONFIG` when kube does not say which.
        file: String,
        /// `:line:column` when the reader said where, else empty.
        at: String,
        reason: String,
        help: &'static str,
        #[source]
        source: Box<kube::config::KubeconfigError>,
    },
    #[error(
        "kubeconfig {} ({from}) does not exist\n  help: pass --kubeconfig with the file that has the regions' contexts, set KUBECONFIG to it, or create ~/.kube/config; each region's `context:` in the environment file names a context in it",
        listed_files(.missing)
    )]
    MissingKubeconfig {
        /// Where the file names came from: `--kubeconfig`, `KUBECONFIG` or the default.
        from: &'static str,
        /// The files named there that do not exist.
        missing: Vec<PathBuf>,
    },
    #[error(
        "region `{region}`: context `{context}` is not in the kubeconfig ({})\n  {}\n  help: set the region's `context:` in the environment file to one of them, pass --context with --region, or point KUBECONFIG (or --kubeconfig) at the kubeconfig that has `{context}`",
        read_files(.files),
        listed_contexts(.available)
    )]
    UnknownContext {
        region: String,
        context: String,
        /// The kubeconfig files read, in order.
        files: Vec<PathBuf>,
        /// The contexts they define, closest to `context` first.
        available: Vec<String>,
    },
    #[error("region `{region}` (context `{context}`) cannot be reached: {reason}\n  help: {help}")]
    Unreachable {
        region: String,
        context: String,
        /// The failure in words (the server's message when it answered).
        reason: String,
        /// What to check, for the kind of failure.
        help: String,
        #[source]
        source: Source,
    },
    #[error(
        "region `{region}`: the cluster does not serve {api_version} {kind} (is its CRD installed?)"
    )]
    UnknownKind {
        region: String,
        api_version: String,
        kind: String,
    },
    #[error(
        "region `{region}`: {id}: field conflict: {message}\n  help: another field manager owns these fields; rerun with --force-conflicts to take them over"
    )]
    Conflict {
        region: String,
        id: String,
        message: String,
        #[source]
        source: Source,
    },
    /// The server refused the object as invalid (HTTP 422): `message` names each field and
    /// what is wrong with it, without the server's dump of the value.
    #[error("region `{region}`: {id}: {message}")]
    Invalid {
        region: String,
        id: String,
        message: String,
        /// Whether a field that cannot change after creation would change (selector,
        /// clusterIP, a Job's template, an immutable ConfigMap's data).
        immutable: bool,
        #[source]
        source: Source,
    },
    /// A request the server refused or that failed; `message` is the server's own words when
    /// it answered (the Status message and reason).
    #[error("region `{region}`: {id}: {message}")]
    Api {
        region: String,
        id: String,
        message: String,
        #[source]
        source: Option<Source>,
    },
    #[error(
        "region `{region}`: {lease}: another rollout holds the lease: {holder} (until {until})\n  help: wait for it to finish or, if it died, for the lease to expire"
    )]
    LeaseHeld {
        region: String,
        lease: String,
        holder: String,
        /// RFC 3339.
        until: String,
    },
    /// Stopping was asked for (a signal); the requests in flight finished.
    #[error("region `{region}`: interrupted by a signal; stopped after the requests in flight")]
    Interrupted { region: String },
    /// RBAC refused a request (HTTP 403): the permission that was missing, for whom, and
    /// which role shipped in `deploy/rbac/` grants it.
    #[error(
        "region `{region}`: {id}: missing permission: {permission} for `{}`\n  help: {}",
        .permission.user,
        .permission.fix()
    )]
    Forbidden {
        region: String,
        id: String,
        /// Boxed: it is five strings, and every `Result` carrying a ClusterError pays for
        /// its largest variant.
        permission: Box<forbidden::Permission>,
        #[source]
        source: Source,
    },
    #[error("region `{region}`: {id}: namespace `{namespace}` does not exist yet")]
    NamespaceMissing {
        region: String,
        id: String,
        namespace: String,
    },
}

/// An error in words, without Rust structures: the server's message and reason when it
/// answered (kube's own Display of an API error appends the whole Status as a Rust struct).
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    match e.downcast_ref::<kube::Error>() {
        Some(kube::Error::Api(s)) if s.code == 403 => match Permission::from_message(&s.message) {
            Some(p) => format!("missing permission: {p} for `{}` ({})", p.user, p.fix()),
            None => format!("{} ({})", s.message, s.reason),
        },
        Some(kube::Error::Api(s)) if s.message.is_empty() => {
            format!("{} (HTTP {})", s.reason, s.code)
        }
        Some(kube::Error::Api(s)) => format!("{} ({})", s.message, s.reason),
        _ => e.to_string(),
    }
}

/// The user a context names when the kubeconfig does not define it: kube would connect
/// anonymously, where kubectl refuses the context.
fn undefined_user(config: &Kubeconfig, context: &str) -> Option<String> {
    let user = (config.contexts.iter())
        .find(|c| c.name == context)?
        .context
        .as_ref()?
        .user
        .clone()
        .filter(|u| !u.is_empty())?;
    (!config.auth_infos.iter().any(|a| a.name == user)).then_some(user)
}

/// The `server:` of a context's cluster in the kubeconfig, when it has one.
fn server_of(config: &Kubeconfig, context: &str) -> Option<String> {
    let cluster = (config.contexts.iter())
        .find(|c| c.name == context)?
        .context
        .as_ref()?
        .cluster
        .clone();
    (config.clusters.iter())
        .find(|c| c.name == cluster)?
        .cluster
        .as_ref()?
        .server
        .clone()
}

/// Why connecting to a context's cluster failed, and what to check: the kubeconfig's own
/// mistakes by name, a network failure by the operating system's reason (found down the
/// error's chain, under kube's and hyper's wrappers) and the address tried. Never the text of
/// a credential plugin's failure: kube's holds its command line, environment and output.
fn connect_failure(
    e: &(dyn std::error::Error + 'static),
    context: &str,
    server: Option<&str>,
) -> (String, String) {
    let fix_kubeconfig = || {
        format!(
            "fix context `{context}` in the kubeconfig (`kubectl config view` shows it), or set the region's `context:` to another"
        )
    };
    let at = server.unwrap_or("the kubeconfig's `server:`");
    let mut cause = Some(e);
    while let Some(err) = cause {
        if let Some(k) = err.downcast_ref::<kube::config::KubeconfigError>() {
            return (kubeconfig_words(k), fix_kubeconfig());
        }
        if let Some(a) = err.downcast_ref::<kube::client::AuthError>() {
            return (
                auth_words(a),
                format!(
                    "run the user's credential command of context `{context}` by hand to see why, or fix the user in the kubeconfig"
                ),
            );
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return (
                network_words(io, at),
                format!(
                    "check that the cluster runs and that {at} is its API server's address (context `{context}` in the kubeconfig)"
                ),
            );
        }
        cause = err.source();
    }
    (
        crate::yaml::redact_quoted(&describe(e)),
        format!("check the cluster of context `{context}` at {at}"),
    )
}

/// A kubeconfig mistake kube found while building the client, in words.
fn kubeconfig_words(k: &kube::config::KubeconfigError) -> String {
    use kube::config::{KubeconfigError as K, LoadDataError as D};
    let data = |what: &str, d: &D| match d {
        D::ReadFile(io, path) => format!(
            "its {what} file {} cannot be read: {}",
            path.display(),
            io_words(io)
        ),
        D::DecodeBase64(_) => format!("its {what} data is not base64"),
        D::NoBase64DataOrFile => format!("its {what} has neither data nor a file"),
    };
    match k {
        K::LoadClusterOfContext(c) => {
            format!("the context names cluster `{c}`, which the kubeconfig does not define")
        }
        K::ParseClusterUrl(u) => format!("its cluster's `server:` is not a URL ({u})"),
        K::MissingClusterUrl => "its cluster has no `server:`".into(),
        K::LoadCertificateAuthority(d) => data("cluster's `certificate-authority`", d),
        K::LoadClientCertificate(d) => data("user's `client-certificate`", d),
        K::LoadClientKey(d) => data("user's `client-key`", d),
        other => crate::yaml::redact_quoted(&other.to_string()),
    }
}

/// Why a context's user has no credentials, without the plugin's command, environment or
/// output (they hold tokens).
fn auth_words(a: &kube::client::AuthError) -> String {
    use kube::client::AuthError as A;
    match a {
        A::AuthExecStart(io) if io.kind() == std::io::ErrorKind::NotFound => {
            "the credential plugin its user runs (`user.exec.command`) is not found".into()
        }
        A::AuthExecStart(io) => format!(
            "the credential plugin its user runs (`user.exec.command`) cannot be started: {}",
            io_words(io)
        ),
        A::AuthExecRun { out, .. } => format!(
            "the credential plugin its user runs (`user.exec`) failed ({})",
            out.status
        ),
        A::AuthExecParse(_) | A::ExecPluginFailed => {
            "the credential plugin its user runs (`user.exec`) answered with no ExecCredential"
                .into()
        }
        A::ReadTokenFile(io, path) => format!(
            "its user's `tokenFile` {} cannot be read: {}",
            path.display(),
            io_words(io)
        ),
        A::MissingCommand => "its user's `exec` names no command".into(),
        _ => "its user's credentials could not be obtained".into(),
    }
}

/// A network failure in words: the OS's reason, and a name that does not resolve as such.
fn network_words(io: &std::io::Error, at: &str) -> String {
    let text = io.to_string();
    if text.contains("lookup address") || text.contains("Name or service not known") {
        return format!("the host name of {at} does not resolve (DNS)");
    }
    format!("nothing answers at {at} ({})", io_words(io))
}

/// An I/O error's kind in words, without the OS error number.
fn io_words(io: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match io.kind() {
        K::NotFound => "it does not exist".into(),
        K::ConnectionRefused
        | K::ConnectionReset
        | K::TimedOut
        | K::PermissionDenied
        | K::HostUnreachable
        | K::NetworkUnreachable => io.kind().to_string(),
        // The rest (`Uncategorized` included) say more in the OS's own text.
        _ => {
            let text = io.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

/// A 422's message as "field: what is wrong" per cause. The server quotes the rejected value
/// in full, for a Job's template a Go struct of kilobytes: a value longer than a line is left
/// out (the diff shows it).
fn invalid_message(s: &kube::core::Status) -> String {
    let causes = s
        .details
        .as_ref()
        .map(|d| d.causes.as_slice())
        .unwrap_or_default();
    if causes.is_empty() {
        return shorten_invalid_value(&s.message);
    }
    causes
        .iter()
        .map(|c| match c.field.as_str() {
            "" => shorten_invalid_value(&c.message),
            field => format!("{field}: {}", shorten_invalid_value(&c.message)),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `Invalid value: <value>: <reason>` without a value longer than 60 characters.
fn shorten_invalid_value(message: &str) -> String {
    const MARK: &str = "Invalid value: ";
    let Some(at) = message.find(MARK) else {
        return message.to_string();
    };
    let rest = &message[at + MARK.len()..];
    match rest.rfind(": ") {
        Some(end) if end > 60 => format!("{}{}", &message[..at], &rest[end + 2..]),
        _ => message.to_string(),
    }
}

/// A kubeconfig and the files it was read from (for errors that say where to look).
#[derive(Debug, Clone)]
pub struct LoadedKubeconfig {
    pub config: Kubeconfig,
    /// An explicit file, else every file of `KUBECONFIG` (merged, as kubectl merges them),
    /// else `~/.kube/config`.
    pub files: Vec<PathBuf>,
}

/// Where to find kubeconfig: an explicit file, else `KUBECONFIG`, else `~/.kube/config`.
pub fn load_kubeconfig(explicit: Option<&Path>) -> Result<LoadedKubeconfig, ClusterError> {
    let result = match explicit {
        Some(p) => Kubeconfig::read_from(p),
        None => Kubeconfig::read(),
    };
    let files = kubeconfig_files(explicit);
    let config = result.map_err(|source| {
        let missing: Vec<PathBuf> = files.iter().filter(|f| !f.exists()).cloned().collect();
        if missing.is_empty() {
            return unreadable_kubeconfig(&files, source);
        }
        let from = match (explicit, std::env::var_os("KUBECONFIG")) {
            (Some(_), _) => "from --kubeconfig",
            (None, Some(k)) if !k.is_empty() => "from KUBECONFIG",
            _ => "the default, as neither --kubeconfig nor KUBECONFIG is set",
        };
        ClusterError::MissingKubeconfig { from, missing }
    })?;
    Ok(LoadedKubeconfig { config, files })
}

/// Why a kubeconfig that exists cannot be read, in words and without any of its text.
fn unreadable_kubeconfig(files: &[PathBuf], source: kube::config::KubeconfigError) -> ClusterError {
    use kube::config::KubeconfigError as K;
    let listed: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let (file, at, reason, help) = match &source {
        K::ReadConfig(io, path) => (
            path.display().to_string(),
            String::new(),
            format!("cannot be read: {}", io.kind()),
            "pass the kubeconfig file itself (--kubeconfig or KUBECONFIG), readable by you",
        ),
        K::Parse(e) => {
            let (position, what) = crate::yaml::error_without_text(e);
            (
                listed.join(", "),
                position.map(|p| format!(":{p}")).unwrap_or_default(),
                format!("the YAML cannot be read: {what}"),
                "fix the file there (`kubectl config view` reads it the same way); its lines are not shown, as a kubeconfig holds credentials",
            )
        }
        other => (
            listed.join(", "),
            String::new(),
            crate::yaml::redact_quoted(&other.to_string()),
            "check the files that KUBECONFIG lists: kubectl merges them the same way",
        ),
    };
    ClusterError::Kubeconfig {
        file,
        at,
        reason,
        help,
        source: Box::new(source),
    }
}

/// "`a`, `b`" (the files of a `MissingKubeconfig` error).
fn listed_files(files: &[PathBuf]) -> String {
    let shown: Vec<String> = files.iter().map(|f| format!("`{}`", f.display())).collect();
    shown.join(", ")
}

/// The files `load_kubeconfig` reads, in the order kube reads them.
fn kubeconfig_files(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    match std::env::var_os("KUBECONFIG") {
        Some(paths) if !paths.is_empty() => std::env::split_paths(&paths)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        _ => std::env::home_dir()
            .map(|h| vec![h.join(".kube").join("config")])
            .unwrap_or_default(),
    }
}

/// "read a, b" (the files of an `UnknownContext` error).
fn read_files(files: &[PathBuf]) -> String {
    let shown: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    match shown.as_slice() {
        [] => "no kubeconfig file was found".into(),
        [one] => format!("read {one}"),
        many => format!("read and merged {}", many.join(", ")),
    }
}

fn listed_contexts(available: &[String]) -> String {
    if available.is_empty() {
        return "it defines no contexts".into();
    }
    let names: Vec<String> = available.iter().map(|c| format!("`{c}`")).collect();
    format!("its contexts, closest first: {}", names.join(", "))
}

/// The contexts of a kubeconfig, closest to `wanted` first (Levenshtein distance, then name).
fn closest_contexts(config: &Kubeconfig, wanted: &str) -> Vec<String> {
    let mut names: Vec<(usize, String)> = config
        .contexts
        .iter()
        .map(|c| (strsim::levenshtein(wanted, &c.name), c.name.clone()))
        .collect();
    names.sort();
    names.into_iter().map(|(_, n)| n).collect()
}

/// A discovered kind: how to address it and whether it is namespaced.
type Discovered = Arc<(ApiResource, ApiCapabilities)>;

/// One region's cluster, with a discovery cache shared by concurrent requests.
pub struct Cluster {
    pub region: String,
    pub context: String,
    client: Client,
    /// The same, without kube's retries of 429/503/504.
    no_retry: Client,
    kinds: Mutex<HashMap<(String, String), Discovered>>,
}

impl Cluster {
    /// Errors: `UnknownContext` when the kubeconfig has no `context` (with the files read and
    /// the contexts they have), `Unreachable` when its cluster does not answer.
    pub async fn connect(
        kubeconfig: &LoadedKubeconfig,
        region: &str,
        context: &str,
    ) -> Result<Cluster, ClusterError> {
        if !kubeconfig.config.contexts.iter().any(|c| c.name == context) {
            return Err(ClusterError::UnknownContext {
                region: region.into(),
                context: context.into(),
                files: kubeconfig.files.clone(),
                available: closest_contexts(&kubeconfig.config, context),
            });
        }
        if let Some(user) = undefined_user(&kubeconfig.config, context) {
            return Err(ClusterError::Unreachable {
                region: region.into(),
                context: context.into(),
                reason: format!(
                    "the context names user `{user}`, which the kubeconfig does not define"
                ),
                help: format!(
                    "define user `{user}` under `users:`, or name a defined one in context `{context}` (kubectl refuses such a context too)"
                ),
                source: format!("undefined user {user}").into(),
            });
        }
        let server = server_of(&kubeconfig.config, context);
        let unreachable = |source: Source| {
            let (reason, help) = connect_failure(source.as_ref(), context, server.as_deref());
            ClusterError::Unreachable {
                region: region.into(),
                context: context.into(),
                reason,
                help,
                source,
            }
        };
        let options = KubeConfigOptions {
            context: Some(context.to_string()),
            ..Default::default()
        };
        let config = Config::from_custom_kubeconfig(kubeconfig.config.clone(), &options)
            .await
            .map_err(|e| unreachable(e.into()))?;
        // kube retries a 429 for up to 15 times with backoff up to 1000 s; an eviction a
        // PodDisruptionBudget refuses (429) must come back at once, so the drill's own loop
        // can retry it while it follows the recovery.
        let mut once = config.clone();
        once.default_retry = false;
        let no_retry = Client::try_from(once).map_err(|e| unreachable(e.into()))?;
        let client = Client::try_from(config).map_err(|e| unreachable(e.into()))?;
        // One cheap request, so an unreachable region is reported as such up front.
        client
            .apiserver_version()
            .await
            .map_err(|e| unreachable(e.into()))?;
        Ok(Cluster {
            region: region.into(),
            context: context.into(),
            client,
            no_retry,
            kinds: Mutex::new(HashMap::new()),
        })
    }

    async fn resource(&self, api_version: &str, kind: &str) -> Result<Discovered, ClusterError> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(found) = self.kinds.lock().await.get(&key) {
            return Ok(found.clone());
        }
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let found = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|_| ClusterError::UnknownKind {
                region: self.region.clone(),
                api_version: api_version.into(),
                kind: kind.into(),
            })?;
        let found = Arc::new(found);
        self.kinds.lock().await.insert(key, found.clone());
        Ok(found)
    }

    async fn api(&self, id: &ObjectId) -> Result<Api<DynamicObject>, ClusterError> {
        let found = self.resource(&id.api_version, &id.kind).await?;
        let (ar, caps) = &*found;
        Ok(match (&caps.scope, &id.namespace) {
            (Scope::Namespaced, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, ar),
            (Scope::Namespaced, None) => Api::default_namespaced_with(self.client.clone(), ar),
            (Scope::Cluster, _) => Api::all_with(self.client.clone(), ar),
        })
    }

    fn api_error(&self, id: &ObjectId, e: kube::Error) -> ClusterError {
        match e {
            kube::Error::Api(ref s) if s.code == 409 => ClusterError::Conflict {
                region: self.region.clone(),
                id: id.to_string(),
                message: s.message.clone(),
                source: e.into(),
            },
            kube::Error::Api(ref s)
                if s.code == 404 && s.details.as_ref().is_some_and(|d| d.kind == "namespaces") =>
            {
                ClusterError::NamespaceMissing {
                    region: self.region.clone(),
                    id: id.to_string(),
                    namespace: id.namespace.clone().unwrap_or_default(),
                }
            }
            kube::Error::Api(ref s) if s.code == 422 => ClusterError::Invalid {
                region: self.region.clone(),
                id: id.to_string(),
                message: invalid_message(s),
                immutable: s.message.contains("field is immutable")
                    || s.message.contains("immutable: true"),
                source: e.into(),
            },
            other => self.request_error(id.to_string(), other),
        }
    }

    /// A failed request as an error: the server's message and reason when it answered.
    pub(crate) fn request_error(&self, id: String, e: kube::Error) -> ClusterError {
        if let kube::Error::Api(s) = &e
            && s.code == 403
            && let Some(permission) = Permission::from_message(&s.message)
        {
            return ClusterError::Forbidden {
                region: self.region.clone(),
                id,
                permission: Box::new(permission),
                source: e.into(),
            };
        }
        let message = describe(&e);
        ClusterError::Api {
            region: self.region.clone(),
            id,
            message,
            source: Some(e.into()),
        }
    }

    /// The error of a Lease request: a lost race is worth a retry.
    pub(crate) fn lease_error(&self, id: &str, e: kube::Error) -> ClusterError {
        match e {
            kube::Error::Api(ref s) if s.code == 409 => ClusterError::Api {
                region: self.region.clone(),
                id: id.into(),
                message: "another rollout took the lease at the same moment; retry".into(),
                source: Some(e.into()),
            },
            other => self.request_error(id.into(), other),
        }
    }

    /// The apiVersion the cluster prefers for a group-kind (`""` for the core group), from
    /// discovery; `None` when the cluster no longer serves the kind (its CRD is gone).
    pub async fn preferred_api_version(
        &self,
        group: &str,
        kind: &str,
    ) -> Result<Option<String>, ClusterError> {
        let found = match kube::discovery::group(&self.client, group).await {
            Ok(g) => g.recommended_kind(kind),
            Err(kube::Error::Api(s)) if s.code == 404 => None,
            // The group's last CRD is gone (or was never installed): the server lists no
            // such group at all.
            Err(kube::Error::Discovery(kube::error::DiscoveryError::MissingApiGroup(_))) => None,
            Err(e) => return Err(self.request_error(format!("discovery of {kind}.{group}"), e)),
        };
        Ok(found.map(|(ar, caps)| {
            let api_version = ar.api_version.clone();
            let key = (api_version.clone(), kind.to_string());
            if let Ok(mut kinds) = self.kinds.try_lock() {
                kinds.entry(key).or_insert_with(|| Arc::new((ar, caps)));
            }
            api_version
        }))
    }

    /// What the server would make of applying `object` (server-side apply, dry run).
    pub async fn dry_run_apply(
        &self,
        id: &ObjectId,
        object: &Value,
        force: bool,
    ) -> Result<Value, ClusterError> {
        self.server_side_apply(id, object, force, true).await
    }

    /// Server-side apply as field manager `kubectl-hadr`.
    pub async fn apply(
        &self,
        id: &ObjectId,
        object: &Value,
        force: bool,
    ) -> Result<Value, ClusterError> {
        self.server_side_apply(id, object, force, false).await
    }

    /// Server-side apply under another field manager, taking over conflicts: for objects only
    /// this tool writes (the ApplySet parent, the deployment record).
    pub async fn apply_as(
        &self,
        id: &ObjectId,
        object: &Value,
        manager: &str,
    ) -> Result<Value, ClusterError> {
        self.ssa(id, object, manager, true, false).await
    }

    async fn server_side_apply(
        &self,
        id: &ObjectId,
        object: &Value,
        force: bool,
        dry_run: bool,
    ) -> Result<Value, ClusterError> {
        self.ssa(id, object, FIELD_MANAGER, force, dry_run).await
    }

    async fn ssa(
        &self,
        id: &ObjectId,
        object: &Value,
        manager: &str,
        force: bool,
        dry_run: bool,
    ) -> Result<Value, ClusterError> {
        let api = self.api(id).await?;
        let mut params = PatchParams::apply(manager);
        if dry_run {
            params = params.dry_run();
        }
        if force {
            params = params.force();
        }
        let result = api
            .patch(&id.name, &params, &Patch::Apply(object))
            .await
            .map_err(|e| self.api_error(id, e))?;
        serde_json::to_value(result).map_err(|e| ClusterError::Api {
            region: self.region.clone(),
            id: id.to_string(),
            message: e.to_string(),
            source: Some(e.into()),
        })
    }

    /// A JSON merge patch (RFC 7386) as field manager `kubectl-hadr`: it can remove a label
    /// another manager set (a restored object's), which server-side apply cannot.
    pub async fn merge_patch(&self, id: &ObjectId, patch: &Value) -> Result<Value, ClusterError> {
        let api = self.api(id).await?;
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        let result = api
            .patch(&id.name, &params, &Patch::Merge(patch))
            .await
            .map_err(|e| self.api_error(id, e))?;
        Ok(serde_json::to_value(result).unwrap_or(Value::Null))
    }

    /// The live object, if it exists.
    pub async fn get(&self, id: &ObjectId) -> Result<Option<Value>, ClusterError> {
        let api = self.api(id).await?;
        let found = api
            .get_opt(&id.name)
            .await
            .map_err(|e| self.api_error(id, e))?;
        Ok(found.and_then(|o| serde_json::to_value(o).ok()))
    }

    /// Live objects of these kinds that carry this environment's and region's labels, in these
    /// namespaces (cluster-scoped kinds: anywhere).
    pub async fn list_managed(
        &self,
        environment: &str,
        kinds: &[(String, String)],
        namespaces: &[String],
    ) -> Result<Vec<(ObjectId, Value)>, ClusterError> {
        let selector = format!(
            "{}={},{ENVIRONMENT_LABEL}={environment},{REGION_LABEL}={}",
            MANAGED_BY.0, MANAGED_BY.1, self.region
        );
        self.list_labelled(kinds, namespaces, &selector).await
    }

    /// Live objects of these kinds matching a label selector, in these namespaces
    /// (cluster-scoped kinds: anywhere). Kinds the cluster no longer serves are skipped.
    pub async fn list_labelled(
        &self,
        kinds: &[(String, String)],
        namespaces: &[String],
        selector: &str,
    ) -> Result<Vec<(ObjectId, Value)>, ClusterError> {
        let mut out = Vec::new();
        for (api_version, kind) in kinds {
            let found = match self.resource(api_version, kind).await {
                Ok(f) => f,
                Err(ClusterError::UnknownKind { .. }) => continue,
                Err(e) => return Err(e),
            };
            let (ar, caps) = &*found;
            let apis: Vec<Api<DynamicObject>> = match caps.scope {
                Scope::Cluster => vec![Api::all_with(self.client.clone(), ar)],
                Scope::Namespaced => namespaces
                    .iter()
                    .map(|ns| Api::namespaced_with(self.client.clone(), ns, ar))
                    .collect(),
            };
            let mut items = Vec::new();
            for api in apis {
                let list = api
                    .list(&ListParams::default().labels(selector))
                    .await
                    .map_err(|e| self.request_error(format!("{kind} list"), e))?;
                items.extend(list.items);
            }
            for item in items {
                let mut v = serde_json::to_value(&item).unwrap_or(Value::Null);
                v["apiVersion"] = Value::String(api_version.clone());
                v["kind"] = Value::String(kind.clone());
                if let Ok(id) = ObjectId::of(&v) {
                    out.push((id, v));
                }
            }
        }
        Ok(out)
    }

    /// Deletes an object (background propagation); an object already gone is no error.
    pub async fn delete(&self, id: &ObjectId) -> Result<(), ClusterError> {
        let api = self.api(id).await?;
        let params = kube::api::DeleteParams::background();
        match api.delete(&id.name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(self.api_error(id, e)),
        }
    }

    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// A client whose requests are sent once: a 429 (an eviction a PodDisruptionBudget
    /// refuses) is returned, not retried for minutes.
    pub fn client_once(&self) -> Client {
        self.no_retry.clone()
    }
}
