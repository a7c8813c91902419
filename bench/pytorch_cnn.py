#!/usr/bin/python3
"""One epoch of the reference CNN on MNIST in PyTorch: the yardstick for the
convolution kernels (docs/kernels-report.md, question 1).

    conv(16,5,pad=2) relu maxpool(2) conv(32,5,pad=2) relu maxpool(2)
    flatten dense(128) relu dense(10), softmax cross-entropy (mean)

SGD momentum 0.9, lr 0.01, batch 100, 600 batches of a seeded shuffle, the
whole training set held as a float tensor in [0, 1] (building it is not
timed). Each repeat trains a fresh model. Run with Debian's interpreter:

    env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE \
      /usr/bin/python3 bench/pytorch_cnn.py --data DIR --repeat 3 \
      [--threads 2] [--bf16] [--channels-last] [--profile 50]

--bf16 wraps forward and loss in torch.autocast('cpu', dtype=torch.bfloat16).
--profile N times N extra steps (after one warm epoch-free warm-up of 20)
under torch.autograd.profiler and prints the per-operator table (self CPU).
Prints `key=value` lines: epoch_seconds per repeat, train_accuracy.
"""
import argparse
import os
import time

import torch

from pytorch_mlp import find, read_idx  # same folder: the MNIST reader of the MLP benchmark


def make_model():
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batches", type=int, default=600)
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--profile", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    X = read_idx(find(args.data, "train-images-idx3-ubyte")).reshape(-1, 1, 28, 28).float().div_(255.0)
    y = read_idx(find(args.data, "train-labels-idx1-ubyte")).long()
    n = X.shape[0]
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    print(f"torch={torch.__version__} threads={torch.get_num_threads()} bf16={int(args.bf16)} "
          f"channels_last={int(args.channels_last)} "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '')} "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '')}", flush=True)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(model, opt, idx):
        xb = X[idx].contiguous(memory_format=fmt)
        opt.zero_grad(set_to_none=True)
        if args.bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = loss_fn(model(xb), y[idx])
        else:
            loss = loss_fn(model(xb), y[idx])
        loss.backward()
        opt.step()

    for r in range(args.repeat):
        torch.manual_seed(args.seed)
        model = make_model().to(memory_format=fmt)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        order = torch.randperm(n)
        t0 = time.perf_counter()
        for b in range(args.batches):
            step(model, opt, order[b * 100:(b + 1) * 100])
        seconds = time.perf_counter() - t0
        with torch.no_grad():
            acc = (model(X[:10000].contiguous(memory_format=fmt)).argmax(1) == y[:10000]).float().mean().item()
        print(f"repeat={r + 1} epoch_seconds={seconds:.4f} train_accuracy_first10k={acc:.4f}", flush=True)

    if args.profile:
        torch.manual_seed(args.seed)
        model = make_model().to(memory_format=fmt)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        order = torch.randperm(n)
        for b in range(20):
            step(model, opt, order[b * 100:(b + 1) * 100])
        with torch.autograd.profiler.profile() as prof:
            for b in range(20, 20 + args.profile):
                step(model, opt, order[b * 100:(b + 1) * 100])
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))


if __name__ == "__main__":
    main()
