#!/usr/bin/env bash
# One epoch of the reference CNN on MNIST, batch 100, float32:
#
#   conv(16,5,pad=2) relu maxpool(2) conv(32,5,pad=2) relu maxpool(2) dense(128) relu dense(10)
#
# `sibp train` with SGD (momentum 0.9, lr 0.05) and with SIBP (default solvers),
# against PyTorch at its best configuration on this machine (float32, same
# architecture, batch 100, SGD momentum; bench/pytorch_cnn.py,
# fresh model per repeat), all in the same run, then the issue's ratios:
#
#   SGD ratio   = our SGD epoch / PyTorch's best float32 epoch     (target <= 0.7)
#   SIBP ratio  = our SIBP epoch / our SGD epoch                    (target <= 2.5)
#   peak memory = largest peak resident set of one `sibp train`    (target <= 1 GB)
#
# Usage: bench/run_cnn_comparison.sh [BUILD_DIR] [REPEATS] [THREADS]
#   BUILD_DIR defaults to ./build (sibp is built there); REPEATS (default 3) runs
#   of each, best (minimum) and median quoted; THREADS (default 2) for both
#   sibp (--threads) and PyTorch (torch.set_num_threads).
#   MNIST: $MNIST_DIR, else $SIBP_DATA_DIR/mnist, else data/mnist.
# Our epoch time is the training time `sibp train` records in result.json
# (seconds_per_epoch: the steps only, without loading data or evaluating), one
# fresh one-epoch run per repeat; PyTorch's is the loop over 600 batches
# timed by the script. Peak memory is /usr/bin/time -v's "Maximum resident set
# size" of the whole `sibp train` process (data loading and evaluation included).
# Not run by CI: the machine is shared, so repeat and read best and median.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build=${1:-"$root/build"}
repeats=${2:-3}
threads=${3:-2}
bench_pytorch
bench_packages time
bench_build "$build" sibp
sibp="$build/sibp"
mnist=$(mnist_dir)
arch='conv(16,5,pad=2) relu maxpool(2) conv(32,5,pad=2) relu maxpool(2) dense(128) relu dense(10)'
bench_tmp

# ours LABEL ARGS...: REPEATS one-epoch runs of sibp train; appends the epoch
# seconds to $tmp/LABEL.sec and the peak RSS in kB to $tmp/LABEL.rss
ours() {
  local label=$1
  shift
  for r in $(seq 1 "$repeats"); do
    local out="$tmp/$label-$r"
    /usr/bin/time -v -o "$tmp/$label-$r.time" "$sibp" train --data "idx:$mnist" --arch "$arch" --batch 100 \
      --epochs 1 --seed 1 --threads "$threads" --out "$out" "$@" >/dev/null
    local sec
    sec=$(result_seconds "$out")
    local rss
    rss=$(grep 'Maximum resident set size' "$tmp/$label-$r.time" | awk '{print $NF}')
    local acc
    acc=$(grep -o '"test_acc": [0-9.e+-]*' "$out/result.json" | awk '{print $2}')
    echo "$label repeat=$r epoch_seconds=$sec peak_rss_kb=$rss test_acc=$acc"
    echo "$sec" >>"$tmp/$label.sec"
    echo "$rss" >>"$tmp/$label.rss"
    rm -rf "$out"
  done
}

echo "== machine: $(nproc) cores, load average $(load) at start"
echo "== ours: $sibp train --arch '$arch' --batch 100 --epochs 1 --threads $threads"
ours sgd --algo momentum --lr 0.05 --init he
ours sibp --algo sibp --init he
echo "== PyTorch float32, env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE"
"${pytorch_env[@]}" /usr/bin/python3 "$root/bench/pytorch_cnn.py" --data "$mnist" --repeat "$repeats" \
  --threads "$threads" | tee "$tmp/torch.out"
key_values epoch_seconds "$tmp/torch.out" >"$tmp/torch.sec"
echo "== load average $(load) at the end"

read -r sgd_best sgd_med < <(best_median "$tmp/sgd.sec")
read -r sibp_best sibp_med < <(best_median "$tmp/sibp.sec")
read -r torch_best torch_med < <(best_median "$tmp/torch.sec")
peak=$(cat "$tmp/sgd.rss" "$tmp/sibp.rss" | sort -g | tail -1)
echo
echo "== summary (seconds per epoch: best / median of $repeats, $threads threads)"
printf 'ours SGD (momentum 0.9)       %8.3f / %8.3f\n' "$sgd_best" "$sgd_med"
printf 'ours SIBP (default solvers)   %8.3f / %8.3f\n' "$sibp_best" "$sibp_med"
printf 'PyTorch float32 (best env)    %8.3f / %8.3f\n' "$torch_best" "$torch_med"
awk -v o="$sgd_best" -v t="$torch_best" 'BEGIN {printf "SGD ratio ours/PyTorch        %8.3f   (target <= 0.7)\n", o / t}'
awk -v s="$sibp_best" -v o="$sgd_best" 'BEGIN {printf "SIBP ratio SIBP/our SGD       %8.3f   (target <= 2.5)\n", s / o}'
awk -v k="$peak" 'BEGIN {printf "peak RSS of sibp train        %8.1f MB (target <= 1000)\n", k / 1024}'
