#!/usr/bin/env bash
# The conntrack-owned mode across an ftpalg outage (issue 16), with `ftpalg run --fail-open`
# ($FTPALG_BIN, --seq-owner kernel) on a masquerading router, the admin's strict firewall WITHOUT
# any ftpalg-specific accept rule (forward policy drop, invalid dropped, established,related
# accepted, new tcp/21 accepted, nf_conntrack_tcp_be_liberal=0), vsftpd outside, and one control
# connection in active mode whose every PORT rewrite shortens the line (192,168,77,10 ->
# 203,0,113,1: -2 bytes, so conntrack must keep adjusting the sequence numbers):
#   kill : a 2 MB RETR runs (read slowly) when ftpalg is killed with SIGKILL; the transfer
#          completes and NOOP, PWD, SIZE, CWD, NOOP work while no ftpalg runs; a new instance
#          takes the connection over (its start reports it) and the same session's next PORT is
#          rewritten and its RETR (sha256 checked) and LIST work;
#   term : the same with a clean stop (SIGTERM, exit 0: an upgrade);
#   rst  : instead of an outage, RSTs forged with the control connection's 4-tuple from the
#          server's side (one inside the window at a wrong sequence number, one outside it) reach
#          the router while the transfer runs: the session continues as above and ftpalg logs no
#          session end.
# Usage: tests/e2e/scenario-takeover.sh kill|term|rst [--id ID] [--keep]
# Output: "CHECK name ok|FAIL detail" lines, then
#   RESULT pass|fail|skip reason=R kind=K checks=N failed=N ftpalg_exit=N residue=R dir=D
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/scripts/lab/lab.sh"
LAB_SEQ_OWNER=kernel

usage() { echo "usage: $0 kill|term|rst [--id ID] [--keep]" >&2; exit 2; }
kind=${1:-}
shift || true
id=$$ keep=
while (($#)); do
  case $1 in
    --id) id=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) usage ;;
  esac
done
case $kind in kill | term | rst) ;; *) usage ;; esac

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
  sleep "${SCENARIO_TIMEOUT:-80}" &
  s=$!
  wait "$s" && kill -TERM $$ 2>/dev/null
) &
LAB_PIDS+=($!)
trap 'result fail scenario_timeout; lab_cleanup; trap - EXIT; exit 1' TERM
fail() { result fail "$1"; exit 1; }

# wait_line FILE REGEX SECONDS: until FILE has a line matching REGEX.
wait_line() {
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

lab_topo masq || fail topology_failed
lab_firewall strict || fail firewall_failed
lab_in "$LAB_NS_R" nft list ruleset 2>/dev/null | grep -q 'ct mark and 0x00010000'
check no_ftpalg_accept_rule $((1 - $?)) "the admin's forward chain has no pinhole accept rule"
lab_make_data 65536
big_size=2097152
lab_make_file "$LAB_SRV/pub/big.bin" "$big_size"
big_sha=$(sha256sum "$LAB_SRV/pub/big.bin" | cut -d' ' -f1)
lab_server_start vsftpd || fail server_start_failed

LAB_FTPALG_LOG=$LAB_DIR/ftpalg-1.log
lab_ftpalg_start --fail-open || fail ftpalg_start_failed

lab_bg client "$LAB_NS_C" "$LAB_DIR/client.log" "$LAB_PY" "$root/scripts/lab/takeover_session.py" \
  --host "$LAB_SERVER4" --big /pub/big.bin --big-sha "$big_sha" --rate 500000 \
  --get /pub/test.bin --get-sha "$LAB_TEST_SHA256" \
  --go-dead "$LAB_DIR/go-dead" --go-restarted "$LAB_DIR/go-restarted"
wait_line "$LAB_DIR/client.log" '^transfer_started' 15
check transfer_started_with_ftpalg $? "$(grep -m1 '^step port' "$LAB_DIR/client.log")"

case $kind in
  kill)
    lab_ftpalg_stop KILL
    check killed_by_sigkill $((LAB_FTPALG_RC != 137)) "exit status $LAB_FTPALG_RC"
    ;;
  term)
    lab_ftpalg_stop TERM
    check clean_stop $((LAB_FTPALG_RC != 0)) "exit status $LAB_FTPALG_RC"
    ;;
  rst)
    lab_bg forge "$LAB_NS_S" "$LAB_DIR/forge.log" "$LAB_PY" "$root/scripts/lab/forge_rst.py" "$LAB_SERVER4" 20
    ;;
esac
touch "$LAB_DIR/go-dead"
wait_line "$LAB_DIR/client.log" '^(while_dead ok|error|.*MISMATCH|no go)' 30
grep -q '^big bytes '"$big_size"' ok' "$LAB_DIR/client.log"
check running_transfer_completes $? "$(grep -m1 -E '^big |^error' "$LAB_DIR/client.log")"
grep -q '^while_dead ok' "$LAB_DIR/client.log"
check commands_work_meanwhile $? "$(grep -E '^step dead|^error' "$LAB_DIR/client.log" | tr '\n' ';')"

if [[ $kind == rst ]]; then
  wait_line "$LAB_DIR/forge.log" '^forged out_of_window' 10
  check forged_rsts_sent $? "$(tr '\n' ';' <"$LAB_DIR/forge.log")"
  log=$LAB_DIR/ftpalg-1.log
else
  LAB_FTPALG_LOG=$LAB_DIR/ftpalg-2.log
  lab_ftpalg_start --fail-open
  check restart_succeeds $? "$(tail -n 2 "$LAB_DIR/ftpalg.stderr" 2>/dev/null | tr '\n' ' ')"
  grep -q 'takeover: 1 anchored control connection(s) already running (1 with a kernel sequence adjustment, 1 with a verified dialog' "$LAB_DIR/ftpalg.stderr"
  check takeover_reported $? "$(grep -m1 'takeover' "$LAB_DIR/ftpalg.stderr")"
  log=$LAB_DIR/ftpalg-2.log
fi
touch "$LAB_DIR/go-restarted"
wait_line "$LAB_DIR/client.log" '^(after_restart ok|error|.*MISMATCH|no go)' 30
grep -q '^after_restart ok' "$LAB_DIR/client.log"
check next_port_rewritten_and_data_works $? "$(grep -E '^step (after|port|retr|list)|^get |^error' "$LAB_DIR/client.log" | tail -n 7 | tr '\n' ';')"
# The decision log of the instance that handled the last PORTs: two rewrites (RETR, LIST).
rewrites=$(grep -c '"event":"rewrite".*PORT 203,0,113,1,' "$log")
check rewrites_logged $(((rewrites >= 2) ? 0 : 1)) "rewrites=$rewrites in $(basename "$log")"
closes=$(grep '"event":"session_close"' "$log" | grep -vc '"reason":"conntrack_destroyed"')
check no_session_end_seen $((closes != 0)) "session_close events other than conntrack_destroyed: $closes"
invalid=$(lab_in "$LAB_NS_R" conntrack -S 2>/dev/null | grep -o 'invalid=[0-9]*' | cut -d= -f2 | paste -sd+ | bc)
if [[ $kind == rst ]]; then
  # The out-of-window RST is INVALID by design (and dropped by the admin's rule).
  check at_most_the_forged_rst_invalid $(((${invalid:-9} <= 1) ? 0 : 1)) "conntrack invalid=${invalid:-?}"
else
  check no_invalid_packets $((${invalid:-1} != 0)) "conntrack invalid=${invalid:-?}"
fi

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
