#!/usr/bin/python3
"""Time to accuracy, every method tuned alike, in one run (issue 19).

For each target of a benchmark file (bench/time_to_accuracy.json: a data set,
a network, a batch size, an accuracy and an epoch budget) and each method of
that target, this

1. tunes the method's step (lr, or η for SIBP) on a log grid of
   `points_per_decade` points per decade spanning `decades` decades around the
   file's centre, extended one point at a time past whichever end holds the
   best step (at most `max_extensions` times): the best step is the one with the
   fewest training seconds to the target accuracy on the *validation* split
   (`--val-split`, the last N training images), seed 1;
2. runs the chosen step with every seed and reads, from the *test* accuracy
   of each evaluation point, the steps and training seconds to the target;
3. prints one table per target: each method's chosen setting, its mean steps
   and seconds to the target (every seed must reach it), and the ratio of the
   best SIBP variant's seconds to the best other method's.

Every run is `sibp train` with the same `--threads`, so the ratio compares
methods under one thread setting measured in one run. Seconds count training
steps only (not evaluation), as `sibp train` records them in metrics.csv.
Each run's folder stays in OUT (metrics.csv, config.json), and OUT/results.json
holds every tuning point and seed, so the tables can be re-read without
training: `--report-only`.

    /usr/bin/python3 bench/time_to_accuracy.py --sibp build/sibp --out OUT \\
        [--targets mnist-b1000,mnist-b100] [--methods sgd,sibp] [--seeds 3] [--threads 1] [--quick]

`--quick` shrinks every grid to 3 points (1 decade, no extension) and one
seed: a smoke test of the pipeline, not a measurement.
Exit status: 0 on success, 1 when a run fails or an input is invalid.
"""
import argparse
import csv
import hashlib
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def fail(msg: str) -> None:
    print(f"time_to_accuracy: {msg}", file=sys.stderr)
    sys.exit(1)


def grid_around(centre: float, points_per_decade: int, decades: float) -> list[float]:
    """Log-spaced steps, `points_per_decade` per decade, `decades` wide, centred on `centre`."""
    half = int(round(points_per_decade * decades / 2))
    return [step_at(centre, k, points_per_decade) for k in range(-half, half + 1)]


def step_at(centre: float, k: int, points_per_decade: int) -> float:
    # Rounded to 3 significant digits so labels and folders stay readable.
    return float(f"{centre * 10 ** (k / points_per_decade):.3g}")


def read_metrics(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.csv"
    with path.open() as f:
        return list(csv.DictReader(f))


def first_reaching(rows: list[dict], column: str, target: float):
    """(iteration, seconds) of the first evaluation point whose `column` ≥ target, or None."""
    for r in rows:
        v = r.get(column, "")
        if v not in ("", None) and float(v) >= target:
            return int(r["iteration"]), float(r["seconds"])
    return None


def result_key(target: str, method: str, options: dict, seed: int, column: str) -> str:
    return json.dumps([target, method, options, seed, column], sort_keys=True)


def migrated_key(key: str) -> str:
    """Keys of results.json files written before a run stored both columns had no
    column: the tuning (seed 1) read val_acc and the other seeds test_acc."""
    parts = json.loads(key)
    if len(parts) == 5:
        return key
    target, method, options, seed = parts
    return result_key(target, method, options, seed, "val_acc" if seed == 1 else "test_acc")


def reached(rows: list[dict], column: str, accuracy: float, diverged: bool, folder: str) -> dict:
    hit = first_reaching(rows, column, accuracy)
    last = rows[-1] if rows else {}
    return {
        "steps": hit[0] if hit else None,
        "seconds": hit[1] if hit else None,
        "final_" + column: float(last[column]) if last.get(column) else None,
        "diverged": diverged,
        "folder": folder,
    }


def option_args(options: dict) -> list[str]:
    args = []
    for k, v in options.items():
        flag = "--" + k.replace("_", "-")
        if v is True:
            args.append(flag)
        elif v is False or v is None:
            continue
        else:
            args += [flag, str(v)]
    return args


class Runner:
    def __init__(self, sibp: str, out: Path, threads: int, report_only: bool):
        self.sibp, self.out, self.threads, self.report_only = sibp, out, threads, report_only
        self.results_path = out / "results.json"
        stored = json.loads(self.results_path.read_text()) if self.results_path.exists() else {}
        self.results = {migrated_key(k): v for k, v in stored.items()}

    def run(self, target: str, method: str, options: dict, seed: int, column: str, accuracy: float) -> dict:
        key = result_key(target, method, options, seed, column)
        if key in self.results:
            return self.results[key]
        if self.report_only:
            fail(f"--report-only: no stored result for {target} {method} {options} seed {seed}")
        name = "_".join(f"{k}-{v}" for k, v in sorted(options.items())) or "default"
        if len(name) > 150:  # file systems refuse names over 255 bytes (a CNN's --arch is long)
            name = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:16]
        folder = self.out / target / method / name
        folder = folder / f"seed-{seed}"
        cmd = [self.sibp, "train", "--out", str(folder), "--overwrite", "--seed", str(seed),
               "--threads", str(self.threads)] + option_args(options)
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # Exit 3 is a run that diverged: a result (it never reaches the target), not a failure.
        if proc.returncode not in (0, 3):
            fail(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
        rows = read_metrics(folder)
        # One run answers for both columns (tuning reads val_acc, measuring test_acc),
        # each stored under its own key so neither is mistaken for the other. A
        # stored answer is never replaced: the tuning already made its choice from it,
        # and --report-only must make the same choice.
        for col in ("val_acc", "test_acc"):
            if rows and col in rows[0]:
                self.results.setdefault(result_key(target, method, options, seed, col), reached(
                    rows, col, accuracy, proc.returncode == 3, str(folder.relative_to(self.out))))
        result = self.results[key]
        tmp = self.results_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.results, indent=1, sort_keys=True))
        os.replace(tmp, self.results_path)
        return result


def score(result: dict) -> tuple:
    # Fewest seconds to the target; runs that never reach it rank by their final accuracy.
    if result["seconds"] is not None:
        return (0, result["seconds"])
    final = next((v for k, v in result.items() if k.startswith("final_") and v is not None), 0.0)
    return (1, -final)


def tune(runner: Runner, target_name: str, target: dict, method_name: str, method: dict, quick: bool) -> dict:
    """Chooses the method's step on the validation split; returns the tuning record."""
    base = dict(target["base"]) | method.get("options", {})
    param = method["step"]
    ppd = target.get("points_per_decade", 3)
    decades = 1 if quick else target.get("decades", 2)
    max_ext = 0 if quick else target.get("max_extensions", 4)
    half = int(round(ppd * decades / 2))
    ks = list(range(-half, half + 1))
    centre = method["centre"]
    points: dict[int, dict] = {}

    def evaluate(k: int) -> dict:
        if k not in points:
            opts = base | {param: step_at(centre, k, ppd)}
            points[k] = runner.run(target_name, method_name, opts, 1, "val_acc", target["accuracy"])
        return points[k]

    for k in ks:
        evaluate(k)
    for _ in range(max_ext):
        # When nothing reached the target the score ranks by final accuracy, so the
        # grid still grows toward the better end.
        best = min(points, key=lambda k: score(points[k]))
        lo, hi = min(points), max(points)
        if best == lo:
            evaluate(lo - 1)
        elif best == hi:
            evaluate(hi + 1)
        else:
            break
    best = min(points, key=lambda k: score(points[k]))
    lo, hi = min(points), max(points)
    return {
        "param": param,
        "grid": {str(step_at(centre, k, ppd)): points[k] for k in sorted(points)},
        "best": step_at(centre, best, ppd),
        "best_at_grid_end": best in (lo, hi),
        "options": base | {param: step_at(centre, best, ppd)},
    }


def measure(runner: Runner, target_name: str, target: dict, method_name: str, options: dict, seeds: int) -> dict:
    runs = [runner.run(target_name, method_name, options, s, "test_acc", target["accuracy"])
            for s in range(1, seeds + 1)]
    reached = [r for r in runs if r["seconds"] is not None]
    all_reached = len(reached) == len(runs)
    mean = lambda xs: sum(xs) / len(xs)
    return {
        "seeds": len(runs),
        "reached": len(reached),
        "steps": mean([r["steps"] for r in reached]) if all_reached else None,
        "seconds": mean([r["seconds"] for r in reached]) if all_reached else None,
        "seconds_each": [r["seconds"] for r in runs],
    }


def fmt(x, digits=3):
    return "—" if x is None else f"{x:.{digits}g}"


def table_markdown(target_name: str, target: dict, rows: list[dict]) -> str:
    acc = target["accuracy"]
    out = [f"### {target_name}: {target['description']}, time to {acc:.1%} test accuracy", "",
           "| method | chosen step | grid | steps | seconds (mean) | ms per step | seconds per seed | step at a grid end? |",
           "|---|---|---|---:|---:|---:|---|---|"]
    for r in rows:
        m = r["measure"]
        per_seed = ", ".join(fmt(s) for s in m["seconds_each"])
        grid = list(r["tuning"]["grid"])
        ms = 1000 * m["seconds"] / m["steps"] if m["seconds"] is not None and m["steps"] else None
        out.append(f"| {r['method']} | {r['tuning']['param']} {r['tuning']['best']:g} | {grid[0]}…{grid[-1]} ({len(grid)}) "
                   f"| {fmt(m['steps'], 4)} | {fmt(m['seconds'])} | {fmt(ms)} | {per_seed} "
                   f"| {'yes' if r['tuning']['best_at_grid_end'] else 'no'} |")
    out.append("")
    sibp = [r for r in rows if r["method"].startswith("sibp") and r["measure"]["seconds"] is not None]
    other = [r for r in rows if not r["method"].startswith("sibp") and r["measure"]["seconds"] is not None]
    if sibp and other:
        bs = min(sibp, key=lambda r: r["measure"]["seconds"])
        bo = min(other, key=lambda r: r["measure"]["seconds"])
        ratio = bs["measure"]["seconds"] / bo["measure"]["seconds"]
        out.append(f"Ratio: best SIBP ({bs['method']}) / best other ({bo['method']}) = **{ratio:.2f}**"
                   + (f" (target ≤ {target['ratio_target']})" if "ratio_target" in target else ""))
    gradient = next((r for name in ("sgd", "momentum") for r in rows
                     if r["method"] == name and r["measure"]["seconds"] is not None), None)
    if sibp and gradient:
        per_step = lambda r: r["measure"]["seconds"] / r["measure"]["steps"]
        out.append("")
        out.append(f"Cost of a step against {gradient['method']}'s (ms per step / ms per step): "
                   + ", ".join(f"{r['method']} {per_step(r) / per_step(gradient):.2f}" for r in sibp))
    if sibp and other:
        pass
    elif not any(not r["method"].startswith("sibp") for r in rows):
        out.append("Ratio: — (SIBP variants only)")
    else:
        out.append("Ratio: — (SIBP or every other method missed the target in some seed)")
    return "\n".join(out) + "\n"


BLOCK = re.compile(r"^<!-- time-to-accuracy: ([\w.-]+) -->\n(.*?)^<!-- end time-to-accuracy -->$", re.M | re.S)


BLOCK_NAME = re.compile(r"^<!-- time-to-accuracy: ([\w.-]+) -->$", re.M)


def splice_tables(doc: Path, tables: dict[str, str], check: bool) -> int:
    """Rewrites (or, with check, compares) every `<!-- time-to-accuracy: TARGET -->`
    block of `doc` with TARGET's table. Returns the number of stale blocks."""
    text = doc.read_text()
    stale = []

    def replace(m: re.Match) -> str:
        name = m.group(1)
        if name not in tables:
            fail(f"{doc}: block 'time-to-accuracy: {name}' names no reported target (have {', '.join(tables)})")
        if m.group(2) != tables[name]:
            stale.append(name)
        return f"<!-- time-to-accuracy: {name} -->\n{tables[name]}<!-- end time-to-accuracy -->"

    new = BLOCK.sub(replace, text)
    if check:
        for name in stale:
            print(f"stale: {doc}: block 'time-to-accuracy: {name}' differs from what the data regenerate", file=sys.stderr)
    elif new != text:
        tmp = doc.with_suffix(".tmp")
        tmp.write_text(new)
        os.replace(tmp, doc)
    return len(stale)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sibp", default="build/sibp", help="the sibp binary")
    ap.add_argument("--config", default=str(HERE / "time_to_accuracy.json"), help="the benchmark file")
    ap.add_argument("--out", required=True, help="folder for runs and results.json")
    ap.add_argument("--targets", default="", help="comma-separated target names (default: all)")
    ap.add_argument("--methods", default="", help="comma-separated method names (default: all)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="3-point grids, 1 seed: a smoke test")
    ap.add_argument("--report-only", action="store_true", help="print the tables from OUT/results.json")
    ap.add_argument("--doc", help="with --report-only: rewrite the marked tables of this Markdown file "
                                  "(<!-- time-to-accuracy: TARGET --> ... <!-- end time-to-accuracy -->)")
    ap.add_argument("--check", action="store_true", help="with --doc: change nothing, exit 1 if a table is stale")
    a = ap.parse_args()
    if a.seeds < 1 or a.threads < 0:
        fail("--seeds must be >= 1 and --threads >= 0")
    config = json.loads(Path(a.config).read_text())
    targets = config["targets"]
    if (a.doc or a.check) and not a.report_only:
        fail("--doc and --check read the stored results: give --report-only too")
    if a.check and not a.doc:
        fail("--check compares the tables of a --doc")
    doc_targets = BLOCK_NAME.findall(Path(a.doc).read_text()) if a.doc else []
    chosen = [t for t in a.targets.split(",") if t] or doc_targets or list(targets)
    for t in chosen:
        if t not in targets:
            fail(f"{a.config}: no target '{t}' (have {', '.join(targets)})")
    only = {m for m in a.methods.split(",") if m}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if not a.report_only and not Path(a.sibp).is_file():
        fail(f"--sibp {a.sibp}: no such file (build it with scripts/build.sh)")
    runner = Runner(a.sibp, out, a.threads, a.report_only)
    seeds = 1 if a.quick else a.seeds
    print(f"Time to accuracy, {seeds} seed(s) (unless a target says), --threads {a.threads}; steps tuned on the "
          f"validation split, seconds and steps read on the test set.")
    summary, tables = {}, {}
    for t in chosen:
        target = targets[t]
        rows = []
        for m, method in target["methods"].items():
            if only and m not in only:
                continue
            tuning = tune(runner, t, target, m, method, a.quick)
            target_seeds = 1 if a.quick else target.get("seeds", seeds)
            rows.append({"method": m, "tuning": tuning,
                         "measure": measure(runner, t, target, m, tuning["options"], target_seeds)})
        tables[t] = table_markdown(t, target, rows)
        print("\n" + tables[t], end="")
        summary[t] = rows
    if not a.report_only:
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if a.doc and splice_tables(Path(a.doc), tables, a.check) and a.check:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
