#!/usr/bin/env bash
# The README's main command: installs what is needed, builds, fetches MNIST
# and runs the main job, the SIBP paper's MNIST experiments:
#   1. experiments/paper-mnist-sweep.json: each method's step over four
#      decades, 2 epochs each; the largest stable step (the paper's claim);
#   2. experiments/tune-mnist-b100.json: SGD, momentum, Adam, ProxProp and
#      SIBP tuned by one protocol on a validation split, then 3 seeds of
#      5 epochs at each chosen setting (the comparison);
#   3. experiments/paper-mnist.json: the authors' own settings and protocol
#      (batches drawn with replacement, 5 epochs, validation accuracy), 3 seeds,
#      test accuracy every 50 steps.
# Each writes a report with tables and plots (accuracy and training loss
# against epochs and against seconds, with the seeds' band). An interrupted
# run resumes where it stopped. Ends with the paths of the reports.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
bash scripts/build.sh "$root/build"
export SIBP_DATA_DIR=${SIBP_DATA_DIR:-"$root/data"}
build/sibp data fetch mnist
build/sibp sweep experiments/paper-mnist-sweep.json --out results/paper-mnist-sweep
build/sibp sweep experiments/tune-mnist-b100.json --out results/tune-mnist-b100
build/sibp compare experiments/paper-mnist.json --out results/paper-mnist
echo
echo "step-size sweep:          $root/results/paper-mnist-sweep/report.md"
echo "every method tuned alike: $root/results/tune-mnist-b100/report.md"
echo "the authors' protocol:    $root/results/paper-mnist/report.md"
