#!/usr/bin/env bash
# Every ratio of issue 13 in one run, each printed as a "ratio" or target line
# by the script that measures it:
#
#   1. SIBP's epoch against SGD's, 1 and 2 threads, and peak memory (target 6)
#      -> bench/run_sibp_cost.sh
#   2. time to accuracy, each method at its best step: sibp compare of
#      experiments/time-to-accuracy-mnist.json (batch 100 and 1000) and
#      experiments/time-to-accuracy-fashion-mnist.json, then
#      bench/time_to_accuracy.py (best SIBP / best other method)
#   3. and 4. threads by default (idle and busy core) and bf16, against
#      PyTorch's best float32 and bf16-autocast epochs
#      -> bench/run_threads_bf16.sh (needs libopenblas0-pthread for PyTorch)
#   5. the cost grid over batch sizes and widths -> bench/run_cost_grid.sh
#
# Usage: bench/run_performance.sh [BUILD_DIR] [OUT_DIR] [--quick]
#   BUILD_DIR (default ./build) is configured with -DSIBP_BUILD_BENCH=ON and
#   the targets sibp, bench_algorithms and bench_cost_grid built; OUT_DIR (default
#   ./perf-run) receives the compare folders and the grid. --quick skips the
#   two longest parts (time to accuracy, about 30 minutes, and the full grid,
#   about an hour): they can be run alone with the commands printed.
# MNIST and Fashion-MNIST must be fetched (`build/sibp data fetch mnist`,
# `... fashion-mnist`; SIBP_DATA_DIR or ./data). Not run by CI: timings on a
# shared machine are noisy, so every ratio is measured within one run and
# each part prints the load average with its numbers.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build=${1:-"$root/build"}
out=${2:-"$root/perf-run"}
quick=false
[[ "${3:-}" == "--quick" ]] && quick=true
bench_build "$build" sibp bench_algorithms bench_cost_grid
mkdir -p "$out"

echo "== Target 1 and 6: SIBP's epoch against SGD's; peak memory (load $(load))"
bash "$root/bench/run_sibp_cost.sh" "$build" 5 || echo "run_performance: run_sibp_cost.sh failed (above); going on"

echo "== Targets 3 and 4: threads by default, bf16, PyTorch (load $(load))"
bash "$root/bench/run_threads_bf16.sh" "$build" 3 || echo "run_performance: run_threads_bf16.sh failed (above); going on"

if $quick; then
  echo "== Target 2 skipped (--quick): $build/sibp compare experiments/time-to-accuracy-mnist.json --out $out/tta-mnist"
  echo "   (and time-to-accuracy-fashion-mnist.json), then /usr/bin/python3 bench/time_to_accuracy.py DIRS"
  echo "== Target 5 skipped (--quick): bash bench/run_cost_grid.sh $build $out/cost_grid"
  exit 0
fi

echo "== Target 2: time to accuracy (load $(load))"
"$build/sibp" compare "$root/experiments/time-to-accuracy-mnist.json" --out "$out/tta-mnist" >"$out/tta-mnist.log"
"$build/sibp" compare "$root/experiments/time-to-accuracy-fashion-mnist.json" --out "$out/tta-fashion" >"$out/tta-fashion.log"
/usr/bin/python3 "$root/bench/time_to_accuracy.py" "$out/tta-mnist" "$out/tta-fashion"
echo "   (load $(load) at the end)"

echo "== Target 5: cost grid (load $(load))"
bash "$root/bench/run_cost_grid.sh" "$build" "$out/cost_grid"
