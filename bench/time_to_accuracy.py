#!/usr/bin/python3
"""Time to accuracy from one `sibp compare` folder (issue 13, target 2).

Reads DIR/summary.csv of a compare run whose experiment file sets
`target_accuracy` (experiments/time-to-accuracy-*.json), groups the labels by
batch regime (labels starting "b1000-" are the batch-1000 runs, the others
batch 100) and by method (the label without its step: "sgd-1" -> "sgd",
"sibp-gncg-0.316" -> "sibp-gncg"), takes each method's best step (fewest mean
seconds to the target among the steps where every seed reached it), and
prints, per regime, each method's best and the ratio of SIBP's best to the
best other method's.

    /usr/bin/python3 bench/time_to_accuracy.py DIR [DIR ...]

Seconds count training steps only (not evaluation), as `sibp compare`
reports them. Exit status 1 if a folder has no summary.csv or no target.
"""
import csv
import sys
from pathlib import Path


def method_of(label: str) -> str:
    label = label.removeprefix("b1000-")
    head, sep, tail = label.rpartition("-")
    # "proxprop" has no step in its label; "sgd-1" and "sibp-gncg-0.316" do.
    try:
        float(tail)
        return head
    except ValueError:
        return label


def report(folder: Path) -> int:
    table = folder / "summary.csv"
    if not table.is_file():
        print(f"time_to_accuracy: {table}: no such file (run `sibp compare` into {folder} first)", file=sys.stderr)
        return 1
    rows = list(csv.DictReader(table.open()))
    if not rows or not rows[0].get("target_accuracy"):
        print(f"time_to_accuracy: {table}: the experiment sets no target_accuracy", file=sys.stderr)
        return 1
    target = float(rows[0]["target_accuracy"])
    regimes: dict[str, dict[str, list]] = {}
    for r in rows:
        regime = "batch 1000" if r["label"].startswith("b1000-") else "batch 100"
        entry = regimes.setdefault(regime, {}).setdefault(method_of(r["label"]), [])
        complete = int(r["complete"] or 0)
        reached = int(r["seeds_reaching_target"] or 0)
        if complete > 0 and reached == complete and r["seconds_to_target_mean"]:
            entry.append((float(r["seconds_to_target_mean"]), float(r["epochs_to_target_mean"]), r["label"], reached))
    data = rows[0]["data"]
    for regime, methods in regimes.items():
        print(f"{data}, {regime}: seconds of training to {target:.0%} test accuracy (mean over seeds, best step)")
        best = {}
        for method, entries in sorted(methods.items()):
            if not entries:
                print(f"  {method:12s} not reached by every seed at any step")
                continue
            secs, epochs, label, seeds = min(entries)
            best[method] = secs
            print(f"  {method:12s} {secs:8.2f} s  {epochs:5.2f} epochs  ({label}, {seeds} seeds)")
        sibp = {m: s for m, s in best.items() if m.startswith("sibp")}
        other = {m: s for m, s in best.items() if not m.startswith("sibp")}
        if sibp and other:
            ms, s = min(sibp.items(), key=lambda kv: kv[1])
            mo, o = min(other.items(), key=lambda kv: kv[1])
            print(f"  ratio {data} {regime}: best SIBP ({ms}) / best other ({mo}) = {s / o:.2f}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(max(report(Path(d)) for d in sys.argv[1:]))
