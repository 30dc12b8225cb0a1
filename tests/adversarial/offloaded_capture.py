#!/usr/bin/env python3
"""A capture taken on the mail server itself with TX checksum offload on.

Every frame the server (10.0.0.25) sends carries only the partial
(pseudo-header) TCP checksum: the NIC fills in the real one after the
capture point. Everything the server receives is correct. Two trusted local
sessions come first, then the open-relay session.

--checksum auto must recognise the pattern (one host, all its frames, the
partial-checksum value), stop dropping that host's frames and say so in
the stats record; the relay is reported. --checksum on (verify always)
drops the server's replies: the relay cannot be seen, which is the point
of having "auto".
"""
from _common import RELAY_OPEN, local_session, main, open_relay


def build(w, scale):
    local_session(w, 41101, offload="s")
    local_session(w, 41102, offload="s")
    open_relay(w, offload="s")


EXPECT = [
    {"run": "auto", "args": ["--checksum", "auto"],
     "why": "TX offload on the capture host: auto detects it and keeps the host's frames",
     "alerts": [RELAY_OPEN],
     "stats": {"checksum": {"key_contains": "offload"}}},
    {"run": "on", "args": ["--checksum", "on"],
     "why": "checksum verification forced on: the server's frames are dropped",
     "no_alerts": [{"rule": "relay.open"}],
     "counters": {"checksum.drop.tcp": ">0"}},
]

if __name__ == "__main__":
    main(build, EXPECT)
