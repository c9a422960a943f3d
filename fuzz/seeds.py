"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/ (small slices of the
bundled data and small valid models); run from the repository root: python3 fuzz/seeds.py.

Seeds only start the fuzzer at valid inputs; what it finds later lives in a scratch corpus
(see bench/fuzz.sh), and crash inputs become regression tests in the crates themselves.
"""
import gzip
import json
import os
import struct
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def mnist_slice(n):
    with gzip.open(os.path.join(ROOT, "data/mnist/t10k-images-idx3-ubyte.gz")) as f:
        head = f.read(16)
        pixels = f.read(n * 28 * 28)
    with gzip.open(os.path.join(ROOT, "data/mnist/t10k-labels-idx1-ubyte.gz")) as f:
        f.read(8)
        labels = f.read(n)
    images = struct.pack(">IIII", 0x803, n, 28, 28) + pixels
    labels = struct.pack(">II", 0x801, n) + labels
    assert head[:4] == b"\x00\x00\x08\x03"
    return images, labels, pixels


def gz(data):
    return gzip.compress(data, mtime=0)


def idx_seeds():
    images, labels, _ = mnist_slice(3)
    put("idx", "images3", b"\x00" + images)
    put("idx", "images3.gz", b"\x00" + gz(images))
    put("idx", "labels3", b"\x01" + labels)
    put("idx", "labels3.gz", b"\x01" + gz(labels))
    pair = images + labels
    put("idx", "pair3", b"\x02" + bytes([len(images) * 256 // len(pair) + 1]) + pair)
    put("idx", "gunzip", b"\x03" + gz(labels))
    small = struct.pack(">IIII", 0x803, 2, 2, 3) + bytes(range(12))
    put("idx", "images2x2x3", b"\x00" + small)


def png_chunk(kind, data):
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png(width, height, colour, depth, rows):
    raw = b"".join(b"\x00" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw))
            + png_chunk(b"IEND", b""))


def png_seeds():
    _, _, pixels = mnist_slice(1)
    rows = [pixels[r * 28:(r + 1) * 28] for r in range(28)]
    put("png", "mnist0-gray8", png(28, 28, 0, 8, rows))
    put("png", "mnist0-rgb8", png(28, 28, 2, 8, [bytes(b for p in r for b in (p, p, p)) for r in rows]))
    put("png", "gray-alpha-4x2", png(4, 2, 4, 8, [bytes(range(8)), bytes(range(8, 16))]))
    put("png", "gray1-8x1", png(8, 1, 0, 1, [b"\xa5"]))


def csv_seeds():
    with open(os.path.join(ROOT, "data/tabular/iris.csv")) as f:
        lines = f.read().splitlines()
    put("csv_table", "iris-head", b"\x00" + ("\n".join(lines[:12]) + "\n").encode())
    put("csv_table", "small", b"\x00a,b,target\n1,2.5,0\n-3,4e2,1\n")
    put("csv_table", "text", b"\x01text,label\n\"hello, world\",1\nbye,0\n")


def libsvm_seeds():
    put("libsvm", "spark-like", b"\xff0 128:51 129:159 130:253\n1 159:124 160:253 161:255 # c\n")
    put("libsvm", "fixed-width", b"\x050 1:0.5 3:-2\n1 2:1e-3 5:7\n\n")


def safetensors(tensors, meta):
    header = {}
    body = b""
    for name, (dtype, shape, data) in sorted(tensors.items()):
        fmt = {"F32": "<%df", "U32": "<%dI", "U8": "<%dB"}[dtype] % len(data)
        raw = struct.pack(fmt, *data)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(body), len(body) + len(raw)]}
        body += raw
    if meta:
        header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + body


def forest(n_features, n_classes, prefix=""):
    # One stump per tree: x[0] <= 0.5 goes left.
    t = {
        "shape": ("U32", [2], [n_features, n_classes]),
        "tree_offsets": ("U32", [3], [0, 3, 6]),
        "feature": ("U32", [6], [0, 2**32 - 1, 2**32 - 1, n_features - 1, 2**32 - 1, 2**32 - 1]),
        "threshold": ("F32", [6], [0.5, 0, 0, -1.0, 0, 0]),
        "left": ("U32", [6], [1, 0, 0, 1, 0, 0]),
        "right": ("U32", [6], [2, 0, 0, 2, 0, 0]),
    }
    values = []
    for node in range(6):
        values += [1.0 / n_classes] * n_classes if node % 3 == 0 else [1.0 if c == node % 2 else 0.0 for c in range(n_classes)]
    t["values"] = ("F32", [6, n_classes], values)
    return {prefix + k: v for k, v in t.items()}


def pca(d, k, prefix=""):
    comps = [1.0 if i == j else 0.0 for i in range(k) for j in range(d)]
    return {
        prefix + "mean": ("F32", [d], [0.25] * d),
        prefix + "components": ("F32", [k, d], comps),
        prefix + "explained_variance": ("F32", [k], [2.0 - 0.5 * i for i in range(k)]),
        prefix + "explained_variance_ratio": ("F32", [k], [0.5 - 0.1 * i for i in range(k)]),
    }


def model_seeds():
    put("model", "random-forest", safetensors(forest(3, 2), {"kind": "random-forest"}))
    reg = forest(3, 1)
    put("model", "random-forest-regressor", safetensors(reg, {"kind": "random-forest-regressor"}))
    one = forest(2, 3)
    one["tree_offsets"] = ("U32", [2], [0, 6])
    one["left"] = ("U32", [6], [1, 0, 0, 4, 0, 0])
    one["right"] = ("U32", [6], [3, 0, 0, 5, 0, 0])
    one["feature"] = ("U32", [6], [0, 2**32 - 1, 2**32 - 1, 1, 2**32 - 1, 2**32 - 1])
    put("model", "decision-tree", safetensors(one, {"kind": "decision-tree"}))
    put("model", "pca", safetensors(pca(4, 2), {"kind": "pca"}))
    layers = [3, 4, 2]
    n = (3 + 1) * 4 + (4 + 1) * 2
    mlp = {
        "layers": ("U32", [3], layers),
        "dropout": ("F32", [1], [0.1]),
        "params": ("F32", [n], [((i * 37) % 11 - 5) / 10 for i in range(n)]),
    }
    put("model", "mlp", safetensors(mlp, {"kind": "mlp", "activation": "tanh"}))
    ens = {}
    meta = {"format": "faasml.pca-forest-ensemble", "version": "1", "members": "2", "dataset": "mnist"}
    for i in range(2):
        ens.update(pca(6, 3, f"m{i}.pca."))
        ens.update(forest(3, 2, f"m{i}.forest."))
        meta[f"m{i}.pca.kind"] = "pca"
        meta[f"m{i}.forest.kind"] = "random-forest"
    put("model", "ensemble", safetensors(ens, meta))
    put("arrays", "u16-and-u8", safetensors({"a": ("U8", [2, 2], [1, 2, 3, 4])}, {"k": "v"}))
    for name in ["random-forest", "pca", "mlp"]:
        with open(os.path.join(CORPUS, "model", name), "rb") as f:
            put("arrays", name, f.read())


def envelope_seeds():
    record = {"function": "pca", "instance": "w0", "parent": None, "attempt": 1, "cold": True,
              "task": 0, "submit_us": 1, "start_us": 2, "end_us": 9, "bytes_read": 10,
              "bytes_written": 20, "payload_in": 3, "payload_out": 4, "cpu_us": 5,
              "peak_rss_bytes": 6, "outcome": {"status": "ok"}}
    put("envelope", "ok", b"\x00" + json.dumps({"output": {"k": [1, 2]}, "record": record, "nested": []}).encode())
    put("envelope", "error", b"\x00" + json.dumps({"error": {"error_type": "x", "error_message": "y", "retryable": False}, "known": ["a"]}).encode())
    put("envelope", "lambda", b"\x01" + json.dumps({"function": "train", "payload": {"a": 1}, "run_id": "run-1", "attempt": 2, "parent": "p", "task": 3, "retry": {"max_attempts": 3, "backoff_ms": 10}}).encode())
    put("envelope", "headers", b"\x02x-faasml-run-id: run-1\nx-faasml-attempt: 2\nx-faasml-task: 7\n")


if __name__ == "__main__":
    idx_seeds()
    png_seeds()
    csv_seeds()
    libsvm_seeds()
    model_seeds()
    envelope_seeds()
