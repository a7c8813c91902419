"""sibp: train neural networks with Semi-Implicit Back Propagation (Liu & Zhang
2020) and compare it with SGD, Adam and ProxProp, from Python.

The bindings run the C++ library of the ``sibp`` command line: the same data
readers, networks, algorithms and training loop, so a Python run with the
command line's options gives the command line's metrics and model file.

    import sibp
    X, y, Xt, yt = sibp.datasets.load("mnist")
    net = sibp.Network("784-500-10", act="relu", init="normal:0.05", seed=1)
    hist = sibp.fit(net, sibp.SIBP(eta=0.3), X, y, epochs=3, test_data=(Xt, yt))
    print(hist.final["test_acc"])

Contents: ``Network``; the algorithms, one class per algorithm the library
registers (``SGD``, ``Momentum``, ``Nesterov``, ``Adam``, ``AdamW``,
``RMSprop``, ``SIBP``, ``ProxProp``, ...: ``algorithms.__all__``); ``fit``
and its ``History``; ``train``, ``compare`` and ``sweep`` (the command line's ``train``, ``compare`` and
``sweep``); ``datasets`` (``load``, ``fetch``); ``interop`` (PyTorch);
``options()`` (the table of run options); the exceptions ``Error``,
``UsageError``, ``OptionError``, ``DataError``, ``FolderLockedError`` and
``Diverged``.
"""
from ._errors import DataError, Diverged, Error, FolderLockedError, OptionError, UsageError
from . import _sibp
from .network import Network
from . import algorithms as _algorithms
from .algorithms import Algorithm
from .training import History, fit, train
from .experiments import ExperimentReport, compare, sweep
from . import datasets, interop
from . import _options

__version__ = _sibp.version


def options():
    """The run options of ``sibp train`` (the library's one option table) as a
    list of dicts: ``key`` (config.json), ``name`` (keyword argument), ``cli``,
    ``group``, ``help``, ``default``, ``applies_to`` (algorithms; empty: all) ..."""
    return [dict(o) for o in _options.table()]


# The algorithm classes come from the library's registry (sibp.algorithms).
globals().update({name: getattr(_algorithms, name) for name in _algorithms.__all__})

__all__ = ["Network", *_algorithms.__all__, "Algorithm", "fit", "History",
           "train", "compare", "sweep", "ExperimentReport", "datasets", "interop", "options", "Error",
           "UsageError", "OptionError", "DataError", "FolderLockedError", "Diverged"]
