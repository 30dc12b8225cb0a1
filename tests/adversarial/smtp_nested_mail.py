#!/usr/bin/env python3
"""A second MAIL FROM inside a transaction, refused with 503.

MAIL FROM:<a@x.example> (250), MAIL FROM:<b@y.example> (503 nested MAIL
command), then the foreign RCPT (250): the transaction's sender is still
<a@x.example>; a parser that overwrites the sender on the command, before
seeing the reply, reports the wrong one (and an attacker can choose what
the record says).
"""
from _common import CLIENT, RELAY_OPEN, SERVER, Conn, main, smtp_data_quit, \
    smtp_greet, smtp_mail, smtp_rcpt


def build(w, scale):
    c = Conn(w, CLIENT, 41032, SERVER, 25)
    smtp_greet(c)
    smtp_mail(c, b"a@x.example")
    smtp_mail(c, b"b@y.example", reply=b"503 5.5.1 Error: nested MAIL command\r\n")
    smtp_rcpt(c)
    smtp_data_quit(c)


EXPECT = [{
    "why": "a refused nested MAIL FROM does not replace the transaction's sender",
    "alerts": [RELAY_OPEN],
    "records": [{"event_type": "smtp",
                 "where": {"src_ip": "198.51.100.7",
                           "smtp.mail_from": "<a@x.example>",
                           "smtp.rcpt_to": ["<victim@foreign.example>"]}},
                {"event_type": ["smtp", "alert"],
                 "where": {"smtp.mail_from": "<b@y.example>"}, "count": "==0"}],
}]

if __name__ == "__main__":
    main(build, EXPECT)
