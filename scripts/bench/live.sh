#!/usr/bin/env bash
# Live benchmark (issues 6, 16): ftpalg against the kernel's FTP helper on the e2e lab topology,
# ftpalg both in its default conntrack-owned mode and in its engine-owned mode.
#
# Usage (root): scripts/bench/live.sh [--sessions N] [--concurrency "1 16"] [--warmup W]
#                                     [--rounds R] [--id ID]
#   --sessions N       timed sessions per (backend, concurrency, round) run (default 200;
#                      env BENCH_SESSIONS)
#   --concurrency L    the concurrent-client counts, space-separated (default "1 16"; env BENCH_CONCURRENCY)
#   --warmup W         untimed sessions (one client) before each timed run (default 5; env BENCH_WARMUP)
#   --rounds R         repeat everything R times, reversing the backends' order every other round
#                      (ABC CBA ...), and pool the results: a shared, noisy machine drifts (default 2;
#                      env BENCH_ROUNDS)
#   --id ID            lab ID: namespaces fa<ID>-{c,r,s} (default bl<PID>, 1-12 letters/digits)
#   FTPALG_BIN         the ftpalg binary (default build/src/ftpalg)
# Takes 10-30 s per round with the defaults, depending on how fast vsftpd forks per session
# (about 12 s at ~100 sessions/s with one client on 2 CPUs).
#
# What it measures. The masq topology of scripts/lab/lab.sh (client 192.168.77.10 behind a
# masquerading router with the admin's strict firewall, vsftpd on 203.0.113.10), built fresh
# for each backend in each round:
#   ftpalg : `ftpalg run` (default options: --seq-owner kernel, the conntrack-owned mode that
#            queues only payload segments; JSON decision log) on the router; no kernel helper
#   ftpalg-eng : `ftpalg run --seq-owner engine` (the engine-owned mode: every control packet,
#            pure ACKs included, is queued and the engine translates seq/ack), with the firewall's
#            pinhole accept rule that mode needs; no kernel helper
#   kernel : no ftpalg; nf_conntrack_ftp + nf_nat_ftp assigned by an nft `ct helper` rule on
#            tcp/21 (the only assignment: automatic helper assignment is off, or absent as in
#            Linux >= 6.0); the data connection is "ct state related", which the strict
#            firewall's forward chain accepts
# For each backend and concurrency C, scripts/bench/live_load.py (in the client namespace) runs
# N active-mode sessions with C concurrent clients; each: login, PORT, LIST /pub/notes (a small
# directory), QUIT. The report: sessions per second (ok sessions / wall time, summed over rounds)
# and the ratio of each ftpalg backend to the kernel; the p50/p99 time from sending PORT to
# receiving its 200 reply (client side; the line crosses the router's helper both ways), pooled
# over rounds, and the p50
# difference in µs, split using the NOOP each session times just before PORT (same path, no
# announcement) into the queue trips (NOOP p50 difference) and the announcement (the rest); next to
# the targets of issue 16 (ftpalg >= 1.0x kernel sessions/s, <= 50 µs added to the p50 PORT round
# trip). Queue trips per session, for each ftpalg backend: the packets the kernel queued to
# ftpalg (id_sequence of each queue in the router's /proc/net/netfilter/nfnetlink_queue, read
# before ftpalg stops: the kernel's own count of packets that crossed the queue; packets accepted
# by fail-open on a full queue are not counted, queue_dropped is shown) divided by the sessions
# run on that instance (warm-up included: they crossed the queue too). Per-round figures are
# printed too, to show the noise. Timing is reported, never judged. With 16 clients on a small
# machine the round trip mostly measures CPU contention (16 clients, 16 vsftpd processes and, for
# ftpalg, its own process).
# Exit status: 0 if every session succeeded; 1 if any failed (the failure count and reasons are
# printed) or the lab could not be set up; 2 usage. The work dir ($FTPALG_LAB_ROOT, default
# /tmp/ftpalg-lab, /fa<ID>: per-run JSON, raw round trips, ftpalg logs) is removed at the end
# unless something failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=scripts/lab/lab.sh
source "$root/scripts/lab/lab.sh"

sessions=${BENCH_SESSIONS:-200}
concs=${BENCH_CONCURRENCY:-"1 16"}
warmup=${BENCH_WARMUP:-5}
rounds=${BENCH_ROUNDS:-2}
id=bl$$
while (($#)); do
  case $1 in
    --sessions) sessions=$2; shift 2 ;;
    --concurrency) concs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --id) id=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "live.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $sessions =~ ^[1-9][0-9]*$ && $warmup =~ ^[0-9]+$ && $rounds =~ ^[1-9][0-9]*$ ]] ||
  { echo "live.sh: bad --sessions/--warmup/--rounds" >&2; exit 2; }
for c in $concs; do [[ $c =~ ^[1-9][0-9]*$ ]] || { echo "live.sh: bad concurrency '$c'" >&2; exit 2; }; done
[[ $(id -u) == 0 ]] || { echo "live.sh: run as root (network namespaces)" >&2; exit 2; }
export FTPALG_BIN=${FTPALG_BIN:-$root/build/src/ftpalg}
lab_ftpalg_available "$FTPALG_BIN" || { echo "live.sh: no usable ftpalg binary at $FTPALG_BIN" >&2; exit 1; }

LAB_QUIET=${LAB_QUIET-1}
lab_init "$id" || exit 1
die() { echo "live.sh: error: $*" >&2; exit 1; }

# Each session listens on its own client port (live_load.py --data-ports), unique within a
# backend's fresh namespaces: vsftpd connects from port 20 and closes first, so a repeated
# (server:20, router:port) tuple would meet the server's TIME_WAIT and fail with 425. The range
# stays below the client's ephemeral range (32768-60999, used by the control connections).
port_lo=10000 port_hi=32767
per_backend=0
for c in $concs; do per_backend=$((per_backend + sessions + warmup)); done
backends=(ftpalg ftpalg-eng kernel)
if ((per_backend > port_hi - port_lo + 1)); then
  echo "live.sh: note: $per_backend sessions per backend exceed the $((port_hi - port_lo + 1)) unique" \
    "data ports; the rest get kernel-chosen ports (TIME_WAIT collisions possible)" >&2
fi

# bench_forget_pid PID: drop a PID we already stopped and reaped from the lab's cleanup list.
bench_forget_pid() {
  local p keep=()
  for p in "${LAB_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  LAB_PIDS=("${keep[@]}")
}

# bench_lab: fresh namespaces (a new topology replaces the previous one), strict firewall, vsftpd.
bench_lab() {
  if [[ -n ${LAB_PID_server:-} ]]; then
    lab_stop "$LAB_PID_server" TERM 3
    bench_forget_pid "$LAB_PID_server"
    LAB_PID_server=
  fi
  lab_topo masq || return 1
  lab_firewall strict || return 1
  lab_server_start vsftpd || return 1
}

# bench_kernel_helper: assign the kernel's ftp helper (nf_conntrack_ftp, with nf_nat_ftp doing
# the PORT rewrite under masquerade) to new tcp/21 connections, explicitly, in the router.
bench_kernel_helper() {
  if command -v modprobe >/dev/null 2>&1; then modprobe -q nf_conntrack_ftp nf_nat_ftp 2>/dev/null || true; fi
  # Automatic assignment (removed in Linux 6.0) must be off: the nft rule is the assignment.
  if lab_in "$LAB_NS_R" test -e /proc/sys/net/netfilter/nf_conntrack_helper; then
    lab_in "$LAB_NS_R" sysctl -qw net.netfilter.nf_conntrack_helper=0 >/dev/null || return 1
  fi
  # The strict firewall's forward chain already accepts "ct state established,related": the
  # data connection of an expectation is related. The rule below only makes that explicit.
  lab_in "$LAB_NS_R" nft -f - <<'EOF' || return 1
table inet ftphelper {
  ct helper ftp-standard { type "ftp" protocol tcp; l3proto ip; }
  chain prerouting {
    type filter hook prerouting priority filter; policy accept;
    iifname "lan0" tcp dport 21 ct helper set "ftp-standard"
  }
}
add rule inet filter forward ct helper "ftp" accept
EOF
}

results=()   # "backend conc round json-file" (an .rtt file of raw round trips next to each)
fail_total=0
fail_notes=()
ftpalg_counts=()
queue_trips=()  # "backend round queued dropped sessions"

# bench_load BACKEND ROUND: the timed runs for each concurrency on the current lab.
bench_load() {
  local backend=$1 round=$2 c out lo=$port_lo n rc
  for c in $concs; do
    out="$LAB_DIR/$backend-c$c-r$round.json"
    n=$((sessions + warmup))
    rc=0
    LAB_CMD_TIMEOUT=$((60 + sessions * 10 / c + warmup * 10)) \
      lab_in "$LAB_NS_C" "$LAB_PY" "$here/live_load.py" --host "$LAB_SERVER4" \
      --user "$LAB_FTP_USER" --password "$LAB_FTP_PASS" --sessions "$sessions" --concurrency "$c" \
      --warmup "$warmup" --data-ports "$lo:$port_hi" --rtt-out "${out%.json}.rtt" \
      >"$out" 2>"$out.err" || rc=$?
    lo=$((lo + n))
    ((lo > port_hi)) && lo=$port_hi
    if [[ ! -s $out ]]; then
      echo "live.sh: load driver produced no result ($backend, c=$c, round $round, exit $rc): $(tail -n 3 "$out.err")" >&2
      echo "{\"sessions\": $sessions, \"ok\": 0, \"failed\": $sessions, \"warmup_failed\": 0, \"wall_s\": 0," \
        "\"sessions_per_s\": 0, \"port_rtt_us\": {\"p50\": null, \"p99\": null}, \"errors\": {\"driver_exit_$rc\": 1}}" >"$out"
    fi
    results+=("$backend $c $round $out")
  done
}

# bench_queue_counts: "QUEUED DROPPED" summed over the router's NFQUEUE instances (the kernel's
# id_sequence, the id of the last packet it queued, and queue_dropped; columns of
# /proc/net/netfilter/nfnetlink_queue, which is per network namespace). Read it while ftpalg is
# bound: the instance and its counters go when the queue is unbound. Prints nothing if there is
# no queue instance or the file cannot be read.
bench_queue_counts() {
  lab_in "$LAB_NS_R" cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null |
    awk 'NF >= 8 {q += $8; d += $6; n++} END {if (n) printf "%d %d\n", q, d}'
}

# bench_ftpalg BACKEND ROUND: a fresh lab with `ftpalg run` on the router (no kernel helper);
# BACKEND ftpalg: default options (the conntrack-owned mode); ftpalg-eng: --seq-owner engine.
bench_ftpalg() {
  local backend=$1 round=$2 alive=1 pid residue seq_owner=kernel want
  [[ $backend == ftpalg-eng ]] && seq_owner=engine
  LAB_SEQ_OWNER=$seq_owner  # read by lab_firewall (pinhole accept rule) and lab_ftpalg_start
  bench_lab || die "lab set-up failed ($backend, round $round)"
  LAB_FTPALG_LOG=$LAB_DIR/$backend-r$round.log
  # lab_ftpalg_start passes --seq-owner $LAB_SEQ_OWNER: for the ftpalg backend that is the
  # default spelled out (ftpalg run --help: --seq-owner defaults to kernel).
  # shellcheck disable=SC2119  # default options
  lab_ftpalg_start || die "ftpalg did not start: $(tail -n 5 "$LAB_DIR/ftpalg.stderr" 2>/dev/null)"
  # The mode the daemon really runs in (kernel falls back to engine where the anchor is missing).
  want="sequence owner $seq_owner"
  grep -q "^ftpalg: info: running.*$want" "$LAB_DIR/ftpalg.stderr" ||
    die "$backend: ftpalg does not say '$want': $(grep '^ftpalg: info: running' "$LAB_DIR/ftpalg.stderr")"
  if lab_in "$LAB_NS_R" nft list ruleset 2>/dev/null | grep -q 'ct helper "ftp'; then
    die "the kernel ftp helper is assigned in the $backend run's router"
  fi
  local q0='' d0='' q1='' d1=''
  read -r q0 d0 < <(bench_queue_counts)
  bench_load "$backend" "$round"
  read -r q1 d1 < <(bench_queue_counts)
  if [[ -n $q0 && -n $q1 ]]; then
    queue_trips+=("$backend $round $((q1 - q0)) $((d1 - d0)) $per_backend")
  else
    fail_notes+=("$backend round $round: no NFQUEUE instance in the router's" \
      "/proc/net/netfilter/nfnetlink_queue (queue trips not counted)")
  fi
  # shellcheck disable=SC2154  # set by lab_ftpalg_start
  pid=$LAB_PID_ftpalg
  kill -0 "$pid" 2>/dev/null || alive=
  lab_ftpalg_stop TERM
  bench_forget_pid "$pid"
  [[ -z $alive ]] && { fail_total=$((fail_total + 1)); fail_notes+=("$backend died during round $round"); }
  ((LAB_FTPALG_RC != 0)) && fail_notes+=("$backend exit status $LAB_FTPALG_RC in round $round")
  residue=$(lab_ftpalg_residue)
  [[ -n $residue ]] && fail_notes+=("$backend left rules behind in round $round: $residue")
  local counts
  counts=$("$LAB_PY" "$root/scripts/lab/logsum.py" "$LAB_FTPALG_LOG" 2>/dev/null)
  ftpalg_counts+=("$backend round $round: $counts; exit status $LAB_FTPALG_RC; residue: ${residue:-none}")
  # Its own view of the hold (printed on exit): receive-to-verdict of the announcing packets.
  local held
  held=$(grep -o '[0-9]* announcement packets; receive-to-verdict.*' "$LAB_DIR/ftpalg.stderr" 2>/dev/null | tail -n 1)
  ftpalg_counts+=("$backend round $round, inside ftpalg: ${held:-no announcement latency line in its stderr}")
}

# bench_kernel ROUND: a fresh lab with the kernel's helper assigned by nft (no ftpalg).
bench_kernel() {
  local round=$1 n
  # shellcheck disable=SC2034  # read by lab_firewall
  LAB_SEQ_OWNER=kernel  # no pinhole accept rule in the firewall: the kernel helper needs none
  bench_lab || die "lab set-up failed (kernel, round $round)"
  bench_kernel_helper || die "could not assign the kernel ftp helper (CONFIG_NF_CONNTRACK_FTP/NF_NAT_FTP?)"
  n=$(lab_in "$LAB_NS_R" nft list chain inet ftphelper prerouting 2>/dev/null | grep -c 'ct helper set')
  ((n == 1)) || die "the ct helper rule is missing in the kernel run's router"
  bench_load kernel "$round"
}

echo "ftpalg live benchmark: masq topology, strict firewall, vsftpd (active mode: login, PORT, LIST, QUIT)"
echo "  $sessions timed sessions per run (+$warmup warm-up), concurrency: $concs; rounds: $rounds" \
  "(fresh lab each; order ${backends[*]}, reversed every other round)"
echo "  $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), kernel $(uname -r)," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"

# bench_backend NAME ROUND
bench_backend() {
  case $1 in
    kernel) bench_kernel "$2" ;;
    *) bench_ftpalg "$1" "$2" ;;
  esac
}

for ((round = 1; round <= rounds; round++)); do
  order=("${backends[@]}")
  if ((round % 2 == 0)); then
    order=()
    for ((i = ${#backends[@]} - 1; i >= 0; i--)); do order+=("${backends[i]}"); done
  fi
  for b in "${order[@]}"; do bench_backend "$b" "$round"; done
done
echo "  load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"

# --- report -----------------------------------------------------------------------------------
"$LAB_PY" - "$concs" "${queue_trips[*]}" "${results[@]}" <<'PYEOF'
import json, sys
concs = sys.argv[1].split()
trips_in = sys.argv[2].split()
runs = {}  # (backend, c) -> [(round, result, rtts)]
for item in sys.argv[3:]:
    backend, c, rnd, path = item.split(" ", 3)
    with open(path) as f:
        r = json.load(f)
    try:
        with open(path[: -len(".json")] + ".rtt") as f:
            rtts = [float(x) for x in f if x.strip()]
    except FileNotFoundError:
        rtts = []
    try:
        with open(path[: -len(".json")] + ".rtt.noop") as f:
            noops = [float(x) for x in f if x.strip()]
    except FileNotFoundError:
        noops = []
    runs.setdefault((backend, c), []).append((int(rnd), r, rtts, noops))

def pct(sorted_values, q):  # nearest rank
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(rank) - 1]

agg = {}
for key, lst in runs.items():
    lst.sort(key=lambda t: t[0])
    ok = sum(r["ok"] for _, r, _, _ in lst)
    wall = sum(r["wall_s"] for _, r, _, _ in lst)
    rtts = sorted(x for _, _, rt, _ in lst for x in rt)
    noops = sorted(x for _, _, _, nt in lst for x in nt)
    agg[key] = dict(
        ok=ok, total=sum(r["sessions"] for _, r, _, _ in lst),
        failed=sum(r["failed"] + r.get("warmup_failed", 0) for _, r, _, _ in lst),
        wall=wall, sps=ok / wall if wall else 0.0, p50=pct(rtts, 50), p99=pct(rtts, 99),
        noop_p50=pct(noops, 50),
        per_round=[r["sessions_per_s"] for _, r, _, _ in lst],
        p50_round=[r.get("port_rtt_us", {}).get("p50") for _, r, _, _ in lst])

def fmt(v, spec=".1f"):
    return "n/a" if v is None else format(v, spec)

print()
BACKENDS = ("ftpalg", "ftpalg-eng", "kernel")
print(f"{'clients':>7}  {'backend':10}  {'ok/total':>9}  {'failed':>6}  {'wall s':>7}  {'sessions/s':>10}"
      f"  {'PORT RTT p50 us':>15}  {'p99 us':>8}  {'NOOP p50 us':>11}   per round: sessions/s | p50 us")
for c in concs:
    for b in BACKENDS:
        a = agg.get((b, c))
        if a is None:
            continue
        pr = " ".join(f"{x:.1f}" for x in a["per_round"])
        pp = " ".join(fmt(x) for x in a["p50_round"])
        print(f"{c:>7}  {b:10}  {a['ok']:>4}/{a['total']:<4}  {a['failed']:>6}  {a['wall']:>7.2f}"
              f"  {a['sps']:>10.1f}  {fmt(a['p50']):>15}  {fmt(a['p99']):>8}  {fmt(a['noop_p50']):>11}   {pr} | {pp}")
print("  (totals over all rounds; failed includes warm-up sessions; PORT RTT: from sending PORT to")
print("   receiving its 200 reply, measured at the client, through the router both ways; NOOP:")
print("   the same for a NOOP just before it in the same session, the reference that announces nothing;")
print("   ftpalg: default options, the conntrack-owned mode; ftpalg-eng: --seq-owner engine)")
print()
for c in concs:
    k = agg.get(("kernel", c))
    for b in BACKENDS[:2]:
        f = agg.get((b, c))
        if not f or not k:
            continue
        ratio = f["sps"] / k["sps"] if k["sps"] else None
        diff = f["p50"] - k["p50"] if f["p50"] is not None and k["p50"] is not None else None
        ratio_s = "n/a" if ratio is None else f"{ratio:.3f}x"
        print(f"{c:>2} client(s), {b:10}: sessions/s {b}/kernel = {ratio_s}  (target >= 1.00x);"
              f"  PORT RTT p50 {b} - kernel = {fmt(diff, '+.1f')} us  (target <= +50 us)")
        if diff is not None and f["noop_p50"] is not None and k["noop_p50"] is not None:
            queue = f["noop_p50"] - k["noop_p50"]
            print(f"{'':>27}of which the queue round trips (NOOP p50 {b} - kernel) {queue:+.1f} us,"
                  f" the announcement (rewrite, pinhole commit) {diff - queue:+.1f} us")
print()
print("queue trips per session (packets the kernel queued to ftpalg, id_sequence in the router's")
print("/proc/net/netfilter/nfnetlink_queue, over the sessions run on that instance, warm-up included):")
trips = {}
for i in range(0, len(trips_in) - 4, 5):
    b, rnd, queued, dropped, n = trips_in[i:i + 5]
    trips.setdefault(b, []).append((int(rnd), int(queued), int(dropped), int(n)))
for b in BACKENDS[:2]:
    lst = sorted(trips.get(b, []))
    if not lst:
        continue
    queued = sum(q for _, q, _, _ in lst)
    dropped = sum(d for _, _, d, _ in lst)
    n = sum(x for _, _, _, x in lst)
    per_round = " ".join(f"{q / x:.2f}" for _, q, _, x in lst)
    print(f"  {b:10}: {queued / n:.2f}  ({queued} packets / {n} sessions; queue_dropped {dropped};"
          f" per round: {per_round})")
errors = {}
for (b, c), lst in sorted(runs.items()):
    for _, r, _, _ in lst:
        for k, v in r.get("errors", {}).items():
            key = f"{b} c={c} {k}"
            errors[key] = errors.get(key, 0) + v
if errors:
    print()
    print("failures: " + ", ".join(f"{k}: {v}" for k, v in errors.items()))
PYEOF

sess_failed=$("$LAB_PY" - "${results[@]}" <<'PYEOF'
import json, sys
total = 0
for item in sys.argv[1:]:
    with open(item.split(" ", 3)[3]) as f:
        r = json.load(f)
    total += r["failed"] + r.get("warmup_failed", 0)
print(total)
PYEOF
)
fail_total=$((fail_total + ${sess_failed:-1}))
echo
for n in "${ftpalg_counts[@]}"; do echo "ftpalg run, $n"; done
echo "kernel run: nf_conntrack_ftp + nf_nat_ftp assigned by an nft 'ct helper set' rule on tcp/21; no ftpalg"
for n in "${fail_notes[@]}"; do echo "note: $n"; done
if ((fail_total > 0)); then
  echo "FAILED: $fail_total failed session(s) (work dir kept: $LAB_DIR)"
  exit 1
fi
# shellcheck disable=SC2034  # read by lab_cleanup
LAB_RM_DIR=1
echo "all sessions completed"
exit 0
