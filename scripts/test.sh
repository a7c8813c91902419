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
# The quick sanitizer pass (default) is one clang build (build-asan/) with
# AddressSanitizer + UndefinedBehaviorSanitizer and libFuzzer's coverage
# instrumentation of the modules that parse files -- core, data, nn, io --
# (scripts/fuzz.sh --quick --tests): it runs their tests and every harness's
# seed corpus, then fuzzes each harness that links only those modules for
# SIBP_CI_FUZZ_SECONDS seconds (default 5; 0 builds and tests without
# fuzzing), two at a time. The harnesses of config.json and experiment files
# link the training code; their corpora are replayed in the Release tests
# (fuzz_seeds_config, fuzz_seeds_experiment) and they are fuzzed by hand
# (fuzz/README.md).
#
# The full pass (--sanitize) builds everything with gcc, ASan and UBSan
# (build-asan-full/), a second full build of the Eigen-heavy training code
# (about 12 minutes on 2 cores), and runs every test but the real-data ones,
# which exercise no code the small tests do not, at 10x the time. Run it
# after changing code that manages memory or indexes buffers.
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
# So must the data-parallel tests (mpirun -np 2 and 3): CMake registers them
# only when it finds Open MPI, which install-deps.sh provides.
if ! ctest --test-dir "$root/build" -N -R '^mpi_' | grep -q 'Total Tests: [1-9]'; then
  echo "scripts/test.sh: the MPI tests are not registered (see the CMake output: libopenmpi-dev, openmpi-bin)" >&2
  exit 1
fi
ctest --test-dir "$root/build" --output-on-failure -j"$jobs"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Open MPI's own never-freed allocations (scripts/lsan.supp says which, and why
# a leak of sibp's code under MPI is still reported); scripts/fuzz.sh sets the same.
# The suppressions match by library, so the stacks of the MPI tests (full pass
# only) must name them: Open MPI's plugins kept mapped until exit (dlclosed,
# their frames are "<unknown module>") and, below, the slow unwinder (Open MPI
# is built without frame pointers), which the quick pass, with no MPI test,
# does not pay for.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/scripts/lsan.supp:print_suppressions=0}
export OMPI_MCA_mca_base_component_disable_dlclose=${OMPI_MCA_mca_base_component_disable_dlclose:-1}
if [ "$sanitize" = quick ]; then
  # One clang build with ASan + UBSan + libFuzzer's coverage instrumentation
  # serves both the tests and the fuzzing (scripts/fuzz.sh --tests).
  fuzz_seconds=${SIBP_CI_FUZZ_SECONDS:-5}
  echo "== Sanitizer pass (clang, ASan + UBSan) of core, data, nn, io: their tests, the fuzz seed corpora, then each harness fuzzed ${fuzz_seconds} s"
  FUZZ_DIR="$root/build-asan" FUZZ_JOBS=${FUZZ_JOBS:-$jobs} bash scripts/fuzz.sh --quick --tests "$fuzz_seconds"
else
  echo "== Sanitizer build (gcc, ASan + UBSan) of everything, and its tests"
  cmake -S "$root" -B "$root/build-asan-full" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON -DSIBP_SANITIZE=ON \
    -DSIBP_BUILD_BENCH=OFF >/dev/null
  cmake --build "$root/build-asan-full" -j"$jobs"
  export LSAN_OPTIONS="$LSAN_OPTIONS:fast_unwind_on_malloc=0"
  ctest --test-dir "$root/build-asan-full" --output-on-failure -j"$jobs" -E 'Real'
fi
