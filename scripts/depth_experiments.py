#!/usr/bin/env python3
"""The depth experiments (does SIBP train deep sigmoid/tanh networks where SGD
stalls?): writes their experiment files and tabulates their results.

Fully connected networks of 2, 4, 8 and 16 hidden layers of 256 units, with
sigmoid, tanh and ReLU, each with the SIBP paper's normal:0.05 initialisation
and a standard one (glorot for sigmoid/tanh, he for ReLU), trained by SGD,
momentum, Adam, ProxProp and SIBP (exact:gn-cg and the reference solver).

    # 1. the step-size sweep (one file per data set; committed)
    python3 scripts/depth_experiments.py sweep --data mnist
    build/sibp sweep experiments/depth-mnist-sweep.json --out results/depth-mnist-sweep
    # 2. the comparison at each configuration's best step (reads the sweep's sweep.csv)
    python3 scripts/depth_experiments.py compare --data mnist --sweep results/depth-mnist-sweep
    build/sibp compare experiments/depth-mnist.json --out results/depth-mnist
    # 3. the tables of docs/results.md
    python3 scripts/depth_experiments.py table results/depth-mnist

The default trains on the first TRAIN_SUBSET training samples for a few
epochs, so that each command stays near half an hour of one core; --full
writes depth-<data>-full*.json with the whole training set and longer
training (hours). Only the standard library is used.
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

# Each method: its fixed options, the swept step and its grid. The grids are
# decades (a factor 10 apart) over the range where each method's best step
# lies for some depth and activation; the best step is therefore known to
# within a factor of about 3.
METHODS = OrderedDict([
    ("sgd", {"base": {"algo": "sgd"}, "param": "lr", "values": [0.01, 0.1, 1, 10]}),
    ("momentum", {"base": {"algo": "momentum"}, "param": "lr", "values": [0.001, 0.01, 0.1, 1]}),
    ("adam", {"base": {"algo": "adam"}, "param": "lr", "values": [0.0001, 0.001, 0.01]}),
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
    "mnist": {"name": "mnist", "target": 0.9},
    "fashion-mnist": {"name": "fashion", "target": 0.8},
}

# Schedules: (train_subset, sweep epochs, comparison epochs, comparison eval_every).
DEFAULT = {"train_subset": 10000, "sweep_epochs": 2, "epochs": 5, "eval_every": 0, "seeds": [1, 2, 3]}
FULL = {"train_subset": 0, "sweep_epochs": 2, "epochs": 10, "eval_every": 0, "seeds": [1, 2, 3]}


def layers(depth):
    return "-".join(["784"] + [str(WIDTH)] * depth + ["10"])


def inits(act):
    return [("normal", PAPER_INIT), (STANDARD_INIT[act], STANDARD_INIT[act])]


def configurations():
    """(label prefix, network options) for every depth, activation and initialisation."""
    for depth in DEPTHS:
        for act in ACTS:
            for init_name, init in inits(act):
                yield "d%d-%s-%s" % (depth, act, init_name), {"layers": layers(depth), "act": act, "init": init}


def file_name(data, full, kind):
    stem = "depth-" + DATA[data]["name"] + ("-full" if full else "")
    return stem + ("-sweep" if kind == "sweep" else "") + ".json"


def base_options(data, schedule, epochs):
    base = OrderedDict([("data", data), ("batch", 100), ("epochs", epochs), ("val_split", 0)])
    if schedule["train_subset"]:
        base["train_subset"] = schedule["train_subset"]
    return base


def schedule_text(schedule, epochs):
    n = schedule["train_subset"]
    return ("the first %d training samples" % n if n else "the whole training set") + \
        ", batch 100, %d epochs" % epochs


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
         "Depth study, comparison (issue 10): every configuration of %s at its step with the lowest final training "
         "loss in that sweep (a decade grid, seed 1), on %s, %d seeds, with per-layer diagnostics. "
         "Generated by scripts/depth_experiments.py from %s/sweep.csv."
         % (file_name(data, full, "sweep"), schedule_text(schedule, schedule["epochs"]), len(schedule["seeds"]),
            os.path.relpath(sweep_dir, ROOT) if os.path.isabs(sweep_dir) else sweep_dir)),
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
    t.add_argument("--time-depth", type=int, default=16, help="depth of the time-to-target table")
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
        print("\nEpochs and seconds to the target accuracy, %d hidden layers (mean over the seeds that reached it):\n"
              % args.time_depth)
        print(time_table(args.result_dir, args.time_depth))
    elif args.cmd == "steps":
        sweep = read_sweep(args.sweep_dir)
        out = ["| configuration | " + " | ".join(METHODS) + " |", "|---|" + "---|" * len(METHODS)]
        for prefix, _ in configurations():
            cells = []
            for method, m in METHODS.items():
                v, why = best_step(sweep.get(prefix + "-" + method, []))
                stalled = "no step learned" in why
                cells.append("–" if v is None else ("%s %g" % (m["param"], v)) + (" (stalled)" if stalled else ""))
            out.append("| %s | %s |" % (prefix, " | ".join(cells)))
        print("\n".join(out))


if __name__ == "__main__":
    main()
