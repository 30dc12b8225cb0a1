#!/usr/bin/env python3
"""Insertion with a bad TCP checksum.

Just before the client's real RCPT TO:<victim@foreign.example>, the
attacker sends a segment with the same sequence numbers and length that
says RCPT TO:<postmaster@lan.example> (a local, harmless recipient), with a
wrong TCP checksum. The server's stack drops it; a sensor that does not
verify checksums takes it, and with "first wins" overlap resolution
discards the real RCPT as a retransmission: it would pair the server's 250
with the harmless recipient and miss the relay.
"""
from _common import RELAY_OPEN, main, open_relay, rcpt_line

FAKE = rcpt_line(b"postmaster@lan.example")
assert len(FAKE) == len(rcpt_line())


def insert(c):
    c.seg("c", FAKE, bad_tcp_csum=True)


def build(w, scale):
    open_relay(w, after_mail=insert)


EXPECT = [{
    "why": "a segment with a bad TCP checksum is not data the server saw",
    "alerts": [RELAY_OPEN],
    "counters": {"checksum.drop.tcp": ">0"},
    "records": [{"event_type": "smtp",
                 "where": {"src_ip": "198.51.100.7",
                           "smtp.rcpt_to": ["<victim@foreign.example>"]}}],
}]

if __name__ == "__main__":
    main(build, EXPECT)
