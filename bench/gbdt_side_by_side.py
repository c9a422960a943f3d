#!/usr/bin/env python3
"""faasml's gbdt against LightGBM, side by side in one run, on MNIST (LightGBM's settings).

For each repeat, in turn: `faasml run gbdt` with 1 worker (1 and 2 threads) and 2 workers of 1
thread each (2 cores: one each), then
LightGBM single-process with 1 and 2 threads and LightGBM's own data-parallel mode (2 processes),
all on the same rows (the first --rows training images; the 10,000 test images). Prints a table of
medians and the ratio of each to LightGBM with 1 thread; with --record, appends dated rows to
bench/results/gbdt.csv.

faasml's time is the workers' training time (`train_seconds`: binning included, data loading
excluded); LightGBM's is `fit_s` (Dataset construction, its binning, included). Both score the
same 10,000 test images.

    bench/peers-install.sh
    cargo build --release
    python3 bench/gbdt_side_by_side.py --rows 10000 --repeats 3 --record
"""

import argparse
import csv
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def faasml(binary, store, data, workers, threads, iterations, leaves):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run(
        [binary, "run", "gbdt", "--data", data, "--workers", str(workers),
         "--iterations", str(iterations), "--leaves", str(leaves), "--store", store,
         "--model", "bench-gbdt", "--json", "-q"],
        env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        sys.exit(f"faasml failed: {out.stderr}")
    r = json.loads(out.stdout)["result"]
    return {"fit_s": r["train_seconds"], "accuracy": r["accuracy"], "logloss": r["logloss"],
            "allreduce_s": r["collective_s"], "bytes_per_iteration": r["bytes_per_iteration"]}


def lightgbm(rows, mode, threads, iterations, leaves):
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "gbdt_lightgbm.py"), "--train-rows", str(rows),
         "--iterations", str(iterations), "--leaves", str(leaves), "--threads", str(threads),
         "--mode", mode, "--repeats", "1"],
        capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        sys.exit(f"lightgbm failed: {out.stderr}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return {"fit_s": r["fit_s"], "accuracy": r["accuracy"], "logloss": r["logloss"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10000, choices=[2000, 10000, 60000])
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--leaves", type=int, default=31)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "faasml"))
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--skip", action="append", default=[],
                    help="leave out the configurations whose name contains this (repeatable)")
    args = ap.parse_args()
    data = {2000: "mnist-2k", 10000: "mnist-10k", 60000: "mnist"}[args.rows]
    configs = [
        ("faasml 1 worker, 1 thread", lambda s: faasml(args.binary, s, data, 1, 1, args.iterations, args.leaves)),
        ("faasml 1 worker, 2 threads", lambda s: faasml(args.binary, s, data, 1, 2, args.iterations, args.leaves)),
        ("faasml 2 workers x 1 thread, 1 process", lambda s: faasml(args.binary, s, data, 2, 1, args.iterations, args.leaves)),
        ("lightgbm 1 thread", lambda s: lightgbm(args.rows, "single", 1, args.iterations, args.leaves)),
        ("lightgbm 2 threads", lambda s: lightgbm(args.rows, "single", 2, args.iterations, args.leaves)),
        ("lightgbm data-parallel, 2 processes", lambda s: lightgbm(args.rows, "data-parallel", 1, args.iterations, args.leaves)),
    ]
    configs = [(n, f) for n, f in configs if not any(k in n for k in args.skip)]
    if not any(n == "lightgbm 1 thread" for n, _ in configs):
        sys.exit("the ratios need the 'lightgbm 1 thread' configuration")
    runs = {name: [] for name, _ in configs}
    with tempfile.TemporaryDirectory() as tmp:
        store = f"file://{tmp}/store"
        for rep in range(args.repeats):
            for name, fn in configs:
                r = fn(store)
                runs[name].append(r)
                print(f"repeat {rep}: {name}: {r['fit_s']:.2f} s, accuracy {r['accuracy']:.4f}",
                      file=sys.stderr)
    base = statistics.median(r["fit_s"] for r in runs["lightgbm 1 thread"])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT).stdout.strip()
    today = datetime.date.today().isoformat()
    rows = []
    print(f"\nMNIST first {args.rows} / 10k test, {args.iterations} iterations, {args.leaves} leaves,"
          f" medians of {args.repeats}")
    print(f"{'configuration':38} {'fit s':>8} {'vs lgbm 1t':>10} {'accuracy':>9} {'log-loss':>9}")
    for name, rs in runs.items():
        fit = statistics.median(r["fit_s"] for r in rs)
        acc = statistics.median(r["accuracy"] for r in rs)
        ll = statistics.median(r["logloss"] for r in rs)
        print(f"{name:38} {fit:8.2f} {base / fit:9.2f}x {acc:9.4f} {ll:9.4f}")
        rows.append([today, commit, args.rows, args.iterations, args.leaves, name, args.repeats,
                     f"{fit:.3f}", f"{base / fit:.3f}", f"{acc:.4f}", f"{ll:.4f}",
                     f"{statistics.median(r.get('allreduce_s', 0.0) for r in rs):.3f}",
                     f"{statistics.median(r.get('bytes_per_iteration', 0.0) for r in rs):.0f}"])
    if args.record:
        path = os.path.join(HERE, "results", "gbdt.csv")
        new = not os.path.exists(path)
        with open(path, "a", newline="") as f:
            w = csv.writer(f)
            if new:
                w.writerow(["date", "commit", "train_rows", "iterations", "leaves", "configuration",
                            "repeats", "fit_s_median", "speed_vs_lightgbm_1_thread",
                            "accuracy", "logloss", "allreduce_s", "bytes_per_iteration"])
            w.writerows(rows)
        print(f"recorded {len(rows)} rows in {path}")


if __name__ == "__main__":
    main()
