#!/bin/sh
# deps.sh - make sure the Debian packages relaywatch needs are installed.
#   scripts/deps.sh build   what `make` needs
#   scripts/deps.sh test    + what the tests need (real servers, capture tools)
#   scripts/deps.sh bench   + what `make bench` compares against
# As root: installs the missing ones (apt-get update first). As a user:
# prints the exact apt-get line and fails.
set -eu
want=${1:-build}
BUILD_PKGS="gcc make pkg-config clang llvm libpcap-dev libbpf-dev bpftool libpcre2-dev libssl-dev libnetfilter-queue-dev libmnl-dev"
TEST_PKGS="libclang-rt-14-dev iproute2 ethtool tcpdump postfix swaks tinyproxy microsocks dante-server nmap socat curl python3 python3-aiosmtpd python3-jsonschema dnsmasq-base iptables libnetfilter-queue-dev libmnl-dev"
BENCH_PKGS="libndpi-bin valgrind time"
case "$want" in
build) pkgs=$BUILD_PKGS ;;
test) pkgs="$BUILD_PKGS $TEST_PKGS" ;;
bench) pkgs="$BUILD_PKGS $BENCH_PKGS" ;;
*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac
missing=
for p in $pkgs; do
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$s" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "relaywatch: missing Debian packages; run as root:" >&2
	echo "  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "relaywatch: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >&2
