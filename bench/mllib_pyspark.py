#!/usr/bin/env python3
"""The PySpark peer of `faasml run mllib --example ...`: Spark's four MLlib examples, timed.

The examples as Spark ships them (examples/src/main/python/ml/*_example.py), on Spark's sample
files (data/mllib/sample_*.txt in Spark's tree; this repository keeps no copy: pass their folder
with --data-dir, e.g. /work/shared/data/libsvm):

  random-forest      sample_libsvm_data.txt: StringIndexer on the label and VectorIndexer
                     (maxCategories 4), both fitted on all rows, randomSplit [0.7, 0.3],
                     RandomForestClassifier numTrees 10, accuracy on the 30% (test_error = 1 -
                     accuracy)
  gbt                the same data, indexers and split, GBTClassifier maxIter 10
  kmeans             sample_kmeans_data.txt: KMeans k 2 seed 1; WSSSE (model.summary.trainingCost)
                     and the silhouette (ClusteringEvaluator, squared Euclidean) on the same rows
  linear-regression  sample_linear_regression_data.txt: LinearRegression maxIter 10, regParam 0.3,
                     elasticNetParam 0.8; RMSE and r2 of the training summary, as the example
                     prints them

    python3 bench/mllib_pyspark.py --data-dir /work/shared/data/libsvm --repeats 5

With --mnist N the same four algorithms run on the first N MNIST training images instead (read
from the repository's data/mnist, gzipped IDX, converted once to LIBSVM text under
~/.cache/faasml/pyspark/, untimed, then read by Spark's libsvm reader with numFeatures 784; raw
0-255 pixel values, as in Spark's own sample_libsvm_data.txt): RandomForestClassifier numTrees 10
on the 10 digits, GBTClassifier maxIter 10 on digits 0-4 (label 0) vs 5-9 (label 1), both scored
by accuracy on the 10,000 test images (no indexers: the pixels are continuous); KMeans k 10
seed 1 (WSSSE and silhouette on the training rows); LinearRegression (maxIter 10, regParam 0.3,
elasticNetParam 0.8) on the digit as a real number, RMSE and r2 on the training rows and on the
test images.

How the numbers are taken: one SparkSession, master local[2] (--master), Spark UI and console
progress bar off, SPARK_LOCAL_IP 127.0.0.1 unless set, spark.driver.memory from --driver-memory,
everything else Spark's defaults. Starting it (the JVM and the SparkContext:
SparkSession.builder.getOrCreate()) is timed once as session_start_s and is not part of any
example's time. Each repeat then runs every selected example once, in the
same session, from reading its file to its metrics: load_s is spark.read...load() (the libsvm
reader scans the file to find the number of features unless it is given), fit_s the indexers'
and the estimator's fit (Spark reads the file again there: nothing is cached, as in Spark's
examples), eval_s the transform and the evaluators (or the training summary), total_s their sum.
Each example prints one JSON line with the medians over --repeats and every repeat's total_s
(the first repeat also pays the JVM's warm-up); metrics are the median over repeats (identical
with fixed seeds). The split and the forests use --seed (default 42); Spark's examples give no
seed to randomSplit.

Output, one JSON object per example on stdout, e.g.
  {"peer": "pyspark", "version": "4.3.0", "example": "kmeans", "data": "sample_kmeans_data.txt",
   "rows": 6, "master": "local[2]", "repeats": 1, "session_start_s": ..., "load_s": ...,
   "fit_s": ..., "eval_s": ..., "total_s": ..., "total_s_all": [...], "wssse": ...,
   "silhouette": ...}
Spark's own log goes to stderr (level WARN).
"""

import argparse
import gzip
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EXAMPLES = ["random-forest", "gbt", "kmeans", "linear-regression"]
SAMPLES = {
    "random-forest": "sample_libsvm_data.txt",
    "gbt": "sample_libsvm_data.txt",
    "kmeans": "sample_kmeans_data.txt",
    "linear-regression": "sample_linear_regression_data.txt",
}


def read_idx(path):
    import numpy as np

    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        sys.exit(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mnist_libsvm(mnist_dir, cache, split, rows):
    """Path of the first `rows` images of a split as a LIBSVM text file (written once)."""
    import numpy as np

    prefix = "train" if split == "train" else "t10k"
    path = os.path.join(cache, f"mnist-{split}-{rows}.libsvm")
    if os.path.exists(path):
        return path
    images = read_idx(os.path.join(mnist_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(mnist_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    if rows > images.shape[0]:
        sys.exit(f"--mnist {rows}: the {split} split has {images.shape[0]} images")
    x = images[:rows].reshape(rows, -1)
    os.makedirs(cache, exist_ok=True)
    tmp = path + f".tmp{os.getpid()}"
    with open(tmp, "w") as f:
        for row, label in zip(x, labels[:rows]):
            nz = np.flatnonzero(row)
            f.write(str(int(label)) + "".join(f" {j + 1}:{row[j]}" for j in nz) + "\n")
    os.replace(tmp, path)
    return path


def read(spark, path, num_features=None):
    reader = spark.read.format("libsvm")
    if num_features:
        reader = reader.option("numFeatures", str(num_features))
    return reader.load(path)


def classifier(spark, name, path, seed, test_path=None, binary=False):
    """random-forest / gbt: Spark's example on a sample file, or on MNIST with a test file."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import GBTClassifier, RandomForestClassifier
    from pyspark.ml.evaluation import MulticlassClassificationEvaluator
    from pyspark.ml.feature import IndexToString, StringIndexer, VectorIndexer
    from pyspark.sql import functions as F

    t0 = time.perf_counter()
    if test_path is None:
        data = read(spark, path)
    else:
        data, test = read(spark, path, 784), read(spark, test_path, 784)
        if binary:
            data = data.withColumn("label", (F.col("label") >= 5).cast("double"))
            test = test.withColumn("label", (F.col("label") >= 5).cast("double"))
    t1 = time.perf_counter()
    if test_path is None:
        label_indexer = StringIndexer(inputCol="label", outputCol="indexedLabel").fit(data)
        feature_indexer = VectorIndexer(inputCol="features", outputCol="indexedFeatures",
                                        maxCategories=4).fit(data)
        train, test = data.randomSplit([0.7, 0.3], seed=seed)
        if name == "random-forest":
            model = RandomForestClassifier(labelCol="indexedLabel", featuresCol="indexedFeatures",
                                           numTrees=10, seed=seed)
        else:
            model = GBTClassifier(labelCol="indexedLabel", featuresCol="indexedFeatures", maxIter=10,
                                  seed=seed)
        converter = IndexToString(inputCol="prediction", outputCol="predictedLabel",
                                  labels=label_indexer.labels)
        fitted = Pipeline(stages=[label_indexer, feature_indexer, model, converter]).fit(train)
        label_col = "indexedLabel"
    else:
        train = data
        if name == "random-forest":
            model = RandomForestClassifier(numTrees=10, seed=seed)
        else:
            model = GBTClassifier(maxIter=10, seed=seed)
        fitted = model.fit(train)
        label_col = "label"
    t2 = time.perf_counter()
    predictions = fitted.transform(test)
    accuracy = MulticlassClassificationEvaluator(labelCol=label_col, predictionCol="prediction",
                                                 metricName="accuracy").evaluate(predictions)
    t3 = time.perf_counter()
    return (t1 - t0, t2 - t1, t3 - t2), {"accuracy": accuracy, "test_error": 1.0 - accuracy}


def kmeans(spark, path, k, num_features=None):
    from pyspark.ml.clustering import KMeans
    from pyspark.ml.evaluation import ClusteringEvaluator

    t0 = time.perf_counter()
    dataset = read(spark, path, num_features)
    t1 = time.perf_counter()
    model = KMeans().setK(k).setSeed(1).fit(dataset)
    t2 = time.perf_counter()
    predictions = model.transform(dataset)
    silhouette = ClusteringEvaluator().evaluate(predictions)
    wssse = model.summary.trainingCost
    t3 = time.perf_counter()
    return (t1 - t0, t2 - t1, t3 - t2), {"wssse": wssse, "silhouette": silhouette}


def linear_regression(spark, path, test_path=None, num_features=None):
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.regression import LinearRegression

    t0 = time.perf_counter()
    training = read(spark, path, num_features)
    test = read(spark, test_path, num_features) if test_path else None
    t1 = time.perf_counter()
    model = LinearRegression(maxIter=10, regParam=0.3, elasticNetParam=0.8).fit(training)
    t2 = time.perf_counter()
    summary = model.summary
    metrics = {"rmse": summary.rootMeanSquaredError, "r2": summary.r2,
               "iterations": summary.totalIterations}
    if test is not None:
        predictions = model.transform(test)
        metrics["test_rmse"] = RegressionEvaluator(metricName="rmse").evaluate(predictions)
        metrics["test_r2"] = RegressionEvaluator(metricName="r2").evaluate(predictions)
    t3 = time.perf_counter()
    return (t1 - t0, t2 - t1, t3 - t2), metrics


def count_rows(path):
    with open(path) as f:
        return sum(1 for line in f if line.strip())


def median(values):
    return statistics.median(values)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.path.join(ROOT, "data", "libsvm"),
                   help="folder of Spark's sample_*.txt files (default: the repository's data/libsvm)")
    p.add_argument("--examples", default=",".join(EXAMPLES), help="comma-separated, of " + ", ".join(EXAMPLES))
    p.add_argument("--mnist", type=int, help="run on the first N MNIST training images instead")
    p.add_argument("--mnist-dir", default=os.path.join(ROOT, "data", "mnist"))
    p.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "faasml", "pyspark"))
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--master", default="local[2]")
    p.add_argument("--driver-memory", default="4g")
    args = p.parse_args()
    names = [n for n in args.examples.split(",") if n]
    for n in names:
        if n not in EXAMPLES:
            sys.exit(f"unknown example {n!r}: one of {', '.join(EXAMPLES)}")

    if args.mnist:
        train_path = mnist_libsvm(args.mnist_dir, args.cache, "train", args.mnist)
        test_path = mnist_libsvm(args.mnist_dir, args.cache, "test", 10000)
        paths = {n: train_path for n in names}
    else:
        paths = {n: os.path.join(args.data_dir, SAMPLES[n]) for n in names}
        missing = [q for q in paths.values() if not os.path.exists(q)]
        if missing:
            sys.exit(f"missing {', '.join(sorted(set(missing)))}: pass --data-dir (Spark's data/mllib "
                     "sample files, e.g. /work/shared/data/libsvm)")

    import pyspark
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # one machine: loopback, whatever the hostname says
    started = time.perf_counter()
    spark = (SparkSession.builder.master(args.master).appName("faasml-mllib-peer")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", args.driver_memory)
             .getOrCreate())
    session_start_s = time.perf_counter() - started
    spark.sparkContext.setLogLevel("WARN")
    print(f"pyspark {pyspark.__version__}: session started in {session_start_s:.3f} s", file=sys.stderr)

    def run(name):
        if args.mnist:
            if name in ("random-forest", "gbt"):
                return classifier(spark, name, paths[name], args.seed, test_path, binary=(name == "gbt"))
            if name == "kmeans":
                return kmeans(spark, paths[name], 10, 784)
            return linear_regression(spark, paths[name], test_path, 784)
        if name in ("random-forest", "gbt"):
            return classifier(spark, name, paths[name], args.seed)
        if name == "kmeans":
            return kmeans(spark, paths[name], 2)
        return linear_regression(spark, paths[name])

    runs = {n: [] for n in names}
    for _ in range(args.repeats):
        for name in names:
            runs[name].append(run(name))
    for name in names:
        times = [t for t, _ in runs[name]]
        metrics = [m for _, m in runs[name]]
        out = {
            "peer": "pyspark", "version": pyspark.__version__, "example": name,
            "data": f"mnist-{args.mnist}" if args.mnist else SAMPLES[name],
            "rows": args.mnist if args.mnist else count_rows(paths[name]),
            "master": args.master, "repeats": args.repeats, "seed": args.seed,
            "session_start_s": round(session_start_s, 6),
            "load_s": round(median([t[0] for t in times]), 6),
            "fit_s": round(median([t[1] for t in times]), 6),
            "eval_s": round(median([t[2] for t in times]), 6),
            "total_s": round(median([sum(t) for t in times]), 6),
            "total_s_all": [round(sum(t), 6) for t in times],
        }
        for key in metrics[0]:
            out[key] = median([m[key] for m in metrics])
        print(json.dumps(out), flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
