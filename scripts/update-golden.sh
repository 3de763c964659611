#!/usr/bin/env bash
# Regenerates pcap-fixtures/<case>/expected.jsonl: replays each case's input.pcap with the options
# in its `flags` file (one per line) through the built `ftpalg replay`, checks the decision log
# against the decisions the case states (decisions.jsonl, written by its generator; golden_check,
# tests/golden/stated_decisions.hpp) and writes it, without its stats line (the statement pins the
# counters a case is about), as the new expectation. A log that contradicts the statement is
# never written: the case is named, the problems printed, and the script exits 1 (fix the engine,
# or the statement if it was wrong, in the generator). The rest is a proposal: review
# `git diff pcap-fixtures` line by line against each case's README.md before committing it.
#
# Usage: scripts/update-golden.sh [CASE...]
#   FTPALG=/path/to/ftpalg   the binary (default: build/src/ftpalg, then any build*/src/ftpalg)
#   GOLDEN_CHECK=/path/to/golden_check   (default: tests/golden/golden_check of ftpalg's build tree)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fixtures=$root/pcap-fixtures

ftpalg=${FTPALG:-}
if [[ -z $ftpalg ]]; then
  for candidate in "$root/build/src/ftpalg" "$root"/build*/src/ftpalg "$root"/../build*/src/ftpalg; do
    if [[ -x $candidate ]]; then ftpalg=$candidate; break; fi
  done
fi
if [[ -z $ftpalg || ! -x $ftpalg ]]; then
  echo "update-golden: no ftpalg binary; build it or set FTPALG=/path/to/ftpalg" >&2
  exit 2
fi
check=${GOLDEN_CHECK:-$(dirname "$ftpalg")/../tests/golden/golden_check}
if [[ ! -x $check ]]; then
  echo "update-golden: no golden_check next to $ftpalg; build it" \
    "(cmake --build BUILD --target golden_check) or set GOLDEN_CHECK=/path/to/golden_check" >&2
  exit 2
fi

if (($# > 0)); then
  cases=("$@")
else
  cases=()
  for directory in "$fixtures"/*/; do
    [[ -f $directory/input.pcap ]] && cases+=("$(basename "$directory")")
  done
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
changed=0
refused=()
for name in "${cases[@]}"; do
  directory=$fixtures/$name
  if [[ ! -f $directory/input.pcap ]]; then
    echo "update-golden: $name: no input.pcap" >&2
    exit 2
  fi
  flags=()
  if [[ -f $directory/flags ]]; then
    # One option per line, split at blanks ("--snat=A=B" or "--snat A=B"); '#' starts a comment.
    while read -r -a words || ((${#words[@]} > 0)); do
      ((${#words[@]} == 0)) && continue
      [[ ${words[0]} == \#* ]] && continue
      flags+=("${words[@]}")
    done < "$directory/flags"
  fi
  if ! "$ftpalg" replay --in "$directory/input.pcap" --out "$scratch/out.pcap" --log "$scratch/log.jsonl" \
      "${flags[@]}" 2> "$scratch/stderr"; then
    echo "update-golden: $name: ftpalg replay failed:" >&2
    cat "$scratch/stderr" >&2
    exit 1
  fi
  rc=0
  "$check" "$directory" "$scratch/log.jsonl" || rc=$?
  if ((rc == 2)); then
    echo "update-golden: $name: cannot check the log against decisions.jsonl (above)" >&2
    exit 2
  fi
  if ((rc != 0)); then
    echo "REFUSED  $name: the replay contradicts the decisions its generator states (above); not written" >&2
    refused+=("$name")
    continue
  fi
  grep -v '"event":"stats"' "$scratch/log.jsonl" >"$scratch/expected.jsonl" || true
  if ! cmp -s "$scratch/expected.jsonl" "$directory/expected.jsonl" 2>/dev/null; then
    cp "$scratch/expected.jsonl" "$directory/expected.jsonl"
    echo "updated  $name ($(wc -l < "$directory/expected.jsonl") lines)"
    changed=$((changed + 1))
  else
    echo "same     $name"
  fi
done
echo "update-golden: ${#cases[@]} cases, $changed changed, ${#refused[@]} refused;" \
  "review with: git diff -- pcap-fixtures"
if ((${#refused[@]} > 0)); then
  echo "update-golden: refused (the engine contradicts the stated decisions): ${refused[*]}" >&2
  exit 1
fi
