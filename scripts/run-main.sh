#!/usr/bin/env bash
# The README's main command: installs what is needed, builds, fetches MNIST
# and reproduces the paper's MNIST comparison in reduced form
# (experiments/quick-mnist.json: SGD, ProxProp, SIBP and Adam on 784-500-10),
# ending with the path of the report. An interrupted run resumes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
bash scripts/build.sh "$root/build"
export SIBP_DATA_DIR=${SIBP_DATA_DIR:-"$root/data"}
build/sibp data fetch mnist
build/sibp compare experiments/quick-mnist.json --out results/quick-mnist
echo
echo "report: $root/results/quick-mnist/report.md"
