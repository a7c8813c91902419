#!/usr/bin/env bash
# Cost as the work grows (issue 13, target 5): seconds per epoch of SGD, every
# SIBP solver and ProxProp over batch sizes 10, 32, 100, 316, 1000 and hidden
# widths 100, 500, 2000 with one and three hidden layers, in one run of
# bench/cost_grid; then docs/performance.md's table (OUT/grid.md) and plot
# (OUT/cost_grid.png, drawn with gnuplot), and one line per target:
#
#   SIBP default / SGD, worst grid point: 1.93 (depth 3, width 2000, batch 1000); <= 1.5 at 22 of 30 points
#
# Usage: bench/run_cost_grid.sh [BUILD_DIR] [OUT_DIR] [-- extra cost_grid options]
#        bench/run_cost_grid.sh [BUILD_DIR] OUT_DIR --table-only
# e.g.   bench/run_cost_grid.sh build docs/results/cost_grid -- --repeat 3 --samples 2000 --max-seconds 8
# --table-only remakes the table and plot from OUT_DIR/grid.txt (for instance
# after appending the lines of a point measured again on its own).
# Configures BUILD_DIR with -DSIBP_BUILD_BENCH=ON and builds bench_cost_grid
# (not with --table-only); needs MNIST where `sibp train --data mnist` finds it, /usr/bin/python3 and gnuplot.
# The exact per-row solver (sibp-gn-exact) dominates the run at the largest
# points: `-- --algos sgd,sibp,sibp-sample,sibp-parameter,sibp-reference,proxprop-cg3`
# leaves it out.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build=${1:-"$root/build"}
out=${2:-"$root/cost_grid"}
shift $(( $# >= 2 ? 2 : $# ))
table_only=false
if [[ "${1:-}" == "--table-only" ]]; then
  table_only=true
  shift
fi
[[ "${1:-}" == "--" ]] && shift
mkdir -p "$out"

if ! $table_only; then
  bench_build "$build" bench_cost_grid
  grid="$build/bench/cost_grid"
  echo "load average before: $(load)" | tee "$out/grid.txt"
  "$grid" "$@" | tee -a "$out/grid.txt"
  echo "load average after: $(load)" | tee -a "$out/grid.txt"
fi

/usr/bin/python3 - "$out" <<'EOF'
import sys, collections
out = sys.argv[1]
rows = collections.OrderedDict()
for line in open(f"{out}/grid.txt"):
    if not line.startswith("depth="):
        continue
    kv = dict(p.split("=", 1) for p in line.split())
    key = (int(kv["depth"]), int(kv["width"]), int(kv["batch"]))
    rows.setdefault(key, {})[kv["algo"]] = kv
algos = ["sibp", "sibp-sample", "sibp-parameter", "sibp-gn-exact", "sibp-reference", "proxprop-cg3", "proxprop-exact"]
present = [a for a in algos if any(a in r for r in rows.values())]
head = {"sibp": "SIBP default", "sibp-sample": "gn-cg sample", "sibp-parameter": "gn-cg parameter",
        "sibp-gn-exact": "gn-exact", "sibp-reference": "reference", "proxprop-cg3": "ProxProp cg3",
        "proxprop-exact": "ProxProp exact"}
with open(f"{out}/grid.md", "w") as md:
    md.write("| hidden | batch | SGD s/epoch | " + " | ".join(head[a] + " ×SGD" for a in present) +
             " | space chosen (per hidden layer) | model right? |\n")
    md.write("|---" * (4 + len(present)) + "|---|\n")
    worst, met, total, right, judged = (0, None), 0, 0, 0, 0
    for (depth, width, batch), r in rows.items():
        cells = []
        for a in present:
            cells.append(f'{float(r[a]["ratio_to_sgd"]):.2f}' if a in r else "")
        verdict = ""
        if "sibp" in r and "sibp-sample" in r and "sibp-parameter" in r:
            s, p = float(r["sibp-sample"]["ratio_to_sgd"]), float(r["sibp-parameter"]["ratio_to_sgd"])
            best = min(s, p)
            mine = float(r["sibp"]["ratio_to_sgd"])
            # The model is right when it chose the faster of the two spaces forced on every
            # layer, or when the default (its choice, per layer) is within 5% of that one or
            # faster (a mixed choice can beat both); 5% is about the repeat-to-repeat spread.
            faster = "sample" if s < p else "parameter"
            chosen = r["sibp"]["space"].split(",")
            judged += 1
            if all(c == faster for c in chosen) or mine <= 1.05 * best:
                right += 1
                verdict = "yes"
            else:
                verdict = f"no ({faster} faster)"
        if "sibp" in r:
            ratio = float(r["sibp"]["ratio_to_sgd"])
            total += 1
            met += ratio <= 1.5
            if ratio > worst[0]:
                worst = (ratio, (depth, width, batch))
        md.write(f'| {depth}×{width} | {batch} | {float(r["sgd"]["seconds_per_epoch"]):.3g} | ' + " | ".join(cells) +
                 f' | {r.get("sibp", {}).get("space", "")} | {verdict} |\n')
with open(f"{out}/sibp_ratio.dat", "w") as dat:
    for (depth, width, batch), r in rows.items():
        if "sibp" in r:
            dat.write(f'{depth} {width} {batch} {r["sibp"]["ratio_to_sgd"]} {r["sgd"]["seconds_per_epoch"]}\n')
if total:
    d, w, b = worst[1]
    print(f"SIBP default / SGD, worst grid point: {worst[0]:.2f} (depth {d}, width {w}, batch {b}); "
          f"<= 1.5 at {met} of {total} points")
if judged:
    print(f"cost model chose the faster space (or came within 5% of it) at {right} of {judged} points")
EOF

if command -v gnuplot >/dev/null; then
  gnuplot <<EOF
set terminal pngcairo size 1000,420 font ",10"
set output "$out/cost_grid.png.tmp"
set multiplot layout 1,2
set logscale x
set xlabel "batch size"
set ylabel "SIBP (exact:gn-cg) epoch / SGD epoch"
set yrange [0:*]
set key top left
set xrange [8:1250]
set xtics (10, 32, 100, 316, 1000)
do for [depth in "1 3"] {
  set title sprintf("%s hidden layer%s", depth, depth eq "1" ? "" : "s")
  plot for [w in "100 500 2000"] "$out/sibp_ratio.dat" using (\$1 == depth+0 && \$2 == w+0 ? \$3 : 1/0):4 \
         with linespoints title sprintf("width %s", w), 1.5 with lines dashtype 2 lc rgb "gray" title "target 1.5"
}
unset multiplot
EOF
  mv "$out/cost_grid.png.tmp" "$out/cost_grid.png"
  echo "plot: $out/cost_grid.png"
fi
echo "table: $out/grid.md"
