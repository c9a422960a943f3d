#!/usr/bin/env python3
"""The scikit-learn peer of `faasml bench inference --compare sklearn` (seed 003, "ML on FaaS").

The same models as faasml's text workflows, fitted with scikit-learn on the same training rows
(the held-out rows follow the same splitmix64 rule as crates/workflows/src/text/mod.rs), pickled
with joblib, then served the way the seed's Lambda functions serve them: a fresh Python process
per cold sample (interpreter start, `import sklearn`, joblib load: timed as initialisation, from
the moment the parent spawns it) answering one batch, and one process answering the warm batches.
Rows go to a CSV with the seed's columns, the same as faasml's rows (lambdaMemorySize 0: the
peer is not confined).

    python3 bench/inference_sklearn.py --data data/sentiment/vader_sentiment.csv.gz \
        --algorithms k-means,pca,logistic-regression --batch-sizes 1,10,100 --messages 50 \
        --cold 3 --csv sklearn.csv

Models are cached under ~/.cache/faasml/sklearn (keyed by corpus, seed and test fraction); the
held-out accuracy of each supervised model is printed when it is fitted and stored beside it.
"""

import argparse
import csv
import gzip
import json
import os
import resource
import subprocess
import sys
import time

COLUMNS = [
    "messageId", "lambdaName", "functionName", "functionInstanceId", "batchSize", "isColdStart",
    "initializationStart", "initializationEnd", "processingStart", "processingEnd",
    "initializationTime", "processingTime", "lambdaDuration", "lambdaBilledDuration",
    "lambdaMemorySize", "lambdaMaxMemoryUsed", "cpuCount", "error",
]
MASK = (1 << 64) - 1


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def held_out(i, fraction, seed):
    key = splitmix64(((seed * 0x9E3779B97F4A7C15) & MASK) ^ i)
    return (key >> 11) / float(1 << 53) < fraction


def read_corpus(path):
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [int(float(r["label"])) for r in rows]


def build(name, seed):
    """The pipeline of `name`: (vectoriser, model, dense). The settings of
    crates/workflows/src/text/algorithms.rs."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.mixture import GaussianMixture
    from sklearn.svm import LinearSVC

    counts = lambda: CountVectorizer(stop_words="english")
    top = lambda: CountVectorizer(stop_words="english", max_features=3000)
    return {
        "k-means": (counts(), KMeans(n_clusters=3, random_state=seed), False),
        "pca": (top(), PCA(n_components=2), True),
        "gaussian-mixture": (top(), GaussianMixture(n_components=2, covariance_type="full", random_state=seed), True),
        "logistic-regression": (counts(), LogisticRegression(), False),
        "random-forest": (top(), RandomForestClassifier(n_estimators=100, random_state=seed), True),
        "linear-svm": (counts(), LinearSVC(), False),
    }[name]


def model_path(cache, name):
    return os.path.join(cache, name + ".joblib")


def train(args, names, cache):
    import joblib

    texts, labels = read_corpus(args.data)
    train_rows = [i for i in range(len(texts)) if not held_out(i, args.test_fraction, args.seed)]
    test_rows = [i for i in range(len(texts)) if held_out(i, args.test_fraction, args.seed)]
    os.makedirs(cache, exist_ok=True)
    for name in names:
        path = model_path(cache, name)
        if os.path.exists(path):
            continue
        vectorizer, model, dense = build(name, args.seed)
        started = time.perf_counter()
        x = vectorizer.fit_transform([texts[i] for i in train_rows])
        if dense:
            x = x.toarray()
        y = [labels[i] for i in train_rows]
        model.fit(x, y)
        seconds = time.perf_counter() - started
        facts = {"algorithm": name, "fit_seconds": seconds, "n_train": len(train_rows), "n_test": len(test_rows)}
        if name in ("logistic-regression", "random-forest", "linear-svm"):
            xt = vectorizer.transform([texts[i] for i in test_rows])
            if dense:
                xt = xt.toarray()
            predicted = model.predict(xt)
            facts["accuracy"] = float(sum(int(p == labels[i]) for p, i in zip(predicted, test_rows)) / len(test_rows))
        joblib.dump((vectorizer, model, dense), path)
        with open(path + ".json", "w") as f:
            json.dump(facts, f)
    for name in names:
        with open(model_path(cache, name) + ".json") as f:
            print("sklearn " + json.dumps(json.load(f)), file=sys.stderr)


def now_ms():
    return time.time() * 1000.0


def child(args):
    """One instance: load the model (timed from the parent's spawn), then answer batches."""
    import joblib
    import sklearn  # noqa: F401  (the import is part of the cold start, as in the seed)

    spawned = float(os.environ["FAASML_PEER_SPAWNED_MS"])
    vectorizer, model, dense = joblib.load(args.model)
    loaded = now_ms()
    texts, _ = read_corpus(args.data)
    name = args.child
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    cold = args.messages == 0
    offset = args.offset
    out = csv.writer(sys.stdout)
    plan = [(batch_sizes[0], True)] if cold else [(b, False) for b in batch_sizes for _ in range(args.messages)]
    if not cold:
        vectorizer.transform(texts[:1])  # the warm instance has answered before
    for m, (size, is_cold) in enumerate(plan):
        batch = [texts[(offset + k) % len(texts)] for k in range(size)]
        offset += size
        start = now_ms()
        x = vectorizer.transform(batch)
        if dense:
            x = x.toarray()
        if name == "pca":
            model.transform(x)
        else:
            model.predict(x)
        end = now_ms()
        peak_mb = -(-resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
        init = (loaded - spawned) if is_cold else 0.0
        duration = (end - start) + init
        out.writerow([
            f"sklearn-{name}-{os.getpid()}-{m}", f"sklearn-{name}", f"text-inference.{name}", str(os.getpid()),
            size, "true" if is_cold else "false",
            f"{spawned:.3f}" if is_cold else "0.000", f"{loaded:.3f}" if is_cold else "0.000",
            f"{start:.3f}", f"{end:.3f}", f"{init:.3f}", f"{end - start:.3f}", f"{duration:.3f}",
            int(-(-duration // 1)), 0, peak_mb, os.cpu_count(), "",
        ])
    sys.stdout.flush()


def spawn(args, name, cache, batch_sizes, messages, offset):
    env = dict(os.environ, FAASML_PEER_SPAWNED_MS=f"{now_ms():.3f}")
    command = [sys.executable, os.path.abspath(__file__), "--child", name, "--model", model_path(cache, name),
               "--data", args.data, "--batch-sizes", batch_sizes, "--messages", str(messages), "--offset", str(offset)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"the {name} peer failed: {result.stderr.strip()[-2000:]}")
    return list(csv.reader(result.stdout.splitlines()))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--algorithms", default="k-means,pca,gaussian-mixture,logistic-regression,random-forest,linear-svm")
    p.add_argument("--batch-sizes", default="1,10,100,1000")
    p.add_argument("--messages", type=int, default=50)
    p.add_argument("--cold", type=int, default=3)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--csv")
    p.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "faasml", "sklearn"))
    p.add_argument("--child")
    p.add_argument("--model")
    p.add_argument("--offset", type=int, default=0)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    names = [n for n in args.algorithms.split(",") if n]
    corpus = os.path.basename(args.data).split(".")[0]
    cache = os.path.join(args.cache, f"{corpus}-seed{args.seed}-test{args.test_fraction}")
    train(args, names, cache)
    if not args.csv:
        return
    rows = []
    offset = 0
    for name in names:
        for size in args.batch_sizes.split(","):
            for _ in range(args.cold):
                rows += spawn(args, name, cache, size, 0, offset)
                offset += int(size)
        rows += spawn(args, name, cache, args.batch_sizes, args.messages, offset)
        print(f"sklearn peer: {name} done", file=sys.stderr)
    with open(args.csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        w.writerows(rows)


if __name__ == "__main__":
    main()
