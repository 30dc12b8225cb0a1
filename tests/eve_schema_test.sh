#!/bin/bash
# eve_schema_test.sh - every record relaywatch writes, held to Suricata's
# own EVE schema, so pipelines that ingest Suricata's EVE (Elastic's
# Suricata integration, Splunk's TA, Logstash) take ours unchanged.
#
# relaywatch (shipped rules, the fixtures' address plan, --all-flows, the
# stats record) runs over every pcap under tests/fixtures/ and, when it is
# there, every pcap of the public corpus; tests/tools/eve_schema_check.py
# validates each record against Suricata's schema with additionalProperties
# relaxed (the fields Suricata defines keep Suricata's types), and checks
# that every extension it carries is listed, with its type, in README.md's
# "EVE extensions" table. One TAP line per pcap:
#   ok - eve_schema/NAME N records
# then a self-test: records broken on purpose (flow.bypassed as a boolean,
# the proxy tunnel under Suricata's "tunnel", ...) must be rejected.
#
# The schema is Suricata's etc/schema.json kept read-only in
# /work/shared/eve-schema (or ../shared/eve-schema next to the checkout, or
# $EVE_SCHEMA); it is never copied here. Without it the suite prints one
# SKIP line. The checker runs with /usr/bin/python3 ($EVE_SCHEMA_PYTHON),
# which has Debian's python3-jsonschema (scripts/deps.sh test).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RW=$BUILD/relaywatch
PY=${EVE_SCHEMA_PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

schema=${EVE_SCHEMA:-}
if [ -z "$schema" ]; then
	for d in /work/shared/eve-schema ../shared/eve-schema; do
		if [ -f "$d/suricata-schema.json" ]; then
			schema=$d/suricata-schema.json
			break
		fi
	done
fi
if [ -z "$schema" ] || [ ! -f "$schema" ]; then
	echo "ok - eve_schema # SKIP Suricata's EVE schema not found (/work/shared or ../shared absent)"
	exit 0
fi
if [ ! -x "$RW" ]; then
	echo "not ok - eve_schema/setup $RW missing: run make first"
	exit 1
fi
if ! "$PY" -c 'import jsonschema' 2>/dev/null; then
	echo "not ok - eve_schema/setup $PY lacks the jsonschema module: apt-get install python3-jsonschema (scripts/deps.sh test)"
	exit 1
fi

# the fixtures' address plan (as tests/rules_test.sh): alerts of every
# shipped rule show up in the records checked
PLAN=(--set HOME_NET=10.0.0.0/24,203.0.113.25/32,203.0.113.26/32,198.51.100.1/32
      --set TRUSTED_NETS=10.0.0.0/24
      --set SMTP_SERVERS=10.0.0.25/32,198.51.100.1/32,203.0.113.26/32
      --set PROXY_SERVERS=203.0.113.25/32
      --set LOCAL_DOMAINS=lan.example)

args=()
fixtures=()
n=0
run() { # NAME PCAP EXTRA...
	local name=$1 pcap=$2
	shift 2
	n=$((n + 1))
	local out=$tmp/$n.json
	if ! "$RW" -r "$pcap" --rules rules --all-flows "$@" >"$out" 2>"$tmp/err"; then
		echo "not ok - eve_schema/$name relaywatch failed"
		sed 's/^/#   /' "$tmp/err" | head -n 5
		return 1
	fi
	args+=("$name=$out")
}

for pcap in tests/fixtures/*/*.pcap; do
	rel=${pcap#tests/fixtures/}
	run "fixtures/${rel%.pcap}" "$pcap" "${PLAN[@]}" && fixtures+=("$tmp/$n.json")
done

corpus=${CORPUS_DIR:-}
if [ -z "$corpus" ]; then
	for d in /work/shared/corpus/public ../shared/corpus/public; do
		if [ -f "$d/INDEX.tsv" ]; then
			corpus=$d
			break
		fi
	done
fi
if [ -n "$corpus" ] && [ -f "$corpus/INDEX.tsv" ]; then
	# default sets (HOME_NET = RFC 1918 + ULA): the corpus hosts are
	# anyone's, the point is that the records validate, alerts included
	while IFS= read -r path; do
		run "corpus/$path" "$corpus/$path"
	done < <(cd "$corpus" && find . -type f \( -name '*.pcap' -o -name '*.pcapng' \) |
		 sed 's|^\./||' | LC_ALL=C sort)
else
	echo "ok - eve_schema/corpus # SKIP public corpus not found (/work/shared or ../shared absent)"
fi

"$PY" tests/tools/eve_schema_check.py --schema "$schema" --readme README.md "${args[@]}"
rc=$?
"$PY" tests/tools/eve_schema_check.py --schema "$schema" --readme README.md \
	--self-test "${fixtures[@]}" || rc=1
exit $rc
