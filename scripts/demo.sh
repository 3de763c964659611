#!/usr/bin/env bash
# ftpalg demo (README command 1): a real active-mode FTP session through a Linux NAT router.
#
# On a fresh Debian 12 machine, as root:  scripts/demo.sh
#   1. installs the dependencies (scripts/install-deps.sh) and builds ftpalg (cmake, into build/);
#   2. builds three network namespaces: an FTP client behind masquerade, a router with an admin's
#      strict firewall (forward policy drop; only new tcp/21 and ftpalg's pinhole mark accepted),
#      and a vsftpd server on the "Internet" side;
#   3. runs `ftpalg run` on the router and performs real active-mode sessions with curl (PORT,
#      then EPRT): shows the rewritten line and the pinhole from ftpalg's log, and a pinhole as
#      `nft list` shows it;
#   4. stops ftpalg and runs the same session again: it fails.
# Everything happens inside namespaces named "fademo-*"; they are removed at the end, also on
# Ctrl-C or error. Nothing outside them is changed (apart from installed packages and build/).
#
# Environment: DEMO_SKIP_INSTALL=1 (skip install-deps.sh), FTPALG_BUILD_DIR (default build/),
#              FTPALG_BIN (use this binary, skip the build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [[ -t 1 ]]; then B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' D=$'\e[2m' N=$'\e[0m'; else B= G= R= D= N=; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
say() { printf '   %s\n' "$*"; }
show() { sed "s/^/   ${D}|${N} /"; }
ok() { printf '   %s%s%s\n' "$G" "$*" "$N"; }
bad() { printf '   %s%s%s\n' "$R" "$*" "$N"; }

if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: run as root (it creates network namespaces and firewall rules inside them)" >&2
  exit 2
fi

step "1. Dependencies and build"
if [[ -z ${DEMO_SKIP_INSTALL:-} ]]; then
  bash scripts/install-deps.sh 2>&1 | tail -n 2 | show
else
  say "skipped (DEMO_SKIP_INSTALL set)"
fi
if [[ -n ${FTPALG_BIN:-} ]]; then
  say "using FTPALG_BIN=$FTPALG_BIN"
else
  build=${FTPALG_BUILD_DIR:-$root/build}
  say "cmake -S . -B $build && cmake --build $build --target ftpalg"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFTPALG_BENCH=OFF >/dev/null
  cmake --build "$build" -j"$(nproc)" --target ftpalg 2>&1 | tail -n 1 | show
  FTPALG_BIN=$build/src/ftpalg
fi
[[ -x $FTPALG_BIN ]] || { bad "no ftpalg binary at $FTPALG_BIN"; exit 1; }
export FTPALG_BIN

# shellcheck source=lab/lab.sh
source "$root/scripts/lab/lab.sh"
LAB_QUIET=1
lab_init demo
# On Ctrl-C, say so before the library's trap removes the namespaces.
trap 'echo; bad "interrupted: cleaning up"; lab_cleanup; trap - EXIT; exit 130' INT
trap 'lab_cleanup; echo "   namespaces ${LAB_PREFIX}c/r/s removed"' EXIT

step "2. The lab: client -- router (masquerade, strict firewall) -- vsftpd"
lab_topo masq
lab_firewall strict
lab_make_data 262144
lab_server_start vsftpd
cat <<EOF | show
client  ${LAB_NS_C}  192.168.77.10        (behind masquerade)
router  ${LAB_NS_R}  lan0 192.168.77.1 | wan0 203.0.113.1 (masquerade 192.168.77.0/24 out wan0)
server  ${LAB_NS_S}  203.0.113.10         (vsftpd, anonymous, /pub/test.bin: $LAB_TEST_SIZE bytes)
EOF
say "The router's forward chain (an admin's strict firewall; the kernel ftp helper is not used):"
lab_in "$LAB_NS_R" nft list chain inet filter forward | sed -n '/policy/,/^\t}/p' | sed 's/^\t*//' | grep -v '^}' | show
say "The accept rule for ftpalg's pinholes is the one \`ftpalg rules\` prints:"
"$FTPALG_BIN" rules --firewall nft 2>/dev/null | grep -m1 '^ct mark' | show

step "3. ftpalg run on the router"
LAB_FTPALG_FORMAT=text
lab_ftpalg_start
say "$(head -n1 "$LAB_DIR/ftpalg.stderr")"
say "Queue rules it installed (removed again when it stops):"
lab_in "$LAB_NS_R" iptables-save 2>/dev/null | grep -E '^-A .*(ftpalg|NFQUEUE)' | show

session() {  # session MODE LABEL -> runs curl, prints the data-command lines and the verdict
  local mode=$1 label=$2 out=$LAB_DIR/session-$2
  local rc=0
  lab_client curl "$mode" 4 "$out" || rc=$?
  grep -E '^> (PORT|EPRT)|^< (200|500|501|425|150|226)' "$out/transcript" | head -n 6 | show
  if ((rc == 0)); then
    ok "LIST and RETR /pub/test.bin succeeded; sha256 verified ($LAB_TEST_SHA256)"
  else
    bad "session failed: $LAB_CLIENT_REASON"
  fi
  return $rc
}

step "4. Active mode through ftpalg: curl -P - --disable-eprt (PORT)"
say "curl's own view: it sends its private address (ftpalg rewrites it on the way, see step 6):"
session port with-ftpalg-port || true
step "5. Active mode through ftpalg: curl -P - (EPRT)"
session eprt with-ftpalg-eprt || true

step "6. What ftpalg did (its decision log, text format)"
say "The rewritten lines (client -> server):"
grep ' rewrite ' "$LAB_FTPALG_LOG" | sed -E 's/^[0-9.]+ live rewrite ([^ ]+) /flow \1: /' | head -n 4 | show
say "The pinholes (one per announcement: the server may connect once to the public port,"
say "forwarded to the client; single use, closed with the session or after timeout_s):"
grep ' pinhole ' "$LAB_FTPALG_LOG" | sed -E 's/^[0-9.]+ live pinhole ([^ ]+) /flow \1: /' | head -n 4 | show
say "A pinhole as nft shows it, while a client has announced PORT and waits:"
lab_bg announce "$LAB_NS_C" "$LAB_DIR/announce.log" "$LAB_PY" "$root/scripts/lab/announce.py" \
  --host "$LAB_SERVER4" --verb PORT --hold 3
for _ in $(seq 50); do grep -q '^announced' "$LAB_DIR/announce.log" 2>/dev/null && break; sleep 0.1; done
lab_in "$LAB_NS_R" nft list table inet ftpalg | grep -E 'map pinholes4|set armed4|elements' | sed 's/^\t*//' | head -n 4 | show
lab_stop "$LAB_PID_announce" TERM 2

step "7. The same session with ftpalg stopped"
lab_ftpalg_stop TERM
say "ftpalg stopped (exit status $LAB_FTPALG_RC); left behind: $(lab_ftpalg_residue | wc -l) rules/tables"
if session port without-ftpalg; then
  bad "unexpected: active mode worked without ftpalg"
  exit 1
fi
say "vsftpd refuses a PORT naming an address other than the client's (its anti-bounce check),"
say "and without a pinhole the strict firewall would drop its data connection anyway."

step "Done"
say "With ftpalg: active-mode FTP behind masquerade works through a default-drop firewall,"
say "with no static port range opened and no kernel ftp helper. Without it: it fails."
