#!/usr/bin/env python3
"""peer_check.py - relaywatch on the peer corpus: public captures from
other tools' test suites (suricata-verify, Zeek, Arkime), listed in
INDEX.tsv (name, source, path, licence, "exercises").

There are no expected-output files. The expectation for each capture is
written below, from what INDEX says it exercises and from how Suricata and
Zeek treat it (their test suites' checks where there are some): the
transactions and their fields for SMTP, the CONNECT target and status for
HTTP, the target and grant for SOCKS. Every capture of INDEX must have one.

Each capture runs twice:
  relaywatch --no-rules -r PCAP          the records (event_type smtp,
                                         http, socks), as shipped;
  relaywatch --rules PROBE -r PCAP       (SMTP captures) one alert per
                                         command and per reply, so that the
                                         pairing of every reply with its
                                         command can be checked too (a
                                         record lists 32 recipients, a
                                         reply event names each one).
Generic checks on every SMTP capture: every RCPT reply names the address
of its own RCPT (replies come in command order: the reply addresses are
the command addresses, in order, as far as replies go), and no password
that the capture carries appears in the output.

Output: TAP lines "ok - peer/NAME what" / "not ok - peer/NAME what" with
"#   " lines saying what differed; python3 standard library only.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

PROBE_RULES = """
rule peer.command {
    sid 9900001
    on smtp.command
    action alert
    msg "C|{smtp.command}|{smtp.rcpt}|{smtp.command.arg}"
}
rule peer.reply {
    sid 9900002
    on smtp.reply
    when smtp.reply.code > 0
    action alert
    msg "R|{smtp.command}|{smtp.rcpt}|{smtp.command.arg}|{smtp.reply.code}|{smtp.rcpt.unknown}"
}
"""


class Run:
    """One capture's output and the checks made on it."""

    def __init__(self, name, records, events, text):
        self.name = name
        self.records = records
        self.events = events     # [(kind, fields...)] from the probe rules
        self.text = text         # all output, for credential checks
        self.fails = []
        self.n = 0

    # ---- selection ----
    def of(self, et, port=None):
        return [r for r in self.records if r.get("event_type") == et and
                (port is None or r.get("src_port") == port or
                 r.get("dest_port") == port)]

    def smtp(self, port=None):
        return [r["smtp"] for r in self.of("smtp", port)]

    def replies(self, cmd=None):
        return [e for e in self.events if e[0] == "R" and
                (cmd is None or e[1] == cmd)]

    def commands(self, cmd=None):
        return [e for e in self.events if e[0] == "C" and
                (cmd is None or e[1] == cmd)]

    # ---- checks ----
    def check(self, ok, what):
        self.n += 1
        if not ok:
            self.fails.append(what)
        return ok

    def eq(self, what, got, exp):
        return self.check(got == exp, f"{what}: expected {exp!r}, got {got!r}")

    def count(self, what, items, n):
        return self.eq(f"number of {what}", len(items), n)


def get(d, path, default=None):
    """d["a"]["b"][0] for path "a.b.0"; default if absent."""
    for k in path.split("."):
        if isinstance(d, list):
            try:
                d = d[int(k)]
            except (ValueError, IndexError):
                return default
        elif isinstance(d, dict) and k in d:
            d = d[k]
        else:
            return default
    return d


def tx(r, s, i, **want):
    """transaction i of list s has the fields want (a dotted path per
    keyword, "__" for "."); a value None means "absent"."""
    if not r.check(i < len(s), f"transaction #{i + 1} missing "
                   f"({len(s)} smtp records)"):
        return
    for k, v in want.items():
        path = k.replace("__", ".")
        r.eq(f"transaction #{i + 1} {path}", get(s[i], path), v)


def has_anomaly(s, a):
    return a in (s.get("anomalies") or [])


def no_secret(r, *secrets):
    for x in secrets:
        r.check(x not in r.text, f"credential {x!r} in the output")


# ---- expectations, one per capture ----------------------------------------

EXPECT = {}


def expect(name):
    def reg(f):
        EXPECT[name] = f
        return f
    return reg


def http_connect(r, host, port, status, proxy_port, tunnel):
    h = r.of("http")
    if not r.count("http records", h, 1):
        return
    x = h[0]
    r.eq("dest_port (the proxy: client side identified)",
         x.get("dest_port"), proxy_port)
    r.eq("http.http_method", get(x, "http.http_method"), "CONNECT")
    r.eq("http.proxy.target_host", get(x, "http.proxy.target_host"), host)
    r.eq("http.proxy.target_port", get(x, "http.proxy.target_port"), port)
    r.eq("http.status", get(x, "http.status"), status)
    r.eq("http.proxy.tunnel", get(x, "http.proxy.tunnel"), tunnel)


@expect("sv-bug-2430")
def _(r):
    http_connect(r, "qagpublic.qg1.apps.qualys.com", 443, 200, 8080, True)


@expect("sv-http-connect-tls")
def _(r):
    http_connect(r, "abc", 443, 200, 8002, True)
    r.count("smtp/socks records inside the TLS tunnel",
            r.of("smtp") + r.of("socks"), 0)


@expect("sv-http-connect-fail")
def _(r):
    http_connect(r, "abc", 443, 200, 8001, True)
    # what follows the 200 is the tunnel's, and no protocol we parse
    r.count("records of the tunnel's payload",
            r.of("smtp") + r.of("socks"), 0)


def delivered(r, s, i, frm, to, queued=None, command="DATA"):
    tx(r, s, i, mail_from=f"<{frm}>", rcpt_to=[f"<{a}>" for a in to],
       mail__code=250, data__command=command, data__code=250,
       data__complete=True)
    if queued and i < len(s):
        r.check(queued in (get(s[i], "data.text") or ""),
                f"transaction #{i + 1}: end-of-data reply is not the one "
                f"saying {queued!r}: {get(s[i], 'data.text')!r}")
    for k, a in enumerate(to):
        tx(r, s, i, **{f"recipients__{k}__code": 250})


def envelope_only(r, s, i, frm, to):
    tx(r, s, i, mail_from=f"<{frm}>",
       rcpt_to=[f"<{a}>" for a in to] if to else None,
       mail__code=250, data=None)


@expect("sv-bug-6207-1")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 1)
    # MAIL FROM:blah@... without <>: logged as Suricata does, with <>
    delivered(r, s, 0, "blah@smtp.lab.com", ["test@wut.com"])
    tx(r, s, 0, helo="smtp.intra")


@expect("sv-fw-interactive")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 1)
    delivered(r, s, 0, "alice@example.com", ["bob@example.com"],
              "7C51C4BA888A")
    # each interleaved command got its own reply (lower-case verbs too)
    codes = [(e[1], e[4]) for e in r.replies()
             if e[1] in ("NOOP", "VRFY", "EXPN", "HELP")]
    r.eq("NOOP/VRFY/EXPN/HELP replies", codes,
         [("NOOP", "250"), ("VRFY", "252"), ("EXPN", "500"),
          ("HELP", "500"), ("NOOP", "250")])
    r.check(not has_anomaly(s[0], "unknown_command") if s else True,
            "VRFY/EXPN/HELP taken for unknown commands")


@expect("sv-fw-rset-change-sender")
def _(r):
    s = r.smtp()
    r.count("smtp transactions (aborted + delivered)", s, 2)
    envelope_only(r, s, 0, "alice@example.com", [])
    delivered(r, s, 1, "bob@example.com", ["alice@example.com"],
              "E4856502DB93")


@expect("sv-fw-rset-after-rcpt")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 2)
    envelope_only(r, s, 0, "alice@example.com", ["bob@example.com"])
    delivered(r, s, 1, "alice@example.com", ["bob@example.com"],
              "7B6B14BA7F73")


@expect("sv-fw-quit-after-mail")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 1)
    envelope_only(r, s, 0, "alice@example.com", [])
    r.eq("QUIT replies", [e[4] for e in r.replies("QUIT")], ["221"])


@expect("sv-fw-nested-mail")
def _(r):
    s = r.smtp()
    # Suricata: one transaction, the first (allowed) sender
    r.count("smtp transactions", s, 1)
    delivered(r, s, 0, "alice@example.com", ["bob@example.com"],
              "4CDEB4BA92F9")
    r.check("bob@example.com>\"" not in json.dumps(
        [x.get("mail_from") for x in s]), "the refused sender was taken")
    # the 503 is paired with the nested MAIL (rules see it refused)
    r.eq("MAIL replies (address, code)",
         [(e[3], e[4]) for e in r.replies("MAIL")],
         [("alice@example.com", "250"), ("bob@example.com", "503")])


@expect("sv-fw-multi-mail")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 3)
    delivered(r, s, 0, "alice@example.com", ["bob@example.com"],
              "B912F4BA970A")
    delivered(r, s, 1, "bob@example.com", ["alice@example.com"],
              "BB6C44BA970C")
    delivered(r, s, 2, "alice@example.com",
              ["bob@example.com", "alice@example.com"], "BC6DC4BA970D")
    tx(r, s, 2, transaction=3)


@expect("sv-fw-pipelined-post-data-mail-from")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 2)
    delivered(r, s, 0, "alice@example.com", ["bob@example.com"],
              "3355C58C9AD0")
    delivered(r, s, 1, "bob@example.com", ["alice@example.com"],
              "3527C58C9AD1")


@expect("sv-smtp-pipelined-post-data-rset-sequence")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 2)
    delivered(r, s, 0, "alice@example.com", ["bob@example.com"],
              "E5B4A5A358BF")
    delivered(r, s, 1, "bob@example.com", ["alice@example.com"],
              "E64185A358C1")
    r.eq("RSET replies", [e[4] for e in r.replies("RSET")], ["250"])


@expect("sv-smtp-pipelined-rset-after-complete")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 2)
    delivered(r, s, 0, "alice@example.com", ["bob@example.com"],
              "B5F0B5AABF55")
    delivered(r, s, 1, "bob@example.com", ["alice@example.com"],
              "B71115AABF56")


@expect("sv-smtp-bdat-bad-tail-next-mail")
def _(r):
    s = r.smtp()
    # Suricata: two transactions; the malformed BDAT (521) neither ends
    # parsing nor starts a chunk
    r.count("smtp transactions", s, 2)
    tx(r, s, 0, mail_from="<alice@example.com>",
       rcpt_to=["<bob@example.com>"], data__command="BDAT",
       data__bytes=221, data__complete=True)
    if s:
        r.check(has_anomaly(s[0], "command_syntax"),
                "the malformed BDAT is not flagged command_syntax")
    # the server closed after its 521: the second message is never
    # answered; its text (sent behind DATA) is a message, not commands
    tx(r, s, 1, mail_from="<bob@example.com>",
       rcpt_to=["<alice@example.com>"], data__command="DATA",
       data__bytes=221, data__complete=True, unknown_commands=None)
    r.eq("BDAT replies", [e[4] for e in r.replies("BDAT")], ["521"])


@expect("sv-smtp-bdat-multichunk-next-mail")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 2)
    delivered(r, s, 0, "alice@example.com", ["bob@example.com"],
              "12EEF5AC3205", command="BDAT")
    tx(r, s, 0, data__chunks=2, data__bytes=218)
    delivered(r, s, 1, "bob@example.com", ["alice@example.com"],
              "14C525AC3206")


@expect("sv-smtp-bdat-zero-last-next-mail")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 2)
    delivered(r, s, 0, "alice@example.com", ["bob@example.com"],
              "78D625AC3214", command="BDAT")
    tx(r, s, 0, data__chunks=1, data__bytes=0)
    delivered(r, s, 1, "bob@example.com", ["alice@example.com"],
              "7AAAC5AC3215")


@expect("sv-smtp-bug-5981")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 1)
    # "MAIL FROM: <..>" with a space: still the sender
    delivered(r, s, 0, "xxxxxx@xxxxx.co.uk", ["xxxxxx@xxxxx.co.uk"])
    tx(r, s, 0, helo="Percival", auth__mechanism="LOGIN", auth__user="galunt",
       auth__ok=True, client_authenticated=True)
    r.eq("dest_port", get(r.of("smtp")[0], "dest_port") if s else None, 587)
    no_secret(r, "VjF2MXRyMG4=", "V1v1tr0n")


@expect("sv-smtp-bug-6053")
def _(r):
    s = r.smtp()
    # Suricata: helo Simone. The greeting has no CRLF: its line swallows
    # the EHLO's "250-" (line_too_long), the next reply (334) cannot
    # answer EHLO: pairing is lost rather than shifted by one
    r.count("smtp transactions", s, 1)
    tx(r, s, 0, helo="Simone", mail_from="<xxxxxx@xxxxx.co.uk>",
       rcpt_to=["<xxxxx@aba.com>"], data=None, auth__mechanism="LOGIN",
       auth__user="galunt", client_authenticated=True, early_talker=True)
    r.check(not any(e[1] == "EHLO" and e[4] == "334" for e in r.replies()),
            "EHLO paired with the AUTH's 334")
    r.check(not r.replies("RCPT") or
            all(e[4] == "250" for e in r.replies("RCPT")),
            "RCPT paired with another command's reply")
    no_secret(r, "VjF2MXRyMG4=", "V1v1tr0n", "Z2FsdW50")


@expect("sv-smtp-ehlo-reset")
def _(r):
    s = r.smtp()
    # RFC 5321 4.1.4: the accepted EHLO ends the first envelope
    r.count("smtp transactions", s, 2)
    envelope_only(r, s, 0, "alice@example.com", [])
    delivered(r, s, 1, "bob@example.com", ["alice@example.com"],
              "BBD4A58CE356")


@expect("sv-smtp-helo-reset-after-rcpt")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 2)
    envelope_only(r, s, 0, "alice@example.com", ["bob@example.com"])
    delivered(r, s, 1, "bob@example.com", ["alice@example.com"],
              "BAE155EECDD6")


@expect("sv-smtp-file-data-01")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 1)
    tx(r, s, 0, mail_from="<sender@example.com>",
       rcpt_to=["<recipient@example.com>"], data__code=250,
       data__complete=True, data__bytes=17219)


@expect("zk-smtp-attachment-msg")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 1)
    x = r.of("smtp")
    r.eq("src_ip", x[0].get("src_ip") if x else None, "::1")
    # lower-case verbs; only the client's side is in the capture
    tx(r, s, 0, helo="localhost.localdomain",
       mail_from="<sender@example.com>", rcpt_to=["<recipient@example.com>"],
       data__command="DATA", data__complete=True, unknown_commands=None)


@expect("zk-smtp-one-side-only")
def _(r):
    s = r.smtp()
    # Zeek: two transactions. No reply at all: the lines behind each DATA
    # are its message, not commands
    r.count("smtp transactions", s, 2)
    tx(r, s, 0, mail_from="<robin@icir.org>", rcpt_to=["<robin@icir.org>"],
       mail__params="size=9030", data__bytes=9178, data__complete=True,
       unknown_commands=None)
    tx(r, s, 1, mail_from="<robin@icir.org>", rcpt_to=["<rsommer@lbl.gov>"],
       mail__params="size=9031", data__bytes=9179, data__complete=True,
       unknown_commands=None)


@expect("zk-bdat-0-last")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 1)
    delivered(r, s, 0, "zeek@localhost", ["root@localhost"],
              "75A291CA025", command="BDAT")
    tx(r, s, 0, data__chunks=1, data__bytes=0)


def bdat_refused(r):
    s = r.smtp()
    r.count("smtp transactions", s, 1)
    tx(r, s, 0, mail_from="<zeek@localhost>", rcpt_to=["<root@localhost>"],
       data__command="BDAT", data__code=521, data__bytes=0,
       data__complete=False)
    if s:
        r.check(has_anomaly(s[0], "command_syntax"),
                "the refused BDAT is not flagged command_syntax")
    # no chunk read: QUIT is still a command
    r.count("QUIT commands", r.commands("QUIT"), 1)


@expect("zk-bdat-chunk-size-overflow")
def _(r):
    bdat_refused(r)


@expect("zk-bdat-negative-chunk-size")
def _(r):
    bdat_refused(r)


@expect("zk-bdat-gap")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 1)
    tx(r, s, 0, mail_from="<sender@example.com>",
       rcpt_to=["<recipient@example.com>"], data__code=250,
       data__text="OK: message queued", data__complete=True)
    if s:
        r.check(has_anomaly(s[0], "gap"), "the gap is not flagged")
    # the "250 OK" answering what the gap hid is paired with nothing
    r.eq("BDAT replies", [e[4] for e in r.replies("BDAT")], ["250"])
    r.eq("QUIT replies", [e[4] for e in r.replies("QUIT")], ["221"])


@expect("zk-bdat-multipart-chunked")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 1)
    delivered(r, s, 0, "zeek@localhost", ["root@localhost"],
              "E4F471CA025", command="BDAT")
    # 26 chunks of 129 bytes and a LAST one of 106
    tx(r, s, 0, data__chunks=27, data__bytes=26 * 129 + 106)
    r.eq("BDAT replies", len(r.replies("BDAT")), 27)


@expect("zk-bdat-pipeline-8bitmime")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 2)
    for i, (size, n) in enumerate(((4333, 4404), (8546, 8757))):
        delivered(r, s, i, "linux-kernel-owner@vger.kernel.org",
                  ["trafficwatcher@foundit.scootmail.com"], command="BDAT")
        tx(r, s, i, mail__params=f"BODY=8BITMIME SIZE={size}",
           data__bytes=n, data__chunks=1, helo="vger.kernel.org")


@expect("zk-smtp-many-addresses")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 1)
    tx(r, s, 0, rcpt_count__total=600, rcpt_count__accepted=600,
       rcpt_count__refused=0, data__code=250, data__complete=True)
    if s:
        r.check(has_anomaly(s[0], "recipients_cap"),
                "600 recipients listed without recipients_cap")
    # every one of the 600 with its own code: the reply events
    rr = r.replies("RCPT")
    r.count("RCPT replies", rr, 600)
    r.eq("distinct RCPT reply addresses", len({e[2] for e in rr}), 600)
    r.check(all(e[4] == "250" for e in rr), "a RCPT reply is not 250")


@expect("zk-socks-with-ssl")
def _(r):
    x = r.of("socks")
    if r.count("socks records", x, 1):
        s = x[0]["socks"]
        r.eq("socks.version", s.get("version"), 5)
        r.eq("socks.target", (s.get("target_host"), s.get("target_port"),
                              s.get("target_type")),
             ("www.google.com", 443, "domain"))
        r.eq("socks.granted", s.get("granted"), True)
    r.count("records of the TLS inside", r.of("smtp") + r.of("http"), 0)


@expect("zk-http-methods")
def _(r):
    h = r.of("http")
    # origin-form requests to a web server are not proxy traffic: facts
    # for the rules, no http record (README "Plain HTTP"); what is left
    # are the CONNECT probes
    r.check(len(h) >= 1, "no record of the CONNECT probes")
    r.check(all(get(x, "http.http_method") == "CONNECT" for x in h),
            "an origin-form request was recorded: "
            + ", ".join(sorted({str(get(x, "http.http_method")) for x in h})))
    # "CONNECT / HTTP/1.1" and friends: refused (400), never a tunnel
    r.check(not any(get(x, "http.proxy.tunnel") for x in h),
            "a tunnel was opened")
    r.check(all(get(x, "http.status") == 400 for x in h
                if get(x, "http.http_method") == "CONNECT"),
            "a CONNECT with another status than 400")


@expect("ak-smtp-data-250")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 1)
    delivered(r, s, 0, "12345678@aol.com", ["xxxx.xxxxxx@xxxxx.com"],
              "1D2BFE000094")
    tx(r, s, 0, auth__mechanism="PLAIN", auth__user="12345678@aol.com",
       auth__ok=True, client_authenticated=True)
    r.eq("dest_port", r.of("smtp")[0].get("dest_port") if s else None, 587)


@expect("ak-smtp-zip")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 1)
    # mixed-case "MAIL From:" with SIZE, RCPT+DATA pipelined
    delivered(r, s, 0, "xxxxx@xxx.net", ["xxxxxxxxx@xxxxxxx.com"],
              "5CF8324407F")
    tx(r, s, 0, mail__params="SIZE=1379", data__bytes=1386)


@expect("ak-smtp-subject-utf8-q")
def _(r):
    s = r.smtp()
    r.count("smtp transactions", s, 1)
    delivered(r, s, 0, "xxxxxxxxx@xxxxxxxxx.com",
              ["xxxxxx.xxxxxxxxx@xx.xxxxxxxxxxx.com"], "9623B1308018")
    tx(r, s, 0, mail__params="SIZE=1697", data__bytes=1697)


@expect("ak-smtp-subject-multi-nospace")
def _(r):
    s = r.smtp()
    # the whole client side in one segment, the server never speaks: one
    # transaction, its text is a message (ended by a bare-LF ".")
    r.count("smtp transactions", s, 1)
    tx(r, s, 0, helo="xxxxxx.xxxxxx.xxx.com", mail_from="<xxxxx@xxx.net>",
       rcpt_to=["<xxxxx@xxx.net>"], data__bytes=236, data__complete=True,
       unknown_commands=None)


@expect("ak-wireshark-bdat")
def _(r):
    s = r.smtp()
    # port 1224: found by content; null sender
    r.count("smtp transactions", s, 1)
    tx(r, s, 0, mail_from="<>", rcpt_to=["<p@test.ex>"],
       data__command="BDAT", data__code=250, data__text="OK bdat",
       data__complete=True, data__chunks=2)
    r.eq("dest_port", r.of("smtp")[0].get("dest_port") if s else None, 1224)


@expect("ak-socks-https-example")
def _(r):
    x = sorted(r.of("socks"), key=lambda a: a.get("src_port"))
    if r.count("socks records", x, 3):
        got = [(get(a, "socks.version"), get(a, "socks.target_host"),
                get(a, "socks.target_port"), get(a, "socks.granted"))
               for a in x]
        r.eq("socks sessions", got,
             [(4, "93.184.216.119", 443, True),
              (4, "www.example.com", 443, True),
              (5, "93.184.216.119", 443, True)])
        r.eq("dest_port", {a.get("dest_port") for a in x}, {1080})


@expect("ak-socks5-rdp")
def _(r):
    x = r.of("socks")
    if r.count("socks records", x, 1):
        r.eq("socks", (get(x[0], "socks.version"),
                       get(x[0], "socks.target_host"),
                       get(x[0], "socks.target_port"),
                       get(x[0], "socks.granted"), x[0].get("dest_port")),
             (5, "10.0.0.1", 3389, True, 42356))


@expect("ak-arkime-synthetic")
def _(r):
    socks = sorted(r.of("socks"), key=lambda a: a.get("src_port"))
    if r.count("socks records", socks, 2):
        a, b = socks
        # SOCKS5 without a reply: asked, not granted
        r.eq("SOCKS5 without reply", (get(a, "socks.target_host"),
                                      get(a, "socks.target_port"),
                                      get(a, "socks.granted")),
             ("10.0.0.1", 80, False))
        # user/pass, by name
        r.eq("SOCKS5 user/pass", (get(b, "socks.target_host"),
                                  get(b, "socks.target_port"),
                                  get(b, "socks.user"),
                                  get(b, "socks.auth_ok"),
                                  get(b, "socks.granted")),
             ("target.example.com", 80, "proxyuser", True, True))
    no_secret(r, "proxypass")
    s = sorted(r.smtp(), key=lambda a: a.get("mail_from") or "")
    if r.count("smtp transactions", s, 2):
        # MAIL without a reply
        tx(r, s, 0, helo="test", mail_from="<a@b.com>", mail__code=None,
           rcpt_to=None)
        # plain SMTP: the message sent, its end never answered
        tx(r, s, 1, mail_from="<sender@example.com>",
           rcpt_to=["<recipient@example.org>"], data__complete=True)


# ---- running --------------------------------------------------------------

# Captures edited after capture (addresses anonymised without fixing the
# checksums: tcpdump -vv says "incorrect" on both sides, on some packets
# only, so no host looks offloaded): their projects run them without
# checksum validation (suricata-verify: -k none), and so do we.
EXTRA_ARGS = {
    "sv-smtp-bug-5981": ["--checksum", "off"],
}

def relaywatch(rw, args):
    p = subprocess.run([rw] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def parse(out):
    recs = []
    for line in out.splitlines():
        if line.strip():
            recs.append(json.loads(line))
    return recs


def probe_events(recs):
    ev = []
    for a in recs:
        if a.get("event_type") != "alert":
            continue
        sig = get(a, "alert.signature") or ""
        ev.append(tuple(sig.split("|")))
    return ev


def generic_smtp(r):
    # replies come in command order: the RCPT replies name the RCPT
    # commands' addresses, in order, as far as replies go (an address the
    # queue could not keep is "@domain" or absent, never another one)
    cmds = [e[2] for e in r.commands("RCPT")]
    reps = [e[2] for e in r.replies("RCPT")]
    bad = [(i, c, p) for i, (c, p) in enumerate(zip(cmds, reps))
           if p != c and not (p.startswith("@") and c.endswith(p)) and
           p != "-"]
    r.check(len(reps) <= len(cmds) and not bad,
            f"RCPT replies paired with other RCPTs: {bad[:3]}")
    # every smtp record is valid, printable JSON already (json.loads)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--relaywatch", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("names", nargs="*", help="only these captures")
    a = ap.parse_args()

    index = []
    with open(os.path.join(a.corpus, "INDEX.tsv")) as f:
        hdr = f.readline().rstrip("\n").split("\t")
        for line in f:
            if line.strip():
                index.append(dict(zip(hdr, line.rstrip("\n").split("\t"))))
    tmp = tempfile.mkdtemp(prefix="peer_check.")
    probe = os.path.join(tmp, "probe.rules")
    with open(probe, "w") as f:
        f.write(PROBE_RULES)

    failed = 0
    for row in index:
        name = row["name"]
        if a.names and name not in a.names:
            continue
        pcap = os.path.join(a.corpus, name + ".pcap")
        what = row.get("exercises", "")
        if name not in EXPECT:
            print(f"not ok - peer/{name} no expectation written for it "
                  f"({what})")
            failed += 1
            continue
        rc, out = relaywatch(a.relaywatch, ["--no-rules", "--no-stats",
                                            "-r", pcap] +
                             EXTRA_ARGS.get(name, []))
        if rc != 0:
            print(f"not ok - peer/{name} relaywatch exited {rc}")
            failed += 1
            continue
        try:
            recs = parse(out)
        except ValueError as e:
            print(f"not ok - peer/{name} output is not JSON lines: {e}")
            failed += 1
            continue
        text = out
        events = []
        if any(x.get("event_type") == "smtp" for x in recs):
            rc, pout = relaywatch(a.relaywatch, ["--rules", probe,
                                                 "--no-stats", "-r", pcap])
            if rc != 0:
                print(f"not ok - peer/{name} relaywatch --rules (probe) "
                      f"exited {rc}")
                failed += 1
                continue
            text += pout
            try:
                events = probe_events(parse(pout))
            except ValueError as e:
                print(f"not ok - peer/{name} probe output is not JSON: {e}")
                failed += 1
                continue
        r = Run(name, recs, events, text)
        EXPECT[name](r)
        if events:
            generic_smtp(r)
        if r.fails:
            failed += 1
            print(f"not ok - peer/{name} {what}")
            for m in r.fails:
                print(f"#   {m}")
        else:
            print(f"ok - peer/{name} {r.n} checks: {what}")
    try:
        os.remove(probe)
        os.rmdir(tmp)
    except OSError:
        pass
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
