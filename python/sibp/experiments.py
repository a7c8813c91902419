"""Experiment files (``experiments/*.json``) run as ``sibp compare`` and ``sibp
sweep`` run them: every run x seed into its own folder (skipping complete
runs, resuming interrupted ones), then the summary table, plots and report."""
import os


class ExperimentReport:
    """What ``compare`` / ``sweep`` did. Attributes: ``kind`` ("compare",
    "sweep" or "tune"), ``planned``, ``trained`` (now), ``skipped`` (already complete),
    ``diverged`` (of those trained now), ``trained_dirs``, ``table``
    (summary.csv, sweep.csv or tuning.json), ``report`` (report.md) and ``plots`` (SVG files)."""

    def __init__(self, fields):
        for k, v in fields.items():
            setattr(self, k, v)

    def __repr__(self):
        return (f"sibp.ExperimentReport(kind={self.kind!r}, planned={self.planned}, trained={self.trained}, "
                f"skipped={self.skipped}, diverged={self.diverged}, report={self.report!r})")


def _run(experiment, out, data_dir, only, verbose, sweep_only):
    from . import _sibp

    source = experiment if isinstance(experiment, dict) else os.fspath(experiment)
    return ExperimentReport(_sibp.run_experiment(source, os.fspath(out), data_dir or "", list(only or []),
                                                 bool(verbose), sweep_only))


def compare(experiment, out, *, data_dir=None, only=None, verbose=True):
    """Runs an experiment file as ``sibp compare FILE --out OUT`` does.

    ``experiment`` is the path of a JSON experiment file, or a dict with its
    content (README, "Comparisons, sweeps and plots"); a sweep file is run as
    ``sweep`` would. ``data_dir`` and ``only`` (a list of labels) are the
    command's ``--data-dir`` and ``--only``; ``verbose`` prints a line per run
    to stderr. Returns an ``ExperimentReport``. Raises ``sibp.UsageError`` for
    a bad experiment (naming the key), ``sibp.DataError`` for unreadable
    files; Ctrl-C raises KeyboardInterrupt after the current step, and running
    the same call again resumes.
    """
    return _run(experiment, out, data_dir, only, verbose, False)


def sweep(experiment, out, *, data_dir=None, only=None, verbose=True):
    """Runs a step-size sweep (an experiment of kind "sweep") as ``sibp sweep
    FILE --out OUT`` does: sweep.csv, the accuracy-against-step-size plot and
    report.md with each sweep's largest stable step; an experiment of kind
    "tune" runs the tuning protocol (tuning.json, report.md). Arguments and
    errors as ``compare``; an experiment of kind "compare" is a ``sibp.UsageError``."""
    return _run(experiment, out, data_dir, only, verbose, True)
