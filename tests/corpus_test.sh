#!/bin/bash
# corpus_test.sh - relaywatch against other tools' ground truth on public
# pcaps (Zeek baselines, suricata-verify test.yaml, Arkime .test, nDPI .out).
# The corpus lives outside the repository, read-only, in
# /work/shared/corpus/public (or ../shared/corpus/public next to the
# checkout, or $CORPUS_DIR); its pcaps are never copied in here. Without it
# the suite prints one SKIP line. One TAP line per compared ground-truth
# file and a closing "# agreement: X/Y fields"; see
# tests/tools/corpus_check.py for what is compared, what is strict and
# which representation differences are normalized.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RW=$BUILD/relaywatch

corpus=${CORPUS_DIR:-}
if [ -z "$corpus" ]; then
	for d in /work/shared/corpus/public ../shared/corpus/public; do
		if [ -f "$d/INDEX.tsv" ]; then
			corpus=$d
			break
		fi
	done
fi
if [ -z "$corpus" ] || [ ! -f "$corpus/INDEX.tsv" ]; then
	echo "ok - corpus # SKIP public corpus not found (/work/shared or ../shared absent)"
	exit 0
fi
if [ ! -x "$RW" ]; then
	echo "not ok - corpus $RW missing: run make first"
	exit 1
fi
# python3 from PATH is enough: the checker needs the standard library only
exec python3 tests/tools/corpus_check.py --relaywatch "$RW" --corpus "$corpus" "$@"
