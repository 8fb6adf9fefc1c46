#!/usr/bin/env python3
"""The hand-written jinja2 + PyYAML pipeline that bench/run compares kubectl-hadr with.

    python render.py --envs DIR --out DIR

Reads every environment file DIR/*.yaml (the same files kubectl-hadr reads; files named _*.yaml
are skipped, `extends` is not supported: the benchmark fleet writes every field out), renders
bench/jinja/templates/*.yaml.j2 (the built-in kubectl-hadr templates, ported to jinja2) per
region, gives every ConfigMap `immutable: true` and the content-hash suffix kustomize's
configMapGenerator would give it, rewrites the Deployment's envFrom references and writes one
object per file to OUT/<env>/<region>/<kind>_<namespace>_<name>.yaml.

This is the pipeline many teams write by hand; it is deliberately straightforward, but it uses
PyYAML's libyaml bindings (CSafeLoader/CSafeDumper) when present, its fastest configuration.
"""

import argparse
import hashlib
import json
import os
import sys

import jinja2
import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = [
    "namespace",
    "configmap",
    "region-configmap",
    "deployment",
    "service",
    "pdb",
    "velero-schedule",
]
TOPOLOGY_KEYS = {"zone": "topology.kubernetes.io/zone", "hostname": "kubernetes.io/hostname"}
SUFFIX_MAP = str.maketrans("013ae", "ghkmt")


def configmap_suffix(cm):
    """kustomize's hash: sha256 of the Go JSON encoding of {data, kind, name: ""} (and
    binaryData when present), first 10 hex digits, with 0 1 3 a e replaced by g h k m t."""
    doc = {"kind": "ConfigMap", "name": "", "data": cm.get("data") or {}}
    if cm.get("binaryData"):
        doc["binaryData"] = cm["binaryData"]
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # Go's encoding/json escapes <, >, & and U+2028/U+2029.
    for a, b in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                 ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(a, b)
    return hashlib.sha256(text.encode()).hexdigest()[:10].translate(SUFFIX_MAP)


def context(env, region):
    spec = env["spec"]
    app = dict(spec["app"])
    for key in ("replicas", "image"):
        if key in region:
            app[key] = region[key]
    ha = dict(spec.get("ha") or {})
    if ha.get("disruptionBudget"):
        ha["disruptionBudget"] = {"minAvailable": None, "maxUnavailable": None,
                                  **ha["disruptionBudget"]}
    dr = spec.get("dr") or {}
    env_name = env["metadata"]["name"]
    labels = {
        "app.kubernetes.io/managed-by": "kubectl-hadr",
        "app.kubernetes.io/name": app["name"],
        "hadr.dev/environment": env_name,
        "hadr.dev/region": region["name"],
    }
    return {
        "environment": {"name": env_name, "namespace": spec.get("namespace", app["name"])},
        "region": {"name": region["name"], "context": region["context"],
                   "config": region.get("config") or {}},
        "app": app,
        "ha": ha,
        "dr": dr,
        "config": spec.get("config") or {},
        "values": spec.get("values") or {},
        "labels": labels,
        "selector": {"app.kubernetes.io/name": app["name"]},
        "pod_labels": labels,
        "topology_keys": TOPOLOGY_KEYS,
    }


def render_region(templates, ctx):
    objects = []
    for tpl in templates:
        for doc in yaml.load_all(tpl.render(ctx), Loader=Loader):
            if doc:
                objects.append(doc)
    renamed = {}
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            obj["immutable"] = True
            old = obj["metadata"]["name"]
            new = f"{old}-{configmap_suffix(obj)}"
            obj["metadata"]["name"] = new
            renamed[old] = new
    for obj in objects:
        if obj["kind"] == "Deployment":
            for c in obj["spec"]["template"]["spec"].get("containers", []):
                for ref in c.get("envFrom", []):
                    cm = ref.get("configMapRef")
                    if cm and cm.get("name") in renamed:
                        cm["name"] = renamed[cm["name"]]
    return objects


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--envs", required=True, help="directory of environment files")
    p.add_argument("--out", required=True)
    args = p.parse_args()

    jenv = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.join(HERE, "templates")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    templates = [jenv.get_template(f"{name}.yaml.j2") for name in TEMPLATES]
    count = 0
    for fname in sorted(os.listdir(args.envs)):
        if not fname.endswith(".yaml") or fname.startswith("_"):
            continue
        with open(os.path.join(args.envs, fname)) as f:
            env = yaml.load(f, Loader=Loader)
        for region in env["spec"]["regions"]:
            objects = render_region(templates, context(env, region))
            d = os.path.join(args.out, env["metadata"]["name"], region["name"])
            os.makedirs(d, exist_ok=True)
            for obj in objects:
                meta = obj["metadata"]
                name = f'{obj["kind"].lower()}_{meta.get("namespace", "_")}_{meta["name"]}.yaml'
                with open(os.path.join(d, name), "w") as f:
                    yaml.dump(obj, f, Dumper=Dumper, sort_keys=True, default_flow_style=False)
                count += 1
    print(f"{count} objects", file=sys.stderr)


if __name__ == "__main__":
    main()
