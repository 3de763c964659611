#!/usr/bin/env bash
# Benchmarks `ftpalg replay` on a large synthetic FTP capture (scripts/bench/make-capture.py),
# next to the read-and-write floor `tcpdump -r IN -w OUT` and to `tshark -r IN -Y ftp`, in the
# same run on the same page-cached file (best of --runs, rounds interleaved so that machine noise
# hits every contender alike). Also reports ftpalg's peak RSS, the rewrites it logged (checked
# against the number the generator announced), anything it refused or flagged, and whether
# --out holds as many packets as the input.
#
# Usage:
#   scripts/bench/replay.sh [--size MB] [--runs N] [--in CAPTURE] [--replay-options "OPTS"]
#                           [--check-checksums] [--keep]
#       throughput: generate about MB megabytes (default 1000) of interleaved sessions into a
#       temporary directory, or use an existing CAPTURE (then --replay-options gives its NAT
#       options; default "--snat 192.168.77.0/24=203.0.113.1 --dnat 203.0.113.1:21=192.168.78.10:21").
#   scripts/bench/replay.sh scale [--sessions N[,N...]] [--runs N] [--keep]
#       N concurrent control sessions (default 1000,10000,100000): peak RSS (target <= 200 MB at
#       the largest N) and time per packet at each N (should be flat).
#
#   --check-checksums  also validate the IPv4/TCP checksums of every FTP control packet in
#                      ftpalg's --out with tshark (slow on large captures)
#   --keep             keep the temporary directory (its path is printed)
# Environment: FTPALG=/path/to/ftpalg (default build/src/ftpalg), TMPDIR (where the capture and
# the outputs go; ftpalg's and tcpdump's outputs are written next to each other, so on the same
# filesystem).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
generator="$here/make-capture.py"
python=${PYTHON:-python3}
default_options="--snat 192.168.77.0/24=203.0.113.1 --dnat 203.0.113.1:21=192.168.78.10:21"
target_tcpdump_ratio=1.0
target_rss_mb=200

die() { echo "replay.sh: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }

mode=throughput
size_mb=1000
runs=3
input=""
replay_options=""
sessions_list="1000,10000,100000"
check_checksums=0
keep=0
if [[ ${1:-} == scale ]]; then mode=scale; shift; fi
while (($#)); do
  case $1 in
    --size) size_mb=${2:?--size MB}; shift 2 ;;
    --runs) runs=${2:?--runs N}; shift 2 ;;
    --in) input=${2:?--in CAPTURE}; shift 2 ;;
    --replay-options) replay_options=${2?--replay-options OPTS}; shift 2 ;;
    --sessions) sessions_list=${2:?--sessions N[,N...]}; shift 2 ;;
    --check-checksums) check_checksums=1; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) usage 0 ;;
    *) echo "replay.sh: unknown argument: $1" >&2; usage 2 >&2 ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs: a positive integer, not '$runs'"
[[ $size_mb =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--size: megabytes, not '$size_mb'"
[[ $sessions_list =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--sessions: N or N,N,..., not '$sessions_list'"

ftpalg=${FTPALG:-$root/build/src/ftpalg}
[[ -x $ftpalg ]] || die "no ftpalg binary at $ftpalg (build into build/, or set FTPALG=path)"
command -v "$python" > /dev/null || die "python3 is needed for the generator and the log summary"
have_time=0
[[ -x /usr/bin/time ]] && have_time=1  # GNU time, for the peak RSS (%M)

scratch=$(mktemp -d "${TMPDIR:-/tmp}/ftpalg-bench.XXXXXX")
if ((keep)); then
  echo "scratch directory (kept): $scratch"
else
  trap 'rm -rf "$scratch"' EXIT
fi

# ---- helpers ------------------------------------------------------------------------------

# run NAME CMD...: runs CMD once (stdout to /dev/null, stderr to $scratch/NAME.stderr) and
# appends its wall time in seconds to $scratch/NAME.times and its peak RSS in KB to
# $scratch/NAME.rss. Fails loudly if CMD fails.
run() {
  local name=$1; shift
  local start end status=0
  sync  # outside the timing: the previous run's writeback must not land on this one
  start=$(date +%s%N)
  if ((have_time)); then
    /usr/bin/time -f %M -o "$scratch/$name.rss1" "$@" > /dev/null 2> "$scratch/$name.stderr" || status=$?
  else
    "$@" > /dev/null 2> "$scratch/$name.stderr" || status=$?
  fi
  end=$(date +%s%N)
  if ((status != 0)); then
    echo "replay.sh: $name failed (exit $status): $*" >&2
    cat "$scratch/$name.stderr" >&2
    exit 1
  fi
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.6f\n", (e - s) / 1e9 }' >> "$scratch/$name.times"
  if ((have_time)); then tail -1 "$scratch/$name.rss1" >> "$scratch/$name.rss"; fi
}
best() { sort -g "$scratch/$1.times" | head -1; }
max_rss_kb() { if [[ -s $scratch/$1.rss ]]; then sort -n "$scratch/$1.rss" | tail -1; else echo 0; fi; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# packet_count FILE: the number of records (capinfos if present, else tcpdump).
packet_count() {
  if command -v capinfos > /dev/null; then
    capinfos -c -M "$1" 2> /dev/null | awk '/Number of packets/ { print $NF }'
  elif command -v tcpdump > /dev/null; then
    tcpdump -n -r "$1" 2> /dev/null | wc -l
  else
    echo "?"
  fi
}

# summarize_log LOG EXPECTED_REWRITES: the decision log's events, and warnings for anything the
# engine refused or flagged (a benchmark capture should produce none).
summarize_log() {
  "$python" - "$1" "$2" << 'EOF'
import collections, json, sys
path, expected = sys.argv[1], sys.argv[2]
events, rewrites, problems, stats = collections.Counter(), collections.Counter(), collections.Counter(), {}
first_problem = None
with open(path) as log:
    for line in log:
        e = json.loads(line)
        kind = e["event"]
        events[kind] += 1
        if kind == "rewrite":
            rewrites[e["dir"] + " " + e["verb"]] += 1
        elif kind in ("reject", "anomaly") or (kind == "session_close" and e["reason"] != "fin") \
                or (kind == "pinhole_close" and e["reason"] not in ("session_closed", "replaced")):
            problems[f"{kind} {e.get('reason')}"] += 1
            first_problem = first_problem or line.strip()
        elif kind == "stats":
            stats = e
total = sum(rewrites.values())
detail = ", ".join(f"{k} {v}" for k, v in sorted(rewrites.items()))
check = ""
if expected != "?":
    check = " (= generated address lines)" if total == int(expected) else f" (MISMATCH: the capture has {expected} address lines to rewrite)"
print(f"rewrites logged:   {total}{check}: {detail or 'none'}")
print("log events:        " + ", ".join(f"{k} {v}" for k, v in sorted(events.items())))
bad = {k: stats.get(k, 0) for k in ("packets_malformed", "packets_dropped", "rejects", "anomalies",
                                     "flows_uninspected", "sessions_refused_at_limit", "retransmissions")}
print("engine counters:   " + ", ".join(f"{k} {v}" for k, v in bad.items())
      + f"; sessions {stats.get('sessions_opened')} opened / {stats.get('sessions_closed')} closed"
      + f"; pinholes {stats.get('pinholes_opened')}")
if problems or any(bad.values()):
    print("WARNING: the engine refused or flagged something: "
          + ", ".join(f"{k} x{v}" for k, v in sorted(problems.items())))
    if first_problem:
        print("  first: " + first_problem)
else:
    print("log check:         no rejects, anomalies, malformed packets or abnormal closes")
EOF
}

# meta FILE KEY: a "key value" line of the generator's output.
meta() { awk -v k="$2" '$1 == k { sub(/^[^ ]+ /, ""); print; exit }' "$1"; }

# ---- throughput ---------------------------------------------------------------------------

throughput() {
  local in expected="?" options
  if [[ -n $input ]]; then
    [[ -r $input ]] || die "--in: cannot read $input"
    in=$input
    options=${replay_options:-$default_options}
    echo "capture: $in (given)"
  else
    in="$scratch/in.pcap"
    echo "generating about $size_mb MB: $generator $in --size $size_mb"
    "$python" "$generator" "$in" --size "$size_mb" > "$scratch/meta"
    expected=$(meta "$scratch/meta" expected_rewrites)
    options=${replay_options:-$(meta "$scratch/meta" replay_options)}
  fi
  local bytes packets_in
  bytes=$(stat -L -c %s "$in")
  packets_in=$(packet_count "$in")
  local mb
  mb=$(calc %.3f "$bytes / 1e6")
  printf 'capture: %.1f MB, %s packets' "$mb" "$packets_in"
  if [[ -s $scratch/meta ]]; then
    printf ', %s FTP sessions (%s address lines to rewrite)' "$(meta "$scratch/meta" sessions)" "$expected"
  fi
  printf '\n'
  local have_tcpdump=0 have_tshark=0
  command -v tcpdump > /dev/null && have_tcpdump=1
  command -v tshark > /dev/null && have_tshark=1
  ((have_tcpdump)) || echo "tcpdump not installed: no read-and-write floor"
  ((have_tshark)) || echo "tshark not installed"

  # shellcheck disable=SC2206
  local replay=("$ftpalg" replay --in "$in" --out "$scratch/ftpalg-out.pcap" --log "$scratch/log.jsonl" $options)
  echo "ftpalg:  ${replay[*]}"
  ((have_tcpdump)) && echo "tcpdump: tcpdump -r $in -w $scratch/tcpdump-out.pcap"
  ((have_tshark)) && echo "tshark:  tshark -r $in -Y ftp > /dev/null"
  cat "$in" > /dev/null  # warm the page cache for every contender
  for ((round = 1; round <= runs; round++)); do
    rm -f "$scratch/ftpalg-out.pcap" "$scratch/tcpdump-out.pcap"
    run ftpalg "${replay[@]}"
    if ((have_tcpdump)); then run tcpdump tcpdump -r "$in" -w "$scratch/tcpdump-out.pcap"; fi
    if ((have_tshark)); then run tshark tshark -r "$in" -Y ftp; fi
    printf 'round %d/%d: ftpalg %.2f s' "$round" "$runs" "$(tail -1 "$scratch/ftpalg.times")"
    ((have_tcpdump)) && printf ', tcpdump %.2f s' "$(tail -1 "$scratch/tcpdump.times")"
    ((have_tshark)) && printf ', tshark %.2f s' "$(tail -1 "$scratch/tshark.times")"
    printf '\n'
  done

  local t_ftpalg t_tcpdump t_tshark
  t_ftpalg=$(best ftpalg)
  echo
  echo "results (best of $runs, $mb MB, $packets_in packets):"
  printf '  %-32s %8.3f s %8.1f MB/s %7.2f Mpkt/s  max RSS %s\n' "ftpalg replay" "$t_ftpalg" \
    "$(calc %.3f "$mb / $t_ftpalg")" "$(calc %.3f "$packets_in / $t_ftpalg / 1e6")" \
    "$( ((have_time)) && calc '%.1f MB' "$(max_rss_kb ftpalg) / 1024" || echo unavailable)"
  if ((have_tcpdump)); then
    t_tcpdump=$(best tcpdump)
    printf '  %-32s %8.3f s %8.1f MB/s %7.2f Mpkt/s  max RSS %s\n' "tcpdump -r -w (read+write floor)" "$t_tcpdump" \
      "$(calc %.3f "$mb / $t_tcpdump")" "$(calc %.3f "$packets_in / $t_tcpdump / 1e6")" \
      "$(calc '%.1f MB' "$(max_rss_kb tcpdump) / 1024")"
  fi
  if ((have_tshark)); then
    t_tshark=$(best tshark)
    printf '  %-32s %8.3f s %8.1f MB/s %7.2f Mpkt/s  max RSS %s\n' "tshark -Y ftp" "$t_tshark" \
      "$(calc %.3f "$mb / $t_tshark")" "$(calc %.3f "$packets_in / $t_tshark / 1e6")" \
      "$(calc '%.1f MB' "$(max_rss_kb tshark) / 1024")"
  fi
  if ((have_tcpdump)); then
    local ratio verdict
    ratio=$(calc %.3f "$t_tcpdump / $t_ftpalg")
    verdict=$(awk -v r="$ratio" -v t="$target_tcpdump_ratio" 'BEGIN { print (r >= t) ? "met" : "NOT met" }')
    printf '  ftpalg/tcpdump throughput: %.2fx (target >= %sx: %s)\n' "$ratio" "$target_tcpdump_ratio" "$verdict"
  fi
  if ((have_tshark)); then
    printf '  ftpalg/tshark throughput:  %.2fx\n' "$(calc %.3f "$t_tshark / $t_ftpalg")"
  fi
  printf '  ftpalg per packet: %.0f ns (all packets)\n' "$(calc %.3f "$t_ftpalg * 1e9 / $packets_in")"

  echo
  echo "ftpalg: $(grep '^ftpalg replay:' "$scratch/ftpalg.stderr" || true)"
  summarize_log "$scratch/log.jsonl" "$expected"
  local packets_out packets_tcpdump
  packets_out=$(packet_count "$scratch/ftpalg-out.pcap")
  if [[ $packets_out == "$packets_in" ]]; then
    echo "packet count:      --out $packets_out = input $packets_in"
  else
    local dropped
    dropped=$(grep -o '[0-9]* dropped' "$scratch/ftpalg.stderr" | head -1 || true)
    echo "packet count:      --out $packets_out != input $packets_in (ftpalg: ${dropped:-?}; a dropped"
    echo "                   packet is not written; see the summary line above)"
  fi
  if ((have_tcpdump)); then
    packets_tcpdump=$(packet_count "$scratch/tcpdump-out.pcap")
    echo "tcpdump -w output: $packets_tcpdump packets, $(stat -c %s "$scratch/tcpdump-out.pcap") bytes;" \
      "ftpalg --out: $(stat -c %s "$scratch/ftpalg-out.pcap") bytes (rewritten lines change lengths)"
  fi
  if ((check_checksums)); then
    if ((have_tshark)); then
      local bad
      bad=$(tshark -r "$scratch/ftpalg-out.pcap" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
        -Y 'tcp.port == 21 && (tcp.checksum.status != 1 || ip.checksum.status != 1)' 2> /dev/null | wc -l)
      echo "checksums:         $bad FTP control packets of --out with a bad IPv4 or TCP checksum (tshark)"
    else
      echo "checksums:         not checked (tshark not installed)"
    fi
  fi
}

# ---- scale --------------------------------------------------------------------------------

scale() {
  local options=${replay_options:-$default_options}
  local -a counts
  IFS=, read -r -a counts <<< "$sessions_list"
  local rows=() first_ns="" first_rss="" first_n=""
  # Fixed cost (process start, allocation, final log flush) from a 1-session capture, so that
  # the per-packet cost of a small capture is not dominated by it.
  "$python" "$generator" "$scratch/scale-startup.pcap" --sessions 1 --concurrent > /dev/null 2>&1
  # shellcheck disable=SC2086
  for ((round = 1; round <= runs; round++)); do
    run startup "$ftpalg" replay --in "$scratch/scale-startup.pcap" --out "$scratch/scale-out.pcap" \
      --log "$scratch/scale-startup.jsonl" $options
  done
  local t0
  t0=$(best startup)
  printf 'fixed cost (1-session capture, best of %d): %.1f ms, subtracted in ns/pkt net\n' "$runs" "$(calc %.3f "$t0 * 1000")"
  for n in "${counts[@]}"; do
    local in="$scratch/scale-$n.pcap"
    echo "generating $n concurrent sessions: $generator $in --sessions $n --concurrent"
    "$python" "$generator" "$in" --sessions "$n" --concurrent > "$scratch/meta-$n"
    local packets bytes expected
    packets=$(meta "$scratch/meta-$n" packets)
    bytes=$(stat -c %s "$in")
    expected=$(meta "$scratch/meta-$n" expected_rewrites)
    # shellcheck disable=SC2206
    local replay=("$ftpalg" replay --in "$in" --out "$scratch/scale-out.pcap" --log "$scratch/scale-$n.jsonl" $options)
    cat "$in" > /dev/null
    rm -f "$scratch/ftpalg-$n.times" "$scratch/ftpalg-$n.rss"
    for ((round = 1; round <= runs; round++)); do
      rm -f "$scratch/scale-out.pcap"
      run "ftpalg-$n" "${replay[@]}"
    done
    local t rss_kb ns ns_gross inspected ns_inspected
    t=$(best "ftpalg-$n")
    rss_kb=$(max_rss_kb "ftpalg-$n")
    ns_gross=$(calc %.1f "$t * 1e9 / $packets")
    ns=$(calc %.1f "($t - $t0) * 1e9 / $packets")
    inspected=$(grep -o '[0-9]* inspected' "$scratch/ftpalg-$n.stderr" | awk '{ print $1 }')
    ns_inspected=$(calc %.1f "($t - $t0) * 1e9 / ${inspected:-$packets}")
    echo "  $n sessions: $(grep '^ftpalg replay:' "$scratch/ftpalg-$n.stderr" || true)"
    summarize_log "$scratch/scale-$n.jsonl" "$expected" | sed 's/^/  /'
    rows+=("$(printf '%9d %10d %8.1f %8.3f %8.1f %8.0f %8.0f %11.0f %10.1f' "$n" "$packets" "$(calc %.1f "$bytes / 1e6")" \
      "$t" "$(calc %.1f "$bytes / 1e6 / $t")" "$ns_gross" "$ns" "$ns_inspected" "$(calc %.1f "$rss_kb / 1024")")")
    if [[ -z $first_ns ]]; then first_ns=$ns; first_rss=$rss_kb; first_n=$n; fi
    last_ns=$ns; last_rss=$rss_kb; last_n=$n
    rm -f "$in" "$scratch/scale-out.pcap"
  done
  echo
  echo "scale results (best of $runs; each capture: all sessions log in, then PORT/LIST/tiny data"
  echo "connection/226 in a shuffled order, then QUIT/FIN in another; all N open at the peak)."
  echo "ns/pkt: wall time per packet; net: without the fixed cost; net/ctl-pkt: per FTP control"
  echo "packet inspected by the engine (the data packets pass through uninspected):"
  printf '%9s %10s %8s %8s %8s %8s %8s %11s %10s\n' sessions packets MB 'time s' 'MB/s' 'ns/pkt' 'net' 'net/ctl-pkt' 'maxRSS MB'
  printf '%s\n' "${rows[@]}"
  if ((have_time)); then
    local verdict
    verdict=$(awk -v r="$last_rss" -v t="$target_rss_mb" 'BEGIN { print (r / 1024 <= t) ? "met" : "NOT met" }')
    printf 'peak RSS at %d sessions: %.1f MB (target <= %d MB: %s)\n' "$last_n" "$(calc %.3f "$last_rss / 1024")" "$target_rss_mb" "$verdict"
    if ((last_n > first_n)); then
      printf 'RSS growth per session (%d -> %d): %.0f bytes\n' "$first_n" "$last_n" \
        "$(calc %.3f "($last_rss - $first_rss) * 1024 / ($last_n - $first_n)")"
    fi
  fi
  if ((last_n > first_n)); then
    printf 'per-packet cost (net) %d -> %d sessions: %.2fx (flat is 1.00x)\n' "$first_n" "$last_n" "$(calc %.3f "$last_ns / $first_ns")"
  fi
}

if [[ $mode == scale ]]; then scale; else throughput; fi
