#!/usr/bin/env bash
# A PORT command written by a real Linux client in two send() calls with Nagle on
# (docs/decisions/0001-hold-undecided-packets.md, docs/adversarial-cases.md case 13), through
# `ftpalg run` ($FTPALG_BIN) on a masquerading router with the admin's strict firewall, vsftpd
# outside. scripts/lab/split_port.py (TCP_NODELAY off, checked) sends NOOP, reads its reply, waits
# 20 ms (less than the 40 ms delayed-ACK minimum, so the ACK of that reply rides on the first part,
# as when a client thinks briefly), then writes the PORT line in two send() calls and LISTs through
# the announced port; three times on one control connection:
#   in-verb   : "PO" + "RT 192,168,77,10,p1,p2\r\n" — the first part is a prefix of the keyword,
#               which ftpalg releases at once (only bytes after the keyword are ever held): no
#               hold; the server's delayed ACK releases the client's second part.
#   in-address: "PORT 192,168,7" + "7,10,p1,p2\r\n" — the first part reaches into the address:
#               ftpalg holds it, so it is never acknowledged and Nagle keeps the rest; Linux then
#               sends the rest as its tail loss probe (RFC 8985 section 7.3, about 2 RTT + 200 ms),
#               the line completes and is rewritten. Meanwhile the server's own probe re-sends its
#               NOOP reply, and the client answers that duplicate with a pure ACK whose sequence
#               number lies past the held bytes: ftpalg must not count that ACK as released data.
# Checks: the first part left alone on the wire (capture on the router's lan0); each reply is 2xx
# and comes within 1 s of the first send() (a correctness bound: the 3 s hold timeout is never
# reached, not a performance figure); each announcement rewritten once with one pinhole; no
# refusal, no anomaly (hold_timeout); ftpalg held packets (in-address) or none (in-verb); every
# LIST through the pinhole names the test file.
# Usage: tests/e2e/scenario-split.sh in-verb|in-address [--id ID] [--keep]
# Output: CHECK lines, DECISION lines, RESULT (tests/e2e/check-lib.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/scripts/lab/lab.sh"
source "$here/check-lib.sh"

usage() { echo "usage: $0 in-verb|in-address [--id ID] [--keep]" >&2; exit 2; }
KIND=${1:-}
shift || true
id=$$
while (($#)); do
  case $1 in
    --id) id=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) usage ;;
  esac
done
case $KIND in
  in-verb) split_at=2 first="b'PO'" ;;
  in-address) split_at=14 first="b'PORT 192,168,7'" ;;
  *) usage ;;
esac
repeat=3

checks_begin "$id"
lab_topo masq || fail topology_failed
lab_firewall strict || fail firewall_failed
lab_make_data 4096
lab_server_start vsftpd || fail server_start_failed
# The capture must show the segments as sent (no segmentation offload merging them).
lab_offloads_off || fail offloads_failed
lab_ftpalg_start || fail ftpalg_start_failed
lab_capture_start "$LAB_NS_R" lan0 "$LAB_DIR/lan0.pcap" tcp port 21 || fail capture_failed

log=$LAB_DIR/split.log
lab_in "$LAB_NS_C" "$LAB_PY" "$LAB_HERE/split_port.py" --host "$LAB_SERVER4" --split-at "$split_at" \
  --repeat "$repeat" --think-ms 20 >"$log" 2>&1
client_rc=$?
lab_capture_stop
ftpalg_stop_checked

check client_succeeded "$client_rc" "$(tr '\n' ' ' <"$log")"
grep -qx 'nodelay 0' "$log"
check nagle_on $? "$(grep nodelay "$log")"
"$LAB_PY" "$LAB_HERE/pcap_payloads.py" "$LAB_DIR/lan0.pcap" --dport 21 >"$LAB_DIR/c2s-segments.txt"
alone=$(grep -c " payload=$first\$" "$LAB_DIR/c2s-segments.txt")
check first_part_alone_on_the_wire "$((alone < repeat))" "segments whose payload is exactly $first: $alone"
for ((i = 1; i <= repeat; i++)); do
  line=$(grep "^split $i " "$log")
  ms=$(sed -n 's/.* ms \([0-9]*\) reply .*/\1/p' <<<"$line")
  [[ $line == *" reply 2"* ]]
  check "split_${i}_accepted" $? "$line"
  [[ -n $ms ]] && ((ms < 1000))
  check "split_${i}_within_1s" $? "${ms:-?} ms from the first send() to the reply"
  grep -qx "list $i bytes [0-9]* names_test_bin yes" "$log"
  check "list_${i}_through_the_pinhole" $? "$(grep "^list $i " "$log")"
done
rewrites=$(log_events rewrite | grep -c '"after":"PORT 203,0,113,1,')
pinholes=$(log_events pinhole | grep -c '"nat_to":"192.168.77.10:')
check each_rewritten_once "$((rewrites != repeat))" "rewrites to 203,0,113,1: $rewrites of $repeat"
check one_pinhole_each "$((pinholes != repeat))" "pinholes to 192.168.77.10: $pinholes of $repeat"
n=$(log_events reject | grep -c .)
check no_refusal "$((n != 0))" "$(log_events reject | head -n2 | tr '\n' ' ')"
n=$(log_events anomaly | grep -c .)
check no_anomaly "$((n != 0))" "$(log_events anomaly | head -n2 | tr '\n' ' ')"
held=$(log_events stats | tail -n1 | sed -n 's/.*"packets_held":\([0-9]*\).*/\1/p')
if [[ $KIND == in-address ]]; then
  # The interleaving this kind exists for: while a first part was held, the client sent a pure
  # ACK whose sequence number is the end of that first part (its answer to the server's
  # re-sent reply), before the second part.
  "$LAB_PY" "$LAB_HERE/pcap_payloads.py" "$LAB_DIR/lan0.pcap" --dport 21 --all >"$LAB_DIR/c2s-all.txt"
  acks=$(awk -v first=" payload=$first" '
    substr($0, length($0) - length(first) + 1) == first {
      split($3, s, "="); split($4, l, "="); want = s[2] + l[2]; next
    }
    want && $4 == "len=0" && substr($3, 5) + 0 == want { n++; want = 0; next }
    $4 != "len=0" { want = 0 }
    END { print n + 0 }' "$LAB_DIR/c2s-all.txt")
  check pure_ack_past_held_bytes_during_each_hold "$((acks < repeat))" \
    "holds with such an ACK: $acks of $repeat"
fi
if [[ $KIND == in-verb ]]; then
  [[ $held == 0 ]]
  check nothing_held $? "packets_held=${held:-?}"
else
  [[ -n $held ]] && ((held >= repeat))
  check first_parts_held $? "packets_held=${held:-?}"
fi
checks_end
