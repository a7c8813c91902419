#!/usr/bin/env bash
# Data-parallel scaling (ALGORITHMS.md §6, README "Across processes"): the
# epoch time of `sibp train` with R = 1 process and with R = 2 processes
# (`mpirun -np 2`), one thread per process (--threads 1), for SGD and SIBP
# (default solvers) on
#
#   mlp  MNIST 784-500-10 (relu), batch 100, all 60,000 training images;
#   cnn  the MNIST CNN of experiments/cnn-mnist.json
#        (conv(16,5,pad=2) relu maxpool(2) conv(32,5,pad=2) relu maxpool(2)
#        dense(128) relu dense(10), He init, batch 100) on its first
#        TRAIN_SUBSET (default 10,000) training images;
#
# float32, one epoch per run, evaluation only at the end (not timed). The
# epoch time is result.json's seconds_per_epoch (rank 0's wall time of the
# training steps, collectives included). The R = 1 and R = 2 runs of one
# configuration alternate, REPEATS (default 3) times; the speed-up is the median
# of the per-repeat ratios t(R=1)/t(R=2), the efficiency speed-up / 2. The
# communication volume per step is what `sibp train` prints (rank 0's
# allreduce/allgather payload, and the number of collectives).
#
# Usage: bench/run_mpi_scaling.sh [BUILD_DIR] [REPEATS] [TRAIN_SUBSET]
#   MNIST from $SIBP_DATA_DIR (else ./data). Prints `uptime` before and after:
#   the machine is shared, and a busy core slows one rank and so both.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build=${1:-"$root/build"}
repeats=${2:-3}
subset=${3:-10000}
bench_build "$build" sibp
sibp="$build/sibp"
mpirun=$(command -v mpirun) || bench_die "needs mpirun (scripts/install-deps.sh installs openmpi-bin)"
export SIBP_DATA_DIR=${SIBP_DATA_DIR:-"$root/data"}
bench_tmp

cnn_arch='conv(16,5,pad=2) relu maxpool(2) conv(32,5,pad=2) relu maxpool(2) dense(128) relu dense(10)'
common=(train --data mnist --epochs 1 --batch 100 --threads 1 --seed 1 --test-subset 1000)

# run R NAME ARGS... -> prints "seconds comm-line"
run() {
  local R=$1 name=$2; shift 2
  local out="$tmp/$name-$R" log
  rm -rf "$out"
  if [[ $R -eq 1 ]]; then
    log=$("$sibp" "${common[@]}" --out "$out" "$@")
  else
    log=$("$mpirun" --allow-run-as-root --oversubscribe --bind-to none -np "$R" "$sibp" "${common[@]}" --out "$out" "$@")
  fi
  local secs
  secs=$(result_seconds "$out")
  local comm
  comm=$(grep "^processes:" <<<"$log" || true)
  echo "$secs|$comm"
}

echo "uptime before: $(uptime)"
printf '%-9s %-5s %10s %10s %8s %6s   %s\n' model algo "t(R=1) s" "t(R=2) s" speedup eff "per step at R=2"
for model in mlp cnn; do
  for algo in sgd sibp; do
    if [[ $model == mlp ]]; then margs=(--layers 784-500-10 --act relu); else margs=(--arch "$cnn_arch" --init he --train-subset "$subset"); fi
    if [[ $algo == sgd ]]; then aargs=(--algo sgd --lr 0.1); else aargs=(--algo sibp --eta 1); fi
    t1s=(); t2s=(); ratios=(); comm=""
    for ((i = 0; i < repeats; i++)); do
      r1=$(run 1 "$model-$algo" "${margs[@]}" "${aargs[@]}")
      r2=$(run 2 "$model-$algo" "${margs[@]}" "${aargs[@]}")
      t1=${r1%%|*}; t2=${r2%%|*}; comm=${r2#*|}
      t1s+=("$t1"); t2s+=("$t2")
      ratios+=("$(/usr/bin/python3 -c "print($t1/$t2)")")
    done
    /usr/bin/python3 - "$model" "$algo" "${#t1s[@]}" "${t1s[@]}" "${t2s[@]}" "${ratios[@]}" "$comm" <<'PY'
import statistics, sys
model, algo, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
v = sys.argv[4:]
t1 = [float(x) for x in v[:n]]; t2 = [float(x) for x in v[n:2 * n]]; r = [float(x) for x in v[2 * n:3 * n]]
comm = v[3 * n].replace("processes: 2; per step: ", "")
s = statistics.median(r)
print("%-9s %-5s %10.2f %10.2f %8.2f %6.2f   %s" % (model, algo, statistics.median(t1), statistics.median(t2), s, s / 2, comm))
print("          ratios of the %d repeats: %s" % (n, " ".join("%.2f" % x for x in r)))
PY
  done
done
echo "uptime after: $(uptime)"
