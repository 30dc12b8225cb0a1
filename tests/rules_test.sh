#!/bin/bash
# rules_test.sh - the shipped rules (rules/) against the captured fixtures.
#
# For every row of TABLE: relaywatch -r PCAP --rules rules + the address
# plan (+ the row's extra arguments) must write EXACTLY the expected alerts
# (rule ids with their counts), every alert line must be a valid EVE alert
# (python json + the fields Suricata consumers read), and no credential the
# fixture's .expect lists as forbidden_output may appear anywhere in the
# output. A pcap under tests/fixtures/{smtp,proxy,abuse}/ without a row is
# reported as SKIP (and still checked for validity and credentials): adding
# a fixture is one line in TABLE.
# Then: every shipped alerting rule has a positive row and a deliberate
# negative row (SKIP while its fixture is missing), --check-rules on the
# shipped rules exits 0, a broken rule file is reported error by error as
# file:line:col and stops relaywatch before it writes anything, bad --set
# values are reported as --set:N:COL, and --no-rules writes no alert.
# Every row also runs with --workers 3: the output must equal one worker's.
# TAP lines: "ok - rules/NAME ...", "not ok - rules/NAME ...".
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RW=$BUILD/relaywatch
RULES=${RULES_DIR:-rules}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -x "$RW" ]; then
	echo "not ok - rules/setup $RW missing: run make first"
	exit 1
fi

# The fixtures' address plan (tests/fixtures/README.md, the header of each
# abuse/*.expect): LAN 10.0.0.0/24 with mx.lan.example 10.0.0.25; the
# closed MX and proxy host 203.0.113.25; the open relay 203.0.113.26; the
# MTA's outbound address 198.51.100.1; internet client 203.0.113.66.
PLAN=(--set HOME_NET=10.0.0.0/24,203.0.113.25/32,203.0.113.26/32,198.51.100.1/32
      --set TRUSTED_NETS=10.0.0.0/24
      --set SMTP_SERVERS=10.0.0.25/32,198.51.100.1/32,203.0.113.26/32
      --set PROXY_SERVERS=203.0.113.25/32
      --set LOCAL_DOMAINS=lan.example)

# Rules directory with one local allowlist rule added to the shipped ones.
PASSDIR=$tmp/withpass
mkdir -p "$PASSDIR"
cp "$RULES"/*.rules "$PASSDIR"/
cat >"$PASSDIR"/zz-local.rules <<'EOF'
# the scanner host 203.0.113.66 is ours: nothing it does is reported
rule local.scanner {
    sid 9000001
    on flow.start
    when src_ip == 203.0.113.66
    action pass
}
EOF

# NAME | PCAP (under tests/fixtures) | EXPECTED ALERTS | NEGATIVE FOR | EXTRA ARGS
# EXPECTED: rule ids, ID*N for N alerts, "-" for none; compared as a
# multiset. NEGATIVE FOR: shipped rules this row is a deliberate near miss
# of (their trigger happens, a condition does not hold). EXTRA ARGS are
# appended after the plan (a later --set of a name wins). The fanout pcap
# read 4 times (120 RCPT from one client within the same minute of capture
# time) is the only way the fixtures reach smtp.fanout.rcpt's > 100.
TABLE=$(cat <<'EOF'
smtp/accepted | smtp/accepted.pcap | - | relay.open smtp.outbound.unauthorized relay.block |
smtp/accepted#untrusted-lan | smtp/accepted.pcap | - | relay.open | --set TRUSTED_NETS=
smtp/accepted#no-local-domains | smtp/accepted.pcap | relay.block relay.open | | --set TRUSTED_NETS= --set LOCAL_DOMAINS=
smtp/auth_fail | smtp/auth_fail.pcap | - | smtp.auth.bruteforce |
smtp/auth_login_fail | smtp/auth_login_fail.pcap | - | smtp.auth.bruteforce |
smtp/auth_login_ok | smtp/auth_login_ok.pcap | - | |
smtp/auth_ok | smtp/auth_ok.pcap | - | relay.open relay.block |
smtp/bdat | smtp/bdat.pcap | - | |
smtp/multi_tx | smtp/multi_tx.pcap | - | |
smtp/open_relay | smtp/open_relay.pcap | relay.block relay.open | relay.confirmed smtp.outbound.unauthorized relay.probe |
smtp/open_relay#trusted-client | smtp/open_relay.pcap | - | relay.open relay.block | --set TRUSTED_NETS=10.0.0.0/24,203.0.113.66/32
smtp/open_relay#local-domain | smtp/open_relay.pcap | - | relay.open relay.block | --set LOCAL_DOMAINS=lan.example,foreign.example
smtp/open_relay#mta-not-listed | smtp/open_relay.pcap | relay.block relay.open smtp.outbound.unauthorized | | --set SMTP_SERVERS=10.0.0.25/32
smtp/open_relay#pass-rule | smtp/open_relay.pcap | - | relay.open | --rules $PASSDIR
smtp/pipelining | smtp/pipelining.pcap | relay.attempt relay.block | relay.open |
smtp/relay_refused | smtp/relay_refused.pcap | relay.attempt relay.block | relay.open |
smtp/relay_refused#trusted-client | smtp/relay_refused.pcap | - | relay.attempt relay.block | --set TRUSTED_NETS=203.0.113.0/24
smtp/starttls | smtp/starttls.pcap | - | |
smtp/vrfy_expn_help | smtp/vrfy_expn_help.pcap | - | smtp.dictionary |
proxy/http_absolute_get | proxy/http_absolute_get.pcap | proxy.open.http | proxy.smtp-tunnel proxy.probe proxy.egress proxy.block.smtp |
proxy/http_absolute_get#trusted-client | proxy/http_absolute_get.pcap | - | proxy.open.http proxy.block.smtp | --set TRUSTED_NETS=203.0.113.0/24
proxy/http_connect_denied | proxy/http_connect_denied.pcap | proxy.block.smtp proxy.smtp-tunnel | proxy.open.http |
proxy/http_connect_oddport | proxy/http_connect_oddport.pcap | proxy.block.smtp proxy.block.smtp-tunnel proxy.open.http proxy.smtp-tunnel | |
proxy/http_connect_smtp | proxy/http_connect_smtp.pcap | proxy.block.smtp proxy.block.smtp-tunnel proxy.open.http proxy.smtp-tunnel | relay.open proxy.egress |
proxy/http_connect_smtp#proxy-sends-mail | proxy/http_connect_smtp.pcap | proxy.block.smtp proxy.block.smtp-tunnel proxy.open.http proxy.smtp-tunnel smtp.outbound.unauthorized | | --set SMTP_SERVERS=10.0.0.25/32,203.0.113.26/32
proxy/socks4_connect | proxy/socks4_connect.pcap | proxy.block.smtp proxy.block.smtp-tunnel proxy.open.socks proxy.smtp-tunnel | |
proxy/socks4_refused | proxy/socks4_refused.pcap | proxy.block.smtp proxy.smtp-tunnel | proxy.open.socks proxy.block.smtp-tunnel |
proxy/socks4a_connect | proxy/socks4a_connect.pcap | proxy.block.smtp proxy.block.smtp-tunnel proxy.open.socks proxy.smtp-tunnel | |
proxy/socks4a_dante_refused | proxy/socks4a_dante_refused.pcap | proxy.block.smtp proxy.smtp-tunnel | proxy.open.socks |
proxy/socks5_noauth_smtp | proxy/socks5_noauth_smtp.pcap | proxy.block.smtp proxy.block.smtp-tunnel proxy.open.socks proxy.smtp-tunnel | proxy.backconnect |
proxy/socks5_noauth_smtp#not-our-proxy | proxy/socks5_noauth_smtp.pcap | proxy.smtp-tunnel | proxy.open.socks proxy.block.smtp proxy.block.smtp-tunnel | --set HOME_NET=10.0.0.0/24
proxy/socks5_userpass | proxy/socks5_userpass.pcap | proxy.block.smtp proxy.block.smtp-tunnel proxy.smtp-tunnel | proxy.open.socks |
abuse/nmap_smtp_open_relay_open | abuse/nmap_smtp_open_relay_open.pcap | relay.block relay.open relay.probe | |
abuse/nmap_smtp_open_relay_closed | abuse/nmap_smtp_open_relay_closed.pcap | relay.attempt relay.block relay.probe | relay.open |
abuse/relay_probe_msf | abuse/relay_probe_msf.pcap | relay.block relay.open relay.probe | |
abuse/relay_confirmed | abuse/relay_confirmed.pcap | relay.block relay.open relay.confirmed | |
abuse/nmap_http_open_proxy | abuse/nmap_http_open_proxy.pcap | proxy.egress proxy.open.http proxy.probe | |
abuse/nmap_socks_open_proxy | abuse/nmap_socks_open_proxy.pcap | proxy.egress proxy.open.socks proxy.probe | |
abuse/hopm_probe | abuse/hopm_probe.pcap | proxy.egress proxy.open.http proxy.probe | |
abuse/proxy_egress | abuse/proxy_egress.pcap | proxy.block.smtp proxy.block.smtp-tunnel proxy.egress proxy.open.http proxy.smtp-tunnel smtp.outbound.unauthorized | |
abuse/outbound_unauthorized | abuse/outbound_unauthorized.pcap | smtp.outbound.unauthorized | |
abuse/outbound_authorized | abuse/outbound_authorized.pcap | - | smtp.outbound.unauthorized |
abuse/dictionary | abuse/dictionary.pcap | smtp.dictionary | relay.attempt |
abuse/dictionary_neg | abuse/dictionary_neg.pcap | - | smtp.dictionary |
abuse/auth_bruteforce | abuse/auth_bruteforce.pcap | smtp.auth.bruteforce | |
abuse/auth_bruteforce_neg | abuse/auth_bruteforce_neg.pcap | - | smtp.auth.bruteforce |
abuse/blocklisted | abuse/blocklisted.pcap | smtp.blocklisted | |
abuse/blocklisted_neg | abuse/blocklisted_neg.pcap | - | smtp.blocklisted |
abuse/fanout | abuse/fanout.pcap | relay.block relay.open smtp.fanout | smtp.fanout.rcpt |
abuse/fanout#read-4-times | abuse/fanout.pcap | relay.block relay.open smtp.fanout smtp.fanout.rcpt | | -r tests/fixtures/abuse/fanout.pcap -r tests/fixtures/abuse/fanout.pcap -r tests/fixtures/abuse/fanout.pcap
abuse/fanout_neg | abuse/fanout_neg.pcap | relay.block relay.open | smtp.fanout smtp.fanout.rcpt |
abuse/backconnect | abuse/backconnect.pcap | proxy.backconnect | proxy.open.socks |
abuse/backconnect#bot-not-ours | abuse/backconnect.pcap | - | proxy.backconnect | --set HOME_NET=10.0.0.0/24
abuse/backconnect_refused | abuse/backconnect_refused.pcap | - | proxy.backconnect |
EOF
)

cat >"$tmp/check.py" <<'EOF'
"""check.py NAME EVE EXPECTED EXPECT_FILE: TAP lines for one run."""
import collections
import json
import sys

name, eve, expected, expect_file = sys.argv[1:5]
raw = open(eve, encoding="utf-8", errors="replace").read()
fails = []
alerts = []
for n, line in enumerate(raw.splitlines(), 1):
    if not line.strip():
        continue
    try:
        r = json.loads(line)
    except ValueError as e:
        fails.append(f"line {n} is not JSON: {e}")
        continue
    if r.get("event_type") != "alert":
        continue
    a = r.get("alert")
    if not isinstance(a, dict):
        fails.append(f"line {n}: no alert object")
        continue
    want = {"timestamp": str, "flow_id": int, "src_ip": str, "src_port": int,
            "dest_ip": str, "dest_port": int, "proto": str, "app_proto": str}
    for k, t in want.items():
        if not isinstance(r.get(k), t):
            fails.append(f"line {n}: {k} missing or not {t.__name__}")
    want = {"action": str, "gid": int, "signature_id": int, "rev": int,
            "signature": str, "category": str, "severity": int, "rule": str,
            "evidence": list}
    for k, t in want.items():
        if not isinstance(a.get(k), t):
            fails.append(f"line {n}: alert.{k} missing or not {t.__name__}")
    if a.get("action") != "allowed":
        fails.append(f"line {n}: alert.action {a.get('action')!r} in a "
                     "passive run (expected 'allowed')")
    if a.get("severity") not in (1, 2, 3):
        fails.append(f"line {n}: alert.severity {a.get('severity')!r}")
    ev = a.get("evidence") or []
    if not ev or not all(isinstance(x, str) and x for x in ev):
        fails.append(f"line {n}: alert.evidence empty or not strings")
    if not r.get("community_id"):
        fails.append(f"line {n}: no community_id")
    alerts.append(a.get("rule"))

got = collections.Counter(alerts)
want = collections.Counter()
for tok in expected.split():
    if tok == "-":
        continue
    rid, _, cnt = tok.partition("*")
    want[rid] += int(cnt or 1)


def fmt(c):
    return " ".join(f"{k}*{v}" if v > 1 else k for k, v in sorted(c.items())) or "-"


if got == want:
    print(f"ok - rules/{name} alerts: {fmt(got)}")
else:
    print(f"not ok - rules/{name} alerts: expected {fmt(want)}, got {fmt(got)}")
if fails:
    print(f"not ok - rules/{name} EVE alert records")
    for f in fails[:10]:
        print(f"#   {f}")
else:
    print(f"ok - rules/{name} EVE alert records ({len(alerts)} valid)")
forbidden = []
try:
    for line in open(expect_file, encoding="utf-8"):
        if line.startswith("forbidden_output="):
            forbidden.append(line.rstrip("\n").split("=", 1)[1])
except OSError:
    pass
leaked = [s for s in forbidden if s and s in raw]
if leaked:
    print(f"not ok - rules/{name} credentials in the output: {leaked}")
elif forbidden:
    print(f"ok - rules/{name} none of {len(forbidden)} forbidden strings in the output")
EOF

declare -A pos neg listed
run_row() { # NAME PCAP EXPECTED NEG EXTRA...
	local name=$1 pcap=tests/fixtures/$2 expected=$3 negs=$4
	shift 4
	local out=$tmp/out.json
	if [ ! -f "$pcap" ]; then
		echo "not ok - rules/$name $pcap missing"
		return
	fi
	if ! "$RW" -r "$pcap" --rules "$RULES" "${PLAN[@]}" "$@" --no-stats \
		>"$out" 2>"$tmp/err"; then
		echo "not ok - rules/$name relaywatch failed"
		sed 's/^/#   /' "$tmp/err" | head -n 10
		return
	fi
	python3 "$tmp/check.py" "$name" "$out" "$expected" "${pcap%.pcap}.expect"
	# three workers (more than the cores here): the flows of one client and
	# the two flows of a correlation land on different shards, and the
	# shared rule state must still give exactly the one-worker output
	if "$RW" -r "$pcap" --rules "$RULES" "${PLAN[@]}" "$@" --no-stats \
		--workers 3 >"$tmp/out3.json" 2>/dev/null &&
	   cmp -s "$out" "$tmp/out3.json"; then
		echo "ok - rules/$name --workers 3 output == --workers 1"
	else
		echo "not ok - rules/$name --workers 3 output differs from --workers 1"
		diff <(grep -o '"rule":"[^"]*"' "$out" | sort) \
		     <(grep -o '"rule":"[^"]*"' "$tmp/out3.json" | sort) |
			head -n 10 | sed 's/^/#   /'
	fi
	for r in $expected; do
		[ "$r" = - ] || pos[${r%%\**}]=1
	done
	for r in $negs; do
		neg[$r]=1
	done
}

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; echo "${s%"${s##*[![:space:]]}"}"; }

while IFS='|' read -r name pcap expected negs extra; do
	name=$(trim "$name")
	[ -z "$name" ] && continue
	pcap=$(trim "$pcap")
	listed[$pcap]=1
	eval "args=($(trim "$extra"))"
	run_row "$name" "$pcap" "$(trim "$expected")" "$(trim "$negs")" "${args[@]}"
done <<<"$TABLE"

# fixtures without a row: still valid EVE and no credentials
for pcap in tests/fixtures/smtp/*.pcap tests/fixtures/proxy/*.pcap \
	    tests/fixtures/abuse/*.pcap; do
	[ -f "$pcap" ] || continue
	rel=${pcap#tests/fixtures/}
	[ -n "${listed[$rel]:-}" ] && continue
	name=${rel%.pcap}
	echo "ok - rules/$name # SKIP no row in tests/rules_test.sh TABLE yet"
	if "$RW" -r "$pcap" --rules "$RULES" "${PLAN[@]}" --no-stats \
		>"$tmp/out.json" 2>/dev/null; then
		python3 "$tmp/check.py" "$name" "$tmp/out.json" "" \
			"${pcap%.pcap}.expect" | grep -v "^.*rules/$name alerts:"
	else
		echo "not ok - rules/$name relaywatch failed"
	fi
done

# every shipped rule that can alert: a positive and a negative row
for id in $(sed -n 's/^rule \([^ {]*\).*/\1/p' "$RULES"/*.rules); do
	if awk -v id="$id" '$1 == "rule" && $2 == id { r = 1; next }
	    r && $1 == "}" { exit } r && $1 == "action" && $2 == "note" { f = 1 }
	    END { exit !f }' "$RULES"/*.rules; then
		continue        # note rules only feed "after" rules
	fi
	if [ -n "${pos[$id]:-}" ] && [ -n "${neg[$id]:-}" ]; then
		echo "ok - rules/coverage/$id positive and negative fixture"
	else
		miss=
		[ -z "${pos[$id]:-}" ] && miss="positive"
		[ -z "${neg[$id]:-}" ] && miss="${miss:+$miss and }negative"
		echo "ok - rules/coverage/$id # SKIP no $miss fixture row yet"
	fi
done

# --check-rules: the shipped rules load (explicit path, and the default
# when the binary finds rules/ next to its build directory)
if "$RW" --check-rules "$RULES" >"$tmp/chk" 2>&1 &&
   grep -q "rules OK" "$tmp/chk"; then
	echo "ok - rules/check-rules shipped rules load"
else
	echo "not ok - rules/check-rules shipped rules"
	sed 's/^/#   /' "$tmp/chk" | head
fi
if [ "$(cd "$(dirname "$RW")/.." && pwd)" = "$(pwd)" ]; then
	if "$RW" --check-rules >"$tmp/chk" 2>&1 && grep -q "rules OK" "$tmp/chk"; then
		echo "ok - rules/check-rules default path"
	else
		echo "not ok - rules/check-rules default path"
		sed 's/^/#   /' "$tmp/chk" | head
	fi
fi

# a broken rule file: every error, file:line:col, exit 1, nothing written
cat >"$tmp/broken.rules" <<'EOF'
# three errors; the good rule must not load either
rule bad.field {
    sid 9100001
    on smtp.reply
    when smtp.no_such_field == "x"
    action alert
    msg "x"
}
rule bad.trigger {
    sid 9100002
    on smtp.nothing
    action alert
    msg "y"
}
rule bad.type {
    sid 9100003
    on smtp.reply
    when smtp.reply.code == "abc"
    action alert
    msg "z"
}
rule good {
    sid 9100004
    on flow.start
    action alert
    msg "every flow"
}
EOF
B=$tmp/broken.rules
"$RW" --check-rules "$B" >"$tmp/chk" 2>&1
rc=$?
bad=0
for want in "$B:5:10: unknown field" "$B:11:8: unknown trigger" "$B:18:29: expected a number"; do
	grep -qF "$want" "$tmp/chk" || { echo "#   missing: $want"; bad=1; }
done
if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
	echo "ok - rules/check-rules broken file: 3 errors at file:line:col, exit $rc"
else
	echo "not ok - rules/check-rules broken file (exit $rc)"
	sed 's/^/#   /' "$tmp/chk" | head
fi
rm -f "$tmp/never.json"
"$RW" -r tests/fixtures/smtp/open_relay.pcap --rules "$B" >"$tmp/out.json" \
	-e "$tmp/never.json" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 1 ] && [ ! -e "$tmp/never.json" ] &&
   grep -qF "$B:5:10:" "$tmp/err" && grep -qF "$B:18:29:" "$tmp/err"; then
	echo "ok - rules/broken-rules relaywatch exits 1, every error, no output file"
else
	echo "not ok - rules/broken-rules relaywatch exit $rc (expected 1, no records)"
	sed 's/^/#   /' "$tmp/err" | head
fi
"$RW" -r tests/fixtures/smtp/open_relay.pcap --rules "$B" >"$tmp/out.json" 2>/dev/null
if [ ! -s "$tmp/out.json" ]; then
	echo "ok - rules/broken-rules nothing on stdout"
else
	echo "not ok - rules/broken-rules wrote records"
fi

# bad --set values: --set:N:COL, exit 1
"$RW" -r tests/fixtures/smtp/open_relay.pcap --rules "$RULES" \
	--set TRUSTED_NETS=10.0.0.0/8 --set HOME_NET=10.0.0.0/33 \
	>"$tmp/out.json" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "^--set:2:10: " "$tmp/err" && [ ! -s "$tmp/out.json" ]; then
	echo "ok - rules/bad-set reported as --set:2:10, exit 1"
else
	echo "not ok - rules/bad-set (exit $rc)"
	sed 's/^/#   /' "$tmp/err" | head
fi

# startup warnings for the sets left empty
"$RW" -r tests/fixtures/smtp/accepted.pcap --rules "$RULES" --no-stats \
	>/dev/null 2>"$tmp/err"
if grep -q "TRUSTED_NETS is empty" "$tmp/err" &&
   grep -q "LOCAL_DOMAINS is empty" "$tmp/err" &&
   ! "$RW" -r tests/fixtures/smtp/accepted.pcap --rules "$RULES" "${PLAN[@]}" \
	--no-stats 2>&1 >/dev/null | grep -q "is empty"; then
	echo "ok - rules/warnings empty sets warned about, set ones not"
else
	echo "not ok - rules/warnings"
	sed 's/^/#   /' "$tmp/err" | head
fi

# --no-rules: no alert at all; the stats count the alert records written
"$RW" -r tests/fixtures/smtp/open_relay.pcap --no-rules "${PLAN[@]}" --no-stats \
	>"$tmp/out.json" 2>/dev/null
if ! grep -q '"event_type":"alert"' "$tmp/out.json" &&
   grep -q '"event_type":"smtp"' "$tmp/out.json"; then
	echo "ok - rules/no-rules protocol records, no alert"
else
	echo "not ok - rules/no-rules"
fi
"$RW" -r tests/fixtures/proxy/http_connect_smtp.pcap --rules "$RULES" "${PLAN[@]}" \
	>"$tmp/out.json" 2>/dev/null
if python3 - "$tmp/out.json" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
n = sum(r["event_type"] == "alert" for r in recs)
st = [r for r in recs if r["event_type"] == "stats"][-1]["stats"]["rules"]
sys.exit(0 if n == 4 and st["alerts_written"] == n and st["alerts"] == n
         and st["evaluations"] > 0 else 1)
EOF
then
	echo "ok - rules/stats rules.alerts_written equals the alert records"
else
	echo "not ok - rules/stats rules.alerts_written"
fi
