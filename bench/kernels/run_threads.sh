#!/usr/bin/env bash
# Question 4 of REPORT.md: 1 vs 2 threads, Eigen's OpenMP GEMM vs our blocking
# pool, on an idle machine and with a busy loop on the other core.
#
# Usage: bench/kernels/run_threads.sh [BENCH_THREADS_BINARY] [ROUNDS]
# Runs every configuration once per round, rounds interleaved (the machine
# is shared: its speed drifts), and prints the median seconds per epoch of
# step GEMMs, and ratios to the 1-thread run of the same condition.
# "eigen-N" is the library's own OpenMP threading: Eigen's parallel GEMM for
# mlp and conv2, oneDNN's (libgomp) threads for conv2dnnl.
# SIBP_BENCH_RT=1 (root) runs the idle condition at real-time priority
# (chrt -f 1): on a machine shared with other sessions' builds that is the
# only way to get an idle second core (a woken thread preempts them at once);
# the busy condition always runs at normal priority against the busy loop.
set -euo pipefail
bin=${1:-build/bench/kernels/bench_threads}
rounds=${2:-5}
[[ -x "$bin" ]] || { echo "missing $bin (see bench/kernels/REPORT.md for the build line)" >&2; exit 2; }
tmp=$(mktemp -d)
busy_pid=""
cleanup() { [[ -n "$busy_pid" ]] && kill "$busy_pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

configs=("eigen 1" "eigen 2" "pool 1" "pool 2")
run_condition() {  # condition name
  local cond=$1
  local pre=()
  [[ $cond == idle && ${SIBP_BENCH_RT:-0} == 1 ]] && pre=(chrt -f 1)
  for ((r = 0; r < rounds; r++)); do
    for what in mlp conv2 conv2dnnl; do
      for c in "${configs[@]}"; do
        set -- $c
        "${pre[@]}" "$bin" --mode "$1" --threads "$2" --what "$what" | grep -o 'seconds=[0-9.]*' | cut -d= -f2 \
          >>"$tmp/$cond.$what.$1.$2"
      done
    done
  done
}

median() { sort -g "$1" | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
run_condition idle
# A busy loop bounded in time, so it cannot outlive this script.
timeout 1800 sh -c 'while :; do :; done' &
busy_pid=$!
run_condition busy
kill "$busy_pid" 2>/dev/null || true
busy_pid=""
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

printf '%-6s %-6s %-8s %8s %10s\n' cond what config median_s "x 1-thread"
for cond in idle busy; do
  for what in mlp conv2 conv2dnnl; do
    base=$(median "$tmp/$cond.$what.eigen.1")
    for c in "${configs[@]}"; do
      set -- $c
      m=$(median "$tmp/$cond.$what.$1.$2")
      printf '%-6s %-6s %-8s %8.3f %10.2f\n' "$cond" "$what" "$1-$2" "$m" "$(awk -v a="$m" -v b="$base" 'BEGIN{print a/b}')"
    done
  done
done
