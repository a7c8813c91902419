#!/usr/bin/env bash
# Issue 13, targets 3 and 4, in one run: `sibp train` epochs (float32 on one
# thread and on the default all cores, idle and with a busy loop on another
# core; bf16 products) against PyTorch's best float32 epoch and its bf16
# autocast epoch, and the 5-epoch MNIST test accuracy of float32 against bf16.
#
# Usage: bench/run_threads_bf16.sh [BUILD_DIR] [REPEATS]
#   BUILD_DIR defaults to ./build (the `sibp` target is built here); REPEATS (default 3)
#   fresh one-epoch runs per configuration, interleaved, best taken.
#   Environment:
#     SIBP_DATA_DIR   folder holding mnist/ (default: the repository's data/)
#     ARCH            an --arch to time instead of --layers 784-500-10, e.g.
#                     'conv(16,5,pad=2) relu maxpool(2) conv(32,5,pad=2) relu maxpool(2) dense(128) relu dense(10)'
#                     (PyTorch is then not run: bench/pytorch_mlp.py is the MLP)
#     SIBP_BENCH_RT=1 run our idle epochs at real-time priority (chrt -f 1), so
#                     other processes' work does not land on the second core;
#                     busy epochs and PyTorch always run at normal priority
#     ACCURACY=0      skip the 5-epoch accuracy runs (about 2 minutes)
#     SIBP_BENCH_NICE=0  measure at normal priority. By default (as root) the
#                     script runs in a session of its own whose scheduler
#                     autogroup has nice -19, so that other sessions' compile
#                     jobs take little CPU while it measures (with autogroups
#                     a plain `nice` ranks processes only within one session;
#                     the kernel study, docs/kernels-report.md, did the same)
# Our seconds are the training-step seconds of result.json (evaluation not
# counted), PyTorch's its timed loop over the same 600 batches of 100.
# PyTorch runs at its best measured setting: Debian's python3-torch with
# OpenBLAS's SkylakeX kernels and passive OpenMP waiting, 2 threads, best of
# REPEATS fresh-model epochs in one process. Those environment variables are
# set here, for PyTorch only. Not run by CI: timings on a shared machine are
# noisy, so each ratio is taken within one run; the load is printed with it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_nice "$@"
build=${1:-"$root/build"}
repeats=${2:-3}
bench_pytorch
bench_build "$build" sibp
sibp="$build/sibp"
data_dir=${SIBP_DATA_DIR:-"$root/data"}
[[ -d "$data_dir/mnist" ]] || bench_die "no $data_dir/mnist (set SIBP_DATA_DIR)"
if [[ -n "${ARCH:-}" ]]; then model=(--arch "$ARCH" --init he); else model=(--layers 784-500-10); fi
rt=()
[[ "${SIBP_BENCH_RT:-0}" == 1 ]] && rt=(chrt -f 1)
bench_tmp

# epoch NAME PREFIX... -- ARGS...: one fresh one-epoch SGD run; appends its
# training seconds to $tmp/NAME.
n=0
epoch() {
  local name=$1
  shift
  local prefix=()
  while [[ $1 != -- ]]; do prefix+=("$1"); shift; done
  shift
  n=$((n + 1))
  "${prefix[@]}" "$sibp" train --data mnist --data-dir "$data_dir" "${model[@]}" --algo sgd --lr 0.1 --batch 100 \
    --epochs 1 --seed 1 --out "$tmp/run$n" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
  result_seconds "$tmp/run$n" >>"$tmp/$name"
}
best() { sort -g "$tmp/$1" | head -1; }

echo "machine: $(nproc) cores; model: ${model[*]}; repeats: $repeats; real-time idle runs: ${SIBP_BENCH_RT:-0}"
echo "load average at start: $(load)"
for _ in $(seq "$repeats"); do
  epoch idle1 "${rt[@]}" -- --threads 1
  epoch idle_all "${rt[@]}" --
  epoch bf16 "${rt[@]}" -- --precision bf16
done
echo "load average after the idle runs: $(load)"
bench_busy
for _ in $(seq "$repeats"); do
  epoch busy1 -- --threads 1
  epoch busy_all --
done
bench_unbusy
echo "load average after the busy runs: $(load)"

torch_f32="" torch_bf16=""
if [[ -z "${ARCH:-}" ]]; then
  for mode in none bf16; do
    "${pytorch_env[@]}" /usr/bin/python3 "$root/bench/pytorch_mlp.py" --data "$data_dir/mnist" --repeat "$repeats" --threads "$(nproc)" \
      --autocast "$mode" >"$tmp/torch_$mode"
    key_values epoch_seconds "$tmp/torch_$mode" >"$tmp/torch_${mode}_s"
  done
  torch_f32=$(best torch_none_s)
  torch_bf16=$(best torch_bf16_s)
  echo "load average after PyTorch: $(load)"
fi

echo
echo "== seconds per epoch (best of $repeats; all: $(nproc) threads, the default)"
for k in idle1 idle_all bf16 busy1 busy_all; do
  printf '%-28s %8.3f   (%s)\n' "$k" "$(best $k)" "$(tr '\n' ' ' <"$tmp/$k")"
done
if [[ -n "$torch_f32" ]]; then
  printf '%-28s %8.3f   (%s)\n' "pytorch f32" "$torch_f32" "$(tr '\n' ' ' <"$tmp/torch_none_s")"
  printf '%-28s %8.3f   (%s)\n' "pytorch bf16 autocast" "$torch_bf16" "$(tr '\n' ' ' <"$tmp/torch_bf16_s")"
fi
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
echo
echo "== ratios (time / time; targets from issue 13)"
echo "2-thread/1-thread epoch idle: $(ratio "$(best idle_all)" "$(best idle1)")   (target <= 0.625, i.e. >= 1.6x the speed)"
echo "2-thread/1-thread epoch busy: $(ratio "$(best busy_all)" "$(best busy1)")   (target <= 1.1)"
if [[ -n "$torch_f32" ]]; then
  echo "sibp SGD / PyTorch f32: $(ratio "$(best idle_all)" "$torch_f32")   (target <= 0.8)"
  echo "bf16 SGD / PyTorch f32: $(ratio "$(best bf16)" "$torch_f32")   (target <= 0.5)"
  echo "bf16 SGD / PyTorch bf16: $(ratio "$(best bf16)" "$torch_bf16")   (target < 1)"
fi

if [[ "${ACCURACY:-1}" != 0 ]]; then
  echo
  echo "== 5-epoch MNIST test accuracy, f32 against bf16 (seed 1, batch 100, each algorithm's defaults)"
  for algo in sgd adam sibp; do
    for p in f32 bf16; do
      n=$((n + 1))
      "$sibp" train --data mnist --data-dir "$data_dir" "${model[@]}" --algo "$algo" --batch 100 --epochs 5 \
        --seed 1 --precision "$p" --out "$tmp/acc_${algo}_$p" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
    done
    /usr/bin/python3 - "$tmp/acc_${algo}_f32" "$tmp/acc_${algo}_bf16" "$algo" <<'PY'
import json, sys
f32, bf16 = (json.load(open(d + "/result.json"))["final"]["test_acc"] * 100 for d in sys.argv[1:3])
print(f"{sys.argv[3]}: f32 {f32:.2f}%  bf16 {bf16:.2f}%  difference {bf16 - f32:+.2f} points   (target within 0.2)")
PY
  done
fi
echo "load average at the end: $(load)"
