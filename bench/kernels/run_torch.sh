#!/usr/bin/env bash
# PyTorch's epoch of the reference CNN (bench_pytorch_cnn.py) at its best
# environment, float32 and bf16 autocast interleaved, then one profiled run
# of each. As root it runs in its own session with autogroup nice -19 (see
# run_all.sh), NOT at real-time priority: PyTorch under chrt -f 1 was 5-8×
# slower here (results/rt_pytorch).
#
# Usage: bench/kernels/run_torch.sh MNIST_DIR [OUT_DIR] [PROCESSES]
set -euo pipefail
if [[ $(id -u) == 0 && ${SIBP_BENCH_NICE:-1} != 0 ]]; then
  if [[ $(ps -o sid= -p $$ | tr -d ' ') != "$$" ]]; then exec setsid bash "$0" "$@"; fi
  renice -n -19 -p $$ >/dev/null
  [[ -w /proc/$$/autogroup ]] && echo -19 >"/proc/$$/autogroup"
fi
mnist=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${2:-"$root/bench/kernels/results"}
procs=${3:-2}
py="$root/bench/kernels/bench_pytorch_cnn.py"
torch_env=(env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE)
stamp() { echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"; }
mkdir -p "$out"
for ((r = 1; r <= procs; r++)); do
  { stamp; "${torch_env[@]}" /usr/bin/python3 "$py" --data "$mnist" --repeat 3; } >"$out/torch_f32_$r.txt" 2>&1
  { stamp; "${torch_env[@]}" /usr/bin/python3 "$py" --data "$mnist" --repeat 3 --bf16; } >"$out/torch_bf16_$r.txt" 2>&1
done
{ stamp; "${torch_env[@]}" /usr/bin/python3 "$py" --data "$mnist" --repeat 1 --batches 100 --profile 100; } >"$out/torch_f32_profile.txt" 2>&1
{ stamp; "${torch_env[@]}" /usr/bin/python3 "$py" --data "$mnist" --repeat 1 --batches 100 --bf16 --profile 100; } >"$out/torch_bf16_profile.txt" 2>&1
echo "done: $out"
