#!/usr/bin/env python3
"""corpus_check.py - cross-check relaywatch against other tools' ground truth.

The public corpus (/work/shared/corpus/public, read-only, never copied into
this repository) holds pcaps from four projects together with what each
project's own test suite expects from them:

  zeek/             btest baselines: smtp.log, http.log, socks.log,
                    tunnel.log, conn.log, and "out" event dumps
  suricata-verify/  test.yaml: EVE filters (event_type, smtp.helo,
                    smtp.mail_from, smtp.rcpt_to[0], http.http_method ...)
  arkime/           .test: the session documents Arkime writes (email.src,
                    email.dst, email.smtpHello, socks.host/port/user, http.*)
  ndpi/             result/*.out: per-flow classification (SMTP, SMTPS,
                    HTTP_Proxy, HTTP_Connect)

INDEX.tsv names each pcap and its ground truth. For every pcap this script
runs `relaywatch -r PCAP --no-stats` once, then compares each ground-truth
file with the records of the same connection (matched by client/server
address and port) and prints one TAP-like line per compared file:

  ok - corpus/<project>/<file>            every strict field agrees
  not ok - corpus/<project>/<file>        a strict field disagrees
  ok - corpus/<project>/<file> # SKIP why nothing in it we can compare
  # ...                                   diagnostics (mismatches, skipped
                                          filters and why)

and at the end "# agreement: X/Y fields" over every compared field.

Strict and soft fields. Only facts relaywatch claims to produce make a line
fail ("strict"): helo, mail_from, rcpt_to, per-recipient reply codes, the
last reply of a transaction, http method/host/status, socks
target/user/version/outcome, and the CONNECT-with-SMTP tunnel assertion.
Everything else that is compared (uri, tls flag, protocol detection,
tags, conn.log services) is "soft": counted in the agreement figure and
printed as a diagnostic, never a failure.

Documented representation differences are normalized here, not in
relaywatch (each normalizer says which project does what):
  * addresses: Zeek strips the <> of MAIL FROM / RCPT TO, Suricata and
    relaywatch keep what the client sent, Arkime lowercases; compare the
    bare address (first <...> if any, else the first token), and
    case-insensitively only against Arkime.
  * Arkime lowercases HELO names and HTTP hosts.
  * Zeek's last_reply is "CODE TEXT" of the last reply line; relaywatch
    keeps code, enhanced code and text apart (and may keep several lines).
  * Suricata cuts a long line at 4 KiB and keeps the CR before the cut;
    relaywatch caps HELO lower and says so: compare the common prefix
    when relaywatch flags the value as truncated.
  * relaywatch has no last_reply: the reply of the last transaction
    command it records stands for it (data, last RCPT, MAIL; an accepted
    STARTTLS is tls "starttls", code 220 implied). Zeek also counts the
    500 answering junk sent as commands; relaywatch lists those commands
    in unknown_commands without replies: a Zeek 500/502 last_reply agrees
    when the transaction has unknown commands.
  * Zeek/Arkime host headers may carry ":port"; hostname does not.

Not claims, so soft: URIs, detection. Origin-form HTTP sent through a
granted tunnel (GET / to the final server) is parsed inside the tunnel
(the tunnel's target port, or an origin-form request line) and compared
strictly.
KNOWN_LIMITS lists traces relaywatch cannot meet by a documented design
decision (no IP defragmentation): their mismatches are
printed and counted, but do not fail the line.

The checker checks itself last: every strict fact in relaywatch's records
is changed (mutate()) and every case that agreed on one must then fail
("corpus/checker-detects-mutations").

Standard library only (a small parser for the YAML subset test.yaml uses:
block mappings and sequences, plain / quoted scalars, flow lists).

usage: corpus_check.py [--relaywatch BIN] [--corpus DIR] [--only SUBSTR]
                       [--verbose] [--keep DIR]
Exit status 1 when any line is "not ok".
"""
import argparse
import glob
import ipaddress
import json
import os
import re
import struct
import subprocess
import sys

# ---------------------------------------------------------------- results


# Ground truth that relaywatch cannot meet by a documented design decision
# (not a representation difference): its mismatches are printed and
# counted as disagreement, but do not fail the line. Keep this list short
# and cite where the limitation is written down.
KNOWN_LIMITS = {
    "arkime/tests/pcap/socks5-http-302-frag.test":
        "IPv4 fragments of TCP are not reassembled (userspace/decode.h); "
        "this trace carries the SOCKS5 request and the HTTP in fragments",
}


class Case:
    """One compared ground-truth file: a TAP line plus its fields."""

    def __init__(self, name):
        self.name = name
        self.fields = []   # (strict, ok, where, what, expected, got)
        self.notes = []    # free diagnostics (skipped filters ...)
        self.skip = None   # reason: nothing comparable
        self.error = None  # relaywatch failed on the pcap
        self.known = KNOWN_LIMITS.get(name)  # documented: mismatches expected

    def field(self, strict, ok, where, what, expected, got):
        self.fields.append((strict, bool(ok), where, what, expected, got))
        return ok

    def note(self, msg):
        self.notes.append(msg)

    def failed(self):
        if self.error is not None:
            return True
        return not self.known and any(s and not ok for s, ok, *_ in self.fields)


def short(v, n=90):
    s = repr(v)
    return s if len(s) <= n else s[:n - 20] + "..." + s[-15:]


def report(cases, verbose):
    total = agree = strict_total = strict_agree = 0
    bad = 0
    for c in cases:
        if c.skip and not c.fields and c.error is None:
            print(f"ok - corpus/{c.name} # SKIP {c.skip}")
            for n in c.notes:
                print(f"#   {n}")
            continue
        st = "not ok" if c.failed() else "ok"
        bad += st == "not ok"
        n_ok = sum(1 for f in c.fields if f[1])
        s_all = [f for f in c.fields if f[0]]
        s_ok = sum(1 for f in s_all if f[1])
        print(f"{st} - corpus/{c.name}")
        if c.error:
            print(f"#   relaywatch failed: {c.error}")
        if c.known:
            print(f"#   known limitation: {c.known}")
        print(f"#   {n_ok}/{len(c.fields)} fields agree "
              f"(strict {s_ok}/{len(s_all)})")
        for strict, ok, where, what, exp, got in c.fields:
            if ok and not verbose:
                continue
            tag = ("agree" if ok else
                   "soft mismatch" if not strict else
                   "mismatch (known limitation)" if c.known else "MISMATCH")
            print(f"#   {tag}: {where} {what}: expected {short(exp)}, "
                  f"got {short(got)}")
        for n in c.notes:
            print(f"#   {n}")
        total += len(c.fields)
        agree += n_ok
        strict_total += len(s_all)
        strict_agree += s_ok
    return bad, (agree, total, strict_agree, strict_total)


# ---------------------------------------------------------------- relaywatch

def norm_ip(s):
    try:
        return str(ipaddress.ip_address(str(s)))
    except ValueError:
        return str(s)


def conn_key(a, ap, b, bp):
    return (norm_ip(a), int(ap), norm_ip(b), int(bp))


class Eve:
    """relaywatch's records for one pcap, indexed by connection."""

    def __init__(self, records):
        self.records = records
        self.by_conn = {}
        for r in records:
            if "src_ip" not in r or "dest_ip" not in r:
                continue
            k = conn_key(r["src_ip"], r.get("src_port", 0),
                         r["dest_ip"], r.get("dest_port", 0))
            self.by_conn.setdefault(k, []).append(r)

    def conn(self, a, ap, b, bp, event_type=None, either=True):
        """Records of the connection a:ap -> b:bp (client first). either:
        also accept the reverse orientation (Arkime and nDPI name the
        endpoints by their own heuristics)."""
        out = list(self.by_conn.get(conn_key(a, ap, b, bp), []))
        if either and not out:
            out = list(self.by_conn.get(conn_key(b, bp, a, ap), []))
        if event_type:
            out = [r for r in out if r.get("event_type") == event_type]
        return out

    def of_type(self, t):
        return [r for r in self.records if r.get("event_type") == t]


_eve_cache = {}


def run_relaywatch(binary, pcap, keep):
    """-> (Eve, None) or (None, error text). One run per pcap."""
    if pcap in _eve_cache:
        return _eve_cache[pcap]
    try:
        p = subprocess.run([binary, "-r", pcap, "--no-stats"],
                           capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        res = (None, f"{binary} -r {pcap}: {e}")
        _eve_cache[pcap] = res
        return res
    out = p.stdout.decode("utf-8", "replace")
    if keep:
        os.makedirs(keep, exist_ok=True)
        name = "__".join(os.path.normpath(pcap).split(os.sep)[-3:])
        with open(os.path.join(keep, name + ".json"), "w",
                  encoding="utf-8") as f:
            f.write(out)
    if p.returncode != 0:
        err = p.stderr.decode("utf-8", "replace").strip().splitlines()
        res = (None, f"exit {p.returncode}: {' | '.join(err[-3:])}")
        _eve_cache[pcap] = res
        return res
    recs, bad = [], 0
    for line in out.splitlines():
        if not line.strip():
            continue
        try:
            recs.append(json.loads(line))
        except ValueError:
            bad += 1
    res = (Eve(recs), f"{bad} output lines are not JSON" if bad else None)
    if bad:
        res = (None, res[1])
    _eve_cache[pcap] = res
    return res


# ---------------------------------------------------------------- normalizers

def bare_addr(s):
    """Mail address without <>, parameters or surrounding blanks.
    'FROM:<a@b> SIZE=1' style arguments are not expected here, but a
    leading 'FROM:'/'TO:' is tolerated."""
    if s is None:
        return ""
    s = str(s).strip()
    s = re.sub(r"^(?i:from|to)\s*:\s*", "", s)
    m = re.search(r"<([^>]*)>", s)
    if m:
        return m.group(1).strip()
    return s.split()[0] if s.split() else ""


def dget(obj, path, default=None):
    """obj['a']['b'][0] for path 'a.b[0]'."""
    cur = obj
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            i = int(part[1:-1])
            if not isinstance(cur, list) or i >= len(cur):
                return default
            cur = cur[i]
        else:
            if not isinstance(cur, dict) or part not in cur:
                return default
            cur = cur[part]
    return cur


def smtp_of(r):
    return r.get("smtp") or {}


def our_helo(s):
    return s.get("helo") or ""


def our_rcpts(s):
    """All recipients the client named, bare. rcpt_to mirrors recipients."""
    if s.get("rcpt_to"):
        return [bare_addr(a) for a in s["rcpt_to"]]
    return [bare_addr(r.get("address")) for r in s.get("recipients", [])]


def our_tls(s):
    """relaywatch writes tls as a string ("starttls") or a bool."""
    t = s.get("tls")
    return bool(t) and t not in ("none", "no", "false")


def truncated(s, field):
    """Does relaywatch flag a value of this smtp object as cut at its cap?
    (anomalies "field_truncated" / "line_too_long"; they do not say which
    field, so callers also require the value to be a prefix.)"""
    for a in s.get("anomalies", []) or []:
        if "trunc" in str(a) or "too_long" in str(a):
            return True
    return bool(s.get(field + "_truncated"))


def our_last_reply(s):
    """The last server reply relaywatch records for this transaction, as
    (code, texts) where texts are the ways the reply may be written
    ("2.0.0 Ok", "Ok"), None when relaywatch keeps no text for it.
    relaywatch has no last_reply field: the reply to the last transaction
    command it records stands for it. Preference: an explicit last_reply,
    then the data reply (DATA/BDAT), then the last recipient's, then
    MAIL's, then the STARTTLS reply (implied by tls "starttls")."""
    lr = s.get("last_reply")
    if isinstance(lr, dict) and lr.get("code") is not None:
        return lr.get("code"), _texts(lr)
    if isinstance(lr, str) and lr[:3].isdigit():
        return int(lr[:3]), [lr[4:]]
    d = s.get("data")
    if isinstance(d, dict) and d.get("code") is not None:
        return d.get("code"), _texts(d)
    rc = s.get("recipients") or []
    if rc and rc[-1].get("code") is not None:
        return rc[-1].get("code"), _texts(rc[-1])
    m = s.get("mail")
    if isinstance(m, dict) and m.get("code") is not None:
        return m.get("code"), _texts(m)
    if s.get("tls") == "starttls":
        # relaywatch writes tls "starttls" only once the server answered
        # STARTTLS with 220 (smtp.c) and keeps no text for it
        return 220, None
    return None, []


def _texts(o):
    t = o.get("text") or o.get("reply") or ""
    if isinstance(t, list):
        t = t[-1] if t else ""
    enh = o.get("enhanced") or ""
    out = [t.strip()]
    if enh:
        out.append(f"{enh} {t}".strip())
    return out


def zeek_reply_agrees(exp, code, texts):
    """Zeek writes last_reply "CODE TEXT" with the last line's text (the
    enhanced code is part of its text)."""
    if exp is None:
        return code is None
    m = re.match(r"(\d{3})\s?(.*)$", exp)
    if not m or code is None:
        return False
    if int(m.group(1)) != int(code):
        return False
    want = m.group(2).strip()
    if texts is None or not want:
        return True
    # relaywatch may keep all lines of a multi-line reply; Zeek the last
    return any(t == want or (t and (t.endswith(want) or want in t))
               for t in texts)


def host_noport(h):
    h = (h or "").strip().lower()
    if h.startswith("["):
        return h[1:h.index("]")] if "]" in h else h
    if h.count(":") == 1:
        return h.split(":")[0]
    return h


# ---------------------------------------------------------------- best match

def best_match(exp_fields, cands, used):
    """Pick the not-yet-used candidate that agrees on most of exp_fields
    [(name, compare(record) -> bool)], earliest on ties. Returns index or
    None. Transactions of one connection are matched this way rather than
    by position because the projects split odd dialogues differently (a
    RCPT without MAIL is its own transaction in Zeek)."""
    best, best_score = None, -1
    for i, r in enumerate(cands):
        if i in used:
            continue
        score = sum(1 for _, f in exp_fields if f(r))
        if score > best_score:
            best, best_score = i, score
    return best


# ---------------------------------------------------------------- Zeek

def zeek_log(path):
    """-> list of dicts; unset fields None, sets as lists."""
    fields, unset, empty, setsep = [], "-", "(empty)", ","
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                parts = line.split("\t")
                if parts[0] == "#fields":
                    fields = parts[1:]
                elif parts[0] == "#unset_field":
                    unset = parts[1]
                elif parts[0] == "#empty_field":
                    empty = parts[1]
                elif parts[0] == "#set_separator":
                    setsep = parts[1]
                continue
            if not fields and line.startswith("uid\t"):
                fields = line.split("\t")      # zeek-cut -m output
                continue
            if not line or not fields:
                continue
            vals = line.split("\t")
            row = {}
            for k, v in zip(fields, vals):
                row[k] = None if v == unset else v
            row["_setsep"] = setsep
            row["_empty"] = empty
            rows.append(row)
    return rows


def zset(row, k):
    v = row.get(k)
    if v is None or v == row["_empty"]:
        return []
    return v.split(row["_setsep"])


def zconn(row):
    return (row["id.orig_h"], row["id.orig_p"], row["id.resp_h"],
            row["id.resp_p"])


def zwhere(row, extra=""):
    return (f"{row['id.orig_h']}:{row['id.orig_p']}->"
            f"{row['id.resp_h']}:{row['id.resp_p']}{extra}")


def merge_nested_mail(case, rows):
    # Zeek opens a new smtp.log entry at every MAIL command, also at a
    # nested one the server refused (503 "sender already given"): the
    # server's transaction goes on, and relaywatch (like Suricata) keeps
    # it one transaction with its first sender. Such a pair (same
    # connection and trans_depth, same sender, the first entry without
    # recipients) is compared as one transaction: the second entry's
    # recipients and last reply.
    out = []
    for row in rows:
        prev = out[-1] if out else None
        if (prev is not None and zconn(prev) == zconn(row)
                and prev.get("trans_depth") == row.get("trans_depth")
                and prev.get("mailfrom") and
                prev.get("mailfrom") == row.get("mailfrom")
                and not zset(prev, "rcptto")):
            case.note(f"{zwhere(row)} trans_depth {row.get('trans_depth')}: "
                      f"Zeek split the transaction at a nested MAIL; "
                      f"compared as one")
            out[-1] = row
            continue
        out.append(row)
    return out


def check_zeek_smtp(case, eve, path):
    rows = merge_nested_mail(case, zeek_log(path))
    used_by_conn = {}
    for row in rows:
        cands = eve.conn(*zconn(row), "smtp", either=False)
        used = used_by_conn.setdefault(zconn(row), set())
        mf = bare_addr(row.get("mailfrom")) if row.get("mailfrom") else ""
        rc = sorted(zset(row, "rcptto"))
        helo = row.get("helo") or ""
        tls = row.get("tls") == "T"
        spec = [
            ("helo", lambda r: our_helo(smtp_of(r)) == helo),
            ("mail_from", lambda r: bare_addr(smtp_of(r).get("mail_from")) == mf),
            ("rcpt_to", lambda r: sorted(our_rcpts(smtp_of(r))) == rc),
            ("last_reply", lambda r: zeek_reply_agrees(
                row.get("last_reply"), *our_last_reply(smtp_of(r)))),
            ("tls", lambda r: our_tls(smtp_of(r)) == tls),
        ]
        i = best_match(spec, cands, used)
        where = zwhere(row, f" trans_depth {row.get('trans_depth')}")
        if i is None:
            got = "<no smtp record>" if not cands else "<records used up>"
            for name, exp in (("helo", helo), ("mail_from", mf),
                              ("rcpt_to", rc),
                              ("last_reply", row.get("last_reply")),
                              ("tls", tls)):
                case.field(name != "tls", False, where, name, exp, got)
            continue
        used.add(i)
        s = smtp_of(cands[i])
        where += f" (our transaction {s.get('transaction')})"
        case.field(True, our_helo(s) == helo, where, "helo", helo, our_helo(s))
        case.field(True, bare_addr(s.get("mail_from")) == mf, where,
                   "mail_from", mf, s.get("mail_from"))
        case.field(True, sorted(our_rcpts(s)) == rc, where, "rcpt_to", rc,
                   s.get("rcpt_to"))
        code, texts = our_last_reply(s)
        ok = zeek_reply_agrees(row.get("last_reply"), code, texts)
        lr = row.get("last_reply") or ""
        if not ok and lr[:3] in ("500", "502") and s.get("unknown_count"):
            # Zeek's last reply answers a command it did not recognize
            # either (body lines sent after a refused DATA); relaywatch
            # lists such commands (unknown_commands) without their replies
            # and keeps the reply of the last transaction command.
            ok = True
            case.note(f"{where}: Zeek's last_reply {lr!r} answers an "
                      f"unrecognized command; relaywatch has "
                      f"unknown_commands {s.get('unknown_commands')} and "
                      f"its last transaction reply is {code}")
        case.field(True, ok, where, "last_reply", row.get("last_reply"),
                   f"{code} {texts[-1] if texts else ''}".strip()
                   if code is not None else None)
        case.field(False, our_tls(s) == tls, where, "tls", tls, s.get("tls"))
    # a relaywatch transaction Zeek does not have is not a field; say so
    for k, used in used_by_conn.items():
        extra = len(eve.conn(*k, "smtp", either=False)) - len(used)
        if extra > 0:
            case.note(f"relaywatch has {extra} more smtp record(s) on "
                      f"{k[0]}:{k[1]}->{k[2]}:{k[3]} than Zeek's smtp.log")


def check_zeek_http(case, eve, path):
    rows = zeek_log(path)
    used_by_conn = {}
    for row in rows:
        cands = eve.conn(*zconn(row), "http", either=False)
        used = used_by_conn.setdefault(zconn(row), set())
        meth, host, uri = row.get("method"), row.get("host"), row.get("uri")
        status = int(row["status_code"]) if row.get("status_code") else None
        # Zeek's host is the Host header as sent (with a port if the client
        # wrote one); Suricata/relaywatch hostname drops the port: compare
        # without ports. Zeek leaves host unset when there is no Host
        # header; relaywatch may still name the CONNECT target there, so an
        # unset Zeek host is not compared.
        spec = [
            ("method", lambda r: dget(r, "http.http_method") == meth),
            ("url", lambda r: dget(r, "http.url") == uri),
            ("status", lambda r: dget(r, "http.status") == status),
        ]
        i = best_match(spec, cands, used)
        where = zwhere(row, f" trans_depth {row.get('trans_depth')}")
        if i is None:
            case.field(True, False, where, "method", meth, "<no http record>")
            if host is not None:
                case.field(True, False, where, "host", host, "<no http record>")
            case.field(True, False, where, "status", status, "<no http record>")
            case.field(False, False, where, "uri", uri, "<no http record>")
            continue
        used.add(i)
        h = cands[i].get("http", {})
        case.field(True, h.get("http_method") == meth, where, "method", meth,
                   h.get("http_method"))
        if host is not None:
            case.field(True, host_noport(h.get("hostname")) == host_noport(host),
                       where, "host", host, h.get("hostname"))
        else:
            case.note(f"{where}: Zeek host unset (no Host header); "
                      f"relaywatch hostname {h.get('hostname')!r} not compared")
        case.field(True, h.get("status") == status, where, "status", status,
                   h.get("status"))
        case.field(False, h.get("url") == uri, where, "uri", uri, h.get("url"))


SOCKS_TYPES = {"Tunnel::SOCKS": ("socks4", "socks5"),
               "Tunnel::HTTP": ("http_connect",)}


def check_zeek_socks(case, eve, path):
    rows = zeek_log(path)
    for row in rows:
        cands = eve.conn(*zconn(row), "socks", either=False)
        where = zwhere(row)
        ver = int(row["version"]) if row.get("version") else None
        user = row.get("user") or ""
        ok_status = row.get("status") == "succeeded"
        thost = row.get("request.name") or row.get("request.host")
        tport = int(row["request_p"]) if row.get("request_p") else None
        spec = [
            ("version", lambda r: dget(r, "socks.version") == ver),
            ("host", lambda r: str(dget(r, "socks.target_host")) == thost),
            ("port", lambda r: dget(r, "socks.target_port") == tport),
        ]
        i = best_match(spec, cands, set())
        if i is None:
            for what, exp in (("version", ver), ("user", user),
                              ("granted", ok_status), ("target_host", thost),
                              ("target_port", tport)):
                case.field(True, False, where, what, exp, "<no socks record>")
            continue
        s = cands[i].get("socks", {})
        case.field(True, s.get("version") == ver, where, "version", ver,
                   s.get("version"))
        case.field(True, (s.get("user") or "") == user, where, "user", user,
                   s.get("user"))
        case.field(True, bool(s.get("granted")) == ok_status, where, "granted",
                   f"{row.get('status')}", s.get("granted"))
        case.field(True, str(s.get("target_host")).lower() == str(thost).lower(),
                   where, "target_host", thost, s.get("target_host"))
        case.field(True, s.get("target_port") == tport, where, "target_port",
                   tport, s.get("target_port"))
        bhost = row.get("bound.name") or row.get("bound.host")
        if bhost is not None:
            case.field(False, str(s.get("bound_host")).lower() == bhost.lower(),
                       where, "bound_host", bhost, s.get("bound_host"))
        if row.get("bound_p"):
            case.field(False, s.get("bound_port") == int(row["bound_p"]), where,
                       "bound_port", int(row["bound_p"]), s.get("bound_port"))
        if row.get("password") not in (None, ""):
            # relaywatch never stores passwords: nothing to compare; make
            # sure it is not in the record either.
            case.field(True, row["password"] not in json.dumps(cands[i]),
                       where, "password absent from output", "absent",
                       "present" if row["password"] in json.dumps(cands[i])
                       else "absent")


def tunnel_evidence(eve, a, b, bp, types):
    """Records proving a tunnel from client a to proxy b:bp (any client
    port: Zeek's tunnel.log writes port 0)."""
    ev = []
    for r in eve.records:
        if norm_ip(r.get("src_ip")) != norm_ip(a) or \
           norm_ip(r.get("dest_ip")) != norm_ip(b) or \
           int(r.get("dest_port", -1)) != int(bp):
            continue
        t = dget(r, "proxy_tunnel.type")
        if t in types:
            ev.append(f"{r['event_type']} record proxy_tunnel.type={t}")
        elif "http_connect" in types and r.get("event_type") == "http" and \
                dget(r, "http.http_method") == "CONNECT" and \
                200 <= int(dget(r, "http.status") or 0) < 300:
            ev.append("granted CONNECT")
        elif r.get("event_type") == "socks" and dget(r, "socks.granted") and \
                f"socks{dget(r, 'socks.version')}" in types:
            ev.append(f"granted socks{dget(r, 'socks.version')}")
    return ev


def check_zeek_tunnel(case, eve, path):
    for row in zeek_log(path):
        types = SOCKS_TYPES.get(row.get("tunnel_type"))
        where = f"{row['id.orig_h']}->{row['id.resp_h']}:{row['id.resp_p']}"
        if not types:
            case.note(f"{where}: tunnel type {row.get('tunnel_type')} not "
                      f"produced by relaywatch")
            continue
        ev = tunnel_evidence(eve, row["id.orig_h"], row["id.resp_h"],
                             row["id.resp_p"], types)
        case.field(False, bool(ev), where, "tunnel", row.get("tunnel_type"),
                   ", ".join(sorted(set(ev))) or "<no tunnel>")


def check_zeek_conn(case, eve, path):
    """conn.log 'service': only the services relaywatch parses."""
    rows = zeek_log(path)
    if not rows or "service" not in rows[0]:
        case.skip = "no service column"
        return
    for row in rows:
        svc = set((row.get("service") or "").split(","))
        recs = eve.conn(*zconn(row), either=False)
        have = {r.get("event_type") for r in recs}
        for p in ("smtp", "http", "socks"):
            if p in svc:
                case.field(False, p in have, zwhere(row), f"service {p}",
                           "present", sorted(have - {"flow"}) or "<none>")
        ign = svc - {"smtp", "http", "socks", ""}
        if ign:
            case.note(f"{zwhere(row)}: services {sorted(ign)} not parsed by "
                      f"relaywatch, not compared")


def zeek_uid_map(expected_dir):
    m = {}
    for p in glob.glob(os.path.join(expected_dir, "*.log")) + \
            glob.glob(os.path.join(expected_dir, "*.cut")):
        try:
            with open(p, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        hdr = None
        for line in lines:
            parts = line.split("\t")
            if line.startswith("#fields"):
                hdr = parts[1:]
            elif line.startswith("uid\t"):   # zeek-cut -m output
                hdr = parts
            elif hdr and not line.startswith("#"):
                row = dict(zip(hdr, parts))
                if row.get("uid") not in (None, "-") and "id.orig_h" in row:
                    m[row["uid"]] = zconn(row)
    return m


def check_zeek_out(case, eve, path):
    """'out' files print every smtp_request (and smtp_reply) event. From
    them: HELO, MAIL, RCPT arguments and the reply code of each RCPT and of
    the data command (per-recipient codes: a claimed fact)."""
    uids = zeek_uid_map(os.path.dirname(path))
    sess = {}
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split(", ")
        kind = "smtp_request"
        if parts[0].startswith("smtp_"):
            kind, parts = parts[0], parts[1:]
        if len(parts) < 3:
            continue
        uid = parts[0].strip()
        s = sess.setdefault(uid, {"helo": None, "mail": None, "rcpt": [],
                                  "codes": [], "data": None})
        if kind == "smtp_request":
            cmd, arg = parts[2].strip().upper(), ", ".join(parts[3:])
            if cmd in ("EHLO", "HELO"):
                s["helo"] = arg.strip()
            elif cmd == "MAIL":
                s["mail"] = bare_addr(arg)
            elif cmd == "RCPT":
                s["rcpt"].append(bare_addr(arg))
        elif kind == "smtp_reply" and len(parts) >= 4:
            code, cmd = int(parts[2]), parts[3].strip().upper()
            msg = ", ".join(parts[4:])
            if cmd == "RCPT":
                s["codes"].append(code)
            elif cmd in ("DATA", "BDAT", "."):
                s["data"] = (code, msg)
    if not uids:
        case.skip = "no uid -> connection map next to it"
        return
    for uid, s in sess.items():
        k = uids.get(uid)
        if not k:
            case.note(f"uid {uid}: connection unknown, not compared")
            continue
        recs = [smtp_of(r) for r in eve.conn(*k, "smtp", either=False)]
        where = f"{k[0]}:{k[1]}->{k[2]}:{k[3]}"
        if not recs:
            recs = [{}]
        s0 = next((r for r in recs if bare_addr(r.get("mail_from")) == s["mail"]),
                  recs[0])
        if s["helo"] is not None:
            case.field(True, our_helo(s0) == s["helo"], where, "helo",
                       s["helo"], s0.get("helo"))
        if s["mail"] is not None:
            case.field(True, bare_addr(s0.get("mail_from")) == s["mail"], where,
                       "mail_from", s["mail"], s0.get("mail_from"))
        if s["rcpt"]:
            case.field(True, our_rcpts(s0) == s["rcpt"], where, "rcpt_to",
                       s["rcpt"], s0.get("rcpt_to"))
        if s["codes"]:
            got = [r.get("code") for r in s0.get("recipients", [])]
            case.field(True, got == s["codes"], where, "recipient codes",
                       s["codes"], got)
        if s["data"]:
            d = s0.get("data") or {}
            case.field(True, d.get("code") == s["data"][0], where,
                       "data reply", f"{s['data'][0]} {s['data'][1]}",
                       f"{d.get('code')} {d.get('enhanced') or ''} "
                       f"{d.get('text') or ''}".strip())


ZEEK_CHECKS = {
    "smtp.log": check_zeek_smtp,
    "http.log": check_zeek_http,
    "socks.log": check_zeek_socks,
    "tunnel.log": check_zeek_tunnel,
    "conn.log": check_zeek_conn,
    "conn.log.cut": check_zeek_conn,
    "out": check_zeek_out,
}
ZEEK_SKIP = {
    "weird.log": "Zeek weird names are not relaywatch anomaly names",
    "ssl.log": "relaywatch does not parse TLS",
    "x509.log": "relaywatch does not parse certificates",
}


def check_connect_with_smtp(case, eve):
    """The CONNECT of connect-with-smtp.pcap must give the http record AND
    the SMTP transaction inside the tunnel, marked as such (strict)."""
    c = ("79.26.245.236", 3378, "254.228.86.79", 8240)
    where = "79.26.245.236:3378->254.228.86.79:8240"
    http = eve.conn(*c, "http", either=False)
    conn_http = [r for r in http if dget(r, "http.http_method") == "CONNECT"]
    case.field(True, bool(conn_http), where, "CONNECT http record", "present",
               [dget(r, "http.http_method") for r in http] or
               "<no http record: proxy parser missing?>")
    if conn_http:
        h = conn_http[0]["http"]
        case.field(True, h.get("status") == 200, where, "CONNECT status", 200,
                   h.get("status"))
        case.field(True, dget(h, "proxy.target_host") == "mailin03.sul.t-online.de"
                   and dget(h, "proxy.target_port") == 25, where,
                   "CONNECT target", "mailin03.sul.t-online.de:25",
                   f"{dget(h, 'proxy.target_host')}:{dget(h, 'proxy.target_port')}")
    smtp = eve.conn(*c, "smtp", either=False)
    tun = [r for r in smtp if dget(r, "proxy_tunnel.type") == "http_connect"]
    case.field(True, bool(tun), where, "smtp record with proxy_tunnel.type "
               "http_connect", "present",
               [dget(r, "proxy_tunnel.type") for r in smtp] or "<no smtp record>")
    if tun:
        t, s = tun[0]["proxy_tunnel"], tun[0]["smtp"]
        case.field(True, t.get("target_host") == "mailin03.sul.t-online.de"
                   and t.get("target_port") == 25, where, "tunnel target",
                   "mailin03.sul.t-online.de:25",
                   f"{t.get('target_host')}:{t.get('target_port')}")
        if conn_http:
            case.field(True, t.get("parent_flow_id") == conn_http[0].get("flow_id"),
                       where, "proxy_tunnel.parent_flow_id",
                       conn_http[0].get("flow_id"), t.get("parent_flow_id"))
        case.field(True, bare_addr(s.get("mail_from")) ==
                   "nhfjenna_neumann@lycos.com" and
                   our_rcpts(s) == ["thenightwatch@t-online.de"],
                   where, "tunnelled envelope",
                   "nhfjenna_neumann@lycos.com -> thenightwatch@t-online.de",
                   f"{s.get('mail_from')} -> {s.get('rcpt_to')}")


# ---------------------------------------------------------------- pcap (request line)

def pcap_first_request(path):
    """First client payload that starts with an HTTP request line, from a
    classic pcap with Ethernet or NULL framing and IPv4/IPv6 TCP. Returns
    (src, sport, dst, dport, method, target) or None."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return None
    if data[:4] == b"\xd4\xc3\xb2\xa1" or data[:4] == b"\x4d\x3c\xb2\xa1":
        e = "<"
    elif data[:4] == b"\xa1\xb2\xc3\xd4" or data[:4] == b"\xa1\xb2\x3c\x4d":
        e = ">"
    else:
        return None
    link = struct.unpack(e + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if link == 1:
            et, p = struct.unpack(">H", pkt[12:14])[0], 14
            while et == 0x8100 and len(pkt) >= p + 4:
                et, p = struct.unpack(">H", pkt[p + 2:p + 4])[0], p + 4
        elif link == 0:
            af = struct.unpack(e + "I", pkt[:4])[0]
            et, p = (0x0800 if af == 2 else 0x86DD), 4
        else:
            return None
        if et == 0x0800 and len(pkt) >= p + 20 and pkt[p + 9] == 6:
            ihl = (pkt[p] & 15) * 4
            src, dst = str(ipaddress.ip_address(pkt[p + 12:p + 16])), \
                str(ipaddress.ip_address(pkt[p + 16:p + 20]))
            tot = struct.unpack(">H", pkt[p + 2:p + 4])[0]
            t, end = p + ihl, p + tot
        elif et == 0x86DD and len(pkt) >= p + 40 and pkt[p + 6] == 6:
            src, dst = str(ipaddress.ip_address(pkt[p + 8:p + 24])), \
                str(ipaddress.ip_address(pkt[p + 24:p + 40]))
            t = p + 40
            end = t + struct.unpack(">H", pkt[p + 4:p + 6])[0]
        else:
            continue
        if len(pkt) < t + 20:
            continue
        sp, dp = struct.unpack(">HH", pkt[t:t + 4])
        pay = pkt[t + (pkt[t + 12] >> 4) * 4:end]
        m = re.match(rb"([A-Z]{3,10}) (\S+) HTTP/1\.[01]\r?\n", pay)
        if m:
            return (src, sp, dst, dp, m.group(1).decode(),
                    m.group(2).decode("latin-1"))
    return None


def check_request_line(case, eve, pcap):
    r = pcap_first_request(pcap)
    if not r:
        case.skip = "no HTTP request line found in the pcap"
        return
    src, sp, dst, dp, meth, target = r
    where = f"{src}:{sp}->{dst}:{dp}"
    recs = [x for x in eve.conn(src, sp, dst, dp, "http", either=False)]
    h = recs[0]["http"] if recs else {}
    got = lambda v: v if recs else "<no http record>"
    case.field(True, h.get("http_method") == meth, where, "method", meth,
               got(h.get("http_method")))
    case.field(False, h.get("url") == target, where, "url", target,
               got(h.get("url")))
    absolute = re.match(r"(?i)[a-z][a-z0-9+.-]*://", target) is not None
    if absolute:
        host = re.match(r"(?i)[a-z][a-z0-9+.-]*://([^/:?#]+)", target).group(1)
        case.field(False, dget(h, "proxy.form") == "absolute", where,
                   "proxy.form", "absolute", got(dget(h, "proxy.form")))
        case.field(True, str(dget(h, "proxy.target_host") or "").lower() ==
                   host.lower(), where, "proxy.target_host", host,
                   got(dget(h, "proxy.target_host")))


# ---------------------------------------------------------------- tiny YAML

def _strip_comment(line):
    out, q = [], None
    for i, ch in enumerate(line):
        if q:
            if ch == "\\" and q == '"':
                out.append(ch)
                continue
            if ch == q:
                q = None
        elif ch in "\"'" and (i == 0 or line[i - 1] in " :[,-"):
            q = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            break
        out.append(ch)
    return "".join(out).rstrip()


_ESC = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "0": "\0",
        "/": "/"}


def yaml_scalar(s):
    s = s.strip()
    if s.startswith('"') and s.endswith('"') and len(s) >= 2:
        out, i, body = [], 0, s[1:-1]
        while i < len(body):
            c = body[i]
            if c == "\\" and i + 1 < len(body):
                n = body[i + 1]
                if n == "x":
                    out.append(chr(int(body[i + 2:i + 4], 16)))
                    i += 4
                    continue
                out.append(_ESC.get(n, n))
                i += 2
                continue
            out.append(c)
            i += 1
        return "".join(out)
    if s.startswith("'") and s.endswith("'") and len(s) >= 2:
        return s[1:-1].replace("''", "'")
    if s.startswith("[") and s.endswith("]"):
        items, cur, q = [], "", None
        for ch in s[1:-1]:
            if q:
                cur += ch
                if ch == q:
                    q = None
            elif ch in "\"'":
                q = ch
                cur += ch
            elif ch == ",":
                items.append(cur)
                cur = ""
            else:
                cur += ch
        if cur.strip():
            items.append(cur)
        return [yaml_scalar(x) for x in items]
    if s in ("", "~", "null"):
        return None
    if s in ("true", "True"):
        return True
    if s in ("false", "False"):
        return False
    if re.fullmatch(r"-?\d+", s):
        return int(s)
    if re.fullmatch(r"-?\d+\.\d*", s):
        return float(s)
    return s


def _split_key(text):
    """'key: value' -> (key, value) with value '' for 'key:'; None if the
    text is not a mapping entry."""
    if text[:1] in "\"'":
        q = text[0]
        j = text.find(q, 1)
        if j > 0 and text[j + 1:j + 2] == ":":
            return text[1:j], text[j + 2:].strip()
        return None
    m = re.match(r"([^:]+?):(?:\s+(.*)|$)", text)
    if not m:
        return None
    return m.group(1).strip(), (m.group(2) or "").strip()


def yaml_load(text):
    """Block YAML as test.yaml uses it. Not a general YAML parser: no
    anchors, multi-line scalars or documents."""
    lines = []
    for raw in text.splitlines():
        if raw.strip().startswith("#") or not raw.strip():
            continue
        s = _strip_comment(raw)
        if s.strip():
            lines.append((len(s) - len(s.lstrip(" ")), s.strip()))

    def block(i, ind):
        if i >= len(lines):
            return None, i
        if lines[i][1].startswith("- ") or lines[i][1] == "-":
            return seq(i, lines[i][0])
        return mapping(i, lines[i][0])

    def seq(i, ind):
        out = []
        while i < len(lines) and lines[i][0] == ind and \
                (lines[i][1].startswith("- ") or lines[i][1] == "-"):
            rest = lines[i][1][1:].strip()
            if not rest:
                v, i = block(i + 1, ind + 1)
                out.append(v)
                continue
            if _split_key(rest) and not rest.startswith(("[", '"<', "'<")):
                # "- key: v" starts a mapping indented by the dash
                lines[i] = (ind + 2, rest)
                v, i = mapping(i, ind + 2)
                out.append(v)
                continue
            out.append(yaml_scalar(rest))
            i += 1
        return out, i

    def mapping(i, ind):
        out = {}
        while i < len(lines) and lines[i][0] == ind:
            kv = _split_key(lines[i][1])
            if kv is None:
                break
            k, v = kv
            i += 1
            if v == "":
                if i < len(lines) and (lines[i][0] > ind or (
                        lines[i][0] == ind and lines[i][1].startswith("- "))):
                    out[k], i = block(i, lines[i][0])
                else:
                    out[k] = None
            else:
                out[k] = yaml_scalar(v)
        return out, i

    v, _ = block(0, 0)
    return v


# ---------------------------------------------------------------- Suricata

# Keys of a filter that relaywatch produces with Suricata's meaning.
SV_SUPPORTED = {
    "smtp": re.compile(r"^(event_type|src_ip|src_port|dest_ip|dest_port|proto|"
                       r"smtp\.helo|smtp\.mail_from|smtp\.rcpt_to(\[\d+\])?)$"),
    "http": re.compile(r"^(event_type|src_ip|src_port|dest_ip|dest_port|proto|"
                       r"http\.http_method|http\.url|http\.status|http\.hostname|"
                       r"http\.http_user_agent|http\.protocol)$"),
}
# claimed facts (strict); other supported keys are soft
SV_STRICT = re.compile(r"^(smtp\.helo|smtp\.mail_from|smtp\.rcpt_to(\[\d+\])?|"
                       r"http\.http_method|http\.hostname|http\.status)$")
SV_WHY = [
    (re.compile(r"^email\."), "email.* (MIME headers) not parsed by relaywatch"),
    (re.compile(r"^(tx_id|pcap_cnt|pkt_src)$"),
     "Suricata transaction/packet numbering"),
    (re.compile(r"^frame\."), "frames are a Suricata feature"),
    (re.compile(r"^fileinfo\."), "no file extraction"),
]


def sv_why(key):
    for rx, why in SV_WHY:
        if rx.search(key):
            return why
    return "not produced by relaywatch"


def sv_norm(key, v):
    """Documented representation differences (see module doc)."""
    if v is None:
        return None
    if key.startswith(("smtp.mail_from", "smtp.rcpt_to")):
        return bare_addr(v)
    if key == "http.hostname":
        return host_noport(v)
    return v


def sv_value_ok(rec, key, want, notes):
    if key.endswith("__startswith"):
        got = dget(rec, key[:-len("__startswith")])
        return isinstance(got, str) and got.startswith(want)
    got = dget(rec, key)
    if key == "smtp.helo" and isinstance(want, str) and isinstance(got, str):
        # Suricata cuts a line over 4 KiB and keeps the CR it cut before
        w = want[:-1] if want.endswith("\r") else want
        if got == w:
            return True
        if truncated(rec.get("smtp", {}), "helo") and got and w.startswith(got):
            notes.add("smtp.helo: relaywatch keeps a shorter, flagged prefix "
                      f"({len(got)} of {len(w)} bytes): prefix compared")
            return True
        return False
    if isinstance(want, (int, float)) and not isinstance(want, bool) and \
            isinstance(got, str) and got.isdigit():
        got = int(got)
    return sv_norm(key, got) == sv_norm(key, want)


def sv_matches(rec, keys, notes):
    for k, want in keys.items():
        if k == "not-has-key":
            if any(dget(rec, x) is not None for x in want):
                return False
        elif k == "has-key":
            if any(dget(rec, x) is None for x in want):
                return False
        elif not sv_value_ok(rec, k, want, notes):
            return False
    return True


def check_suricata(case, eve, path):
    try:
        doc = yaml_load(open(path, encoding="utf-8").read()) or {}
    except (OSError, ValueError, IndexError) as e:
        case.error = f"cannot parse {path}: {e}"
        return
    checks = doc.get("checks") or []
    for n, chk in enumerate(checks, 1):
        if not isinstance(chk, dict) or "filter" not in chk:
            kind = next(iter(chk)) if isinstance(chk, dict) and chk else "?"
            case.note(f"check {n} ({kind}): skipped, not an EVE filter")
            continue
        flt = chk["filter"] or {}
        req = flt.get("requires") or {}
        if "lt-version" in req:
            case.note(f"check {n}: skipped, applies to Suricata < "
                      f"{req['lt-version']} only")
            continue
        match = dict(flt.get("match") or {})
        count = flt.get("count")
        et = match.get("event_type")
        if et not in SV_SUPPORTED:
            case.note(f"check {n}: skipped, event_type {et!r}: "
                      f"{'no such relaywatch record' if et else 'no event_type'}")
            continue
        keys, dropped = {}, []
        for k, v in match.items():
            if k in ("not-has-key", "has-key"):
                keep = [x for x in v if SV_SUPPORTED[et].match(x)]
                dropped += [x for x in v if not SV_SUPPORTED[et].match(x)]
                if keep:
                    keys[k] = keep
            elif SV_SUPPORTED[et].match(k.replace("__startswith", "")):
                keys[k] = v
            else:
                dropped.append(k)
        content = [k for k in keys if k != "event_type"]
        if dropped and not content:
            case.note(f"check {n}: skipped, all its keys are outside "
                      f"relaywatch: " + "; ".join(
                          f"{k} ({sv_why(k)})" for k in dropped))
            continue
        if dropped:
            case.note(f"check {n}: ignored keys " + "; ".join(
                f"{k} ({sv_why(k)})" for k in dropped))
        notes = set()
        recs = eve.of_type(et)
        full = [r for r in recs if sv_matches(r, keys, notes)]
        where = f"check {n}"
        # per-key agreement against the record that agrees most
        if count != 0 and content:
            def agree(r, k):
                return sv_matches(r, {k: keys[k]}, notes)
            best = max(recs, key=lambda r: sum(agree(r, k) for k in content),
                       default=None)
            for k in content:
                if k in ("not-has-key", "has-key"):
                    exp, got = f"{k} {keys[k]}", (
                        [x for x in keys[k] if dget(best, x) is not None]
                        if best else "<no record>")
                else:
                    exp, got = keys[k], (dget(best, k.replace("__startswith", ""))
                                         if best else f"<no {et} record>")
                case.field((
                           bool(SV_STRICT.match(k.replace("__startswith", "")))
                           or k == "not-has-key"),
                           best is not None and agree(best, k), where, k, exp, got)
        # the count: exact when the filter was kept whole; when keys were
        # dropped the filter is looser than Suricata's, still exact here
        # because the remaining envelope keys identify the transaction.
        if count is not None:
            case.field((not dropped or count == 0),
                       len(full) == count, where,
                       f"count of {et} records matching {sorted(keys)}",
                       count, len(full))
        for m in sorted(notes):
            case.note(f"{where}: {m}")


# ---------------------------------------------------------------- Arkime

def check_arkime(case, eve, path):
    doc = json.load(open(path, encoding="utf-8"))
    sessions = doc.get("sessions3") or []
    if not sessions:
        case.skip = "no sessions"
        return
    for sess in sessions:
        b = sess.get("body", {})
        src, dst = b.get("source", {}), b.get("destination", {})
        where = f"{src.get('ip')}:{src.get('port')}->{dst.get('ip')}:{dst.get('port')}"
        recs = eve.conn(src.get("ip"), src.get("port"), dst.get("ip"),
                        dst.get("port"), either=True)
        have = {r.get("event_type") for r in recs}
        smtp = [smtp_of(r) for r in recs if r.get("event_type") == "smtp"]
        socks = [r.get("socks", {}) for r in recs if r.get("event_type") == "socks"]
        http = [r.get("http", {}) for r in recs if r.get("event_type") == "http"]
        email = b.get("email", {})
        protos = set(b.get("protocol", []))
        for p in ("smtp", "socks", "http"):
            if p in protos:
                case.field(False, p in have, where, f"protocol {p}", "detected",
                           sorted(have - {"flow"}) or "<nothing>")
        # Arkime lowercases HELO names and addresses; email.src / email.dst
        # also hold the From:/To: header addresses, so ours must be a
        # non-empty subset.
        if "smtp" in protos:
            want = sorted({h.lower() for h in email.get("smtpHello", [])})
            got = sorted({our_helo(s).lower() for s in smtp if our_helo(s)})
            case.field(True, want == got, where, "helo", want, got)
            for key, ours in (("src", lambda s: [bare_addr(s.get("mail_from"))]
                               if s.get("mail_from") else []),
                              ("dst", our_rcpts)):
                want = {a.lower() for a in email.get(key, [])}
                got = {a.lower() for s in smtp for a in ours(s)}
                if not want and not got:
                    continue
                case.field(True, bool(got) and got <= want, where,
                           "mail_from" if key == "src" else "rcpt_to",
                           f"subset of {sorted(want)}", sorted(got))
        if "socks" in protos or b.get("socks"):
            sk = b.get("socks", {})
            best = socks[0] if socks else {}
            for s in socks:   # the one that was granted / has a target
                if s.get("target_host"):
                    best = s
            if "host" in sk or "ip" in sk:
                want = sk.get("host") or sk.get("ip")
                got = best.get("target_host")
                case.field(True, socks_host_eq(want, got), where,
                           "socks target_host", want, got if socks else "<no socks record>")
            if "port" in sk:
                case.field(True, best.get("target_port") == sk["port"], where,
                           "socks target_port", sk["port"],
                           best.get("target_port") if socks else "<no socks record>")
            if "user" in sk:
                got = [s.get("user") for s in socks]
                case.field(True, sk["user"] in got, where, "socks user",
                           sk["user"], got or "<no socks record>")
            tags = set(b.get("tags", []))
            if "socks:auth-failed" in tags:
                got = [s.get("auth_ok") for s in socks]
                case.field(False, False in got, where, "socks auth failed",
                           "auth_ok false", got or "<no socks record>")
        if "http" in b:
            h = b["http"]
            for akey, ours, strict, norm in (
                    ("method", "http_method", True, str),
                    ("host", "hostname", True, host_noport),
                    ("statuscode", "status", True, int)):
                if akey not in h:
                    continue
                want = sorted({norm(x) for x in h[akey]})
                got = sorted({norm(x.get(ours)) for x in http
                              if x.get(ours) is not None})
                # Arkime reports the HTTP of the session, also what went
                # through a SOCKS tunnel (relaywatch would write records
                # with a proxy_tunnel object on the same connection).
                case.field(strict, set(want) <= set(got), where, f"http {akey}",
                           want, got or "<no http record>")
            case.note(f"{where}: http.uri not compared (Arkime writes host+path)")
        if "smtp" in protos:
            tags = set(b.get("tags", []))
            for t in sorted(tags):
                m = re.match(r"smtp:auth(plain|login|cram-md5|.+)$", t)
                if m:
                    mechs = [str(dget(s, "auth.mechanism") or "").lower()
                             for s in smtp]
                    case.field(False, m.group(1) in mechs, where,
                               "auth mechanism", m.group(1), mechs)
                m = re.match(r"smtp:statuscode:(\d+)$", t)
                if m:
                    codes = smtp_codes(smtp)
                    case.field(False, int(m.group(1)) in codes, where,
                               "reply code seen", int(m.group(1)), sorted(codes))
            if b.get("user"):
                got = [dget(s, "auth.user") for s in smtp if dget(s, "auth.user")]
                case.field(False, any(u.lower() in (g or "").lower()
                                      for u in b["user"] for g in got),
                           where, "auth user", b["user"], got)


def smtp_codes(smtp):
    codes = set()
    for s in smtp:
        for path in ("greeting.code", "data.code", "auth.code"):
            if dget(s, path) is not None:
                codes.add(dget(s, path))
        for r in s.get("recipients", []):
            if r.get("code") is not None:
                codes.add(r["code"])
        code, _ = our_last_reply(s)
        if code is not None:
            codes.add(code)
    return codes


def socks_host_eq(want, got):
    """Arkime keeps a SOCKS5 domain as sent ("010.000.00.003"); a parser
    may canonicalize a dotted-quad-looking name. Equal if the strings are,
    or if got is that name read as an IPv4 address (decimal or inet_aton
    octal)."""
    if got is None:
        return False
    if str(want).lower() == str(got).lower():
        return True
    parts = str(want).split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        dec = ".".join(str(int(p, 10)) for p in parts)
        try:
            octal = ".".join(str(int(p, 8) if len(p) > 1 and p[0] == "0"
                                 else int(p)) for p in parts)
        except ValueError:
            octal = None
        return got in (dec, octal)
    return False


# ---------------------------------------------------------------- nDPI

NDPI_FLOW = re.compile(
    r"^\s*\d+\s+(TCP|UDP)\s+(\[[^\]]+\]|[\d.]+):(\d+)\s+<->\s+"
    r"(\[[^\]]+\]|[\d.]+):(\d+)\s.*?\[proto:\s*[\d.]+/([A-Za-z0-9_.]+)\]")


def check_ndpi(case, eve, path):
    flows = 0
    for line in open(path, encoding="utf-8", errors="replace"):
        m = NDPI_FLOW.match(line)
        if not m:
            continue
        l4, a, ap, b, bp, proto = m.groups()
        if l4 != "TCP":
            continue
        flows += 1
        a, b = a.strip("[]"), b.strip("[]")
        where = f"{a}:{ap}<->{b}:{bp}"
        recs = eve.conn(a, ap, b, bp, either=True)
        have = {r.get("event_type") for r in recs}
        top = proto.split(".")[0]
        if top in ("SMTP", "SMTPS"):
            case.field(False, "smtp" in have, where, f"detected as {proto}",
                       "smtp record", sorted(have) or "<no record>")
            if top == "SMTPS":
                tls = [our_tls(smtp_of(r)) for r in recs
                       if r.get("event_type") == "smtp"]
                case.field(False, any(tls), where, "STARTTLS", True, tls)
        elif top == "HTTP_Proxy":
            forms = [dget(r, "http.proxy.form") for r in recs
                     if r.get("event_type") == "http"]
            case.field(False, "absolute" in forms, where, f"detected as {proto}",
                       "http record, proxy.form absolute", forms or "<no http record>")
        elif top == "HTTP_Connect":
            meths = [dget(r, "http.http_method") for r in recs
                     if r.get("event_type") == "http"]
            case.field(False, "CONNECT" in meths, where, f"detected as {proto}",
                       "http CONNECT record", meths or "<no http record>")
        else:
            # nDPI says this flow is none of ours: relaywatch must not
            # claim it as SMTP / proxy traffic.
            wrong = have & {"smtp", "http", "socks"}
            case.field(False, not wrong, where, f"detected as {proto}",
                       "no smtp/http/socks record", sorted(wrong) or "none")
    if not flows:
        case.skip = "no TCP flow lines"
    else:
        case.note("nDPI compared at detection level only (no per-field "
                  "ground truth in .out files)")


# ---------------------------------------------------------------- self-test

def mutate(rec):
    """A copy of rec with every strict fact changed: the checker must then
    fail every case that had a strict field agreeing."""
    r = json.loads(json.dumps(rec))
    s = r.get("smtp")
    if s:
        if "helo" in s:
            s["helo"] = (s["helo"] or "") + "-mutated"
        if s.get("mail_from"):
            s["mail_from"] = "<mutated@invalid>"
        if s.get("rcpt_to"):
            s["rcpt_to"] = [f"<m{i}@invalid>" for i in range(len(s["rcpt_to"]))]
        for x in s.get("recipients", []):
            x["address"] = "m@invalid"
            x["code"] = (x.get("code") or 0) + 1
        for k in ("data", "mail"):
            if isinstance(s.get(k), dict) and s[k].get("code") is not None:
                s[k]["code"] += 1
        if s.get("tls"):
            s["tls"] = None
    h = r.get("http")
    if h:
        h["http_method"] = "MUTATED"
        h["hostname"] = "mutated.invalid"
        h["status"] = (h.get("status") or 0) + 1
        if isinstance(h.get("proxy"), dict):
            h["proxy"]["target_host"] = "mutated.invalid"
    k = r.get("socks")
    if k:
        k["version"] = 9
        k["target_host"] = "mutated.invalid"
        k["target_port"] = 1
        k["user"] = "mutated"
        k["granted"] = not k.get("granted")
    if isinstance(r.get("proxy_tunnel"), dict):
        r["proxy_tunnel"]["type"] = "none"
    return r


def self_test(cases, planned):
    """Re-run every case on mutated records (no new relaywatch run).
    Returns the names of cases that had agreeing strict fields and still
    pass: a checker that cannot fail."""
    blind = []
    for c, (name, pcap, fn, gt) in zip(cases, planned):
        if fn is None or c.known or c.error or not any(
                st and ok for st, ok, *_ in c.fields):
            continue
        eve, _ = _eve_cache[pcap]
        m = Case(name)
        fn(m, Eve([mutate(r) for r in eve.records]), gt)
        if not m.failed():
            blind.append(name)
    return blind


# ---------------------------------------------------------------- driver

def read_index(corpus):
    rows = []
    with open(os.path.join(corpus, "INDEX.tsv"), encoding="utf-8") as f:
        hdr = f.readline().rstrip("\n").split("\t")
        for line in f:
            if line.strip():
                rows.append(dict(zip(hdr, line.rstrip("\n").split("\t"))))
    return rows


def plan(corpus):
    """-> list of (case name, pcap, checker, ground-truth path)."""
    out = []
    for row in read_index(corpus):
        rel = row["path"]
        pcap = os.path.join(corpus, rel)
        proj = rel.split("/")[0]
        if proj == "zeek":
            exp = sorted(glob.glob(pcap + ".expected/*/"))
            for d in exp:
                for p in sorted(os.listdir(d)):
                    gt = os.path.join(d, p)
                    name = f"{rel}/{os.path.basename(d.rstrip('/'))}/{p}"
                    if p in ZEEK_CHECKS:
                        out.append((name, pcap, ZEEK_CHECKS[p], gt))
                    elif p in ZEEK_SKIP:
                        out.append((name, pcap, None, ZEEK_SKIP[p]))
            if rel.endswith("connect-with-smtp.pcap"):
                out.append((f"{rel}/tunnelled-smtp", pcap,
                            lambda c, e, _g: check_connect_with_smtp(c, e), None))
            if not exp:
                out.append((f"{rel}/request-line", pcap,
                            lambda c, e, _g, p=pcap: check_request_line(c, e, p),
                            None))
        elif proj == "suricata-verify":
            d = os.path.dirname(pcap)
            for y in sorted(glob.glob(os.path.join(d, "test.yaml")) +
                            glob.glob(os.path.join(d, "also-used-by/*/test.yaml"))):
                out.append((os.path.relpath(y, corpus), pcap, check_suricata, y))
        elif proj == "arkime":
            gt = re.sub(r"\.pcap$", ".test", pcap)
            out.append((os.path.relpath(gt, corpus), pcap, check_arkime, gt))
        elif proj == "ndpi":
            gt = os.path.join(os.path.dirname(os.path.dirname(pcap)), "result",
                              os.path.basename(pcap) + ".out")
            out.append((os.path.relpath(gt, corpus), pcap, check_ndpi, gt))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--relaywatch", default=os.path.join(
        os.environ.get("BUILD", "build"), "relaywatch"))
    ap.add_argument("--corpus", default="/work/shared/corpus/public")
    ap.add_argument("--only", default="", help="only cases containing this")
    ap.add_argument("--verbose", "-v", action="store_true",
                    help="print agreeing fields too")
    ap.add_argument("--keep", default="",
                    help="write relaywatch's output per pcap into this dir")
    a = ap.parse_args()
    cases, planned = [], []
    for name, pcap, fn, gt in plan(a.corpus):
        if a.only and a.only not in name:
            continue
        c = Case(name)
        cases.append(c)
        planned.append((name, pcap, fn, gt))
        if fn is None:
            c.skip = gt
            continue
        if gt and not os.path.exists(gt):
            c.skip = f"ground truth {gt} missing"
            continue
        if not os.path.exists(pcap):
            c.skip = f"pcap {pcap} missing"
            continue
        eve, err = run_relaywatch(a.relaywatch, pcap, a.keep)
        if eve is None:
            c.error = err
            continue
        fn(c, eve, gt)
        if not c.fields and not c.skip and c.error is None:
            c.skip = "nothing comparable in it"
    blind = self_test(cases, planned)
    bad, (agree, total, s_agree, s_total) = report(cases, a.verbose)
    # the checker itself: with every strict fact of relaywatch's records
    # changed, each case that agreed on a strict fact must fail
    if blind:
        bad += 1
        print("not ok - corpus/checker-detects-mutations")
        for b in blind:
            print(f"#   still passes with mutated records: {b}")
    else:
        print("ok - corpus/checker-detects-mutations")
    print(f"# agreement: {agree}/{total} fields")
    print(f"# agreement on strict facts: {s_agree}/{s_total}; "
          f"soft: {agree - s_agree}/{total - s_total}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
