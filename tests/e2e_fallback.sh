#!/bin/bash
# e2e_fallback.sh - live capture when eBPF cannot attach: relaywatch says
# why in one line and falls back to libpcap (default), or exits 1 with the
# reason (--capture ebpf). The interface is a tun device (not Ethernet: the
# TC program parses Ethernet) inside a namespace this test creates.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RW=$BUILD/relaywatch
NS=rwfb-$$
if [ "$(id -u)" != 0 ]; then
	echo "ok - e2e_fallback # SKIP needs root (network namespace, tun device)"
	exit 0
fi
if ! ip netns add "$NS" 2>/dev/null; then
	echo "ok - e2e_fallback # SKIP cannot create a network namespace"
	exit 0
fi
tmp=$(mktemp -d)
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$tmp"' EXIT
if ! ip netns exec "$NS" ip tuntap add dev rwt0 mode tun 2>/dev/null; then
	echo "ok - e2e_fallback # SKIP no tun support"
	exit 0
fi
ip netns exec "$NS" ip link set rwt0 up

# default: eBPF refused, one line, libpcap takes over and the run ends
# normally on SIGTERM with a stats record
ip netns exec "$NS" timeout -s TERM 2 "$RW" -i rwt0 --no-rules \
	--eve "$tmp/eve.json" 2>"$tmp/err"
rc=$?
lines=$(grep -c . "$tmp/err")
if [ "$lines" -eq 1 ] && grep -q "not Ethernet.*falling back to libpcap" "$tmp/err"; then
	echo "ok - e2e_fallback/one_line_reason"
else
	echo "not ok - e2e_fallback/one_line_reason"
	sed 's/^/#   /' "$tmp/err"
fi
# timeout's SIGTERM: relaywatch stops cleanly (exit 0), timeout says 124
if [ "$rc" -eq 124 ] && grep -q '"event_type":"stats"' "$tmp/eve.json" &&
	grep -q '"capture":{' "$tmp/eve.json"; then
	echo "ok - e2e_fallback/pcap_ran_and_stopped_cleanly"
else
	echo "not ok - e2e_fallback/pcap_ran_and_stopped_cleanly (rc=$rc)"
fi

# forced eBPF: exit 1 with the reason, no records
ip netns exec "$NS" timeout -s TERM 5 "$RW" -i rwt0 --capture ebpf --no-rules \
	--eve "$tmp/eve2.json" 2>"$tmp/err2"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "not Ethernet" "$tmp/err2" && [ ! -s "$tmp/eve2.json" ]; then
	echo "ok - e2e_fallback/forced_ebpf_fails_with_reason"
else
	echo "not ok - e2e_fallback/forced_ebpf_fails_with_reason (rc=$rc)"
	sed 's/^/#   /' "$tmp/err2"
fi
