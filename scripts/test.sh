#!/usr/bin/env bash
# The whole test suite, from a fresh clone, as root: installs dependencies, builds, runs every
# test through ctest (unit, golden replay, end-to-end in network namespaces).
# Usage: sudo scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/install-deps.sh

build=${FTPALG_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 900
