#!/usr/bin/env python3
"""The LightGBM peer of `faasml bench gbdt`: gradient-boosted trees on MNIST.

Reads the bundled MNIST (data/mnist/*-idx*-ubyte.gz, gzipped IDX parsed with numpy; nothing is
downloaded), fits LightGBM on the first --train-rows training images and scores the first
--test-rows test images (default all 10,000):

    python3 bench/gbdt_lightgbm.py --train-rows 10000 --iterations 100 --leaves 31 \
        --learning-rate 0.1 --max-bin 255 --threads 1 --mode single --objective multiclass \
        --repeats 3

Modes:
  single         one process, LightGBM with --threads threads (tree_learner=serial).
  data-parallel  LightGBM's own distributed learner (tree_learner=data, num_machines=2): two
                 processes of 1 thread each (--threads is ignored), talking over loopback TCP
                 (machines=127.0.0.1:P0,127.0.0.1:P1, local_listen_port=P_rank, free ports picked
                 per repeat), each given one contiguous half of the training rows (rank 0 the
                 first ceil(N/2), rank 1 the rest; pre_partition=true). Both ranks load their
                 rows, then wait for a common start signal from the parent, so neither rank's
                 clock includes the other's data loading. The bin boundaries are found by
                 LightGBM's distributed binning (each rank bins a share of the features from its
                 own rows and they exchange the results). After training, the script checks that
                 both ranks hold the same model (the trees and feature importances of
                 model_to_string, parameters section excluded because it names each rank's port)
                 and exits 1 if not.

Objectives: multiclass (10 classes, softmax, num_class=10) or binary (digits 0-4 -> 0,
5-9 -> 1).

What fit_s covers: from building the lgb.Dataset out of the in-memory float32 matrix to the end
of the last boosting iteration. That includes LightGBM's Dataset construction, which is its
binning (bin boundaries from a sample of the rows, then every value mapped to its bin), because
faasml's fit time includes its binning too; in data-parallel mode it also includes setting up
the network (inside lgb.Booster, before the Dataset is constructed) and is the slower rank's
time. setup_s is the part of fit_s up to a constructed Booster (binning, plus the network in
data-parallel mode); boost_s is the rest. Reading and decoding the IDX files, Python start-up,
`import lightgbm` and prediction on the test rows are not timed.

Output: one JSON object per repeat on stdout, e.g.
  {"peer": "lightgbm", "version": "4.7.0", "mode": "single", "threads": 1, "processes": 1,
   "objective": "multiclass", "train_rows": 10000, "test_rows": 10000, "iterations": 100,
   "leaves": 31, "learning_rate": 0.1, "max_bin": 255, "repeat": 0, "fit_s": ...,
   "setup_s": ..., "boost_s": ..., "accuracy": ..., "logloss": ...}
"threads" is the number of threads per process. logloss is the mean negative log-likelihood of
the true label on the test rows (probabilities clipped to [1e-15, 1 - 1e-15]). Other LightGBM
parameters are its defaults (min_data_in_leaf 20, no bagging, no feature sampling); seed 42.
"""

import argparse
import gzip
import hashlib
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(os.path.dirname(HERE), "data", "mnist")


def read_idx(path):
    """A gzipped IDX file as a numpy array (uint8 payloads, big-endian header)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        sys.exit(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        sys.exit(f"{path}: {data.size} bytes of payload for dimensions {dims}")
    return data.reshape(dims)


def load(data_dir, split, rows):
    """The first `rows` images of a split as float32 (rows, 784) and their labels."""
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    if rows is None:
        rows = images.shape[0]
    if rows > images.shape[0]:
        sys.exit(f"--{split}-rows {rows}: the {split} split has {images.shape[0]} images")
    x = images[:rows].reshape(rows, -1).astype(np.float32)
    return x, labels[:rows].astype(np.int32)


def targets(labels, objective):
    return (labels >= 5).astype(np.int32) if objective == "binary" else labels


def params(args, threads, extra=None):
    p = {
        "objective": args.objective,
        "num_leaves": args.leaves,
        "learning_rate": args.learning_rate,
        "max_bin": args.max_bin,
        "num_threads": threads,
        "seed": 42,
        "verbose": -1,
    }
    if args.objective == "multiclass":
        p["num_class"] = 10
    p.update(extra or {})
    return p


def fit(args, x, y, threads, extra=None):
    """Dataset construction (binning) + boosting, timed. Returns (booster, fit_s, setup_s)."""
    import lightgbm as lgb

    p = params(args, threads, extra)
    started = time.perf_counter()
    dataset = lgb.Dataset(x, label=y, params=p, free_raw_data=False)
    booster = lgb.Booster(params=p, train_set=dataset)  # network (if any), then dataset.construct()
    set_up = time.perf_counter()
    for _ in range(args.iterations):
        if booster.update():
            break  # no split improves any tree: LightGBM's own stop, as lgb.train does
    finished = time.perf_counter()
    return booster, finished - started, set_up - started


def score(args, booster, xt, labels):
    yt = targets(labels, args.objective)
    p = booster.predict(xt)
    eps = 1e-15
    if args.objective == "binary":
        predicted = (p > 0.5).astype(np.int32)
        q = np.clip(p, eps, 1 - eps)
        logloss = -np.mean(np.where(yt == 1, np.log(q), np.log(1 - q)))
    else:
        predicted = np.argmax(p, axis=1)
        q = np.clip(p[np.arange(len(yt)), yt], eps, 1 - eps)
        logloss = -np.mean(np.log(q))
    return float(np.mean(predicted == yt)), float(logloss)


def model_digest(booster):
    """sha256 of the model text without its parameters section (which names the rank's port)."""
    text = booster.model_to_string()
    start = text.find("\nparameters:")
    end = text.find("end of parameters")
    if start >= 0 and end > start:
        text = text[:start] + text[end:]
    return hashlib.sha256(text.encode()).hexdigest()


def record(args, version, repeat, fit_s, setup_s, accuracy, logloss, processes, threads):
    return {
        "peer": "lightgbm", "version": version, "mode": args.mode, "threads": threads,
        "processes": processes, "objective": args.objective, "train_rows": args.train_rows,
        "test_rows": args.test_rows, "iterations": args.iterations, "leaves": args.leaves,
        "learning_rate": args.learning_rate, "max_bin": args.max_bin, "repeat": repeat,
        "fit_s": round(fit_s, 6), "setup_s": round(setup_s, 6), "boost_s": round(fit_s - setup_s, 6),
        "accuracy": accuracy, "logloss": logloss,
    }


def rank_main(args):
    """One rank of data-parallel training: load the half, say ready, wait for go, fit, report."""
    import lightgbm as lgb  # noqa: F401  (imported before the start signal)

    x, labels = load(args.data_dir, "train", args.train_rows)
    half = (len(x) + 1) // 2
    part = slice(0, half) if args.rank == 0 else slice(half, len(x))
    x, y = np.ascontiguousarray(x[part]), targets(labels[part], args.objective)
    xt, lt = load(args.data_dir, "test", args.test_rows)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit("rank: no start signal")
    extra = {
        "tree_learner": "data",
        "num_machines": 2,
        "machines": args.machines,
        "local_listen_port": int(args.machines.split(",")[args.rank].rsplit(":", 1)[1]),
        "pre_partition": True,
        "time_out": 2,  # minutes to wait for the other rank
    }
    booster, fit_s, setup_s = fit(args, x, y, 1, extra)
    booster.free_network()
    accuracy, logloss = score(args, booster, xt, lt)
    print(json.dumps({"rank": args.rank, "rows": len(x), "fit_s": fit_s, "setup_s": setup_s,
                      "accuracy": accuracy, "logloss": logloss, "trees": booster.num_trees(),
                      "model": model_digest(booster)}), flush=True)


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def data_parallel(args, version, repeat):
    ports = free_ports(2)
    machines = ",".join(f"127.0.0.1:{p}" for p in ports)
    base = [sys.executable, os.path.abspath(__file__), "--data-dir", args.data_dir,
            "--train-rows", str(args.train_rows), "--test-rows", str(args.test_rows),
            "--iterations", str(args.iterations), "--leaves", str(args.leaves),
            "--learning-rate", str(args.learning_rate), "--max-bin", str(args.max_bin),
            "--objective", args.objective, "--machines", machines]
    ranks = [subprocess.Popen(base + ["--rank", str(r)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True) for r in range(2)]
    for r in ranks:
        if r.stdout.readline().strip() != "ready":
            for q in ranks:
                q.kill()
            sys.exit("a data-parallel rank failed before training")
    for r in ranks:
        r.stdin.write("go\n")
        r.stdin.flush()
    results = []
    for n, r in enumerate(ranks):
        out, _ = r.communicate(timeout=3600)
        if r.returncode != 0:
            sys.exit(f"data-parallel rank {n} exited with {r.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    if results[0]["model"] != results[1]["model"]:
        sys.exit(f"data-parallel ranks ended with different models: {results[0]['model']} vs "
                 f"{results[1]['model']} ({results[0]['trees']} and {results[1]['trees']} trees)")
    if (results[0]["accuracy"], results[0]["logloss"]) != (results[1]["accuracy"], results[1]["logloss"]):
        sys.exit("data-parallel ranks score differently on the test rows")
    slowest = max(results, key=lambda r: r["fit_s"])
    out = record(args, version, repeat, slowest["fit_s"], slowest["setup_s"], results[0]["accuracy"],
                 results[0]["logloss"], 2, 1)
    out["rank_fit_s"] = [round(r["fit_s"], 6) for r in results]
    out["rank_rows"] = [r["rows"] for r in results]
    out["same_model"] = True
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=DEFAULT_DATA, help="directory of MNIST's gzipped IDX files")
    p.add_argument("--train-rows", type=int, default=60000)
    p.add_argument("--test-rows", type=int, default=10000)
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--leaves", type=int, default=31)
    p.add_argument("--learning-rate", type=float, default=0.1)
    p.add_argument("--max-bin", type=int, default=255)
    p.add_argument("--threads", type=int, default=1, help="single mode only; data-parallel ranks use 1")
    p.add_argument("--mode", choices=["single", "data-parallel"], default="single")
    p.add_argument("--objective", choices=["multiclass", "binary"], default="multiclass")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--rank", type=int, help=argparse.SUPPRESS)
    p.add_argument("--machines", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.rank is not None:
        rank_main(args)
        return

    import lightgbm as lgb

    version = lgb.__version__
    if args.mode == "data-parallel":
        for repeat in range(args.repeats):
            print(json.dumps(data_parallel(args, version, repeat)), flush=True)
        return
    x, labels = load(args.data_dir, "train", args.train_rows)
    y = targets(labels, args.objective)
    xt, lt = load(args.data_dir, "test", args.test_rows)
    for repeat in range(args.repeats):
        booster, fit_s, setup_s = fit(args, x, y, args.threads)
        accuracy, logloss = score(args, booster, xt, lt)
        print(json.dumps(record(args, version, repeat, fit_s, setup_s, accuracy, logloss, 1, args.threads)),
              flush=True)


if __name__ == "__main__":
    main()
