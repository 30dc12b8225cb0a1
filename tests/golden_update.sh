#!/bin/bash
# golden_update.sh - rewrite tests/fixtures/*/NAME.eve.json from the current
# build. Review the diff (git diff tests/fixtures) before committing: these
# files are the reference the golden test holds the engine to.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
for pcap in tests/fixtures/*/*.pcap; do
	"$BUILD/relaywatch" -r "$pcap" --no-stats --no-rules >"${pcap%.pcap}.eve.json"
done
