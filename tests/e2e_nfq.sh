#!/bin/bash
# e2e_nfq.sh - relaywatch inline (NFQUEUE) on a forwarding gateway.
#
# Topology (network namespaces built here, no link to the host):
#
#   rwnfq-inet                  rwnfq-gw (ip_forward=1)          rwnfq-lan
#   203.0.113.66 client  rwnfqi0 -- rwnfqgi 203.0.113.1
#   203.0.113.77 sink:25           rwnfqgl 10.0.0.1 ------ rwnfql0 10.0.0.25
#   (aiosmtpd "foreign MX")        relaywatch --nfqueue 0      postfix :25 (OPEN
#                                  relaywatch firewall install  relay: mynetworks
#                                                               0.0.0.0/0)
#                                                               tinyproxy :8888
#                                                               microsocks :1080
#
# The gateway has a ruleset of its own first (FORWARD policy, an INPUT
# rule): `firewall install` (twice: idempotent) adds relaywatch's chain,
# `firewall remove` must leave iptables-save as it was (counters and the
# generated/completed comment lines aside).
#
# Checks: a legitimate mail to a local domain is delivered, byte for byte;
# the relay attempt through the open relay is blocked (swaks fails, postfix
# never logs the foreign recipient, the sink gets nothing, the alert says
# "blocked"); SMTP through tinyproxy (CONNECT to the sink's port 25) and
# through microsocks is blocked the same way; kill -9 of relaywatch with
# a mail in flight: traffic keeps flowing (--queue-bypass), and the relay
# is then open (the control: relaywatch was what stopped it); a restarted
# relaywatch blocks again; --inline-policy monitor passes the relay and
# alerts what it would have blocked.
#
# Output: TAP-like "ok - e2e_nfq/NAME" / "not ok - ..."; skips with one
# "ok - e2e_nfq # SKIP reason" line when not root, or iptables/NFQUEUE is
# unavailable. Scratch files of a failed run are kept (E2E_KEEP=1: always).
# shellcheck disable=SC2016,SC2317
set -u
cd "$(dirname "$0")/.." || exit 1

BUILD=${BUILD:-build}
RW=$(pwd)/$BUILD/relaywatch
FXSINK=$(pwd)/tests/fixtures/fxsink.py
PY=/usr/bin/python3          # Debian's: has aiosmtpd
NS_GW=rwnfq-gw
NS_LAN=rwnfq-lan
NS_INET=rwnfq-inet
CLIENT=203.0.113.66
SINK=203.0.113.77
SRV=10.0.0.25
SETS=(--set HOME_NET=10.0.0.0/24 --set TRUSTED_NETS=10.0.0.0/24
      --set LOCAL_DOMAINS=lan.example --set SMTP_SERVERS=10.0.0.25/32)
W=
FAILED=0
declare -A BG=()
PF_STARTED=0
RW_PID=

E2E_NAME=e2e_nfq
E2E_SKIP=e2e_nfq
. tests/e2e/lib.sh     # the cd above: paths are from the repository root

cleanup() {
	local n
	trap - EXIT
	[ "$PF_STARTED" = 1 ] && postfix -c "$W/pf/conf" stop >/dev/null 2>&1
	[ -n "$RW_PID" ] && stop_pid "$RW_PID" KILL
	for n in "${!BG[@]}"; do stop_pid "${BG[$n]}"; done
	for n in "$NS_GW" "$NS_LAN" "$NS_INET"; do kill_ns "$n"; done
	if [ -n "$W" ]; then
		if [ "$FAILED" = 0 ] && [ -z "${E2E_KEEP:-}" ]; then
			rm -rf "$W"
		else
			echo "# e2e_nfq: scratch files kept in $W"
		fi
	fi
}

# ---- prerequisites ---------------------------------------------------------

[ "$(id -u)" = 0 ] || skip_all "not root"
for c in ip ethtool iptables iptables-save postfix postconf swaks curl tinyproxy microsocks timeout ss; do
	command -v "$c" >/dev/null 2>&1 || skip_all "$c missing"
done
"$PY" -c 'import aiosmtpd' 2>/dev/null || skip_all "$PY lacks aiosmtpd (python3-aiosmtpd)"
[ -x "$RW" ] || skip_all "$RW not built"
[ -f "$FXSINK" ] || skip_all "$FXSINK missing"

trap cleanup EXIT
trap 'exit 130' INT TERM
for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^rwnfq-'); do
	kill_ns "$n"
done
rm -rf /var/tmp/rwnfq.*
W=$(mktemp -d /var/tmp/rwnfq.XXXXXX) || exit 1
chmod 755 "$W"


ip netns add "$NS_GW" 2>/dev/null || skip_all "cannot create network namespaces"
# the NFQUEUE target and connmark, apart from relaywatch: missing is a skip
in_gw iptables -w -A OUTPUT -p tcp --dport 9 -m connmark --mark 0x1/0x1 \
	-j NFQUEUE --queue-num 0 --queue-bypass 2>/dev/null ||
	skip_all "iptables NFQUEUE target or connmark match unavailable"
in_gw iptables -w -D OUTPUT -p tcp --dport 9 -m connmark --mark 0x1/0x1 \
	-j NFQUEUE --queue-num 0 --queue-bypass

# ---- topology --------------------------------------------------------------

topology() {
	setup_ns "$NS_GW" && setup_ns "$NS_LAN" && setup_ns "$NS_INET" || return 1
	in_gw sysctl -qw net.ipv4.ip_forward=1 || return 1
	ip link add rwnfqgi netns "$NS_GW" type veth peer name rwnfqi0 netns "$NS_INET" || return 1
	ip link add rwnfqgl netns "$NS_GW" type veth peer name rwnfql0 netns "$NS_LAN" || return 1
	ip -n "$NS_GW" addr add 203.0.113.1/24 dev rwnfqgi
	ip -n "$NS_GW" addr add 10.0.0.1/24 dev rwnfqgl
	ip -n "$NS_INET" addr add "$CLIENT/24" dev rwnfqi0
	ip -n "$NS_INET" addr add "$SINK/24" dev rwnfqi0
	ip -n "$NS_LAN" addr add "$SRV/24" dev rwnfql0
	local v
	for v in "$NS_GW rwnfqgi" "$NS_GW rwnfqgl" "$NS_INET rwnfqi0" "$NS_LAN rwnfql0"; do
		set -- $v
		ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1
		ip -n "$1" link set "$2" up
	done
	ip -n "$NS_INET" route add default via 203.0.113.1 || return 1
	ip -n "$NS_LAN" route add default via 10.0.0.1 || return 1
}

postfix_setup() {
	local PF=$W/pf
	mkdir -p "$PF/conf" "$PF/queue" "$PF/data" "$PF/mail"
	chown postfix:postfix "$PF/data"
	chown 65534:65534 "$PF/mail"
	cp /etc/postfix/master.cf "$PF/conf/master.cf" 2>/dev/null ||
		cp /usr/share/postfix/master.cf.dist "$PF/conf/master.cf" || return 1
	cat >"$PF/conf/main.cf" <<EOF
# relaywatch e2e_nfq instance: an OPEN relay (relays for anyone)
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
syslog_name = rwnfq-postfix
maillog_file = $PF/maillog
myhostname = mx.lan.example
mydomain = lan.example
myorigin = \$myhostname
mydestination = localhost
biff = no
append_dot_mydomain = no
inet_interfaces = all
inet_protocols = ipv4
mynetworks = 0.0.0.0/0
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relayhost = [$SINK]:25
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtpd_error_sleep_time = 0
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = lan.example
virtual_mailbox_base = $PF/mail
virtual_mailbox_maps = texthash:$PF/conf/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
EOF
	printf 'bob@lan.example bob/\n' >"$PF/conf/vmailbox"
	postconf -c "$PF/conf" -F '*/*/chroot = n'
	postconf -c "$PF/conf" -MX smtp/inet
	postconf -c "$PF/conf" -M "$SRV:smtp/inet=$SRV:smtp inet n - n - - smtpd"
	postconf -c "$PF/conf" -M 'postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd'
	postfix -c "$PF/conf" check >"$W/postfix-check.out" 2>&1 || return 1
	PF_STARTED=1
	in_lan postfix -c "$PF/conf" start >"$W/postfix-start.out" 2>&1
}

servers() {
	postfix_setup || { cat "$W"/postfix-*.out | diag; return 1; }
	touch "$W/tinyproxy.log"
	chown nobody:nogroup "$W/tinyproxy.log"
	cat >"$W/tinyproxy.conf" <<EOF
User nobody
Group nogroup
Port 8888
Listen $SRV
Timeout 30
MaxClients 20
LogFile "$W/tinyproxy.log"
LogLevel Info
EOF
	bg tinyproxy "$NS_LAN" timeout 170 tinyproxy -d -c "$W/tinyproxy.conf"
	bg microsocks "$NS_LAN" timeout 170 microsocks -i "$SRV" -p 1080
	mkdir -p "$W/www"
	head -c 2000000 /dev/urandom >"$W/www/big.bin"
	printf 'small\n' >"$W/www/small.txt"
	# HTTP/1.1: keep-alive, so two requests share one connection
	bg web "$NS_LAN" timeout 170 "$PY" -m http.server 80 --bind "$SRV" -p HTTP/1.1 \
		--directory "$W/www"
	bg far "$NS_INET" timeout 170 "$PY" -m http.server 5001 --bind "$SINK" \
		--directory "$W/www"
	bg sink "$NS_INET" "$PY" "$FXSINK" --listen "$SINK" --port 25 \
		--log "$W/sink.log" --max-seconds 170
	wait_port "$NS_LAN" "$SRV" 25 && wait_port "$NS_LAN" "$SRV" 8888 &&
		wait_port "$NS_LAN" "$SRV" 1080 && wait_port "$NS_LAN" "$SRV" 80 &&
		wait_port "$NS_INET" "$SINK" 25 && wait_port "$NS_INET" "$SINK" 5001
}

# iptables-save without what changes by itself (counters, timestamps)
fw_snapshot() {
	in_gw iptables-save | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
}

# start relaywatch inline; wait until queue 0 is bound in the gateway
rw_start() {
	# not through in_gw: $! must be relaywatch itself (ip netns exec
	# execs it), not a subshell, or kill -9 would miss it
	local tag=$1; shift
	ip netns exec "$NS_GW" "$RW" --nfqueue 0 "${SETS[@]}" "$@" \
		--eve "$W/eve-$tag.json" >"$W/rw-$tag.out" 2>&1 &
	RW_PID=$!
	local i
	for i in $(seq 1 50); do
		in_gw awk '$1 == 0 { f = 1 } END { exit !f }' \
			/proc/net/netfilter/nfnetlink_queue 2>/dev/null && return 0
		alive "$RW_PID" || break
		sleep 0.1
	done
	diag <"$W/rw-$tag.out"
	return 1
}

mkbody() {
	{
		for i in $(seq 1 2000); do
			printf 'line %05d of the relaywatch inline test body ......\r\n' "$i"
		done
	} >"$W/body.txt"
	printf 'Subject: via proxy\r\n\r\nspam through a proxy.\r\n' >"$W/small.txt"
}

mail_ok() {
	in_inet timeout 30 swaks --server "$SRV" --port 25 --helo client.inet.example \
		--from "alice@inet.example" --to bob@lan.example \
		--header "X-Rwnfq: $1" --body "$W/body.txt" --timeout 10 \
		>"$W/swaks-ok-$1.log" 2>&1
}
# delivered TAG: the mailbox holds the message of TAG with the whole body
delivered() {
	local f
	f=$(grep -l "X-Rwnfq: $1" "$W"/pf/mail/bob/new/* 2>/dev/null | head -1)
	[ -n "$f" ] || for _ in $(seq 1 50); do
		sleep 0.1
		f=$(grep -l "X-Rwnfq: $1" "$W"/pf/mail/bob/new/* 2>/dev/null | head -1)
		[ -n "$f" ] && break
	done
	[ -n "$f" ] || return 1
	# the body, byte for byte (CRLF -> LF in the mailbox; swaks ends
	# the body with a blank line of its own)
	"$PY" - "$W/body.txt" "$f" <<'EOF'
import sys
want = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
msg = open(sys.argv[2], "rb").read()
body = msg.split(b"\n\n", 1)[1]
sys.exit(0 if body.rstrip(b"\n") == want.rstrip(b"\n") else 1)
EOF
}
# wait_grep PATTERN FILE: up to 10 s (postfix relays asynchronously)
wait_grep() {
	local i
	for i in $(seq 1 100); do
		grep -q "$1" "$2" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
mail_relay() {
	in_inet timeout 30 swaks --server "$SRV" --port 25 --helo client.inet.example \
		--from "mallory@inet.example" --to "victim$1@foreign.example" \
		--timeout 6 >"$W/swaks-relay-$1.log" 2>&1
}
curl_connect() {
	in_inet timeout 30 curl -sS --max-time 10 -p -x "http://$SRV:8888" \
		--mail-from spammer@inet.example --mail-rcpt "victim$1@foreign.example" \
		-T "$W/small.txt" "smtp://$SINK:25/client.inet.example" >"$W/curl-connect-$1.log" 2>&1
}
curl_socks() {
	in_inet timeout 30 curl -sS --max-time 10 --socks5 "$SRV:1080" \
		--mail-from spammer@inet.example --mail-rcpt "victim$1@foreign.example" \
		-T "$W/small.txt" "smtp://$SINK:25/client.inet.example" >"$W/curl-socks-$1.log" 2>&1
}
# alert_blocked FILE SID [ACTION]: an alert of rule SID that says ACTION
# ("blocked")
alert_blocked() {
	"$PY" - "$1" "$2" "${3:-blocked}" <<'EOF'
import json, sys
n = 0
for l in open(sys.argv[1]):
    try:
        r = json.loads(l)
    except ValueError:
        continue
    a = r.get("alert") or {}
    if r.get("event_type") == "alert" and a.get("signature_id") == int(sys.argv[2]) \
       and a.get("action") == sys.argv[3] and a.get("rule_action", "block") == "block":
        n += 1
sys.exit(0 if n else 1)
EOF
}

# ---- run -------------------------------------------------------------------

topology || { notok "topology"; exit 1; }
servers || { notok "servers"; cat "$W"/*.out 2>/dev/null | diag; exit 1; }
mkbody
# the gateway's own ruleset, before relaywatch
in_gw iptables -w -P FORWARD ACCEPT
in_gw iptables -w -A INPUT -p tcp --dport 22 -j ACCEPT
in_gw iptables -w -A FORWARD -p icmp -j ACCEPT
fw_snapshot >"$W/fw-before.txt"

check firewall-install 'in_gw "$RW" firewall install --nfqueue 0 >"$W/fw1.out" 2>&1 &&
	in_gw "$RW" firewall install --nfqueue 0 >"$W/fw2.out" 2>&1' ||
	cat "$W"/fw*.out | diag
fw_snapshot >"$W/fw-installed.txt"
check firewall-idempotent '[ "$(grep -c "^-A FORWARD -j RELAYWATCH" "$W/fw-installed.txt")" = 1 ] &&
	[ "$(grep -c "NFQUEUE" "$W/fw-installed.txt")" = 1 ]' || diag <"$W/fw-installed.txt"
check firewall-status 'in_gw "$RW" firewall status >"$W/fw-status.out" 2>&1'

rw_start 1 || { notok "relaywatch-start"; exit 1; }
ok relaywatch-start

check legit-mail-delivered 'mail_ok 1 && delivered 1' || diag <"$W/swaks-ok-1.log"
t0=$(date +%s%N)
mail_relay 1; rc=$?
t1=$(date +%s%N)
check relay-blocked-client-fails '[ $rc != 0 ] && ! grep -q "^<- *250.*" <(grep -A1 "RCPT TO" "$W/swaks-relay-1.log")' ||
	diag <"$W/swaks-relay-1.log"
# the client learns at once (the firewall's RST), not after its 6 s timeout
check relay-client-reset '[ $(( (t1 - t0) / 1000000 )) -lt 4000 ]' ||
	echo "relay attempt took $(( (t1 - t0) / 1000000 )) ms" | diag
check relay-not-seen-by-postfix '! grep -q "victim1@foreign.example" "$W/pf/maillog"' ||
	grep victim1 "$W/pf/maillog" | diag
curl_connect 1; rc=$?
check connect-25-blocked '[ $rc != 0 ]' || diag <"$W/curl-connect-1.log"
curl_socks 1; rc=$?
check socks-25-blocked '[ $rc != 0 ]' || diag <"$W/curl-socks-1.log"
# the open proxy used for anything else: blocked on the proxy's 200, the
# tunnel never carries a byte
in_inet timeout 20 curl -sS --max-time 10 -p -x "http://$SRV:8888" -o "$W/tunnel.out" \
	"http://$SINK:5001/small.txt" >"$W/curl-tunnel.log" 2>&1; rc=$?
check open-proxy-tunnel-blocked '[ $rc != 0 ] && ! cmp -s "$W/tunnel.out" "$W/www/small.txt"' ||
	diag <"$W/curl-tunnel.log"
sleep 1
check sink-received-nothing '! grep -q "victim1" "$W/sink.log" 2>/dev/null'
# plain web on port 80 (a configured proxy port): after two plain web
# transactions relaywatch bypasses the connection, it is connmarked and its
# later packets skip the queue
check web-download-intact 'in_inet timeout 20 curl -sS --max-time 15 -o "$W/web0.out" "http://$SRV/small.txt" \
	-o "$W/web1.out" "http://$SRV/small.txt" -o "$W/web.out" "http://$SRV/big.bin" 2>"$W/curl-web.log" &&
	cmp -s "$W/web.out" "$W/www/big.bin"' || diag <"$W/curl-web.log"
check web-skips-queue '[ "$(in_gw iptables-save -c -t filter | grep -- "-m connmark --mark 0x800000/0x800000 -j RETURN" |
	sed "s/^\[\([0-9]*\):.*/\1/")" -gt 100 ]' || in_gw iptables-save -c -t filter | diag
check legit-mail-after-blocks 'mail_ok 2 && delivered 2' || diag <"$W/swaks-ok-2.log"

# clean stop: the records are written, the alerts say "blocked"
stop_pid "$RW_PID" TERM; RW_PID=
check alert-relay-blocked 'alert_blocked "$W/eve-1.json" 1000005'
check alert-connect-blocked 'alert_blocked "$W/eve-1.json" 1000108'
check alert-open-proxy-blocked 'alert_blocked "$W/eve-1.json" 1000101'
check stats-verdicts '"$PY" -c "
import json, sys
st = [json.loads(l) for l in open(sys.argv[1]) if \"\\\"stats\\\"\" in l][-1][\"stats\"]
q = st[\"nfqueue\"]
sys.exit(0 if q[\"verdict\"][\"drop\"] > 0 and q[\"verdict\"][\"marked_drop\"] > 0 and q[\"verdict\"][\"bypass_marked\"] > 0 and q[\"verdict\"][\"accept\"] > 0 and q[\"packets\"] > 0 else 1)
" "$W/eve-1.json"'

# kill -9 with a mail in flight: traffic keeps flowing (--queue-bypass)
rw_start 2 || notok "relaywatch-restart"
mail_ok 3 & M3=$!
sleep 0.3
check kill9-was-relaywatch 'grep -q relaywatch "/proc/$RW_PID/cmdline"'
kill -9 "$RW_PID"; wait "$RW_PID" 2>/dev/null; RW_PID=
check kill9-queue-gone '! in_gw awk "\$1 == 0 { f = 1 } END { exit !f }" /proc/net/netfilter/nfnetlink_queue' 
wait "$M3"; rc=$?
check kill9-mail-in-flight-delivered '[ $rc = 0 ] && delivered 3' || diag <"$W/swaks-ok-3.log"
check kill9-new-mail-delivered 'mail_ok 4 && delivered 4' || diag <"$W/swaks-ok-4.log"
# the control: with nobody on the queue the relay is open (it was
# relaywatch that stopped it above) and the sink gets the mail
mail_relay 0; rc=$?
check control-relay-open-without-relaywatch '[ $rc = 0 ] && wait_grep "victim0@foreign.example" "$W/sink.log"' ||
	diag <"$W/swaks-relay-0.log"

# restarted: blocks again
rw_start 3 || notok "relaywatch-restart-2"
mail_relay 2; rc=$?
check restarted-blocks-relay '[ $rc != 0 ] && ! grep -q "victim2@foreign.example" "$W/pf/maillog"'
stop_pid "$RW_PID" TERM; RW_PID=
check alert-after-restart 'alert_blocked "$W/eve-3.json" 1000005'

# --inline-policy monitor: everything passes, the alert says what would
# have been blocked (action "allowed", rule_action "block"), counted
rw_start 4 --inline-policy monitor || notok "relaywatch-monitor-start"
mail_relay 3; rc=$?
check monitor-relay-passes '[ $rc = 0 ] && wait_grep "victim3@foreign.example" "$W/sink.log"' ||
	diag <"$W/swaks-relay-3.log"
stop_pid "$RW_PID" TERM; RW_PID=
check monitor-alert-would-block 'alert_blocked "$W/eve-4.json" 1000005 allowed &&
	! alert_blocked "$W/eve-4.json" 1000005 blocked'
check monitor-counted '"$PY" -c "
import json, sys
st = [json.loads(l) for l in open(sys.argv[1]) if \"\\\"stats\\\"\" in l][-1][\"stats\"]
v = st[\"nfqueue\"][\"verdict\"]
sys.exit(0 if v[\"monitor_would_drop\"] > 0 and v[\"drop\"] == 0 else 1)
" "$W/eve-4.json"'

# a stuck engine thread: the watchdog unbinds the queue, traffic passes
# (the stuck packet's TCP retransmission included), says so, counts it
export RELAYWATCH_TEST_STALL_MS=4000
rw_start 5 --queue-stall-ms 1000 || notok "relaywatch-stall-start"
unset RELAYWATCH_TEST_STALL_MS
t0=$(date +%s%N)
in_inet timeout 20 curl -sS --max-time 15 -o "$W/stall.out" "http://$SRV/small.txt?rwnfq-stall" \
	2>"$W/curl-stall.log"; rc=$?
t1=$(date +%s%N)
check stall-traffic-passes '[ $rc = 0 ] && cmp -s "$W/stall.out" "$W/www/small.txt" &&
	[ $(( (t1 - t0) / 1000000 )) -lt 3500 ]' ||
	{ echo "rc $rc, $(( (t1 - t0) / 1000000 )) ms"; cat "$W/curl-stall.log"; } | diag
check stall-mail-passes 'mail_ok 5 && delivered 5'
check stall-said 'grep -q "queue unbound, traffic passes unseen" "$W/rw-5.out"' || diag <"$W/rw-5.out"
check stall-clean-stop 'stop_pid "$RW_PID" TERM'; RW_PID=
check stall-counted '"$PY" -c "
import json, sys
st = [json.loads(l) for l in open(sys.argv[1]) if \"\\\"stats\\\"\" in l][-1][\"stats\"]
sys.exit(0 if st[\"nfqueue\"][\"stalled_unbound\"] == 1 else 1)
" "$W/eve-5.json"'

check firewall-remove 'in_gw "$RW" firewall remove >"$W/fw-rm.out" 2>&1'
fw_snapshot >"$W/fw-after.txt"
check firewall-remove-restores 'cmp -s "$W/fw-before.txt" "$W/fw-after.txt"' ||
	diff "$W/fw-before.txt" "$W/fw-after.txt" | diag
exit 0
