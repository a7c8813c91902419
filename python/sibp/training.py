"""Training: ``fit`` (a network on arrays) and ``train`` (a run as ``sibp
train`` does it, into a folder), and the ``History`` both return."""
import inspect
import os

from . import _options, _sibp
from .algorithms import Algorithm
from .network import Network


class History:
    """The evaluation points of a training run, as ``metrics.csv`` has them.

    Attributes:
        rows: a list of dicts, one per evaluation point, with the columns of
            metrics.csv (``epoch, iteration, seconds, train_loss, train_acc,
            val_loss, val_acc, test_loss, test_acc`` and, with ``grad_norm`` /
            ``diagnostics``, their columns); None where metrics.csv has an
            empty cell.
        status: "completed", "stopped" (a callback returned True), "diverged"
            or "interrupted" (Ctrl-C or an exception in a callback).
        message: what happened, in words.
        iterations: training steps done.
        copies: what ``fit`` copied of its input arrays, and why (empty when it
            read them all in place).
    """

    def __init__(self, fields):
        self.rows = list(fields["rows"])
        self.status = fields["status"]
        self.message = fields["message"]
        self.iterations = fields["iterations"]
        self.copies = list(fields.get("copies", []))
        self._csv = fields.get("csv", "")
        self.seconds_per_epoch_reported = fields.get("seconds_per_epoch")
        self.out = fields.get("out")

    def column(self, name):
        """The values of column ``name`` over the rows (None for empty cells)."""
        return [r.get(name) for r in self.rows]

    @property
    def final(self):
        """The last row (the last evaluation point), or None without rows."""
        return self.rows[-1] if self.rows else None

    @property
    def seconds_per_epoch(self):
        """Seconds of training steps per epoch (evaluation excluded), as
        result.json reports it: the last row's ``seconds`` over its ``epoch``."""
        if self.seconds_per_epoch_reported is not None:
            return self.seconds_per_epoch_reported
        last = self.final
        return last["seconds"] / last["epoch"] if last and last["epoch"] > 0 else 0.0

    def to_csv(self, path=None):
        """The text of ``metrics.csv`` for these rows (the CLI's exact format);
        also written to ``path`` when given."""
        if path is not None:
            with open(os.fspath(path), "w") as f:
                f.write(self._csv)
        return self._csv

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __repr__(self):
        last = self.final or {}
        shown = {k: last.get(k) for k in ("epoch", "train_loss", "test_acc") if last.get(k) is not None}
        return f"sibp.History(status={self.status!r}, rows={len(self.rows)}, last={shown})"


def _history_on(exc):
    """Turns the dict the C++ side attached to an exception into a History."""
    h = getattr(exc, "history", None)
    if isinstance(h, dict):
        try:
            exc.history = History(h)
        except AttributeError:
            pass


_FIT_KEYS = _options.loop_keys()
_BATCH_ALIAS = {"batch_size": "batch"}


def fit(net, algo, X, y, *, test_data=None, val_data=None, callbacks=(), **options):
    """Trains ``net`` with ``algo`` on samples ``X`` with labels ``y``, as ``sibp
    train`` trains (same batches, same steps, same metrics for the same seeds).

    Args:
        net: a ``sibp.Network``; trained in place.
        algo: a ``sibp.SGD``, ``Momentum``, ``Nesterov``, ``Adam``, ``SIBP`` or ``ProxProp``.
        X: samples as rows: (n, features), (n, H, W) or (n, C, H, W); uint8
            (scaled by 1/255 when batched, as the CLI's image data), float32 or
            float64. uint8 and float32 arrays in C order are read in place,
            without a copy (do not change them while ``fit`` runs); float64 is
            converted to a float32 copy, other layouts are copied into C order
            (``History.copies`` says what was copied).
        y: integer class labels (n,), each in [0, net.num_classes); copied.
        test_data, val_data: optional pairs (X, y) evaluated at every
            evaluation point (the ``test_*`` and ``val_*`` columns).
        callbacks: callables called at every evaluation point (iteration 0,
            every ``eval_every`` iterations, every epoch end) with the row (a
            dict of the metrics.csv columns); training stops there when one
            returns True. They run with the GIL; the network may be read
            (predict, parameters, save) or changed (set_parameters) in them.

    Keyword options (those of ``sibp train``, same names and defaults;
    ``batch_size`` is an alias of ``batch``):

{options}

    Returns a ``History`` (status "completed" or "stopped"). The network's
    metadata records the run as ``sibp train``'s model file does.

    Raises ``sibp.OptionError`` / ``sibp.UsageError`` for bad options,
    TypeError / ValueError for unusable arrays, ``sibp.Diverged`` (with the
    history so far; the network is reset to its last evaluation point) when
    the loss or parameters become non-finite. Ctrl-C raises KeyboardInterrupt
    after the current step, with the network at its last completed step and
    the history so far as the exception's ``history``; so does an exception
    raised by a callback. The GIL is released while training.
    """
    if not isinstance(net, Network):
        raise TypeError(f"fit(): net must be a sibp.Network, got {type(net).__name__}")
    if not isinstance(algo, Algorithm):
        raise TypeError(f"fit(): algo must be a sibp algorithm (sibp.SGD(), sibp.SIBP(), ...), got "
                        f"{type(algo).__name__}")
    run = _options.collect(options, set(_FIT_KEYS), "fit", _BATCH_ALIAS)
    run.update(algo._run_options())
    callbacks = list(callbacks)
    for cb in callbacks:
        if not callable(cb):
            raise TypeError(f"fit(): callbacks must be callables, got {type(cb).__name__}")
    try:
        fields = _sibp.fit(net._net, run, X, y, test_data, val_data, callbacks)
    except BaseException as e:
        _history_on(e)
        raise
    return History(fields)


fit.__doc__ = fit.__doc__.format(options=_options.describe(_FIT_KEYS))
fit.__signature__ = inspect.Signature(
    [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in ("net", "algo", "X", "y")]
    + [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d)
       for n, d in (("test_data", None), ("val_data", None), ("callbacks", ()))]
    + _options.parameters(_FIT_KEYS))

_ALL_KEYS = _options.keys(lambda o: True)


def train(*, out, resume=False, overwrite=False, callbacks=(), **options):
    """One run exactly as ``sibp train --out OUT ...`` does it: loads the data
    set named by ``data``, builds the network and algorithm, trains, and
    writes config.json, metrics.csv/json, model.safetensors and result.json
    into ``out`` (committed together at every evaluation point; resumable).

    Every option of ``sibp train`` is a keyword argument with the same name and
    default (``lam`` for ``--lambda``; ``batch_size`` is an alias of ``batch``):

{options}

    ``resume=True`` continues the interrupted run in ``out`` (options given must
    not change it); ``overwrite=True`` deletes the run there first.
    ``callbacks`` are called at every evaluation point with the row, as in
    ``fit``; one returning True stops the run (resumable).

    Returns a ``History`` (with ``out`` and ``seconds_per_epoch`` as
    result.json). Raises ``sibp.OptionError`` / ``sibp.UsageError`` (the CLI's
    exit code 2), ``sibp.DataError`` / ``sibp.FolderLockedError`` (exit code
    1), ``sibp.Diverged`` (exit code 3; the folder keeps the metrics and the
    last good model). Ctrl-C raises KeyboardInterrupt after the current step;
    the folder then holds the last evaluation point and resumes from it.
    """
    run = _options.collect(options, set(_ALL_KEYS), "train", _BATCH_ALIAS)
    callbacks = list(callbacks)
    try:
        fields = _sibp.train(run, os.fspath(out), bool(resume), bool(overwrite), callbacks)
    except BaseException as e:
        _history_on(e)
        raise
    return History(fields)


train.__doc__ = train.__doc__.format(options=_options.describe(_ALL_KEYS))
train.__signature__ = inspect.Signature(
    [inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY)]
    + [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d)
       for n, d in (("resume", False), ("overwrite", False), ("callbacks", ()))]
    + _options.parameters(_ALL_KEYS))
