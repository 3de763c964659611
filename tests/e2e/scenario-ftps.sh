#!/usr/bin/env bash
# Live explicit FTPS through ftpalg (docs/adversarial-cases.md case 11; docs/admin-guide.md#ftps-limits).
# The dnat topology with the admin's strict firewall and `ftpalg run` ($FTPALG_BIN). vsftpd behind
# the port forward requires TLS (AUTH) for the login and the data (a self-signed certificate made
# here with openssl), announces the public address itself (pasv_address=203.0.113.1) and takes its
# passive ports from a static range (50000-50009). curl --ssl-reqd (certificate checked against
# that certificate, PASV) LISTs /pub and RETRs a file (sha256):
#   1. before the admin forwards the range: the session fails at the data connection. ftpalg
#      cannot help: after AUTH TLS answered by 234 the control channel is opaque to it.
#   2. after the admin forwards and accepts the range (nft dnat + accept, what the admin guide
#      says to do): the session works, with no help from ftpalg.
# Both times ftpalg's log shows the flow turning opaque (tls_negotiated) and no pinhole, no
# rewrite, no refusal, no anomaly; its pinhole map stays empty.
# Why this configuration: through a strict firewall without the ALG, passive FTPS can only work
# when nothing needs reading the encrypted 227: the server must name an address the client can
# reach (its public one) and a port the firewall already forwards and admits.
# Usage: tests/e2e/scenario-ftps.sh [--id ID] [--keep]
# Output: CHECK lines, DECISION lines, RESULT (tests/e2e/check-lib.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/scripts/lab/lab.sh"
source "$here/check-lib.sh"

KIND=passive-static-range
id=$$
while (($#)); do
  case $1 in
    --id) id=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "usage: $0 [--id ID] [--keep]" >&2; exit 2 ;;
  esac
done

checks_begin "$id"
lab_topo dnat || fail topology_failed
lab_firewall strict || fail firewall_failed
lab_make_data 262144
lab_make_cert "$LAB_DIR/tls" "IP:$LAB_PUBLIC4" || fail certificate_failed
LAB_ANNOUNCE_PUBLIC=1 LAB_PASV_PORTS=50000-50009 LAB_TLS_DIR=$LAB_DIR/tls lab_server_start vsftpd ||
  fail server_start_failed
lab_ftpalg_start || fail ftpalg_start_failed

# ftps_session OUTDIR: curl over explicit FTPS in passive mode (PASV); 0 = verified.
ftps_session() {
  LAB_CURL_EXTRA="--ssl-reqd --cacert $LAB_DIR/tls/cert.pem" lab_client curl pasv 4 "$1"
}
# encrypted OUTDIR: the transcript shows TLS negotiated for the control channel and the data.
encrypted() {
  grep -qE '^> AUTH (TLS|SSL)' "$1/transcript" && grep -q '^< 234' "$1/transcript" &&
    grep -q '^> PROT P' "$1/transcript" && grep -qE '^< 200' "$1/transcript"
}

LAB_CONNECT_TIMEOUT=3 ftps_session "$LAB_DIR/before"
rc=$?
# It fails at the data connection: the PASV was answered (with the public address), then nothing
# opened the port.
grep -qF "< 227 Entering Passive Mode (${LAB_PUBLIC4//./,}," "$LAB_DIR/before/transcript"
check fails_at_the_data_connection_before_the_admin_forwards_the_range "$((rc == 0 || $? != 0))" \
  "curl: $LAB_CLIENT_REASON; $(grep -m1 '^< 227' "$LAB_DIR/before/transcript")"
encrypted "$LAB_DIR/before"
check before_tls_negotiated $? \
  "$(grep -E '^(> AUTH|< 234|> PROT)' "$LAB_DIR/before/transcript" | tr '\n' ' ')"

# What docs/admin-guide.md#ftps-limits tells the admin to add: forward and admit the range.
lab_in "$LAB_NS_R" nft add rule ip nat prerouting iifname "wan0" ip daddr "$LAB_PUBLIC4" \
  tcp dport 50000-50009 dnat ip to "$LAB_SERVER_REAL4" &&
  lab_in "$LAB_NS_R" nft add rule inet filter forward iifname "wan0" oifname "lan0" \
    ip daddr "$LAB_SERVER_REAL4" tcp dport 50000-50009 ct status dnat ct state new accept ||
  fail firewall_failed

ftps_session "$LAB_DIR/after"
check session_works_with_the_static_range $? "curl: $LAB_CLIENT_REASON"
encrypted "$LAB_DIR/after"
check tls_negotiated $? "$(grep -E '^(> AUTH|< 234|> PROT)' "$LAB_DIR/after/transcript" | tr '\n' ' ')"
grep -qF "< 227 Entering Passive Mode (${LAB_PUBLIC4//./,}," "$LAB_DIR/after/transcript"
check server_announced_the_public_address $? "$(grep '^< 227' "$LAB_DIR/after/transcript" | head -n1)"

lab_in "$LAB_NS_R" nft list map inet ftpalg pinholes4 >"$LAB_DIR/pinholes4.txt" 2>&1
! grep -q 'elements' "$LAB_DIR/pinholes4.txt"
check pinhole_map_empty $? "$(tr -s ' \t\n' ' ' <"$LAB_DIR/pinholes4.txt")"

# One opaque event per control connection that negotiated TLS (curl opens a new one after a
# failed transfer).
negotiated=$(cat "$LAB_DIR"/{before,after}/transcript | grep -c '^< 234')
wait_for_events opaque "$negotiated"
count() { log_events "$1" | grep -c .; }
opaque=$(log_events opaque | grep -c '"reason":"tls_negotiated"')
check each_tls_control_connection_turned_opaque "$((opaque != negotiated || opaque < 2))" \
  "opaque tls_negotiated events=$opaque, control connections with 234=$negotiated"
for event in pinhole rewrite reject anomaly; do
  n=$(count "$event")
  check "no_$event" "$((n != 0))" "$event events=$n"
done
checks_end
