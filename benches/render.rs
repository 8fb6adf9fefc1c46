//! Render throughput on a generated fleet: 200 environments x 3 regions (about 4,200 objects
//! with the built-in templates), full render into an empty tree, a no-change re-render and a
//! re-render with one environment changed. The fleet is a git repository, as where users
//! render: the render cache lives in its `.git/hadr/`.
//!
//! `cargo bench --bench render` (set HADR_BENCH_ENVS to change the fleet size).

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kubectl_hadr::commands::render::{Action, RenderOptions, render};

fn fleet(root: &Path, envs: usize) {
    let dir = root.join("environments");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..envs {
        let text = format!(
            "apiVersion: hadr.dev/v1alpha1
kind: Environment
metadata: {{name: env-{i:04}}}
spec:
  namespace: team-{i:04}
  app: {{name: app-{i:04}, image: registry.example.com/app:1.{i}.0, replicas: 3}}
  ha: {{antiAffinity: required, disruptionBudget: {{minAvailable: 2}}, survive: region}}
  dr: {{rpo: 24h, backup: {{schedule: \"0 */6 * * *\", ttl: 720h}}}}
  config: {{LOG_LEVEL: info, FEATURE_X: \"on\", SHARD: \"{i}\"}}
  regions:
    - {{name: eastus2, context: c-{i}-e, config: {{ROLE: primary}}}}
    - {{name: centralus, context: c-{i}-c}}
    - {{name: westus3, context: c-{i}-w, replicas: 2}}
"
        );
        std::fs::write(dir.join(format!("env-{i:04}.yaml")), text).unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let envs: usize = std::env::var("HADR_BENCH_ENVS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let ws = tempfile::tempdir().unwrap();
    fleet(ws.path(), envs);
    git2::Repository::init(ws.path()).unwrap();
    let cache_dir = ws.path().join(".git/hadr");
    let opts = |out: &Path| RenderOptions {
        root: ws.path().to_path_buf(),
        environments: vec![],
        region: None,
        out: Some(out.to_path_buf()),
        action: Action::Write,
        force: false,
        allow_violations: false,
    };
    let probe = tempfile::tempdir().unwrap();
    let report = render(&opts(probe.path())).unwrap();
    let objects: usize = report.sets.iter().map(|s| s.objects).sum();
    let bytes: u64 = report
        .sets
        .iter()
        .flat_map(|s| std::fs::read_dir(&s.directory).unwrap())
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    eprintln!(
        "fleet: {envs} environments, {} region sets, {objects} objects, {bytes} bytes of YAML",
        report.sets.len()
    );

    let mut g = c.benchmark_group("render");
    g.sample_size(10);
    g.throughput(Throughput::Elements(objects as u64));
    // A fresh output directory each time, and no cache left by earlier iterations (there is
    // one per output directory).
    let empty = || {
        let _ = std::fs::remove_dir_all(&cache_dir);
        tempfile::tempdir().unwrap()
    };
    g.bench_function("full (objects/s)", |b| {
        b.iter_batched(
            empty,
            |out| render(&opts(out.path())).unwrap(),
            criterion::BatchSize::PerIteration,
        )
    });
    render(&opts(probe.path())).unwrap();
    g.bench_function("no change (objects/s)", |b| {
        b.iter(|| render(&opts(probe.path())).unwrap())
    });
    let env0 = ws.path().join("environments/env-0000.yaml");
    let text = std::fs::read_to_string(&env0).unwrap();
    let mut flip = false;
    g.bench_function("1 env changed (objects/s)", |b| {
        b.iter_batched(
            || {
                flip = !flip;
                let image = if flip { "app:9.0.0" } else { "app:9.1.0" };
                std::fs::write(&env0, text.replace("app:1.0.0", image)).unwrap();
            },
            |()| render(&opts(probe.path())).unwrap(),
            criterion::BatchSize::PerIteration,
        )
    });
    std::fs::write(&env0, &text).unwrap();
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("full (YAML bytes/s)", |b| {
        b.iter_batched(
            empty,
            |out| render(&opts(out.path())).unwrap(),
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// What validation costs per object: reading a rendered object's text alone, and reading it
/// and checking it as render does (object rules, then the OpenAPI schema); the difference is
/// the check. The objects are those of the committed `rendered/prod/eastus2`.
fn validation(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rendered/prod/eastus2");
    let mut texts: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    texts.sort();
    let mut g = c.benchmark_group("validate");
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.bench_function("read only (objects/s)", |b| {
        b.iter(|| {
            for (_, t) in &texts {
                kubectl_hadr::yaml::template_output(t).unwrap();
            }
        })
    });
    g.bench_function("read and check (objects/s)", |b| {
        b.iter(|| {
            for (_, t) in &texts {
                kubectl_hadr::render::check_output(t).unwrap();
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench, validation);
criterion_main!(benches);
