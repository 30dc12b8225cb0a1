#!/usr/bin/env python3
"""A segment far ahead, then a RST between it and the real stream.

The client sends one byte a billion sequence numbers ahead (the server
drops it: outside its window), then a RST half-way there. A sensor that
counts the far segment as sent believes the RST (it looks like it is
inside what the sender sent); the server does not (RFC 5961: only a RST
at RCV.NXT resets) and the session goes on. Expected: the RST is ignored
and counted, the relay is reported on the same flow.
"""
from _common import RELAY_OPEN, main, open_relay


def forge(c):
    c.seg("c", b"z", seq=(c.cseq + 1000000000) & 0xFFFFFFFF)
    c.rst("c", seq=(c.cseq + 500000000) & 0xFFFFFFFF)


def build(w, scale):
    open_relay(w, after_mail=forge)


EXPECT = [{
    "why": "a RST between the stream and a far segment must not close the flow",
    "alerts": [RELAY_OPEN],
    "counters": {"tcp.rst_out_of_window": ">=1", "flow.closed.rst": "==0"},
    "records": [{"event_type": "smtp",
                 "where": {"src_ip": "198.51.100.7",
                           "smtp.rcpt_to": {"contains": "<victim@foreign.example>"}}}],
}]

if __name__ == "__main__":
    main(build, EXPECT)
