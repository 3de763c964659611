#!/usr/bin/env bash
# Installs every Debian 12 package that ftpalg's build, tests, demo and benchmarks need.
# Idempotent: packages already present are skipped; safe to run again.
# Usage (as root): scripts/install-deps.sh
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: must run as root (apt-get install)" >&2
  exit 2
fi

build_packages=(
  build-essential cmake pkg-config ninja-build
  libnetfilter-queue-dev libmnl-dev libnetfilter-conntrack-dev libnftnl-dev libnftables-dev
  libpcap-dev libboost-program-options-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  clang libclang-rt-14-dev clang-format
)
lab_packages=(
  iproute2 iptables nftables conntrack tcpdump tshark procps psmisc ethtool
  vsftpd curl lftp wget python3 python3-scapy python3-pyftpdlib
  libhiredis0.14 libmemcached11 libmemcachedutil2 libpcre2-posix3 libwrap0 libsodium23
)

missing=()
for pkg in "${build_packages[@]}" "${lab_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps.sh: all packages present"
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
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends libwrap0 libssl3 libcap2 libpam0g libsodium23 >/dev/null 2>&1 || true
unpack_server proftpd-core usr/sbin/proftpd
unpack_server pure-ftpd usr/sbin/pure-ftpd
echo "install-deps.sh: done (lab servers in $lab_dir)"
