#!/bin/bash
# tests/e2e/scenario-ha.sh active|passive|pending [--id ID] [--keep]: FTP sessions through a
# router failover (docs/ha.md), in the two-router lab of scripts/lab/ha/ha.sh: keepalived VRRP,
# conntrackd FTFW with ExpectationSync, ftpalg --seq-owner kernel on both routers, the admin's
# strict firewall (ct state invalid drop, no ftpalg-specific accept rule), be_liberal=0.
#
#   active   client c (192.168.77.10, SNAT to the WAN VIP) -> server s, active mode, PORT rewritten
#            (-2 bytes): router a crashes during a 50 MB RETR; the RETR completes (sha256),
#            commands go on, a second PORT is rewritten by router b and its RETR works; a comes
#            back, b stops cleanly (fail-back to a), a third PORT + RETR via a.
#   passive  client w (203.0.113.50) -> the WAN VIP, DNAT'd to server d (192.168.77.20), passive
#            mode, 227 rewritten (-2 bytes): the same steps.
#   pending  active mode: PORT announced through a, a crashes, RETR: the server dials b, whose
#            ftpalg re-created the replicated expectation with NAT.
# Output: CHECK lines, then RESULT (check-lib.sh's format); exit 0 only when every check passed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lab/ha/ha.sh"
source "$here/check-lib.sh"
KIND=ha-$1
scenario=$1
shift
id=$$ keep=
while [[ $# -gt 0 ]]; do
  case $1 in
    --id) id=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "scenario-ha.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case $scenario in active | passive | pending) ;; *) echo "scenario-ha.sh: unknown scenario $scenario" >&2; exit 2 ;; esac

if [[ $(id -u) != 0 ]]; then result skip not_root; exit 77; fi
if ! lab_ftpalg_available "${FTPALG_BIN:-}"; then result skip ftpalg_run_unavailable; exit 77; fi
for tool in conntrackd keepalived vsftpd; do
  command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] || { result fail "missing_$tool"; exit 1; }
done
LAB_QUIET=${LAB_QUIET-1}
ha_init "$id" || { result fail lab_init_failed; exit 1; }
[[ -z $keep ]] && LAB_RM_DIR=1
(
  trap 'kill "$s" 2>/dev/null; exit 0' TERM
  sleep "${SCENARIO_TIMEOUT:-75}" &
  s=$!
  wait "$s" && kill -TERM $$ 2>/dev/null
) &
LAB_PIDS+=($!)
trap 'result fail scenario_timeout; lab_cleanup; trap - EXIT; exit 1' TERM

ha_up || fail lab_setup_failed
out=$HA_DIR/client
mkdir -p "$out"
lab_in "$(ha_ns c)" ping -c1 -W2 "$HA_SERVER" >/dev/null || fail no_route_through_a

# wait_file PATH SECONDS: until PATH exists.
wait_file() {
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    [[ -e $1 ]] && return 0
    sleep 0.05
  done
  return 1
}
# wait_notify R STATE N: until R's notify script has finished STATE (primary|backup) N times.
wait_notify() {
  local i
  for ((i = 0; i < 100; i++)); do
    [[ $(grep -c " $2 end" "$HA_DIR/$1/notify.log" 2>/dev/null) -ge $3 ]] && return 0
    sleep 0.05
  done
  return 1
}
# ftpalg_rewrites R VERB: the rewrite events (their "after" lines) in router R's ftpalg log.
ftpalg_rewrites() {
  "$LAB_PY" -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") == "rewrite" and e.get("verb") == sys.argv[2]:
        print(e["after"])' "$HA_DIR/$1/ftpalg.log" "$2" 2>/dev/null
}
# client_json EXPR: a value of the client's result (Python expression over `r`).
client_json() { "$LAB_PY" -c "import json; r = json.load(open('$out/result.json')); print($1)" 2>/dev/null; }

# Fail-over: crash a, b takes over. Reported from b's notify log (milliseconds since the
# epoch): when b's keepalived became master (its notify script began) and when the conntrackd
# steps ended, counted from the crash.
failover_a_to_b() {
  local t0 begin end
  t0=$(date +%s%3N)
  ha_crash a
  ha_wait_master b || fail b_never_master
  wait_notify b primary 1 || fail b_commit_missing
  begin=$(awk '$2 == "primary" && $3 == "begin" { print $1; exit }' "$HA_DIR/b/notify.log")
  end=$(awk '$2 == "primary" && $3 == "end" { print $1; exit }' "$HA_DIR/b/notify.log")
  echo "INFO failover: b master $((begin - t0)) ms after the crash, its conntrackd steps done $((end - t0)) ms after it"
}
# Fail-back: a comes back as backup and resynchronises (-n); b stops cleanly; a takes over and
# commits (its second primary). The session is idle meanwhile (docs/ha.md: the fail-back window).
failback_b_to_a() {
  ha_repair a
  wait_notify a backup 2 || fail a_not_backup_again
  # -n (resync from b) is answered asynchronously: give b's bulk time to land in a's external cache.
  sleep 1
  ha_stop b
  ha_wait_master a || fail a_never_master_again
  wait_notify a primary 2 || fail a_commit_missing
}

case $scenario in
  active | passive)
    if [[ $scenario == active ]]; then
      ns=$(ha_ns c) server=$HA_SERVER mode=()
    else
      ns=$(ha_ns w) server=$HA_WAN_VIP mode=(--passive)
    fi
    lab_bg client "$ns" "$out/client.log" timeout -k 2 60 "$LAB_PY" "$HA_HERE/ha_client.py" --scenario retr \
      "${mode[@]}" --server "$server" --progress "$out/progress" --result "$out/result.json" \
      --sha "$HA_DIR/data.sha256" --then "$out/failback"
    # The failover once 10 MiB of the 50 MB have arrived (about 1 s at HA_RATE).
    for ((i = 0; i < 200; i++)); do
      [[ $(cat "$out/progress" 2>/dev/null || echo 0) -ge 10485760 ]] && break
      sleep 0.05
    done
    [[ $(cat "$out/progress" 2>/dev/null || echo 0) -ge 10485760 ]] || fail big_retr_never_started
    failover_a_to_b
    if wait_file "$out/failback.waiting" 30; then
      failback_b_to_a
      touch "$out/failback"
    fi
    wait_pid "$LAB_PID_client" 40
    check big_retr_sha256 "$([[ $(client_json 'r["phases"][0]["sha_ok"]') == True ]]; echo $?)" \
      "50 MB through the failover: $(client_json '{k: v for k, v in r["phases"][0].items() if k != "gaps"}')"
    check commands_after_failover "$([[ $(client_json 'r["phases"][1]["commands"]["NOOP"]') == 200* ]]; echo $?)" \
      "NOOP: $(client_json 'r["phases"][1]["commands"]["NOOP"]')"
    check second_retr_via_b "$([[ $(client_json 'r["phases"][2]["sha_ok"]') == True ]]; echo $?)" \
      "$(client_json 'r.get("error", "")')"
    if [[ $scenario == active ]]; then
      verb=PORT want="PORT 203,0,113,1,"
      n=$(client_json 'len([a for a in r["announcements"] if a.get("sent") == "PORT"])')
    else
      verb=227 want="227 Entering Passive Mode (203,0,113,1,"
      n=$(client_json 'len([a for a in r["announcements"] if "received" in a])')
      check client_saw_public_227 "$([[ $(client_json '" ".join(a["received"] for a in r["announcements"])') != *192,168,77,20* ]]; echo $?)" \
        "$(client_json '[a["received"] for a in r["announcements"]]')"
    fi
    ra=$(ftpalg_rewrites a "$verb" | grep -c "^$want")
    rb=$(ftpalg_rewrites b "$verb" | grep -c "^$want")
    check first_${verb}_rewritten_by_a "$([[ $ra -ge 1 ]]; echo $?)" "a: $ra $verb rewrites"
    check second_${verb}_rewritten_by_b "$([[ $rb -ge 1 ]]; echo $?)" "b: $rb $verb rewrites"
    check b_took_the_session_over "$(grep -q 'takeover: anchored control connection' "$HA_DIR/b/ftpalg.stderr"; echo $?)" \
      "$(grep -m1 'takeover:' "$HA_DIR/b/ftpalg.stderr")"
    check third_retr_after_failback "$([[ $(client_json 'r["phases"][4]["sha_ok"]') == True ]]; echo $?)" \
      "announcements seen by the client: $n, $(client_json 'r.get("error", "")')"
    check third_${verb}_rewritten_by_a "$([[ $ra -ge 2 ]]; echo $?)" "a: $ra $verb rewrites"
    ;;
  pending)
    lab_bg client "$(ha_ns c)" "$out/client.log" timeout -k 2 60 "$LAB_PY" "$HA_HERE/ha_client.py" --scenario pending \
      --server "$HA_SERVER" --progress "$out/progress" --result "$out/result.json" \
      --sha "$HA_DIR/data.sha256" --then "$out/go"
    wait_file "$out/go.port-sent" 20 || fail port_never_sent
    sleep 0.3  # conntrackd sends the expectation to b's external cache
    exp_a=$(lab_in "$(ha_ns a)" conntrack -L expect 2>/dev/null | grep -c "dport=")
    failover_a_to_b
    sleep 0.2
    exp_b=$(lab_in "$(ha_ns b)" conntrack -L expect 2>/dev/null)
    touch "$out/go"
    wait_pid "$LAB_PID_client" 40
    check pinhole_on_a "$([[ $exp_a -ge 1 ]]; echo $?)" "a had $exp_a expectation(s)"
    check pinhole_recreated_with_nat_on_b "$(grep -q 're-created with NAT' "$HA_DIR/b/ftpalg.stderr"; echo $?)" \
      "$(grep -m1 'replicated pinhole' "$HA_DIR/b/ftpalg.stderr") | b: ${exp_b//$'\n'/ ; }"
    check data_connection_via_b "$([[ $(client_json 'r["phases"][0]["sha_ok"]') == True ]]; echo $?)" \
      "$(client_json 'r.get("error", "")')"
    ;;
esac

for r in a b; do
  var="LAB_PID_ftpalg_$r"
  lab_stop "${!var}" TERM 8
  check "ftpalg_${r}_exit" "$LAB_STOP_RC" "exit status $LAB_STOP_RC; $(grep -c 'warning\|error' "$HA_DIR/$r/ftpalg.stderr") warning/error lines"
done
echo "INFO notify a: $(tr '\n' '|' <"$HA_DIR/a/notify.log" 2>/dev/null)"
echo "INFO notify b: $(tr '\n' '|' <"$HA_DIR/b/notify.log" 2>/dev/null)"
if [[ $failed -gt 0 ]]; then
  LAB_RM_DIR=
  result fail checks_failed
  exit 1
fi
result pass ok
exit 0
