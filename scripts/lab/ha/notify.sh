#!/bin/bash
# scripts/lab/ha/notify.sh CONNTRACKD_CONF LOG primary|backup|fault: keepalived's vrrp_sync_group
# notify script for one router of the HA lab (docs/ha.md). The sequence is conntrack-tools'
# primary-backup.sh (conntrackd(8), "failover scripts"):
#   primary: -c commit the external cache (the peer's connections and expectations) into the
#            kernel table, -f flush the internal and external caches, -R resync the internal
#            cache from the kernel table, -B bulk-send it to the new backup;
#   backup:  -t shorten the kernel timers to PurgeTimeout (connections this router no longer
#            forwards expire), -n ask the peer for a full resync into the external cache;
#   fault:   -t.
# ftpalg needs no step here: it learns the committed connections from their next payload
# packet and re-creates the committed expectations with NAT from their EXP_NEW events.
# Every step is timed into LOG (milliseconds since the epoch), which the tests read.
conf=$1 log=$2 state=$3
step() {
  local t0 t1 out rc
  t0=$(date +%s%3N)
  out=$(/usr/sbin/conntrackd -C "$conf" "$@" 2>&1)
  rc=$?
  t1=$(date +%s%3N)
  echo "$t0 $state conntrackd $* rc=$rc $((t1 - t0))ms ${out%%$'\n'*}" >>"$log"
  return $rc
}
echo "$(date +%s%3N) $state begin" >>"$log"
case $state in
  primary)
    step -c
    step -f
    step -R
    step -B
    ;;
  backup)
    step -t
    step -n
    ;;
  fault)
    step -t
    ;;
  *)
    echo "usage: $0 CONNTRACKD_CONF LOG primary|backup|fault" >&2
    exit 2
    ;;
esac
echo "$(date +%s%3N) $state end" >>"$log"
exit 0
