#!/usr/bin/env bash
# The measured CNN SGD step (bench_conv --only-steps: our kernels, oneDNN f32
# and bf16 convolutions) on 1 and 2 threads, idle and with a busy loop on the
# other core. oneDNN's threads are Debian libdnnl's OpenMP (libgomp) threads,
# so its 2-thread runs are shown with the default wait policy and passive.
#
# Usage: bench/kernels/run_cnn_busy.sh [BENCH_CONV_BINARY] [ROUNDS]
# SIBP_BENCH_RT=1 (root): the idle condition at real-time priority (see
# run_threads.sh).
set -euo pipefail
bin=${1:-build/bench/kernels/bench_conv}
rounds=${2:-3}
[[ -x "$bin" ]] || { echo "missing $bin" >&2; exit 2; }
tmp=$(mktemp -d)
busy_pid=""
cleanup() { [[ -n "$busy_pid" ]] && kill "$busy_pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
configs=("1 default" "2 default" "2 passive")
run_condition() {
  local cond=$1
  local pre=()
  [[ $cond == idle && ${SIBP_BENCH_RT:-0} == 1 ]] && pre=(chrt -f 1)
  for ((r = 0; r < rounds; r++)); do
    for c in "${configs[@]}"; do
      set -- $c
      if [[ $2 == passive ]]; then e=(env OMP_WAIT_POLICY=passive); else e=(env -u OMP_WAIT_POLICY); fi
      "${pre[@]}" "${e[@]}" "$bin" --only-steps --clock wall --threads "$1" --order minor |
        sed -n 's/^measured backend=\([^ ]*\) step_ms=\([0-9.]*\).*/\1 \2/p' |
        while read -r be ms; do echo "$ms" >>"$tmp/$cond.$1.$2.$be"; done
    done
  done
}
median() { sort -g "$1" | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
run_condition idle
timeout 1800 sh -c 'while :; do :; done' &
busy_pid=$!
run_condition busy
kill "$busy_pid" 2>/dev/null || true
busy_pid=""
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %-40s %-12s %10s %10s\n' cond backend threads step_ms epoch_s
for f in "$tmp"/*; do
  IFS=. read -r cond t pol be <<<"$(basename "$f")"
  m=$(median "$f")
  printf '%-6s %-40s %-12s %10.2f %10.2f\n' "$cond" "$be" "$t-$pol" "$m" "$(awk -v m="$m" 'BEGIN{print m*0.6}')"
done | sort
