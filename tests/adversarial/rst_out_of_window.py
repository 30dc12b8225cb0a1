#!/usr/bin/env python3
"""Forged RSTs outside the receiver's window between the RCPT and its 250.

An attacker who cannot see the sequence numbers sprays RSTs to make the
sensor drop the flow before the server's 250: the endpoints ignore them
(RFC 793/5961: a RST is accepted only inside the receive window), so the
relay goes on; the sensor must ignore them too and still see the 250.
One RST claims to come from the client, one from the server, both about a
quarter of the sequence space away from where the receiver expects them.
"""
from _common import RELAY_OPEN, main, open_relay


def forge(c):
    c.rst("c", seq=c.cseq + 0x40000000)
    c.rst("s", seq=c.sseq - 0x3FFFFFFF)


def build(w, scale):
    open_relay(w, after_rcpt=forge)


EXPECT = [{
    "why": "forged out-of-window RSTs between RCPT and 250 must not close the flow",
    "alerts": [RELAY_OPEN],
    "counters": {"tcp.rst_out_of_window": ">=2", "flow.closed.rst": "==0",
                 "flow.closed.fin": ">=1"},
    "records": [{"event_type": "flow",
                 "where": {"src_ip": "198.51.100.7", "flow.reason": "closed"}}],
}]

if __name__ == "__main__":
    main(build, EXPECT)
