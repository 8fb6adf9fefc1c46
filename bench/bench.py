#!/usr/bin/env python3
"""Render benchmark: kubectl-hadr vs kustomize vs a jinja2 pipeline. Run it through bench/run,
which installs the peers first; see bench/README.md."""

import argparse
import datetime
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
HERE = os.path.dirname(os.path.abspath(__file__))
REGIONS = ["eastus2", "centralus", "westus3", "westeurope", "northeurope", "japaneast"]
LABELS = {"app.kubernetes.io/managed-by": "kubectl-hadr", "app.kubernetes.io/name": "app"}


# --------------------------------------------------------------------------- fleet


def region_names(n):
    return [REGIONS[j] if j < len(REGIONS) else f"region{j}" for j in range(n)]


def env_params(i, regions):
    """Everything that varies per environment and region, shared by all three generators."""
    name = f"env-{i:05d}"
    out = {
        "name": name,
        "namespace": f"team-{i:05d}",
        "image": f"registry.example.com/app:1.{i}.0",
        "config": {"LOG_LEVEL": "info", "FEATURE_X": "on", "SHARD": str(i)},
        "regions": [],
    }
    for j, r in enumerate(regions):
        reg = {"name": r, "context": f"c-{i}-{r}", "replicas": 3,
               "config": {"ROLE": "primary" if j == 0 else "secondary"}}
        if j == 0:
            reg["replicas"] = 4
        elif j == 2:
            reg["replicas"] = 2
        out["regions"].append(reg)
    return out


def hadr_env_file(p, image=None):
    regions = "\n".join(
        f"    - {{name: {r['name']}, context: {r['context']}, replicas: {r['replicas']}, "
        f"config: {{ROLE: {r['config']['ROLE']}}}}}"
        for r in p["regions"]
    )
    config = ", ".join(f'{k}: "{v}"' for k, v in p["config"].items())
    return f"""apiVersion: hadr.dev/v1alpha1
kind: Environment
metadata: {{name: {p['name']}}}
spec:
  namespace: {p['namespace']}
  app:
    name: app
    image: {image or p['image']}
    port: 8080
    replicas: 3
    resources: {{cpu: 250m, memory: 256Mi, memoryLimit: 512Mi}}
    readinessProbe: {{path: /healthz, initialDelaySeconds: 2, periodSeconds: 5}}
  ha:
    spread: [zone, hostname]
    antiAffinity: required
    disruptionBudget: {{minAvailable: 2}}
    survive: region
  dr:
    rpo: 24h
    rto: 30m
    backup: {{schedule: "0 */6 * * *", ttl: 720h, storageLocation: default}}
  config: {{{config}}}
  regions:
{regions}
"""


def dump(path, obj):
    with open(path, "w") as f:
        if isinstance(obj, str):
            f.write(obj)
        else:
            yaml.safe_dump(obj, f, sort_keys=False)


def kustomize_base(d):
    """One base holding what kubectl-hadr's built-in templates produce, with placeholders the
    overlays patch (namespace, images, replicas, labels, generated ConfigMaps)."""
    os.makedirs(d, exist_ok=True)
    sel = {"app.kubernetes.io/name": "app"}
    ms = {"matchLabels": sel}
    dump(f"{d}/kustomization.yaml", {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": ["namespace.yaml", "deployment.yaml", "service.yaml", "pdb.yaml",
                      "schedule.yaml"]})
    dump(f"{d}/namespace.yaml", {"apiVersion": "v1", "kind": "Namespace",
                                 "metadata": {"name": "NAMESPACE", "labels": LABELS}})
    dump(f"{d}/deployment.yaml", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "app", "labels": LABELS},
        "spec": {
            "replicas": 3, "selector": ms,
            "template": {"metadata": {"labels": LABELS}, "spec": {
                "topologySpreadConstraints": [
                    {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                     "whenUnsatisfiable": "DoNotSchedule", "nodeTaintsPolicy": "Honor",
                     "labelSelector": ms},
                    {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                     "whenUnsatisfiable": "ScheduleAnyway", "nodeTaintsPolicy": "Honor",
                     "labelSelector": ms}],
                "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"topologyKey": "kubernetes.io/hostname", "labelSelector": ms}]}},
                "containers": [{
                    "name": "app", "image": "app-image",
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "envFrom": [{"configMapRef": {"name": "app-config"}},
                                {"configMapRef": {"name": "app-region"}}],
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                                       "initialDelaySeconds": 2, "periodSeconds": 5},
                    "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                                  "limits": {"memory": "512Mi"}}}]}}}})
    dump(f"{d}/service.yaml", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "app", "labels": LABELS},
        "spec": {"selector": sel, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
    dump(f"{d}/pdb.yaml", {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "app", "labels": LABELS},
        "spec": {"minAvailable": 2, "selector": ms}})
    dump(f"{d}/schedule.yaml", {
        "apiVersion": "velero.io/v1", "kind": "Schedule",
        "metadata": {"name": "SCHEDULE", "namespace": "velero", "labels": LABELS},
        "spec": {"schedule": "0 */6 * * *", "template": {
            "includedNamespaces": ["NAMESPACE"], "storageLocation": "default", "ttl": "720h"}}})


def kustomize_overlay(p, r):
    image, tag = p["image"].rsplit(":", 1)
    ns = p["namespace"]
    literals = lambda d: json.dumps([f"{k}={v}" for k, v in d.items()])  # noqa: E731
    opts = json.dumps({"immutable": True, "labels": LABELS})
    return f"""apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../base]
transformers:
- |-
  apiVersion: builtin
  kind: NamespaceTransformer
  metadata: {{name: namespace, namespace: {ns}}}
  unsetOnly: true
replicas: [{{name: app, count: {r['replicas']}}}]
images: [{{name: app-image, newName: {image}, newTag: "{tag}"}}]
labels:
- pairs: {{hadr.dev/environment: {p['name']}, hadr.dev/region: {r['name']}}}
  includeTemplates: true
configMapGenerator:
- name: app-config
  literals: {literals(p['config'])}
  options: {opts}
- name: app-region
  literals: {literals({'REGION': r['name'], **r['config']})}
  options: {opts}
patches:
- target: {{kind: Namespace}}
  patch: '[{{"op": "replace", "path": "/metadata/name", "value": "{ns}"}}]'
- target: {{kind: Schedule}}
  patch: '[{{"op": "replace", "path": "/metadata/name", "value": "app-{p['name']}"}}, {{"op": "replace", "path": "/spec/template/includedNamespaces/0", "value": "{ns}"}}]'
"""


def generate(work, envs, nregions):
    """work/hadr/environments/*.yaml (read by kubectl-hadr and the jinja2 pipeline) and
    work/kustomize/{base, <region>/<env>/, <region>/kustomization.yaml}."""
    stamp = os.path.join(work, "fleet.json")
    want = {"envs": envs, "regions": nregions, "version": 4}
    if os.path.exists(stamp) and json.load(open(stamp)) == want:
        return
    shutil.rmtree(work, ignore_errors=True)
    regions = region_names(nregions)
    envdir = os.path.join(work, "hadr", "environments")
    os.makedirs(envdir)
    kdir = os.path.join(work, "kustomize")
    kustomize_base(os.path.join(kdir, "base"))
    for i in range(envs):
        p = env_params(i, regions)
        dump(os.path.join(envdir, f"{p['name']}.yaml"), hadr_env_file(p))
        for r in p["regions"]:
            d = os.path.join(kdir, r["name"], p["name"])
            os.makedirs(d)
            dump(os.path.join(d, "kustomization.yaml"), kustomize_overlay(p, r))
    for r in regions:
        names = sorted(n for n in os.listdir(os.path.join(kdir, r)))
        dump(os.path.join(kdir, r, "kustomization.yaml"), {
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": names})
    json.dump(want, open(stamp, "w"))


def warm(work):
    """Reads every input once, so that no tool's first run pays for a cold page cache (the large
    fleet runs once: its first run after a while read 6,667 files from disk and took 2.5x as
    long)."""
    for root, _, files in os.walk(work):
        if os.sep + "out-" in root + os.sep:
            continue
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                fh.read()


# --------------------------------------------------------------------------- measuring


class Timeout(Exception):
    pass


def measure(cmd, timeout, cwd=None):
    """Run cmd under /usr/bin/time; return wall seconds, peak RSS (KiB), CPU seconds."""
    tfile = f"/tmp/hadr-bench-time.{os.getpid()}"
    full = ["/usr/bin/time", "-f", "%M %U %S", "-o", tfile] + cmd
    start = time.perf_counter()
    proc = subprocess.Popen(full, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise Timeout()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err.decode()[-3000:]}")
    rss, user, sys_ = open(tfile).read().split()[-3:]
    os.unlink(tfile)
    return {"wall": wall, "rss_kib": int(rss), "cpu": float(user) + float(sys_)}


def dir_bytes(d):
    total = 0
    for root, _, files in os.walk(d):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


# --------------------------------------------------------------------------- equivalence


def canon(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def key(region, obj):
    m = obj.get("metadata", {})
    return (region, obj.get("apiVersion"), obj.get("kind"), m.get("namespace", ""), m.get("name"))


def load_tree(out, region_depth):
    """Objects of every *.yaml file under out; the region is the path component at
    region_depth (hadr, jinja2: <env>/<region>/file; kustomize: <region>.yaml)."""
    objs = {}
    for root, _, files in os.walk(out):
        for f in files:
            if not f.endswith(".yaml"):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, out).split(os.sep)
            region = rel[region_depth].removesuffix(".yaml")
            with open(path) as fh:
                for obj in yaml.load_all(fh, Loader=Loader):
                    if obj:
                        k = key(region, obj)
                        if k in objs:
                            objs[k] = "DUPLICATE"
                        else:
                            objs[k] = canon(obj)
    return objs


def compare(name, ref, other):
    missing = sorted(set(ref) - set(other))
    extra = sorted(set(other) - set(ref))
    differ = sorted(k for k in set(ref) & set(other) if ref[k] != other[k])
    ok = not (missing or extra or differ)
    msg = f"{name}: {len(other)} objects, " + (
        "identical to kubectl-hadr" if ok else
        f"{len(missing)} missing, {len(extra)} extra, {len(differ)} differ; e.g. "
        f"{(missing or extra or differ)[0]}")
    return ok, msg


# --------------------------------------------------------------------------- main


def median(xs):
    return statistics.median(xs)


def run_size(args, label, envs, nregions, results):
    work = os.path.join(args.work, f"{envs}x{nregions}")
    print(f"\n== {label}: {envs} environments x {nregions} regions ({work})", flush=True)
    t0 = time.time()
    generate(work, envs, nregions)
    warm(work)
    print(f"   inputs ready in {time.time() - t0:.1f}s", flush=True)
    hroot = os.path.join(work, "hadr")
    envdir = os.path.join(hroot, "environments")
    if "kubectl-hadr" in args.tools:
        # Users render inside a git repository, and that is where kubectl-hadr keeps its render
        # cache (.git/hadr/): make the inputs one, and start every benchmark without a cache.
        if not os.path.isdir(os.path.join(hroot, ".git")):
            subprocess.run(["git", "init", "-q", hroot], check=True)
        shutil.rmtree(os.path.join(hroot, ".git", "hadr"), ignore_errors=True)
    out_root = os.path.join(args.out_root, f"{envs}x{nregions}") if args.out_root else work
    # Every timed run writes into a directory of its own, and none is removed before the end:
    # on an ext4 file system without a journal (this VM's disk), the inode allocator skips
    # each inode deleted in the last 60-300 s one by one (`recently_deleted` in
    # fs/ext4/ialloc.c), so creating 4,800 files just after deleting 4,800 costs seconds of
    # system time that depend on the previous run, not on the tool measured.
    fresh = {"n": 0}
    outs = {}

    def new_out(short):
        fresh["n"] += 1
        outs[short] = os.path.join(out_root, f"out-{short}-{fresh['n']}")
        return outs[short]

    made = []
    regions = region_names(nregions)
    reps = args.reps if label == "small" else args.large_reps
    sets = envs * nregions

    def hadr_cmd():
        return [args.hadr, "render", "-C", hroot, "--out", outs["hadr"]]

    def kustomize_cmd():
        out = outs["kustomize"]
        os.makedirs(out, exist_ok=True)
        script = " && ".join(
            f"{args.kustomize} build {os.path.join(work, 'kustomize', r)} -o {out}/{r}.yaml"
            for r in regions)
        return ["bash", "-c", script]

    def jinja_cmd():
        return [args.python, os.path.join(HERE, "jinja", "render.py"), "--envs", envdir,
                "--out", outs["jinja2"]]

    cmds = {"kubectl-hadr": ("hadr", hadr_cmd), "kustomize": ("kustomize", kustomize_cmd),
            "jinja2": ("jinja2", jinja_cmd)}
    row = {"label": label, "envs": envs, "regions": nregions, "sets": sets, "tools": {}}
    results.append(row)
    for tool in args.tools:
        short, cmd = cmds[tool]
        runs, timed_out = [], None
        for rep in range(reps):
            made.append(new_out(short))
            if short == "hadr":
                # A full render each time: no cache from the previous run's directory.
                shutil.rmtree(os.path.join(hroot, ".git", "hadr"), ignore_errors=True)
            try:
                runs.append(measure(cmd(), args.timeout))
            except Timeout:
                timed_out = args.timeout
                print(f"   {tool}: timed out after {args.timeout}s", flush=True)
                break
            print(f"   {tool} #{rep + 1}: {runs[-1]['wall']:.3f}s, "
                  f"{runs[-1]['rss_kib'] / 1024:.0f} MiB", flush=True)
        row["tools"][tool] = {"runs": runs, "timed_out": timed_out}
        if tool == "kubectl-hadr" and runs:
            files = [f for _, _, fs in os.walk(outs["hadr"]) for f in fs if f.endswith(".yaml")]
            row["objects"] = len(files)
            row["hadr_bytes"] = dir_bytes(outs["hadr"])
            # No change: render again over the tree just written.
            nc = [measure(hadr_cmd(), args.timeout) for _ in range(reps)]
            row["tools"]["kubectl-hadr (no change)"] = {"runs": nc, "timed_out": None}
            # One environment changed: flip env 0's image between two tags before each run.
            p = env_params(0, regions)
            one = []
            for rep in range(reps):
                img = f"registry.example.com/app:9.{rep % 2}.{rep}"
                dump(os.path.join(envdir, f"{p['name']}.yaml"), hadr_env_file(p, img))
                one.append(measure(hadr_cmd(), args.timeout))
            dump(os.path.join(envdir, f"{p['name']}.yaml"), hadr_env_file(p))
            row["tools"]["kubectl-hadr (1 env changed)"] = {"runs": one, "timed_out": None}
            print(f"   no change: {median([r['wall'] for r in nc]):.3f}s, one env changed: "
                  f"{median([r['wall'] for r in one]):.3f}s", flush=True)

    if args.check:
        # The last full render of kubectl-hadr was followed by edits to env-00000 and
        # re-renders; render once more from the restored inputs so the trees are comparable.
        if "kubectl-hadr" in args.tools:
            measure(hadr_cmd(), args.timeout)
        t0 = time.time()
        ref = load_tree(outs["hadr"], 1) if "kubectl-hadr" in args.tools else None
        row["check"] = []
        for tool, short, depth in (("kustomize", "kustomize", 0), ("jinja2", "jinja2", 1)):
            t = row["tools"].get(tool)
            if ref is None or not t or t["timed_out"] or not t["runs"]:
                continue
            ok, msg = compare(tool, ref, load_tree(outs[short], depth))
            row["check"].append({"tool": tool, "ok": ok, "message": msg})
            print(f"   check {msg}", flush=True)
        print(f"   checked in {time.time() - t0:.1f}s", flush=True)
    for d in made:
        shutil.rmtree(d, ignore_errors=True)


def table(results):
    lines = ["| tool | fleet | objects | runs | median wall | objects/s | CPU s | peak RSS | "
             "time vs kubectl-hadr |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    notes = []
    for row in results:
        objs = row.get("objects")
        base = row["tools"].get("kubectl-hadr")
        base_wall = median([r["wall"] for r in base["runs"]]) if base and base["runs"] else None
        fleet = f"{row['envs']}x{row['regions']} ({row['sets']} sets)"
        for tool, t in row["tools"].items():
            if t["timed_out"]:
                lines.append(f"| {tool} | {fleet} | {objs or '?'} | - | timed out after "
                             f"{t['timed_out']:.0f} s | < {objs / t['timed_out']:,.0f} | - | - | "
                             f"> {t['timed_out'] / base_wall:,.0f}x |")
                continue
            wall = median([r["wall"] for r in t["runs"]])
            cpu = median([r["cpu"] for r in t["runs"]])
            rss = max(r["rss_kib"] for r in t["runs"]) / 1024
            ratio = f"{wall / base_wall:,.1f}x" if base_wall else "-"
            ops = f"{objs / wall:,.0f}" if objs else "-"
            lines.append(f"| {tool} | {fleet} | {objs} | {len(t['runs'])} | {wall:.3f} s | "
                         f"{ops} | {cpu:.2f} | {rss:,.0f} MiB | {ratio} |")
        if base_wall and row.get("hadr_bytes"):
            notes.append(f"{fleet}: kubectl-hadr wrote {row['hadr_bytes'] / 1e6:.1f} MB "
                         f"({row['hadr_bytes'] / 1e6 / base_wall:.1f} MB/s of YAML, "
                         "object files and hadr.lock)")
        for c in row.get("check", []):
            notes.append(f"{fleet}: {c['message']}")
    return "\n".join(lines), notes


def targets(results):
    out = []
    by = {r["label"]: r for r in results}

    def med(row, tool):
        t = row["tools"].get(tool)
        if not t or not t["runs"]:
            return None
        return median([r["wall"] for r in t["runs"]])

    def verdict(ok):
        return "MET" if ok else "NOT MET"

    for label, row in by.items():
        h = med(row, "kubectl-hadr")
        if h is None:
            continue
        for tool, want in (("kustomize", 100), ("jinja2", 10)):
            t = row["tools"].get(tool)
            if not t:
                continue
            if t["timed_out"]:
                r = t["timed_out"] / h
                out.append(f"{label}: >= {want}x faster than {tool}: {verdict(r >= want)} "
                           f"(at least {r:,.0f}x; {tool} timed out)")
            else:
                r = med(row, tool) / h
                out.append(f"{label}: >= {want}x faster than {tool}: {verdict(r >= want)} "
                           f"({r:,.1f}x)")
        nc = med(row, "kubectl-hadr (no change)")
        if nc:
            out.append(f"{label}: no-change re-render >= 5x faster than full: "
                       f"{verdict(h / nc >= 5)} ({h / nc:.1f}x)")
    if "small" in by and "large" in by:
        s, lg = by["small"], by["large"]
        hs, hl = med(s, "kubectl-hadr"), med(lg, "kubectl-hadr")
        if hs and hl:
            per_s, per_l = hs / s["objects"], hl / lg["objects"]
            out.append(f"large: linear scaling (time/object within 1.5x of small): "
                       f"{verdict(per_l / per_s <= 1.5)} ({per_l * 1e6:.1f} us vs "
                       f"{per_s * 1e6:.1f} us per object, {per_l / per_s:.2f}x)")
            rss = max(r["rss_kib"] for r in lg["tools"]["kubectl-hadr"]["runs"]) / 1024
            out.append(f"large: peak memory < 1 GiB: {verdict(rss < 1024)} ({rss:,.0f} MiB)")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--envs", type=int, default=200, help="small fleet: environments")
    ap.add_argument("--regions", type=int, default=3, help="regions per environment")
    ap.add_argument("--large-envs", type=int, default=6667,
                    help="large fleet: environments (0 skips it)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions, small fleet")
    ap.add_argument("--large-reps", type=int, default=1, help="repetitions, large fleet")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per tool run")
    ap.add_argument("--tools", default="kubectl-hadr,kustomize,jinja2")
    ap.add_argument("--no-check", dest="check", action="store_false")
    ap.add_argument("--work", required=True, help="inputs (and outputs unless --out-root)")
    ap.add_argument("--out-root", help="write the tools' outputs here, e.g. /dev/shm/x (tmpfs) "
                    "to take the disk out of the measurement")
    ap.add_argument("--hadr", required=True)
    ap.add_argument("--kustomize", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--results", help="write results as JSON here")
    args = ap.parse_args()
    args.tools = args.tools.split(",")
    results = []
    load = os.getloadavg()
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    run_size(args, "small", args.envs, args.regions, results)
    if args.large_envs:
        run_size(args, "large", args.large_envs, args.regions, results)
    tab, notes = table(results)
    print("\n" + tab + "\n")
    for n in notes:
        print("- " + n)
    print("\nTargets:")
    for t in targets(results):
        print("- " + t)
    print(f"\noutputs on {args.out_root or args.work}; started {started}; load average at start {load[0]:.2f}, at end "
          f"{os.getloadavg()[0]:.2f}; nproc {os.cpu_count()}")
    if args.results:
        json.dump({"started": started, "load_start": load, "load_end": os.getloadavg(),
                   "results": results, "targets": targets(results)},
                  open(args.results, "w"), indent=1)


if __name__ == "__main__":
    main()
