#!/usr/bin/env bash
# Operations commands against a real router namespace (scripts/lab/lab.sh, masquerading topology,
# the admin's strict firewall of issue 4), with $FTPALG_BIN:
#   check : `ftpalg check` passes with the lab's rules and changes nothing (nft and iptables
#           listings identical before and after); without the pinhole accept rule it fails, naming
#           the forward chain's policy and printing the fix, and after the fix is applied it passes
#           again; a kernel ftp helper assigned in the map syntax
#           (`ct helper set tcp dport map { 21 : "ftp-std" }`) fails the kernel-ftp-helper check.
#   status: `ftpalg run` with vsftpd outside; a client (scripts/lab/hold_session.py) sends PASV and
#           holds before its RETR. `ftpalg status --json` names the session's flow (inspecting)
#           and its pinhole from the client, counters are nonzero; the metrics endpoint
#           (--metrics-listen 127.0.0.1:9721 in the router namespace) has the counters, the
#           session and pinhole gauges and a latency histogram with samples; SIGHUP after the
#           config file changed applies max-pinholes and names queue-balance as needing a
#           restart, the session stays (status) and its transfer completes.
# Usage: tests/e2e/scenario-ops.sh check|status [--id ID]
# Output: CHECK lines, then RESULT (tests/e2e/check-lib.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/scripts/lab/lab.sh"
source "$here/check-lib.sh"

KIND=${1:-}
shift || true
# The lab ID: $LAB_PREFIX (letters and digits of it) and this PID, so labs of parallel runs differ.
id=$(printf '%s' "${LAB_PREFIX:-}" | tr -cd 'A-Za-z0-9' | cut -c1-5)$$
while (($#)); do
  case $1 in
    --id) id=$2; shift 2 ;;
    *) echo "usage: $0 check|status [--id ID]" >&2; exit 2 ;;
  esac
done
case $KIND in check | status) ;; *) echo "usage: $0 check|status [--id ID]" >&2; exit 2 ;; esac

# The check kind exercises the engine-owned mode's pinhole accept rule (deleted, then the fix
# applied): the lab and `ftpalg check` use --seq-owner engine for it.
[[ $KIND == check ]] && LAB_SEQ_OWNER=engine
checks_begin "$id"
lab_topo masq || fail topology_failed
lab_firewall strict || fail firewall_failed

# ftpalg check in the router namespace; its output in $LAB_DIR/check.N, its status in $rc.
n=0
run_check() {
  n=$((n + 1))
  out=$LAB_DIR/check.$n
  lab_in "$LAB_NS_R" "$FTPALG_BIN" check --seq-owner "$LAB_SEQ_OWNER" "$@" >"$out" 2>&1
  rc=$?
}
listing() { lab_in "$LAB_NS_R" nft list ruleset; lab_in "$LAB_NS_R" iptables-save | grep -v '^#'; lab_in "$LAB_NS_R" ip6tables-save | grep -v '^#'; }

check_scenario() {
  listing >"$LAB_DIR/before" 2>&1
  run_check
  listing >"$LAB_DIR/after" 2>&1
  check passes_with_lab_rules "$rc" "exit $rc: $(grep -E '^(FAIL|WARN)' "$out" | tr '\n' '|')"
  cmp -s "$LAB_DIR/before" "$LAB_DIR/after"
  check changes_nothing $? "$(diff "$LAB_DIR/before" "$LAB_DIR/after" | head -5 | tr '\n' '|')"
  grep -q '^ok    forward-chain ipv4: .*accepted by table inet filter chain forward: ct mark & 0x00010000 == 0x00010000 accept$' "$out"
  check forward_chain_names_the_accept_rule $? "$(grep forward-chain "$out" | tr '\n' '|')"
  for name in 'kernel nfnetlink_queue' 'kernel ctnetlink' 'kernel nf_tables' 'ip-forwarding ipv4' 'kernel-ftp-helper' 'mark-bits' 'queue rules' 'nft table'; do
    grep -q "^ok    $name: " "$out"
    check "line_ok_${name// /_}" $? "$(grep -F "$name:" "$out" | head -1)"
  done

  # Without the accept rule: the policy drops the data connection; the line says so and the fix.
  local handle
  handle=$(lab_in "$LAB_NS_R" nft -a list chain inet filter forward | sed -n 's/.*ct mark & 0x00010000 == 0x00010000 accept # handle \([0-9]*\)$/\1/p')
  [[ -n $handle ]] || fail no_accept_rule_in_lab
  lab_in "$LAB_NS_R" nft delete rule inet filter forward handle "$handle" || fail delete_rule_failed
  run_check
  [[ $rc == 1 ]]
  check fails_without_accept_rule $? "exit $rc"
  local line fix
  line=$(grep '^FAIL  forward-chain ipv4: ' "$out")
  [[ $line == *"is dropped by table inet filter chain forward: policy drop; fix: nft insert rule inet filter forward ct mark and 0x00010000 == 0x00010000 accept" ]]
  check failure_names_policy_and_fix $? "$line"
  # The fix, as printed, makes it pass again.
  fix=${line##*; fix: }
  # shellcheck disable=SC2086
  lab_in "$LAB_NS_R" $fix
  check fix_applies $? "$fix"
  run_check
  check passes_after_fix "$rc" "exit $rc: $(grep -E '^(FAIL|WARN)' "$out" | tr '\n' '|')"

  # A kernel ftp helper in the map syntax.
  lab_in "$LAB_NS_R" nft -f - <<'NFT' || fail helper_table_failed
table inet helpers {
  ct helper ftp-std { type "ftp" protocol tcp; l3proto inet; }
  chain pre {
    type filter hook prerouting priority filter; policy accept;
    ct helper set tcp dport map { 21 : "ftp-std" }
  }
}
NFT
  run_check
  line=$(grep '^FAIL  kernel-ftp-helper: ' "$out")
  [[ $rc == 1 && $line == *'table inet helpers chain pre: ct helper set tcp dport map { 21 : "ftp-std" }'* ]]
  check map_syntax_helper_detected $? "exit $rc: $line"
  # ... which does not concern a control port it does not cover.
  run_check --control-port 2121
  grep -q '^ok    kernel-ftp-helper: ' "$out"
  check other_control_port_unaffected $? "$(grep kernel-ftp-helper "$out")"
}

# json_field FILE PYTHON-EXPRESSION: evaluates the expression on the JSON document `d` in FILE.
json_field() { "$LAB_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# metric FILE NAME: the value of the sample NAME (a full name with labels) in Prometheus text.
metric() { awk -v n="$2" '$1 == n { print $2 }' "$1"; }

status_scenario() {
  lab_make_data 131072
  lab_server_start vsftpd || fail server_start_failed
  local conf=$LAB_DIR/ftpalg.conf go=$LAB_DIR/go
  printf 'max-pinholes = 100\nmetrics-listen = 127.0.0.1:9721\n' >"$conf"
  chmod 600 "$conf"
  lab_ftpalg_start --config "$conf" || fail ftpalg_start_failed

  local log=$LAB_DIR/client.log line host port
  lab_bg client "$LAB_NS_C" "$log" "$LAB_PY" "$LAB_HERE/hold_session.py" --host "$LAB_SERVER4" \
    --mode pasv --get /pub/test.bin --sha256 "$LAB_TEST_SHA256" --go-file "$go"
  line=$(wait_for_line "$log" '^announced ') || { cat "$log" >&2; fail announcement_failed; }
  read -r _ host port _ <<<"$line"

  local status=$LAB_DIR/status.json
  lab_in "$LAB_NS_R" "$FTPALG_BIN" status --json --status-socket "$LAB_STATUS_SOCKET" >"$status" 2>"$LAB_DIR/status.err"
  check status_json_answers $? "$(head -c 300 "$status") $(cat "$LAB_DIR/status.err")"
  local flow
  flow=$(json_field "$status" '[s["flow"] for s in d["sessions"] if s["flow"].startswith("'"$LAB_CLIENT4"':") and s["flow"].endswith("-'"$LAB_SERVER4"':21")]')
  [[ $flow == "['$LAB_CLIENT4:"*"-$LAB_SERVER4:21']" ]]
  check status_names_the_session_flow $? "$flow"
  [[ $(json_field "$status" '[s["state"] for s in d["sessions"]]') == "['inspecting']" ]]
  check status_session_inspecting $? "$(json_field "$status" '[s["state"] for s in d["sessions"]]')"
  (($(json_field "$status" 'd["sessions"][0]["server_to_client"]["delivered"]') > 0))
  check status_offsets_advance $? "s2c $(json_field "$status" 'd["sessions"][0]["server_to_client"]')"
  [[ $(json_field "$status" '[(p["from"], p["to"]) for p in d["pinholes"]]') == "[('$LAB_CLIENT4', '$host:$port')]" ]]
  check status_lists_the_pinhole $? "$(json_field "$status" 'd["pinholes"]')"
  (($(json_field "$status" 'd["counters"]["packets_seen"]') > 0 && $(json_field "$status" 'd["counters"]["pinholes_opened"]') == 1))
  check status_counters $? "$(json_field "$status" 'd["counters"]')"
  lab_in "$LAB_NS_R" "$FTPALG_BIN" status --status-socket "$LAB_STATUS_SOCKET" >"$LAB_DIR/status.txt" 2>&1
  grep -q "^  q0 $LAB_CLIENT4:[0-9]*-$LAB_SERVER4:21 inspecting" "$LAB_DIR/status.txt"
  check status_text_names_the_session $? "$(head -5 "$LAB_DIR/status.txt" | tr '\n' '|')"

  local metrics=$LAB_DIR/metrics.txt
  lab_in "$LAB_NS_R" curl -s -o "$metrics" -w '%{http_code} %{content_type}' http://127.0.0.1:9721/metrics >"$LAB_DIR/metrics.http"
  [[ $(cat "$LAB_DIR/metrics.http") == "200 text/plain; version=0.0.4; charset=utf-8" ]]
  check metrics_http_ok $? "$(cat "$LAB_DIR/metrics.http")"
  [[ $(metric "$metrics" ftpalg_sessions) == 1 && $(metric "$metrics" ftpalg_pinholes) == 1 ]]
  check metrics_gauges $? "sessions=$(metric "$metrics" ftpalg_sessions) pinholes=$(metric "$metrics" ftpalg_pinholes)"
  # PASV to a public server: a pinhole, no rewrite (the announced address is already the server's).
  (($(metric "$metrics" ftpalg_packets_seen_total) > 0 && $(metric "$metrics" ftpalg_pinholes_opened_total) == 1 &&
    $(metric "$metrics" ftpalg_rewrites_total) == 0))
  check metrics_counters $? "packets_seen=$(metric "$metrics" ftpalg_packets_seen_total) pinholes_opened=$(metric "$metrics" ftpalg_pinholes_opened_total) rewrites=$(metric "$metrics" ftpalg_rewrites_total)"
  local count inf
  count=$(metric "$metrics" ftpalg_verdict_latency_seconds_count)
  inf=$(metric "$metrics" 'ftpalg_verdict_latency_seconds_bucket{le="+Inf"}')
  ((count > 0)) && [[ $inf == "$count" ]]
  check metrics_latency_histogram $? "count=$count +Inf=$inf"
  [[ $(lab_in "$LAB_NS_R" curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9721/other) == 404 ]]
  check metrics_other_path_404 $? ""

  # SIGHUP: a limit is applied, a queue setting needs a restart; the session stays.
  printf 'max-pinholes = 200\nmetrics-listen = 127.0.0.1:9721\nqueue-balance = 2\n' >"$conf"
  kill -HUP "$LAB_PID_ftpalg"
  line=$(wait_for_line "$LAB_DIR/ftpalg.stderr" 'SIGHUP: applied')
  [[ $line == *"SIGHUP: applied max-pinholes 100 -> 200 (running sessions stay)" ]]
  check sighup_applies_the_limit $? "$line"
  line=$(wait_for_line "$LAB_DIR/ftpalg.stderr" 'SIGHUP: these settings')
  [[ $line == *"queue-balance 1 -> 2" ]]
  check sighup_names_what_needs_a_restart $? "$line"
  lab_in "$LAB_NS_R" "$FTPALG_BIN" status --json --status-socket "$LAB_STATUS_SOCKET" >"$status" 2>&1
  [[ $(json_field "$status" 'len(d["sessions"])') == 1 ]]
  check session_survives_sighup $? "$(json_field "$status" '[s["flow"] for s in d["sessions"]]')"

  touch "$go"
  wait_pid "$LAB_PID_client" 20
  check transfer_after_sighup "$WAIT_RC" "$(tr '\n' ' ' <"$log")"
  # Not root: refused by the socket's mode.
  lab_in "$LAB_NS_R" setpriv --reuid=65534 --regid=65534 --clear-groups "$FTPALG_BIN" status --status-socket "$LAB_STATUS_SOCKET" >"$LAB_DIR/status.nobody" 2>&1
  (($? == 1)) && grep -q 'Permission denied' "$LAB_DIR/status.nobody"
  check status_refuses_non_root $? "$(cat "$LAB_DIR/status.nobody")"
}

case $KIND in
  check) check_scenario ;;
  status) status_scenario ;;
esac
checks_end
