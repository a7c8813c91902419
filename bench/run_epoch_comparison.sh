#!/usr/bin/env bash
# One epoch of 784-500-10 SGD on MNIST: ours (bench/epoch) against PyTorch
# (bench/pytorch_mlp.py, 2 threads) in the same run, PyTorch twice:
# default environment, and OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE.
#
# Usage: bench/run_epoch_comparison.sh [BUILD_DIR] [REPEATS]
#   BUILD_DIR defaults to ./build (needs the `bench_epoch` target built);
#   MNIST is looked up as bench/epoch does (--data, $SIBP_DATA_DIR/mnist,
#   data/mnist, /tmp/package/data); set MNIST_DIR to force a folder.
# Prints best and median of REPEATS (default 3) epochs for each, then
#   time ratio  = our best / PyTorch's faster best   (target <= 0.5)
#   GEMM ratio  = our epoch's GEMM GFLOP/s / Eigen's raw rate on the same
#                 shapes, measured by bench/epoch    (target >= 0.6)
# Not run by CI: the machine is shared, so repeat and read best and median.
set -euo pipefail
# PyTorch from Debian uses the system BLAS: without OpenBLAS installed it runs on
# the reference BLAS, 25x slower here (measured), which would flatter us.
if ! dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed"; then
  echo "run_epoch_comparison: install libopenblas0-pthread first (apt-get install libopenblas0-pthread)" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build"}
repeats=${2:-3}
epoch="$build/bench/epoch"
[[ -x "$epoch" ]] || { echo "missing $epoch: cmake --build $build --target bench_epoch" >&2; exit 2; }
data_args=()
[[ -n "${MNIST_DIR:-}" ]] && data_args=(--data "$MNIST_DIR")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# best and median of the epoch_seconds=... values in a file
stats() {
  grep -o 'epoch_seconds=[0-9.]*' "$1" | cut -d= -f2 | sort -g |
    awk '{v[NR]=$1} END {m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "%.4f %.4f\n", v[1], m}'
}

echo "== ours: $epoch --repeat $repeats"
"$epoch" --repeat "$repeats" "${data_args[@]}" | tee "$tmp/ours"
echo "== PyTorch, default environment"
/usr/bin/python3 "$root/bench/pytorch_mlp.py" --repeat "$repeats" "${data_args[@]}" | tee "$tmp/torch_default"
echo "== PyTorch, OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE"
env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE \
  /usr/bin/python3 "$root/bench/pytorch_mlp.py" --repeat "$repeats" "${data_args[@]}" | tee "$tmp/torch_tuned"

read -r ours_best ours_med < <(stats "$tmp/ours")
read -r td_best td_med < <(stats "$tmp/torch_default")
read -r tt_best tt_med < <(stats "$tmp/torch_tuned")
gemm=$(grep -o 'gemm_efficiency=[0-9.]*' "$tmp/ours" | cut -d= -f2 | sort -g | tail -1)
raw=$(grep -o 'eigen_raw_gflops=[0-9.]*' "$tmp/ours" | cut -d= -f2)
ours_gflops=$(grep -o 'gemm_gflops=[0-9.]*' "$tmp/ours" | cut -d= -f2 | sort -g | tail -1)
torch_best=$(printf '%s\n%s\n' "$td_best" "$tt_best" | sort -g | head -1)
echo
echo "== summary (seconds per epoch: best / median of $repeats)"
printf 'ours                          %8.3f / %8.3f\n' "$ours_best" "$ours_med"
printf 'pytorch default               %8.3f / %8.3f\n' "$td_best" "$td_med"
printf 'pytorch SkylakeX+PASSIVE      %8.3f / %8.3f\n' "$tt_best" "$tt_med"
awk -v o="$ours_best" -v t="$torch_best" 'BEGIN {printf "time ratio ours/pytorch-best  %8.3f   (target <= 0.5)\n", o / t}'
printf 'GEMM rate ours / eigen raw     %8s / %s GFLOP/s = %s   (target >= 0.6)\n' "$ours_gflops" "$raw" "$gemm"
