#!/usr/bin/env python3
"""70 000 established, idle connections to 10.0.0.25:25, then the relay.

A botnet opens connections from 70 000 addresses (100.64.0.0/10), each
completing the handshake and sending one byte, then stays silent. That is
more than the flow table (65 536 by default) and far more than the parser
states (16 384): a sensor that keeps the oldest flows and refuses new ones
(or gives no parser to the newcomers) misses the open-relay session that
comes next. Idle flows must be evicted (counted) so the relay is still
reported. A second run has a flow table big enough for all of them
(--max-flows 131072): nothing is evicted for lack of flow entries, the
parser states alone run out. --scale multiplies the number of connections.
"""
import socket

from _common import RELAY_OPEN, SERVER, main, open_relay

CONNS = 70000


def build(w, scale):
    dst = socket.inet_aton(SERVER)
    base = int.from_bytes(socket.inet_aton("100.64.0.1"), "big")
    n = int(CONNS * scale)
    for i in range(n):
        src = (base + i * 7).to_bytes(4, "big")
        sport = 1024 + (i * 31) % 60000
        isn = (i * 2654435761) & 0xFFFFFFFF
        sisn = (isn ^ 0x5A5A5A5A) & 0xFFFFFFFF
        w.frame_fast(src, dst, sport, 25, isn, 0, 0x02)              # SYN
        w.frame_fast(dst, src, 25, sport, sisn, isn + 1, 0x12)       # SYN-ACK
        w.frame_fast(src, dst, sport, 25, isn + 1, sisn + 1, 0x10)   # ACK
        w.frame_fast(src, dst, sport, 25, isn + 1, sisn + 1, 0x18, b"E")
    w.sleep(1)
    open_relay(w)


EXPECT = [
    {"run": "default",
     "why": "70 000 idle established connections fill the tables, then the relay",
     "alerts": [RELAY_OPEN],
     "counters": {"flow.evicted.table_full": ">0"}},
    {"run": "max-flows-128k", "args": ["--max-flows", "131072"],
     "why": "the same with room for every flow: only the parser states run out",
     "alerts": [RELAY_OPEN]},
]

if __name__ == "__main__":
    main(build, EXPECT)
