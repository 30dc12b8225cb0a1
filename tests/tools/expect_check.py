#!/usr/bin/env python3
"""expect_check.py - check relaywatch's EVE output against a fixture's .expect.

The .expect files are written by tests/fixtures/mkexpect.py from the bytes
on the wire when the fixture is captured (what the real client sent and the
real server answered): they are the ground truth, independent of the C
parsers. Every fact in them that relaywatch claims to report is checked:
HELO, MAIL FROM, every RCPT with its own reply code / enhanced code /
accepted flag, the data outcome, AUTH mechanism/user/outcome, STARTTLS, the
number of transactions and how each ended, and that no forbidden string
(a password, in clear or base64) appears anywhere in the output.

usage: expect_check.py FILE.expect EVE.json
Prints TAP-like lines ("ok - NAME/fact", "not ok - NAME/fact") and exits 1
on any failure.
"""
import json
import sys


def parse_kv(line):
    """'a=1 b=x y' -> dict; the first key is the line's kind."""
    out = {}
    for tok in line.split(" "):
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = v
    return out


# relaywatch's default HTTP-proxy ports (engine_config_default)
HTTP_PROXY_PORTS = {3128, 8080, 8000, 8118, 8123, 8888, 80}


def strip_brackets(s):
    s = (s or "").strip()
    if s.startswith("<") and s.endswith(">"):
        s = s[1:-1]
    return s


def main():
    exp_path, eve_path = sys.argv[1], sys.argv[2]
    name = exp_path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    raw = open(eve_path, encoding="utf-8").read()
    records = [json.loads(l) for l in raw.splitlines() if l.strip()]
    results = []

    def check(fact, cond, detail=""):
        results.append((fact, bool(cond), detail))

    sessions = []  # (client, server, [lines])
    forbidden = []
    for line in open(exp_path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        kv = parse_kv(line)
        kind = line.split("=", 1)[0]
        if kind == "forbidden_output":
            forbidden.append(line.split("=", 1)[1])
        elif kind == "session":
            sessions.append((kv["client"], kv["server"], kv.get("proto"), []))
        elif kind in ("scenario", "sessions"):
            continue
        elif sessions:
            sessions[-1][3].append((kind, line.split("=", 1)[1].split(" ")[0], kv))

    for client, server, proto, facts in sessions:
        cip, cport = client.rsplit(":", 1)
        sip, sport = server.rsplit(":", 1)
        sess = [r for r in records
                if r.get("src_ip") == cip and str(r.get("src_port")) == cport
                and r.get("dest_ip") == sip and str(r.get("dest_port")) == sport]
        tag = f"{client}->{server}"
        if proto == "unknown" or (proto == "http" and int(sport) not in HTTP_PROXY_PORTS):
            # not a protocol relaywatch claims: plain HTTP is parsed only on
            # the HTTP-proxy ports, other protocols not at all
            print(f"# {name}/{tag}: {proto} session not checked (not parsed by design)")
            continue
        flows = [r for r in sess if r.get("event_type") == "flow"]
        check(f"{tag} flow record", len(flows) == 1, f"{len(flows)} flow records")
        tunnel = proto == "smtp"   # smtp facts of a proxy session follow "tunnel=smtp"
        http_recs = [r for r in sess if r.get("event_type") == "http"]
        http_tunnel = False  # http facts after "tunnel=http": inside it
        socks = [r["socks"] for r in sess if r.get("event_type") == "socks"]
        for kind, value, kv in facts:
            if kind == "tunnel" and value == "smtp":
                tunnel = True
            elif kind == "tunnel" and value == "http":
                http_tunnel = True
            elif kind == "http_request" and proto == "http" and not http_tunnel:
                # a web server's origin-form request outside a tunnel (a
                # proxy's onward leg): a fact for the rules, never an http
                # record (http_proxy.h, "Proxy traffic and plain web")
                tgt = kv.get("target", "")
                check(f"{tag} http {value} {tgt}: no http record (not proxy traffic)",
                      not [r for r in http_recs if "tunnel" not in r],
                      [(r["http"].get("http_method"), r["http"].get("url"))
                       for r in http_recs])
            elif kind == "http_request":
                # the proxy's own requests, or (after tunnel=http) those
                # parsed inside the tunnel, which carry a proxy_tunnel object
                http = [r["http"] for r in http_recs
                        if ("proxy_tunnel" in r) == http_tunnel]
                tgt = kv.get("target", "")
                want_code = None if kv.get("code") in (None, "none") else int(kv["code"])
                def http_ok(h):
                    if h.get("http_method") != value or h.get("status") != want_code:
                        return False
                    if value == "CONNECT":
                        host, port = tgt.rsplit(":", 1)
                        px = h.get("proxy", {})
                        return px.get("target_host") == host and px.get("target_port") == int(port)
                    return h.get("url") == tgt
                check(f"{tag} http {value} {tgt} -> {kv.get('code')}"
                      + (" (in the tunnel)" if http_tunnel else ""),
                      any(http_ok(h) for h in http),
                      [(h.get("http_method"), h.get("url"), h.get("status")) for h in http])
            elif kind in ("socks4_request", "socks5_request"):
                host, port = kv["target"].rsplit(":", 1)
                ver = 5 if kind == "socks5_request" else 4
                ok = kv.get("ok") == "true"
                rev = proto == "socks5-reverse"
                def socks_ok(x):
                    return (x.get("version") == ver and x.get("command") == value
                            and bool(x.get("reverse")) == rev
                            and x.get("target_host") == host
                            and x.get("target_port") == int(port)
                            and bool(x.get("granted")) == ok
                            and (kv.get("user") is None or x.get("user") == kv["user"]))
                check(f"{tag} socks{ver} {value} {kv['target']} granted={ok}",
                      any(socks_ok(x) for x in socks),
                      [(x.get("version"), x.get("command"), x.get("target_host"),
                        x.get("target_port"), x.get("granted")) for x in socks])
            elif kind == "socks5_greeting":
                offered = [int(m, 16) for m in value.split(",")]
                chosen = int(kv["selected"], 16)
                check(f"{tag} socks5 methods {value} chose {kv['selected']}",
                      any(x.get("methods_offered") == offered and x.get("method_chosen") == chosen
                          for x in socks),
                      [(x.get("methods_offered"), x.get("method_chosen")) for x in socks])
            elif kind == "socks5_auth":
                ok = kv.get("ok") == "true"
                check(f"{tag} socks5 auth {kv.get('user')} ok={ok}",
                      any(x.get("user") == kv.get("user") and x.get("auth_ok") == ok
                          for x in socks),
                      [(x.get("user"), x.get("auth_ok")) for x in socks])
        if not tunnel:
            continue
        # in a proxy session the SMTP records are those parsed inside the tunnel
        smtp = [r["smtp"] for r in sess if r.get("event_type") == "smtp"
                and (proto == "smtp") == ("proxy_tunnel" not in r)]
        check(f"{tag} smtp records", smtp, "no smtp record for the session")
        auth_facts = []
        by_tx = {}
        for s in smtp:
            by_tx.setdefault(s.get("transaction", 0), s)
        tx_expected = set()
        for kind, value, kv in facts:
            if kind == "helo":
                check(f"{tag} helo {value}",
                      all(s.get("helo") == value for s in smtp),
                      [s.get("helo") for s in smtp])
            elif kind == "banner":
                codes = {s.get("greeting", {}).get("code") for s in smtp}
                check(f"{tag} greeting {value}", codes == {int(value)}, codes)
            elif kind == "auth":
                auth_facts.append((value, kv))
            elif kind == "starttls":
                check(f"{tag} starttls", any(s.get("tls") == "starttls" for s in smtp),
                      [s.get("tls") for s in smtp])
            elif kind == "transaction":
                n = int(value)
                tx_expected.add(n)
                s = by_tx.get(n)
                check(f"{tag} tx{n} exists", s is not None, sorted(by_tx))
                if not s:
                    continue
                check(f"{tag} tx{n} mail_from",
                      strip_brackets(s.get("mail_from")) == strip_brackets(kv["mail_from"]),
                      s.get("mail_from"))
                rc = s.get("recipients", [])
                acc = sum(1 for r in rc if r.get("accepted"))
                check(f"{tag} tx{n} accepted/refused",
                      acc == int(kv["rcpt_accepted"]) and
                      len(rc) - acc == int(kv["rcpt_refused"]),
                      f"{acc}/{len(rc) - acc}")
                check(f"{tag} tx{n} rcpt_to mirrors recipients",
                      [strip_brackets(a) for a in s.get("rcpt_to", [])] ==
                      [r.get("address") for r in rc], s.get("rcpt_to"))
            elif kind == "rcpt":
                n = int(kv.get("tx", "1"))
                s = by_tx.get(n) or {}
                match = [r for r in s.get("recipients", []) if r.get("address") == value]
                want = (int(kv["code"]), kv.get("enhanced", ""), kv["accepted"] == "true")
                got = [(r.get("code"), r.get("enhanced") or "", r.get("accepted")) for r in match]
                check(f"{tag} tx{n} rcpt {value} {kv['code']}", want in got, got)
            elif kind == "data_end":
                n = int(kv.get("tx", "1"))
                d = (by_tx.get(n) or {}).get("data", {})
                check(f"{tag} tx{n} data end {value}",
                      d.get("code") == int(value) and d.get("complete") is True
                      and (d.get("enhanced") or "") == kv.get("enhanced", ""),
                      d)
                if "body_bytes" in kv:
                    check(f"{tag} tx{n} body bytes {kv['body_bytes']}",
                          d.get("bytes") == int(kv["body_bytes"]), d.get("bytes"))
            elif kind == "bdat":
                n = int(kv.get("tx", "1"))
                d = (by_tx.get(n) or {}).get("data", {})
                check(f"{tag} tx{n} bdat {value}", d.get("command") == "BDAT"
                      and d.get("code") is not None, d)
                if kv.get("last") == "true":
                    check(f"{tag} tx{n} bdat last {kv['code']}",
                          d.get("complete") is True and d.get("code") == int(kv["code"]), d)
        if auth_facts:
            # the record keeps the session's last AUTH attempt, and counts
            value, kv = auth_facts[-1]
            auths = [s.get("auth") for s in smtp if s.get("auth")]
            ok = any(a.get("mechanism") == value
                     and a.get("code") == int(kv["code"])
                     and a.get("ok") == (kv["ok"] == "true")
                     and (a.get("user") or "") == kv.get("user", "")
                     and a.get("attempts") == len(auth_facts)
                     and a.get("failures") == sum(1 for _, k in auth_facts if k["ok"] != "true")
                     for a in auths)
            check(f"{tag} auth {value} {kv['code']} ({len(auth_facts)} attempts)", ok, auths)
        if tx_expected:
            got_tx = sorted(n for n in by_tx if n)
            check(f"{tag} transactions {sorted(tx_expected)}",
                  got_tx == sorted(tx_expected), got_tx)
    for f in forbidden:
        check(f"secret never in output ({f[:6]}...)", f not in raw)

    bad = 0
    for fact, ok, detail in results:
        print(f"{'ok' if ok else 'not ok'} - {name}/{fact}")
        if not ok:
            bad += 1
            print(f"#   got: {detail}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
