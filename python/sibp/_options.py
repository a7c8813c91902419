"""The run options of ``sibp train`` as keyword arguments.

There is one list of options, ``run_option_table()`` in
``src/experiment/run_options.hpp``; this module reads it from the extension and
derives everything Python shows from it: which function takes which option
(by the table's groups and algorithm sets), keyword names (``lam`` for
``lambda``), defaults for signatures and help, and docstrings. Values are
checked by the C++ readers of config.json, so messages are the same.
"""
import inspect

from . import _sibp

#: The options that name a data set on disk; ``fit`` takes arrays instead.
# Options that choose the data set and so have no meaning for fit(), which is
# given arrays: slice the arrays instead of train_subset/test_subset.
DATA_SET_KEYS = ("data", "data_dir", "train_subset", "test_subset")


def table():
    """The option table: a list of dicts with ``key`` (as in config.json),
    ``name`` (the keyword argument), ``cli``, ``group``, ``help``,
    ``value_name``, ``flag``, ``repeatable``, ``number``, ``applies_to`` (the
    algorithms it applies to; empty: all) and ``default`` (None: depends on
    the algorithm, see help)."""
    return _TABLE


_TABLE = _sibp.option_table()
_BY_KEY = {o["key"]: o for o in _TABLE}
_BY_NAME = {o["name"]: o for o in _TABLE}


def keys(predicate):
    """Keys of the options for which ``predicate(option_dict)`` holds, in table order."""
    return [o["key"] for o in _TABLE if predicate(o)]


def is_algorithm_option(o):
    """Options of an algorithm: those that apply to some algorithms only."""
    return bool(o["applies_to"])


def model_keys():
    """The options of a network (the table's "Model" group)."""
    return keys(lambda o: o["group"] == "Model")


def loop_keys():
    """The options of ``fit``: the training loop, and the data options that are
    not a data set's name (validation hold-out, standardisation)."""
    return keys(lambda o: o["group"] == "Training loop"
                or (o["group"] == "Data" and o["key"] not in DATA_SET_KEYS))


def algorithm_keys(algo):
    """The options that apply to algorithm ``algo`` ("sgd", "sibp", ...)."""
    return keys(lambda o: algo in o["applies_to"])


def name(key):
    """The keyword argument of option ``key``."""
    return _BY_KEY[key]["name"]


def from_table_value(key, value):
    """A value as the table writes it, as Python shows it: ``lam`` as a number
    (one value) or a list of numbers (one per layer), not the text "1,0.5"."""
    if key == "lambda" and isinstance(value, str):
        numbers = [float(v) for v in value.split(",")]
        return numbers[0] if len(numbers) == 1 else numbers
    return value


def default(key):
    """The default of option ``key`` as a keyword argument shows it."""
    return from_table_value(key, _BY_KEY[key]["default"])


def integer(value, option):
    """``value`` as an int if it is an integer (a Python or NumPy integer, not a
    bool); else raises ``sibp.OptionError`` naming ``option``: a float such as
    4.7 is refused, never truncated."""
    import operator

    from ._errors import OptionError

    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:40] + "..."
    e = OptionError(f"{option}: expected integers, got {shown} (a {type(value).__name__})")
    e.option, e.key, e.detail = option, option, f"expected integers, got {shown}"
    raise e


def _to_table_value(key, value):
    """Python conveniences for values the table reads as text: a list of widths
    for ``layers`` (integers), a list of numbers for ``lam``."""
    if key == "layers" and isinstance(value, (list, tuple)):
        return "-".join(str(integer(w, "layers")) for w in value)
    if key == "lambda" and isinstance(value, (list, tuple)):
        return ",".join(str(float(v)) for v in value)
    return value


def collect(kwargs, allowed, owner, aliases=None):
    """Options ``kwargs`` (keyword names) as a dict of table keys, for a callable
    ``owner`` that accepts the keys ``allowed``. Unknown keywords raise
    TypeError, naming the function that takes them when there is one."""
    aliases = aliases or {}
    out = {}
    for kw, value in kwargs.items():
        kw = aliases.get(kw, kw)
        o = _BY_NAME.get(kw)
        if o is None or o["key"] not in allowed:
            hint = ""
            if o is not None:
                hint = " (" + kw + " is an option of " + _owner_of(o) + ")"
            raise TypeError(f"{owner}() got an unexpected keyword argument '{kw}'{hint}")
        if o["key"] in out:
            raise TypeError(f"{owner}() got {kw} twice (through an alias)")
        out[o["key"]] = _to_table_value(o["key"], value)
    return out


def _owner_of(o):
    if o["key"] in ("train_subset", "test_subset"):
        return "sibp.train(); with sibp.fit(), slice the arrays"
    if o["key"] in DATA_SET_KEYS:
        return "sibp.train() and sibp.datasets.load()"
    if o["key"] in model_keys():
        return "sibp.Network()"
    if o["key"] in loop_keys():
        return "sibp.fit()"
    if o["key"] == "algo":
        return "sibp.train(); in sibp.fit() the algorithm object names it"
    return "the algorithm object (" + ", ".join(o["applies_to"]) + ")"


def parameters(key_list, kind=inspect.Parameter.KEYWORD_ONLY):
    """inspect.Parameter objects for ``key_list`` with the table's defaults."""
    return [inspect.Parameter(name(k), kind, default=default(k)) for k in key_list]


def describe(key_list):
    """Docstring lines for ``key_list``: keyword, default and help of each."""
    lines = []
    for k in key_list:
        o = _BY_KEY[k]
        d = default(k)
        shown = "" if d is None or d == "" else f" (default {d!r})"
        lines.append(f"    {o['name']}{shown}: {o['help']}")
    return "\n".join(lines)
