# Shared preamble of the bench/run_*.sh scripts; source it, do not run it:
#
#   source "$(dirname "$0")/lib.sh"
#
# It sets `root` (the repository) and defines the helpers below. The scripts
# time things on a shared machine, so every helper that measures prints or
# keeps the load average with its numbers.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The name scripts use in their messages ("run_cost_grid: ...").
bench_name=$(basename "$0" .sh)

bench_die() {  # MESSAGE: print it on stderr and exit 2
  echo "$bench_name: $*" >&2
  exit 2
}

# bench_nice "$@": as root (and unless SIBP_BENCH_NICE=0), re-run the calling
# script in a session of its own whose scheduler autogroup has nice -19, so
# that other sessions' compile jobs take little CPU while it measures (with
# autogroups a plain `nice` ranks processes only within one session).
bench_nice() {
  [[ $(id -u) == 0 && ${SIBP_BENCH_NICE:-1} != 0 ]] || return 0
  if [[ $(ps -o sid= -p $$ | tr -d ' ') != "$$" ]]; then exec setsid bash "$0" "$@"; fi
  renice -n -19 -p $$ >/dev/null
  if [[ -w /proc/$$/autogroup ]]; then echo -19 >"/proc/$$/autogroup"; fi
}

# bench_packages PACKAGE...: install the Debian packages that are missing
# (benchmarks need a few that building and testing do not).
bench_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  [[ $(id -u) == 0 ]] || bench_die "needs apt-get install ${missing[*]} (run as root)"
  echo "$bench_name: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# bench_build BUILD_DIR TARGET...: install the build's dependencies (Google
# Benchmark included, scripts/install-deps.sh), configure BUILD_DIR with the
# benchmarks (-DSIBP_BUILD_BENCH=ON; they are off by default) and build TARGETs.
bench_build() {
  local build=$1
  shift
  bash "$root/scripts/install-deps.sh" >&2
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSIBP_BUILD_BENCH=ON >/dev/null
  cmake --build "$build" -j"$(nproc)" --target "$@" >&2
}

# PyTorch from Debian uses the system BLAS: without OpenBLAS it runs on the
# reference BLAS, 25x slower here, which would flatter us. `pytorch_env` is the
# prefix of PyTorch's best measured setting (OpenBLAS's SkylakeX kernels,
# passive OpenMP waiting).
bench_pytorch() {
  bench_packages libopenblas0-pthread python3-torch
}
pytorch_env=(env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE)

# bench_tmp: a temporary folder in $tmp, removed (with a running busy loop) on exit.
tmp=""
busy_pid=""
bench_cleanup() {
  bench_unbusy
  if [[ -n "$tmp" ]]; then rm -rf "$tmp"; fi
}
bench_tmp() {
  tmp=$(mktemp -d)
  trap bench_cleanup EXIT
}

# bench_busy / bench_unbusy: a busy loop on another core, bounded in time so
# that it cannot outlive the script.
bench_busy() {
  timeout 3600 sh -c 'while :; do :; done' &
  busy_pid=$!
}
bench_unbusy() {
  [[ -n "$busy_pid" ]] || return 0
  kill "$busy_pid" 2>/dev/null || true
  wait "$busy_pid" 2>/dev/null || true
  busy_pid=""
}

load() { cut -d' ' -f1-3 /proc/loadavg; }

# best_median [FILE]: "best median" (minimum and median, %.4g) of the numbers,
# one a line, in FILE or on stdin.
best_median() {
  sort -g "${1:-/dev/stdin}" | awk '{v[NR]=$1} END {m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "%.4f %.4f\n", v[1], m}'
}

# median NUMBER...: the median of the arguments.
median() { printf '%s\n' "$@" | best_median | cut -d' ' -f2; }

# key_values KEY [FILE]: the values of every KEY=value in FILE (or stdin), one a line.
key_values() { grep -o "$1=[0-9.e+-]*" "${2:-/dev/stdin}" | cut -d= -f2; }

# result_seconds RUN_DIR: the training seconds per epoch `sibp train` recorded.
result_seconds() {
  /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds_per_epoch"])' "$1/result.json"
}

# mnist_dir: the MNIST folder ($MNIST_DIR, else $SIBP_DATA_DIR/mnist, else data/mnist).
mnist_dir() {
  local d
  for d in "${MNIST_DIR:-}" "${SIBP_DATA_DIR:+$SIBP_DATA_DIR/mnist}" "$root/data/mnist"; do
    if [[ -n "$d" && -d "$d" ]]; then echo "$d"; return 0; fi
  done
  bench_die "no MNIST folder (set MNIST_DIR, or run build/sibp data fetch mnist)"
}
