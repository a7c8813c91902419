#!/usr/bin/env bash
# SIBP's cost against SGD's, and the peak memory of MNIST training (issue 13,
# targets 1 and 6), as lines a summary script can collect:
#
#   SIBP/SGD epoch ratio, 1 thread: 1.32 (CPU time, median of 5 interleaved repeats; SGD 0.95 s, SIBP 1.25 s per epoch)
#   SIBP/SGD epoch ratio, 2 threads: ...
#   peak RSS of sibp train, MNIST 784-500-10, sgd: 100 MB
#   peak RSS of sibp train, MNIST 784-500-10, sibp: 104 MB
#
# Usage: bench/run_sibp_cost.sh [BUILD_DIR] [REPEATS]
# Configures BUILD_DIR with -DSIBP_BUILD_BENCH=ON and builds bench_algorithms
# and sibp; needs MNIST where `sibp train
# --data mnist` finds it (SIBP_DATA_DIR or ./data). The ratios are measured
# within one run of bench/algorithms (600 batches of 100, the same batches
# for both, the algorithms interleaved in every repeat); one thread is timed
# in process CPU time, which other processes on the machine disturb little,
# two threads on the wall clock. The load average is printed with each, since
# a busy machine still moves wall-clock numbers.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build=${1:-"$root/build"}
repeats=${2:-5}
bench_packages time
bench_build "$build" bench_algorithms sibp
algorithms="$build/bench/algorithms"
sibp="$build/sibp"

ratio_line() {  # threads clock
  local threads=$1 clock=$2 out sgd sibp ratio la
  la=$(load)
  out=$("$algorithms" --only sibp-exact:gn-cg --threads "$threads" --repeat "$repeats" --clock "$clock")
  sgd=$(grep '^label=sgd ' <<<"$out" | key_values seconds_per_epoch)
  sibp=$(grep '^label=sibp-exact:gn-cg ' <<<"$out" | key_values seconds_per_epoch)
  ratio=$(grep '^label=sibp-exact:gn-cg ' <<<"$out" | key_values median_ratio_to_sgd)
  local unit="thread"
  [[ $threads -gt 1 ]] && unit="threads"
  echo "SIBP/SGD epoch ratio, $threads $unit: $ratio ($clock time, median of $repeats interleaved repeats;" \
    "best SGD $sgd s, SIBP $sibp s per epoch; load average before: $la)"
}

ratio_line 1 cpu
ratio_line 2 wall

bench_tmp
for algo in sgd sibp; do
  /usr/bin/time -v "$sibp" train --data mnist --layers 784-500-10 --batch 100 --epochs 1 --seed 1 --threads 1 \
    --algo "$algo" --out "$tmp/$algo" >/dev/null 2>"$tmp/$algo.time"
  kb=$(grep 'Maximum resident set size' "$tmp/$algo.time" | grep -o '[0-9]*$')
  echo "peak RSS of sibp train, MNIST 784-500-10, $algo: $((kb / 1024)) MB (target <= 150 MB)"
done
