#!/usr/bin/env python3
"""e2e_eve.py - helpers for tests/e2e_live.sh: EVE files and pcaps.

usage:
  e2e_eve.py norm EVE            protocol records (smtp, http, socks)
  e2e_eve.py alerts EVE          the rule ids that fired, with their counts
  e2e_eve.py flowcmp REF LIVE    eBPF flow counters (kernel) vs offline
                                 with the fields that differ between two
                                 captures of the same traffic removed
                                 (timestamps, flow ids), one sorted JSON line
                                 each: two runs compare with diff
  e2e_eve.py flows EVE [--counters]
                                 flow records the same way, without their
                                 packet/byte counters (with --counters: only
                                 the tuple and the counters)
  e2e_eve.py counts EVE          "smtp=N http=N socks=N alert=N flow=N stats=N"
  e2e_eve.py expect EVE          check the records the scenario must produce;
                                 one line per missing record, exit 1 if any
  e2e_eve.py port EVE PORT       number of records with PORT as src or dest
  e2e_eve.py stat EVE NAME...    values of stats counters, one per line; NAME
                                 is a dotted suffix of the flattened stats
                                 record ("capture.packets",
                                 "user.payload_bytes_delivered"); "-" if absent
  e2e_eve.py pcapsum PCAP PORT   "port_bytes port_pkts other_bytes other_pkts
                                 max_frame": TCP payload bytes and packets of
                                 the flows on PORT and of all others, and the
                                 largest frame (> 1514: GSO super-packets)

Addresses are those of tests/e2e_live.sh. Standard library only; every input
is read whole (the files are small, the pcap is the bulk one: tens of MB,
read in one pass)."""
import collections
import json
import struct
import sys

PROTO_TYPES = ("smtp", "http", "socks")
# differ from one capture of the same traffic to another
VOLATILE = {"timestamp", "flow_id", "parent_flow_id", "start", "end", "age",
            "pcap_cnt", "tx_id_global"}

INET_CLIENT = "203.0.113.66"
SINK = "203.0.113.77"
LAN_SRV = "10.0.0.25"


def load(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError as e:
                # a torn line is a finding, not a crash of the helper
                out.append({"event_type": "BROKEN_LINE",
                            "error": "line %d: %s" % (n, e)})
    return out


def strip(obj):
    if isinstance(obj, dict):
        return {k: strip(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [strip(v) for v in obj]
    return obj


def cmd_alerts(path):
    """The rules that fired, each with its number of alerts. Live, the
    workers (two here) share one rule state updated in packet order, so the
    rate limits, thresholds and correlations give the counts of the
    one-worker offline run; which of two identical flows carried an alert is
    not compared (a live clock may order their facts differently)."""
    counts = collections.Counter(r.get("alert", {}).get("rule")
                                 for r in load(path)
                                 if r.get("event_type") == "alert")
    for rule in sorted(counts):
        print(f"{rule} {counts[rule]}")
    return 0


def cmd_norm(path):
    lines = [json.dumps(strip(r), sort_keys=True) for r in load(path)
             if r.get("event_type") in PROTO_TYPES + ("BROKEN_LINE",)]
    for l in sorted(lines):
        print(l)
    return 0


# "counted_by": "kernel" marks eBPF-mode records whose counters come from
# the kernel's flow table (it also counts what it does not send up)
COUNTERS = ("pkts_toserver", "pkts_toclient", "bytes_toserver",
            "bytes_toclient", "counted_by")


def cmd_flows(path, counters):
    lines = []
    for r in load(path):
        if r.get("event_type") != "flow":
            continue
        r = strip(r)
        f = r.get("flow", {})
        if counters:
            r = {k: r.get(k) for k in ("src_ip", "src_port", "dest_ip",
                                         "dest_port")}
            r["flow"] = {k: f.get(k) for k in COUNTERS}
        else:
            for k in COUNTERS:
                f.pop(k, None)
        lines.append(json.dumps(r, sort_keys=True))
    for l in sorted(lines):
        print(l)
    return 0


def cmd_flowcmp(ref, live):
    """eBPF mode: each live flow record's packet counters come from the
    kernel's table, which sees every packet of the flow on the hook, as
    tcpdump does; it may also count the last ACK after both FINs (the
    offline reader closes the flow at the second FIN): allow +2."""
    def index(path):
        out = {}
        for r in load(path):
            if r.get("event_type") == "flow":
                k = (r.get("src_ip"), r.get("src_port"), r.get("dest_ip"),
                     r.get("dest_port"))
                out[k] = r.get("flow", {})
        return out
    a, b = index(ref), index(live)
    bad = 0
    for k, fa in a.items():
        fb = b.get(k)
        if fb is None:
            print("missing live flow %s" % (k,))
            bad += 1
            continue
        for c in ("pkts_toserver", "pkts_toclient"):
            if not fa[c] <= fb[c] <= fa[c] + 2:
                print("%s %s: offline %d, live %d" % (k, c, fa[c], fb[c]))
                bad += 1
        if fb.get("counted_by") != "kernel":
            print("%s: not counted by the kernel" % (k,))
            bad += 1
    return 1 if bad or not a else 0


def cmd_counts(path):
    c = {}
    for r in load(path):
        t = r.get("event_type", "?")
        c[t] = c.get(t, 0) + 1
    keys = list(PROTO_TYPES) + ["flow", "stats"]
    keys += sorted(k for k in c if k not in keys)
    print(" ".join("%s=%d" % (k, c.get(k, 0)) for k in keys))
    return 0


def ends(r, src, dst, dport):
    return (r.get("src_ip") == src and r.get("dest_ip") == dst
            and r.get("dest_port") == dport)


def cmd_expect(path):
    recs = load(path)
    smtp = [r for r in recs if r.get("event_type") == "smtp"]
    http = [r for r in recs if r.get("event_type") == "http"]
    socks = [r for r in recs if r.get("event_type") == "socks"]

    def rcpts(r):
        return r.get("smtp", {}).get("recipients", [])

    def tun(r):
        return r.get("proxy_tunnel", {}).get("type")

    checks = [
        ("accepted mail 203.0.113.66 -> 10.0.0.25:25, bob@lan.example 250,"
         " DATA complete > 200 KB",
         lambda: any(ends(r, INET_CLIENT, LAN_SRV, 25) and not tun(r)
                     and any(x.get("address") == "bob@lan.example"
                             and x.get("accepted") is True for x in rcpts(r))
                     and r["smtp"].get("data", {}).get("complete") is True
                     and r["smtp"]["data"].get("bytes", 0) > 200 * 1024
                     and r["smtp"]["data"].get("code") == 250
                     for r in smtp)),
        ("relay attempt 203.0.113.66 -> 10.0.0.25:25, victim@foreign.example"
         " refused 554 5.7.1",
         lambda: any(ends(r, INET_CLIENT, LAN_SRV, 25) and not tun(r)
                     and any(x.get("address") == "victim@foreign.example"
                             and x.get("code") == 554
                             and x.get("enhanced") == "5.7.1"
                             and x.get("accepted") is False for x in rcpts(r))
                     for r in smtp)),
        ("http CONNECT 203.0.113.77:25 via 10.0.0.25:8888, status 200",
         lambda: any(ends(r, INET_CLIENT, LAN_SRV, 8888)
                     and r.get("http", {}).get("http_method") == "CONNECT"
                     and r["http"].get("status") == 200
                     and r["http"].get("proxy", {}).get("target_host") == SINK
                     and r["http"]["proxy"].get("target_port") == 25
                     for r in http)),
        ("smtp inside the CONNECT tunnel (proxy_tunnel.type http_connect)",
         lambda: any(ends(r, INET_CLIENT, LAN_SRV, 8888)
                     and tun(r) == "http_connect"
                     and r.get("smtp", {}).get("data", {}).get("code") == 250
                     for r in smtp)),
        ("socks5 CONNECT 203.0.113.77:25 via 10.0.0.25:1080, granted",
         lambda: any(ends(r, INET_CLIENT, LAN_SRV, 1080)
                     and r.get("socks", {}).get("version") == 5
                     and r["socks"].get("command") == "CONNECT"
                     and r["socks"].get("target_host") == SINK
                     and r["socks"].get("target_port") == 25
                     and r["socks"].get("granted") is True
                     for r in socks)),
        ("smtp inside the SOCKS tunnel (proxy_tunnel.type socks5)",
         lambda: any(ends(r, INET_CLIENT, LAN_SRV, 1080)
                     and tun(r) == "socks5"
                     and r.get("smtp", {}).get("data", {}).get("code") == 250
                     for r in smtp)),
        ("two proxy -> sink legs 10.0.0.25 -> 203.0.113.77:25 with DATA 250",
         lambda: sum(1 for r in smtp if ends(r, LAN_SRV, SINK, 25)
                     and r.get("smtp", {}).get("data", {}).get("code") == 250)
         == 2),
    ]
    bad = 0
    for what, fn in checks:
        try:
            ok = fn()
        except (KeyError, TypeError, AttributeError):
            ok = False
        if not ok:
            print("missing: " + what)
            bad += 1
    if any(r.get("event_type") == "BROKEN_LINE" for r in recs):
        print("unparsable EVE line(s)")
        bad += 1
    return 1 if bad else 0


def cmd_port(path, port):
    p = int(port)
    print(sum(1 for r in load(path)
              if r.get("src_port") == p or r.get("dest_port") == p))
    return 0


def flatten(obj, prefix, out):
    if isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, prefix + "." + k if prefix else k, out)
    else:
        out[prefix] = obj
    return out


def cmd_stat(path, names):
    st = [r for r in load(path) if r.get("event_type") == "stats"]
    flat = flatten(st[-1].get("stats", {}), "", {}) if st else {}
    for n in names:
        hits = [v for k, v in flat.items() if k == n or k.endswith("." + n)]
        print(hits[0] if len(hits) == 1 else "-")
    return 0


def cmd_pcapsum(path, port):
    port = int(port)
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        print("0 0 0 0 0")
        return 0
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        sys.stderr.write("%s: not a classic pcap\n" % path)
        return 1
    linktype = struct.unpack(e + "I", data[20:24])[0]
    if linktype != 1:
        sys.stderr.write("%s: linktype %d, want Ethernet\n" % (path, linktype))
        return 1
    off = 24
    pb = pp = ob = op = maxf = 0
    while off + 16 <= len(data):
        incl, orig = struct.unpack(e + "II", data[off + 8:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        maxf = max(maxf, orig)
        if len(pkt) < 14 + 20 or pkt[12:14] != b"\x08\x00":
            continue
        ip = pkt[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6 or len(ip) < ihl + 20:
            continue
        tot = struct.unpack(">H", ip[2:4])[0]
        if tot == 0:        # TSO super-packet written with tot_len 0
            tot = orig - 14
        tcp = ip[ihl:]
        sp, dp = struct.unpack(">HH", tcp[:4])
        thl = (tcp[12] >> 4) * 4
        pay = max(0, tot - ihl - thl)
        if port in (sp, dp):
            pb += pay
            pp += 1
        else:
            ob += pay
            op += 1
    print(pb, pp, ob, op, maxf)
    return 0


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    cmd, path, rest = argv[1], argv[2], argv[3:]
    if cmd == "norm":
        return cmd_norm(path)
    if cmd == "alerts":
        return cmd_alerts(path)
    if cmd == "flowcmp" and len(rest) == 1:
        return cmd_flowcmp(path, rest[0])
    if cmd == "flows" and rest in ([], ["--counters"]):
        return cmd_flows(path, bool(rest))
    if cmd == "counts":
        return cmd_counts(path)
    if cmd == "expect":
        return cmd_expect(path)
    if cmd == "port" and len(rest) == 1:
        return cmd_port(path, rest[0])
    if cmd == "stat" and rest:
        return cmd_stat(path, rest)
    if cmd == "pcapsum" and len(rest) == 1:
        return cmd_pcapsum(path, rest[0])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
