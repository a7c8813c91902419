"""Data sets by their ``--data`` spec, as NumPy arrays.

======================  ===============================================
spec                    what
======================  ===============================================
``mnist``               DATA_DIR/mnist/ (after ``fetch("mnist")`` or ``sibp data fetch mnist``)
``fashion-mnist``       DATA_DIR/fashion-mnist/, else /usr/share/datasets/fashion-mnist/
``cifar10:DIR``         the extracted ``cifar-10-batches-bin/`` folder
``idx:DIR``             DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
``csv:TRAIN[,TEST]``    first column an integer label, the rest numeric features
======================  ===============================================

DATA_DIR is ``data_dir``, else $SIBP_DATA_DIR, else ``./data`` (relative to
the working directory), as for the command line.
"""
import os

from . import _sibp


def load(spec, data_dir=None):
    """Loads data set ``spec`` with the command line's readers: returns
    ``(X, y, X_test, y_test)``. Images are uint8 arrays (n, C, H, W) (MNIST
    (n, 1, 28, 28)), CSV features float32 (n, features); labels are int64.
    The sample arrays are the readers' own memory (no copy), and ``fit``
    reads them in place. ``X_test`` and ``y_test`` are None when the source
    has no test split. Raises ``sibp.UsageError`` for a malformed spec and
    ``sibp.DataError`` (OSError) for missing or malformed files (for mnist:
    saying to fetch it)."""
    X, y, Xt, yt, _classes = _sibp.load_data(spec, None if data_dir is None else os.fspath(data_dir))
    return X, y, Xt, yt


def fetch(name, data_dir=None):
    """Fetches a built-in data set ("mnist" or "fashion-mnist") into
    DATA_DIR/name, verified by SHA-256, as ``sibp data fetch`` does; does
    nothing when it is already there. Returns the folder. Raises
    ``sibp.DataError`` when the download or a hash fails."""
    return _sibp.fetch(name, None if data_dir is None else os.fspath(data_dir))


def default_data_dir():
    """The folder the built-in data sets are read from without ``data_dir``."""
    return _sibp.default_data_dir()
