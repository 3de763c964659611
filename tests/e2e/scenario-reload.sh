#!/usr/bin/env bash
# Firewall reloads under a running `ftpalg run` (docs/admin-guide.md#firewall-reloads): a
# masquerading router with the admin's strict nft firewall, vsftpd outside, active mode.
# The admin's ruleset is saved before ftpalg starts and reloaded the way Debian's
# `systemctl reload nftables` does it: one `nft -f` of a file that starts with `flush ruleset`
# (/etc/nftables.conf), which deletes ftpalg's table and its iptables-nft queue rules too.
#   1. a control connection (scripts/lab/hold_session.py) lists once, sends PORT (pinhole
#      pending), then the ruleset is reloaded; ftpalg must log the reinstall within 1 s of the
#      reload, with its queue rules, its table and the pending pinhole back in place; the RETR
#      through that pinhole and the next PORT + RETR of the same session work; a new session
#      (curl, active mode) works;
#   2. a reload in two transactions (`nft flush ruleset`, then the admin's rules 0.3 s later, as a
#      firewall manager may do): reinstalled again, a new session works;
#      Then `iptables-restore` (without --noflush) of an empty mangle table: only the queue rules
#      are reinstalled, a new session works;
#   3. no loop: `nft monitor` (watching the whole time) sees no table change for 3 s after the
#      last reinstall, exactly three reinstalls are logged, and ftpalg's table was created once
#      per reload that deleted it.
# With --seq-owner kernel (the conntrack-owned mode) the queue rules are the one chain ftpalg-ct,
# the table holds the anchor, and the pinholes are conntrack expectations, which a ruleset flush
# does not touch: the same checks, the pinhole looked up with `conntrack -L expect`.
# Usage: tests/e2e/scenario-reload.sh [--seq-owner engine|kernel] [--id ID] [--keep]
# Output: CHECK lines, DECISION lines, RESULT (tests/e2e/check-lib.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/scripts/lab/lab.sh"
source "$here/check-lib.sh"

KIND=reload
id=$$
while (($#)); do
  case $1 in
    --id) id=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --seq-owner) export LAB_SEQ_OWNER=$2; shift 2 ;;
    *) echo "usage: $0 [--seq-owner engine|kernel] [--id ID] [--keep]" >&2; exit 2 ;;
  esac
done

checks_begin "$id"
lab_topo masq || fail topology_failed
lab_firewall strict || fail firewall_failed
lab_make_data 131072
lab_server_start vsftpd || fail server_start_failed
# The admin's configuration, as /etc/nftables.conf holds it.
{
  echo "flush ruleset"
  lab_in "$LAB_NS_R" nft list ruleset
} >"$LAB_DIR/nftables.conf" || fail ruleset_save_failed
lab_in "$LAB_NS_R" nft list ruleset >"$LAB_DIR/admin.nft"
lab_ftpalg_start || fail ftpalg_start_failed
lab_bg monitor "$LAB_NS_R" "$LAB_DIR/monitor.txt" nft monitor tables
sleep 0.3

stderr=$LAB_DIR/ftpalg.stderr
# lists REGEX CMD...: CMD's output (in the router) matches REGEX. The output is read whole before
# it is matched: `CMD | grep -q` under pipefail fails when grep exits before CMD has written all
# (SIGPIPE), whatever grep found.
lists() {
  local regex=$1 out
  shift
  out=$(lab_in "$LAB_NS_R" "$@" 2>&1) || return 1
  grep -qE -- "$regex" <<<"$out"
}
reinstalls() { grep -c '^ftpalg: warning: firewall: .* reinstalled ' "$stderr"; }
in_place() {
  if [[ $LAB_SEQ_OWNER == kernel ]]; then
    lists NFQUEUE iptables -w -t mangle -S ftpalg-ct &&
      lists '-j ftpalg-ct' iptables -w -t mangle -S FORWARD &&
      lists 'ct helper ftp-anchor' nft list table inet ftpalg
    return
  fi
  lists NFQUEUE iptables -w -t mangle -S ftpalg-c2s &&
    lists NFQUEUE iptables -w -t raw -S ftpalg-s2c &&
    lists '-j ftpalg-c2s' iptables -w -t mangle -S FORWARD &&
    lists '-j ftpalg-s2c' iptables -w -t raw -S PREROUTING &&
    lab_in "$LAB_NS_R" nft list table inet ftpalg >/dev/null 2>&1
}
# has_pinhole PORT: the pinhole for data port PORT is in place (an element of ftpalg's map, or in
# the conntrack-owned mode a conntrack expectation).
has_pinhole() {
  if [[ $LAB_SEQ_OWNER == kernel ]]; then
    lists "dport=$1 " conntrack -L expect
  else
    lists "\. $1 " nft list map inet ftpalg pinholes4
  fi
}
# wait_reinstalls N: until N reinstalls are logged (at most 3 s); prints the milliseconds waited.
wait_reinstalls() {
  local start i
  start=$(date +%s%N)
  for ((i = 0; i < 300; i++)); do
    (($(reinstalls) >= $1)) && { echo $((($(date +%s%N) - start) / 1000000)); return 0; }
    sleep 0.01
  done
  echo 3000
  return 1
}

# 1. A reload in the middle of a session, with a pinhole pending.
go=$LAB_DIR/go
log=$LAB_DIR/client.log
lab_bg client "$LAB_NS_C" "$log" "$LAB_PY" "$LAB_HERE/hold_session.py" --host "$LAB_SERVER4" \
  --mode port --warmup --again --get /pub/test.bin --sha256 "$LAB_TEST_SHA256" --go-file "$go"
line=$(wait_for_line "$log" '^announced ') || { cat "$log" >&2; fail announcement_failed; }
read -r _ host port _ <<<"$line"
check warmup_list_before_reload "$(grep -q '^warmup list ok' "$log"; echo $?)" "$(grep '^warmup' "$log")"
has_pinhole "$port"
check pinhole_before_reload $? "port $port"

lab_in "$LAB_NS_R" nft -f "$LAB_DIR/nftables.conf"
check reload_applied $? "nft -f nftables.conf (flush ruleset + the admin's rules)"
ms=$(wait_reinstalls 1)
check reinstall_logged_within_1s "$((ms < 1000 ? 0 : 1))" "${ms} ms: $(grep -m1 'firewall: ' "$stderr")"
[[ $(grep -m1 'firewall: ' "$stderr") == *'deleted by nft (pid'* ]]
check reinstall_names_the_committer $? "$(grep -m1 'firewall: ' "$stderr")"
for ((i = 0; i < 20; i++)); do in_place && break; sleep 0.05; done
in_place
check queue_rules_and_table_back $? "queue chains, their jumps, table inet ftpalg"
for ((i = 0; i < 20; i++)); do
  has_pinhole "$port" && break
  sleep 0.05
done
has_pinhole "$port"
check pending_pinhole_back $? "port $port: $(grep 'pending pinhole' "$stderr" | head -1)"

touch "$go"
wait_pid "$LAB_PID_client" 20
check same_session_retr_and_next_port "$WAIT_RC" "$(tr '\n' ' ' <"$log")"
grep -qE '^retr bytes [0-9]+ sha256 [0-9a-f]+ ok$' "$log"
check retr_through_recreated_pinhole $? "$(grep '^retr' "$log")"
grep -qE '^again retr sha256 [0-9a-f]+ ok$' "$log"
check next_port_after_reload $? "$(grep '^again' "$log")"

lab_client curl port 4 "$LAB_DIR/client2"
check new_session_after_reload $? "curl port: $LAB_CLIENT_REASON"

# 2. A reload in two transactions.
lab_in "$LAB_NS_R" nft flush ruleset
sleep 0.3
lab_in "$LAB_NS_R" nft -f "$LAB_DIR/admin.nft"
check two_step_reload_applied $? "nft flush ruleset; nft -f admin.nft"
ms=$(wait_reinstalls 2)
check second_reinstall_logged "$((ms < 3000 ? 0 : 1))" "$(grep 'firewall: ' "$stderr" | tail -n 1)"
for ((i = 0; i < 20; i++)); do in_place && break; sleep 0.05; done
in_place
check in_place_after_two_step_reload $? "queue rules and table"
lab_client curl port 4 "$LAB_DIR/client3"
check new_session_after_two_step_reload $? "curl port: $LAB_CLIENT_REASON"

# 2b. iptables-restore without --noflush, as an iptables-based firewall script loads its rules:
# the mangle table is replaced without ftpalg's chain and jump; only the queue rules are
# reinstalled (the pinhole table was not touched).
printf '*mangle\nCOMMIT\n' | lab_in "$LAB_NS_R" iptables-restore -w
check iptables_restore_applied $? "iptables-restore of an empty mangle table"
ms=$(wait_reinstalls 3)
line=$(grep 'firewall: ' "$stderr" | tail -n 1)
[[ $ms -lt 1000 && $line == *'deleted by iptables'* && $line == *'reinstalled queue rules ('* && $line != *'reinstalled nft table'* ]]
check only_queue_rules_reinstalled $? "${ms} ms: $line"
for ((i = 0; i < 20; i++)); do in_place && break; sleep 0.05; done
in_place
check in_place_after_iptables_restore $? "queue rules and table"
lab_client curl port 4 "$LAB_DIR/client4"
check new_session_after_iptables_restore $? "curl port: $LAB_CLIENT_REASON"

# 3. No loop: nothing changes any table for 3 s after the last reinstall. ftpalg's table is
# created by one transaction of `add table`, `delete table`, `table {...}` (pinhole_table.hpp),
# which `nft monitor` shows as two "add table" lines: 2 per reinstall of the table, 4 for the
# two reloads that deleted it.
before=$(grep -c . "$LAB_DIR/monitor.txt")
sleep 3
after=$(grep -c . "$LAB_DIR/monitor.txt")
check ruleset_quiet_after_reinstall "$((after == before ? 0 : 1))" "nft monitor: $before lines, 3 s later $after"
n=$(reinstalls)
check no_reinstall_loop "$((n == 3 ? 0 : 1))" "$n reinstalls logged for 3 reloads"
lab_stop "$LAB_PID_monitor" TERM 2
created=$(grep -c '^add table inet ftpalg$' "$LAB_DIR/monitor.txt")
check table_created_once_per_reload "$((created == 4 ? 0 : 1))" "nft monitor: $created x 'add table inet ftpalg'"
grep -q '^ftpalg: error' "$stderr"
check no_error_logged "$((1 - $?))" "$(grep '^ftpalg: error' "$stderr" | head -3)"

checks_end
