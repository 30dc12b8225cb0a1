#!/bin/bash
# adversarial_test.sh - an attacker on the wire against the engine.
#
# Every tests/adversarial/NAME.py (not _*.py) writes a capture with
# tests/tools/pcapgen.py: a real abuse session (open relay, open proxy)
# plus a trick (forged RSTs, bad checksums, overlaps, floods...), and
# prints what relaywatch must still report (see tests/adversarial/_common.py).
# tests/adversarial/_check.py runs relaywatch with the fixtures' sets
# (Makefile RUN_SETS) and checks; one TAP line per case (and per run).
#
#   tests/adversarial_test.sh [NAME...]     default: every case
# ADV_KEEP=1 keeps the captures and outputs (the directory is printed).
set -u
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ in the source tree
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RW=$BUILD/relaywatch
if [ ! -x "$RW" ]; then
	echo "not ok - adversarial: $RW not built"
	exit 1
fi
if ! command -v python3 > /dev/null; then
	echo "ok - adversarial # SKIP python3 not installed"
	exit 0
fi
tmp=$(mktemp -d /tmp/rw-adv.XXXXXX) || exit 1
if [ "${ADV_KEEP:-0}" = 1 ]; then
	echo "# captures and outputs kept in $tmp"
else
	trap 'rm -rf "$tmp"' EXIT
fi

# the fixtures' network (Makefile RUN_SETS)
SETS=(--set HOME_NET=10.0.0.0/24,203.0.113.25/32,203.0.113.26/32
      --set TRUSTED_NETS=10.0.0.0/24 --set LOCAL_DOMAINS=lan.example
      --set SMTP_SERVERS=10.0.0.25/32,198.51.100.1/32
      --set PROXY_SERVERS=203.0.113.25/32)

if [ $# -gt 0 ]; then
	cases=()
	for n in "$@"; do cases+=("tests/adversarial/${n%.py}.py"); done
else
	cases=(tests/adversarial/[a-z]*.py)
fi
rc=0
for src in "${cases[@]}"; do
	name=$(basename "$src" .py)
	if ! python3 "$src" "$tmp/$name.pcap" > "$tmp/$name.expect.json" \
		2> "$tmp/$name.gen.err"; then
		echo "not ok - adversarial/$name: the generator failed"
		sed 's/^/#   /' "$tmp/$name.gen.err" | tail -n 10
		rc=1
		continue
	fi
	python3 tests/adversarial/_check.py --rw "$RW" --name "$name" \
		--expect "$tmp/$name.expect.json" --pcap "$tmp/$name.pcap" \
		--out "$tmp" -- "${SETS[@]}" || rc=1
	[ "${ADV_KEEP:-0}" = 1 ] || rm -f "$tmp/$name".*
done
if [ $# -eq 0 ]; then
	# the flow hash's seed is random per run (not in the capture): colliding
	# keys cannot be precomputed, so there is nothing to replay
	echo "ok - adversarial/hash_collision # SKIP flow-hash collisions need the run's secret seed"
fi
exit $rc
