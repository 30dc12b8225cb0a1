#!/usr/bin/env python3
"""64 k one-byte out-of-order segments in one flow, then the relay session.

An attacker connection to 10.0.0.25:25 holds back its first byte and sends
the next 65 536 bytes one per segment, last first (reverse order); at the
end it sends the missing byte. A second attacker connection does the same
in ascending order (the worst case for a sorted list walked from its
head). Buffering a 2 KB block per byte, or walking a long list per
segment, makes this cost memory or quadratic time; the caps must stop it
(counted under reassembly.drop.*) and the relay session that follows must
still be reported. The test does not time it: bench/flood.sh does.
--scale multiplies the segment count.
"""
import socket

from _common import RELAY_OPEN, SERVER, Conn, main, open_relay

SEGS = 65536


def tiny(w, c, n, reverse):
    c.handshake()
    c.s(b"220 mx.lan.example ESMTP Postfix (Debian/GNU)\r\n")
    src = socket.inet_aton("198.51.100.66")
    dst = socket.inet_aton(SERVER)
    base = c.cseq
    ack = c.sseq
    order = range(n, 0, -1) if reverse else range(1, n + 1)
    for i in order:
        w.frame_fast(src, dst, c.cport, 25, base + i, ack, 0x18,
                     b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i % 26:i % 26 + 1])
    c.seg("c", b"X", seq=base)                    # the hole, at last
    c.cseq = base + n + 1


def build(w, scale):
    n = int(SEGS * scale)
    tiny(w, Conn(w, "198.51.100.66", 44001, SERVER, 25), n, reverse=True)
    tiny(w, Conn(w, "198.51.100.66", 44002, SERVER, 25), n, reverse=False)
    open_relay(w)


EXPECT = [{
    "why": "64 k one-byte out-of-order segments (reverse, then ascending), then the relay",
    "alerts": [RELAY_OPEN],
    "counters": {"reassembly.drop.*": ">0"},
}]

if __name__ == "__main__":
    main(build, EXPECT)
