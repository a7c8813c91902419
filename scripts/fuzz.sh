#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ with clang (ASan + UBSan) into
# build-fuzz/ and runs each for SECONDS (default 60). Exits non-zero if any
# harness found a crash, a timeout, a leak, an out-of-memory or a sanitizer
# report; the input that did it is saved as build-fuzz/artifacts/<harness>-*.
#
#   bash scripts/fuzz.sh [--quick] [--tests] [SECONDS_PER_HARNESS] [HARNESS...]
#
# Only the named harnesses are built (all of them when none is named).
# --quick: only the harnesses that link nothing beyond core, data, nn and io
# (the `// fuzz-link:` line of fuzz_<name>.cpp), so the Eigen-heavy training
# and experiment code is not compiled.
# --tests: the same build also compiles the tests of core, data and io and
# the seed replays (target sanitizer_quick) and runs them with ctest (labels
# core, data, io, fuzz) before fuzzing: one clang build instrumented for
# ASan + UBSan + libFuzzer serves the sanitizer pass and the fuzzing. This is
# what CI runs (scripts/test.sh: --quick --tests into build-asan/).
# SECONDS_PER_HARNESS 0 builds (and with --tests, tests) without fuzzing.
#
# Environment: FUZZ_JOBS=N runs N harnesses at once (default 1); FUZZ_DIR
# overrides build-fuzz. New inputs that reach new code are kept in
# build-fuzz/corpus/<harness>/ (the seeds in fuzz/corpus/ are only read).
# The last line of each harness's log (build-fuzz/logs/<harness>.log) gives
# its executions and corpus size; fuzz/README.md records the runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
quick=0
tests=0
while [[ "${1:-}" == --* ]]; do
  case "$1" in
    --quick) quick=1 ;;
    --tests) tests=1 ;;
    *) echo "scripts/fuzz.sh: unknown option '$1' (expected --quick or --tests)" >&2; exit 2 ;;
  esac
  shift
done
seconds=${1:-60}
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "scripts/fuzz.sh: expected a number of seconds per harness, got '$seconds'" >&2
  exit 2
fi
shift || true
build=${FUZZ_DIR:-"$root/build-fuzz"}
jobs=${FUZZ_JOBS:-1}

# True when fuzz/fuzz_$1.cpp links only the four lower modules (as
# fuzz/CMakeLists.txt decides which seed replays the quick sanitizer pass runs).
is_quick() {
  local libs lib
  libs=$(sed -n 's|^// fuzz-link:||p' "fuzz/fuzz_$1.cpp" | head -1)
  for lib in ${libs:-sibp_core}; do
    case "$lib" in
      sibp_core | sibp_data | sibp_nn | sibp_io) ;;
      *) return 1 ;;
    esac
  done
}

if (($# > 0)); then
  harnesses=("$@")
else
  harnesses=()
  for f in fuzz/fuzz_*.cpp; do
    n=$(basename "$f" .cpp)
    harnesses+=("${n#fuzz_}")
  done
fi
targets=()
selected=()
for name in "${harnesses[@]}"; do
  if [[ ! -f "fuzz/fuzz_$name.cpp" ]]; then
    echo "scripts/fuzz.sh: no harness '$name' (expected fuzz/fuzz_$name.cpp)" >&2
    exit 2
  fi
  if ((quick)) && ! is_quick "$name"; then
    echo "fuzz: $name: skipped (--quick; it links the training code, its seeds are replayed by ctest)"
    continue
  fi
  selected+=("$name")
  targets+=("fuzz_$name")
done
harnesses=("${selected[@]}")

bash scripts/install-deps.sh
# LeakSanitizer ignores Open MPI's own never-freed allocations, nothing else
# (scripts/lsan.supp); scripts/test.sh sets the same for the full pass.
# (The harnesses use no MPI: the fast unwinder is enough; scripts/lsan.supp.)
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/scripts/lsan.supp:print_suppressions=0}
# BUILD_TESTING=ON so that --tests and a plain run can share one build folder;
# only the named targets are compiled either way.
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++-14 \
  -DSIBP_FUZZ=ON -DBUILD_TESTING=ON -DSIBP_BUILD_BENCH=OFF -DSIBP_PCH=OFF -DSIBP_PYTHON=OFF >/dev/null
if ((tests)); then
  # Every quick harness at once: one target that also holds the tests.
  if ((quick)) && (($# == 0)); then targets=(sanitizer_fuzz_quick); else targets+=(sanitizer_quick); fi
fi
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"

if ((tests)); then
  echo "fuzz: tests of core, data and io and the seed corpora, under ASan + UBSan"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    ctest --test-dir "$build" --output-on-failure -j"$(nproc)" -L '^(core|data|io|fuzz)$' -E 'Real'
fi
if ((seconds == 0)); then
  echo "fuzz: built; no fuzzing (0 seconds)"
  exit 0
fi

# Longest input per harness: a few records or tensors, enough for every
# branch; longer inputs only slow the search down.
max_len() {
  case "$1" in
    cifar10) echo 10000 ;;    # three 3073-byte records and a bit
    safetensors | idx) echo 8192 ;;
    data_spec) echo 256 ;;
    *) echo 4096 ;;
  esac
}

mkdir -p "$build/artifacts" "$build/logs"
run_one() {
  local name=$1 bin="$build/fuzz/fuzz_$1" corpus="$build/corpus/$1" log="$build/logs/$1.log"
  local dict=() args=()
  [[ -x "$bin" ]] || { echo "fuzz: no harness '$name' ($bin)" >&2; return 2; }
  mkdir -p "$corpus"
  [[ -f "fuzz/dict/$name.dict" ]] && dict=(-dict="fuzz/dict/$name.dict")
  args=(-max_total_time="$seconds" -max_len="$(max_len "$name")" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$build/artifacts/$name-" "${dict[@]}")
  local status=0
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$bin" "${args[@]}" "$corpus" "fuzz/corpus/$name" >"$log" 2>&1 || status=$?
  local execs units
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  units=$(find "$corpus" -type f | wc -l)
  if ((status == 0)); then
    echo "fuzz: $name: ok, ${seconds} s, ${execs:-?} executions, corpus $units new + $(find "fuzz/corpus/$name" -type f | wc -l) seeds"
  else
    echo "fuzz: $name: FAILED (exit $status), see $log and $build/artifacts/$name-*" >&2
    grep -E "ERROR|SUMMARY|runtime error|Timeout|leak|out-of-memory" "$log" | head -5 >&2 || true
  fi
  return $status
}

failed=0
pids=()
for name in "${harnesses[@]}"; do
  run_one "$name" &
  pids+=($!)
  if ((${#pids[@]} >= jobs)); then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do
  wait "$pid" || failed=1
done
if ((failed)); then
  echo "fuzz: at least one harness failed" >&2
  exit 1
fi
echo "fuzz: every harness ran ${seconds} s without a finding"
