#!/usr/bin/env python3
"""Parser states run out; flows that hold none must not be the victims,
and closing an idle flow must never close another one twice.

Run "holders": eight flows each send a SYN to port 25 and one byte
out of order (no parser is started: nothing in order yet), four real
sessions take every parser state (--max-parsers 4), then the open relay
arrives. Evicting the eight cold flows would free nothing; the relay gets
a state only if a flow that holds one is evicted.

Run "expiry": a flow with buffered out-of-order bytes times out while
every state is taken; closing it delivers the bytes, which asks for a
state, which must not evict (and so free) the next flow of the expiry
walk: each flow gets exactly one flow record, and the run ends.
"""
from _common import CLIENT, RELAY_OPEN, SERVER, main, open_relay, \
    local_session
from pcapgen import Conn


def build(w, scale):
    for i in range(8):
        c = Conn(w, CLIENT, 42000 + i, SERVER, 25)
        c.handshake()
        c.seg("c", b"q", seq=(c.cseq + 2) & 0xFFFFFFFF)
    for i in range(4):
        c = Conn(w, "10.0.0.7", 43000 + i, SERVER, 25)
        c.handshake()
        c.s(b"220 mx.lan.example ESMTP\r\n")
        c.c(b"EHLO client.lan.example\r\n")
        c.s(b"250 mx.lan.example\r\n")
    w.sleep(5)
    open_relay(w)
    local_session(w, 44000)


EXPECT = [
    {"run": "holders", "args": ["--max-parsers", "4"],
     "why": "parser-state eviction picks flows that hold a state",
     "alerts": [RELAY_OPEN],
     "counters": {"flow.evicted.parser_states_full": ">=1"}},
    {"run": "expiry", "args": ["--max-parsers", "4", "--flow-timeout", "2",
                               "--embryonic-timeout", "2"],
     "why": "expiry closes each idle flow once, even when closing one needs a state",
     "alerts": [RELAY_OPEN],
     "records": [{"event_type": "flow",
                  "where": {"src_ip": "10.0.0.7", "src_port": 43000},
                  "count": "==1"}]},
]

if __name__ == "__main__":
    main(build, EXPECT)
