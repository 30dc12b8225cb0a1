#!/bin/bash
# golden_test.sh - pcap in, events out, for every captured fixture.
#  1. the facts of NAME.expect (ground truth from the wire, see
#     tests/fixtures/mkexpect.py) are found in relaywatch's records;
#  2. the records equal NAME.eve.json (reviewed output, field by field);
#     regenerate with tests/golden_update.sh after a reviewed change;
#  3. --workers 2 gives the same records as --workers 1.
# Engine records only (--no-rules): the alerts are checked by
# rules_test.sh (which also holds --workers 3 to one worker's output).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RW=$BUILD/relaywatch
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for pcap in tests/fixtures/*/*.pcap; do
	base=${pcap%.pcap}
	name=$(basename "$(dirname "$pcap")")/$(basename "$base")
	out=$tmp/out.json
	if ! "$RW" -r "$pcap" --no-stats --no-rules >"$out" 2>"$tmp/err"; then
		echo "not ok - golden/$name relaywatch failed"
		sed 's/^/#   /' "$tmp/err"
		continue
	fi
	if [ -f "$base.expect" ]; then
		python3 tests/tools/expect_check.py "$base.expect" "$out"
	fi
	if [ -f "$base.eve.json" ]; then
		if python3 tests/tools/evecmp.py "$base.eve.json" "$out" >"$tmp/diff"; then
			echo "ok - golden/$name records equal $base.eve.json"
		else
			echo "not ok - golden/$name records differ from $base.eve.json"
			head -n 20 "$tmp/diff" | sed 's/^/#   /'
		fi
	fi
	"$RW" -r "$pcap" --no-stats --no-rules --workers 2 >"$tmp/out2.json" 2>/dev/null
	if python3 tests/tools/evecmp.py --unordered "$out" "$tmp/out2.json" >"$tmp/diff"; then
		echo "ok - golden/$name workers 2 == workers 1"
	else
		echo "not ok - golden/$name workers 2 differs"
		head -n 10 "$tmp/diff" | sed 's/^/#   /'
	fi
done
