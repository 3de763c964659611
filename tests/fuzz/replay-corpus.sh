#!/usr/bin/env bash
# Runs a libFuzzer binary once over every file in the given directories (seed corpus and
# regression inputs): libFuzzer given files executes each of them and exits non-zero on a
# crash, a sanitizer report or a failed invariant. Used by ctest (label "fuzz").
# Usage: replay-corpus.sh <fuzz-binary> <dir>...
set -euo pipefail
binary=$1
shift
files=()
for dir in "$@"; do
  [[ -d $dir ]] || continue
  while IFS= read -r -d '' file; do files+=("$file"); done < <(find "$dir" -type f ! -name 'README*' -print0 | sort -z)
done
if ((${#files[@]} == 0)); then
  echo "no inputs in $*"
  exit 0
fi
echo "replaying ${#files[@]} inputs through $(basename "$binary")"
# Batches keep the command line short; every file runs once (no fuzzing).
status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for ((i = 0; i < ${#files[@]}; i += 200)); do
  rc=0
  "$binary" -rss_limit_mb=2048 -timeout=60 "${files[@]:i:200}" >"$log" 2>&1 || rc=$?
  grep -v '^Running: \|^Executed ' "$log" || true
  if ((rc != 0)); then status=$rc; fi
done
if ((status != 0)); then echo "FAILED: $(basename "$binary") exited with $status"; fi
exit $status
