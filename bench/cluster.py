#!/usr/bin/env python3
"""Cluster benchmark: `kubectl hadr diff` / `rollout` vs `kubectl diff` / `apply --server-side`
on the same objects, against local regions of the test control plane. Run it through
bench/cluster, which builds and starts what it needs; see bench/README.md."""

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

# Per component: ServiceAccount, content-hashed ConfigMap, Deployment (using both), Service, PDB.
COMPONENTS_TEMPLATE = """\
{%- for i in range(values.components) %}
{%- set name = app.name ~ "-" ~ i %}
{%- set sel = {"app.kubernetes.io/name": name} %}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ name }}
  namespace: {{ environment.namespace }}
  labels: {{ labels | tojson }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ name ~ "-config" }}
  namespace: {{ environment.namespace }}
  labels: {{ labels | tojson }}
data:
  COMPONENT: {{ name }}
  LOG_LEVEL: {{ config.LOG_LEVEL }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ name }}
  namespace: {{ environment.namespace }}
  labels: {{ labels | tojson }}
spec:
  replicas: {{ app.replicas }}
  selector:
    matchLabels: {{ sel | tojson }}
  template:
    metadata:
      labels: {{ sel | tojson }}
    spec:
      serviceAccountName: {{ name }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels: {{ sel | tojson }}
      containers:
        - name: app
          image: {{ app.image }}
          ports:
            - name: http
              containerPort: 8080
          envFrom:
            - configMapRef:
                name: {{ name ~ "-config" }}
          resources:
            requests:
              cpu: 10m
              memory: 16Mi
---
apiVersion: v1
kind: Service
metadata:
  name: {{ name }}
  namespace: {{ environment.namespace }}
  labels: {{ labels | tojson }}
spec:
  selector: {{ sel | tojson }}
  ports:
    - name: http
      port: 80
      targetPort: http
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ name }}
  namespace: {{ environment.namespace }}
  labels: {{ labels | tojson }}
spec:
  maxUnavailable: 1
  selector:
    matchLabels: {{ sel | tojson }}
{%- endfor %}
"""

# The built-in templates this workload does not use: one Namespace and the components above.
UNUSED = ["configmap", "region-configmap", "deployment", "service", "pdb", "velero-schedule"]


def env_file(name, regions, components, image):
    regs = "\n".join(f"    - {{name: {r}, context: {r}}}" for r in regions)
    return f"""apiVersion: hadr.dev/v1alpha1
kind: Environment
metadata:
  name: {name}
spec:
  namespace: bench-{name}
  app:
    name: svc
    image: "{image}"
    replicas: 1
  config:
    LOG_LEVEL: info
  regions:
{regs}
  values:
    components: {components}
"""


class Bench:
    def __init__(self, args):
        self.a = args
        self.env = dict(os.environ, KUBECONFIG=args.kubeconfig)
        self.rows = []
        self.checks = []

    def run(self, cmd, ok=(0,), cwd=None, quiet=True):
        started = time.perf_counter()
        p = subprocess.run(cmd, cwd=cwd, env=self.env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if p.returncode not in ok:
            sys.stderr.write(f"bench: {' '.join(cmd)} exited {p.returncode}\n{p.stdout[-3000:]}{p.stderr[-3000:]}")
            raise SystemExit(2)
        return wall, p

    def hadr(self, *args, ok=(0,)):
        return self.run([self.a.hadr, *args, "-C", self.a.work], ok=ok)

    def kubectl(self, *args, ok=(0,)):
        return self.run([self.a.kubectl, *args], ok=ok)

    def rendered(self, env, region):
        return os.path.join(self.a.work, "rendered", env, region)

    def namespace_file(self, env, region):
        d = self.rendered(env, region)
        return os.path.join(d, next(f for f in sorted(os.listdir(d)) if f.startswith("core_namespace_")))

    # ----------------------------------------------------------------- tools, per region set

    def kubectl_apply(self, env):
        """`kubectl apply --server-side` region by region, Namespace first (kubectl does not
        order kinds)."""
        total = 0.0
        for r in self.a.regions:
            w, _ = self.kubectl("--context", r, "apply", "--server-side", "-f",
                                self.namespace_file(env, r), "-f", self.rendered(env, r))
            total += w
        return total

    def kubectl_wait(self, env):
        total = 0.0
        for r in self.a.regions:
            w, _ = self.kubectl("--context", r, "-n", f"bench-{env}", "wait", "--for=condition=Available",
                                "deployment", "--all", "--timeout=300s")
            total += w
        return total

    def kubectl_diff(self, env):
        """`kubectl diff --server-side` region by region; returns wall time and the objects it
        reported as different."""
        total, changed = 0.0, set()
        for r in self.a.regions:
            # Another field manager than kubectl-hadr's, so fields kubectl-hadr owns are taken over
            # (as `kubectl apply --server-side --force-conflicts` would) rather than a conflict.
            w, p = self.kubectl("--context", r, "diff", "--server-side", "--force-conflicts", "-f",
                                self.rendered(env, r), ok=(0, 1))
            total += w
            # `diff -u -N /tmp/LIVE-1/apps.v1.Deployment.ns.name /tmp/MERGED-2/...`
            for m in re.finditer(r"^diff -u -N \S+/(\S+) \S+$", p.stdout, re.M):
                group_version_kind_ns_name = m.group(1)
                parts = group_version_kind_ns_name.split(".")
                # group may contain dots; version, kind, namespace, name are the last four
                kind, name = parts[-3], parts[-1]
                changed.add((r, kind, name))
        return total, changed

    def hadr_diff(self, env):
        w, p = self.hadr("diff", env, "-o", "json", ok=(0, 1))
        report = json.loads(p.stdout)
        changed = set()
        for region in report["regions"]:
            if region.get("error"):
                raise SystemExit(f"bench: hadr diff {env}/{region['region']}: {region['error']}")
            for o in region["objects"]:
                if o["action"] != "unchanged":
                    changed.add((region["region"], o["id"]["kind"], o["id"]["name"]))
        return w, changed

    def hadr_rollout(self, env):
        w, p = self.hadr("rollout", env, "--yes", "--allow-violations", "-o", "json")
        return w, json.loads(p.stdout)

    # ----------------------------------------------------------------- workload

    def prepare(self):
        work = self.a.work
        if os.path.isdir(work):
            shutil.rmtree(work)
        os.makedirs(os.path.join(work, "environments"))
        os.makedirs(os.path.join(work, "templates"))
        with open(os.path.join(work, "templates", "components.yaml"), "w") as f:
            f.write(COMPONENTS_TEMPLATE)
        for t in UNUSED:
            open(os.path.join(work, "templates", f"{t}.yaml"), "w").close()
        self.envs = []
        for rep in range(self.a.reps):
            for tool in ("hadr", "kube"):
                name = f"{tool}-{rep}"
                self.envs.append(name)
                self.write_env(name, "registry.example.com/app:1.0.0")
        w, _ = self.hadr("render")
        files = [f for f in os.listdir(self.rendered(self.envs[0], self.a.regions[0])) if f.endswith(".yaml")]
        self.objects = len(files)
        say(f"workload: {self.objects} objects per region x {len(self.a.regions)} regions; "
            f"{len(self.envs)} environments rendered in {w:.2f} s")

    def write_env(self, name, image):
        with open(os.path.join(self.a.work, "environments", f"{name}.yaml"), "w") as f:
            f.write(env_file(name, self.a.regions, self.a.components, image))

    def live(self, env, region):
        """The live objects of an environment in a region, normalized so the same objects
        applied by either tool compare equal."""
        _, p = self.kubectl("--context", region, "-n", f"bench-{env}", "get",
                            "configmaps,serviceaccounts,services,deployments,poddisruptionbudgets", "-o", "json")
        out = {}
        for item in json.loads(p.stdout)["items"]:
            meta = item["metadata"]
            if item["kind"] == "ConfigMap" and meta["name"] in ("kube-root-ca.crt", f"hadr-{env}"):
                continue
            labels = {k: v for k, v in meta.get("labels", {}).items()
                      if not k.startswith("applyset.kubernetes.io/") and k != "hadr.dev/environment"}
            body = {k: item.get(k) for k in ("spec", "data", "immutable")}
            if item["kind"] == "Service" and body["spec"]:
                for k in ("clusterIP", "clusterIPs"):
                    body["spec"].pop(k, None)
            if item["kind"] == "Deployment":
                body["spec"]["template"]["metadata"].pop("annotations", None)
            out[(item["kind"], meta["name"])] = (labels, body)
        return out

    def check_same_objects(self, rep):
        for r in self.a.regions:
            a, b = self.live(f"hadr-{rep}", r), self.live(f"kube-{rep}", r)
            if a.keys() != b.keys():
                raise SystemExit(f"bench: {r}: objects differ: only hadr {sorted(a.keys() - b.keys())[:5]}, "
                                 f"only kubectl {sorted(b.keys() - a.keys())[:5]}")
            diff = [k for k in a if a[k] != b[k]]
            if diff:
                k = diff[0]
                raise SystemExit(f"bench: {r}: {len(diff)} objects differ, e.g. {k}:\n{a[k]}\n{b[k]}")
        self.checks.append(f"rep {rep}: the {len(self.a.regions)} regions hold the same "
                           f"{self.objects - 1} namespaced objects after either tool's first apply")

    def cleanup(self, rep):
        for r in self.a.regions:
            self.kubectl("--context", r, "delete", "namespace", f"bench-hadr-{rep}", f"bench-kube-{rep}",
                         "--wait=false", "--ignore-not-found")

    def wait_gone(self, rep):
        for r in self.a.regions:
            self.kubectl("--context", r, "wait", "--for=delete", f"namespace/bench-hadr-{rep}",
                         f"namespace/bench-kube-{rep}", "--timeout=300s", ok=(0, 1))

    def main(self):
        self.load = [os.getloadavg()[0]]
        self.prepare()
        times = {k: [] for k in ("hadr first", "kubectl first", "kubectl first+wait", "hadr no-op",
                                 "kubectl no-op", "hadr diff (none)", "kubectl diff (none)",
                                 "hadr diff (changed)", "kubectl diff (changed)")}
        for rep in range(self.a.reps):
            h, k = f"hadr-{rep}", f"kube-{rep}"
            say(f"rep {rep + 1}/{self.a.reps}")
            w, report = self.hadr_rollout(h)
            bad = [r for r in report[0]["regions"] if r["status"] != "ok"] if isinstance(report, list) else \
                [r for r in report["regions"] if r["status"] != "ok"]
            if bad:
                raise SystemExit(f"bench: hadr rollout {h}: {bad}")
            times["hadr first"].append(w)
            w = self.kubectl_apply(k)
            times["kubectl first"].append(w)
            times["kubectl first+wait"].append(w + self.kubectl_wait(k))
            self.check_same_objects(rep)
            times["hadr no-op"].append(self.hadr_rollout(h)[0])
            times["kubectl no-op"].append(self.kubectl_apply(k))

            w, hd = self.hadr_diff(h)
            kw, kd = self.kubectl_diff(h)
            if hd or kd:
                raise SystemExit(f"bench: diff right after apply is not empty: hadr {sorted(hd)[:5]}, kubectl {sorted(kd)[:5]}")
            times["hadr diff (none)"].append(w)
            times["kubectl diff (none)"].append(kw)

            # A new image for every component: one change per Deployment.
            self.write_env(h, "registry.example.com/app:1.0.1")
            self.hadr("render", h)
            w, hd = self.hadr_diff(h)
            kw, kd = self.kubectl_diff(h)
            if hd != kd or not hd:
                raise SystemExit(f"bench: the diffs disagree: only hadr {sorted(hd - kd)[:5]}, only kubectl {sorted(kd - hd)[:5]}")
            times["hadr diff (changed)"].append(w)
            times["kubectl diff (changed)"].append(kw)
            if rep == 0:
                self.checks.append(f"diffs agree: none right after apply; {len(hd)} changed objects "
                                   f"(every Deployment's image) reported by both after the change")
            # Not timed, but waited for: deleting a namespace of 500 objects and their pods keeps
            # the controllers busy, which would slow the next run's health wait.
            self.cleanup(rep)
            self.wait_gone(rep)
        self.report(times)

    def report(self, times):
        self.load.append(os.getloadavg()[0])
        n = self.objects * len(self.a.regions)
        med = {k: statistics.median(v) for k, v in times.items()}
        pairs = [("hadr first", "kubectl first"), ("hadr first", "kubectl first+wait"),
                 ("hadr no-op", "kubectl no-op"), ("hadr diff (none)", "kubectl diff (none)"),
                 ("hadr diff (changed)", "kubectl diff (changed)")]
        lines = [f"{self.objects} objects per region x {len(self.a.regions)} regions = {n} objects, "
                 f"median of {self.a.reps}; regions one after another for both tools; "
                 f"load average {self.load[0]:.1f} at the start, {self.load[1]:.1f} at the end",
                 "", "| operation | kubectl-hadr | kubectl | kubectl / kubectl-hadr |", "|---|---:|---:|---:|"]
        for a, b in pairs:
            label = {"hadr first": "first apply", "hadr no-op": "no-op re-apply",
                     "hadr diff (none)": "diff, nothing changed", "hadr diff (changed)": "diff, 1 change per Deployment"}[a]
            if a == "hadr first" and b == "kubectl first":
                label = "first apply (kubectl-hadr includes its health wait)"
            if b == "kubectl first+wait":
                label = "first apply until every Deployment is available (kubectl: + `kubectl wait`)"
                hadr_cell = f"{med[a]:.2f} s (same runs)"
            else:
                hadr_cell = f"{med[a]:.2f} s"
            lines.append(f"| {label} | {hadr_cell} | {med[b]:.2f} s | {med[b] / med[a]:.1f}x |")
        lines.append("")
        lines.extend(f"- check: {c}" for c in self.checks)
        lines.append("")
        targets = [("diff >= 3x faster than kubectl diff --server-side",
                    min(med["kubectl diff (none)"] / med["hadr diff (none)"],
                        med["kubectl diff (changed)"] / med["hadr diff (changed)"]), 3),
                   ("no-op rollout >= 5x faster than kubectl apply --server-side",
                    med["kubectl no-op"] / med["hadr no-op"], 5)]
        for text, ratio, want in targets:
            lines.append(f"- target {text}: {'MET' if ratio >= want else 'NOT MET'} ({ratio:.1f}x)")
        print("\n".join(lines))
        with open(self.a.results, "w") as f:
            json.dump({"when": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                       "objects_per_region": self.objects, "regions": self.a.regions,
                       "runs": times, "medians": med, "checks": self.checks, "load": self.load}, f, indent=2)


def say(text):
    print(f"bench: {text}", file=sys.stderr, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--hadr", required=True)
    p.add_argument("--kubectl", required=True)
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--regions", default="bench-a,bench-b,bench-c")
    p.add_argument("--components", type=int, default=100, help="5 objects each (default 100: 501 objects per region)")
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()
    args.regions = args.regions.split(",")
    Bench(args).main()


if __name__ == "__main__":
    main()
