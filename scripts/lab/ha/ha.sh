# shellcheck shell=bash
# scripts/lab/ha/ha.sh: a two-router lab for failover with conntrackd and keepalived (docs/ha.md).
# Source it (it sources scripts/lab/lab.sh for the process and namespace bookkeeping), then:
#   ha_init [ID]            prefix "fha<ID>-" (default ID: $$), work dir $HA_DIR, cleanup traps
#   ha_topo                 namespaces, switch, links, addresses, the admin's firewall and NAT
#   ha_conntrackd_start a|b conntrackd FTFW on the sync link (ExpectationSync)
#   ha_servers_start        vsftpd on the outside server (s) and the DNAT'd inside server (d)
#   ha_ftpalg_start a|b     ftpalg run --seq-owner kernel in the router (waits for "running")
#   ha_keepalived_start a|b VRRP for the LAN and WAN virtual addresses (a first: it becomes master)
#   ha_wait_master a|b      until that router holds both virtual addresses (<= 5 s)
#   ha_crash a|b            keepalived SIGKILLed, the router's LAN and WAN switch ports down
#   ha_repair a|b           stale virtual addresses dropped, ports up, keepalived again (BACKUP)
#   ha_stop a|b             clean keepalived stop (priority-0 advert: the peer takes over at once)
#   ha_up                   all of the above, a master
#
#   c 192.168.77.10 (client)  d 192.168.77.20 (DNAT'd server)          s 203.0.113.100 (server)
#          |                      |                                      w 203.0.113.50 (client)
#   -------+------ sw: br-lan ----+---                 ---- sw: br-wan ---+------+-------
#          |                            |                 |                      |
#   lan0 192.168.77.2              lan0 192.168.77.3   wan0 203.0.113.2    wan0 203.0.113.3
#          +--------- router a ---------|-----------------+                      |
#                                       +----------- router b -------------------+
#   a sync0 198.51.100.1 <--------- dedicated veth ---------> 198.51.100.2 sync0 b
#   VRRP (keepalived): LAN VIP 192.168.77.1/24 (vrid 77) and WAN VIP 203.0.113.1/24 (vrid 113)
#   move together (vrrp_sync_group). Both routers: snat 192.168.77.0/24 -> 203.0.113.1 (the WAN
#   VIP, never masquerade: that takes the router's own address), dnat 203.0.113.1:21 -> d:21.
#
# Knobs: HA_RATE (vsftpd anon_max_rate, bytes/s, default 12000000), HA_ADVERT (VRRP advert
# interval, default 0.1 with VRRPv3), HA_FTPALG_ARGS (more `ftpalg run` options).

HA_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lab.sh
source "$HA_HERE/../lab.sh"
# The HA lab's namespaces are fha<ID>-{c,d,s,w,a,b,sw}; stale ones are reaped like lab.sh's.
LAB_NS_PATTERN='^fha?[A-Za-z0-9]{1,12}-(c|d|r|s|w|a|b|sw|h[a-z0-9]{1,4})$'

HA_ROUTERS=(a b)
HA_CLIENT=192.168.77.10 HA_INSIDE_SERVER=192.168.77.20
HA_SERVER=203.0.113.100 HA_OUTSIDE_CLIENT=203.0.113.50
HA_LAN_VIP=192.168.77.1 HA_WAN_VIP=203.0.113.1
declare -A HA_LAN_IP=([a]=192.168.77.2 [b]=192.168.77.3)
declare -A HA_WAN_IP=([a]=203.0.113.2 [b]=203.0.113.3)
declare -A HA_SYNC_IP=([a]=198.51.100.1 [b]=198.51.100.2)
declare -A HA_PEER=([a]=b [b]=a)
declare -A HA_PRIORITY=([a]=150 [b]=100)
HA_RATE=${HA_RATE:-12000000}
HA_ADVERT=${HA_ADVERT:-0.1}

ha_ns() { echo "${LAB_PREFIX}$1"; }

# ha_init [ID]: as lab_init, with the prefix fha<ID>-.
ha_init() {
  local id=${1:-$$}
  [[ $id =~ ^[A-Za-z0-9]{1,12}$ ]] || { lab_fail "ha_init: ID must be 1-12 letters/digits: '$id'"; return 1; }
  LAB_ID=$id LAB_PREFIX="fha${id}-"
  LAB_NS=() LAB_PIDS=() LAB_CLEANED=
  LAB_DIR="$LAB_ROOT/${LAB_PREFIX%-}"
  HA_DIR=$LAB_DIR
  mkdir -p "$LAB_ROOT/owners"
  chmod 755 "$LAB_ROOT"
  lab_reap_stale
  local owner_file="$LAB_ROOT/owners/${LAB_PREFIX%-}" opid
  if [[ -f $owner_file ]]; then
    opid=$(head -n1 "$owner_file")
    if [[ -n $opid ]] && kill -0 "$opid" 2>/dev/null && [[ $opid != "$$" ]]; then
      lab_fail "lab prefix $LAB_PREFIX is in use by live process $opid"
      return 1
    fi
  fi
  echo "$$" >"$owner_file"
  rm -rf "$HA_DIR"
  mkdir -p "$HA_DIR"/{a,b,s,d,c,w}
  chmod 755 "$HA_DIR"
  # keepalived (enable_script_security) refuses a notify script that a non-root user could
  # change, or in a directory one could: a root-owned copy, whoever owns the checkout.
  install -m 755 "$HA_HERE/notify.sh" "$HA_DIR/notify.sh"
  trap 'lab_cleanup' EXIT
  trap 'lab_cleanup; trap - EXIT; exit 130' INT
  trap 'lab_cleanup; trap - EXIT; exit 143' TERM
}

# ha__port NS IFACE BRIDGE SWITCH_PORT: a veth from NS:IFACE to a port of a switch bridge.
ha__port() {
  local sw
  sw=$(ha_ns sw)
  ip link add "$4" netns "$sw" type veth peer name "$2" netns "$1" &&
    ip -n "$sw" link set "$4" master "$3" up
}

ha_topo() {
  local n ns r sw
  sw=$(ha_ns sw)
  for n in c d s w a b sw; do lab__ns_add "$(ha_ns $n)" || return 1; done
  ip -n "$sw" link add br-lan type bridge forward_delay 0 stp_state 0 &&
    ip -n "$sw" link add br-wan type bridge forward_delay 0 stp_state 0 || return 1
  lab__setup "$sw" br-lan br-wan -- ":" || return 1
  ha__port "$(ha_ns c)" eth0 br-lan lan-c && ha__port "$(ha_ns d)" eth0 br-lan lan-d &&
    ha__port "$(ha_ns s)" eth0 br-wan wan-s && ha__port "$(ha_ns w)" eth0 br-wan wan-w || return 1
  for r in "${HA_ROUTERS[@]}"; do
    ha__port "$(ha_ns "$r")" lan0 br-lan "lan-$r" && ha__port "$(ha_ns "$r")" wan0 br-wan "wan-$r" || return 1
  done
  ip link add sync0 netns "$(ha_ns a)" type veth peer name sync0 netns "$(ha_ns b)" || return 1
  lab__setup "$sw" lan-c lan-d wan-s wan-w lan-a wan-a lan-b wan-b -- ":" || return 1
  # Hosts: the inside ones route through the LAN VIP; the outside ones reach the WAN VIP on-link
  # (the public side has no route to 192.168.77.0/24, like the Internet).
  lab__setup "$(ha_ns c)" eth0 -- "ip addr add $HA_CLIENT/24 dev eth0; ip route add default via $HA_LAN_VIP" &&
    lab__setup "$(ha_ns d)" eth0 -- "ip addr add $HA_INSIDE_SERVER/24 dev eth0; ip route add default via $HA_LAN_VIP" &&
    lab__setup "$(ha_ns s)" eth0 -- "ip addr add $HA_SERVER/24 dev eth0" &&
    lab__setup "$(ha_ns w)" eth0 -- "ip addr add $HA_OUTSIDE_CLIENT/24 dev eth0" || return 1
  for r in "${HA_ROUTERS[@]}"; do
    ns=$(ha_ns "$r")
    lab__setup "$ns" lan0 wan0 sync0 -- "ip addr add ${HA_LAN_IP[$r]}/24 dev lan0
ip addr add ${HA_WAN_IP[$r]}/24 dev wan0
ip addr add ${HA_SYNC_IP[$r]}/24 dev sync0
sysctl -qw net.ipv4.ip_forward=1 net.netfilter.nf_conntrack_tcp_be_liberal=0" || return 1
    ha_firewall "$r" || return 1
  done
}

# ha_firewall R: the admin's strict firewall and NAT, identical on both routers. Nothing in it is
# ftpalg-specific: ftpalg's anchor lives in its own table, and its pinholes are conntrack
# expectations that `ct state established,related accept` admits. New connections are admitted
# only by their SYN: a mid-stream packet that reaches a router before conntrackd committed its
# connection creates no entry (it would be unhelped and NAT'ed differently: docs/ha.md).
ha_firewall() {
  local r=$1
  lab_in "$(ha_ns "$r")" nft -f - <<EOF
table inet filter {
  chain input {
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    ct state invalid drop
    ct state established,related accept
    ip protocol vrrp accept
    iifname "sync0" udp dport 3780 accept
    icmp type echo-request accept
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state invalid drop
    ct state established,related accept
    iifname "lan0" oifname "wan0" ct state new tcp flags & (fin | syn | rst | ack) == syn accept
    iifname "wan0" oifname "lan0" ip daddr $HA_INSIDE_SERVER tcp dport 21 ct status dnat ct state new tcp flags & (fin | syn | rst | ack) == syn accept
    icmp type echo-request accept
  }
  chain output {
    type filter hook output priority filter; policy accept;
  }
}
table ip nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "wan0" ip daddr $HA_WAN_VIP tcp dport 21 dnat to $HA_INSIDE_SERVER
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" ip saddr 192.168.77.0/24 snat to $HA_WAN_VIP
  }
}
EOF
}

# ha_conntrackd_conf R: conntrackd.conf of router R (docs/ha.md shows it rendered).
ha_conntrackd_conf() {
  local r=$1 p=${HA_PEER[$1]} d=$HA_DIR/$1
  cat <<EOF
# conntrackd of router $r: FTFW over UDP on the dedicated sync link (docs/ha.md)
Sync {
	Mode FTFW {
		# the external cache: the peer's entries are committed to the kernel only on takeover
		DisableExternalCache no
		PurgeTimeout 60
		StartupResync yes
	}
	UDP {
		IPv4_address ${HA_SYNC_IP[$r]}
		IPv4_Destination_Address ${HA_SYNC_IP[$p]}
		Port 3780
		Interface sync0
		SndSocketBuffer 1249280
		RcvSocketBuffer 1249280
		Checksum on
	}
	Options {
		# sender-side filter on the expectation's helper name: ftpalg's anchor is "sane"
		ExpectationSync { ftp sane }
	}
}
General {
	Systemd no
	# larger than CommitSteps (8192), or the expectations are never committed
	HashSize 32768
	HashLimit 131072
	LogFile $d/conntrackd.log
	LockFile $d/conntrackd.lock
	UNIX {
		Path $d/conntrackd.ctl
	}
	NetlinkBufferSize 2097152
	NetlinkBufferSizeMaxGrowth 8388608
	Filter From Userspace {
		Protocol Accept {
			TCP
		}
		Address Ignore {
			IPv4_address 127.0.0.1
			IPv4_address $HA_LAN_VIP
			IPv4_address $HA_WAN_VIP
			IPv4_address ${HA_LAN_IP[a]}
			IPv4_address ${HA_LAN_IP[b]}
			IPv4_address ${HA_WAN_IP[a]}
			IPv4_address ${HA_WAN_IP[b]}
			IPv4_address ${HA_SYNC_IP[a]}
			IPv4_address ${HA_SYNC_IP[b]}
		}
	}
}
EOF
}

# ha_ctd R ARGS...: the conntrackd client of router R.
ha_ctd() {
  local r=$1
  shift
  lab_in "$(ha_ns "$r")" conntrackd -C "$HA_DIR/$r/conntrackd.conf" "$@"
}

ha_conntrackd_start() {
  local r=$1 i
  ha_conntrackd_conf "$r" >"$HA_DIR/$r/conntrackd.conf"
  # In the foreground (no -d): the recorded PID is the daemon's.
  lab_bg "conntrackd_$r" "$(ha_ns "$r")" "$HA_DIR/$r/conntrackd.out" conntrackd -C "$HA_DIR/$r/conntrackd.conf"
  for ((i = 0; i < 50; i++)); do
    ha_ctd "$r" -s >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  lab_fail "conntrackd of router $r did not answer: $(tail -n 3 "$HA_DIR/$r/conntrackd.log" 2>/dev/null)"
}

# ha_keepalived_conf R: keepalived.conf of router R.
ha_keepalived_conf() {
  local r=$1 d=$HA_DIR/$1
  cat <<EOF
# keepalived of router $r (docs/ha.md)
global_defs {
    router_id ${LAB_PREFIX}$r
    vrrp_version 3
    script_user root
    enable_script_security
    # the VRRP process in real-time scheduling, locked in memory: with 0.1 s adverts a loaded
    # host must not delay them into a false failover
    vrrp_rt_priority 50
    vrrp_no_swap
    # on becoming master: 3 gratuitous ARPs per VIP at once, 3 more 5 s later
    vrrp_garp_master_delay 5
    vrrp_garp_master_repeat 3
}
vrrp_sync_group G {
    group {
        lan
        wan
    }
    notify_master "$HA_DIR/notify.sh $d/conntrackd.conf $d/notify.log primary"
    notify_backup "$HA_DIR/notify.sh $d/conntrackd.conf $d/notify.log backup"
    notify_fault  "$HA_DIR/notify.sh $d/conntrackd.conf $d/notify.log fault"
}
vrrp_instance lan {
    state BACKUP
    nopreempt
    interface lan0
    virtual_router_id 77
    priority ${HA_PRIORITY[$r]}
    advert_int $HA_ADVERT
    virtual_ipaddress {
        $HA_LAN_VIP/24 dev lan0
    }
}
vrrp_instance wan {
    state BACKUP
    nopreempt
    interface wan0
    virtual_router_id 113
    priority ${HA_PRIORITY[$r]}
    advert_int $HA_ADVERT
    virtual_ipaddress {
        $HA_WAN_VIP/24 dev wan0
    }
}
EOF
}

ha_keepalived_start() {
  local r=$1 d=$HA_DIR/$1
  ha_keepalived_conf "$r" >"$d/keepalived.conf"
  # -n foreground (the recorded PID is the parent), -P VRRP only, -l -D -G: log to the console.
  lab_bg "keepalived_$r" "$(ha_ns "$r")" "$d/keepalived.log" \
    keepalived -n -P -l -D -G -f "$d/keepalived.conf" -p "$d/keepalived.pid" -r "$d/keepalived_vrrp.pid"
}

# ha_holds_vips R: R holds both virtual addresses.
ha_holds_vips() {
  local ns
  ns=$(ha_ns "$1")
  ip -n "$ns" -4 addr show dev lan0 | grep -q " $HA_LAN_VIP/" &&
    ip -n "$ns" -4 addr show dev wan0 | grep -q " $HA_WAN_VIP/"
}

ha_wait_master() {
  local i
  for ((i = 0; i < 50; i++)); do
    ha_holds_vips "$1" && return 0
    sleep 0.1
  done
  lab_fail "router $1 did not become master in 5 s"
}

# ha_stop R: clean stop of R's keepalived (priority-0 advert, virtual addresses removed).
ha_stop() {
  local var="LAB_PID_keepalived_$1"
  [[ -n ${!var:-} ]] && lab_stop "${!var}" TERM 5
  printf -v "$var" '%s' ""
}

# ha_crash R: the router dies for the network: its LAN and WAN switch ports down first (traffic
# and adverts stop at the same instant), then keepalived SIGKILLed (parent and VRRP child: no
# priority-0 advert; the virtual addresses stay on R as stale addresses). Its conntrackd and the
# sync link stay up.
ha_crash() {
  local r=$1 d=$HA_DIR/$1 sw var="LAB_PID_keepalived_$1"
  sw=$(ha_ns sw)
  ip -n "$sw" link set "lan-$r" down
  ip -n "$sw" link set "wan-$r" down
  [[ -s $d/keepalived_vrrp.pid ]] && kill -KILL "$(cat "$d/keepalived_vrrp.pid")" 2>/dev/null
  [[ -n ${!var:-} ]] && lab_stop "${!var}" KILL 2
  printf -v "$var" '%s' ""
}

# ha_repair R: back after a crash, as a reboot would bring it: no stale virtual addresses, ports
# up, keepalived started (BACKUP; with nopreempt it stays so until the master goes).
ha_repair() {
  local r=$1 ns sw
  ns=$(ha_ns "$r") sw=$(ha_ns sw)
  ip -n "$ns" addr del "$HA_LAN_VIP/24" dev lan0 2>/dev/null
  ip -n "$ns" addr del "$HA_WAN_VIP/24" dev wan0 2>/dev/null
  ip -n "$sw" link set "lan-$r" up
  ip -n "$sw" link set "wan-$r" up
  ha_keepalived_start "$r"
}

# ha__vsftpd NAME NS ROOT: anonymous read-only vsftpd, rate-limited to HA_RATE bytes/s.
# isolate=NO, isolate_network=NO: its session processes stay in NS, where cleanup finds them.
ha__vsftpd() {
  local name=$1 ns=$2 root=$3 d=$HA_DIR/$1
  mkdir -p /var/run/vsftpd/empty
  cat >"$d/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=$root
local_enable=NO
write_enable=NO
anon_world_readable_only=YES
port_enable=YES
pasv_enable=YES
connect_from_port_20=YES
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
secure_chroot_dir=/var/run/vsftpd/empty
pam_service_name=vsftpd
log_ftp_protocol=YES
xferlog_enable=YES
xferlog_std_format=NO
vsftpd_log_file=$d/vsftpd.log
anon_max_rate=$HA_RATE
idle_session_timeout=120
data_connection_timeout=60
EOF
  lab_bg "vsftpd_$name" "$ns" "$d/vsftpd.out" bash -c 'exec 0>&1; exec /usr/sbin/vsftpd "$1"' vsftpd "$d/vsftpd.conf"
  lab__wait_listen "$ns" 21 || lab_fail "vsftpd in $ns is not listening: $(cat "$d/vsftpd.out")"
}

# ha_servers_start: the data (big.bin 50 MB, small.bin 1 MB, random) and both servers; sha256
# sums in $HA_DIR/data.sha256.
ha_servers_start() {
  local data=$HA_DIR/data
  mkdir -p "$data"
  head -c 52428800 /dev/urandom >"$data/big.bin" && head -c 1048576 /dev/urandom >"$data/small.bin" || return 1
  chmod 755 "$data" && chmod 644 "$data"/*.bin
  (cd "$data" && sha256sum big.bin small.bin) >"$HA_DIR/data.sha256"
  ha__vsftpd s "$(ha_ns s)" "$data" && ha__vsftpd d "$(ha_ns d)" "$data"
}

# ha_ftpalg_start R: ftpalg in the conntrack-owned mode on router R, log $HA_DIR/R/ftpalg.log.
ha_ftpalg_start() {
  local r=$1 d=$HA_DIR/$1 bin=${FTPALG_BIN:?FTPALG_BIN is not set} i
  # shellcheck disable=SC2086 # HA_FTPALG_ARGS: words on purpose
  lab_bg "ftpalg_$r" "$(ha_ns "$r")" "$d/ftpalg.stderr" \
    "$bin" run --seq-owner kernel --log "$d/ftpalg.log" --log-format json ${HA_FTPALG_ARGS:-}
  local var="LAB_PID_ftpalg_$r"
  for ((i = 0; i < 80; i++)); do
    kill -0 "${!var}" 2>/dev/null || { lab_fail "ftpalg on $r exited: $(tail -n 5 "$d/ftpalg.stderr")"; return 1; }
    if grep -q '^ftpalg: info: running.*sequence owner kernel' "$d/ftpalg.stderr"; then return 0; fi
    sleep 0.1
  done
  lab_fail "ftpalg on $r did not run in the conntrack-owned mode within 8 s: $(tail -n 5 "$d/ftpalg.stderr")"
}

# ha_up: the whole lab with router a as master.
ha_up() {
  ha_topo && ha_conntrackd_start a && ha_conntrackd_start b && ha_servers_start &&
    ha_ftpalg_start a && ha_ftpalg_start b && ha_keepalived_start a && ha_wait_master a &&
    ha_keepalived_start b
}
