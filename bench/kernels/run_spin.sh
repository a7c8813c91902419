#!/usr/bin/env bash
# How long should an idle pool thread spin before it sleeps? On this VM a
# sleeping thread takes ~100-150 µs to wake (bench_threads --what wake), so a
# few µs of spinning cannot bridge the gaps between a step's GEMMs.
# Times the MLP epoch of GEMMs (bench_threads --what mlp) for several spin
# windows, idle (real time, as run_threads.sh with SIBP_BENCH_RT=1) and with a
# busy loop on the other core; ratios are to 1 thread in the same condition.
#
# Usage: bench/kernels/run_spin.sh [BENCH_THREADS_BINARY] [ROUNDS] [BATCH]
set -euo pipefail
if [[ $(id -u) == 0 && ${SIBP_BENCH_NICE:-1} != 0 ]]; then
  if [[ $(ps -o sid= -p $$ | tr -d ' ') != "$$" ]]; then exec setsid bash "$0" "$@"; fi
  renice -n -19 -p $$ >/dev/null
  [[ -w /proc/$$/autogroup ]] && echo -19 >"/proc/$$/autogroup"
fi
bin=${1:-build/bench/kernels/bench_threads}
rounds=${2:-3}
batch=${3:-100}
tmp=$(mktemp -d)
busy_pid=""
cleanup() { [[ -n "$busy_pid" ]] && kill "$busy_pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
configs=("pool 1 5" "pool 2 0" "pool 2 5" "pool 2 50" "pool 2 200" "pool 2 1000" "eigen 2 0")
run_condition() {
  local cond=$1 pre=()
  [[ $cond == idle && $(id -u) == 0 ]] && pre=(chrt -f 1)
  for ((r = 0; r < rounds; r++)); do
    for c in "${configs[@]}"; do
      set -- $c
      "${pre[@]}" "$bin" --mode "$1" --threads "$2" --spin-us "$3" --what mlp --batch "$batch" |
        grep -o 'seconds=[0-9.]*' | cut -d= -f2 >>"$tmp/$cond.$1.$2.$3"
    done
  done
}
median() { sort -g "$1" | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
run_condition idle
timeout 1800 sh -c 'while :; do :; done' &
busy_pid=$!
run_condition busy
kill "$busy_pid" 2>/dev/null || true
busy_pid=""
printf '%-6s %-16s %9s %11s\n' cond config median_s "x pool-1"
for cond in idle busy; do
  base=$(median "$tmp/$cond.pool.1.5")
  for c in "${configs[@]}"; do
    set -- $c
    m=$(median "$tmp/$cond.$1.$2.$3")
    printf '%-6s %-16s %9.3f %11.2f\n' "$cond" "$1-$2 spin=$3us" "$m" "$(awk -v a="$m" -v b="$base" 'BEGIN{print a/b}')"
  done
done
