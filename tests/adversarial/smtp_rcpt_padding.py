#!/usr/bin/env python3
"""The foreign recipient hidden among many local ones.

One pipelined burst: 40 RCPTs to local users (lan.example), then
RCPT TO:<victim@foreign.example>, then 20 more local ones; the server
answers 250 to all 61 in one burst. A parser that keeps only the first N
recipients, or stops pairing replies after a cap, misses the relay. The
alert must name the foreign recipient.
"""
from _common import CLIENT, RELAY_OPEN, SERVER, Conn, main, rcpt_line, \
    smtp_data_quit, smtp_greet, smtp_mail


def build(w, scale):
    c = Conn(w, CLIENT, 41031, SERVER, 25)
    smtp_greet(c)
    smtp_mail(c)
    burst = b"".join(rcpt_line(b"user%02d@lan.example" % i) for i in range(40))
    burst += rcpt_line()
    burst += b"".join(rcpt_line(b"user%02d@lan.example" % i)
                      for i in range(40, 60))
    c.c(burst)                                     # MSS-split segments
    c.s(b"250 2.1.5 Ok\r\n" * 61)
    smtp_data_quit(c)


EXPECT = [{
    "why": "RCPT #41 of 61 pipelined is the foreign one",
    "alerts": [RELAY_OPEN],
    # the verdict names the foreign recipient, its own reply paired with
    # it; the record keeps 32 recipients (a stated cap, flagged) and the
    # true count
    "records": [{"event_type": "alert",
                 "where": {"src_ip": "198.51.100.7",
                           "alert.rule": "relay.open",
                           "alert.signature": {"contains": "victim@foreign.example"}}},
                {"event_type": "smtp",
                 "where": {"src_ip": "198.51.100.7",
                           "smtp.rcpt_count.total": 61,
                           "smtp.anomalies": {"contains": "recipients_cap"}}}],
}]

if __name__ == "__main__":
    main(build, EXPECT)
