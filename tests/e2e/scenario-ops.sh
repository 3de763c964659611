#!/usr/bin/env bash
# Operations commands against a real router namespace (scripts/lab/lab.sh, masquerading topology,
# the admin's strict firewall of issue 4), with $FTPALG_BIN:
#   check : `ftpalg check` passes with the lab's rules and changes nothing (nft and iptables
#           listings identical before and after); without the pinhole accept rule it fails, naming
#           the forward chain's policy and printing the fix, and after the fix is applied it passes
#           again; a kernel ftp helper assigned in the map syntax
#           (`ct helper set tcp dport map { 21 : "ftp-std" }`) fails the kernel-ftp-helper check.
# Usage: tests/e2e/scenario-ops.sh check [--id ID]
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
    *) echo "usage: $0 check [--id ID]" >&2; exit 2 ;;
  esac
done
case $KIND in check) ;; *) echo "usage: $0 check [--id ID]" >&2; exit 2 ;; esac

checks_begin "$id"
lab_topo masq || fail topology_failed
lab_firewall strict || fail firewall_failed

# ftpalg check in the router namespace; its output in $LAB_DIR/check.N, its status in $rc.
n=0
run_check() {
  n=$((n + 1))
  out=$LAB_DIR/check.$n
  lab_in "$LAB_NS_R" "$FTPALG_BIN" check "$@" >"$out" 2>&1
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

check_scenario
checks_end
