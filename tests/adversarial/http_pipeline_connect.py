#!/usr/bin/env python3
"""CONNECT hidden behind pipelined requests.

The client sends five absolute-form GETs and a CONNECT
mx.foreign.example:25 in one burst to the proxy 203.0.113.25:3128; the
proxy refuses the GETs (403 x5) and grants the CONNECT (200), then SMTP
runs in the tunnel. A parser that pairs responses with the wrong request,
caps pipelined requests too low, or looks only at the first request of a
burst reports the CONNECT as refused (or not at all) and never opens the
tunnel. Expected: the CONNECT's http record has status 200, the GETs 403,
proxy.open.http and proxy.smtp-tunnel alerts, and the tunnel's smtp
record.
"""
from _common import BODY, CLIENT, PROXY, PROXY_OPEN, PROXY_TUNNEL, VICTIM, \
    Conn, main

UA = b"User-Agent: Mozilla/5.0 (compatible; adv)\r\n"
FORBID = (b"HTTP/1.1 403 Forbidden\r\nServer: tinyproxy/1.11.1\r\n"
          b"Content-Type: text/html\r\nContent-Length: 14\r\n"
          b"Connection: keep-alive\r\n\r\nAccess denied\n")


def build(w, scale):
    c = Conn(w, CLIENT, 42050, PROXY, 3128)
    c.handshake()
    burst = b"".join(b"GET http://www.foreign.example/page%d HTTP/1.1\r\n"
                     b"Host: www.foreign.example\r\n" % i + UA + b"\r\n"
                     for i in range(5))
    burst += (b"CONNECT mx.foreign.example:25 HTTP/1.1\r\n"
              b"Host: mx.foreign.example:25\r\n" + UA + b"\r\n")
    c.c(burst)
    c.s(FORBID * 5 + b"HTTP/1.1 200 Connection established\r\n\r\n")
    # SMTP in the tunnel, the far end is mx.foreign.example
    c.s(b"220 mx.foreign.example ESMTP sink\r\n")
    c.c(b"EHLO client.inet.example\r\n")
    c.s(b"250-mx.foreign.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
    c.c(b"MAIL FROM:<spammer@inet.example>\r\n")
    c.s(b"250 Ok\r\n")
    c.c(b"RCPT TO:<" + VICTIM + b">\r\n")
    c.s(b"250 Ok\r\n")
    c.c(b"DATA\r\n")
    c.s(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    c.c(BODY + b".\r\n")
    c.s(b"250 2.0.0 Ok: queued\r\n")
    c.c(b"QUIT\r\n")
    c.s(b"221 Bye\r\n")
    c.close(first="s")


EXPECT = [{
    "why": "CONNECT after 5 pipelined GETs: 403 x5, then 200 and SMTP in the tunnel",
    "alerts": [PROXY_TUNNEL, PROXY_OPEN],
    "records": [
        {"event_type": "http",
         "where": {"http.http_method": "CONNECT", "http.status": 200,
                   "http.proxy.target_host": "mx.foreign.example",
                   "http.proxy.target_port": 25}, "count": "==1"},
        # the parser keeps 4 transactions in full: the oldest GETs are
        # recorded when pushed out (flagged pipeline_overflow, without a
        # status); what matters is that no GET gets another's status
        {"event_type": "http",
         "where": {"http.http_method": "GET", "http.status": 403},
         "count": ">=3"},
        {"event_type": "http",
         "where": {"http.http_method": "GET", "http.status": 200},
         "count": "==0"},
        {"event_type": "http",
         "where": {"http.http_method": "GET"}, "count": "==5"},
        {"event_type": "smtp",
         "where": {"proxy_tunnel.target_host": "mx.foreign.example",
                   "smtp.rcpt_to": ["<victim@foreign.example>"]}},
    ],
}]

if __name__ == "__main__":
    main(build, EXPECT)
