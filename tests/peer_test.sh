#!/bin/bash
# peer_test.sh - relaywatch against the peer corpus: public captures from
# other tools' test suites (suricata-verify, Zeek, Arkime) with no expected
# output of their own; tests/tools/peer_check.py holds what relaywatch must
# say for each (SMTP transactions, CONNECT targets and statuses, SOCKS
# targets), derived from what INDEX.tsv says each capture exercises and
# from how Suricata and Zeek treat it. The corpus lives outside the
# repository, read-only, in /work/shared/corpus/peer (or
# ../shared/corpus/peer next to the checkout, or $PEER_DIR); its pcaps are
# never copied in here. Without it the suite prints one SKIP line.
# TAP lines: "ok - peer/NAME ...", "not ok - peer/NAME ...".
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RW=$BUILD/relaywatch

corpus=${PEER_DIR:-}
if [ -z "$corpus" ]; then
	for d in /work/shared/corpus/peer ../shared/corpus/peer; do
		if [ -f "$d/INDEX.tsv" ]; then
			corpus=$d
			break
		fi
	done
fi
if [ -z "$corpus" ] || [ ! -f "$corpus/INDEX.tsv" ]; then
	echo "ok - peer # SKIP peer corpus not found (/work/shared or ../shared absent)"
	exit 0
fi
if [ ! -x "$RW" ]; then
	echo "not ok - peer $RW missing: run make first"
	exit 1
fi
# python3 from PATH is enough: the checker needs the standard library only
exec python3 tests/tools/peer_check.py --relaywatch "$RW" --corpus "$corpus" "$@"
