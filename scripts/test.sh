#!/usr/bin/env bash
# Installs what is needed, builds, and runs the whole test suite:
#   1. the Release build's tests (unit, golden, CLI end-to-end, real-data);
#   2. the unit and CLI tests again in a build with AddressSanitizer and
#      UndefinedBehaviorSanitizer (the real-data tests are left out there:
#      they exercise no code the small tests do not, at 10x the time).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)

bash scripts/install-deps.sh

echo "== Release build and tests"
bash scripts/build.sh "$root/build" -DBUILD_TESTING=ON -DSIBP_BUILD_BENCH=OFF
# Real-data tests fetch MNIST into the same folder the README's commands use.
export SIBP_DATA_DIR=${SIBP_DATA_DIR:-"$root/data"}
ctest --test-dir "$root/build" --output-on-failure -j"$jobs"

echo "== Sanitizer build (ASan + UBSan) and tests"
bash scripts/build.sh "$root/build-asan" -DBUILD_TESTING=ON -DSIBP_SANITIZE=ON -DSIBP_BUILD_BENCH=OFF
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  ctest --test-dir "$root/build-asan" --output-on-failure -j"$jobs" -E 'Real'
