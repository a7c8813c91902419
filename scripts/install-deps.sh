#!/usr/bin/env bash
# Installs every Debian package that building, testing, fetching data,
# plotting and fuzzing (clang-14 with libFuzzer, scripts/fuzz.sh) need.
# Idempotent: does nothing when all are present.
# Runs as root (or through sudo when available).
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libeigen3-dev libcli11-dev nlohmann-json3-dev zlib1g-dev libdnnl-dev
  libopenmpi-dev openmpi-bin
  libgtest-dev libgmock-dev libbenchmark-dev
  gnuplot-nox
  clang-14 libfuzzer-14-dev libclang-rt-14-dev libomp-14-dev
  dataset-fashion-mnist
  python3 python3-numpy python3-torch
  python3-dev pybind11-dev python3-pytest python3-hypothesis python3-matplotlib
  nodejs npm ca-certificates coreutils tar gzip
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # npm may come from a Node.js install that is not Debian's package.
    if [[ "$p" == npm || "$p" == nodejs ]] && command -v npm >/dev/null && command -v node >/dev/null; then
      continue
    fi
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root (needs apt-get install ${missing[*]})" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
