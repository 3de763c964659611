#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer build of the core and its unit tests, plus the
# golden replay tests when the CLI (ftpalg + ftpalg_pcap) is part of the build; runs them with
# ctest (labels "unit" and "golden"). Any sanitizer report fails the test that triggered it.
#
# Usage: scripts/test-sanitizers.sh
# Environment: SANITIZE_BUILD_DIR (default build-asan/ in the repository), SANITIZE_JOBS (nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${SANITIZE_BUILD_DIR:-$root/build-asan}
jobs=${SANITIZE_JOBS:-$(nproc)}

# Every report is fatal and shows a stack; leaks count as errors.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

cmake -S "$root" -B "$build" -DFTPALG_SANITIZE=ON -DFTPALG_BENCH=OFF -DFTPALG_FUZZ=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

# Build only what the unit and golden tests need (not the e2e tests or benchmarks).
cmake --build "$build" -j"$jobs" --target unit_golden_tests
labels=unit
if [[ -f "$build/tests/golden/CTestTestfile.cmake" ]]; then
  labels='unit|golden'
else
  echo "golden tests not built (the CLI is not part of this build): running unit tests only"
fi

ctest --test-dir "$build" -L "$labels" --output-on-failure -j"$jobs" --timeout 300
