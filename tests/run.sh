#!/bin/bash
# run.sh - every test of relaywatch; closing line: "N passed, N failed, N skipped".
# Each suite prints TAP-like lines ("ok - name", "not ok - name",
# "ok - name # SKIP reason"); this script counts them. Exit status is non-zero
# when anything failed (or a suite crashed without a summary).
#   tests/run.sh [PATTERN]   only suites whose name contains PATTERN
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
pat=${1:-}
pass=0 fail=0 skip=0 crashed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_suite() {
	local name=$1; shift
	[ -n "$pat" ] && [[ "$name" != *"$pat"* ]] && return
	echo "# suite $name"
	"$@" >"$log" 2>&1
	local rc=$?
	grep -E '^(ok|not ok) - |^#' "$log" | grep -v '^# [0-9]* passed' || true
	local p f s
	p=$(grep -cE '^ok - ' "$log" || true)
	s=$(grep -cE '^ok - .*# SKIP' "$log" || true)
	f=$(grep -cE '^not ok - ' "$log" || true)
	p=$((p - s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited with status $rc"
		tail -n 20 "$log" | sed 's/^/#   /'
		f=1
		crashed=$((crashed + 1))
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	run_suite "unit/$(basename "$t")" "$t"
done
for t in tests/*_test.sh tests/e2e_*.sh; do
	[ -f "$t" ] || continue
	run_suite "$(basename "$t" .sh)" bash "$t"
done

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
