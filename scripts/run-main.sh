#!/usr/bin/env bash
# The README's main command: installs what is needed, builds, fetches MNIST
# and trains the paper's 784-500-10 network with SGD, printing its results.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
bash scripts/build.sh "$root/build"
export SIBP_DATA_DIR=${SIBP_DATA_DIR:-"$root/data"}
build/sibp data fetch mnist
build/sibp train --data mnist --layers 784-500-10 --act relu --init normal:0.05 \
  --algo sgd --lr 0.1 --batch 100 --epochs 5 --seed 1 --out runs/sgd
build/sibp eval --model runs/sgd/model.safetensors --data mnist:test
