#!/usr/bin/env bash
# Measures `ftpalg replay` on a large capture of mostly FTP data traffic (generated on demand by
# pcap-fixtures/generators/bulk_capture.py, never committed), next to `tcpdump -r IN -w /dev/null`
# on the same file in the same run, and shows that memory does not grow with the capture size.
#
# Usage: scripts/bench-replay.sh [SIZE_MB]      (default 100)
#   FTPALG=/path/to/ftpalg   the binary (default: build/src/ftpalg, then any build*/src/ftpalg)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
size_mb=${1:-100}
ftpalg=${FTPALG:-}
if [[ -z $ftpalg ]]; then
  for candidate in "$root/build/src/ftpalg" "$root"/build*/src/ftpalg "$root"/../build*/src/ftpalg; do
    if [[ -x $candidate ]]; then ftpalg=$candidate; break; fi
  done
fi
[[ -x ${ftpalg:-} ]] || { echo "bench-replay: no ftpalg binary; set FTPALG" >&2; exit 2; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$root/pcap-fixtures/generators"
PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 bulk_capture.py "$scratch/big.pcap" "$size_mb"
PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 bulk_capture.py "$scratch/small.pcap" 1
bytes=$(stat -c %s "$scratch/big.pcap")
cat "$scratch/big.pcap" > /dev/null  # warm the page cache for both contenders

best() {  # best wall time of 3 runs, in seconds, of the command given
  local best_time=""
  for _ in 1 2 3; do
    local start end elapsed
    start=$(date +%s.%N)
    "$@" > /dev/null 2>&1
    end=$(date +%s.%N)
    elapsed=$(echo "$end - $start" | bc -l)
    if [[ -z $best_time ]] || (($(echo "$elapsed < $best_time" | bc -l))); then best_time=$elapsed; fi
  done
  echo "$best_time"
}
rss() {  # maximum resident set size in KB
  /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1
}

replay=("$ftpalg" replay --snat 192.168.77.0/24=203.0.113.1 --log "$scratch/log.jsonl")
t_replay=$(best "${replay[@]}" --in "$scratch/big.pcap" --out "$scratch/out.pcap")
t_tcpdump=$(best tcpdump -r "$scratch/big.pcap" -w /dev/null)
rss_big=$(rss "${replay[@]}" --in "$scratch/big.pcap" --out "$scratch/out.pcap")
rss_small=$(rss "${replay[@]}" --in "$scratch/small.pcap" --out "$scratch/out-small.pcap")
mb=$(echo "$bytes / 1000000" | bc -l)
printf 'capture: %.1f MB, %s packets\n' "$mb" "$(capinfos -c -M "$scratch/big.pcap" | awk '/Number of packets/ {print $NF}')"
printf 'ftpalg replay --out:     %.3f s  %6.0f MB/s  max RSS %s KB (1 MB capture: %s KB)\n' \
  "$t_replay" "$(echo "$mb / $t_replay" | bc -l)" "$rss_big" "$rss_small"
printf 'tcpdump -r -w /dev/null: %.3f s  %6.0f MB/s\n' "$t_tcpdump" "$(echo "$mb / $t_tcpdump" | bc -l)"
grep -c '"event":"rewrite"' "$scratch/log.jsonl" | xargs printf 'rewrites logged: %s\n'
