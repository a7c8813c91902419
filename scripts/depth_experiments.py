#!/usr/bin/env python3
"""The depth experiments (does SIBP train deep sigmoid/tanh networks where SGD
stalls?): writes their experiment files and tabulates their results.

Fully connected networks of 2, 4, 8 and 16 hidden layers of 256 units, with
sigmoid, tanh and ReLU, each with the SIBP paper's normal:0.05 initialisation
and a standard one (glorot for sigmoid/tanh, he for ReLU), trained by SGD,
momentum, Adam, ProxProp and SIBP (exact:gn-cg and the reference solver).

    # the whole study, one command per data set: writes
    # experiments/depth-mnist-sweep.json, runs it (results/depth-mnist-sweep),
    # writes experiments/depth-mnist.json with each configuration's best step,
    # runs it (results/depth-mnist) and prints the tables of docs/results.md
    /usr/bin/python3 scripts/depth_experiments.py run --data mnist
    /usr/bin/python3 scripts/depth_experiments.py run --data fashion-mnist

    # or step by step (the committed comparison file reruns with sibp alone)
    /usr/bin/python3 scripts/depth_experiments.py sweep --data mnist
    build/sibp sweep experiments/depth-mnist-sweep.json --out results/depth-mnist-sweep
    /usr/bin/python3 scripts/depth_experiments.py compare --data mnist --sweep results/depth-mnist-sweep
    build/sibp compare experiments/depth-mnist.json --out results/depth-mnist
    /usr/bin/python3 scripts/depth_experiments.py table results/depth-mnist --sweep results/depth-mnist-sweep

The default trains every configuration on the first 2000 training samples
(1 epoch per sweep point, 3 epochs per comparison run, 3 seeds) and tests on
the first 2000 test samples; --full writes depth-<data>-full*.json with the
whole data sets, 2 sweep epochs and 10 comparison epochs
(many hours). Runs are single-threaded (threads 1 in the files). Only the standard library is used.
"""
import argparse
import csv
import json
import math
import os
import sys
from collections import OrderedDict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEPTHS = [2, 4, 8, 16]
ACTS = ["sigmoid", "tanh", "relu"]
WIDTH = 256
PAPER_INIT = "normal:0.05"
STANDARD_INIT = {"sigmoid": "glorot", "tanh": "glorot", "relu": "he"}

# Each method: its fixed options, the swept step and its grid: decades (a
# factor 10 apart) over the range where each method's best step lies for some
# depth and activation, so the best step is known to within a factor of about 3
# (a best step at the end of its grid is flagged by `steps`).
METHODS = OrderedDict([
    ("sgd", {"base": {"algo": "sgd"}, "param": "lr",
             "values": [0.01, 0.1, 1, 10]}),
    ("momentum", {"base": {"algo": "momentum"}, "param": "lr",
                  "values": [0.001, 0.01, 0.1, 1]}),
    ("adam", {"base": {"algo": "adam"}, "param": "lr",
              "values": [0.0001, 0.001, 0.01]}),
    # ProxProp with its authors' settings (tau 0.05, 3 CG iterations, outer
    # Nesterov momentum 0.95); its outer learning rate is the step.
    ("proxprop", {"base": {"algo": "proxprop", "tau": 0.05, "prox_solver": "cg", "prox_iters": 3,
                           "momentum": 0.95, "nesterov": True},
                  "param": "lr", "values": [0.01, 0.1, 1]}),
    ("sibp-gn", {"base": {"algo": "sibp", "lambda": "1", "solver": "exact:gn-cg"},
                 "param": "eta", "values": [0.01, 0.1, 1, 10]}),
    ("sibp-ref", {"base": {"algo": "sibp", "lambda": "1", "solver": "reference"},
                  "param": "eta", "values": [0.01, 0.1, 1, 10]}),
])

DATA = {
    "mnist": {"name": "mnist", "target": 0.8},
    "fashion-mnist": {"name": "fashion-mnist", "target": 0.7},
}

# Schedules. The default keeps every configuration (144 per data set) and the
# step grids of the full study, but trains on the first 2000 training samples
# and evaluates on the first 2000 test samples, so that the study takes about
# 30 minutes of one core (measured: 9 min sweep, 20 min comparison on MNIST);
# its target accuracy is therefore modest. --full trains on the whole training
# set and tests on the whole test set (many hours).
DEFAULT = {"train_subset": 2000, "test_subset": 2000, "sweep_epochs": 1, "epochs": 3, "eval_every": 0,
           "seeds": [1, 2, 3]}
FULL = {"train_subset": 0, "test_subset": 0, "sweep_epochs": 2, "epochs": 10, "eval_every": 0,
        "seeds": [1, 2, 3]}


def layers(depth):
    return "-".join(["784"] + [str(WIDTH)] * depth + ["10"])


def inits(act):
    return [("normal", PAPER_INIT), (STANDARD_INIT[act], STANDARD_INIT[act])]


def configurations():
    """(label prefix, network options) for every depth, activation and initialisation: deepest
    first, so that an interrupted study has its most telling networks."""
    for act in ACTS:
        for depth in reversed(DEPTHS):
            for init_name, init in inits(act):
                yield "d%d-%s-%s" % (depth, act, init_name), {"layers": layers(depth), "act": act, "init": init}


def file_name(data, full, kind):
    stem = "depth-" + DATA[data]["name"] + ("-full" if full else "")
    return stem + ("-sweep" if kind == "sweep" else "") + ".json"


def base_options(data, schedule, epochs):
    base = OrderedDict([("data", data), ("batch", 100), ("epochs", epochs), ("val_split", 0)])
    for key in ("train_subset", "test_subset"):
        if schedule[key]:
            base[key] = schedule[key]
    base["threads"] = 1
    return base


def schedule_text(schedule, epochs):
    n, t = schedule["train_subset"], schedule["test_subset"]
    return ("the first %d training samples" % n if n else "the whole training set") + \
        (" (test: the first %d test samples)" % t if t else "") + ", batch 100, %d epochs" % epochs


def sweep_file(data, full):
    schedule = FULL if full else DEFAULT
    sweeps = []
    for prefix, net in configurations():
        for method, m in METHODS.items():
            base = OrderedDict(net)
            base.update(m["base"])
            sweeps.append(OrderedDict([("label", prefix + "-" + method), ("base", base), ("param", m["param"]),
                                       ("values", m["values"])]))
    return OrderedDict([
        ("name", file_name(data, full, "sweep")[:-5]),
        ("description",
         "Depth study, step sizes (issue 10): for every depth (%s hidden layers of %d units), activation (%s), "
         "initialisation (the SIBP paper's %s, or glorot for sigmoid/tanh and he for ReLU) and method, the final "
         "training loss at each step size on a decade grid, on %s, seed 1. The comparison (%s) uses each "
         "configuration's step with the lowest final training loss. Generated by scripts/depth_experiments.py."
         % (", ".join(map(str, DEPTHS)), WIDTH, ", ".join(ACTS), PAPER_INIT,
            schedule_text(schedule, schedule["sweep_epochs"]), file_name(data, full, "compare"))),
        ("kind", "sweep"),
        ("base", base_options(data, schedule, schedule["sweep_epochs"])),
        ("seeds", [1]),
        ("sweeps", sweeps),
    ])


def read_sweep(sweep_dir):
    """label -> list of (value, status, final_train_loss, final_test_acc) from sweep.csv."""
    path = os.path.join(sweep_dir, "sweep.csv")
    if not os.path.exists(path):
        sys.exit("%s: not found; run the sweep first (build/sibp sweep ... --out %s)" % (path, sweep_dir))
    out = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            loss = float(row["final_train_loss"]) if row["final_train_loss"] else math.nan
            acc = float(row["final_test_acc"]) if row["final_test_acc"] else math.nan
            out.setdefault(row["label"], []).append((float(row["value"]), row["status"], loss, acc))
    return out


def best_step(points):
    """The step with the lowest finite final training loss (ties: the smaller step), and why.
    A run the sweep calls diverged only because its loss stayed near the initial one
    (a stalled run) still counts: for a network no step trains, the comparison then shows
    the least bad one rather than nothing."""
    finite = [(loss, v, status) for v, status, loss, _ in points if status != "missing" and math.isfinite(loss)]
    if not finite:
        return None, "no run of the sweep finished with a finite training loss"
    loss, v, status = min(finite)
    return v, ("lowest final training loss %.4g" % loss) + ("" if status == "stable" else " (no step learned)")


def sweep_note(data, sweep_dir):
    """A warning when the steps come from another data set's sweep (its experiment.json says which)."""
    path = os.path.join(sweep_dir, "experiment.json")
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        swept = json.load(f).get("base", {}).get("data")
    if swept in (None, data):
        return ""
    return (", a sweep on %s, not %s: the steps are borrowed until %s's own sweep has run (scripts/"
            "depth_experiments.py run --data %s regenerates this file from it)" % (swept, data, data, data))


def compare_file(data, full, sweep_dir):
    schedule = FULL if full else DEFAULT
    sweep = read_sweep(sweep_dir)
    runs = []
    missing = []
    for prefix, net in configurations():
        for method, m in METHODS.items():
            label = prefix + "-" + method
            if label not in sweep:
                missing.append(label)
                continue
            value, _ = best_step(sweep[label])
            if value is None:
                value = m["values"][0]
            run = OrderedDict([("label", label)])
            run.update(net)
            run.update(m["base"])
            run[m["param"]] = value
            runs.append(run)
    if missing:
        sys.exit("%s/sweep.csv has no results for %d configurations (e.g. %s); finish the sweep first"
                 % (sweep_dir, len(missing), missing[0]))
    base = base_options(data, schedule, schedule["epochs"])
    if schedule["eval_every"]:
        base["eval_every"] = schedule["eval_every"]
    base["diagnostics"] = True
    return OrderedDict([
        ("name", file_name(data, full, "compare")[:-5]),
        ("description",
         "Depth study, comparison (issue 10): every configuration of %s at the step with the lowest final training "
         "loss in the sweep named below (a decade grid, seed 1), on %s, %d seeds, with per-layer diagnostics. "
         "Generated by scripts/depth_experiments.py from %s/sweep.csv%s."
         % (file_name(data, full, "sweep"), schedule_text(schedule, schedule["epochs"]), len(schedule["seeds"]),
            os.path.relpath(sweep_dir, ROOT) if os.path.isabs(sweep_dir) else sweep_dir, sweep_note(data, sweep_dir))),
        ("kind", "compare"),
        ("base", base),
        ("seeds", schedule["seeds"]),
        ("target_accuracy", DATA[data]["target"]),
        ("runs", runs),
    ])


def write(obj, path):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print("wrote %s" % path)


# ---------------------------------------------------------------- tables for docs/results.md

def read_summary(result_dir):
    path = os.path.join(result_dir, "summary.csv")
    if not os.path.exists(path):
        sys.exit("%s: not found; run the comparison first" % path)
    with open(path, newline="") as f:
        return {row["label"]: row for row in csv.DictReader(f)}


def cell(row, key, scale=1.0, digits=4):
    v = row.get(key + "_mean", "")
    if v == "":
        return "–"
    s = row.get(key + "_std", "")
    text = ("%." + str(digits) + "f") % (float(v) * scale)
    return text


def loss_cell(row, key):
    v = row.get(key + "_mean", "")
    return "–" if v == "" else "%.3g" % float(v)


def tables(result_dir, sweep_dir=None):
    summary = read_summary(result_dir)
    steps = {}
    if sweep_dir:
        for label, points in read_sweep(sweep_dir).items():
            steps[label] = best_step(points)
    out = []
    for act in ACTS:
        for init_name, _ in inits(act):
            out.append("**%s, %s initialisation** — final training loss / best training loss / final test "
                       "accuracy (%%), mean over seeds%s\n" % (act, init_name if init_name != "normal" else
                                                               "normal:0.05", "; step chosen by the sweep"
                                                               if sweep_dir else ""))
            out.append("| method | " + " | ".join("%d layers" % d for d in DEPTHS) + " |")
            out.append("|---|" + "---|" * len(DEPTHS))
            for method, m in METHODS.items():
                cells = []
                for d in DEPTHS:
                    label = "d%d-%s-%s-%s" % (d, act, init_name, method)
                    row = summary.get(label)
                    if row is None or row.get("complete", "0") == "0":
                        cells.append("not run")
                        continue
                    text = "%s / %s / %s" % (loss_cell(row, "final_train_loss"), loss_cell(row, "best_train_loss"),
                                             cell(row, "final_test_acc", 100, 1))
                    if int(row.get("diverged", "0") or 0) > 0:
                        text += " (%s diverged)" % row["diverged"]
                    cells.append(text)
                out.append("| %s | %s |" % (method, " | ".join(cells)))
            out.append("")
    return "\n".join(out)


def time_table(result_dir, depth):
    """Epochs and seconds to the target accuracy at one depth, every configuration."""
    summary = read_summary(result_dir)
    out = ["| method | " + " | ".join("%s %s" % (act, init_name) for act in ACTS for init_name, _ in inits(act)) +
           " |", "|---|" + "---|" * (2 * len(ACTS))]
    for method in METHODS:
        cells = []
        for act in ACTS:
            for init_name, _ in inits(act):
                row = summary.get("d%d-%s-%s-%s" % (depth, act, init_name, method))
                if row is None or row.get("complete", "0") == "0":
                    cells.append("not run")
                    continue
                reached = int(row.get("seeds_reaching_target") or 0)
                if reached == 0:
                    cells.append("not reached")
                    continue
                part = "" if reached == int(row["complete"]) else " (%d/%s seeds)" % (reached, row["complete"])
                cells.append("%.2f ep, %.3g s%s" % (float(row["epochs_to_target_mean"]),
                                                      float(row["seconds_to_target_mean"]), part))
        out.append("| %s | %s |" % (method, " | ".join(cells)))
    return "\n".join(out)


def time_tables(result_dir, depths):
    target = None
    path = os.path.join(result_dir, "experiment.json")
    if os.path.exists(path):
        with open(path) as f:
            target = json.load(f).get("target_accuracy")
    out = []
    for depth in depths:
        out.append("\nEpochs and seconds to %s test accuracy, %d hidden layers (mean over the seeds that reached "
                   "it):\n" % ("%g%%" % (100 * target) if target else "the target", depth))
        out.append(time_table(result_dir, depth))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sweep", help="write experiments/depth-<data>[-full]-sweep.json")
    s.add_argument("--data", choices=sorted(DATA), required=True)
    s.add_argument("--full", action="store_true", help="whole training set, longer training (hours)")
    s.add_argument("--output", help="default: experiments/<name>.json")
    c = sub.add_parser("compare", help="write experiments/depth-<data>[-full].json from a finished sweep")
    c.add_argument("--data", choices=sorted(DATA), required=True)
    c.add_argument("--full", action="store_true")
    c.add_argument("--sweep", required=True, help="the --out folder of the sweep (with sweep.csv)")
    c.add_argument("--output")
    t = sub.add_parser("table", help="markdown tables of a finished comparison, for docs/results.md")
    t.add_argument("result_dir")
    t.add_argument("--sweep", help="the sweep's folder, to list the chosen steps")
    t.add_argument("--time-depth", type=int, default=0,
                   help="only this depth's time-to-target table (default: every depth)")
    r = sub.add_parser("run", help="the whole study in one command: write the sweep file, run it, write the "
                                   "comparison file from its best steps, run that, print the tables")
    r.add_argument("--data", choices=sorted(DATA), required=True)
    r.add_argument("--full", action="store_true")
    r.add_argument("--sibp", default=os.path.join(ROOT, "build", "sibp"), help="the sibp executable")
    r.add_argument("--out", help="results folder (default: results/depth-<data>[-full]); the sweep goes to "
                                 "<out>-sweep. Finished runs in them are kept (sibp resumes).")
    st = sub.add_parser("steps", help="the step each configuration's sweep chose")
    st.add_argument("sweep_dir")
    args = ap.parse_args()

    if args.cmd == "sweep":
        write(sweep_file(args.data, args.full),
              args.output or os.path.join(ROOT, "experiments", file_name(args.data, args.full, "sweep")))
    elif args.cmd == "compare":
        write(compare_file(args.data, args.full, args.sweep),
              args.output or os.path.join(ROOT, "experiments", file_name(args.data, args.full, "compare")))
    elif args.cmd == "table":
        print(tables(args.result_dir, args.sweep))
        print(time_tables(args.result_dir, [args.time_depth] if args.time_depth else DEPTHS))
    elif args.cmd == "run":
        import subprocess
        stem = file_name(args.data, args.full, "compare")[:-5]
        out = args.out or os.path.join(ROOT, "results", stem)
        sweep_dir = out + "-sweep"
        sweep_json = os.path.join(ROOT, "experiments", file_name(args.data, args.full, "sweep"))
        compare_json = os.path.join(ROOT, "experiments", file_name(args.data, args.full, "compare"))
        write(sweep_file(args.data, args.full), sweep_json)
        for cmd in ([args.sibp, "sweep", sweep_json, "--out", sweep_dir],):
            print("+ " + " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True)
        write(compare_file(args.data, args.full, sweep_dir), compare_json)
        cmd = [args.sibp, "compare", compare_json, "--out", out]
        print("+ " + " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        print(tables(out, sweep_dir))
        print(time_tables(out, DEPTHS))
    elif args.cmd == "steps":
        sweep = read_sweep(args.sweep_dir)
        out = ["| configuration | " + " | ".join(METHODS) + " |", "|---|" + "---|" * len(METHODS)]
        for prefix, _ in configurations():
            cells = []
            for method, m in METHODS.items():
                v, why = best_step(sweep.get(prefix + "-" + method, []))
                stalled = "no step learned" in why
                edge = v is not None and v in (m["values"][0], m["values"][-1])
                cells.append("–" if v is None else ("%s %g" % (m["param"], v)) + (" (stalled)" if stalled else "")
                             + (" (grid end)" if edge and not stalled else ""))
            out.append("| %s | %s |" % (prefix, " | ".join(cells)))
        print("\n".join(out))


if __name__ == "__main__":
    main()
