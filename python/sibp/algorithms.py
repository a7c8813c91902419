"""Training algorithms: one class per algorithm of the library's registry
(SGD, Momentum, Nesterov, Adam, AdamW, RMSprop, SIBP, ProxProp, ...), made here
from ``_sibp.algorithms()``, so a newly registered algorithm appears with no
Python edit.

Each is a small, validated set of options (those of ``sibp train`` that apply
to its ``--algo``, same names and defaults; ``lam`` for ``--lambda``). ``fit``
builds the C++ algorithm from them for the network it trains, so an object can
train any number of networks; the update rule's state (momentum buffers,
Adam's moments and step) starts afresh in every ``fit``, as in a new
``sibp train`` run.
"""
import inspect

from . import _options, _sibp


class Algorithm:
    """Base class: an ``--algo`` and its options. Construct a subclass."""

    #: The ``--algo`` name ("sgd", "sibp", ...).
    algo = None

    def __init__(self, **options):
        if self.algo is None:
            raise TypeError("Algorithm is abstract: use one of " + ", ".join("sibp." + c for c in __all__))
        # Every algorithm option is accepted here; one of another algorithm is
        # refused below with the CLI's message ("eta: applies to --algo sibp, not sgd").
        given = _options.collect(options, set(_options.keys(_options.is_algorithm_option)), type(self).__name__)
        self._given = dict(given)
        self._given["algo"] = self.algo
        resolved = _sibp.resolve(self._given)
        self._resolved = {k: v for k, v in resolved.items() if k in _options.algorithm_keys(self.algo)}

    @property
    def options(self):
        """Every option of this algorithm with its value, the defaults that
        depend on the algorithm resolved (keyword names as keys)."""
        return {_options.name(k): _options.from_table_value(k, v) for k, v in self._resolved.items()}

    def _run_options(self):
        """The options as run option keys, with ``algo``: what ``fit`` passes on."""
        return dict(self._given)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"sibp.{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self._resolved == other._resolved

    def __hash__(self):
        return hash((type(self).__name__, repr(sorted(self._resolved.items()))))


def _make(info):
    algo = info["name"]
    keys = _options.algorithm_keys(algo)
    doc = (f"{info['summary']}: the ``--algo {algo}`` of ``sibp train``. Keyword arguments (same names and\n"
           f"defaults as the command line's options; a default of None depends on the algorithm, see its help):\n\n"
           + _options.describe(keys)
           + "\n\nRaises ``sibp.OptionError`` (ValueError) for a bad value, or an option of another\n"
             "algorithm, with the command line's message.")
    cls = type(info["python_class"], (Algorithm,), {"algo": algo, "__doc__": doc, "__module__": __name__})
    cls.__signature__ = inspect.Signature(_options.parameters(keys))
    return cls


# One class per registered --algo name, under its Python name (sibp.AdamW, ...).
_classes = {info["name"]: _make(info) for info in _sibp.algorithms()}
globals().update({cls.__name__: cls for cls in _classes.values()})
#: The names of the algorithm classes, in the registry's order.
__all__ = [cls.__name__ for cls in _classes.values()]


def by_name(algo, **options):
    """The algorithm object of ``--algo`` name ``algo`` ("sgd", "sibp", ...) with ``options``."""
    if algo not in _classes:
        _sibp.resolve({"algo": algo})  # raises the library's OptionError listing the names
    return _classes[algo](**options)
