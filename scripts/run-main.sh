#!/usr/bin/env bash
# The README's main command: installs what is needed, builds, fetches MNIST
# and reproduces the SIBP paper's MNIST experiments:
#   1. experiments/paper-mnist-sweep.json: each method's step size over four
#      decades, 2 epochs each; the largest stable step (the paper's claim);
#   2. experiments/paper-mnist.json: SGD, ProxProp, SIBP (authors' and tuned
#      steps, reference and default solvers) and Adam on 784-500-10, 3 seeds,
#      10 epochs, with curves, min-max bands and the report.
# About 15 minutes of training on one core after the build. An interrupted
# run resumes where it stopped. Ends with the paths of the two reports.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
bash scripts/build.sh "$root/build"
export SIBP_DATA_DIR=${SIBP_DATA_DIR:-"$root/data"}
build/sibp data fetch mnist
build/sibp sweep experiments/paper-mnist-sweep.json --out results/paper-mnist-sweep
build/sibp compare experiments/paper-mnist.json --out results/paper-mnist
echo
echo "step-size sweep: $root/results/paper-mnist-sweep/report.md"
echo "report:          $root/results/paper-mnist/report.md"
