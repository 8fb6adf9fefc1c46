//! Render throughput on a generated fleet: 200 environments x 3 regions (about 4,200 objects
//! with the built-in templates), full render into an empty tree and a no-change re-render.
//!
//! `cargo bench --bench render` (set HADR_BENCH_ENVS to change the fleet size).

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kubectl_hadr::pipeline::{Action, RenderOptions, render};

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
    g.bench_function("full (objects/s)", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |out| render(&opts(out.path())).unwrap(),
            criterion::BatchSize::PerIteration,
        )
    });
    g.bench_function("no change (objects/s)", |b| {
        b.iter(|| render(&opts(probe.path())).unwrap())
    });
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("full (YAML bytes/s)", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |out| render(&opts(out.path())).unwrap(),
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
