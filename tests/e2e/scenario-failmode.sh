#!/usr/bin/env bash
# Fail modes (issue 4, end-to-end 5), with `ftpalg run` ($FTPALG_BIN) on a masquerading router
# (admin's strict firewall, open egress so that passive FTP needs no pinhole) and vsftpd outside:
#   open  : ftpalg --fail-open; an active session works; a pinhole is left pending; ftpalg is
#           killed with SIGKILL; a passive session still works (queue bypass);
#   closed: ftpalg --fail-closed; same, but after SIGKILL a new control connection stalls (no
#           220 greeting reaches the client);
#   both  : ftpalg is restarted: it replaces the crashed instance's rules (one jump per hook, not
#           two) and table (the pending pinhole is gone); an active session works again; after
#           SIGTERM it exits 0 and leaves nothing behind. Every nf_tables transaction of the
#           restart is watched (`nft -a monitor`): none may leave a queue point without its jump
#           (tests/e2e/queue_jump_gaps.py), or control packets would pass unqueued, even under
#           --fail-closed, and a session begun then would never be helped.
# Usage: tests/e2e/scenario-failmode.sh open|closed [--id ID] [--keep]
# Output: "CHECK name ok|FAIL detail" lines, then
#   RESULT pass|fail|skip reason=R kind=K checks=N failed=N ftpalg_exit=N residue=R dir=D
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/scripts/lab/lab.sh"
# The engine-owned mode (--seq-owner engine): these checks read its nft pinhole map and its
# queue chains. The conntrack-owned default's outage, takeover and expectations are checked by
# tests/e2e/scenario-takeover.sh and tests/e2e/conntrack_owned_test.cpp.
LAB_SEQ_OWNER=engine

kind=${1:-}
shift || true
id=$$ keep=
while (($#)); do
  case $1 in
    --id) id=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 open|closed [--id ID] [--keep]" >&2; exit 2 ;;
  esac
done
case $kind in open | closed) ;; *) echo "usage: $0 open|closed [--id ID] [--keep]" >&2; exit 2 ;; esac

checks=0 failed=0 ftpalg_exit=n/a residue=n/a printed=
check() {  # check NAME OK(0|1) DETAIL
  checks=$((checks + 1))
  if [[ $2 == 0 ]]; then echo "CHECK $1 ok $3"; else echo "CHECK $1 FAIL $3"; failed=$((failed + 1)); fi
}
result() {
  [[ -n $printed ]] && return
  printed=1
  echo "RESULT $1 reason=$2 kind=$kind checks=$checks failed=$failed" \
    "ftpalg_exit=$ftpalg_exit residue=$residue dir=${LAB_DIR:-none}"
}
if [[ $(id -u) != 0 ]]; then result skip not_root; exit 77; fi
if ! lab_ftpalg_available "${FTPALG_BIN:-}"; then result skip ftpalg_run_unavailable; exit 77; fi

LAB_QUIET=${LAB_QUIET-1}
lab_init "$id" || { result fail lab_init_failed; exit 1; }
(
  trap 'kill "$s" 2>/dev/null; exit 0' TERM
  sleep "${SCENARIO_TIMEOUT:-58}" &
  s=$!
  wait "$s" && kill -TERM $$ 2>/dev/null
) &
LAB_PIDS+=($!)
trap 'result fail scenario_timeout; lab_cleanup; trap - EXIT; exit 1' TERM
fail() { result fail "$1"; exit 1; }

lab_topo masq || fail topology_failed
lab_firewall strict egress=open || fail firewall_failed
lab_make_data 65536
lab_server_start vsftpd || fail server_start_failed
mode_flag=--fail-open
[[ $kind == closed ]] && mode_flag=--fail-closed

jumps() {  # number of jumps to ftpalg's chains from the two hooks
  local a b
  a=$(lab_in "$LAB_NS_R" iptables -w -t mangle -S FORWARD 2>/dev/null | grep -c -- '-j ftpalg-c2s')
  b=$(lab_in "$LAB_NS_R" iptables -w -t raw -S PREROUTING 2>/dev/null | grep -c -- '-j ftpalg-s2c')
  echo "$a+$b"
}

LAB_FTPALG_LOG=$LAB_DIR/ftpalg-1.log
lab_ftpalg_start "$mode_flag" || fail ftpalg_start_failed
lab_client curl port 4 "$LAB_DIR/before"
check active_works_with_ftpalg $? "curl PORT: $LAB_CLIENT_REASON"

# A pending pinhole at the moment of the crash.
lab_bg announce "$LAB_NS_C" "$LAB_DIR/announce.log" "$LAB_PY" "$root/scripts/lab/announce.py" \
  --host "$LAB_SERVER4" --verb PORT --hold 40
port=
for ((i = 0; i < 100; i++)); do
  port=$(sed -n 's/^announced \([0-9]*\) reply .2.*/\1/p' "$LAB_DIR/announce.log" 2>/dev/null)
  [[ -n $port ]] && break
  sleep 0.1
done
pending() { lab_in "$LAB_NS_R" nft list map inet ftpalg pinholes4 2>/dev/null | tr ',{}' '\n\n\n' | grep -qF "203.0.113.10 . 203.0.113.1 . $port "; }
[[ -n $port ]] && pending
check pinhole_pending_before_crash $? "port=${port:-none}"

lab_ftpalg_stop KILL
check killed_by_sigkill $((LAB_FTPALG_RC != 137)) "exit status $LAB_FTPALG_RC"
lab_ftpalg_residue >"$LAB_DIR/residue-after-kill.txt"
[[ -s $LAB_DIR/residue-after-kill.txt ]]
check crash_leaves_queue_rules $? "$(wc -l <"$LAB_DIR/residue-after-kill.txt") lines of residue (expected after SIGKILL)"

if [[ $kind == open ]]; then
  lab_client curl pasv 4 "$LAB_DIR/while-dead"
  check passive_works_while_dead_fail_open $? "curl PASV: $LAB_CLIENT_REASON"
else
  LAB_CLIENT_TIMEOUT=12 lab_client curl pasv 4 "$LAB_DIR/while-dead"
  rc=$?
  greeting=1
  grep -q '^< 220' "$LAB_DIR/while-dead/transcript" 2>/dev/null && greeting=0
  check control_stalls_while_dead_fail_closed $(((rc == 0) || (greeting == 0))) \
    "curl PASV: $LAB_CLIENT_REASON, greeting $([[ $greeting == 0 ]] && echo seen || echo 'never seen')"
fi

# monitor_mark NAME: a marker transaction (a table added and deleted) in the router namespace,
# and wait until `nft monitor` has logged it: every transaction before it is in the log too.
monitor_mark() {
  local i
  lab_in "$LAB_NS_R" nft add table inet "$1" && lab_in "$LAB_NS_R" nft delete table inet "$1" || return 1
  for ((i = 0; i < 20; i++)); do
    grep -q "^add table inet $1\b" "$LAB_DIR/monitor.log" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
lab_bg monitor "$LAB_NS_R" "$LAB_DIR/monitor.log" nft -a monitor
watching=1
for ((i = 0; i < 40; i++)); do monitor_mark "fa_mark_start$i" && { watching=0; break; }; done
lab_in "$LAB_NS_R" nft -a list ruleset >"$LAB_DIR/before-restart.nft" 2>&1

LAB_FTPALG_LOG=$LAB_DIR/ftpalg-2.log
lab_ftpalg_start "$mode_flag"
check restart_succeeds $? "$(tail -n 2 "$LAB_DIR/ftpalg.stderr" 2>/dev/null | tr '\n' ' ')"
j=$(jumps)
check one_jump_per_hook_after_restart $([[ $j == 1+1 ]] && echo 0 || echo 1) "jumps=$j"
((watching == 0)) && monitor_mark fa_mark_end || watching=1
lab_stop "$LAB_PID_monitor"
"$LAB_PY" "$here/queue_jump_gaps.py" "$LAB_DIR/before-restart.nft" "$LAB_DIR/monitor.log" \
  >"$LAB_DIR/jump-timeline.txt" 2>&1
rc=$?
check no_queue_point_without_its_jump_during_restart $((watching || rc)) \
  "$([[ $watching == 0 ]] || echo 'monitor not watching; ')$(tail -n 1 "$LAB_DIR/jump-timeline.txt")$(
    grep -m1 -E 'GAP|EXTRA' "$LAB_DIR/jump-timeline.txt" | sed 's/^/; first: /')"
pending
rc=$?
check stale_pinhole_flushed_by_restart $((rc == 0)) "port $port in pinholes4 after restart: $([[ $rc == 0 ]] && echo yes || echo no)"
lab_client curl port 4 "$LAB_DIR/after"
check active_works_after_restart $? "curl PORT: $LAB_CLIENT_REASON"

lab_ftpalg_stop TERM
ftpalg_exit=$LAB_FTPALG_RC
lab_ftpalg_residue >"$LAB_DIR/residue.txt"
if [[ -s $LAB_DIR/residue.txt ]]; then residue=stale; else residue=clean; fi
check clean_exit_after_sigterm $( ([[ $ftpalg_exit == 0 && $residue == clean ]] && echo 0) || echo 1) \
  "exit=$ftpalg_exit residue=$residue"
if ((failed == 0)); then
  [[ -z $keep ]] && LAB_RM_DIR=1
  result pass ok
  exit 0
fi
result fail checks_failed
exit 1
