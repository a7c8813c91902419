#!/usr/bin/env bash
# Every measurement of REPORT.md, in order, raw output kept in OUT_DIR.
#
# Usage: bench/kernels/run_all.sh [BUILD_DIR] [OUT_DIR]
#   BUILD_DIR: a build configured with -DSIBP_BUILD_KERNEL_BENCH=ON (default ./build)
#   OUT_DIR:   default bench/kernels/results
# MNIST is read from $MNIST_DIR (default data/mnist). PyTorch runs with
# Debian's /usr/bin/python3 in its best environment (README, Performance).
# About 30 minutes on the 2-core machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-"$root/build"}
out=${2:-"$root/bench/kernels/results"}
mnist=${MNIST_DIR:-"$root/data/mnist"}
bin="$build/bench/kernels"
mkdir -p "$out"
stamp() { echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"; }
torch_env=(env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE)

{ stamp; "$bin/test_kernels" --gtest_brief=1; } >"$out/test_kernels.txt" 2>&1
{ stamp; "$bin/bench_gemm" --data "$mnist"; } >"$out/gemm_openblas_default_env.txt" 2>&1
{ stamp; "${torch_env[@]}" "$bin/bench_gemm" --data "$mnist"; } >"$out/gemm_openblas_skylakex.txt" 2>&1
for r in 1 2; do
  { stamp; "$bin/bench_conv" --threads 1 --order minor; } >"$out/conv_t1_minor_$r.txt" 2>&1
  { stamp; "$bin/bench_conv" --threads 1 --order minor --clock wall; } >"$out/conv_t1_minor_wall_$r.txt" 2>&1
  { stamp; "$bin/bench_conv" --threads 2 --order minor; } >"$out/conv_t2_pool_minor_$r.txt" 2>&1
done
{ stamp; "$bin/bench_conv" --threads 1 --order major --skip-dnnl; } >"$out/conv_t1_major.txt" 2>&1
{ stamp; "$bin/bench_conv" --threads 2 --order minor --eigen-omp --skip-dnnl; } >"$out/conv_t2_eigenomp_minor.txt" 2>&1
{ stamp; bash "$root/bench/kernels/run_threads.sh" "$bin/bench_threads" 5; } >"$out/threads.txt" 2>&1
py="$root/bench/kernels/bench_pytorch_cnn.py"
for r in 1 2; do
  { stamp; "${torch_env[@]}" /usr/bin/python3 "$py" --data "$mnist" --repeat 3; } >"$out/torch_f32_$r.txt" 2>&1
  { stamp; "${torch_env[@]}" /usr/bin/python3 "$py" --data "$mnist" --repeat 3 --bf16; } >"$out/torch_bf16_$r.txt" 2>&1
done
{ stamp; "${torch_env[@]}" /usr/bin/python3 "$py" --data "$mnist" --repeat 3 --channels-last; } >"$out/torch_f32_channels_last.txt" 2>&1
{ stamp; "${torch_env[@]}" /usr/bin/python3 "$py" --data "$mnist" --repeat 1 --batches 100 --profile 100; } >"$out/torch_f32_profile.txt" 2>&1
{ stamp; "${torch_env[@]}" /usr/bin/python3 "$py" --data "$mnist" --repeat 1 --batches 100 --bf16 --profile 100; } >"$out/torch_bf16_profile.txt" 2>&1
echo "done: $out"
