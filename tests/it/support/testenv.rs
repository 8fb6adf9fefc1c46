//! Starts (or reuses) the local multi-region control plane and hands each test its own namespace.
//!
//! The control plane is `testenv/hadr-testenv`: each region is a real etcd, kube-apiserver,
//! kube-controller-manager and kube-scheduler on loopback, with kwok fake nodes in three zones.
//! Regions are started once per test run (or reused when already running, e.g. started by CI or
//! by hand with `testenv/hadr-testenv up`) and are left running for the next run; stop them
//! with `testenv/hadr-testenv down`. A missing build or a region that does not come up makes
//! the test fail with the command to run: cluster tests never skip silently.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

/// Regions shared by tests that only create objects in their own namespace.
pub const SHARED_REGIONS: [&str; 3] = ["eastus2", "centralus", "westus"];
/// Region whose kube-apiserver is stopped (and restarted) by exactly one test.
pub const OUTAGE_REGION: &str = "westus3";
/// Region whose zone `<region>-1` loses its nodes (its kwok, `kwok-1`, is stopped) in exactly one test.
pub const ZONE_LOSS_REGION: &str = "northeurope";
/// Zones of a region, as labelled on its fake nodes.
pub const ZONES_PER_REGION: usize = 3;
/// Fake nodes per zone.
pub const NODES_PER_ZONE: usize = 2;

/// Label keys the fake nodes carry.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `testenv/hadr-testenv`, the command that builds, starts and stops the control plane.
pub fn script() -> PathBuf {
    repo_root().join("testenv").join("hadr-testenv")
}

/// The state directory `hadr-testenv` uses (same default and override).
pub fn state_dir() -> PathBuf {
    match std::env::var_os("HADR_TESTENV_STATE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo_root().join("testenv").join(".state"),
    }
}

/// The kubeconfig with one context per running region (context name = region name).
pub fn kubeconfig_path() -> PathBuf {
    state_dir().join("kubeconfig")
}

/// Runs `hadr-testenv ARGS`; `Err` describes the failure with the command's output (which
/// names the command to run when the binaries are not built).
pub fn try_hadr_testenv(args: &[&str]) -> Result<Output, String> {
    let script = script();
    let output = Command::new(&script)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if output.status.success() {
        return Ok(output);
    }
    Err(format!(
        "`{} {}` failed ({}); the cluster tests need the local control plane.\n\
         Build its binaries once with `testenv/hadr-testenv build`.\n\
         --- stdout ---\n{}\n--- stderr ---\n{}",
        script.display(),
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    ))
}

/// Runs `hadr-testenv ARGS`, panicking with its output unless it succeeds.
pub fn hadr_testenv(args: &[&str]) -> Output {
    try_hadr_testenv(args).unwrap_or_else(|e| panic!("{e}"))
}

fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = hadr_testenv(&["bin-dir"]);
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

/// The test oracle NAME (a Go program in `testenv/tools/oracles/NAME`, built and cached by
/// `hadr-testenv build`): the real library a judge uses, for differential tests.
pub fn oracle(name: &str) -> PathBuf {
    let out = hadr_testenv(&["oracle", name]);
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The `kubectl` built with the control plane.
pub fn kubectl() -> PathBuf {
    bin_dir().join("kubectl")
}

/// Makes sure REGIONS are running and ready: `hadr-testenv up` runs at most once per region
/// and test process (it reuses regions that are already running). Blocks; tests of the same
/// process wait for each other here instead of starting regions twice.
pub fn ensure_regions(regions: &[&str]) {
    static STARTED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    up_once(&STARTED, regions, &[]);
}

/// Runs `hadr-testenv up [FLAGS] --regions ...` for the REGIONS not yet in STARTED, and
/// records them there.
fn up_once(started: &Mutex<BTreeSet<String>>, regions: &[&str], flags: &[&str]) {
    let mut started = started
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let missing: Vec<&str> = regions
        .iter()
        .copied()
        .filter(|r| !started.contains(*r))
        .collect();
    if missing.is_empty() {
        return;
    }
    let list = missing.join(",");
    let mut args = vec!["up"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--regions", &list]);
    hadr_testenv(&args);
    started.extend(missing.iter().map(|r| r.to_string()));
}

/// Makes sure REGIONS run Velero, with the shared object store (`hadr-testenv up
/// --with-velero`): at most once per region and test process, like [`ensure_regions`] (which
/// it covers). Only the tests that back up or restore need it.
pub fn ensure_velero(regions: &[&str]) {
    static STARTED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    up_once(&STARTED, regions, &["--with-velero"]);
}

/// The directory of the shared bucket Velero writes backups to (versitygw's POSIX backend:
/// object keys are paths below it).
pub fn bucket_dir() -> PathBuf {
    state_dir()
        .join("object-store")
        .join("s3")
        .join("hadr-backups")
}

/// Restarts whatever is not running in REGION (e.g. after a test stopped a component) and
/// waits until it is ready again.
pub fn restart_region(region: &str) {
    hadr_testenv(&["up", "--regions", region]);
}

/// Stops one component (`kube-apiserver`, `etcd`, ...) of REGION, by the pid it was started with.
pub fn stop_component(region: &str, component: &str) {
    hadr_testenv(&["down", "--regions", region, "--component", component]);
}

/// Where REGION's component logs are, for failure messages.
pub fn logs_dir(region: &str) -> PathBuf {
    state_dir().join("regions").join(region).join("logs")
}

/// An admin client for REGION (its context in the shared kubeconfig).
pub async fn client(region: &str) -> Client {
    let path = kubeconfig_path();
    let kubeconfig = Kubeconfig::read_from(&path)
        .unwrap_or_else(|e| panic!("cannot read kubeconfig {}: {e}", path.display()));
    let options = KubeConfigOptions {
        context: Some(region.to_string()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .unwrap_or_else(|e| panic!("no usable context {region} in {}: {e}", path.display()));
    Client::try_from(config).unwrap_or_else(|e| panic!("cannot build a client for {region}: {e}"))
}

/// Polls F every 250ms until it returns `Ok`, at most TIMEOUT. `Err(observed)` means "not
/// yet" and describes what was seen; the last observation is in the panic message.
pub async fn poll_until<T, E, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    E: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let start = Instant::now();
    loop {
        match f().await {
            Ok(value) => return value,
            Err(observed) if start.elapsed() >= timeout => {
                panic!(
                    "timed out after {timeout:?} waiting for {what}; last observed: {observed:#?}"
                )
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// A namespace of its own for one test, created in each of its regions and deleted
/// (best effort, without waiting) when dropped, also when the test panics.
pub struct TestNamespace {
    pub name: String,
    regions: Vec<(String, Client)>,
}

impl TestNamespace {
    /// Starts REGIONS if needed and creates a uniquely named namespace derived from TEST in
    /// each, waiting until its `default` ServiceAccount exists (pods need it).
    pub async fn create(test: &str, regions: &[&str]) -> TestNamespace {
        ensure_regions(regions);
        let name = unique_name(test);
        let mut ns = TestNamespace {
            name: name.clone(),
            regions: Vec::new(),
        };
        for region in regions {
            let client = client(region).await;
            let namespaces: Api<Namespace> = Api::all(client.clone());
            let object = Namespace {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    labels: Some([("hadr.test/test".to_string(), slug(test, 63))].into()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            };
            namespaces
                .create(&PostParams::default(), &object)
                .await
                .unwrap_or_else(|e| panic!("{region}: cannot create namespace {name}: {e}"));
            ns.regions.push((region.to_string(), client.clone()));
            let accounts: Api<ServiceAccount> = Api::namespaced(client, &name);
            poll_until(
                &format!("{region}: ServiceAccount {name}/default"),
                Duration::from_secs(60),
                || async {
                    match accounts.get_opt("default").await {
                        Ok(Some(account)) => Ok(account),
                        Ok(None) => Err("not created yet".to_string()),
                        Err(e) => Err(e.to_string()),
                    }
                },
            )
            .await;
        }
        ns
    }

    /// The admin client of REGION (one of the regions the namespace was created in).
    pub fn client(&self, region: &str) -> Client {
        self.regions
            .iter()
            .find(|(r, _)| r == region)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| panic!("namespace {} was not created in region {region}", self.name))
    }

    /// A namespaced API for K in REGION.
    pub fn api<K>(&self, region: &str) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client(region), &self.name)
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        // Synchronous on purpose: Drop may run inside (or after) the test's runtime.
        let kubectl = kubectl();
        for (region, _) in &self.regions {
            let _ = Command::new(&kubectl)
                .arg(format!("--kubeconfig={}", kubeconfig_path().display()))
                .arg(format!("--context={region}"))
                .args(["--request-timeout=10s", "delete", "namespace", &self.name])
                .args(["--wait=false", "--ignore-not-found"])
                .output();
        }
    }
}

fn slug(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(max);
    out.trim_matches('-').to_string()
}

/// `<test>-<time><pid><n>`, at most 63 characters, unique across runs and parallel tests.
fn unique_name(test: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let suffix = format!(
        "{:x}{:x}{}",
        millis % 0xff_ffff_ffff,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    format!("{}-{suffix}", slug(test, 62 - suffix.len()))
}

/// Applies what `render` wrote for an environment and region (Namespace first) straight through
/// the cluster client, without `rollout`; with `applyset`, marked as `rollout` marks them.
pub async fn apply_rendered(
    ws: &crate::support::workspace::Workspace,
    env: &str,
    region: &str,
    applyset: Option<&str>,
) {
    use kubectl_hadr::cluster::{Cluster, load_kubeconfig};
    use kubectl_hadr::render::manifest::ObjectId;
    let kubeconfig = load_kubeconfig(Some(&kubeconfig_path())).unwrap();
    let cluster = Cluster::connect(&kubeconfig, region, region).await.unwrap();
    let mut objects: Vec<(ObjectId, serde_json::Value)> = ws
        .snapshot(&format!("rendered/{env}/{region}"))
        .into_iter()
        .filter(|(name, _)| name.ends_with(".yaml"))
        .map(|(_, bytes)| {
            let v = kubectl_hadr::yaml::documents(&String::from_utf8(bytes).unwrap())
                .unwrap()
                .pop()
                .unwrap();
            (ObjectId::of(&v).unwrap(), v)
        })
        .collect();
    assert!(!objects.is_empty(), "nothing rendered for {env}/{region}");
    objects.sort_by_key(|(id, _)| id.kind != "Namespace");
    for (id, v) in objects {
        let v = match applyset {
            Some(set_id) => kubectl_hadr::cluster::live::prepared(v, set_id),
            None => v,
        };
        cluster
            .apply(&id, &v, false)
            .await
            .unwrap_or_else(|e| panic!("{region}: apply {id}: {e}"));
    }
}
