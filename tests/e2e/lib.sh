# tests/e2e/lib.sh - what the namespace end-to-end suites share
# (tests/e2e_live.sh, tests/e2e_nfq.sh). Source it after setting:
#   E2E_NAME   TAP prefix of every line ("e2e_live": "ok - e2e_live/x")
#   E2E_SKIP   the line that skips the whole suite ("e2e_live/all")
#   FAILED=0, W (work dir), NS_GW/NS_LAN/NS_INET, SRV/CLIENT/SINK,
#   declare -A BG=()
# The functions read those globals when called.

ok() { echo "ok - $E2E_NAME/$1"; }
notok() { echo "not ok - $E2E_NAME/$1"; FAILED=1; }
diag() { sed 's/^/#   /'; }
check() { if eval "$2"; then ok "$1"; else notok "$1"; return 1; fi; }
skip_all() { echo "ok - $E2E_SKIP # SKIP $1"; exit 0; }

# alive PID: exists and is not a zombie (PID 1 here reaps orphans late)
alive() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# stop_pid PID [SIG]: SIG (TERM), wait 5 s, then KILL. 0 if it went by SIG.
stop_pid() {
	local pid=$1 sig=${2:-TERM} i
	kill -"$sig" "$pid" 2>/dev/null
	for i in $(seq 1 50); do
		alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 1
}

kill_ns() {
	local ns=$1 pids
	pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
	# shellcheck disable=SC2086
	[ -n "${pids// /}" ] && kill -9 $pids 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "/etc/netns/$ns"
}

in_gw() { ip netns exec "$NS_GW" "$@"; }
in_lan() { ip netns exec "$NS_LAN" "$@"; }
in_inet() { ip netns exec "$NS_INET" "$@"; }

setup_ns() {
	local ns=$1
	ip netns list | grep -q "^$ns\b" || ip netns add "$ns" || return 1
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null
	# nothing in here asks the host's resolver (ip netns exec bind-mounts these)
	mkdir -p "/etc/netns/$ns"
	printf '127.0.0.1\tlocalhost\n%s\tmx.lan.example proxy.lan.example\n%s\tclient.inet.example\n%s\tmx.foreign.example\n' \
		"$SRV" "$CLIENT" "$SINK" >"/etc/netns/$ns/hosts"
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"/etc/netns/$ns/resolv.conf"
}

# bg NAME NS CMD...: a daemon in NS, output in $W/NAME.out, pid in BG[NAME]
bg() {
	local name=$1 ns=$2; shift 2
	ip netns exec "$ns" "$@" >"$W/$name.out" 2>&1 &
	BG[$name]=$!
}

wait_port() {   # wait_port NS IP PORT (5 s)
	local i
	for i in $(seq 1 50); do
		ip netns exec "$1" ss -Hltn "src $2:$3" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}
