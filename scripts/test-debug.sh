#!/usr/bin/env bash
# Assert-enabled build (CMAKE_BUILD_TYPE=Debug: no NDEBUG, so every assert() in the code runs) of
# ftpalg and its unit and golden tests, then those tests through ctest. An assert that fires fails
# the test that triggered it. Warnings are errors here as in every build.
#
# Usage: scripts/test-debug.sh
# Environment: DEBUG_BUILD_DIR (default build-debug/ in the repository), DEBUG_JOBS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${DEBUG_BUILD_DIR:-build-debug}
jobs=${DEBUG_JOBS:-2}

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DFTPALG_BENCH=OFF >/dev/null
# Only what the unit and golden tests need (not the e2e tests).
cmake --build "$build" -j"$jobs" --target unit_golden_tests
ctest --test-dir "$build" -L 'unit|golden' --output-on-failure -j"$jobs"
