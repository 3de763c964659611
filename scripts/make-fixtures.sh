#!/usr/bin/env bash
# Regenerates every generated fixture (pcap-fixtures/generators/cases_*.py, scapy, deterministic):
# input.pcap, README.md, flags and decisions.jsonl (the decisions its generator states); rewrites
# the real captures' decisions.jsonl (scripts/capture-fixtures.sh --decisions) and
# pcap-fixtures/cases.list (every case name: tests/golden fails on a directory missing or extra);
# then proposes expected.jsonl files (scripts/update-golden.sh, which refuses a log that
# contradicts decisions.jsonl). Review `git diff -- pcap-fixtures` before committing.
# Real-capture inputs are made by scripts/capture-fixtures.sh (root, network namespaces), not here.
#
# Usage: scripts/make-fixtures.sh [--no-golden]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-/usr/bin/python3}  # Debian's interpreter, which has python3-scapy
export PYTHONDONTWRITEBYTECODE=1
cd "$root/pcap-fixtures/generators"
for generator in cases_*.py; do
  "$python" "$generator"
done
bash "$root/scripts/capture-fixtures.sh" --decisions
{
  echo "# Every fixture case under pcap-fixtures/, one per line: the generated cases"
  echo "# (generators/cases_*.py) and the real captures (scripts/capture-fixtures.sh --list)."
  echo "# Written by scripts/make-fixtures.sh; tests/golden fails on any directory missing or extra."
  { "$python" list_cases.py && bash "$root/scripts/capture-fixtures.sh" --list; } | LC_ALL=C sort
} >"$root/pcap-fixtures/cases.list"
echo "wrote pcap-fixtures/cases.list ($(grep -vc '^#' "$root/pcap-fixtures/cases.list") cases)"
if [[ ${1:-} != --no-golden ]]; then
  "$root/scripts/update-golden.sh"
fi
