#!/usr/bin/env bash
# Does training stay fast when the other core is busy? OpenMP threads that
# spin-wait at barriers (libgomp's default, and Eigen's own GEMM
# synchronisation) can make an epoch many times slower on a shared 2-core
# machine when one core is taken by another process.
#
# Usage: bench/run_busy_core_check.sh [BUILD_DIR] [REPEATS]
# Times bench/epoch (REPEATS epochs each, default 2) idle, then with one busy
# loop running, under several thread/wait settings, and prints best/median.
# Configures BUILD_DIR with -DSIBP_BUILD_BENCH=ON and builds bench_epoch.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build=${1:-"$root/build"}
repeats=${2:-2}
bench_build "$build" bench_epoch
epoch="$build/bench/epoch"
data_args=()
[[ -n "${MNIST_DIR:-}" ]] && data_args=(--data "$MNIST_DIR")
bench_tmp

run() {  # label, env assignments...
  local label=$1
  shift
  local out
  out=$(env "$@" "$epoch" --repeat "$repeats" "${data_args[@]}" | key_values epoch_seconds | best_median)
  printf '%-52s %s / %s\n' "$label" $out
}

echo "seconds per epoch, best / median of $repeats"
run "idle, default" -u OMP_WAIT_POLICY
run "idle, OMP_WAIT_POLICY=passive" OMP_WAIT_POLICY=passive
bench_busy
run "busy core, default" -u OMP_WAIT_POLICY
run "busy core, OMP_WAIT_POLICY=passive" OMP_WAIT_POLICY=passive
run "busy core, GOMP_SPINCOUNT=0" GOMP_SPINCOUNT=0
run "busy core, OMP_NUM_THREADS=1" OMP_NUM_THREADS=1
