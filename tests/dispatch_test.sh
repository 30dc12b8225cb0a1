#!/bin/bash
# dispatch_test.sh - several workers write exactly what one writes.
#
# A generated mixed capture (mkbench: SMTP with pipelining, relay probes,
# HTTP proxy and SOCKS tunnels, bulk) and the abuse fixtures (correlations
# across flows, thresholds by client) through the shipped rules: the output
# of --workers 2, 3 and 4 must equal --workers 1 byte for byte (records in
# packet order; thresholds, rate limits and correlations from the shared
# rule state), first with the normal binary, then with a build whose worker
# rings are 64 KB ($BUILD/stress/relaywatch), where the rings are full most
# of the time: a deadlock between the workers' rule turns and the merger
# shows as a timeout. TAP lines "ok - dispatch/..." / "not ok - ...".
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RW=$BUILD/relaywatch
STRESS=$BUILD/stress/relaywatch
MKBENCH=$BUILD/tools/mkbench
TIMEOUT=${DISPATCH_TIMEOUT:-120}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for b in "$RW" "$STRESS" "$MKBENCH"; do
	if [ ! -x "$b" ]; then
		echo "not ok - dispatch/setup $b missing: run make test"
		exit 1
	fi
done
# the fixtures' address plan, so that relay and proxy rules fire
SETS=(--rules rules --set HOME_NET=10.0.0.0/8,192.168.0.0/16,203.0.113.0/24
      --set TRUSTED_NETS=192.168.0.0/16 --set LOCAL_DOMAINS=example.net)
"$MKBENCH" -o "$tmp/mix.pcap" -s 64 -c 400 -q ||
	{ echo "not ok - dispatch/mkbench failed"; exit 1; }
# then the abuse fixtures, read in the same run: their alerts join two
# flows (relay.confirmed, proxy.egress) or count a client's flows
# (smtp.auth.bruteforce), which land on different workers
IN=(-r "$tmp/mix.pcap")
for f in tests/fixtures/abuse/*.pcap; do
	IN+=(-r "$f")
done
"$RW" "${IN[@]}" "${SETS[@]}" --no-stats >"$tmp/one.json" 2>"$tmp/err" ||
	{ echo "not ok - dispatch/one-worker run failed"; sed 's/^/#   /' "$tmp/err"; exit 1; }
n=$(grep -c '"event_type":"alert"' "$tmp/one.json")
echo "# reference: $n alerts, $(wc -l <"$tmp/one.json") records"
for r in relay.confirmed proxy.egress smtp.auth.bruteforce smtp.dictionary; do
	if grep -q "\"rule\":\"$r\"" "$tmp/one.json"; then
		echo "ok - dispatch/reference has a $r alert"
	else
		echo "not ok - dispatch/reference has no $r alert: the comparison would prove little"
	fi
done
for bin in "$RW" "$STRESS"; do
	tag=normal
	[ "$bin" = "$STRESS" ] && tag=tiny-rings
	for w in 2 3 4; do
		out=$tmp/$tag-$w.json
		timeout "$TIMEOUT" "$bin" "${IN[@]}" "${SETS[@]}" --no-stats \
			--workers "$w" >"$out" 2>"$tmp/err"
		rc=$?
		if [ $rc = 124 ]; then
			echo "not ok - dispatch/$tag --workers $w did not finish in ${TIMEOUT}s (deadlock?)"
		elif [ $rc != 0 ]; then
			echo "not ok - dispatch/$tag --workers $w exit $rc"
			sed 's/^/#   /' "$tmp/err" | head -n 5
		elif cmp -s "$tmp/one.json" "$out"; then
			echo "ok - dispatch/$tag --workers $w output == --workers 1"
		else
			echo "not ok - dispatch/$tag --workers $w output differs from --workers 1"
			diff "$tmp/one.json" "$out" | head -c 2000 | sed 's/^/#   /'
		fi
	done
done
