#!/usr/bin/env python3
"""Interleaved A/B timing of kubectl-hadr builds on the render benchmark's fleet.

    bench/ab.py base=/tmp/hadr-old new=target/release/kubectl-hadr
    bench/ab.py --mode no-change --runs 60 a=... b=...
    bench/ab.py thp-off="MIMALLOC_ALLOW_THP=0 target/release/kubectl-hadr" default=target/release/kubectl-hadr

Each variant is NAME=COMMAND (leading VAR=value words are set in its environment). Runs
alternate between the variants, in turns that reverse order every round, so a noisy minute of
a shared VM weighs on all of them alike; the 25th percentile and the median of wall and CPU
time are printed. `full` renders into an output directory removed before each run; `no-change`
renders again over each variant's own output (builds differ in their render cache key).

The fleet is the one `bench/run` generates (default: its 200x3 fleet under the bench cache);
run `bench/run --large-envs 0 --tools kubectl-hadr --reps 1` once to create it.
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time


def quantile(xs, q):
    xs = sorted(xs)
    return xs[int(q * (len(xs) - 1))]


def main():
    cache = os.environ.get("HADR_BENCH_CACHE", os.path.expanduser("~/.cache/kubectl-hadr/bench"))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="+", metavar="NAME=COMMAND")
    ap.add_argument("--runs", type=int, default=30, help="runs per variant (default 30)")
    ap.add_argument("--mode", choices=["full", "no-change"], default="full")
    ap.add_argument("--fleet", default=os.path.join(cache, "work", "200x3", "hadr"),
                    help="the kubectl-hadr root to render (default: the bench's 200x3 fleet)")
    ap.add_argument("--out-root", default="/dev/shm/hadr-ab", help="outputs go below this (tmpfs)")
    args = ap.parse_args()
    if not os.path.isdir(os.path.join(args.fleet, "environments")):
        sys.exit(f"no fleet at {args.fleet}: run `bench/run --large-envs 0 --tools kubectl-hadr --reps 1` first")

    variants = []
    for v in args.variants:
        name, sep, command = v.partition("=")
        if not sep or not command:
            sys.exit(f"expected NAME=COMMAND, got {v!r}")
        words = command.split()
        env = dict(os.environ)
        while words and "=" in words[0] and not words[0].startswith(("/", ".")):
            key, _, value = words.pop(0).partition("=")
            env[key] = value
        out = os.path.join(args.out_root, name)
        variants.append((name, words + ["render", "-C", args.fleet, "--out", out], env, out))

    def run(cmd, env, out):
        if args.mode == "full":
            shutil.rmtree(out, ignore_errors=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall * 1e3, cpu * 1e3

    for _, cmd, env, out in variants:
        # Warm the page cache, and for no-change write the tree and the cache first.
        shutil.rmtree(out, ignore_errors=True)
        run(cmd, env, out)
        run(cmd, env, out)
    results = {name: [] for name, *_ in variants}
    for i in range(args.runs):
        for name, cmd, env, out in variants if i % 2 == 0 else variants[::-1]:
            results[name].append(run(cmd, env, out))
    print(f"{args.mode} render of {args.fleet}, {args.runs} interleaved runs each (ms)")
    print(f"{'variant':<14} {'wall p25':>9} {'wall med':>9} {'cpu p25':>9} {'cpu med':>9}")
    for name, rs in results.items():
        walls = [w for w, _ in rs]
        cpus = [c for _, c in rs]
        print(f"{name:<14} {quantile(walls, .25):9.1f} {quantile(walls, .5):9.1f} "
              f"{quantile(cpus, .25):9.1f} {quantile(cpus, .5):9.1f}")
    shutil.rmtree(args.out_root, ignore_errors=True)


if __name__ == "__main__":
    main()
