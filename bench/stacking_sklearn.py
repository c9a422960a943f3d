"""The stacking workflow's stages written with numpy + scikit-learn: the peer faasml's `stacking`
workflow is measured against (seed 002, vSwarm stacking-training).

driver -> N trainers -> reducer -> metatrainer, the data going through a temporary directory (the
seed's S3 bucket), each stage loading what the previous one wrote:

- driver: makes the data (the seed's make_classification: S samples x F features, 2 informative,
  2 clusters per class, classes 90/10, 10% label noise, class_sep 1, random_state SEED) or reads
  `--data CSV --target COL`; with `--holdout H` (> 0) keeps a stratified share H of the rows apart
  (train_test_split, random_state SEED); writes the arrays with numpy.
- trainer i (sequential, or `--mode concurrent`: multiprocessing.Pool(2)): base model i % 4 of
  LinearSVR(C 1, epsilon 0, tol 1e-6, max_iter 1000, random_state 42), Lasso(alpha 0.1),
  RandomForestRegressor(2 trees, depth 2, min split 2, min leaf 2, random_state 42),
  KNeighborsRegressor(k 20), each regressing the 0/1 labels; its out-of-fold predictions
  (cross_val_predict, cv=K: unshuffled KFold), then a fit on all training rows; writes the pickled
  model, the predictions and (with a holdout) its predictions of the held-out rows.
- reducer: stacks the N out-of-fold columns into an n x N matrix and writes it.
- metatrainer: LogisticRegression(C 1); out-of-fold probabilities (cross_val_predict, cv=K:
  StratifiedKFold, method predict_proba), ROC-AUC of them against the labels; a fit on all rows,
  the model written; with a holdout, ROC-AUC and accuracy on the held-out rows.

usage: python3 bench/stacking_sklearn.py [--trainers N] [--mode sequential|concurrent]
           [--samples S] [--features F] [--seed SEED] [--folds K] [--holdout H]
           [--data CSV --target COL] [--export-csv PATH]

`--export-csv PATH` writes the generated data as CSV (header f0,...,f{F-1},target; the target an
integer 0/1; floats printed with %.17g, so they read back bit for bit) and exits: what
`faasml data import csv` and `faasml run stacking --data ...` can train on.

Times start after the imports (Python's start-up and scikit-learn's import are not counted). The
last line printed is space-separated key=value tokens: end_to_end_s driver_s trainers_s reducer_s
metatrainer_s meta_oof_auc holdout_auc holdout_accuracy (nan without a holdout) rows trainers, then
base<i>_auc, the out-of-fold ROC-AUC of base model i (i < min(N, 4); trainers i and i + 4 fit the
same model on the same rows, so they would repeat it).
"""
import argparse
import csv
import multiprocessing
import os
import pickle
import sys
import tempfile
import time
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import cross_val_predict, train_test_split
from sklearn.neighbors import KNeighborsRegressor
from sklearn.svm import LinearSVR

# LinearSVR stops at max_iter on this data, as it does in the seed: the warning says nothing new.
warnings.filterwarnings("ignore", category=ConvergenceWarning)


def base_model(i):
    """Base model i % 4, with the seed's settings."""
    kind = i % 4
    if kind == 0:
        return LinearSVR(C=1.0, epsilon=0.0, tol=1e-6, max_iter=1000, random_state=42)
    if kind == 1:
        return Lasso(alpha=0.1)
    if kind == 2:
        return RandomForestRegressor(
            n_estimators=2,
            max_depth=2,
            min_samples_split=2,
            min_samples_leaf=2,
            random_state=42,
        )
    return KNeighborsRegressor(n_neighbors=20)


def generate(samples, features, seed):
    """The seed's synthetic data."""
    return make_classification(
        n_samples=samples,
        n_features=features,
        n_informative=2,
        n_redundant=0,
        n_repeated=0,
        n_clusters_per_class=2,
        weights=[0.9, 0.1],
        flip_y=0.1,
        class_sep=1.0,
        random_state=seed,
    )


def read_table(path, target):
    """A numeric CSV with a header row; `target` must hold 0/1 labels."""
    with open(path, newline="") as f:
        header = next(csv.reader(f), None)
    if not header:
        sys.exit(f"{path}: no header row")
    header = [h.strip() for h in header]
    if target not in header:
        sys.exit(f"{path}: no column named {target!r}; the columns are: {', '.join(header[:8])}")
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except ValueError as e:
        sys.exit(f"{path}: not a numeric table: {e}")
    t = header.index(target)
    y = table[:, t]
    if not np.isin(y, [0.0, 1.0]).all() or len(np.unique(y)) != 2:
        sys.exit(f"{path}: the target column {target!r} must hold the labels 0 and 1 (both)")
    return np.delete(table, t, axis=1), y.astype(np.int64)


def export_csv(path, x, y):
    """Writes x and y as CSV: f0..f{F-1},target."""
    header = ",".join([f"f{j}" for j in range(x.shape[1])] + ["target"])
    table = np.column_stack([x, y])
    fmt = ["%.17g"] * x.shape[1] + ["%d"]
    np.savetxt(path, table, fmt=fmt, delimiter=",", header=header, comments="")


def driver(args, work):
    """Makes (or reads) the data, holds a share out, writes the arrays to `work`."""
    if args.data:
        x, y = read_table(args.data, args.target)
    else:
        x, y = generate(args.samples, args.features, args.seed)
    if args.holdout > 0:
        x, x_hold, y, y_hold = train_test_split(
            x, y, test_size=args.holdout, stratify=y, random_state=args.seed
        )
        np.save(os.path.join(work, "x_hold.npy"), x_hold)
        np.save(os.path.join(work, "y_hold.npy"), y_hold)
    np.save(os.path.join(work, "x.npy"), x)
    np.save(os.path.join(work, "y.npy"), y)
    return len(y)


def trainer(job):
    """Fits base model i: out-of-fold predictions, then a fit on all rows; writes both."""
    i, work, folds = job
    x = np.load(os.path.join(work, "x.npy"))
    y = np.load(os.path.join(work, "y.npy"))
    model = base_model(i)
    oof = cross_val_predict(model, x, y, cv=folds)
    model.fit(x, y)
    with open(os.path.join(work, f"model_{i}.pkl"), "wb") as f:
        pickle.dump(model, f)
    np.save(os.path.join(work, f"oof_{i}.npy"), oof)
    hold = os.path.join(work, "x_hold.npy")
    if os.path.exists(hold):
        np.save(os.path.join(work, f"hold_{i}.npy"), model.predict(np.load(hold)))


def reducer(work, n):
    """Stacks the trainers' out-of-fold predictions (and held-out predictions) column-wise."""
    z = np.column_stack([np.load(os.path.join(work, f"oof_{i}.npy")) for i in range(n)])
    np.save(os.path.join(work, "meta_x.npy"), z)
    if os.path.exists(os.path.join(work, "hold_0.npy")):
        h = np.column_stack([np.load(os.path.join(work, f"hold_{i}.npy")) for i in range(n)])
        np.save(os.path.join(work, "meta_hold.npy"), h)


def metatrainer(work, folds):
    """Logistic regression on the stacked predictions: out-of-fold ROC-AUC, fit, held-out scores."""
    z = np.load(os.path.join(work, "meta_x.npy"))
    y = np.load(os.path.join(work, "y.npy"))
    meta = LogisticRegression(C=1.0)
    proba = cross_val_predict(meta, z, y, cv=folds, method="predict_proba")[:, 1]
    oof_auc = roc_auc_score(y, proba)
    meta.fit(z, y)
    with open(os.path.join(work, "meta.pkl"), "wb") as f:
        pickle.dump(meta, f)
    hold_auc = hold_acc = float("nan")
    held = os.path.join(work, "meta_hold.npy")
    if os.path.exists(held):
        h = np.load(held)
        y_hold = np.load(os.path.join(work, "y_hold.npy"))
        hold_auc = roc_auc_score(y_hold, meta.predict_proba(h)[:, 1])
        hold_acc = accuracy_score(y_hold, meta.predict(h))
    return oof_auc, hold_auc, hold_acc


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trainers", type=int, default=4)
    p.add_argument("--mode", choices=["sequential", "concurrent"], default="sequential")
    p.add_argument("--samples", type=int, default=300)
    p.add_argument("--features", type=int, default=1024)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--holdout", type=float, default=0.0)
    p.add_argument("--data", help="a numeric CSV table instead of the synthetic data")
    p.add_argument("--target", help="the 0/1 target column of --data")
    p.add_argument("--export-csv", help="write the generated data as CSV to this path and exit")
    args = p.parse_args()
    if args.trainers < 1:
        p.error("--trainers must be at least 1")
    if args.folds < 2:
        p.error("--folds must be at least 2")
    if not 0.0 <= args.holdout < 1.0:
        p.error("--holdout must be in [0, 1)")
    if args.data and not args.target:
        p.error("--data needs --target COL")
    if args.export_csv:
        x, y = generate(args.samples, args.features, args.seed)
        export_csv(args.export_csv, x, y)
        print(f"wrote {len(y)} rows x {x.shape[1]} features to {args.export_csv}")
        return

    with tempfile.TemporaryDirectory(prefix="stacking-") as work:
        t0 = time.perf_counter()
        rows = driver(args, work)
        t1 = time.perf_counter()
        jobs = [(i, work, args.folds) for i in range(args.trainers)]
        if args.mode == "concurrent":
            with multiprocessing.Pool(2) as pool:
                pool.map(trainer, jobs)
        else:
            for job in jobs:
                trainer(job)
        t2 = time.perf_counter()
        reducer(work, args.trainers)
        t3 = time.perf_counter()
        oof_auc, hold_auc, hold_acc = metatrainer(work, args.folds)
        t4 = time.perf_counter()
        # Out of the timed stages: each base model's out-of-fold ROC-AUC, for comparison.
        y = np.load(os.path.join(work, "y.npy"))
        base = [
            roc_auc_score(y, np.load(os.path.join(work, f"oof_{i}.npy")))
            for i in range(min(args.trainers, 4))
        ]
    tokens = [
        f"end_to_end_s={t4 - t0:.4f}",
        f"driver_s={t1 - t0:.4f}",
        f"trainers_s={t2 - t1:.4f}",
        f"reducer_s={t3 - t2:.4f}",
        f"metatrainer_s={t4 - t3:.4f}",
        f"meta_oof_auc={oof_auc:.6f}",
        f"holdout_auc={hold_auc:.6f}",
        f"holdout_accuracy={hold_acc:.6f}",
        f"rows={rows}",
        f"trainers={args.trainers}",
    ] + [f"base{i}_auc={a:.6f}" for i, a in enumerate(base)]
    print(" ".join(tokens))


if __name__ == "__main__":
    main()
