#!/usr/bin/env python3
"""Two overlapping segments with different bytes.

The client's MAIL FROM line is sent tail first (out of order), then the
tail again with other bytes (spammer -> spoofer, same length), then the
head. Which version the server took depends on its stack (first or last
wins); the sensor keeps one and must say the stream was ambiguous: counter
reassembly.overlap_conflict and an "overlap_conflict" entry in the
anomalies of the flow record (or of the SMTP record). The relay verdict
does not depend on the ambiguous bytes and must still be reported.
"""
from _common import CLIENT, RELAY_OPEN, SERVER, SPAMMER, Conn, main, \
    rcpt_line, smtp_data_quit, smtp_greet

LINE = b"MAIL FROM:<" + SPAMMER + b">\r\n"
HEAD = 11
ALT = LINE[HEAD:].replace(b"spammer", b"spoofer")
assert len(ALT) == len(LINE) - HEAD


def build(w, scale):
    # the session by hand: open_relay() sends MAIL in one piece
    c = Conn(w, CLIENT, 41030, SERVER, 25)
    smtp_greet(c)
    base = c.cseq
    c.seg("c", LINE[HEAD:], seq=base + HEAD)       # tail, out of order
    c.seg("c", ALT, seq=base + HEAD)               # conflicting tail
    c.seg("c", LINE[:HEAD], seq=base)              # head: fills the hole
    c.cseq = base + len(LINE)
    c.s(b"250 2.1.0 Ok\r\n")
    c.c(rcpt_line())
    c.s(b"250 2.1.5 Ok\r\n")
    smtp_data_quit(c)


EXPECT = [{
    "why": "conflicting overlapping bytes are kept once, counted and flagged",
    "alerts": [RELAY_OPEN],
    "counters": {"reassembly.overlap_conflict": ">0"},
    "records": [{"event_type": ["flow", "smtp"],
                 "where": {"src_ip": "198.51.100.7"},
                 "anywhere": {"anomalies": "overlap_conflict"}}],
}]

if __name__ == "__main__":
    main(build, EXPECT)
