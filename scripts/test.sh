#!/usr/bin/env bash
# Installs what is needed, builds in Release and runs the whole test suite
# (unit, golden, CLI end-to-end and real-data tests, and the Python module's
# pytest suite, python/tests, registered with CTest as `python_tests`, run
# with Debian's /usr/bin/python3). This is what CI runs.
#
#   bash scripts/test.sh              # Release build and every test
#   bash scripts/test.sh --sanitize   # then also an AddressSanitizer +
#                                     # UndefinedBehaviorSanitizer build and its tests
#
# The sanitizer pass is not in CI: its second full build of the Eigen-heavy
# sources would take CI past its 15-minute budget on 2 cores. Run it after
# changing code that manages memory or indexes buffers. It leaves out the
# real-data tests, which exercise no code the small tests do not, at 10x the time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)
sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    *) echo "scripts/test.sh: unknown argument '$arg' (expected --sanitize)" >&2; exit 2 ;;
  esac
done

bash scripts/install-deps.sh

echo "== Release build and tests"
bash scripts/build.sh "$root/build" -DBUILD_TESTING=ON -DSIBP_BUILD_BENCH=OFF
# Real-data tests fetch MNIST into the same folder the README's commands use.
export SIBP_DATA_DIR=${SIBP_DATA_DIR:-"$root/data"}
# The Python tests must run: CMake registers them only when pybind11,
# pytest and NumPy are there, which install-deps.sh provides.
if ! ctest --test-dir "$root/build" -N -R '^python_tests$' | grep -q 'Total Tests: 1'; then
  echo "scripts/test.sh: the Python tests are not registered (see the CMake output: pybind11-dev, python3-pytest)" >&2
  exit 1
fi
ctest --test-dir "$root/build" --output-on-failure -j"$jobs"

if [ "$sanitize" = 1 ]; then
  echo "== Sanitizer build (ASan + UBSan) and tests"
  bash scripts/build.sh "$root/build-asan" -DBUILD_TESTING=ON -DSIBP_SANITIZE=ON -DSIBP_BUILD_BENCH=OFF
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    ctest --test-dir "$root/build-asan" --output-on-failure -j"$jobs" -E 'Real'
fi
