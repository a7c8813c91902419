#!/usr/bin/python3
"""SIBP against SGD on MNIST, from Python: the same 784-500-10 ReLU network
(same initial weights) trained by each for a few epochs; prints the test
accuracy per epoch and plots it into sibp_vs_sgd.png when matplotlib is
installed (Debian's python3-matplotlib). About 20 seconds on one core.

    bash scripts/run-main.sh          # once: builds the module, fetches MNIST
    /usr/bin/python3 examples/sibp_vs_sgd.py [--epochs 3] [--out sibp_vs_sgd.png]

Run it from the repository's folder (MNIST is read from ./data, or
$SIBP_DATA_DIR), or pass --data-dir.
"""
import argparse
import time

import numpy as np

import sibp


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--data", default="mnist", help="a --data spec (default mnist)")
    ap.add_argument("--data-dir", default=None, help="folder of fetched data sets")
    ap.add_argument("--out", default="sibp_vs_sgd.png", help="the plot (PNG)")
    args = ap.parse_args()

    X, y, Xt, yt = sibp.datasets.load(args.data, data_dir=args.data_dir)
    print(f"{args.data}: {len(X)} training and {len(Xt)} test samples of shape {X.shape[1:]}")

    # 784-500-10 on MNIST; the input and output widths follow the data.
    d, classes = int(np.prod(X.shape[1:])), int(max(y.max(), yt.max())) + 1
    layers = f"{d}-500-{classes}"
    algorithms = {
        "SIBP (eta 0.3, lambda 1)": sibp.SIBP(eta=0.3, lam=1.0),
        "SGD (lr 0.1)": sibp.SGD(lr=0.1),
    }
    curves = {}
    for label, algo in algorithms.items():
        net = sibp.Network(layers, act="relu", init="normal:0.05", seed=1)
        start = time.time()
        hist = sibp.fit(net, algo, X, y, epochs=args.epochs, batch=100, seed=1, test_data=(Xt, yt),
                        callbacks=[lambda row, label=label: print(
                            f"  {label:26s} epoch {row['epoch']:.0f}: test accuracy {row['test_acc']:.4f}")])
        curves[label] = (hist.column("epoch"), hist.column("test_acc"))
        print(f"{label}: {time.time() - start:.1f} s, {hist.seconds_per_epoch:.2f} s of training per epoch")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (apt-get install python3-matplotlib): no plot")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (epochs, acc) in curves.items():
        ax.plot(epochs[1:], acc[1:], marker="o", label=label)
    ax.set_xticks(range(1, args.epochs + 1))
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{layers} on {args.data}, batch 100, seed 1")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"plot: {args.out}")


if __name__ == "__main__":
    main()
