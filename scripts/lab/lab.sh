# shellcheck shell=bash
# scripts/lab/lab.sh: a network-namespace lab for ftpalg (end-to-end tests, demo, fixture capture).
#
# Source it, then:
#   lab_init [ID]                 unique prefix "fa<ID>-" (default ID: $$), work dir, cleanup traps
#   lab_topo masq|dnat|route      namespaces ${LAB_PREFIX}{c,r,s}, veths, addresses, routes, NAT
#                                 (LAB_IMPAIR: both router links through an imperfect wire, ${LAB_PREFIX}w)
#   lab_host_add NAME ROUTER_ADDR/LEN HOST_ADDR   one more host ${LAB_PREFIX}hNAME, own router interface
#   lab_firewall strict|open [egress=strict|open]   the admin's firewall in the router namespace
#   lab_server_start vsftpd|proftpd|pure-ftpd|pyftpdlib
#                                 (LAB_ANNOUNCE_PUBLIC, LAB_PASV_PORTS, LAB_TLS_DIR: see there)
#   lab_client curl|lftp|wget|ftplib port|eprt|pasv|epsv 4|6 OUTDIR    (returns 0 = verified;
#                                 LAB_CURL_EXTRA: more curl options)
#   lab_cleanup                   (also runs on EXIT/INT/TERM)
#
# Isolation contract: everything this library creates is named after LAB_PREFIX (namespaces) or
# recorded in LAB_PIDS (processes). Cleanup deletes exactly those namespaces and kills exactly
# those PIDs plus the processes still running inside those namespaces (which, by construction,
# only this library started). It never deletes other namespaces or kills by process name.
# Two labs with different IDs run side by side (ctest -j2): interface names live inside the
# namespaces, so they repeat freely; only namespace names are global.
#
# Addresses (documentation and private ranges only, inside the namespaces):
#   masq : client 192.168.77.10/24 2001:db8:77::10/64 -- lan0 router wan0 -- server 203.0.113.10/24 2001:db8:1::10/64
#          router lan0 192.168.77.1 2001:db8:77::1, wan0 203.0.113.1 2001:db8:1::1; IPv4 masquerade out wan0,
#          IPv6 routed (no NAT). The server has no route to 192.168.77.0/24 (like the Internet).
#   dnat : client 203.0.113.20/24 2001:db8:1::20/64 -- wan0 router lan0 -- server 192.168.78.10/24 2001:db8:78::10/64
#          router wan0 203.0.113.1 2001:db8:1::1, lan0 192.168.78.1 2001:db8:78::1;
#          dnat 203.0.113.1:21 -> 192.168.78.10:21, masquerade 192.168.78.0/24 out wan0, IPv6 routed.
#   route: as masq, but no NAT and the server routes 192.168.77.0/24 back through the router: the
#          router's lan0 then sees exactly the client-side view (used for fixture capture).
#   route-dnat: as dnat, but no NAT: the client routes 192.168.78.0/24 through the router and dials
#          192.168.78.10 directly; lan0 then sees what a port-forwarding router sees after DNAT.

LAB_ROOT=${FTPALG_LAB_ROOT:-/tmp/ftpalg-lab}
LAB_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_SERVERS_DIR=${FTPALG_LAB_SERVERS:-/opt/ftpalg-lab-servers}
LAB_PY=/usr/bin/python3            # docs/design.md#python-interpreter
LAB_CMD_TIMEOUT=${LAB_CMD_TIMEOUT:-10}
LAB_CLIENT_TIMEOUT=${LAB_CLIENT_TIMEOUT:-25}
# The admin's accept rule for ftpalg's pinhole mark, exactly as `ftpalg rules` prints it.
LAB_PINHOLE_RULE='ct mark and 0x00010000 == 0x00010000 accept'
# ftpalg's sequence owner in the lab (lab_ftpalg_start passes --seq-owner unless its arguments
# do): kernel (the conntrack-owned mode, the default) or engine. With kernel,
# lab_firewall leaves out the pinhole accept rule: that mode needs none.
LAB_SEQ_OWNER=${LAB_SEQ_OWNER:-kernel}

# Every namespace a lab creates: client, router, server, wire (LAB_IMPAIR), extra hosts (lab_host_add).
LAB_NS_PATTERN='^fa[A-Za-z0-9]{1,12}-(c|r|s|w|h[a-z0-9]{1,4})$'

lab_log() { [[ -n ${LAB_QUIET:-} ]] || echo "lab: $*" >&2; }
lab_fail() { echo "lab: error: $*" >&2; return 1; }

# lab_in NS CMD...: run CMD inside namespace NS, bounded by LAB_CMD_TIMEOUT.
lab_in() {
  local ns=$1; shift
  timeout -k 2 "$LAB_CMD_TIMEOUT" ip netns exec "$ns" "$@"
}

# ---------------------------------------------------------------------------------------------
# Lifecycle
# ---------------------------------------------------------------------------------------------

# lab_init [ID]: choose the prefix, create the work dir, install the cleanup traps.
lab_init() {
  local id=${1:-$$}
  [[ $id =~ ^[A-Za-z0-9]{1,12}$ ]] || { lab_fail "lab_init: ID must be 1-12 letters/digits: '$id'"; return 1; }
  LAB_ID=$id
  LAB_PREFIX="fa${id}-"
  LAB_NS_C="${LAB_PREFIX}c" LAB_NS_R="${LAB_PREFIX}r" LAB_NS_S="${LAB_PREFIX}s" LAB_NS_W="${LAB_PREFIX}w"
  LAB_NS=()
  LAB_PIDS=()
  LAB_CLEANED=
  LAB_DIR="$LAB_ROOT/${LAB_PREFIX%-}"
  mkdir -p "$LAB_ROOT/owners"
  chmod 755 "$LAB_ROOT"
  lab_reap_stale
  local owner="$LAB_ROOT/owners/${LAB_PREFIX%-}"
  if [[ -f $owner ]]; then
    local opid
    opid=$(head -n1 "$owner")
    if [[ -n $opid ]] && kill -0 "$opid" 2>/dev/null && [[ $opid != "$$" ]]; then
      lab_fail "lab prefix $LAB_PREFIX is in use by live process $opid"; return 1
    fi
  fi
  echo "$$" >"$owner"
  rm -rf "$LAB_DIR"
  mkdir -p "$LAB_DIR"
  chmod 755 "$LAB_DIR"
  trap 'lab_cleanup' EXIT
  trap 'lab_cleanup; trap - EXIT; exit 130' INT
  trap 'lab_cleanup; trap - EXIT; exit 143' TERM
}

# The owner file lists the lab's owning PID (line 1) and its namespaces (one per line).
lab__owner_add_ns() { echo "$1" >>"$LAB_ROOT/owners/${LAB_PREFIX%-}"; }

# lab__delete_ns NS: kill what runs inside NS (started by this lab), then delete NS.
lab__delete_ns() {
  local ns=$1 pids pid i
  ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF "$ns" || return 0
  for i in 1 2 3; do
    pids=$(ip netns pids "$ns" 2>/dev/null | grep -v "^$$\$" || true)
    [[ -z $pids ]] && break
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      pids=$(for pid in $pids; do kill -0 "$pid" 2>/dev/null && echo "$pid"; done)
      [[ -z $pids ]] && break
      sleep 0.05
    done
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
  done
  ip netns delete "$ns" 2>/dev/null || true
}

# lab_reap_stale: delete the namespaces of labs whose owning process died without cleaning up
# (SIGKILL, power loss). Only labs recorded in $LAB_ROOT/owners are touched.
lab_reap_stale() {
  local f opid ns
  for f in "$LAB_ROOT"/owners/*; do
    [[ -f $f ]] || continue
    opid=$(head -n1 "$f")
    if [[ -n $opid ]] && kill -0 "$opid" 2>/dev/null; then continue; fi
    while read -r ns; do
      [[ $ns =~ $LAB_NS_PATTERN ]] && lab__delete_ns "$ns"
    done < <(tail -n +2 "$f")
    rm -f "$f"
  done
}

# lab_cleanup: kill our PIDs, delete our namespaces. Idempotent.
lab_cleanup() {
  [[ -n ${LAB_CLEANED:-} ]] && return 0
  LAB_CLEANED=1
  local pid ns
  for pid in "${LAB_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${LAB_PIDS[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for ns in "${LAB_NS[@]}"; do lab__delete_ns "$ns"; done
  rm -f "$LAB_ROOT/owners/${LAB_PREFIX%-}"
  if [[ -n ${LAB_RM_DIR:-} && -n ${LAB_DIR:-} ]]; then rm -rf "$LAB_DIR"; fi
  return 0
}

# lab_bg NAME NS LOGFILE CMD...: start CMD in NS in the background; PID in LAB_PID_<NAME>.
lab_bg() {
  local name=$1 ns=$2 log=$3; shift 3
  # LOGFILE is emptied here, before returning, not by the background job (which may not have run
  # yet): a caller polling it (lab_ftpalg_start waits for "ftpalg: info: running") must never read what
  # an earlier process wrote there, such as the line of an instance killed before a restart.
  : >"$log"
  ip netns exec "$ns" "$@" >>"$log" 2>&1 </dev/null &
  local pid=$!
  LAB_PIDS+=("$pid")
  printf -v "LAB_PID_${name//-/_}" '%s' "$pid"
}

# lab_stop PID [SIGNAL] [WAIT_S]: signal a PID we started (in this shell) and wait for it;
# its exit status goes to LAB_STOP_RC (SIGKILL after WAIT_S seconds).
lab_stop() {
  # (bash reports "Killed" for a signalled background job on its stderr when it reaps it: keep
  # that notice out of the output)
  lab__stop "$@" 2>/dev/null
}
lab__stop() {
  local pid=$1 sig=${2:-TERM} wait_s=${3:-5} i
  kill -"$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < wait_s * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  LAB_STOP_RC=0
  wait "$pid" || LAB_STOP_RC=$?
}

# ---------------------------------------------------------------------------------------------
# Topologies
# ---------------------------------------------------------------------------------------------

lab__ns_add() {
  local ns=$1
  lab__delete_ns "$ns"
  ip netns add "$ns" || return 1
  LAB_NS+=("$ns")
  lab__owner_add_ns "$ns"
}

# lab__setup NS IFACE... -- SCRIPT: in one shell inside NS: loopback up, no IPv6 duplicate
# address detection (docs/design.md#ipv6-duplicate-address-detection) on every interface, interfaces up, then SCRIPT (addresses,
# routes). One process chain per namespace keeps the set-up fast on a loaded machine.
lab__setup() {
  local ns=$1; shift
  local ifaces=() script
  while [[ $1 != -- ]]; do ifaces+=("$1"); shift; done
  shift
  script="set -e
sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
  net.ipv6.conf.all.dad_transmits=0 net.ipv6.conf.default.dad_transmits=0 >/dev/null
ip link set lo up"
  local i
  for i in "${ifaces[@]}"; do
    script+="
sysctl -qw net.ipv6.conf.$i.accept_dad=0 net.ipv6.conf.$i.dad_transmits=0 >/dev/null
ip link set $i up"
  done
  script+="
$1"
  lab_in "$ns" bash -c "$script" || { lab_fail "set-up of $ns failed"; return 1; }
}

# lab__link NS IFACE ROUTER_IFACE: the link between IFACE in NS and ROUTER_IFACE in the router:
# one veth pair, or with LAB_IMPAIR set two, through the wire namespace (${ROUTER_IFACE}e on the
# endpoint's side, ${ROUTER_IFACE}r on the router's), joined by scripts/lab/wire.py.
lab__link() {
  local ns=$1 ifc=$2 rif=$3
  if [[ -z ${LAB_IMPAIR:-} ]]; then
    ip -n "$ns" link add "$ifc" type veth peer name "$rif" netns "$LAB_NS_R"
    return
  fi
  ip -n "$ns" link add "$ifc" type veth peer name "${rif}e" netns "$LAB_NS_W" &&
    ip -n "$LAB_NS_W" link add "${rif}r" type veth peer name "$rif" netns "$LAB_NS_R" &&
    LAB_WIRE_LINKS+=("${rif}e:${rif}r")
}

# lab_topo masq|dnat|route|route-dnat: build the namespaces. Sets LAB_TOPO, LAB_SERVER4/6 (the
# address the client dials), LAB_CLIENT4/6 (the client's own address), LAB_SERVER_REAL4/6,
# LAB_PUBLIC4.
# LAB_IMPAIR="loss=PCT,duplicate=PCT,reorder=PCT,delay=MS,seed=S,target=0|1" (any subset; target=1:
# fixed fates for the control frames that matter most, wire.py --targeted) puts both of the
# router's links on an imperfect wire (scripts/lab/wire.py, both directions; the stand-in for
# `tc netem`, whose qdisc this kernel lacks: docs/design.md#no-netem) and turns the offloads off
# (lab_offloads_off: the wire forwards frames of at most one MTU with complete checksums).
lab_topo() {
  local topo=$1
  case $topo in masq | route | dnat | route-dnat) ;; *) lab_fail "unknown topology '$topo' (masq|dnat|route|route-dnat)"; return 1 ;; esac
  LAB_WIRE_LINKS=()
  if [[ -n ${LAB_IMPAIR:-} ]]; then
    lab__wire_args || return 1
    lab__ns_add "$LAB_NS_W" || return 1
  fi
  lab__topo "$topo" || return 1
  [[ -z ${LAB_IMPAIR:-} ]] || lab__wire_start
}

# lab__wire_args: LAB_IMPAIR -> LAB_WIRE_ARGS (wire.py options), refusing unknown keys.
lab__wire_args() {
  local item key value
  local -a items
  LAB_WIRE_ARGS=()
  IFS=, read -ra items <<<"$LAB_IMPAIR"
  for item in "${items[@]}"; do
    key=${item%%=*} value=${item#*=}
    [[ $item == *=* && $value =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
      { lab_fail "LAB_IMPAIR: '$item' is not KEY=NUMBER"; return 1; }
    case $key in
      loss | duplicate | reorder | seed) LAB_WIRE_ARGS+=("--$key" "$value") ;;
      delay) LAB_WIRE_ARGS+=(--delay-ms "$value") ;;
      target) [[ $value == 0 ]] || LAB_WIRE_ARGS+=(--targeted) ;;
      *) lab_fail "LAB_IMPAIR: unknown key '$key' (loss|duplicate|reorder|delay|seed|target)"; return 1 ;;
    esac
  done
}

# lab__wire_start: the wire namespace's interfaces up (no addresses, IPv6 off: it sends nothing
# of its own), offloads off everywhere, wire.py started (LAB_PID_wire, log $LAB_DIR/wire.log).
lab__wire_start() {
  local link script="sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip link set lo up"
  for link in "${LAB_WIRE_LINKS[@]}"; do
    script+="
ip link set ${link%%:*} up promisc on
ip link set ${link#*:} up promisc on"
  done
  lab_in "$LAB_NS_W" bash -c "$script" || { lab_fail "set-up of $LAB_NS_W failed"; return 1; }
  lab_offloads_off || return 1
  local -a links=()
  for link in "${LAB_WIRE_LINKS[@]}"; do links+=(--link "$link"); done
  LAB_WIRE_LOG=$LAB_DIR/wire.log
  lab_bg wire "$LAB_NS_W" "$LAB_WIRE_LOG" "$LAB_PY" "$LAB_HERE/wire.py" "${links[@]}" "${LAB_WIRE_ARGS[@]}"
  local i
  for ((i = 0; i < 50; i++)); do
    grep -q '^wire ready' "$LAB_WIRE_LOG" 2>/dev/null && return 0
    kill -0 "$LAB_PID_wire" 2>/dev/null || break
    sleep 0.1
  done
  lab_fail "wire.py did not start: $(cat "$LAB_WIRE_LOG")"
}

# lab_wire_stop: stop wire.py; its per-direction counters are then at the end of LAB_WIRE_LOG.
lab_wire_stop() {
  [[ -n ${LAB_PID_wire:-} ]] || return 0
  lab_stop "$LAB_PID_wire" TERM 5
  LAB_PID_wire=
}

lab__topo() {
  local topo=$1
  LAB_TOPO=$topo
  lab__ns_add "$LAB_NS_C" && lab__ns_add "$LAB_NS_R" && lab__ns_add "$LAB_NS_S" || return 1
  case $topo in
    masq | route)
      lab__link "$LAB_NS_C" eth0 lan0 && lab__link "$LAB_NS_S" eth0 wan0 || return 1
      lab__setup "$LAB_NS_C" eth0 -- "
ip addr add 192.168.77.10/24 dev eth0
ip addr add 2001:db8:77::10/64 dev eth0 nodad
ip route add default via 192.168.77.1
ip -6 route add default via 2001:db8:77::1" || return 1
      lab__setup "$LAB_NS_R" lan0 wan0 -- "
sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null
ip addr add 192.168.77.1/24 dev lan0
ip addr add 2001:db8:77::1/64 dev lan0 nodad
ip addr add 203.0.113.1/24 dev wan0
ip addr add 2001:db8:1::1/64 dev wan0 nodad" || return 1
      local back=""
      [[ $topo == route ]] && back="ip route add 192.168.77.0/24 via 203.0.113.1"
      lab__setup "$LAB_NS_S" eth0 -- "
ip addr add 203.0.113.10/24 dev eth0
ip addr add 2001:db8:1::10/64 dev eth0 nodad
ip -6 route add 2001:db8:77::/64 via 2001:db8:1::1
$back" || return 1
      LAB_CLIENT4=192.168.77.10 LAB_CLIENT6=2001:db8:77::10
      LAB_SERVER4=203.0.113.10 LAB_SERVER6=2001:db8:1::10
      LAB_SERVER_REAL4=203.0.113.10 LAB_SERVER_REAL6=2001:db8:1::10
      LAB_PUBLIC4=203.0.113.1
      LAB_INSIDE_NET4=192.168.77.0/24
      if [[ $topo == masq ]]; then
        lab_in "$LAB_NS_R" nft -f - <<'EOF' || return 1
table ip nat {
  chain prerouting { type nat hook prerouting priority dstnat; policy accept; }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" ip saddr 192.168.77.0/24 masquerade
  }
}
EOF
      fi
      ;;
    dnat | route-dnat)
      lab__link "$LAB_NS_C" eth0 wan0 && lab__link "$LAB_NS_S" eth0 lan0 || return 1
      lab__setup "$LAB_NS_C" eth0 -- "
ip addr add 203.0.113.20/24 dev eth0
ip addr add 2001:db8:1::20/64 dev eth0 nodad
ip -6 route add 2001:db8:78::/64 via 2001:db8:1::1
$([[ $topo == route-dnat ]] && echo "ip route add 192.168.78.0/24 via 203.0.113.1")" || return 1
      lab__setup "$LAB_NS_R" lan0 wan0 -- "
sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null
ip addr add 203.0.113.1/24 dev wan0
ip addr add 2001:db8:1::1/64 dev wan0 nodad
ip addr add 192.168.78.1/24 dev lan0
ip addr add 2001:db8:78::1/64 dev lan0 nodad" || return 1
      lab__setup "$LAB_NS_S" eth0 -- "
ip addr add 192.168.78.10/24 dev eth0
ip addr add 2001:db8:78::10/64 dev eth0 nodad
ip route add default via 192.168.78.1
ip -6 route add default via 2001:db8:78::1" || return 1
      LAB_CLIENT4=203.0.113.20 LAB_CLIENT6=2001:db8:1::20
      LAB_SERVER4=203.0.113.1 LAB_SERVER6=2001:db8:78::10
      LAB_SERVER_REAL4=192.168.78.10 LAB_SERVER_REAL6=2001:db8:78::10
      LAB_PUBLIC4=203.0.113.1
      LAB_INSIDE_NET4=192.168.78.0/24
      if [[ $topo == route-dnat ]]; then
        LAB_SERVER4=192.168.78.10  # no port forward: the client dials the server directly
        return 0
      fi
      lab_in "$LAB_NS_R" nft -f - <<'EOF' || return 1
table ip nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "wan0" ip daddr 203.0.113.1 tcp dport 21 dnat ip to 192.168.78.10:21
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" ip saddr 192.168.78.0/24 masquerade
  }
}
EOF
      ;;
  esac
  # The kernel ftp helper is never assigned (docs/design.md#kernel-ftp-helper: it runs only where a rule assigns it).
  return 0
}

# lab_host_add NAME ROUTER_ADDR/LEN HOST_ADDR: one more host, namespace ${LAB_PREFIX}hNAME (NAME:
# 1-4 lower-case letters or digits), on its own router interface hNAME with ROUTER_ADDR/LEN; the
# host has HOST_ADDR/LEN on eth0 and its default route via ROUTER_ADDR. IPv4 only; NAT and filter
# rules for it are the caller's (nft add rule ...). Sets LAB_NS_H<NAME>.
lab_host_add() {
  local name=$1 router=$2 host=$3
  [[ $name =~ ^[a-z0-9]{1,4}$ && $router =~ ^[0-9.]+/[0-9]+$ && $host =~ ^[0-9.]+$ ]] ||
    { lab_fail "lab_host_add: bad arguments '$*' (NAME ROUTER_ADDR/LEN HOST_ADDR)"; return 1; }
  local ns="${LAB_PREFIX}h$name"
  lab__ns_add "$ns" || return 1
  ip -n "$ns" link add eth0 type veth peer name "h$name" netns "$LAB_NS_R" || return 1
  lab__setup "$ns" eth0 -- "
ip addr add $host/${router#*/} dev eth0
ip route add default via ${router%/*}" || return 1
  lab__setup "$LAB_NS_R" "h$name" -- "ip addr add $router dev h$name" || return 1
  printf -v "LAB_NS_H${name^^}" '%s' "$ns"
}

# lab_firewall strict|open [egress=strict|open]: the router's filter table.
#   strict: the admin's strict firewall of issue 4: forward policy drop; invalid dropped in forward
#           and input; established,related accepted; new tcp/21 towards the server accepted; the
#           pinhole mark accepted (not with LAB_SEQ_OWNER=kernel); nf_conntrack_tcp_be_liberal=0.
#           egress=open additionally accepts every new connection from the inside network out
#           (a typical home router); default egress=strict.
#   open  : forward policy accept (route-only capture topology).
lab_firewall() {
  local kind=$1 egress=strict arg
  for arg in "${@:2}"; do
    case $arg in egress=*) egress=${arg#egress=} ;; *) lab_fail "lab_firewall: bad argument $arg"; return 1 ;; esac
  done
  LAB_FIREWALL=$kind LAB_EGRESS=$egress
  lab_in "$LAB_NS_R" sysctl -qw net.netfilter.nf_conntrack_tcp_be_liberal=0 >/dev/null || return 1
  if [[ $kind == open ]]; then
    lab_in "$LAB_NS_R" nft -f - <<'EOF'
table inet filter {
  chain forward { type filter hook forward priority filter; policy accept; }
}
EOF
    return
  fi
  local to_server egress_rule=""
  case $LAB_TOPO in
    masq | route) to_server='iifname "lan0" oifname "wan0" tcp dport 21 ct state new accept' ;;
    dnat | route-dnat)
      to_server='iifname "wan0" oifname "lan0" ip daddr 192.168.78.10 tcp dport 21 ct status dnat ct state new accept
    iifname "wan0" oifname "lan0" ip6 daddr 2001:db8:78::10 tcp dport 21 ct state new accept' ;;
  esac
  [[ $egress == open ]] && egress_rule='iifname "lan0" oifname "wan0" ct state new accept'
  local pinhole_rule=$LAB_PINHOLE_RULE
  [[ $LAB_SEQ_OWNER == kernel ]] && pinhole_rule=
  lab_in "$LAB_NS_R" nft -f - <<EOF
table inet filter {
  chain input {
    type filter hook input priority filter; policy drop;
    ct state invalid drop
    ct state established,related accept
    iif "lo" accept
    meta l4proto { icmp, ipv6-icmp } accept
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state invalid drop
    ct state established,related accept
    $pinhole_rule
    icmp type echo-request accept
    icmpv6 type echo-request accept
    $to_server
    $egress_rule
  }
  chain output { type filter hook output priority filter; policy accept; }
}
EOF
}

# ---------------------------------------------------------------------------------------------
# Test data
# ---------------------------------------------------------------------------------------------

# lab_make_file PATH SIZE: a deterministic file (numbered text lines), SIZE bytes.
lab_make_file() {
  local path=$1 size=$2
  mkdir -p "$(dirname "$path")"
  # 85-byte lines, enough of them, cut to SIZE (no pipe into head: safe under pipefail).
  seq -f 'ftpalg lab test data line %09.0f ................................................' 1 $(((size / 80) + 2)) >"$path"
  truncate -s "$size" "$path"
  chmod 644 "$path"
}

# lab_make_data [SIZE]: $LAB_DIR/srv/pub/{test.bin,notes/readme.txt}; sets LAB_TEST_SIZE/SHA256.
lab_make_data() {
  local size=${1:-${LAB_TEST_SIZE:-262144}}
  LAB_SRV="$LAB_DIR/srv"
  mkdir -p "$LAB_SRV/pub/notes"
  lab_make_file "$LAB_SRV/pub/test.bin" "$size"
  echo "ftpalg lab: a directory to LIST" >"$LAB_SRV/pub/notes/readme.txt"
  chmod 755 "$LAB_SRV" "$LAB_SRV/pub" "$LAB_SRV/pub/notes"
  chmod 644 "$LAB_SRV/pub/notes/readme.txt"
  LAB_TEST_SIZE=$size
  LAB_TEST_SHA256=$(sha256sum "$LAB_SRV/pub/test.bin" | cut -d' ' -f1)
}

# lab_make_cert DIR SUBJECT_ALT_NAME: a self-signed certificate for the lab's FTPS server,
# DIR/cert.pem and DIR/key.pem (RSA 2048, valid one day, e.g. "IP:203.0.113.1").
lab_make_cert() {
  local dir=$1 san=$2
  mkdir -p "$dir"
  timeout 30 openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=ftpalg lab" \
    -addext "subjectAltName=$san" -keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1 ||
    { lab_fail "openssl could not make a certificate in $dir"; return 1; }
  chmod 600 "$dir/key.pem"
}

# ---------------------------------------------------------------------------------------------
# Servers (each with its own config file under $LAB_DIR, never the system default)
# ---------------------------------------------------------------------------------------------

lab__wait_listen() {
  local ns=$1 port=$2 i
  for ((i = 0; i < 50; i++)); do
    if lab_in "$ns" ss -Hltn "sport = :$port" 2>/dev/null | grep -q LISTEN; then return 0; fi
    sleep 0.1
  done
  return 1
}

# lab_server_start NAME: start NAME in the server namespace on port 21 (IPv4 and IPv6).
# Sets LAB_SERVER, LAB_FTP_USER, LAB_FTP_PASS, LAB_PID_server, LAB_SERVER_LOG.
# Optional settings (vsftpd and proftpd only; refused for the others):
#   LAB_ANNOUNCE_PUBLIC=1    the server announces the router's public address ($LAB_PUBLIC4) in its
#                            227 (vsftpd pasv_address, proftpd MasqueradeAddress), as an admin
#                            configures a port-forwarded server; vsftpd then listens on IPv4
#                            only (docs/design.md#server-quirks)
#   LAB_PASV_PORTS=MIN-MAX   the passive ports the server picks from (vsftpd pasv_min_port/
#                            pasv_max_port, proftpd PassivePorts)
#   LAB_TLS_DIR=DIR          vsftpd only: explicit FTPS (AUTH TLS) required for logins and data,
#                            with DIR/cert.pem and DIR/key.pem (lab_make_cert)
lab_server_start() {
  local name=$1 d="$LAB_DIR/$1"
  [[ -n ${LAB_SRV:-} ]] || lab_make_data
  mkdir -p "$d"
  chmod 755 "$d"
  LAB_SERVER=$name LAB_FTP_USER=anonymous LAB_FTP_PASS=lab@example.com
  LAB_SERVER_LOG="$d/server.log"
  if [[ -n ${LAB_ANNOUNCE_PUBLIC:-}${LAB_PASV_PORTS:-} && $name != vsftpd && $name != proftpd ]] ||
    [[ -n ${LAB_TLS_DIR:-} && $name != vsftpd ]]; then
    lab_fail "lab_server_start $name: LAB_ANNOUNCE_PUBLIC/LAB_PASV_PORTS need vsftpd or proftpd, LAB_TLS_DIR vsftpd"
    return 1
  fi
  if [[ -n ${LAB_PASV_PORTS:-} && ! ${LAB_PASV_PORTS} =~ ^[0-9]+-[0-9]+$ ]]; then
    lab_fail "LAB_PASV_PORTS=$LAB_PASV_PORTS: expected MIN-MAX"
    return 1
  fi
  case $name in
    vsftpd)
      local listen="listen=NO
listen_ipv6=YES" extra=""
      if [[ -n ${LAB_ANNOUNCE_PUBLIC:-} ]]; then
        listen="listen=YES
listen_ipv6=NO"
        extra+="pasv_address=$LAB_PUBLIC4
"
      fi
      [[ -n ${LAB_PASV_PORTS:-} ]] && extra+="pasv_min_port=${LAB_PASV_PORTS%-*}
pasv_max_port=${LAB_PASV_PORTS#*-}
"
      [[ -n ${LAB_TLS_DIR:-} ]] && extra+="ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=YES
rsa_cert_file=$LAB_TLS_DIR/cert.pem
rsa_private_key_file=$LAB_TLS_DIR/key.pem
"
      cat >"$d/vsftpd.conf" <<EOF
# ftpalg lab: vsftpd, anonymous read-only; dual-stack listener and no pasv_address override
# unless LAB_ANNOUNCE_PUBLIC is set.
$listen
${extra}background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=$LAB_SRV
local_enable=NO
write_enable=NO
anon_world_readable_only=YES
dirmessage_enable=NO
port_enable=YES
pasv_enable=YES
connect_from_port_20=YES
seccomp_sandbox=NO
secure_chroot_dir=/var/run/vsftpd/empty
pam_service_name=vsftpd
xferlog_enable=YES
xferlog_std_format=NO
log_ftp_protocol=YES
vsftpd_log_file=$d/vsftpd.log
idle_session_timeout=60
data_connection_timeout=30
EOF
      mkdir -p /var/run/vsftpd/empty
      # vsftpd reports start-up errors ("500 OOPS: ...") on fd 0: point it at the log.
      lab_bg server "$LAB_NS_S" "$LAB_SERVER_LOG" \
        bash -c 'exec 0>&1; exec /usr/sbin/vsftpd "$1"' vsftpd "$d/vsftpd.conf"
      ;;
    proftpd)
      cat >"$d/proftpd.conf" <<EOF
# ftpalg lab: proftpd (unpacked under $LAB_SERVERS_DIR), anonymous read-only.
ServerName "ftpalg lab proftpd"
ServerType standalone
DefaultServer on
Port 21
UseIPv6 on
User nobody
Group nogroup
Umask 022
MaxInstances 20
PidFile $d/proftpd.pid
ScoreboardFile $d/proftpd.scoreboard
DelayTable none
WtmpLog off
UseReverseDNS off
ControlsEngine off
AuthPAM off
RequireValidShell off
SystemLog $d/proftpd.log
TransferLog $d/proftpd.xfer
TimeoutIdle 60
$([[ -n ${LAB_ANNOUNCE_PUBLIC:-} ]] && echo "MasqueradeAddress $LAB_PUBLIC4")
$([[ -n ${LAB_PASV_PORTS:-} ]] && echo "PassivePorts ${LAB_PASV_PORTS%-*} ${LAB_PASV_PORTS#*-}")
<Anonymous $LAB_SRV>
  User ftp
  Group nogroup
  UserAlias anonymous ftp
  RequireValidShell off
  <Limit WRITE>
    DenyAll
  </Limit>
</Anonymous>
EOF
      lab_bg server "$LAB_NS_S" "$LAB_SERVER_LOG" \
        "$LAB_SERVERS_DIR/proftpd-core/usr/sbin/proftpd" -n -c "$d/proftpd.conf"
      ;;
    pure-ftpd)
      # pure-ftpd's anonymous root is the ftp account's home; use a virtual user instead.
      LAB_FTP_USER=labuser LAB_FTP_PASS=labpass
      rm -f "$d/pureftpd.passwd" "$d/pureftpd.pdb"
      # A SHA-512 crypt hash (pure-pw's default argon2id costs ~3 s per login); then the PureDB.
      local hash
      hash=$(openssl passwd -6 -salt ftpalglab "$LAB_FTP_PASS") || return 1
      echo "$LAB_FTP_USER:$hash:$(id -u ftp):$(getent group nogroup | cut -d: -f3)::$LAB_SRV/./::::::::::::" \
        >"$d/pureftpd.passwd"
      timeout 10 "$LAB_SERVERS_DIR/pure-ftpd/usr/bin/pure-pw" mkdb "$d/pureftpd.pdb" -f "$d/pureftpd.passwd" \
        >/dev/null || return 1
      echo "pure-ftpd -l puredb:$d/pureftpd.pdb -E -H -A -u 1 -S ,21 -c 20 -I 60 -O clf:$d/xfer.log" >"$d/pure-ftpd.cmdline"
      lab_bg server "$LAB_NS_S" "$LAB_SERVER_LOG" \
        "$LAB_SERVERS_DIR/pure-ftpd/usr/sbin/pure-ftpd" -l "puredb:$d/pureftpd.pdb" -E -H -A -u 1 \
        -S ,21 -c 20 -I 60 -O "clf:$d/xfer.log"
      ;;
    pyftpdlib)
      lab_bg server "$LAB_NS_S" "$LAB_SERVER_LOG" \
        "$LAB_PY" "$LAB_HERE/pyftpd.py" --root "$LAB_SRV" --port 21
      ;;
    *) lab_fail "unknown server '$name' (vsftpd|proftpd|pure-ftpd|pyftpdlib)"; return 1 ;;
  esac
  if ! lab__wait_listen "$LAB_NS_S" 21; then
    lab_fail "$name did not start listening on port 21; its log:"
    sed 's/^/  | /' "$LAB_SERVER_LOG" >&2
    return 1
  fi
}

# ---------------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------------

# lab_client CLIENT MODE FAMILY OUTDIR [HOST]: one FTP session from the client namespace:
# login, LIST /pub, RETR /pub/test.bin, in MODE (port|eprt|pasv|epsv). Writes OUTDIR/{raw.log,
# transcript (normalised "> CMD" / "< NNN text" lines), list.txt, test.bin}. Returns 0 only if the
# file's sha256 matches, the listing names test.bin, and MODE's verb was really sent.
# Sets LAB_CLIENT_REASON (short reason name on failure).
lab_client() {
  local client=$1 mode=$2 fam=$3 out=$4 host=${5:-}
  mkdir -p "$out"
  rm -f "$out"/{raw.log,transcript,list.txt,test.bin}
  if [[ -z $host ]]; then
    if [[ $fam == 6 ]]; then host=$LAB_SERVER6; else host=$LAB_SERVER4; fi
  fi
  local urlhost=$host
  [[ $host == *:* ]] && urlhost="[$host]"
  # t bounds the whole client; ct is each connection's/step's timeout (shorter for a test that
  # expects a data connection to be dropped: LAB_CONNECT_TIMEOUT).
  local user=$LAB_FTP_USER pass=$LAB_FTP_PASS rc=0 t=$LAB_CLIENT_TIMEOUT ct=${LAB_CONNECT_TIMEOUT:-8}
  local ns=$LAB_NS_C
  case $client in
    curl)
      local -a opts
      case $mode in
        port) opts=(-P - --disable-eprt) ;;
        eprt) opts=(-P -) ;;
        pasv) opts=(--ftp-pasv --disable-epsv) ;;
        epsv) opts=(--ftp-pasv) ;;
        *) LAB_CLIENT_REASON=unsupported_mode; return 2 ;;
      esac
      # LAB_CURL_EXTRA: more curl options, split at spaces (e.g. "--ssl-reqd --cacert FILE").
      local -a extra=()
      [[ -n ${LAB_CURL_EXTRA:-} ]] && read -ra extra <<<"$LAB_CURL_EXTRA"
      timeout -k 2 "$t" ip netns exec "$ns" curl -v -sS --connect-timeout "$ct" --max-time $((t - 3)) \
        -u "$user:$pass" "${opts[@]}" "${extra[@]}" \
        "ftp://$urlhost/pub/" -o "$out/list.txt" \
        "ftp://$urlhost/pub/test.bin" -o "$out/test.bin" >"$out/raw.log" 2>&1 || rc=$?
      sed -n -e 's/^> /> /p' -e 's/^< /< /p' "$out/raw.log" | tr -d '\r' >"$out/transcript"
      ;;
    lftp)
      local pm epsv
      case $mode in
        port) pm=off epsv=no; [[ $fam == 6 ]] && { LAB_CLIENT_REASON=unsupported_mode; return 2; } ;;
        eprt) pm=off epsv=no; [[ $fam == 4 ]] && { LAB_CLIENT_REASON=unsupported_mode; return 2; } ;;
        pasv) pm=on epsv=no ;;
        epsv) pm=on epsv=yes ;;
        *) LAB_CLIENT_REASON=unsupported_mode; return 2 ;;
      esac
      timeout -k 2 "$t" ip netns exec "$ns" lftp -d -c "
set cmd:fail-exit yes; set net:timeout $ct; set net:max-retries 1; set net:reconnect-interval-base 1;
set ftp:ssl-allow no; set ftp:passive-mode $pm; set ftp:prefer-epsv $epsv; set xfer:clobber yes;
set ftp:sync-mode on;
open -u '$user,$pass' 'ftp://$urlhost';
cls -l /pub/ > '$out/list.txt';
get /pub/test.bin -o '$out/test.bin'" >"$out/raw.log" 2>&1 || rc=$?
      sed -n -e 's/^---> />/p' -e 's/^<--- /< /p' "$out/raw.log" | tr -d '\r' |
        sed -e 's/^>\(.*\)$/> \1/' -e 's/^> \+/> /' >"$out/transcript"
      ;;
    wget)
      local -a opts
      case $mode in
        port) opts=(--no-passive-ftp); [[ $fam == 6 ]] && { LAB_CLIENT_REASON=unsupported_mode; return 2; } ;;
        eprt) opts=(--no-passive-ftp); [[ $fam == 4 ]] && { LAB_CLIENT_REASON=unsupported_mode; return 2; } ;;
        pasv) opts=(); [[ $fam == 6 ]] && { LAB_CLIENT_REASON=unsupported_mode; return 2; } ;;
        epsv) opts=(); [[ $fam == 4 ]] && { LAB_CLIENT_REASON=unsupported_mode; return 2; } ;;
        *) LAB_CLIENT_REASON=unsupported_mode; return 2 ;;
      esac
      mkdir -p "$out/wget"
      rm -rf "$out/wget"/* "$out/wget"/.listing
      timeout -k 2 "$t" ip netns exec "$ns" wget -d -nd -nv -P "$out/wget" --no-remove-listing \
        --timeout="$ct" --tries=1 "${opts[@]}" --user="$user" --password="$pass" \
        "ftp://$urlhost/pub/" "ftp://$urlhost/pub/test.bin" >"$out/raw.log" 2>&1 || rc=$?
      [[ -f $out/wget/.listing ]] && tr -d '\r' <"$out/wget/.listing" >"$out/list.txt"
      [[ -f $out/wget/test.bin ]] && mv "$out/wget/test.bin" "$out/test.bin"
      tr -d '\r' <"$out/raw.log" | sed -n -e 's/^--> \(.\)/> \1/p' -e 's/^\([1-5][0-9][0-9][ -].*\)$/< \1/p' |
        sed -e 's/^> PASS .*/> PASS ****/' >"$out/transcript"
      ;;
    ftplib)
      timeout -k 2 "$t" ip netns exec "$ns" "$LAB_PY" "$LAB_HERE/ftp_client.py" --host "$host" \
        --user "$user" --password "$pass" --mode "$mode" --timeout "$ct" \
        --list /pub --list-out "$out/list.txt" --get /pub/test.bin --get-out "$out/test.bin" \
        --transcript "$out/transcript" ${LAB_FTPLIB_EXTRA:-} >"$out/raw.log" 2>&1 || rc=$?
      ;;
    *) LAB_CLIENT_REASON=unknown_client; return 2 ;;
  esac
  lab_judge "$mode" "$out" "$rc"
}

# lab_judge MODE OUTDIR CLIENT_RC: the verdict of one session, from its transcript and files.
lab_judge() {
  local mode=$1 out=$2 crc=$3 verb
  verb=$(tr '[:lower:]' '[:upper:]' <<<"$mode")
  LAB_CLIENT_REASON=ok
  if ! grep -q "^> $verb" "$out/transcript" 2>/dev/null; then
    if [[ ! -s $out/transcript ]]; then
      if [[ $crc == 124 || $crc == 137 ]]; then LAB_CLIENT_REASON=client_timeout; else LAB_CLIENT_REASON=no_transcript; fi
    else
      LAB_CLIENT_REASON="verb_not_sent_$verb"
      # A session that never got as far as the data command: report the last error reply.
      local last
      last=$(grep -E '^< [45][0-9][0-9]' "$out/transcript" | tail -n1 | cut -c3-5)
      [[ -n $last ]] && LAB_CLIENT_REASON="reply_${last}_before_$verb"
      [[ $crc == 124 || $crc == 137 ]] && LAB_CLIENT_REASON="client_timeout_before_$verb"
    fi
    return 1
  fi
  # The first error reply at or after the data verb names the failure (e.g. 500 Illegal PORT,
  # 425 Can't open data connection).
  local err
  err=$(awk -v v="^> $verb" '$0 ~ v {s=1} s && /^< [45][0-9][0-9]/ {print substr($0,3,3); exit}' "$out/transcript")
  # Mode purity: a client that silently falls back to another mode (lftp turns passive mode on
  # after a refused PORT; curl retries PORT after a refused EPRT) did not prove MODE.
  local other
  other=$(grep -oE '^> (PORT|EPRT|PASV|EPSV)' "$out/transcript" | cut -c3- | grep -vx "$verb" | head -n1)
  if [[ -n $other ]]; then
    LAB_CLIENT_REASON="fallback_to_${other}"
    [[ -n $err ]] && LAB_CLIENT_REASON="reply_${err}_then_fallback_to_${other}"
    return 1
  fi
  local got_sha=""
  [[ -f $out/test.bin ]] && got_sha=$(sha256sum "$out/test.bin" | cut -d' ' -f1)
  if [[ $crc == 0 && $got_sha == "$LAB_TEST_SHA256" ]] && grep -q 'test\.bin' "$out/list.txt" 2>/dev/null; then
    LAB_CLIENT_REASON=ok
    return 0
  fi
  if [[ -n $err ]]; then
    LAB_CLIENT_REASON="reply_$err"
  elif [[ $crc == 124 || $crc == 137 ]]; then
    LAB_CLIENT_REASON=client_timeout
  elif [[ -n $got_sha && $got_sha != "$LAB_TEST_SHA256" ]]; then
    LAB_CLIENT_REASON=checksum_mismatch
  elif [[ $crc != 0 && -n $got_sha ]]; then
    LAB_CLIENT_REASON="client_exit_$crc"
  elif ! grep -q 'test\.bin' "$out/list.txt" 2>/dev/null; then
    LAB_CLIENT_REASON=list_failed
  else
    LAB_CLIENT_REASON=retr_failed
  fi
  return 1
}

# ---------------------------------------------------------------------------------------------
# Capture
# ---------------------------------------------------------------------------------------------

# lab_offloads_off: no checksum offload, TSO, GSO or GRO on any veth of the lab, so a capture
# holds on-the-wire packets (full checksums, at most one MTU each), not the kernel's shortcuts.
lab_offloads_off() {
  local pair ns ifc link
  local -a ends=("$LAB_NS_C:eth0" "$LAB_NS_R:lan0" "$LAB_NS_R:wan0" "$LAB_NS_S:eth0")
  for link in "${LAB_WIRE_LINKS[@]}"; do ends+=("$LAB_NS_W:${link%%:*}" "$LAB_NS_W:${link#*:}"); done
  for pair in "${ends[@]}"; do
    ns=${pair%%:*} ifc=${pair#*:}
    lab_in "$ns" ethtool -K "$ifc" tx off rx off tso off gso off gro off >/dev/null 2>&1 ||
      { lab_fail "ethtool -K $ifc in $ns failed (is ethtool installed?)"; return 1; }
  done
}

# lab_capture_start NS IFACE FILE [FILTER...]: tcpdump --immediate-mode (docs/design.md#tcpdump-in-a-namespace).
lab_capture_start() {
  local ns=$1 ifc=$2 file=$3; shift 3
  rm -f "$file"
  lab_bg tcpdump "$ns" "$file.log" tcpdump --immediate-mode -U -n -s 0 -i "$ifc" -w "$file" "$@"
  local i
  for ((i = 0; i < 50; i++)); do
    grep -q 'listening on' "$file.log" 2>/dev/null && return 0
    sleep 0.1
  done
  lab_fail "tcpdump did not start: $(cat "$file.log")"
}

# lab_capture_stop: stop the last capture and wait until the file is complete.
lab_capture_stop() {
  sleep 0.3
  lab_stop "$LAB_PID_tcpdump" INT 5
}

# ---------------------------------------------------------------------------------------------
# ftpalg on the router
# ---------------------------------------------------------------------------------------------

# lab_ftpalg_available BIN: 0 if BIN exists and has a `run` subcommand.
lab_ftpalg_available() {
  local bin=${1:-${FTPALG_BIN:-}}
  [[ -n $bin && -x $bin ]] || return 1
  timeout 5 "$bin" run --help >/dev/null 2>&1
}

# lab_ftpalg_residue: print what ftpalg left in the router namespace (queue chains/rules, its
# nft table); empty output means clean.
lab_ftpalg_residue() {
  {
    lab_in "$LAB_NS_R" iptables-save 2>/dev/null | grep -i 'ftpalg\|NFQUEUE' | sed 's/^/iptables: /'
    lab_in "$LAB_NS_R" ip6tables-save 2>/dev/null | grep -i 'ftpalg\|NFQUEUE' | sed 's/^/ip6tables: /'
    lab_in "$LAB_NS_R" nft list tables 2>/dev/null | grep -w ftpalg | sed 's/^/nft: /'
  } || true
}

# lab_ftpalg_start ARGS...: `ftpalg run --log $LAB_DIR/ftpalg.log --seq-owner $LAB_SEQ_OWNER
# ARGS...` (--log-format $LAB_FTPALG_FORMAT, default json; no --seq-owner of ours when ARGS has
# one) in the router namespace; waits (<= 8 s) until it reports "running" and its queue rules are
# installed (and, unless --dry-run or --pinhole-backend none, its nft table exists). Sets
# LAB_PID_ftpalg, LAB_FTPALG_LOG.
lab_ftpalg_start() {
  local bin=${FTPALG_BIN:?FTPALG_BIN is not set}
  LAB_FTPALG_LOG=${LAB_FTPALG_LOG:-$LAB_DIR/ftpalg.log}
  local want_table=1 a owner=(--seq-owner "$LAB_SEQ_OWNER")
  for a in "$@"; do
    [[ $a == --dry-run || $a == none ]] && want_table=
    [[ $a == --seq-owner || $a == --seq-owner=* ]] && owner=()
  done
  # lab_bg empties the stderr file before returning: the checks below never read a previous
  # instance's "running" line.
  lab_bg ftpalg "$LAB_NS_R" "$LAB_DIR/ftpalg.stderr" \
    "$bin" run --log "$LAB_FTPALG_LOG" --log-format "${LAB_FTPALG_FORMAT:-json}" "${owner[@]}" "$@"
  local i
  for ((i = 0; i < 80; i++)); do
    if ! kill -0 "$LAB_PID_ftpalg" 2>/dev/null; then
      lab_fail "ftpalg run exited during start-up: $(tail -n 5 "$LAB_DIR/ftpalg.stderr")"
      return 1
    fi
    # Ready = it says so ("ftpalg: info: running ...", printed once its queue is bound and its rules
    # and table are installed) and the rules are really there (after a crash, stale rules of
    # the previous instance exist until the new one replaces them: the message decides).
    # The running line names the sequence owner the daemon really uses (kernel may fall back).
    if grep -q '^ftpalg: info: running.*sequence owner kernel' "$LAB_DIR/ftpalg.stderr" 2>/dev/null; then
      if lab_in "$LAB_NS_R" iptables -w -t mangle -S ftpalg-ct 2>/dev/null | grep -q NFQUEUE &&
        lab_in "$LAB_NS_R" iptables -w -t mangle -S FORWARD 2>/dev/null | grep -q ftpalg-ct &&
        lab_in "$LAB_NS_R" nft list table inet ftpalg >/dev/null 2>&1; then
        return 0
      fi
    elif grep -q '^ftpalg: info: running' "$LAB_DIR/ftpalg.stderr" 2>/dev/null &&
      lab_in "$LAB_NS_R" iptables -w -t mangle -S ftpalg-c2s 2>/dev/null | grep -q NFQUEUE &&
      lab_in "$LAB_NS_R" iptables -w -t raw -S ftpalg-s2c 2>/dev/null | grep -q NFQUEUE &&
      lab_in "$LAB_NS_R" iptables -w -t mangle -S FORWARD 2>/dev/null | grep -q ftpalg-c2s &&
      { [[ -z $want_table ]] || lab_in "$LAB_NS_R" nft list table inet ftpalg >/dev/null 2>&1; }; then
      return 0
    fi
    sleep 0.1
  done
  lab_fail "ftpalg run did not become ready in 8 s: $(tail -n 5 "$LAB_DIR/ftpalg.stderr")"
  return 1
}

# lab_ftpalg_stop [SIGNAL]: stop ftpalg (SIGTERM by default); LAB_FTPALG_RC = its exit status.
lab_ftpalg_stop() {
  local sig=${1:-TERM}
  [[ -n ${LAB_PID_ftpalg:-} ]] || return 0
  lab_stop "$LAB_PID_ftpalg" "$sig" 8
  LAB_FTPALG_RC=$LAB_STOP_RC
  LAB_PID_ftpalg=
}
