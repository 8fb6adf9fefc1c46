#!/usr/bin/env python3
"""Region drill benchmark (run it through bench/drill): the bench/cluster environment, backed
up in eastus2 and recovered into centralus from backup and from git, REPS times."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import COMPONENTS_TEMPLATE, UNUSED, env_file  # noqa: E402

LOST, INTO = "eastus2", "centralus"
DR = "  dr: {rpo: 24h, rto: 30m, backup: {schedule: '0 3 * * *', ttl: 720h}}\n"


def hadr(args, work, *argv):
    # render reads no cluster; every other command gets the testenv's kubeconfig.
    cluster = [] if argv[0] == "render" else ["--kubeconfig", args.kubeconfig]
    cmd = [args.hadr, "-C", work, *argv, *cluster]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode not in (0, 1):
        sys.exit(f"{' '.join(argv)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def prepare(args, work):
    os.makedirs(os.path.join(work, "environments"))
    os.makedirs(os.path.join(work, "templates"))
    with open(os.path.join(work, "templates", "components.yaml"), "w") as f:
        f.write(COMPONENTS_TEMPLATE)
    # The Velero Schedule stays: the drill restores from its backups.
    for t in UNUSED:
        if t != "velero-schedule":
            open(os.path.join(work, "templates", f"{t}.yaml"), "w").close()
    with open(os.path.join(work, "environments", "drill.yaml"), "w") as f:
        f.write(env_file("drill", [LOST, INTO], args.components, "registry.example.com/app:1.0.0") + DR)
    subprocess.run(["git", "init", "-q", work], check=True)
    hadr(args, work, "render", "--commit", "--allow-violations")


def synced(args, backup):
    """Waits until INTO's Velero lists BACKUP as Completed (synced from the shared bucket)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        p = subprocess.run([args.kubectl, "--kubeconfig", args.kubeconfig, "--context", INTO,
                            "-n", "velero", "get", "backup", backup, "-o",
                            "jsonpath={.status.phase}"], capture_output=True, text=True)
        if p.stdout == "Completed":
            return
        time.sleep(0.5)
    sys.exit(f"{backup} never reached {INTO}'s Velero")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hadr", required=True)
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--kubectl", required=True)
    p.add_argument("--components", type=int, default=100)
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="hadr-drill-bench-")
    prepare(args, work)
    objects = len(os.listdir(os.path.join(work, "rendered", "drill", LOST))) - 1
    print(f"bench: {objects} objects per region; rolling out to {LOST} and {INTO}", file=sys.stderr)
    hadr(args, work, "rollout", "drill", "--yes", "--take-ownership", "--allow-violations",
         "--timeout", "600s")
    rows = []
    for rep in range(args.reps):
        out = hadr(args, work, "backup", "drill", "--region", LOST, "--wait", "--yes",
                   "--timeout", "300s", "-o", "json")
        synced(args, json.loads(out.stdout)["regions"][0]["backup"])
        out = hadr(args, work, "drill", "drill", "--lose", f"region={LOST}", "--restore-into", INTO,
                   "--yes", "--timeout", "600s", "-o", "json")
        report = json.loads(out.stdout)
        r = {x["path"]: x for x in report["recoveries"]}
        row = (r["backup"]["rto_seconds"], r["git"]["rto_seconds"], r["backup"]["rpo_seconds"],
               report["seconds"], report["verdict"], r["backup"]["compared"], r["git"]["compared"])
        rows.append(row)
        print(f"drill {rep + 1}: RTO from backup {row[0]:.1f} s, from git {row[1]:.1f} s, "
              f"RPO {row[2]:.0f} s, whole drill {row[3]:.1f} s, {row[4]}; "
              f"compared {row[5]} and {row[6]} objects", flush=True)
    if len(rows) > 1:
        print(f"median: RTO from backup {statistics.median(r[0] for r in rows):.1f} s, "
              f"from git {statistics.median(r[1] for r in rows):.1f} s")


if __name__ == "__main__":
    main()
