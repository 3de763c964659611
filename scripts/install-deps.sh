#!/usr/bin/env bash
# Installs the Debian 12 packages ftpalg needs, in two sets:
#
#   install-deps.sh build   what building ftpalg and its .deb needs: compilers, CMake, the -dev
#                           libraries, dpkg-dev and file (cpack's dpkg-shlibdeps). Safe on a router:
#                           no server, no sniffer, no test tool is installed or started.
#   install-deps.sh test    the build set plus the test lab: GoogleTest, Google Benchmark, clang
#                           (fuzzing, clang-format), man-db (man page checks), the lab's tools,
#                           servers (vsftpd, proftpd and pure-ftpd unpacked privately) and clients.
#   install-deps.sh         both (what scripts/test.sh and CI run).
#   install-deps.sh --list build|test|all   prints the set's Debian packages, installs nothing.
#
# Idempotent: packages already present are skipped; safe to run again. As root (apt-get).
set -euo pipefail

usage() { echo "usage: install-deps.sh [--list] [build|test]" >&2; exit 2; }
list=
if [[ ${1:-} == --list ]]; then list=1; shift; fi
want=${1:-all}
[[ $# -le 1 ]] || usage
case $want in build | test | all) ;; *) usage ;; esac

if [[ -z $list && $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: must run as root (apt-get install)" >&2
  exit 2
fi

# Building the daemon (cmake -DBUILD_TESTING=OFF) and its package (cpack -G DEB).
build_packages=(
  build-essential cmake pkg-config ninja-build dpkg-dev file
  libnetfilter-queue-dev libmnl-dev libnetfilter-conntrack-dev libnftnl-dev libnftables-dev
  libpcap-dev libboost-program-options-dev
)
# Building and running the tests.
test_build_packages=(
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  clang libclang-rt-14-dev clang-format man-db
)
# The lab: namespaces, firewall tools, captures, FTP servers and clients.
lab_packages=(
  iproute2 iptables nftables conntrack tcpdump tshark procps psmisc ethtool
  vsftpd curl lftp wget python3 python3-scapy python3-pyftpdlib
  libhiredis0.14 libmemcached11 libmemcachedutil2 libpcre2-posix3 libwrap0 libsodium23
  # the failover lab (scripts/lab/ha, docs/ha.md): state replication and VRRP
  conntrackd keepalived
)

wanted=("${build_packages[@]}")
if [[ $want != build ]]; then wanted+=("${test_build_packages[@]}" "${lab_packages[@]}"); fi
if [[ -n $list ]]; then
  printf '%s\n' "${wanted[@]}"
  [[ $want == build ]] || printf '%s\n' proftpd-core pure-ftpd
  exit 0
fi

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

export DEBIAN_FRONTEND=noninteractive
if ((${#missing[@]})); then
  echo "install-deps.sh: installing ${missing[*]}"
  if [[ $want != build ]]; then
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  fi
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps.sh: all packages present ($want)"
fi

if [[ $want == build ]]; then
  echo "install-deps.sh: done (build)"
  exit 0
fi

# proftpd and pure-ftpd conflict with vsftpd as Debian packages (all provide ftp-server), so the
# end-to-end tests unpack them into a private folder instead (docs/design.md#ftp-server-packages). Their shared-library
# dependencies install normally.
lab_dir=${FTPALG_LAB_SERVERS:-/opt/ftpalg-lab-servers}
unpack_server() {
  local pkg=$1 probe=$2
  if [[ -x "$lab_dir/$pkg/$probe" ]]; then return 0; fi
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -q "$pkg" >/dev/null)
  mkdir -p "$lab_dir/$pkg"
  dpkg-deb -x "$tmp"/"$pkg"_*.deb "$lab_dir/$pkg"
  rm -rf "$tmp"
}
apt-get install -y -q --no-install-recommends libwrap0 libssl3 libcap2 libpam0g libsodium23 >/dev/null 2>&1 || true
unpack_server proftpd-core usr/sbin/proftpd
unpack_server pure-ftpd usr/sbin/pure-ftpd
echo "install-deps.sh: done (lab servers in $lab_dir)"
