#!/bin/bash
# bench/flood.sh - relaywatch under floods: peak memory and CPU time, and
# whether the open relay behind the flood is still reported.
#
#   BUILD=build bench/flood.sh        (bench/run.sh calls it)
#
# Captures (generated with tests/tools/pcapgen.py by the adversarial cases,
# into $BUILD/bench/flood/, regenerated when a generator changes):
#   synflood   FLOOD_SYNS (1 000 000) spoofed SYNs to 10.0.0.25:25 from
#              random sources, then an open-relay session
#              (tests/adversarial/syn_flood_then_relay.py --scale)
#   ooo-rev    one flow: 65 536 one-byte out-of-order segments, last first,
#              then the relay session
#   ooo-asc    the same in ascending order behind a missing first byte
#              (worst case for a sorted segment list walked from its head)
# Each is read once by relaywatch with the default caps and the fixtures'
# sets; peak RSS and CPU seconds (user + system) come from GNU time.
# Figures and targets only: nothing here fails on a slow machine.
set -u
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ in the source tree
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
FLOOD_SYNS=${FLOOD_SYNS:-1000000}
OOO_SEGS=${OOO_SEGS:-65536}
RW=$BUILD/relaywatch
OUT=$BUILD/bench/flood
GNU_TIME=/usr/bin/time
ADV=tests/adversarial

note() { echo "bench: $*" >&2; }

[ -x "$RW" ] || { echo "- floods: n/a ($RW not built)"; exit 0; }
command -v python3 > /dev/null || { echo "- floods: n/a (python3 missing)"; exit 0; }
mkdir -p "$OUT" || exit 1

SETS=(--set HOME_NET=10.0.0.0/24,203.0.113.25/32,203.0.113.26/32
      --set TRUSTED_NETS=10.0.0.0/24 --set LOCAL_DOMAINS=lan.example
      --set SMTP_SERVERS=10.0.0.25/32,198.51.100.1/32
      --set PROXY_SERVERS=203.0.113.25/32)

# gen NAME PARAMS CMD...: run CMD (which writes $OUT/NAME.pcap) unless the
# capture exists and was made by the same generators with the same PARAMS
gen() {
	local name=$1 params=$2 id
	shift 2
	id=$(cat tests/tools/pcapgen.py "$ADV"/_common.py "$ADV"/syn_flood_then_relay.py \
		"$ADV"/ooo_tiny_segments.py | sha256sum | cut -c1-16)-$params
	if [ -s "$OUT/$name.pcap" ] && [ "$(cat "$OUT/$name.id" 2>/dev/null)" = "$id" ]; then
		return 0
	fi
	note "generating $OUT/$name.pcap"
	rm -f "$OUT/$name.pcap" "$OUT/$name.id"
	"$@" > /dev/null || { note "generating $name failed"; return 1; }
	echo "$id" > "$OUT/$name.id"
}

ooo_gen() {   # ooo_gen reverse|ascending OUT: one tiny-segment flow + relay
	python3 - "$1" "$2" "$OOO_SEGS" <<-'EOF'
	import os, sys
	sys.path.insert(0, "tests/adversarial")
	from _common import SERVER, Conn, PcapWriter, open_relay
	from ooo_tiny_segments import tiny
	with PcapWriter(sys.argv[2]) as w:
	    tiny(w, Conn(w, "198.51.100.66", 44001, SERVER, 25),
	         int(sys.argv[3]), reverse=sys.argv[1] == "reverse")
	    open_relay(w)
	EOF
}

scale=$(awk -v n="$FLOOD_SYNS" 'BEGIN { printf "%.6f", n / 20000 }')
gen synflood "$FLOOD_SYNS" python3 "$ADV"/syn_flood_then_relay.py \
	"$OUT/synflood.pcap" --scale "$scale"
gen ooo-rev "$OOO_SEGS" ooo_gen reverse "$OUT/ooo-rev.pcap"
gen ooo-asc "$OOO_SEGS" ooo_gen ascending "$OUT/ooo-asc.pcap"

# measure NAME: sets M_CPU (s), M_RSS (MiB), M_RELAY, M_NOTE ("" if ok)
measure() {
	local name=$1 rc
	M_CPU=n/a M_RSS=n/a M_RELAY=n/a M_NOTE=
	if [ ! -s "$OUT/$name.pcap" ]; then
		M_NOTE="no capture"
		return
	fi
	cat "$OUT/$name.pcap" > /dev/null      # page cache
	if [ -x "$GNU_TIME" ]; then
		"$GNU_TIME" -f '%M %U %S' -o "$OUT/$name.time" \
			timeout -k 5 600 "$RW" -r "$OUT/$name.pcap" \
			--eve "$OUT/$name.json" "${SETS[@]}" 2> "$OUT/$name.err"
	else
		timeout -k 5 600 "$RW" -r "$OUT/$name.pcap" \
			--eve "$OUT/$name.json" "${SETS[@]}" 2> "$OUT/$name.err"
	fi
	rc=$?
	if [ $rc != 0 ]; then
		M_NOTE="exit $rc: $(grep -v '^Command' "$OUT/$name.err" | tail -n 1)"
	fi
	if [ -s "$OUT/$name.time" ] && [ -x "$GNU_TIME" ]; then
		read -r kb u s < <(tail -n 1 "$OUT/$name.time")
		M_RSS=$((kb / 1024))
		M_CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
	fi
	if grep -q '"rule":"relay.open"' "$OUT/$name.json" 2>/dev/null; then
		M_RELAY=reported
	else
		M_RELAY="NOT reported"
	fi
}

# stat NAME PATH...: counters of the run's stats record, "path=value"
stats() {
	local name=$1
	shift
	python3 - "$OUT/$name.json" "$@" <<-'EOF' 2>/dev/null
	import json, sys
	st = {}
	for l in open(sys.argv[1]):
	    if '"event_type":"stats"' in l:
	        st = json.loads(l)["stats"]
	out = []
	for p in sys.argv[2:]:
	    v = st
	    for k in p.split("."):
	        v = v.get(k) if isinstance(v, dict) else None
	    if isinstance(v, dict):
	        v = sum(x for x in v.values() if isinstance(x, int))
	    if v is not None:
	        out.append("%s %s" % (p, v))
	print(", ".join(out))
	EOF
}

verdict() { if [ "$1" = 1 ]; then echo met; else echo "NOT met"; fi; }

echo "| capture | CPU s | peak RSS | relay.open | target |"
echo "|---|---:|---:|---|---|"
measure synflood
syn_ok=0
[ "$M_RSS" != n/a ] && [ "$M_RSS" -le 256 ] && [ "$M_RELAY" = reported ] && syn_ok=1
echo "| $FLOOD_SYNS spoofed SYNs to :25, then an open relay | $M_CPU | $M_RSS MiB | $M_RELAY | RSS <= 256 MiB and relay reported: $(verdict $syn_ok)${M_NOTE:+ ($M_NOTE)} |"
syn_stats=$(stats synflood flow.created flow.evicted.table_full detect.drop.parser_state_cap memory.flows_peak)
for kind in rev asc; do
	measure ooo-$kind
	ok=0
	[ "$M_CPU" != n/a ] && awk -v c="$M_CPU" 'BEGIN { exit !(c < 1) }' && ok=1
	label="reverse order"
	[ $kind = asc ] && label="ascending, first byte held back"
	echo "| $OOO_SEGS one-byte out-of-order segments in one flow ($label), then the relay | $M_CPU | $M_RSS MiB | $M_RELAY | CPU < 1 s: $(verdict $ok)${M_NOTE:+ ($M_NOTE)} |"
	eval "ooo_${kind}_stats=\$(stats ooo-$kind reassembly.drop reassembly.gap reassembly.out_of_order_buffered memory.reassembly_bytes_peak)"
done
echo
echo "- SYN flood counters: ${syn_stats:-n/a}"
echo "- out-of-order (reverse) counters: ${ooo_rev_stats:-n/a}"
echo "- out-of-order (ascending) counters: ${ooo_asc_stats:-n/a}"
echo "- CPU s = user + system of the whole run (GNU time), default caps; captures in $OUT"
exit 0
