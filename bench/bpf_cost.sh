#!/bin/bash
# bpf_cost.sh - what the relaywatch TC program costs per packet.
#
# Two namespaces (rwbpf-bench-cli, rwbpf-bench-srv) on a veth pair; the
# capture driver (build/tests/test_bpf --bench) attaches to the server's
# veth and bypasses every flow that is not on a configured port, the way
# the engine does once detection says "not ours". With
# kernel.bpf_stats_enabled=1 the kernel sums run_time_ns/run_cnt per
# program (same numbers as `bpftool prog show`), read by the driver.
#
#   bulk      BULK_MB of zeros to port 5001 (bypassed after K packets)
#   inspected SMTP_MB of zeros to port 25 (every byte goes to user space)
#
# Prints avg ns/packet per phase and the share of TCP payload bytes that
# reached user space. veth TSO hands TC 8-64 KB GSO packets, so "packet"
# here is what TC saw, not wire MTU frames. Target: bulk <= 60 ns/packet.
set -u

BUILD=${BUILD:-build}
BIN=${TEST_BPF:-$BUILD/tests/test_bpf}
BULK_MB=${BULK_MB:-200}
SMTP_MB=${SMTP_MB:-50}
MAX_S=${MAX_S:-20}          # cap on each transfer
NS_C=rwbpf-bench-cli
NS_S=rwbpf-bench-srv
IF_C=rwbpf-bench-c
IF_S=rwbpf-bench-s
IP_S=10.252.0.2
WORK=$(mktemp -d /tmp/rwbpf-bench.XXXXXX)
OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
DRV_PID=

cleanup() {
	[ -n "$DRV_PID" ] && kill -9 "$DRV_PID" 2>/dev/null
	sysctl -qw kernel.bpf_stats_enabled="$OLD_STATS" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

die() { echo "bpf_cost: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
for c in ip socat timeout head sysctl; do command -v $c >/dev/null || die "$c missing"; done
[ -x "$BIN" ] || die "$BIN not built (make $BIN)"

ip netns del "$NS_C" 2>/dev/null
ip netns del "$NS_S" 2>/dev/null
ip netns add "$NS_C" && ip netns add "$NS_S" || die "cannot create netns"
ip link add "$IF_C" netns "$NS_C" type veth peer name "$IF_S" netns "$NS_S" || die "veth"
ip -n "$NS_C" addr add 10.252.0.1/24 dev "$IF_C"
ip -n "$NS_S" addr add "$IP_S/24" dev "$IF_S"
ip -n "$NS_C" link set "$IF_C" up
ip -n "$NS_S" link set "$IF_S" up
sysctl -qw kernel.bpf_stats_enabled=1 || die "cannot enable kernel.bpf_stats_enabled"

# phase NAME PORT MB [MODE]: one transfer with the driver attached
phase() {
	local name=$1 port=$2 mb=$3 mode=${4:---bench} out=$WORK/$1 i
	ip netns exec "$NS_S" "$BIN" "$mode" "$IF_S" $((MAX_S + 15)) >"$out" 2>"$out.err" &
	DRV_PID=$!
	for i in $(seq 1 100); do
		grep -q '^ready' "$out" 2>/dev/null && break
		sleep 0.1
	done
	grep -q '^ready' "$out" || { cat "$out.err" >&2; die "driver did not start"; }
	ip netns exec "$NS_S" timeout $((MAX_S + 5)) socat -u TCP-LISTEN:$port,reuseaddr OPEN:/dev/null &
	local srv=$!
	sleep 0.3
	local t0=$(date +%s.%N)
	head -c "${mb}M" /dev/zero | ip netns exec "$NS_C" timeout "$MAX_S" socat -u STDIN "TCP:$IP_S:$port"
	local t1=$(date +%s.%N)
	wait $srv 2>/dev/null
	sleep 0.5
	kill -TERM "$DRV_PID"; wait "$DRV_PID" 2>/dev/null; DRV_PID=
	local avg cnt sent seen rbfull
	avg=$(sed -n 's/^cost .*run_cnt=\([0-9]*\) avg_ns=\([0-9.]*\)/\2/p' "$out")
	cnt=$(sed -n 's/^cost .*run_cnt=\([0-9]*\) .*/\1/p' "$out")
	sent=$(awk '$2=="ebpf.user.payload_bytes_delivered"{print $3}' "$out")
	seen=$(awk '$2=="ebpf.tcp_payload_bytes"{print $3}' "$out")
	rbfull=$(awk '$2=="ebpf.drop.ringbuf_full_bytes"{print $3}' "$out")
	printf '%-10s %10s %12s %14s %14s %10s %8.2f\n' "$name" "$avg" "$cnt" \
		"$seen" "$sent" "$rbfull" "$(echo "$t1 - $t0" | bc -l 2>/dev/null || echo 0)"
	printf '%s_fraction_to_user %s\n' "$name" \
		"$(awk -v a="${sent:-0}" -v b="${seen:-0}" 'BEGIN{printf "%.6f", b ? a/b : 0}')" >>"$WORK/fractions"
}

echo "relaywatch TC program cost (kernel.bpf_stats_enabled, veth, $(nproc) CPUs)"
printf '%-10s %10s %12s %14s %14s %10s %8s\n' phase ns/pkt tc_pkts payload_seen to_user ring_lost secs
phase floor 5001 "$BULK_MB" --floor
phase bulk 5001 "$BULK_MB"
phase inspected 25 "$SMTP_MB"
cat "$WORK/fractions"
echo "floor = an empty TC program on the same hooks: what bpf_stats and the"
echo "clsact dispatch add; the program's own cost is ns/pkt minus floor."
# test_run's own timer; bpf_stats off, or it adds its clock reads (~40 ns)
sysctl -qw kernel.bpf_stats_enabled=0
"$BIN" --microbench
