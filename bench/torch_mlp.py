"""PyTorch CPU reference for the Downpour MLP training step (compare crates/ml/examples/mlp_step.rs).

The network, the loss and the optimizer are those of faasml's `Mlp` in the `downpour` workflow:
784 -> 100 tanh -> dropout 0.2 -> 47, softmax cross-entropy (mean over the batch), plain SGD with
lr 0.1 (no momentum, no weight decay). Inputs: the 60,000 MNIST training images of data/mnist,
scaled to [0, 1] as float32; labels 0..9 (the 47 outputs are EMNIST-balanced's class count).

For each batch size and thread count (torch.set_num_threads) a fresh model runs WARMUP steps, then
3 timed passes over the data, each of 60000 // batch full batches taken in order by slicing
contiguous rows of the pre-made tensors (data loading is excluded; the slicing is included, as in a
normal training loop). Each step: zero_grad, forward, loss, backward, optimizer.step. The loss is
not read back (.item()) in the timed loop. Reported: samples/s of the median pass (min and max in
brackets).

usage: python3 bench/torch_mlp.py [BATCH THREADS]
  (needs torch and numpy, e.g. in a venv; with BATCH THREADS, only that one row is measured)
"""
import gzip
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

DATA = Path(__file__).resolve().parent.parent / "data" / "mnist"
BATCHES = (16, 32, 64, 128)
THREADS = (1, 2)
REPEATS = 3
WARMUP = 200
LR = 0.1


def idx(name, offset):
    with gzip.open(DATA / name) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def model(seed):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(784, 100),
        nn.Tanh(),
        nn.Dropout(0.2),
        nn.Linear(100, 47),
    )


def run(net, opt, loss_fn, x, y, bs, steps):
    """`steps` SGD steps over consecutive row slices of `x`, `y`; returns the elapsed seconds."""
    n = x.shape[0]
    t = time.perf_counter()
    s = 0
    for _ in range(steps):
        if s + bs > n:
            s = 0
        xb, yb = x[s : s + bs], y[s : s + bs]
        opt.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        opt.step()
        s += bs
    return time.perf_counter() - t


def main():
    batches, threads_list = BATCHES, THREADS
    if len(sys.argv) == 3:
        batches, threads_list = (int(sys.argv[1]),), (int(sys.argv[2]),)
    x = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255.0
    y = idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    n = x.shape[0]
    print(f"torch {torch.__version__}, {n} MNIST images, 784-100-47 tanh, dropout 0.2, SGD lr {LR}")
    print(f"samples/s: median of {REPEATS} passes of n // batch steps after {WARMUP} warm-up steps")
    print(f"{'batch':>5} {'threads':>7} {'samples/s':>10}  [min, max]")
    for bs in batches:
        steps = n // bs
        for threads in threads_list:
            torch.set_num_threads(threads)
            net = model(1)
            net.train()
            opt = torch.optim.SGD(net.parameters(), lr=LR)
            loss_fn = nn.CrossEntropyLoss()
            run(net, opt, loss_fn, x, y, bs, WARMUP)
            rates = [steps * bs / run(net, opt, loss_fn, x, y, bs, steps) for _ in range(REPEATS)]
            print(
                f"{bs:>5} {threads:>7} {statistics.median(rates):>10.0f}"
                f"  [{min(rates):.0f}, {max(rates):.0f}]",
                flush=True,
            )


if __name__ == "__main__":
    main()
