"""Shared pieces of the adversarial cases (tests/adversarial/*.py).

A case script is run as

    python3 tests/adversarial/NAME.py OUT.pcap [--scale F]

It writes its capture to OUT.pcap and prints its expectations as JSON on
stdout: a list of runs, each

    {"run": "default",            # TAP name suffix (adversarial/NAME/RUN)
     "args": ["--max-parsers", "64"],   # extra relaywatch arguments
     "alerts": [{"rule": "relay.open", "contains": "victim@foreign.example"}],
     "no_alerts": [{"rule": "relay.open"}],
     "records": [{"event_type": "flow", "where": {"flow.reason": "rst"},
                  "anywhere": {"anomalies": "overlap_conflict"}}],
     "counters": {"tcp.rst_out_of_window": ">0",
                  "reassembly.drop.*": ">0",           # sum of a subtree
                  "checksum.drop.tcp": ">0"},
     "stats": {"checksum": {"key_contains": "offload", "truthy": true}},
     "why": "one line: what the attack does"}

_check.py runs relaywatch on the capture for every run and checks them
(see there for the exact semantics). --scale multiplies the sizes of the
flood cases (bench/flood.sh uses it; the test uses 1).

Every case is built around a real abuse session, so the verdict must
survive the trick: an open relay (untrusted 198.51.100.7 -> 10.0.0.25:25,
RCPT TO:<victim@foreign.example> answered 250) or an open proxy
(CONNECT mx.foreign.example:25 to 203.0.113.25:3128 answered 200, SMTP
inside). The addresses fit the sets of the Makefile's RUN_SETS.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tools"))
from pcapgen import Conn, PcapWriter, syn_flood  # noqa: E402,F401

CLIENT = "198.51.100.7"          # untrusted internet client
SERVER = "10.0.0.25"             # our MX (HOME_NET, SMTP_SERVERS)
LOCAL_CLIENT = "10.0.0.10"       # trusted
PROXY = "203.0.113.25"           # our proxy (HOME_NET, PROXY_SERVERS)
VICTIM = b"victim@foreign.example"
SPAMMER = b"spammer@inet.example"

RELAY_OPEN = {"rule": "relay.open", "contains": VICTIM.decode()}
PROXY_OPEN = {"rule": "proxy.open.http", "contains": "mx.foreign.example:25"}
PROXY_TUNNEL = {"rule": "proxy.smtp-tunnel",
                "contains": "mx.foreign.example:25"}

GREETING = b"220 mx.lan.example ESMTP Postfix (Debian/GNU)\r\n"
EHLO_REPLY = (b"250-mx.lan.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
              b"250-VRFY\r\n250-ETRN\r\n250-ENHANCEDSTATUSCODES\r\n"
              b"250-8BITMIME\r\n250-DSN\r\n250 SMTPUTF8\r\n")
BODY = (b"From: <spammer@inet.example>\r\nTo: <victim@foreign.example>\r\n"
        b"Subject: cheap pills\r\nMessage-ID: <adv1@inet.example>\r\n\r\n"
        b"Buy now.\r\n")


def smtp_greet(c, helo=b"client.inet.example", handshake=True):
    if handshake:
        c.handshake()
    c.s(GREETING)
    c.c(b"EHLO " + helo + b"\r\n")
    c.s(EHLO_REPLY)


def smtp_mail(c, addr=SPAMMER, reply=b"250 2.1.0 Ok\r\n"):
    c.c(b"MAIL FROM:<" + addr + b">\r\n")
    c.s(reply)


def rcpt_line(addr=VICTIM):
    return b"RCPT TO:<" + addr + b">\r\n"


def smtp_rcpt(c, addr=VICTIM, reply=b"250 2.1.5 Ok\r\n"):
    c.c(rcpt_line(addr))
    c.s(reply)


def smtp_data_quit(c, close=True):
    c.c(b"DATA\r\n")
    c.s(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    c.c(BODY + b".\r\n")
    c.s(b"250 2.0.0 Ok: queued as 4F1C2A0B3D\r\n")
    c.c(b"QUIT\r\n")
    c.s(b"221 2.0.0 Bye\r\n")
    if close:
        c.close()


def open_relay(w, cport=41025, after_mail=None, after_rcpt=None, **conn_kw):
    """The whole open-relay session; hooks run with the Conn: after_mail
    before the RCPT is sent, after_rcpt between the RCPT and its 250."""
    c = Conn(w, CLIENT, cport, SERVER, 25, **conn_kw)
    smtp_greet(c)
    smtp_mail(c)
    if after_mail:
        after_mail(c)
    c.c(rcpt_line())
    if after_rcpt:
        after_rcpt(c)
    c.s(b"250 2.1.5 Ok\r\n")
    smtp_data_quit(c)
    return c


def local_session(w, cport, client=LOCAL_CLIENT, **conn_kw):
    """A trusted client delivering to a local user: no verdict."""
    c = Conn(w, client, cport, SERVER, 25, **conn_kw)
    smtp_greet(c, helo=b"client.lan.example")
    smtp_mail(c, b"alice@lan.example")
    smtp_rcpt(c, b"bob@lan.example")
    smtp_data_quit(c)
    return c


def main(build, expect):
    """Entry point of a case: build(w, scale) writes the packets; expect
    is the list of runs (or a function of scale returning it)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args()
    with PcapWriter(a.out) as w:
        build(w, a.scale)
    runs = expect(a.scale) if callable(expect) else expect
    json.dump(runs, sys.stdout, indent=1)
    sys.stdout.write("\n")
