#!/usr/bin/env python3
"""The "server" ACKs 100 000 bytes the client never sent, just before the
client's RCPT.

A sensor that trusts any ACK declares those bytes lost (a gap), moves its
expected sequence number past them and then drops the real RCPT as an old
retransmission: the relay goes unseen. A real receiver cannot acknowledge
what was never sent, so the ACK is forged (or a broken middlebox): it
must be ignored and counted.
"""
from _common import RELAY_OPEN, main, open_relay


def forge(c):
    c.ack("s", ack=c.cseq + 100000)


def build(w, scale):
    open_relay(w, after_mail=forge)


EXPECT = [{
    "why": "an ACK beyond anything the client sent must not open a gap",
    "alerts": [RELAY_OPEN],
    "counters": {"tcp.ack_beyond_sent": ">0", "reassembly.gap": "==0"},
    "records": [{"event_type": "flow",
                 "where": {"src_ip": "198.51.100.7", "flow.gaps": 0}}],
}]

if __name__ == "__main__":
    main(build, EXPECT)
