#!/usr/bin/env bash
# One epoch of 784-500-10 SGD on MNIST: ours (bench/epoch) against PyTorch
# (bench/pytorch_mlp.py, 2 threads) in the same run, PyTorch twice:
# default environment, and OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE.
#
# Usage: bench/run_epoch_comparison.sh [BUILD_DIR] [REPEATS]
#   BUILD_DIR defaults to ./build (configured with -DSIBP_BUILD_BENCH=ON and
#   bench_epoch built here);
#   MNIST is looked up as bench/epoch does (--data, $SIBP_DATA_DIR/mnist,
#   data/mnist, /tmp/package/data); set MNIST_DIR to force a folder.
# Prints best and median of REPEATS (default 3) epochs for each, then
#   time ratio  = our best / PyTorch's faster best   (target <= 0.5)
#   GEMM ratio  = our epoch's GEMM GFLOP/s / Eigen's raw rate on the same
#                 shapes, measured by bench/epoch    (target >= 0.6)
# Not run by CI: the machine is shared, so repeat and read best and median.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build=${1:-"$root/build"}
repeats=${2:-3}
bench_pytorch
bench_build "$build" bench_epoch
epoch="$build/bench/epoch"
data_args=()
[[ -n "${MNIST_DIR:-}" ]] && data_args=(--data "$MNIST_DIR")
bench_tmp

# best and median of the epoch_seconds=... values in a file
stats() { key_values epoch_seconds "$1" | best_median; }

echo "== ours: $epoch --repeat $repeats"
"$epoch" --repeat "$repeats" "${data_args[@]}" | tee "$tmp/ours"
echo "== PyTorch, default environment"
/usr/bin/python3 "$root/bench/pytorch_mlp.py" --repeat "$repeats" "${data_args[@]}" | tee "$tmp/torch_default"
echo "== PyTorch, OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE"
"${pytorch_env[@]}" /usr/bin/python3 "$root/bench/pytorch_mlp.py" --repeat "$repeats" "${data_args[@]}" | tee "$tmp/torch_tuned"

read -r ours_best ours_med < <(stats "$tmp/ours")
read -r td_best td_med < <(stats "$tmp/torch_default")
read -r tt_best tt_med < <(stats "$tmp/torch_tuned")
gemm=$(key_values gemm_efficiency "$tmp/ours" | sort -g | tail -1)
raw=$(key_values eigen_raw_gflops "$tmp/ours")
ours_gflops=$(key_values gemm_gflops "$tmp/ours" | sort -g | tail -1)
torch_best=$(printf '%s\n%s\n' "$td_best" "$tt_best" | sort -g | head -1)
echo
echo "== summary (seconds per epoch: best / median of $repeats)"
printf 'ours                          %8.3f / %8.3f\n' "$ours_best" "$ours_med"
printf 'pytorch default               %8.3f / %8.3f\n' "$td_best" "$td_med"
printf 'pytorch SkylakeX+PASSIVE      %8.3f / %8.3f\n' "$tt_best" "$tt_med"
awk -v o="$ours_best" -v t="$torch_best" 'BEGIN {printf "time ratio ours/pytorch-best  %8.3f   (target <= 0.5)\n", o / t}'
printf 'GEMM rate ours / eigen raw     %8s / %s GFLOP/s = %s   (target >= 0.6)\n' "$ours_gflops" "$raw" "$gemm"
