"""The exceptions sibp raises. The C++ library's errors arrive as these
(python/src/common.cpp translates them), so one ``except`` clause catches a
kind of failure wherever it happened:

- ``UsageError`` (a ``ValueError``): the caller asked for something invalid;
  ``OptionError`` when one option has a bad value, naming it as a keyword.
- ``DataError`` (an ``OSError``): a file is missing, unreadable or malformed;
  the message names the file, what was expected and what was found.
- ``FolderLockedError`` (an ``OSError``): another process writes the output folder.
- ``Diverged``: training produced a non-finite loss or parameter.

Bad arrays passed from Python raise the built-in ``TypeError`` (wrong dtype:
complex, object, bool or string parameters) or ``ValueError`` (wrong shape,
labels out of range, non-finite values, parameters beyond the precision's
range); ``set_parameters`` raises ``KeyError`` for a missing or unexpected
tensor name. Option values follow the limits of config.json: lists and dicts
nested more than 64 deep (or containing themselves) and values of more than
16 MiB as JSON raise ``OptionError``; shapes and widths must be integers
(``OptionError``); a network whose training would not fit in memory (the
machine's, or the process's ``ulimit -v``) raises ``UsageError`` with the
command line's estimate. These are the only exceptions bad input raises
(``python/tests/test_properties.py`` checks it).
"""


class Error(Exception):
    """Base class of every exception defined by sibp."""


class UsageError(Error, ValueError):
    """Bad usage: an invalid option value, an option that does not apply to the
    algorithm, a network that does not fit the data (the CLI's exit code 2)."""


class OptionError(UsageError):
    """One option has a bad value. Attributes: ``option`` (the keyword argument,
    e.g. ``"lam"``), ``key`` (the option's key in config.json, e.g. ``"lambda"``)
    and ``detail`` (the message without the option's name)."""

    option = None
    key = None
    detail = None


class DataError(Error, OSError):
    """A bad input file or an unreadable or unwritable path (the CLI's exit code 1)."""


class FolderLockedError(Error, OSError):
    """Another process is writing the output folder (its PID is in the message)."""


class Diverged(Error, RuntimeError):
    """Training diverged: the loss or a parameter became NaN or infinite (the
    CLI's exit code 3). Attributes: ``history`` (a ``sibp.History`` of the
    evaluation points before it), ``epoch`` and ``iteration`` (where it happened).
    ``fit`` leaves the network at its last evaluation point, as the CLI's
    model file; ``train`` keeps the last good model file in its folder."""

    epoch = None
    iteration = None

    def __init__(self, message):
        super().__init__(message)
        self._history = None

    @property
    def history(self):
        """The ``sibp.History`` of the evaluation points before the divergence."""
        return self._history

    @history.setter
    def history(self, value):
        # The C++ side hands a plain dict; callers get a History.
        from .training import History

        self._history = value if isinstance(value, History) or value is None else History(value)
