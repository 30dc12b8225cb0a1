#!/bin/bash
# fuzz_test.sh - a short libFuzzer run of every target under ASan+UBSan
# (FUZZ_SECONDS each, default 30; `make fuzz` runs them longer). Each target
# splits its input into random chunks (and directions) before feeding the
# parser, so resumability bugs show up as crashes or sanitizer reports.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
secs=${FUZZ_SECONDS:-30}
if ! command -v clang >/dev/null; then
	echo "ok - fuzz # SKIP clang not installed"
	exit 0
fi
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	bin=$BUILD/fuzz/$name
	if ! make -s "$bin" >/tmp/rw-fuzz-build.$$ 2>&1; then
		echo "not ok - fuzz/$name does not build"
		sed 's/^/#   /' /tmp/rw-fuzz-build.$$ | tail -n 20
		continue
	fi
	corpus=$BUILD/fuzz/corpus-$name
	mkdir -p "$corpus"
	seeds=tests/fuzz/seeds/$name
	[ -d "$seeds" ] || seeds=
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		"$corpus" $seeds >"$BUILD/fuzz/$name.log" 2>&1; then
		runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$BUILD/fuzz/$name.log" | grep -o '[0-9]*$')
		[ -z "$runs" ] && runs=$(grep -oE '#[0-9]+' "$BUILD/fuzz/$name.log" | tail -n1)
		echo "ok - fuzz/$name ${secs}s clean (${runs} runs)"
	else
		echo "not ok - fuzz/$name found a crash (see $BUILD/fuzz/$name.log)"
		grep -E 'ERROR|SUMMARY|runtime error' "$BUILD/fuzz/$name.log" | head -n 10 | sed 's/^/#   /'
	fi
done
rm -f /tmp/rw-fuzz-build.$$
