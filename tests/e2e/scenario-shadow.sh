#!/usr/bin/env bash
# Shadow mode (docs/admin-guide.md#dry-run-and-shadow-mode): the kernel's ftp helper
# (nf_conntrack_ftp + nf_nat_ftp, assigned by an nft `ct helper` rule, as an admin migrating from
# it has it) serves active FTP through a masquerading router with the admin's strict firewall,
# while `ftpalg run --dry-run` reads copies through NFLOG and logs what it would decide.
#   1. active mode works (curl, through the kernel helper); ftpalg started next to the helper,
#      logged its decisions in mode dry-run, and its rewrite of each PORT equals the line the
#      kernel helper sent to the server (captured on wan0): the decisions compared;
#   2. ftpalg stopped with SIGSTOP: a session that was open (scripts/lab/hold_session.py: LIST,
#      PORT, then RETR after the stop, then PORT + RETR again) and a new curl session both
#      complete, each within 10 s: nothing waits for the stopped instance;
#   3. after SIGCONT ftpalg exits cleanly on SIGTERM and leaves nothing behind.
# Usage: tests/e2e/scenario-shadow.sh [--id ID] [--keep]
# Output: CHECK lines, DECISION lines, RESULT (tests/e2e/check-lib.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/scripts/lab/lab.sh"
source "$here/check-lib.sh"

KIND=shadow
id=$$
while (($#)); do
  case $1 in
    --id) id=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "usage: $0 [--id ID] [--keep]" >&2; exit 2 ;;
  esac
done

checks_begin "$id"
lab_topo masq || fail topology_failed
lab_firewall strict || fail firewall_failed
lab_make_data 131072
lab_server_start vsftpd || fail server_start_failed
if command -v modprobe >/dev/null 2>&1; then modprobe -q nf_conntrack_ftp nf_nat_ftp 2>/dev/null || true; fi
lab_in "$LAB_NS_R" nft -f - <<'EOF' || fail kernel_helper_failed
table inet ftphelper {
  ct helper ftp-standard { type "ftp" protocol tcp; l3proto ip; }
  chain prerouting {
    type filter hook prerouting priority filter; policy accept;
    iifname "lan0" tcp dport 21 ct helper set "ftp-standard"
  }
}
EOF
lab_ftpalg_start --dry-run || fail ftpalg_start_failed
stderr=$LAB_DIR/ftpalg.stderr
grep -q '^ftpalg: info: shadow mode: ' "$stderr"
check started_next_to_kernel_helper $? "$(grep -m1 'shadow mode' "$stderr")"
lab_capture_start "$LAB_NS_R" wan0 "$LAB_DIR/wan0.pcap" tcp port 21 || fail capture_failed

# 1. The kernel helper serves the session; ftpalg decides the same rewrite.
lab_client curl port 4 "$LAB_DIR/client1"
check active_mode_through_kernel_helper $? "curl port: $LAB_CLIENT_REASON"
lab_capture_stop
wait_for_events rewrite 1 || true
kernel=$("$LAB_PY" "$LAB_HERE/pcap_payloads.py" "$LAB_DIR/wan0.pcap" --dport 21 |
  grep -oE "PORT [0-9,]+" | sort -u)
ours=$(log_events rewrite | "$LAB_PY" -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    print(e["after"]) if e["mode"] == "dry-run" else print("MODE " + e["mode"])
' | sort -u)
[[ -n $kernel && $kernel == "$ours" ]]
check rewrite_equals_kernel_helpers "$?" "kernel helper sent [$kernel], ftpalg --dry-run decided [$ours]"
n=$(log_events pinhole | grep -c .)
check pinhole_decided "$((n >= 1 ? 0 : 1))" "$n pinhole decisions logged"

# 2. Stopped, it delays nothing.
go=$LAB_DIR/go
log=$LAB_DIR/client.log
lab_bg client "$LAB_NS_C" "$log" "$LAB_PY" "$LAB_HERE/hold_session.py" --host "$LAB_SERVER4" \
  --mode port --warmup --again --get /pub/test.bin --sha256 "$LAB_TEST_SHA256" --go-file "$go" --timeout 10
wait_for_line "$log" '^announced ' >/dev/null || { cat "$log" >&2; fail announcement_failed; }
kill -STOP "$LAB_PID_ftpalg"
stopped=1
for ((i = 0; i < 100; i++)); do
  grep -q '^State:.*T (stopped)' "/proc/$LAB_PID_ftpalg/status" && { stopped=0; break; }
  sleep 0.01
done
check ftpalg_stopped "$stopped" "$(grep '^State' "/proc/$LAB_PID_ftpalg/status")"
start=$(date +%s%N)
touch "$go"
wait_pid "$LAB_PID_client" 10
ms=$((($(date +%s%N) - start) / 1000000))
check open_session_completes_while_stopped "$WAIT_RC" "${ms} ms: $(tr '\n' ' ' <"$log")"
grep -qE '^again retr sha256 [0-9a-f]+ ok$' "$log"
check next_port_while_stopped $? "$(grep -E '^(retr|again)' "$log" | tr '\n' ' ')"
start=$(date +%s%N)
LAB_CLIENT_TIMEOUT=10 lab_client curl port 4 "$LAB_DIR/client2"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
check new_session_while_stopped "$rc" "${ms} ms: curl port: $LAB_CLIENT_REASON"

# 3.
kill -CONT "$LAB_PID_ftpalg"
sleep 0.5
checks_end
