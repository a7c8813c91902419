#!/usr/bin/env bash
# Every measurement of REPORT.md, in order, raw output kept in OUT_DIR.
#
# Usage: bench/kernels/run_all.sh [BUILD_DIR] [OUT_DIR]
#   BUILD_DIR: a build configured with -DSIBP_BUILD_KERNEL_BENCH=ON (default ./build)
#   OUT_DIR:   default bench/kernels/results
# MNIST is read from $MNIST_DIR (default data/mnist). PyTorch runs with
# Debian's /usr/bin/python3 in its best environment (README, Performance).
# About 30 minutes on the 2-core machine.
#
# The machine is shared with other builds. As root the script runs in a
# session of its own and gives its scheduler autogroup (and so every
# benchmark and busy loop it starts) nice -19, so that other sessions'
# compile jobs take little CPU while it measures (with autogroups, a plain
# `nice` would only rank processes within one session); set
# SIBP_BENCH_NICE=0 to measure at normal priority.
#
# SIBP_BENCH_RT=1 (root) also runs every idle-machine measurement at
# real-time priority (chrt -f 1), PyTorch included: with other sessions'
# builds on both cores that is the only way to measure "idle" at all (a
# woken thread preempts them at once). Busy-core runs stay at normal priority.
set -euo pipefail
rt=()
[[ ${SIBP_BENCH_RT:-0} == 1 ]] && rt=(chrt -f 1)
export SIBP_BENCH_RT
if [[ $(id -u) == 0 && ${SIBP_BENCH_NICE:-1} != 0 ]]; then
  if [[ $(ps -o sid= -p $$ | tr -d ' ') != "$$" ]]; then exec setsid bash "$0" "$@"; fi
  renice -n -19 -p $$ >/dev/null
  [[ -w /proc/$$/autogroup ]] && echo -19 >"/proc/$$/autogroup"
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-"$root/build"}
out=${2:-"$root/bench/kernels/results"}
mnist=${MNIST_DIR:-"$root/data/mnist"}
bin="$build/bench/kernels"
mkdir -p "$out"
stamp() { echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"; }
torch_env=(env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE)

{ stamp; "$bin/test_kernels" --gtest_brief=1 || echo "TESTS FAILED"; } >"$out/test_kernels.txt" 2>&1
{ stamp; "${rt[@]}" "$bin/bench_gemm" --data "$mnist"; } >"$out/gemm_openblas_default_env.txt" 2>&1
{ stamp; "${torch_env[@]}" "$bin/bench_gemm" --data "$mnist"; } >"$out/gemm_openblas_skylakex.txt" 2>&1
{ stamp; "${rt[@]}" "$bin/bench_conv" --threads 1 --order minor; } >"$out/conv_t1_minor.txt" 2>&1
for r in 1 2; do
  { stamp; "${rt[@]}" "$bin/bench_conv" --threads 1 --order minor --clock wall; } >"$out/conv_t1_minor_wall_$r.txt" 2>&1
  { stamp; "${rt[@]}" "$bin/bench_conv" --threads 2 --order minor; } >"$out/conv_t2_pool_minor_$r.txt" 2>&1
done
{ stamp; "${rt[@]}" "$bin/bench_conv" --threads 1 --order major --skip-dnnl; } >"$out/conv_t1_major.txt" 2>&1
{ stamp; "${rt[@]}" "$bin/bench_conv" --threads 2 --order minor --eigen-omp --skip-dnnl; } >"$out/conv_t2_eigenomp_minor.txt" 2>&1
{ stamp; bash "$root/bench/kernels/run_threads.sh" "$bin/bench_threads" 3; } >"$out/threads.txt" 2>&1
{ stamp; bash "$root/bench/kernels/run_cnn_busy.sh" "$bin/bench_conv" 3; } >"$out/cnn_busy.txt" 2>&1
# PyTorch at normal (not real-time) priority: see run_torch.sh.
SIBP_BENCH_NICE=0 bash "$root/bench/kernels/run_torch.sh" "$mnist" "$out" 2
echo "done: $out"
