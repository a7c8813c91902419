#!/usr/bin/env bash
# Installs what is needed, builds in Release and runs the whole test suite
# (unit, golden, CLI end-to-end and real-data tests, and the Python module's
# pytest suite, python/tests, registered with CTest as `python_tests`, run
# with Debian's /usr/bin/python3), then the quick sanitizer pass. This is
# what CI runs.
#
#   bash scripts/test.sh              # Release build and every test, then the
#                                     # quick sanitizer pass
#   bash scripts/test.sh --sanitize   # the full sanitizer pass instead of the quick one
#
# Sanitizer passes build with AddressSanitizer + UndefinedBehaviorSanitizer
# into build-asan/. The quick pass (default) builds only the modules that
# parse files -- core, data, nn, io -- with their tests and the fuzz seed
# corpora (target sanitizer_quick), and runs those: every reader of untrusted
# input, checked for memory and undefined-behaviour errors on every CI run at
# a few minutes' cost. The full pass (--sanitize) builds everything, a second
# full build of the Eigen-heavy training code (about 12 minutes on 2 cores),
# and runs every test but the real-data ones, which exercise no code the
# small tests do not, at 10x the time. Run it after changing code that
# manages memory or indexes buffers.
#
# Last, every fuzz harness that links only core, data, nn and io runs for
# SIBP_CI_FUZZ_SECONDS (default 10; 0 skips it) seconds from its seed corpus, two at a
# time (scripts/fuzz.sh --quick: clang, ASan + UBSan, build-fuzz/). The
# harnesses of config.json and experiment files link the training code and
# are only replayed over their corpora (fuzz_seeds_config and
# fuzz_seeds_experiment in the Release tests); fuzz/README.md says why.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)
sanitize=quick
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=full ;;
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

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cmake -S "$root" -B "$root/build-asan" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON -DSIBP_SANITIZE=ON \
  -DSIBP_BUILD_BENCH=OFF >/dev/null
if [ "$sanitize" = quick ]; then
  echo "== Sanitizer build (ASan + UBSan) of core, data, nn, io: their tests and the fuzz seed corpora"
  cmake --build "$root/build-asan" -j"$jobs" --target sanitizer_quick
  ctest --test-dir "$root/build-asan" --output-on-failure -j"$jobs" -L '^(core|data|io|fuzz)$' -E 'Real'
else
  echo "== Sanitizer build (ASan + UBSan) of everything, and its tests"
  cmake --build "$root/build-asan" -j"$jobs"
  ctest --test-dir "$root/build-asan" --output-on-failure -j"$jobs" -E 'Real'
fi

# Off by default: on a fresh 2-core machine the Release build and tests took
# 13.8 min and the quick sanitizer pass 5.8 min (2026-12-02), so the clang
# build of the fuzz harnesses would take CI past its 20 minutes; the seed
# corpora still run under ASan and UBSan above. SIBP_CI_FUZZ_SECONDS=10 adds
# the short fuzzing runs (fuzz/README.md, "In CI").
fuzz_seconds=${SIBP_CI_FUZZ_SECONDS:-0}
if [[ "$fuzz_seconds" == 0 ]]; then
  echo "== Fuzzing skipped (SIBP_CI_FUZZ_SECONDS=10 runs each harness of the lower modules for 10 s)"
else
  echo "== Fuzzing: each harness of the lower modules for ${fuzz_seconds} s (fuzz/README.md)"
  FUZZ_JOBS=${FUZZ_JOBS:-$jobs} bash scripts/fuzz.sh --quick "$fuzz_seconds"
fi
