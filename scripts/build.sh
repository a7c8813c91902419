#!/usr/bin/env bash
# Configures and builds sibp (Release: -O3, native SIMD, OpenMP) into build/:
# the library, the command line BUILD_DIR/sibp and, when pybind11 and Python's
# headers are installed, the Python module in BUILD_DIR/python/sibp/.
# Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
#
# After building the Python module it makes `import sibp` work for Debian's
# /usr/bin/python3: it writes a one-line file sibp.pth holding BUILD_DIR/python
# into that interpreter's site-packages (/usr/local/lib/python3.11/dist-packages,
# or the user's site-packages when that folder is not writable). The last build
# directory built wins; delete the file to undo it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build"}
shift || true
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"

# Python: point Debian's python3 at the module just built.
python=/usr/bin/python3
if compgen -G "$build/python/sibp/_sibp*.so" >/dev/null && [ -x "$python" ]; then
  site=$("$python" -c 'import site; print(site.getsitepackages()[0])')
  if ! { mkdir -p "$site" 2>/dev/null && [ -w "$site" ]; }; then
    site=$("$python" -m site --user-site)
    mkdir -p "$site"
  fi
  pth="$site/sibp.pth"
  target=$(cd "$build/python" && pwd)
  if [ "$(cat "$pth" 2>/dev/null)" != "$target" ]; then
    echo "$target" >"$pth.tmp.$$" && mv "$pth.tmp.$$" "$pth"
    echo "build.sh: $pth -> $target (import sibp with $python)"
  fi
fi
