"""The ml-training stages written with numpy + scikit-learn: the reference faasml is measured against.

partition (N_PCA shards, rows dealt round-robin as faasml deals them: row k to shard k % N_PCA) ->
PCA per shard (covariance_eigh, as fast as scikit-learn gets) -> N_RF / N_PCA slices per shard, dealt
round-robin, one RandomForestClassifier each (100 trees, depth 10, min_samples_split 5, 2 jobs,
forest k seeded SEED + k) -> validation: the forests' averaged probabilities (and, for comparison,
majority vote) on the 10k MNIST test images, each forest projecting them with its own shard's PCA.

usage: python3 bench/sklearn_pipeline.py N_TRAIN COMPONENTS [SEED [N_PCA N_RF [TREES DEPTH MIN_SPLIT]]]
(`faasml bench ml-training --compare sklearn` runs it for each point, in the same process.)
Times: load = reading the gzipped IDX files; fit+validate = everything after; total = both.
"""
import gzip
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier

DATA = Path(__file__).resolve().parent.parent / "data" / "mnist"


def idx(name, offset):
    with gzip.open(DATA / name) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def main():
    n, comps = int(sys.argv[1]), int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    n_pca = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    n_rf = int(sys.argv[5]) if len(sys.argv) > 5 else 8
    trees, depth, min_split = (int(a) for a in sys.argv[6:9]) if len(sys.argv) > 8 else (100, 10, 5)
    t0 = time.time()
    x = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784)[:n] / 255.0
    y = idx("train-labels-idx1-ubyte.gz", 8)[:n]
    xt = idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784) / 255.0
    yt = idx("t10k-labels-idx1-ubyte.gz", 8)
    t1 = time.time()
    probs = np.zeros((len(yt), 10))
    votes = np.zeros((len(yt), 10))
    per = n_rf // n_pca
    for s in range(n_pca):
        xs, ys = x[s::n_pca], y[s::n_pca]
        pca = PCA(comps, svd_solver="covariance_eigh").fit(xs)
        z, zt = pca.transform(xs), pca.transform(xt)
        for j in range(per):
            rf = RandomForestClassifier(
                trees,
                max_depth=depth,
                min_samples_split=min_split,
                n_jobs=2,
                random_state=seed + s * per + j,
            )
            rf.fit(z[j::per], ys[j::per])
            p = rf.predict_proba(zt)
            probs += p
            votes[np.arange(len(yt)), p.argmax(1)] += 1
    t2 = time.time()
    soft = (probs.argmax(1) == yt).mean()
    hard = (votes.argmax(1) == yt).mean()
    print(
        f"n={n} components={comps} seed={seed} accuracy soft={soft:.4f} hard={hard:.4f} "
        f"load={t1 - t0:.2f}s fit+validate={t2 - t1:.2f}s total={t2 - t0:.2f}s"
    )


if __name__ == "__main__":
    main()
