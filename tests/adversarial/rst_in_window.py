#!/usr/bin/env python3
"""A real RST (exactly at the receiver's next sequence number) after the
relay was used: the flow must close with reason "rst" (the out-of-window
check must not turn every RST into noise), and the verdict made before it
stays. The client's stack then reuses the 4-tuple for a fresh connection:
the sensor must not keep the old one's state."""
from _common import CLIENT, RELAY_OPEN, SERVER, Conn, main, smtp_greet, \
    smtp_mail, smtp_rcpt


def build(w, scale):
    c = Conn(w, CLIENT, 41026, SERVER, 25)
    smtp_greet(c)
    smtp_mail(c)
    smtp_rcpt(c)
    c.c(b"DATA\r\n")
    c.s(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    c.rst("c")                      # client aborts: seq == server's rcv_nxt
    w.sleep(1)
    # the same ports again, a new connection that only says QUIT
    c2 = Conn(w, CLIENT, 41026, SERVER, 25, isn_c=c.cseq + 100000)
    smtp_greet(c2, helo=b"second.inet.example")
    c2.c(b"QUIT\r\n")
    c2.s(b"221 2.0.0 Bye\r\n")
    c2.close()


EXPECT = [{
    "why": "an in-window RST closes the flow; a new connection on the same ports is a new flow",
    "alerts": [RELAY_OPEN],
    "counters": {"flow.closed.rst": ">=1", "flow.closed.fin": ">=1"},
    "records": [
        {"event_type": "flow",
         "where": {"src_ip": "198.51.100.7", "flow.reason": "rst",
                   "tcp.rst": True}, "count": "==1"},
        {"event_type": "smtp",
         "where": {"src_ip": "198.51.100.7", "smtp.helo": "second.inet.example"},
         "count": "==1"},
    ],
}]

if __name__ == "__main__":
    main(build, EXPECT)
