#!/bin/bash
# e2e_live.sh - relaywatch live on a gateway, against real servers.
#
# Topology (network namespaces built here, no link to the host, no route
# out of them):
#
#   rwe2e-inet                  rwe2e-gw (ip_forward=1)          rwe2e-lan
#   203.0.113.66 client  eth0 -- eth-inet 203.0.113.1
#   203.0.113.77 sink:25            eth-lan 10.0.0.1 ------ eth0 10.0.0.25
#   (aiosmtpd, "foreign MX")        ^ relaywatch + tcpdump        postfix :25
#                                                                 tinyproxy :8888
#                                                                 microsocks :1080
#                                                                 socat sink :5001
#
# Traffic, every client from the internet namespace: swaks mail to a LAN
# mailbox (accepted, 240 KB body), swaks relay attempt (554 5.7.1), curl
# SMTP through tinyproxy (HTTP CONNECT to the sink's port 25), curl SMTP
# through microsocks (SOCKS5 to the sink's port 25), and a bulk transfer
# (40 MB to port 5001) that must stay in the kernel.
#
# relaywatch runs on the gateway's LAN interface (each packet crosses it
# once) in four runs: eBPF and pcap, each with offloads off (MTU frames)
# and on (GSO/TSO super-packets of up to 64 KB). tcpdump records the same
# interface meanwhile; `relaywatch -r` of that capture is the reference:
# the live smtp/http/socks/alert records must equal it (timestamps and
# flow ids aside). The first eBPF run also kills relaywatch with -9 and
# restarts it: exactly one tc filter per hook before and after, none after
# a clean stop.
#
# Output: TAP-like "ok - e2e_live/NAME" / "not ok - ..." / "# SKIP".
# Scratch files of a failed run are kept (path printed; E2E_KEEP=1 keeps
# them always). E2E_RW_ARGS adds options to the live relaywatch, E2E_BULK_MB
# sets the bulk size (40). ~20 s.
#
# check() evals its single-quoted condition (variables used there look
# unused to shellcheck); cleanup runs from the EXIT trap.
# shellcheck disable=SC2016,SC2034,SC2317
set -u
cd "$(dirname "$0")/.." || exit 1

BUILD=${BUILD:-build}
RW=$(pwd)/$BUILD/relaywatch
HELP=$(pwd)/tests/e2e/e2e_eve.py
FXSINK=$(pwd)/tests/fixtures/fxsink.py
PY=/usr/bin/python3          # Debian's: has aiosmtpd
NS_GW=rwe2e-gw
NS_LAN=rwe2e-lan
NS_INET=rwe2e-inet
IF=eth-lan                   # the monitored gateway interface
CLIENT=203.0.113.66
SINK=203.0.113.77
SRV=10.0.0.25
BULK_PORT=5001
BULK_MB=${E2E_BULK_MB:-40}
W=
FAILED=0
declare -A BG=()             # name -> pid of daemons we started
PF_STARTED=0

E2E_NAME=e2e_live
E2E_SKIP=e2e_live/all
. tests/e2e/lib.sh     # the cd above: paths are from the repository root

cleanup() {
	local n
	trap - EXIT
	[ -n "${WATCHDOG:-}" ] && kill "$WATCHDOG" 2>/dev/null
	[ "$PF_STARTED" = 1 ] && postfix -c "$W/pf/conf" stop >/dev/null 2>&1
	[ -n "${RW_PID:-}" ] && stop_pid "$RW_PID" KILL
	[ -n "${TD_PID:-}" ] && stop_pid "$TD_PID"
	for n in "${!BG[@]}"; do stop_pid "${BG[$n]}"; done
	for n in "$NS_GW" "$NS_LAN" "$NS_INET"; do kill_ns "$n"; done
	if [ -n "$W" ]; then
		if [ "$FAILED" = 0 ] && [ -z "${E2E_KEEP:-}" ]; then
			rm -rf "$W"
		else
			echo "# e2e_live: scratch files kept in $W"
		fi
	fi
}

# ---- prerequisites ---------------------------------------------------------

[ "$(id -u)" = 0 ] || skip_all "not root"
for c in ip tc ethtool tcpdump postfix postconf swaks curl tinyproxy microsocks socat timeout ss; do
	command -v "$c" >/dev/null 2>&1 || skip_all "$c missing"
done
"$PY" -c 'import aiosmtpd' 2>/dev/null || skip_all "$PY lacks aiosmtpd (python3-aiosmtpd)"
[ -x "$RW" ] || skip_all "$RW not built"
[ -f "$FXSINK" ] || skip_all "$FXSINK missing"

trap cleanup EXIT
trap 'exit 130' INT TERM
for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^rwe2e-'); do
	kill_ns "$n"        # leftovers of a killed earlier run
done
rm -rf /etc/netns/rwe2e-*
rm -rf /var/tmp/rwe2e.*
# under /var: postfix's maillog_file must be below maillog_file_prefixes
W=$(mktemp -d /var/tmp/rwe2e.XXXXXX) || exit 1
chmod 755 "$W"


# Kernel features, checked apart from relaywatch so that a broken loader is
# a failure, not a skip: network namespaces + veth, clsact, the bpf syscall.
ip netns add "$NS_GW" 2>/dev/null || skip_all "cannot create network namespaces"
in_gw ip link set lo up
in_gw tc qdisc add dev lo clsact 2>/dev/null || skip_all "no clsact qdisc (sch_ingress)"
in_gw tc qdisc del dev lo clsact
[ -e /proc/sys/kernel/unprivileged_bpf_disabled ] || skip_all "kernel without the bpf syscall"

# ---- topology --------------------------------------------------------------

topology() {
	setup_ns "$NS_GW" && setup_ns "$NS_LAN" && setup_ns "$NS_INET" || return 1
	in_gw sysctl -qw net.ipv4.ip_forward=1 || return 1
	ip link add eth-inet netns "$NS_GW" type veth peer name eth0 netns "$NS_INET" || return 1
	ip link add eth-lan netns "$NS_GW" type veth peer name eth0 netns "$NS_LAN" || return 1
	ip -n "$NS_GW" addr add 203.0.113.1/24 dev eth-inet
	ip -n "$NS_GW" addr add 10.0.0.1/24 dev eth-lan
	ip -n "$NS_INET" addr add "$CLIENT/24" dev eth0
	ip -n "$NS_INET" addr add "$SINK/24" dev eth0
	ip -n "$NS_LAN" addr add "$SRV/24" dev eth0
	ip -n "$NS_GW" link set eth-inet up
	ip -n "$NS_GW" link set eth-lan up
	ip -n "$NS_INET" link set eth0 up
	ip -n "$NS_LAN" link set eth0 up
	ip -n "$NS_INET" route add default via 203.0.113.1 || return 1
	ip -n "$NS_LAN" route add default via 10.0.0.1 || return 1
}

# offloads on|off on all four veth ends. off: MTU frames, full checksums;
# on: TSO/GSO super-packets cross the gateway whole (and reach tc and
# tcpdump whole, with partial checksums).
offloads() {
	local v=$1
	in_gw ethtool -K eth-inet tx "$v" rx "$v" tso "$v" gso "$v" gro "$v" >/dev/null 2>&1
	in_gw ethtool -K eth-lan tx "$v" rx "$v" tso "$v" gso "$v" gro "$v" >/dev/null 2>&1
	in_inet ethtool -K eth0 tx "$v" rx "$v" tso "$v" gso "$v" gro "$v" >/dev/null 2>&1
	in_lan ethtool -K eth0 tx "$v" rx "$v" tso "$v" gso "$v" gro "$v" >/dev/null 2>&1
}

# ---- servers ---------------------------------------------------------------

postfix_setup() {
	local PF=$W/pf
	mkdir -p "$PF/conf" "$PF/queue" "$PF/data" "$PF/mail"
	chown postfix:postfix "$PF/data"
	chown 65534:65534 "$PF/mail"
	# the package's default master.cf (postinst copies it to /etc/postfix)
	cp /etc/postfix/master.cf "$PF/conf/master.cf" 2>/dev/null ||
		cp /usr/share/postfix/master.cf.dist "$PF/conf/master.cf" || return 1
	cat >"$PF/conf/main.cf" <<EOF
# relaywatch e2e_live instance: closed relay for the LAN
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
syslog_name = rwe2e-postfix
maillog_file = $PF/maillog
myhostname = mx.lan.example
mydomain = lan.example
myorigin = \$myhostname
mydestination = localhost
smtpd_banner = \$myhostname ESMTP Postfix (Debian/GNU)
biff = no
append_dot_mydomain = no
readme_directory = no
inet_interfaces = all
inet_protocols = ipv4
mynetworks = 127.0.0.0/8 10.0.0.0/24
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
message_size_limit = 10240000
EOF
	printf 'bob@lan.example bob/\n' >"$PF/conf/vmailbox"
	postconf -c "$PF/conf" -F '*/*/chroot = n'
	# listen on the LAN address only (inet_interfaces = all: "postfix
	# stop", run outside the namespace, must not look for that address)
	postconf -c "$PF/conf" -MX smtp/inet
	postconf -c "$PF/conf" -M "$SRV:smtp/inet=$SRV:smtp inet n - n - - smtpd"
	postconf -c "$PF/conf" -M 'postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd'
	postfix -c "$PF/conf" check >"$W/postfix-check.out" 2>&1 || return 1
	PF_STARTED=1
	in_lan postfix -c "$PF/conf" start >"$W/postfix-start.out" 2>&1
}

tinyproxy_conf() {
	touch "$W/tinyproxy.log"
	chown nobody:nogroup "$W/tinyproxy.log"
	# no Allow, no ConnectPort: an open proxy that CONNECTs anywhere
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
}

servers() {
	postfix_setup || { cat "$W"/postfix-*.out | diag; return 1; }
	tinyproxy_conf
	bg tinyproxy "$NS_LAN" timeout 170 tinyproxy -d -c "$W/tinyproxy.conf"
	bg microsocks "$NS_LAN" timeout 170 microsocks -i "$SRV" -p 1080
	bg sink "$NS_INET" "$PY" "$FXSINK" --listen "$SINK" --port 25 \
		--log "$W/sink.log" --max-seconds 170
	wait_port "$NS_LAN" "$SRV" 25 && wait_port "$NS_LAN" "$SRV" 8888 &&
		wait_port "$NS_LAN" "$SRV" 1080 && wait_port "$NS_INET" "$SINK" 25
}

# ---- clients ---------------------------------------------------------------

# A 240 KB body: with offloads on the DATA crosses the gateway as GSO
# super-packets, which the eBPF side must hand over in chunks.
mkbody() {
	local i
	{
		printf 'Subject: relaywatch e2e\r\n\r\n'
		for i in $(seq 1 4096); do
			printf 'line %05d of the relaywatch end-to-end test body ......\r\n' "$i"
		done
	} >"$W/body.txt"
	printf 'Subject: via proxy\r\n\r\nrelaywatch e2e, through a proxy.\r\n' >"$W/small.txt"
}

# mail_ok TAG: swaks, internet client -> postfix, LAN mailbox: exit 0
mail_ok() {
	in_inet timeout 20 swaks --server "$SRV" --port 25 --helo client.inet.example \
		--from "alice@inet.example" --to bob@lan.example \
		--body "$W/body.txt" --timeout 10 >"$W/swaks-ok-$1.log" 2>&1
}
# mail_relay TAG: foreign recipient, swaks exits 24 (recipient refused)
mail_relay() {
	in_inet timeout 20 swaks --server "$SRV" --port 25 --helo client.inet.example \
		--from "mallory@inet.example" --to victim@foreign.example \
		--timeout 10 >"$W/swaks-relay-$1.log" 2>&1
	[ $? = 24 ] && grep -q '554 5.7.1' "$W/swaks-relay-$1.log"
}
curl_connect() {
	in_inet timeout 20 curl -sS --max-time 15 -p -x "http://$SRV:8888" \
		--mail-from spammer@inet.example --mail-rcpt victim@foreign.example \
		-T "$W/small.txt" "smtp://$SINK:25/client.inet.example" >"$W/curl-connect-$1.log" 2>&1
}
curl_socks() {
	in_inet timeout 20 curl -sS --max-time 15 --socks5 "$SRV:1080" \
		--mail-from spammer@inet.example --mail-rcpt victim@foreign.example \
		-T "$W/small.txt" "smtp://$SINK:25/client.inet.example" >"$W/curl-socks-$1.log" 2>&1
}
# bulk TAG: BULK_MB MB internet -> LAN port 5001; the receiver counts them
bulk() {
	local got
	rm -f "$W/bulk-$1.count"
	ip netns exec "$NS_LAN" timeout 30 sh -c \
		"socat -u TCP-LISTEN:$BULK_PORT,bind=$SRV,reuseaddr STDOUT | wc -c >'$W/bulk-$1.count'" &
	local rpid=$!
	wait_port "$NS_LAN" "$SRV" "$BULK_PORT" || { kill "$rpid"; return 1; }
	in_inet timeout 30 sh -c "head -c ${BULK_MB}M /dev/zero | socat -u STDIN TCP:$SRV:$BULK_PORT" ||
		{ kill "$rpid" 2>/dev/null; wait "$rpid"; return 1; }
	wait "$rpid"
	got=$(cat "$W/bulk-$1.count" 2>/dev/null)
	[ "$got" = $((BULK_MB * 1024 * 1024)) ]
}

# ---- relaywatch and the tc hooks -------------------------------------------

RW_PID=
TD_PID=

# bpf filters on a hook of the monitored interface (ours: handle 0x5257;
# any other one would be a second copy, so all are counted)
nfilt() { in_gw tc filter show dev "$IF" "$1" 2>/dev/null | grep -c ' bpf .*handle 0x'; }
progid() { in_gw tc filter show dev "$IF" "$1" 2>/dev/null | grep 'handle 0x5257 ' | grep -o ' id [0-9]*' | head -1; }
has_clsact() { in_gw tc qdisc show dev "$IF" | grep -q clsact; }
npacket_socks() { in_gw cat /proc/net/packet 2>/dev/null | tail -n +2 | wc -l; }

# rw_start MODE OUT [OLD_IN OLD_EG]: start relaywatch and wait (5 s) until
# it captures: eBPF: our filter on both hooks, with a program id other than
# OLD_* (a restart replaces the killed instance's program); pcap: one more
# packet socket in the gateway namespace.
rw_start() {
	local mode=$1 out=$2 old_in=${3:-none} old_eg=${4:-none} i nsock
	nsock=$(npacket_socks)
	# not through in_gw: signals must reach relaywatch itself
	# shellcheck disable=SC2086  # E2E_RW_ARGS: extra options, for debugging
	ip netns exec "$NS_GW" "$RW" -i "$IF" --capture "$mode" --workers 2 \
		${E2E_RW_ARGS:-} --eve "$out" 2>"$out.err" &
	RW_PID=$!
	for i in $(seq 1 50); do
		alive "$RW_PID" || break
		if [ "$mode" = ebpf ]; then
			local pi pe
			pi=$(progid ingress) pe=$(progid egress)
			[ -n "$pi" ] && [ -n "$pe" ] && [ "$pi" != "$old_in" ] &&
				[ "$pe" != "$old_eg" ] && { sleep 0.2; return 0; }
		elif [ "$(npacket_socks)" -gt "$nsock" ]; then
			sleep 0.3      # the socket exists; let the filter be set
			return 0
		fi
		sleep 0.1
	done
	echo "# relaywatch ($mode) did not start capturing:"
	diag <"$out.err"
	return 1
}

td_start() {
	ip netns exec "$NS_GW" tcpdump -i "$IF" -n -s 0 -B 131072 -U --immediate-mode -Z root -w "$1" ip 2>"$1.err" &
	TD_PID=$!
	local i
	for i in $(seq 1 50); do
		grep -q 'listening on' "$1.err" 2>/dev/null && return 0
		alive "$TD_PID" || break
		sleep 0.1
	done
	diag <"$1.err"
	return 1
}
td_stop() {
	sleep 0.3
	[ -n "$TD_PID" ] && stop_pid "$TD_PID"
	TD_PID=
}

# ---- one run ---------------------------------------------------------------

# scenario TAG: all the traffic; one check per client
scenario() {
	local t=$1 f=${1//\//-}
	check "$t/traffic_mail_accepted" 'mail_ok "$f"'
	check "$t/traffic_relay_refused" 'mail_relay "$f"'
	check "$t/traffic_http_connect_smtp" 'curl_connect "$f"'
	check "$t/traffic_socks5_smtp" 'curl_socks "$f"'
	check "$t/traffic_bulk_${BULK_MB}MB" 'bulk "$f"'
}

# stat EVE NAME: one stats counter ("-" if absent)
stat() { "$PY" "$HELP" stat "$1" "$2"; }

# run MODE OFFLOAD [kill9]
run() {
	local mode=$1 off=$2 t="$1/gso_$2" d=$W/$1-$2
	local eve=$d/live.json ref=$d/ref.pcap
	mkdir -p "$d"
	offloads "$off"
	echo "# run: $mode capture, offloads $off"

	if [ "${3:-}" = kill9 ]; then
		# A: started, used, killed with -9 mid-run (its filters stay)
		if rw_start "$mode" "$d/killed.json"; then
			check "$t/one_filter_per_hook" '[ "$(nfilt ingress)" = 1 ] && [ "$(nfilt egress)" = 1 ]'
			mail_relay "${t//\//-}-killed"
			local old_in old_eg
			old_in=$(progid ingress) old_eg=$(progid egress)
			kill -9 "$RW_PID"; wait "$RW_PID" 2>/dev/null; RW_PID=
			check "$t/kill9_leaves_one_filter_per_hook" '[ "$(nfilt ingress)" = 1 ] && [ "$(nfilt egress)" = 1 ]'
			check "$t/kill9_traffic_still_flows" 'mail_relay "${t//\//-}-after-kill"'
			# B: the restart replaces the stale filter, never adds one
			if rw_start "$mode" "$eve" "$old_in" "$old_eg"; then
				check "$t/restart_one_filter_per_hook" '[ "$(nfilt ingress)" = 1 ] && [ "$(nfilt egress)" = 1 ]'
			else
				notok "$t/restart"
				return
			fi
		else
			notok "$t/start"
			return
		fi
		sleep 0.5      # the last FIN/ACKs of A's traffic, before the reference
		td_start "$ref" || { notok "$t/tcpdump_start"; return; }
	else
		td_start "$ref" || { notok "$t/tcpdump_start"; return; }
		rw_start "$mode" "$eve" || { notok "$t/start"; td_stop; return; }
		[ "$mode" = ebpf ] &&
			check "$t/one_filter_per_hook" '[ "$(nfilt ingress)" = 1 ] && [ "$(nfilt egress)" = 1 ]'
	fi

	scenario "$t"
	sleep 2        # let relaywatch catch up before the stop (with 1 s, a
	               # loaded machine once gave a live SOCKS flow record one
	               # packet short and without the kernel's counters)
	local clean=1
	stop_pid "$RW_PID" TERM || clean=0
	RW_PID=
	td_stop
	check "$t/sigterm_exits" '[ $clean = 1 ]'
	check "$t/reference_capture_complete" 'grep -q "^0 packets dropped by kernel" "$ref.err"' ||
		grep dropped "$ref.err" | diag
	if [ "$mode" = ebpf ]; then
		check "$t/clean_stop_removes_filters" '[ "$(nfilt ingress)" = 0 ] && [ "$(nfilt egress)" = 0 ]'
		check "$t/clean_stop_removes_clsact" '! has_clsact'
		check "$t/no_pcap_fallback" '! grep -q libpcap "$eve.err"'
	fi
	[ -s "$eve.err" ] && { echo "# relaywatch stderr:"; diag <"$eve.err"; }

	# reference: the same traffic, offline
	"$RW" -r "$ref" --eve "$d/ref.json" 2>"$d/ref.err" ||
		{ notok "$t/offline_reference"; diag <"$d/ref.err"; }
	check "$t/reference_has_scenario_records" '"$PY" "$HELP" expect "$d/ref.json" >"$d/ref.expect"' ||
		diag <"$d/ref.expect"
	check "$t/live_has_scenario_records" '"$PY" "$HELP" expect "$eve" >"$d/live.expect"' ||
		diag <"$d/live.expect"
	"$PY" "$HELP" norm "$d/ref.json" >"$d/ref.norm"
	"$PY" "$HELP" norm "$eve" >"$d/live.norm"
	check "$t/records_equal_offline" 'diff "$d/ref.norm" "$d/live.norm" >"$d/norm.diff"' ||
		head -c 6000 "$d/norm.diff" | diag
	"$PY" "$HELP" alerts "$d/ref.json" >"$d/ref.alerts"
	"$PY" "$HELP" alerts "$eve" >"$d/live.alerts"
	check "$t/alerts_equal_offline" '[ -s "$d/ref.alerts" ] && diff "$d/ref.alerts" "$d/live.alerts" >"$d/alerts.diff"' ||
		diag <"$d/alerts.diff"
	# flow records: the same flows, ends and states; their packet/byte
	# counters are compared for information only (see the note)
	"$PY" "$HELP" flows "$d/ref.json" >"$d/ref.flows"
	"$PY" "$HELP" flows "$eve" >"$d/live.flows"
	check "$t/flow_records_equal_offline" '[ -s "$d/ref.flows" ] && diff "$d/ref.flows" "$d/live.flows" >"$d/flows.diff"' ||
		head -c 3000 "$d/flows.diff" | diag
	"$PY" "$HELP" flows "$d/ref.json" --counters >"$d/ref.fcnt"
	"$PY" "$HELP" flows "$eve" --counters >"$d/live.fcnt"
	if ! diff -q "$d/ref.fcnt" "$d/live.fcnt" >/dev/null; then
		echo "# note: flow packet/byte counters differ from offline in $(diff "$d/ref.fcnt" "$d/live.fcnt" | grep -c '^>') of $(wc -l <"$d/ref.fcnt") flow records (live first):"
		paste -d'\n' "$d/live.fcnt" "$d/ref.fcnt" | head -4 | cut -c1-220 | diag
	fi
	if [ "$mode" = ebpf ]; then
		check "$t/flow_counters_from_kernel" '"$PY" "$HELP" flowcmp "$d/ref.json" "$eve" >"$d/flowcmp.out"' ||
			diag <"$d/flowcmp.out"
	fi
	check "$t/stats_record" 'grep -q "\"event_type\":\"stats\"" "$eve"'

	# bulk: no record, and (almost) no byte of it in user space
	check "$t/bulk_no_records" '[ "$("$PY" "$HELP" port "$eve" $BULK_PORT)" = 0 ]'
	local sum bb bp ob op maxf
	sum=$("$PY" "$HELP" pcapsum "$ref" $BULK_PORT) || sum="0 0 0 0 0"
	read -r bb bp ob op maxf <<<"$sum"
	echo "# wire ($IF): bulk ${bb} B in ${bp} pkts, other TCP ${ob} B in ${op} pkts, largest frame ${maxf} B"
	if [ "$off" = on ]; then
		check "$t/gso_super_packets_seen" '[ "$maxf" -gt 8000 ]'
	else
		check "$t/mtu_frames_only" '[ "$maxf" -le 1514 ]'
	fi
	local user_note
	if [ "$mode" = ebpf ]; then
		local kpay del miss rbf bypass undec mchunk
		kpay=$(stat "$eve" tcp_payload_bytes)
		del=$(stat "$eve" user.payload_bytes_delivered)
		miss=$(stat "$eve" user.payload_bytes_missing)
		rbf=$(stat "$eve" drop.ringbuf_full_records)
		bypass=$(stat "$eve" flow.bypassed_packets)
		undec=$(stat "$eve" flow.undecided_not_sent)
		mchunk=$(stat "$eve" user.multi_chunk_packets)
		echo "# ebpf: tcp_payload_bytes=$kpay delivered=$del missing=$miss ringbuf_full=$rbf bypassed_pkts=$bypass undecided_not_sent=$undec multi_chunk=$mchunk"
		check "$t/ebpf_stats_present" '[ "$kpay" != - ] && [ "$del" != - ]'
		[ "$kpay" = - ] && kpay=0
		[ "$del" = - ] && del=0
		# the mail/proxy flows are inspected whole (their records equal the
		# reference): what user space got beyond their bytes is bulk
		local bulk_user=$((del - ob))
		[ "$bulk_user" -lt 0 ] && bulk_user=0
		local pm=$(( bb > 0 ? bulk_user * 10000 / bb : 10000 ))
		user_note=$(printf 'bulk bytes to user space: %d of %d (%d.%02d%%)' "$bulk_user" "$bb" $((pm / 100)) $((pm % 100)))
		echo "# $user_note"
		check "$t/bulk_stays_in_kernel" '[ "$bb" -gt 0 ] && [ "$((bulk_user * 100))" -le "$bb" ]'
		check "$t/bulk_bypassed_in_kernel" '[ "$((${bypass/-/0} + ${undec/-/0}))" -gt 0 ]'
		check "$t/ebpf_wire_bytes_match_tcpdump" '[ "$kpay" = "$((bb + ob))" ]' ||
			echo "#   kernel saw $kpay payload bytes, tcpdump $((bb + ob))"
		check "$t/ebpf_no_loss" '[ "$miss" = 0 ] && [ "$rbf" = 0 ]'
		[ "$off" = on ] && check "$t/ebpf_gso_chunked" '[ "${mchunk/-/0}" -gt 0 ]'
	else
		local cp cb
		cp=$(stat "$eve" capture.packets)
		cb=$(stat "$eve" capture.bytes)
		[ "$cp" = - ] && cp=999999999
		[ "$cb" = - ] && cb=999999999
		user_note="capture.packets=$cp (wire: $((bp + op)), bulk $bp), capture.bytes=$cb (bulk payload $bb)"
		echo "# pcap: $user_note"
		# the kernel filter keeps every bulk packet out: user space gets
		# at most the other flows' packets
		check "$t/bulk_filtered_in_kernel" '[ "$cp" -le "$op" ] && [ "$((cb * 100))" -le "$bb" ]'
	fi
	echo "# summary $mode gso=$off: live $("$PY" "$HELP" counts "$eve"); offline $("$PY" "$HELP" counts "$d/ref.json"); $user_note"
}

# ---- main ------------------------------------------------------------------

T0=$(date +%s)
# watchdog: every client is bounded, this bounds the sum
(
	trap 'kill "$sp" 2>/dev/null; exit 0' TERM
	sleep 175 & sp=$!
	wait "$sp" && { echo "not ok - e2e_live/watchdog: still running after 175 s"; kill -TERM $$; }
) &
WATCHDOG=$!
if ! topology; then
	notok setup_topology
	exit 1
fi
ok setup_topology
if servers; then
	ok setup_servers
else
	notok setup_servers
	for n in "${!BG[@]}"; do echo "# $n:"; diag <"$W/$n.out"; done
	exit 1
fi
mkbody

run ebpf off kill9
run pcap off
run ebpf on
run pcap on

T1=$(date +%s)
echo "# e2e_live: $((T1 - T0)) s"
check within_time_budget '[ $((T1 - T0)) -lt 170 ]'
exit $FAILED
