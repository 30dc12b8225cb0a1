#!/usr/bin/env python3
"""Insertion with a bad IPv4 header checksum.

Before the real RCPT the attacker sends "RSET\\r\\n" at the RCPT's sequence
number in a packet whose IPv4 header checksum is wrong (the TCP checksum
is right). The server's IP layer drops it; a sensor that takes it sees
RSET (answered by the server's 250) and the tail of the real RCPT as
garbage, and misses the relay.
"""
from _common import RELAY_OPEN, main, open_relay


def insert(c):
    c.seg("c", b"RSET\r\n", bad_ip_csum=True)


def build(w, scale):
    open_relay(w, after_mail=insert)


EXPECT = [{
    "why": "a packet with a bad IPv4 header checksum is not data the server saw",
    "alerts": [RELAY_OPEN],
    "counters": {"checksum.drop.ipv4": ">0"},
    "records": [{"event_type": "smtp",
                 "where": {"src_ip": "198.51.100.7",
                           "smtp.rcpt_to": ["<victim@foreign.example>"]}}],
}]

if __name__ == "__main__":
    main(build, EXPECT)
