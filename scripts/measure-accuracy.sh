#!/usr/bin/env bash
# The accuracy runs of docs/performance.md's "Measured results" (MNIST 784-500-10, ReLU,
# normal:0.05, batch 100, seed 1, one thread). Each prints its final metrics
# row; every run's outputs are in results/accuracy/NAME/.
# Usage: scripts/measure-accuracy.sh   (after scripts/run-main.sh or build + fetch)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
B="$root/build/sibp"
out="$root/results/accuracy"
mkdir -p "$out"
export SIBP_DATA_DIR=${SIBP_DATA_DIR:-"$root/data"}
run() {
  name=$1; shift
  "$B" train --data mnist --layers 784-500-10 --batch 100 --seed 1 --threads 1 "$@" --out "$out/$name" > "$out/$name.log" 2>&1
  echo "$name rc=$? $(tail -3 "$out/$name.log" | head -1)"
}
run sgd01 --algo sgd --lr 0.1 --epochs 5
run sgd05 --algo sgd --lr 0.5 --epochs 5
run adam --algo adam --lr 1e-3 --epochs 5
run sibp_authors --algo sibp --solver reference --compat authors --epochs 3
run sibp_ref --algo sibp --solver reference --epochs 3
run sibp_gnexact --algo sibp --solver exact:gn-exact --epochs 3
run sibp_gncg --algo sibp --solver exact:gn-cg --epochs 3
run pp_nest --algo proxprop --tau 0.05 --prox-solver cg --prox-iters 3 --lr 1 --momentum 0.95 --nesterov --epochs 5
run pp_sgd --algo proxprop --tau 0.05 --prox-solver cg --prox-iters 3 --lr 1 --epochs 5
for eta in 0.1 0.3 1 3 10; do run eta_$eta --algo sibp --solver exact:gn-cg --eta $eta --lambda 1 --epochs 1; done
for eta in 0.1 0.3 1 3 10; do run etaref_$eta --algo sibp --solver reference --eta $eta --lambda 1 --epochs 1; done
