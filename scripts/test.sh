#!/usr/bin/env bash
# The whole test suite, from a fresh clone, as root (README command 2; .ci/run calls it):
#   1. installs every Debian package the build and tests need (scripts/install-deps.sh);
#   2. builds ftpalg and its tests (build/);
#   3. runs the sanitizer build of the unit and golden tests (scripts/test-sanitizers.sh);
#   4. runs the assert-enabled Debug build of the unit and golden tests (scripts/test-debug.sh);
#   5. runs every fuzz target for a bounded time (scripts/fuzz.sh, FUZZ_SECONDS each);
#   6. runs every test through ctest: unit (no root needed), golden replay, repository checks
#      (style), end-to-end in network namespaces (root).
# Usage: sudo scripts/test.sh        Environment: FUZZ_SECONDS (default 30), FTPALG_BUILD_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)

step() { printf '\n=== %s ===\n' "$*"; }

step "dependencies"
bash scripts/install-deps.sh

step "build"
build=${FTPALG_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFTPALG_BENCH=OFF >/dev/null
cmake --build "$build" -j"$jobs"

step "sanitizers (ASan + UBSan): unit and golden tests"
bash scripts/test-sanitizers.sh

step "Debug build (assertions on): unit and golden tests"
DEBUG_JOBS=$jobs bash scripts/test-debug.sh

step "fuzzing (${FUZZ_SECONDS:-30} s per target)"
FUZZ_SECONDS=${FUZZ_SECONDS:-30} bash scripts/fuzz.sh

step "ctest: unit, golden, style, end-to-end"
ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 900
