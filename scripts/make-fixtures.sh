#!/usr/bin/env bash
# Regenerates the input.pcap, README.md and flags of every generated fixture
# (pcap-fixtures/generators/cases_*.py, scapy, deterministic), then their expected.jsonl
# proposals (scripts/update-golden.sh). Review `git diff -- pcap-fixtures` before committing.
# Real-capture fixtures are made by the lab scripts, not here.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-/usr/bin/python3}  # Debian's interpreter, which has python3-scapy
export PYTHONDONTWRITEBYTECODE=1
cd "$root/pcap-fixtures/generators"
for generator in cases_*.py; do
  "$python" "$generator"
done
if [[ ${1:-} != --no-golden ]]; then
  "$root/scripts/update-golden.sh"
fi
