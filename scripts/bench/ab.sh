#!/usr/bin/env bash
# A/B comparison of two engine_bench binaries in the same run, for a noisy shared machine:
# runs A and B alternately ROUNDS times on the same benchmark filter and prints, per benchmark,
# the median CPU time per iteration of each and the ratio B/A (< 1: B is faster).
#
# Usage: scripts/bench/ab.sh A_BINARY B_BINARY [FILTER] [ROUNDS]
#   FILTER  Google Benchmark regex (default: all but the slow flow-table setups)
#   ROUNDS  alternations (default 5)
# Typical: keep the binary of the commit before a fix (cp build/bench/engine_bench /tmp/before),
# rebuild, then: scripts/bench/ab.sh /tmp/before build/bench/engine_bench 'Control|Port'
set -euo pipefail
a=${1:?usage: ab.sh A_BINARY B_BINARY [FILTER] [ROUNDS]}
b=${2:?usage: ab.sh A_BINARY B_BINARY [FILTER] [ROUNDS]}
filter=${3:-'^BM_(ParseOnly|Control|Port|Pasv|MultiLine)'}
rounds=${4:-5}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for ((i = 0; i < rounds; i++)); do
  for side in a b; do
    bin=$a
    [[ $side == b ]] && bin=$b
    "$bin" --benchmark_filter="$filter" --benchmark_format=json 2>/dev/null > "$scratch/run.json"
    /usr/bin/python3 -c 'import json, sys
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    print(sys.argv[2], b["name"], b["cpu_time"])' "$scratch/run.json" "$side" >> "$scratch/times"
  done
done

/usr/bin/python3 - "$scratch/times" "$a" "$b" <<'EOF'
import statistics, sys
times = {}
for line in open(sys.argv[1]):
    side, name, cpu = line.split()
    times.setdefault(name, {"a": [], "b": []})[side].append(float(cpu))
print(f"A = {sys.argv[2]}\nB = {sys.argv[3]}")
print(f"{'benchmark':40} {'A median':>12} {'B median':>12} {'B/A':>6}   (CPU time per iteration, ns unless the benchmark sets a unit)")
for name, sides in times.items():
    a, b = statistics.median(sides["a"]), statistics.median(sides["b"])
    print(f"{name:40} {a:12.1f} {b:12.1f} {b / a:6.2f}")
EOF
