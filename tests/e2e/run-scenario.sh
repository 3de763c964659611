#!/usr/bin/env bash
# One end-to-end FTP scenario in fresh network namespaces, bounded (< 60 s), one result line.
#
# Usage: tests/e2e/run-scenario.sh TOPOLOGY SERVER CLIENT MODE [options]
#   TOPOLOGY  masq | dnat | route          (scripts/lab/lab.sh)
#   SERVER    vsftpd | proftpd | pure-ftpd | pyftpdlib
#   CLIENT    curl | lftp | wget | ftplib
#   MODE      port | eprt | pasv | epsv
# Options:
#   --family 4|6            address family of the control connection (default 4)
#   --ftpalg live|dry-run|none   run `ftpalg run` on the router (default: none); binary: $FTPALG_BIN
#   --ftpalg-arg ARG        one more argument for `ftpalg run` (repeatable)
#   --firewall strict|open  the router's filter (default strict, the admin's strict firewall)
#   --egress strict|open    strict: only new tcp/21 leaves the inside network (default strict)
#   --size BYTES            size of the test file (default 262144)
#   --ftplib-extra "ARGS"   extra arguments for scripts/lab/ftp_client.py (ftplib only)
#   --big BYTES             also serve /pub/big.bin of BYTES; ftplib RETRs it first (sha256 checked)
#   --connect-timeout S     the client's per-connection timeout (default 8; for expected failures)
#   --impair SPEC           both router links on an imperfect wire: "loss=PCT,duplicate=PCT,
#                           reorder=PCT,delay=MS,seed=S,target=0|1" (scripts/lab/lab.sh
#                           LAB_IMPAIR, scripts/lab/wire.py); the control connection is then
#                           captured on both router interfaces (WORKDIR/{lan0,wan0}.pcap: what
#                           ftpalg received and sent, kept with the work dir of a failure)
#   --announce-public       the server announces the router's public address in its 227 itself
#                           (vsftpd pasv_address, proftpd MasqueradeAddress; dnat topology)
#   --id ID                 lab ID (namespace prefix fa<ID>-; default: this PID)
#   --keep                  keep the work dir even when the outcome is the expected one
#   --expect pass|fail      the expected outcome (default pass): the work dir (logs, transcripts)
#                           is kept only for an unexpected one; the exit status does not change
# Output (last line of stdout):
#   RESULT pass|fail|skip reason=R topo=T server=S client=C mode=M family=F ftpalg=X
#          data_verbs=N (PORT/EPRT/PASV/EPSV the client sent) rewrites=N pinholes=N rejects=N anomalies=N pinhole_closes=N log_mode=M
#          held=N retransmissions=N (ftpalg's stats) ftpalg_exit=N residue=clean|stale|n/a
#          [with --impair, frames the wire dropped, duplicated, delayed: wire_drop=N wire_dup=N
#          wire_delay=N wire_control_drop=N wire_control_dup=N wire_control_delay=N
#          wire_announcement_drop=N wire_announcement_dup=N wire_reply150_delay=N]
#          dir=WORKDIR
#   plus "DECISION ..." lines (scripts/lab/logsum.py --decisions) before it.
# Exit status: 0 pass, 1 fail, 77 skip (ftpalg run unavailable, or the client cannot force MODE),
# 2 usage error.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../../scripts/lab/lab.sh
source "$root/scripts/lab/lab.sh"

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }
(($# >= 4)) || usage
topo=$1 server=$2 client=$3 mode=$4
shift 4
family=4 ftpalg=none firewall=strict egress=strict size=262144 id=$$ keep= big= expect=pass
ftpalg_args=() ftplib_extra=
while (($#)); do
  case $1 in
    --family) family=$2; shift 2 ;;
    --ftpalg) ftpalg=$2; shift 2 ;;
    --ftpalg-arg) ftpalg_args+=("$2"); shift 2 ;;
    --firewall) firewall=$2; shift 2 ;;
    --egress) egress=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --ftplib-extra) ftplib_extra=$2; shift 2 ;;
    --big) big=$2; shift 2 ;;
    --id) id=$2; shift 2 ;;
    --connect-timeout) export LAB_CONNECT_TIMEOUT=$2; shift 2 ;;
    --impair) export LAB_IMPAIR=$2; shift 2 ;;
    --announce-public) export LAB_ANNOUNCE_PUBLIC=1; shift ;;
    --keep) keep=1; shift ;;
    --expect) expect=$2; shift 2 ;;
    *) echo "run-scenario: unknown option $1" >&2; usage ;;
  esac
done
case $ftpalg in live | dry-run | none) ;; *) usage ;; esac
case $family in 4 | 6) ;; *) usage ;; esac

counts="rewrites=0 pinholes=0 rejects=0 anomalies=0 pinhole_closes=0 log_mode=none held=0 retransmissions=0"
ftpalg_exit=n/a residue=n/a result_printed= wire=
result() {  # result pass|fail|skip REASON
  [[ -n $result_printed ]] && return
  result_printed=1
  if [[ -n ${LAB_FTPALG_LOG:-} && -f ${LAB_FTPALG_LOG:-} ]]; then
    counts=$("$LAB_PY" "$root/scripts/lab/logsum.py" "$LAB_FTPALG_LOG")
    "$LAB_PY" "$root/scripts/lab/logsum.py" --decisions "$LAB_FTPALG_LOG" | sed 's/^/DECISION /'
  fi
  local verbs=0 dir=${LAB_DIR:-none}
  [[ -n ${LAB_RM_DIR:-} ]] && dir=removed
  [[ -f ${LAB_DIR:-/nonexistent}/client/transcript ]] &&
    verbs=$(grep -cE '^> (PORT|EPRT|PASV|EPSV)( |$)' "$LAB_DIR/client/transcript")
  echo "RESULT $1 reason=$2 topo=$topo server=$server client=$client mode=$mode family=$family" \
    "ftpalg=$ftpalg data_verbs=$verbs $counts ftpalg_exit=$ftpalg_exit residue=$residue ${wire}dir=$dir"
}

# wire_counts: the wire's counters summed over both links and directions ("wire_drop=N ... ").
wire_counts() {
  awk '/^wire link=/ { for (i = 3; i <= NF; i++) { split($i, kv, "="); sum[kv[1]] += kv[2] } }
    END { n = split("drop dup delay control_drop control_dup control_delay " \
                    "announcement_drop announcement_dup reply150_delay", keys, " ")
          for (i = 1; i <= n; i++) printf "wire_%s=%d ", keys[i], sum[keys[i]] }' \
    "$LAB_WIRE_LOG"
}

if [[ $ftpalg != none ]] && ! lab_ftpalg_available "${FTPALG_BIN:-}"; then
  result skip ftpalg_run_unavailable
  exit 77
fi
if [[ $(id -u) != 0 ]]; then result skip not_root; exit 77; fi

LAB_QUIET=${LAB_QUIET-1}
lab_init "$id" || { result fail lab_init_failed; exit 1; }
# The whole scenario is bounded: a watchdog sends us SIGTERM, whose trap reports and cleans up.
(
  trap 'kill "$s" 2>/dev/null; exit 0' TERM
  sleep "${SCENARIO_TIMEOUT:-55}" &
  s=$!
  wait "$s" && kill -TERM $$ 2>/dev/null
) &
LAB_PIDS+=($!)
trap 'result fail scenario_timeout; lab_cleanup; trap - EXIT; exit 1' TERM
trap 'result fail interrupted; lab_cleanup; trap - EXIT; exit 130' INT

fail() { result fail "$1"; exit 1; }

lab_topo "$topo" || fail topology_failed
lab_firewall "$firewall" "egress=$egress" || fail firewall_failed
lab_make_data "$size"
if [[ -n $big ]]; then
  lab_make_file "$LAB_SRV/pub/big.bin" "$big"
  ftplib_extra="--big /pub/big.bin --big-sha $(sha256sum "$LAB_SRV/pub/big.bin" | cut -d' ' -f1) $ftplib_extra"
fi
lab_server_start "$server" || fail server_start_failed

if [[ $ftpalg != none ]]; then
  args=("${ftpalg_args[@]}")
  [[ $ftpalg == dry-run ]] && args+=(--dry-run)
  lab_ftpalg_start "${args[@]}" || { cp "$LAB_DIR/ftpalg.stderr" /dev/stderr 2>/dev/null; fail ftpalg_start_failed; }
fi

if [[ -n ${LAB_IMPAIR:-} ]]; then
  lab_capture_start "$LAB_NS_R" lan0 "$LAB_DIR/lan0.pcap" tcp port 21 || fail capture_failed
  capture_lan0=$LAB_PID_tcpdump
  lab_capture_start "$LAB_NS_R" wan0 "$LAB_DIR/wan0.pcap" tcp port 21 || fail capture_failed
fi

LAB_FTPLIB_EXTRA=$ftplib_extra
lab_client "$client" "$mode" "$family" "$LAB_DIR/client"
crc=$?
reason=$LAB_CLIENT_REASON
if [[ -n ${LAB_IMPAIR:-} ]]; then
  lab_capture_stop
  lab_stop "$capture_lan0" INT 5
  lab_wire_stop
  wire=$(wire_counts)
fi

if [[ $ftpalg != none ]]; then
  lab_in "$LAB_NS_R" nft list table inet ftpalg >"$LAB_DIR/nft-after-client.txt" 2>&1 || true
  alive=1
  kill -0 "$LAB_PID_ftpalg" 2>/dev/null || alive=
  lab_ftpalg_stop TERM
  ftpalg_exit=$LAB_FTPALG_RC
  [[ -z $alive ]] && reason="${reason}+ftpalg_died"
  lab_ftpalg_residue >"$LAB_DIR/residue.txt"
  if [[ -s $LAB_DIR/residue.txt ]]; then residue=stale; else residue=clean; fi
fi

if ((crc == 2)); then result skip "$reason"; exit 77; fi
if ((crc == 0)) && [[ $ftpalg == none || ( $ftpalg_exit == 0 && $residue == clean ) ]]; then
  [[ -z $keep ]] && LAB_RM_DIR=1
  result pass ok
  exit 0
fi
if ((crc == 0)); then
  [[ $ftpalg_exit != 0 ]] && reason=ftpalg_exit_$ftpalg_exit
  [[ $residue != clean ]] && reason=ftpalg_left_residue
fi
# Keep the evidence of an unexpected failure, but not the big files.
rm -f "$LAB_SRV/pub/big.bin"
[[ $expect == fail && -z $keep ]] && LAB_RM_DIR=1
result fail "$reason"
exit 1
