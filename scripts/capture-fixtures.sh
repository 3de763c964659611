#!/usr/bin/env bash
# Captures real FTP sessions as replay fixtures: pcap-fixtures/real-<server>-<client>-<mode>[-ipv6]/
# {input.pcap, README.md, flags, decisions.jsonl}. decisions.jsonl states, from the topology alone,
# what the replay must decide for every announcement in the capture (tests/golden checks it).
# expected.jsonl is NOT written here: scripts/update-golden.sh generates it from the replay, checks
# it against decisions.jsonl, for review.
#
# How: a ROUTE-ONLY lab (scripts/lab/lab.sh, topology "route" or "route-dnat": no NAT, the router
# only forwards, the server can reach the client) with a real server (vsftpd, proftpd, pure-ftpd,
# pyftpdlib) and a real client (curl, lftp, wget, Python ftplib). tcpdump --immediate-mode records
# the router's INSIDE interface (lan0), so the capture is exactly the view ftpalg has there; the
# flags file then tells `ftpalg replay` which NAT to apply:
#   client inside (topology route):       --snat=192.168.77.0/24=203.0.113.1 (a masqueraded client)
#   server inside (topology route-dnat):  --dnat=203.0.113.1:21=192.168.78.10:21 (a port-forwarded server)
#   IPv6:                                 no option (routed, no NAT: pinholes only)
# Offloads are off on every veth (no partial checksums, no super-segments in the capture), the
# served file is small and deterministic (2048 bytes, see lab_make_file), every session is
# verified (LIST names the file, RETR's sha256 matches, the intended verb was sent and no other).
#
# Usage (root): scripts/capture-fixtures.sh [NAME...]     (default: every case below)
#   scripts/capture-fixtures.sh --list                    (print the case names)
#   scripts/capture-fixtures.sh --decisions               (rewrite every case's decisions.jsonl only)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lab/lab.sh"
fixtures=$root/pcap-fixtures

# name-suffix topology server client mode family
cases=(
  "route vsftpd curl port 4"
  "route vsftpd curl eprt 4"
  "route vsftpd curl pasv 4"
  "route vsftpd curl epsv 4"
  "route vsftpd lftp port 4"
  "route vsftpd wget port 4"
  "route vsftpd ftplib port 4"
  "route proftpd curl port 4"
  "route proftpd curl eprt 4"
  "route proftpd lftp port 4"
  "route proftpd ftplib eprt 4"
  "route pure-ftpd curl port 4"
  "route pure-ftpd wget port 4"
  "route pure-ftpd ftplib port 4"
  "route pyftpdlib curl port 4"
  "route pyftpdlib ftplib port 4"
  "route pyftpdlib lftp port 4"
  "route-dnat vsftpd curl pasv 4"
  "route-dnat vsftpd curl epsv 4"
  "route-dnat proftpd curl pasv 4"
  "route-dnat pure-ftpd lftp pasv 4"
  "route-dnat pyftpdlib wget pasv 4"
  "route-dnat pyftpdlib ftplib pasv 4"
  "route vsftpd curl eprt 6"
  "route vsftpd curl epsv 6"
  "route proftpd lftp eprt 6"
  "route pure-ftpd wget eprt 6"
  "route pyftpdlib ftplib epsv 6"
  "route-dnat proftpd curl epsv 6"
  "route-dnat pure-ftpd ftplib epsv 6"
)

case_name() {  # topology server client mode family
  local n="real-$2-$3-$4"
  [[ $5 == 6 ]] && n+="-ipv6"
  [[ $1 == route-dnat && $5 == 4 ]] && n+="-dnat"
  [[ $1 == route-dnat && $5 == 6 ]] && n+="-inbound"
  echo "$n"
}

# The decisions every announcement of a capture must get, as one rule line (the rule's meaning:
# tests/golden/stated_decisions.hpp). Each real session announces twice (LIST, then RETR); the
# addresses are the lab's (scripts/lab/lab.sh):
#   route, PORT/EPRT (client 192.168.77.10 masqueraded as 203.0.113.1): the address is rewritten
#     to 203.0.113.1, same port; the server 203.0.113.10 may connect there, forwarded to the client;
#   route, PASV/EPSV (server 203.0.113.10 public): nothing is rewritten; the client may connect to
#     the server, no NAT;
#   route-dnat (server 192.168.78.10 published as 203.0.113.1, client 203.0.113.20): a 227 is
#     rewritten to 203.0.113.1, a 229 kept; the client may connect to 203.0.113.1, forwarded to
#     the server;
#   IPv6 (routed, no NAT): nothing is rewritten; the peer may connect to the announcer, no NAT.
decisions_for() {  # topology server client mode family
  local topo=$1 mode=$4 fam=$5 verb dir rule
  case $mode in
    port) verb=PORT dir=c2s ;;
    eprt) verb=EPRT dir=c2s ;;
    pasv) verb=227 dir=s2c ;;
    epsv) verb=229 dir=s2c ;;
  esac
  rule="{\"rule\":\"each_announcement\",\"dir\":\"$dir\",\"verb\":\"$verb\",\"count\":2"
  if [[ $fam == 6 ]]; then
    if [[ $dir == c2s ]]; then
      rule+=',"from":"2001:db8:1::10","to":"2001:db8:77::10","nat_to":null'
    elif [[ $topo == route-dnat ]]; then
      rule+=',"from":"2001:db8:1::20","to":"2001:db8:78::10","nat_to":null'
    else
      rule+=',"from":"2001:db8:77::10","to":"2001:db8:1::10","nat_to":null'
    fi
  elif [[ $topo == route-dnat ]]; then
    [[ $mode == pasv ]] && rule+=',"replace":"192,168,78,10","with":"203,0,113,1"'
    rule+=',"from":"203.0.113.20","to":"203.0.113.1","nat_to":"192.168.78.10"'
  elif [[ $mode == port ]]; then
    rule+=',"replace":"192,168,77,10","with":"203,0,113,1"'
    rule+=',"from":"203.0.113.10","to":"203.0.113.1","nat_to":"192.168.77.10"'
  elif [[ $mode == eprt ]]; then
    rule+=',"replace":"|192.168.77.10|","with":"|203.0.113.1|"'
    rule+=',"from":"203.0.113.10","to":"203.0.113.1","nat_to":"192.168.77.10"'
  else
    rule+=',"from":"192.168.77.10","to":"203.0.113.10","nat_to":null'
  fi
  echo "$rule}"
}

if [[ ${1:-} == --list ]]; then
  for c in "${cases[@]}"; do case_name $c; done
  exit 0
fi
if [[ ${1:-} == --decisions ]]; then
  for c in "${cases[@]}"; do
    dir=$fixtures/$(case_name $c)
    if [[ -d $dir ]]; then decisions_for $c >"$dir/decisions.jsonl"; fi
  done
  exit 0
fi
if [[ $(id -u) != 0 ]]; then
  echo "capture-fixtures: must run as root (network namespaces, tcpdump)" >&2
  exit 2
fi
want=("$@")

describe() {  # topology server client mode family -> one sentence
  local topo=$1 server=$2 client=$3 mode=$4 fam=$5 verb
  verb=$(tr '[:lower:]' '[:upper:]' <<<"$mode")
  local who="$client" srv="$server"
  [[ $client == ftplib ]] && who="Python ftplib"
  if [[ $fam == 6 ]]; then
    if [[ $mode == eprt ]]; then
      echo "A real IPv6 active-mode session ($who, EPRT, LIST and RETR of a 2048-byte file) with $srv, captured on a router that only routes: replayed without NAT options, the EPRT stays unchanged and opens one pinhole per announcement for the server to the client, with no NAT."
    elif [[ $topo == route-dnat ]]; then
      echo "A real IPv6 passive-mode session ($who, EPSV, LIST and RETR of a 2048-byte file) to $srv inside the router, captured on the router's inside interface: replayed without NAT options, each 229 opens one pinhole for the outside client to the server, with no NAT and no rewrite."
    else
      echo "A real IPv6 passive-mode session ($who, EPSV, LIST and RETR of a 2048-byte file) with $srv outside the router, captured on the router's inside interface: replayed without NAT options, each 229 opens one pinhole for the client to the server, with no NAT and no rewrite."
    fi
  elif [[ $topo == route-dnat ]]; then
    echo "A real passive-mode session ($who, $verb, LIST and RETR of a 2048-byte file) to $srv at 192.168.78.10, captured on the router's inside interface: replayed with --dnat 203.0.113.1:21=192.168.78.10:21, $([[ $mode == pasv ]] && echo "each 227 naming the private address is rewritten to 203.0.113.1 (same port) and opens" || echo "each 229 (port only, kept) opens") one pinhole for the client forwarded to the server."
  elif [[ $mode == port || $mode == eprt ]]; then
    echo "A real active-mode session ($who, $verb, LIST and RETR of a 2048-byte file) from 192.168.77.10 to $srv, captured on the router's inside interface: replayed with --snat 192.168.77.0/24=203.0.113.1, each $verb is rewritten to 203.0.113.1 (same port) and opens one pinhole for the server forwarded to the client."
  else
    echo "A real passive-mode session ($who, $verb, LIST and RETR of a 2048-byte file) from 192.168.77.10 to $srv, captured on the router's inside interface: replayed with --snat 192.168.77.0/24=203.0.113.1, nothing is rewritten (the server's address is public) and each reply opens one pinhole for the client to the server, with no NAT."
  fi
}

flags_for() {  # topology family
  if [[ $2 == 6 ]]; then
    echo "# IPv6 is routed without NAT: no --snat/--dnat (pinholes only)"
  elif [[ $1 == route-dnat ]]; then
    echo "--dnat=203.0.113.1:21=192.168.78.10:21"
  else
    echo "--snat=192.168.77.0/24=203.0.113.1"
  fi
}

LAB_QUIET=1
lab_init cap
made=0
failed=0
current=""
for c in "${cases[@]}"; do
  read -r topo server client mode fam <<<"$c"
  name=$(case_name $c)
  if ((${#want[@]})); then
    [[ " ${want[*]} " == *" $name "* ]] || continue
  fi
  # One lab per (topology, server); a new lab when either changes.
  if [[ $current != "$topo $server" ]]; then
    lab_cleanup
    LAB_CLEANED= LAB_NS=() LAB_PIDS=() LAB_SRV=
    lab_init cap
    lab_topo "$topo"
    lab_firewall open
    lab_offloads_off
    lab_make_data 2048
    lab_server_start "$server"
    current="$topo $server"
  fi
  out=$LAB_DIR/$name
  mkdir -p "$out"
  lab_capture_start "$LAB_NS_R" lan0 "$out/input.pcap" tcp
  set +e
  LAB_CLIENT_TIMEOUT=20 lab_client "$client" "$mode" "$fam" "$out/client"
  rc=$?
  set -e
  lab_capture_stop
  if ((rc != 0)); then
    echo "capture-fixtures: $name: session failed ($LAB_CLIENT_REASON); not written" >&2
    failed=$((failed + 1))
    continue
  fi
  packets=$(tcpdump -r "$out/input.pcap" -nn 2>/dev/null | wc -l)
  dir=$fixtures/$name
  mkdir -p "$dir"
  cp "$out/input.pcap" "$dir/input.pcap"
  chmod 644 "$dir/input.pcap"
  {
    echo "# $name"
    echo
    describe $c
    echo
    echo "Captured by \`scripts/capture-fixtures.sh\` (real $server and $client in network namespaces, tcpdump on the router's inside interface, $packets packets), which also states the decisions the replay must log (decisions.jsonl, from the lab topology); expected.jsonl by \`scripts/update-golden.sh\`, checked against them and reviewed."
  } >"$dir/README.md"
  flags_for "$topo" "$fam" >"$dir/flags"
  decisions_for $c >"$dir/decisions.jsonl"
  echo "captured $name ($packets packets, $(stat -c %s "$dir/input.pcap") bytes)"
  made=$((made + 1))
done
echo "capture-fixtures: $made captured, $failed failed"
if ((failed == 0)); then LAB_RM_DIR=1; else echo "capture-fixtures: evidence kept in $LAB_DIR" >&2; fi
((failed == 0))
