#!/usr/bin/env python3
"""Out-of-order junk beyond the hole, to make the sensor give the hole up.

After EHLO the client sends one-byte segments far ahead of its stream:
130 inside a plausible window (they fill the per-direction buffer cap)
and 130 far outside any window (the server drops them). Then it sends
MAIL / RCPT / DATA normally. The server takes the envelope (the junk
never lines up with it); a sensor that declares the hole lost when its
buffer fills, and then treats the real envelope as old data, sees no
sender and no recipient. Expected: the cap prunes the junk above, never
skips the hole; the far segments are out of window; relay.open fires and
the smtp record has the envelope.
"""
from _common import CLIENT, RELAY_OPEN, SERVER, main, rcpt_line, smtp_greet, \
    smtp_mail, smtp_data_quit
from pcapgen import Conn


def build(w, scale):
    c = Conn(w, CLIENT, 41090, SERVER, 25)
    smtp_greet(c)
    base = c.cseq
    for i in range(130):
        c.seg("c", b"x", seq=(base + 1000 + i * 4000) & 0xFFFFFFFF)
    for i in range(130):
        c.seg("c", b"y", seq=(base + 100000000 + i * 4000) & 0xFFFFFFFF)
    smtp_mail(c)
    c.c(rcpt_line())
    c.s(b"250 2.1.5 Ok\r\n")
    smtp_data_quit(c)


EXPECT = [{
    "why": "junk beyond the hole must not make the sensor skip the envelope",
    "alerts": [RELAY_OPEN],
    "counters": {"reassembly.drop.out_of_window": ">=130",
                 "reassembly.drop.flow_ooo_cap": ">=1"},
    "records": [{"event_type": "smtp",
                 "where": {"src_ip": "198.51.100.7",
                           "smtp.mail_from": "<spammer@inet.example>",
                           "smtp.rcpt_to": {"contains": "<victim@foreign.example>"}}}],
}]

if __name__ == "__main__":
    main(build, EXPECT)
