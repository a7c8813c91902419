#!/usr/bin/python3
"""One epoch of 784-500-10 SGD on MNIST in PyTorch, the reference for bench/epoch.

Run with the system interpreter that has torch (the pyenv python3 has none):

    /usr/bin/python3 bench/pytorch_mlp.py [--data DIR] [--repeat N] [--threads 2] [--autocast bf16]

Same setting as bench/epoch: ReLU hidden layer, softmax cross-entropy (mean),
every weight and bias ~ N(0, 0.05^2), batch 100, SGD lr 0.1, one pass over a
seeded shuffle of the 60 000 training images, float32, the whole data set
held in memory as a float tensor scaled to [0, 1] (building it is not timed).
With --autocast bf16 the forward pass and loss run under
torch.autocast("cpu", dtype=torch.bfloat16): PyTorch's own bf16 products with
float32 master weights, what sibp's --precision bf16 is compared with.
Prints `key=value` lines: epoch_seconds for each repeat, then train_accuracy.
"""
import contextlib
import argparse
import gzip
import os
import struct
import sys
import time

import torch


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    payload = torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8)
    return payload.reshape(dims)


def find(dir_, stem):
    for ext in ("", ".gz"):
        p = os.path.join(dir_, stem + ext)
        if os.path.exists(p):
            return p
    sys.exit(f"{os.path.basename(sys.argv[0])}: no {stem}[.gz] in {dir_}")


def default_dir():
    cands = []
    if os.environ.get("SIBP_DATA_DIR"):
        cands.append(os.path.join(os.environ["SIBP_DATA_DIR"], "mnist"))
    cands += ["data/mnist", "/tmp/package/data"]
    for c in cands:
        if os.path.exists(os.path.join(c, "train-images-idx3-ubyte")) or \
           os.path.exists(os.path.join(c, "train-images-idx3-ubyte.gz")):
            return c
    sys.exit("pytorch_mlp: MNIST not found; pass --data DIR")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--autocast", choices=["none", "bf16"], default="none")
    args = ap.parse_args()

    def autocast():
        if args.autocast == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()
    torch.set_num_threads(args.threads)
    d = args.data or default_dir()
    X = read_idx(find(d, "train-images-idx3-ubyte")).reshape(-1, 784).float().div_(255.0)
    y = read_idx(find(d, "train-labels-idx1-ubyte")).long()
    n = X.shape[0]
    print(f"torch={torch.__version__} threads={torch.get_num_threads()} samples={n} "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '')} "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '')} autocast={args.autocast}")
    for r in range(args.repeat):
        torch.manual_seed(args.seed)
        model = torch.nn.Sequential(torch.nn.Linear(784, 500), torch.nn.ReLU(), torch.nn.Linear(500, 10))
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0.0, 0.05)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        loss_fn = torch.nn.CrossEntropyLoss()
        order = torch.randperm(n)
        t0 = time.perf_counter()
        for b in range(0, n, 100):
            idx = order[b:b + 100]
            opt.zero_grad(set_to_none=True)
            with autocast():
                loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - t0
        with torch.no_grad():
            acc = (model(X).argmax(1) == y).float().mean().item()
        print(f"repeat={r + 1} epoch_seconds={seconds:.4f} train_accuracy={acc:.4f}", flush=True)


if __name__ == "__main__":
    main()
