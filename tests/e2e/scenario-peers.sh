#!/usr/bin/env bash
# Pinholes among several peers, with `ftpalg run` ($FTPALG_BIN), the admin's strict firewall
# and vsftpd (docs/adversarial-cases.md cases 27 and 28):
#   third-host: the server is port-forwarded (dnat topology); the client sends PASV and holds
#       the announced public port; a third host (its own namespace, 198.51.100.30, on another
#       router interface) connects to that port: refused (the pinhole admits only the control
#       connection's client); then the real client connects and RETRs the file (sha256).
#   same-port: two clients behind one masquerading router (192.168.77.10 and 192.168.79.10, each
#       in its own namespace) both listen on port 50021 and both send PORT for it while the
#       other's pinhole is pending; ftpalg keeps the first client's public port and gives the
#       second another one (docs/decisions/0004); then both RETR different files at once, and
#       each gets its own file (sha256) through one connection from the server.
# Usage: tests/e2e/scenario-peers.sh third-host|same-port [--id ID] [--keep]
# Output: CHECK lines, DECISION lines, RESULT (tests/e2e/check-lib.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/scripts/lab/lab.sh"
source "$here/check-lib.sh"

usage() { echo "usage: $0 third-host|same-port [--id ID] [--keep]" >&2; exit 2; }
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
case $KIND in third-host | same-port) ;; *) usage ;; esac

checks_begin "$id"
go=$LAB_DIR/go

third_host() {
  lab_topo dnat || fail topology_failed
  lab_firewall strict || fail firewall_failed
  lab_make_data 131072
  lab_server_start vsftpd || fail server_start_failed
  # Another Internet host, behind another router interface (as far from the client as any).
  lab_host_add x 198.51.100.1/24 198.51.100.30 || fail host_failed
  lab_ftpalg_start || fail ftpalg_start_failed

  local log=$LAB_DIR/client.log line host port out rc
  lab_bg client "$LAB_NS_C" "$log" "$LAB_PY" "$LAB_HERE/hold_session.py" --host "$LAB_SERVER4" \
    --mode pasv --get /pub/test.bin --sha256 "$LAB_TEST_SHA256" --go-file "$go"
  line=$(wait_for_line "$log" '^announced ') || { cat "$log" >&2; fail announcement_failed; }
  read -r _ host port _ <<<"$line"
  [[ $host == "$LAB_PUBLIC4" ]]
  check announced_public_address $? "$line"
  # An element reads "FROM . PUBLIC . PORT timeout 30s expires 29s : INSIDE . PORT".
  local from=${LAB_CLIENT4//./\\.} public=${LAB_PUBLIC4//./\\.} inside=${LAB_SERVER_REAL4//./\\.}
  local element="^ *$from \. $public \. $port .*: $inside \. $port *\$"
  if [[ $LAB_SEQ_OWNER == kernel ]]; then
    # The conntrack-owned mode: a conntrack expectation, from the client only (exact source
    # address, any source port), to the public port; the kernel NATs it like its master.
    lab_in "$LAB_NS_R" conntrack -L expect 2>/dev/null |
      grep -qE "src=$from dst=$public sport=0 dport=$port mask-src=255\.255\.255\.255 "
    check pinhole_for_the_client_only $? "$LAB_CLIENT4 -> $LAB_PUBLIC4:$port in conntrack -L expect"
  else
    lab_in "$LAB_NS_R" nft list map inet ftpalg pinholes4 2>/dev/null | tr ',{}' '\n\n\n' | grep -qE "$element"
    check pinhole_for_the_client_only $? "$LAB_CLIENT4 . $LAB_PUBLIC4 . $port -> $LAB_SERVER_REAL4 in pinholes4"
  fi

  out=$(lab_in "$LAB_NS_HX" "$LAB_PY" "$LAB_HERE/tcp_probe.py" 198.51.100.30 "$host" "$port" 2)
  rc=$?
  check third_host_refused "$((rc == 0))" "from 198.51.100.30 to $host:$port: $out"

  touch "$go"
  wait_pid "$LAB_PID_client" 20
  check client_retr_after_probe "$WAIT_RC" "$(tr '\n' ' ' <"$log")"
  grep -qE '^retr bytes [0-9]+ sha256 [0-9a-f]+ ok$' "$log"
  check client_file_sha256 $? "$(grep '^retr' "$log")"
  local pinholes
  wait_for_events pinhole 1
  pinholes=$(log_events pinhole | grep -c .)
  check one_pinhole "$((pinholes != 1))" "pinhole events=$pinholes"
  log_events pinhole | grep -qF "\"from\":\"$LAB_CLIENT4\""
  check pinhole_from_the_client $? "$(log_events pinhole | head -n1)"
}

same_port() {
  lab_topo masq || fail topology_failed
  lab_firewall strict || fail firewall_failed
  lab_make_data 131072
  lab_make_file "$LAB_SRV/pub/b.bin" 196608
  # b.bin differs from test.bin in length and in every line: a crossed data connection shows.
  sed -i 's/test data/other data/' "$LAB_SRV/pub/b.bin"
  local sha_a=$LAB_TEST_SHA256 sha_b
  sha_b=$(sha256sum "$LAB_SRV/pub/b.bin" | cut -d' ' -f1)
  lab_server_start vsftpd || fail server_start_failed
  # The second client: its own namespace and inside network, masqueraded like the first.
  lab_host_add c2 192.168.79.1/24 192.168.79.10 || fail host_failed
  lab_in "$LAB_NS_R" nft add rule ip nat postrouting oifname "wan0" ip saddr 192.168.79.0/24 masquerade &&
    lab_in "$LAB_NS_R" nft add rule inet filter forward iifname "hc2" oifname "wan0" \
      tcp dport 21 ct state new accept || fail firewall_failed
  lab_ftpalg_start || fail ftpalg_start_failed

  local port=50021 log_a=$LAB_DIR/client-a.log log_b=$LAB_DIR/client-b.log line_a line_b
  lab_bg client_a "$LAB_NS_C" "$log_a" "$LAB_PY" "$LAB_HERE/hold_session.py" --host "$LAB_SERVER4" \
    --mode port --port "$port" --get /pub/test.bin --sha256 "$sha_a" --go-file "$go"
  line_a=$(wait_for_line "$log_a" '^announced ') || { cat "$log_a" >&2; fail announcement_failed; }
  lab_bg client_b "$LAB_NS_HC2" "$log_b" "$LAB_PY" "$LAB_HERE/hold_session.py" --host "$LAB_SERVER4" \
    --mode port --port "$port" --get /pub/b.bin --sha256 "$sha_b" --go-file "$go"
  line_b=$(wait_for_line "$log_b" '^announced ') || { cat "$log_b" >&2; fail announcement_failed; }
  [[ $line_a == *" $port reply 200"* && $line_b == *" $port reply 200"* ]]
  check both_announced_the_same_port $? "a: $line_a | b: $line_b"

  # Both pinholes are pending now; the first keeps the port, the second is moved.
  local ph_a ph_b public_b
  wait_for_events pinhole 2
  ph_a=$(log_events pinhole | grep -F '"nat_to":"192.168.77.10:' | head -n1)
  ph_b=$(log_events pinhole | grep -F '"nat_to":"192.168.79.10:' | head -n1)
  public_b=$(sed -n 's/.*"to":"203\.0\.113\.1:\([0-9]*\)".*/\1/p' <<<"$ph_b")
  [[ $ph_a == *"\"to\":\"203.0.113.1:$port\""*"\"nat_to\":\"192.168.77.10:$port\""* ]]
  check first_keeps_its_port $? "$ph_a"
  [[ -n $public_b && $public_b != "$port" && $ph_b == *"\"nat_to\":\"192.168.79.10:$port\""* ]]
  check second_gets_another_public_port $? "$ph_b"
  log_events rewrite | grep -qF "\"after\":\"PORT 203,0,113,1,$((public_b / 256)),$((public_b % 256))\""
  check second_announcement_rewritten_to_it $? "$(log_events rewrite | grep -F 192,168,79,10)"

  touch "$go"
  wait_pid "$LAB_PID_client_a" 20
  local rc_a=$WAIT_RC
  wait_pid "$LAB_PID_client_b" 20
  local rc_b=$WAIT_RC
  outcome() { grep -E '^(retr|data_peer|connections|error)' "$1" | tr '\n' ' '; }
  check client_a_got_its_file "$rc_a" "$(outcome "$log_a")"
  check client_b_got_its_file "$rc_b" "$(outcome "$log_b")"
  local f
  for f in "$log_a" "$log_b"; do
    [[ $(grep -c '^data_peer ' "$f") == 1 ]] && grep -qx "data_peer $LAB_SERVER4" "$f"
    check "one_data_connection_from_the_server_$(basename "$f" .log)" $? "$(outcome "$f")"
  done
}

case $KIND in
  third-host) third_host ;;
  same-port) same_port ;;
esac
checks_end
