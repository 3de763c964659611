#!/usr/bin/env bash
# Pinhole hygiene (issue 4, end-to-end 6), with `ftpalg run` ($FTPALG_BIN) on a masquerading
# router with the admin's strict firewall and vsftpd outside. A client behind the router announces
# a data endpoint (scripts/lab/announce.py) and keeps its control connection open (or closes it);
# probes from the server's namespace (scripts/lab/tcp_probe.py) then check, with `nft list` inside
# the router namespace:
#   single : the pinhole is in ftpalg's map and armed set; a connection from another address is
#            refused; the announced peer gets exactly one connection, a second one is refused;
#            the armed element is consumed.
#   close  : after the client's QUIT, the pinhole is gone (nft) and the announced peer is refused.
#   timeout: with --pinhole-timeout 30 and the control connection open, the unused pinhole
#            disappears after 30 s (not before 25 s, not after 40 s), then the peer is refused.
# Usage: tests/e2e/scenario-pinhole.sh single|close|timeout [--family 4|6] [--id ID] [--keep]
# Output: "CHECK name ok|FAIL detail" lines, then
#   RESULT pass|fail|skip reason=R kind=K family=F checks=N failed=N ftpalg_exit=N residue=R dir=D
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
family=4 id=$$ keep=
while (($#)); do
  case $1 in
    --family) family=$2; shift 2 ;;
    --id) id=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 single|close|timeout [--family 4|6] [--id ID] [--keep]" >&2; exit 2 ;;
  esac
done
case $kind in single | close | timeout) ;; *) echo "usage: $0 single|close|timeout ..." >&2; exit 2 ;; esac

checks=0 failed=0 ftpalg_exit=n/a residue=n/a printed=
check() {  # check NAME OK(0|1) DETAIL
  checks=$((checks + 1))
  if [[ $2 == 0 ]]; then echo "CHECK $1 ok $3"; else echo "CHECK $1 FAIL $3"; failed=$((failed + 1)); fi
}
result() {
  [[ -n $printed ]] && return
  printed=1
  if [[ -f ${LAB_FTPALG_LOG:-/nonexistent} ]]; then
    "$LAB_PY" "$root/scripts/lab/logsum.py" --decisions "$LAB_FTPALG_LOG" | sed 's/^/DECISION /'
  fi
  echo "RESULT $1 reason=$2 kind=$kind family=$family checks=$checks failed=$failed" \
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
lab_firewall strict || fail firewall_failed
lab_make_data 4096
lab_server_start vsftpd || fail server_start_failed
# A second address on the server's side: "some other Internet host", not the announced peer.
lab_in "$LAB_NS_S" ip addr add 203.0.113.11/24 dev eth0
lab_in "$LAB_NS_S" ip addr add 2001:db8:1::11/64 dev eth0 nodad
if [[ $family == 6 ]]; then
  server=$LAB_SERVER6 peer=2001:db8:1::10 other=2001:db8:1::11 public=$LAB_CLIENT6 verb=EPRT
  map=pinholes6 armed=armed6
else
  server=$LAB_SERVER4 peer=203.0.113.10 other=203.0.113.11 public=$LAB_PUBLIC4 verb=PORT
  map=pinholes4 armed=armed4
fi
lab_ftpalg_start --pinhole-timeout 30 || fail ftpalg_start_failed

hold=15 quit=()
[[ $kind == close ]] && quit=(--quit-after 3)
[[ $kind == timeout ]] && hold=45
ann=$LAB_DIR/announce.log
lab_bg announce "$LAB_NS_C" "$ann" "$LAB_PY" "$root/scripts/lab/announce.py" --host "$server" \
  --verb "$verb" --hold "$hold" "${quit[@]}"
port=
for ((i = 0; i < 100; i++)); do
  port=$(sed -n 's/^announced \([0-9]*\) reply .2.*/\1/p' "$ann" 2>/dev/null)
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n $port ]] || { cat "$ann" >&2; fail announcement_failed; }
t_announced=${EPOCHREALTIME/./}

# nft_has SETNAME: is ($peer . $public . $port) an element of ftpalg's SETNAME?
nft_has() {
  lab_in "$LAB_NS_R" nft list ${2:-set} inet ftpalg "$1" 2>/dev/null | tr ',{}' '\n\n\n' |
    grep -qF "$peer . $public . $port "
}
probe() {  # probe SRC -> stdout of tcp_probe, status 0 if connected to the client's listener
  local out
  out=$(lab_in "$LAB_NS_S" "$LAB_PY" "$root/scripts/lab/tcp_probe.py" "$1" "$public" "$port" 2)
  echo "$out"
  [[ $out == "connected lab-data-listener" ]]
}

case $kind in
  single)
    nft_has "$map" map; check pinhole_in_map $? "$peer . $public . $port in $map"
    nft_has "$armed"; check pinhole_armed $? "$peer . $public . $port in $armed"
    out=$(probe "$other"); rc=$?; check other_peer_refused $((rc == 0)) "from $other: $out"
    out=$(probe "$peer"); rc=$?; check announced_peer_admitted $rc "from $peer: $out"
    out=$(probe "$peer"); rc=$?; check second_connection_refused $((rc == 0)) "from $peer again: $out"
    nft_has "$armed"; rc=$?; check armed_element_consumed $((rc == 0)) "$armed after use"
    sleep 0.3
    n=$(grep -c '^accepted' "$ann"); check exactly_one_connection_reached_client $((n != 1)) "accepted=$n"
    ;;
  close)
    nft_has "$map" map; check pinhole_in_map_while_control_open $? "$peer . $public . $port in $map"
    gone=1
    for ((i = 0; i < 150; i++)); do
      if grep -q 'control closed' "$ann" && ! nft_has "$map" map && ! nft_has "$armed"; then gone=0; break; fi
      sleep 0.1
    done
    check pinhole_gone_after_control_close $gone "gone $(((${EPOCHREALTIME/./} - t_announced) / 100000)) ds after the announcement (QUIT at 30 ds)"
    grep -q '"event":"pinhole_close".*"reason":"session_closed"' "$LAB_FTPALG_LOG"
    check log_says_session_closed $? "pinhole_close reason session_closed in the log"
    out=$(probe "$peer"); rc=$?; check announced_peer_refused_after_close $((rc == 0)) "from $peer: $out"
    ;;
  timeout)
    nft_has "$map" map; check pinhole_in_map $? "$peer . $public . $port in $map"
    gone=1
    while (((${EPOCHREALTIME/./} - t_announced) < 42000000)); do
      if ! nft_has "$map" map && ! nft_has "$armed"; then gone=0; break; fi
      sleep 0.5
    done
    elapsed=$(((${EPOCHREALTIME/./} - t_announced) / 1000000))
    check pinhole_expired $gone "gone after ${elapsed}s"
    check not_before_timeout $((elapsed < 25)) "elapsed=${elapsed}s (timeout 30 s)"
    out=$(probe "$peer"); rc=$?; check announced_peer_refused_after_timeout $((rc == 0)) "from $peer: $out"
    ;;
esac

lab_ftpalg_stop TERM
ftpalg_exit=$LAB_FTPALG_RC
lab_ftpalg_residue >"$LAB_DIR/residue.txt"
if [[ -s $LAB_DIR/residue.txt ]]; then residue=stale; else residue=clean; fi
check ftpalg_clean_exit $(([[ $ftpalg_exit == 0 && $residue == clean ]] && echo 0) || echo 1) "exit=$ftpalg_exit residue=$residue"
if ((failed == 0)); then
  [[ -z $keep ]] && LAB_RM_DIR=1
  result pass ok
  exit 0
fi
result fail checks_failed
exit 1
