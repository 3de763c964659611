#!/usr/bin/env bash
# Builds the libFuzzer targets (clang + ASan + UBSan, tests/fuzz/) and runs each for a bounded time.
#
# Usage: scripts/fuzz.sh [target...]      (default: every target)
# Environment:
#   FUZZ_SECONDS     fuzzing time per target (default 60; 0 = only replay the corpora)
#   FUZZ_BUILD_DIR   build tree (default build-fuzz/ in the repository)
#   FUZZ_JOBS        build parallelism (default: nproc)
#   FUZZ_SEED        libFuzzer's -seed (default 1, printed with every run, never random): a
#                    finding is reproduced by the same seed and corpus (CI starts from the seeds)
#
# Steps: (1) ctest -L fuzz replays every seed and every regression input once (strict: known,
# reported issues fail here); (2) each target fuzzes for FUZZ_SECONDS, starting from its seeds and
# the corpus grown by earlier runs in the build tree. Exit status: non-zero on any finding (crash,
# sanitizer report, failed invariant, leak, timeout, out-of-memory); the input that triggered it
# is left in $FUZZ_BUILD_DIR/fuzz-artifacts/<target>/ (add it to tests/fuzz/regressions/<target>/).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-$(nproc)}
seed=${FUZZ_SEED:-1}
if [[ ! $seed =~ ^[1-9][0-9]{0,9}$ ]] || ((seed > 4294967295)); then
  # libFuzzer takes 0 as "pick a random seed": a fixed run needs 1..2^32-1.
  echo "fuzz.sh: FUZZ_SEED=$seed: must be a number from 1 to 4294967295" >&2
  exit 2
fi

targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(fuzz_address_codec fuzz_line_framer fuzz_engine)
  [[ -f src/io/pcap_source.cpp ]] && targets+=(fuzz_pcap_reader)
fi

# Largest input per target (bytes): enough for a long session or a small capture.
max_len() {
  case $1 in
    fuzz_address_codec) echo 1024 ;;
    fuzz_line_framer) echo 2048 ;;
    fuzz_engine) echo 4096 ;;
    fuzz_pcap_reader) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

echo "== configure and build ${targets[*]} in $build"
CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S "$root" -B "$build" -DFTPALG_FUZZ=ON -DFTPALG_SHELLS=OFF \
  -DFTPALG_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$jobs" --target "${targets[@]}"

status=0
echo "== replay seeds and regression inputs"
ctest_regex=$(IFS='|'; echo "${targets[*]/#/^fuzz\.}")
if ! ctest --test-dir "$build" -L fuzz -R "$ctest_regex" --output-on-failure; then
  status=1
fi

if ((seconds > 0)); then
  for target in "${targets[@]}"; do
    binary=$build/tests/fuzz/$target
    corpus=$build/fuzz-corpus/$target
    artifacts=$build/fuzz-artifacts/$target
    mkdir -p "$corpus" "$artifacts"
    echo "== fuzz $target for ${seconds}s, seed $seed (corpus $corpus)"
    log=$build/fuzz-artifacts/$target.log
    rc=0
    "$binary" -seed="$seed" -max_total_time="$seconds" -max_len="$(max_len "$target")" -rss_limit_mb=2048 \
      -timeout=25 -print_final_stats=1 -artifact_prefix="$artifacts/" \
      "$corpus" "$root/tests/fuzz/corpus/$target" \
      >"$log" 2>&1 || rc=$?
    grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' "$log" || true
    if ((rc != 0)); then
      status=1
      echo "FINDING in $target (exit $rc, seed $seed): see $log"
      grep -E 'invariant failed|ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error' "$log" | head -5 || true
      ls -1 "$artifacts" | sed 's/^/  input: /'
    else
      echo "$target: no finding; corpus $(find "$corpus" -type f | wc -l) inputs"
    fi
  done
fi
exit $status
