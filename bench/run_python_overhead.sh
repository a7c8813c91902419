#!/usr/bin/env bash
# Calling overhead of the Python module: seconds per epoch of `sibp train` and of
# `sibp.fit` from Python on the same run (MNIST 784-500-10, ReLU, normal:0.05,
# batch 100, seed 1, one thread), in turn, REPEATS pairs; prints every pair, the
# medians and the ratio Python / CLI (target <= 1.05).
#
# Both report the seconds of training that the run itself measures (the
# `seconds` column of metrics.csv at the last epoch end, over the epochs: what
# result.json calls seconds_per_epoch), so start-up and data loading, which
# Python does differently (NumPy arrays), are left out on both sides.
#
# Usage: bench/run_python_overhead.sh [BUILD_DIR] [REPEATS] [ALGO] [EPOCHS]
#   BUILD_DIR defaults to ./build (the CLI and BUILD_DIR/python/sibp, built here);
#   REPEATS 3, ALGO sgd (any --algo), EPOCHS 1. MNIST must have been fetched
#   (bash scripts/run-main.sh, or build/sibp data fetch mnist).
# Not run by CI: timings on a shared machine; read the ratio, whose two sides
# run back to back.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build=${1:-"$root/build"}
repeats=${2:-3}
algo=${3:-sgd}
epochs=${4:-1}
export SIBP_DATA_DIR=${SIBP_DATA_DIR:-"$root/data"}
bench_build "$build" sibp sibp_python
build=$(cd "$build" && pwd)
bench_tmp

cli_epoch() {
  rm -rf "$tmp/cli"
  "$build/sibp" train --data mnist --layers 784-500-10 --act relu --init normal:0.05 --algo "$algo" \
    --epochs "$epochs" --batch 100 --seed 1 --threads 1 --out "$tmp/cli" >/dev/null
  result_seconds "$tmp/cli"
}

py_epoch() {
  PYTHONPATH="$build/python" /usr/bin/python3 - "$algo" "$epochs" <<'EOF'
import sys
import sibp
algo, epochs = sys.argv[1], int(sys.argv[2])
X, y, Xt, yt = sibp.datasets.load("mnist")
net = sibp.Network("784-500-10", act="relu", init="normal:0.05", seed=1)
hist = sibp.fit(net, sibp.algorithms.by_name(algo), X, y, epochs=epochs, batch=100, seed=1, threads=1,
                test_data=(Xt, yt))
print(hist.seconds_per_epoch)
EOF
}

cli=() py=()
for ((i = 1; i <= repeats; ++i)); do
  c=$(cli_epoch)
  p=$(py_epoch)
  cli+=("$c") py+=("$p")
  echo "pair $i: CLI $c s/epoch, Python $p s/epoch"
done
mc=$(median "${cli[@]}")
mp=$(median "${py[@]}")
awk -v c="$mc" -v p="$mp" -v a="$algo" 'BEGIN {printf "%s: median CLI %.3f s/epoch, Python %.3f s/epoch, Python/CLI %.3f (target <= 1.05)\n", a, c, p, p / c}'
