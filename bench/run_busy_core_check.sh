#!/usr/bin/env bash
# Does training stay fast when the other core is busy? OpenMP threads that
# spin-wait at barriers (libgomp's default, and Eigen's own GEMM
# synchronisation) can make an epoch many times slower on a shared 2-core
# machine when one core is taken by another process.
#
# Usage: bench/run_busy_core_check.sh [BUILD_DIR] [REPEATS]
# Times bench/epoch (REPEATS epochs each, default 2) idle, then with one busy
# loop running, under several thread/wait settings, and prints best/median.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build"}
repeats=${2:-2}
epoch="$build/bench/epoch"
[[ -x "$epoch" ]] || { echo "missing $epoch: cmake --build $build --target bench_epoch" >&2; exit 2; }
data_args=()
[[ -n "${MNIST_DIR:-}" ]] && data_args=(--data "$MNIST_DIR")
busy_pid=""
cleanup() { [[ -n "$busy_pid" ]] && kill "$busy_pid" 2>/dev/null || true; }
trap cleanup EXIT

run() {  # label, env assignments...
  local label=$1
  shift
  local out
  out=$(env "$@" "$epoch" --repeat "$repeats" "${data_args[@]}" | grep -o 'epoch_seconds=[0-9.]*' | cut -d= -f2 |
    sort -g | awk '{v[NR]=$1} END {m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "%.3f / %.3f", v[1], m}')
  printf '%-52s %s\n' "$label" "$out"
}

echo "seconds per epoch, best / median of $repeats"
run "idle, default" -u OMP_WAIT_POLICY
run "idle, OMP_WAIT_POLICY=passive" OMP_WAIT_POLICY=passive
# A busy loop bounded in time, so it cannot outlive this script.
timeout 1800 sh -c 'while :; do :; done' &
busy_pid=$!
run "busy core, default" -u OMP_WAIT_POLICY
run "busy core, OMP_WAIT_POLICY=passive" OMP_WAIT_POLICY=passive
run "busy core, GOMP_SPINCOUNT=0" GOMP_SPINCOUNT=0
run "busy core, OMP_NUM_THREADS=1" OMP_NUM_THREADS=1
