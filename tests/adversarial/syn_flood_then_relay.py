#!/usr/bin/env python3
"""20 000 spoofed SYNs to 10.0.0.25:25 from random sources, then the real
open-relay session.

None of the SYNs is ever answered (spoofed sources), so none becomes a
connection, but a sensor that gives every SYN to port 25 a flow and an
SMTP parser state runs out of parser states (default cap 16384) before
the real session arrives, and the relay goes unseen. Run with the default
caps and with --max-parsers 64. --scale multiplies the number of SYNs
(bench/flood.sh: 1 000 000).
"""
from _common import RELAY_OPEN, main, open_relay, syn_flood

SYNS = 20000


def build(w, scale):
    syn_flood(w, int(SYNS * scale), "10.0.0.25", 25, seed=25)
    w.sleep(0.5)
    open_relay(w)


EXPECT = [
    {"run": "default", "why": "spoofed SYN flood, then the relay session",
     "alerts": [RELAY_OPEN]},
    {"run": "max-parsers-64", "args": ["--max-parsers", "64"],
     "why": "the same with 64 parser states",
     "alerts": [RELAY_OPEN]},
]

if __name__ == "__main__":
    main(build, EXPECT)
