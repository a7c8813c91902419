"""Fixtures of the Python tests: small generated data sets (written as IDX
files, so the command line reads the same samples) and the sibp binary.

Run through CTest (`bash scripts/test.sh`), which sets PYTHONPATH to the
build's python/ folder and SIBP_BINARY to the command line; by hand:

    PYTHONPATH=build/python SIBP_BINARY=build/sibp /usr/bin/python3 -m pytest python/tests
"""
import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def write_idx(folder, prefix, images, labels):
    """Writes `images` (n, rows, cols) uint8 and `labels` as the IDX files of an
    `idx:DIR` data set (`prefix` train or t10k)."""
    folder.mkdir(parents=True, exist_ok=True)
    n, rows, cols = images.shape
    with open(folder / f"{prefix}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, rows, cols) + images.astype(np.uint8).tobytes())
    with open(folder / f"{prefix}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + labels.astype(np.uint8).tobytes())


def make_images(n, classes, size, seed):
    """n images (size x size) of `classes` classes that a small network can
    tell apart: each class brightens its own band of rows, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    X = rng.integers(0, 90, (n, size, size))
    band = size // classes
    for c in range(classes):
        X[y == c, c * band:(c + 1) * band, :] += 140
    return X.clip(0, 255).astype(np.uint8), y


@pytest.fixture(scope="session")
def idx_dir(tmp_path_factory):
    """An `idx:` data set of 8x8 images, 4 classes: 300 training and 100 test samples."""
    folder = tmp_path_factory.mktemp("idx")
    Xtr, ytr = make_images(300, 4, 8, seed=1)
    Xte, yte = make_images(100, 4, 8, seed=2)
    write_idx(folder, "train", Xtr, ytr)
    write_idx(folder, "t10k", Xte, yte)
    return folder


@pytest.fixture(scope="session")
def small(idx_dir):
    """The arrays of `idx_dir` as sibp.datasets.load returns them."""
    import sibp

    return sibp.datasets.load(f"idx:{idx_dir}")


@pytest.fixture(scope="session")
def sibp_binary():
    """The sibp command line of this build."""
    path = Path(os.environ.get("SIBP_BINARY", ROOT / "build" / "sibp"))
    if not path.exists():
        pytest.fail(f"sibp binary {path} not found: build it, or set SIBP_BINARY")
    return path


@pytest.fixture
def cli(sibp_binary):
    """Runs `sibp ARGS...`; returns the CompletedProcess (text)."""

    def run(*args, check=True):
        r = subprocess.run([str(sibp_binary), *map(str, args)], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"sibp {' '.join(map(str, args))} exited {r.returncode}:\n{r.stderr}")
        return r

    return run


def without_seconds(csv_text):
    """metrics.csv without its `seconds` column (wall time differs between runs)."""
    lines = csv_text.strip().split("\n")
    at = lines[0].split(",").index("seconds")
    return ["," .join(c for k, c in enumerate(line.split(",")) if k != at) for line in lines]
