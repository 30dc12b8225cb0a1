#!/usr/bin/env python3
"""_check.py - run relaywatch on one adversarial case and check the runs.

usage: _check.py --rw BIN --name NAME --expect EXPECT.json --pcap PCAP
                 --out DIR [-- COMMON RELAYWATCH ARGS...]

For every run of EXPECT.json (see _common.py for the format) relaywatch is
run as  BIN -r PCAP --eve DIR/NAME.RUN.json COMMON... RUN_ARGS...  and
checked; one TAP line per run ("ok - adversarial/NAME" when the case has a
single run called "default", else "ok - adversarial/NAME/RUN"), failures
explained on "#" lines. Always checked: exit status 0, every output line is
one JSON object, a stats record is there.

  alerts     each {"rule": R, "contains": S}: an alert record of rule R
             (alert.rule) whose line contains S
  no_alerts  each {"rule": R}: no alert of rule R
  records    each {"event_type": T (or a list), "where": {PATH: V}, "anywhere": {K: N},
             "count": ">=1"}: records of type T whose dotted PATHs equal V
             (V {"contains": X}: list element or substring) and, for
             "anywhere", that hold a key K at any depth whose value
             contains N (string: substring; list: an element; object: a
             key N with a true value)
  counters   {PATH: OP}: a counter of the stats record, PATH dotted as in
             counters.h ("tcp.rst_out_of_window"); "a.b.*" sums the
             subtree; "x|y" alternatives: any of them satisfying OP; a
             counter that does not exist fails (not implemented yet).
             OP: ">0", "==0", ">=N", "<N"...
  stats      {SECTION: {"key_contains": K}}: the stats record has
             stats.SECTION (dotted) with a key containing K at any depth
             whose value is true / non-zero / a non-empty string
"""
import argparse
import json
import os
import re
import subprocess
import sys

TIMEOUT = int(os.environ.get("ADV_TIMEOUT", "600"))


def merge_pairs(pairs):
    """json object hook: keep both values of a duplicated key (the stats
    record writes "a":N and "a":{...} when counters a and a.b exist)."""
    d = {}
    for k, v in pairs:
        if k in d:
            old = d[k]
            if isinstance(old, dict) and not isinstance(v, dict):
                old["__value__"] = v
                continue
            if isinstance(v, dict) and not isinstance(old, dict):
                v["__value__"] = old
        d[k] = v
    return d


def dig(obj, path):
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def subtree_sum(v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, dict):
        return sum(subtree_sum(x) for x in v.values())
    return 0


def counter(stats, path):
    """value of a counter path, or None if it does not exist"""
    star = path.endswith(".*")
    v = dig(stats, path[:-2] if star else path)
    if v is None:
        return None
    if star or not isinstance(v, dict):
        return subtree_sum(v)
    return v.get("__value__")


def op_ok(val, op):
    m = re.fullmatch(r"\s*(>=|<=|==|!=|>|<)\s*(-?\d+)\s*", op)
    if not m:
        raise ValueError("bad counter expectation %r" % op)
    n = int(m.group(2))
    return {">": val > n, "<": val < n, ">=": val >= n, "<=": val <= n,
            "==": val == n, "!=": val != n}[m.group(1)]


def contains(v, needle):
    if isinstance(v, str):
        return needle in v
    if isinstance(v, list):
        return any(contains(e, needle) for e in v)
    if isinstance(v, dict):
        if needle in v and v[needle] not in (False, 0, None, "", [], {}):
            return True
        return any(contains(e, needle) for e in v.values())
    return v == needle


def find_key(obj, key):
    """every value of a key named `key` at any depth"""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == key:
                yield v
            yield from find_key(v, key)
    elif isinstance(obj, list):
        for e in obj:
            yield from find_key(e, key)


def value_matches(v, want):
    if isinstance(want, dict) and set(want) == {"contains"}:
        return v is not None and contains(v, want["contains"])
    return v == want


def truthy_key(obj, sub):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if sub in k and v not in (False, 0, None, "", [], {}):
                return True
            if truthy_key(v, sub):
                return True
    return False


def check_run(run, lines, records, stats, rc, fail):
    if rc != run.get("exit", 0):
        fail("relaywatch exit status %s (expected %s)" % (rc, run.get("exit", 0)))
    if stats is None:
        fail("no stats record")
        stats = {}
    alerts = [(r, l) for r, l in zip(records, lines)
              if r.get("event_type") == "alert"]
    for a in run.get("alerts", []):
        hits = [l for r, l in alerts if dig(r, "alert.rule") == a["rule"]]
        if not hits:
            fail("no %s alert" % a["rule"])
        elif a.get("contains") and not any(a["contains"] in l for l in hits):
            fail("%s alert(s) without %r: %s" % (a["rule"], a["contains"],
                 [dig(json.loads(l), "alert.signature") for l in hits][:3]))
    for a in run.get("no_alerts", []):
        hits = [r for r, _ in alerts if dig(r, "alert.rule") == a["rule"]]
        if hits:
            fail("%d %s alert(s), expected none: %s" % (
                len(hits), a["rule"], dig(hits[0], "alert.signature")))
    for spec in run.get("records", []):
        types = spec["event_type"]
        types = [types] if isinstance(types, str) else types
        sel = [r for r in records if r.get("event_type") in types]
        for path, want in spec.get("where", {}).items():
            sel = [r for r in sel if value_matches(dig(r, path), want)]
        for key, needle in spec.get("anywhere", {}).items():
            sel = [r for r in sel
                   if any(contains(v, needle) for v in find_key(r, key))]
        want = spec.get("count", ">=1")
        if not op_ok(len(sel), want):
            fail("%d %s record(s) with %s%s, expected %s" % (
                len(sel), spec["event_type"], json.dumps(spec.get("where", {})),
                (" and " + json.dumps(spec["anywhere"]))
                if spec.get("anywhere") else "", want))
    for path, op in run.get("counters", {}).items():
        vals = [(p, counter(stats, p)) for p in path.split("|")]
        present = [(p, v) for p, v in vals if v is not None]
        if not present:
            fail("counter %s: not in the stats record" % path)
        elif not any(op_ok(v, op) for _, v in present):
            fail("counter %s, expected %s" % (
                ", ".join("%s = %s" % pv for pv in present), op))
    for section, spec in run.get("stats", {}).items():
        sub = dig(stats, section)
        if sub is None:
            fail("stats.%s: not in the stats record" % section)
        elif not truthy_key(sub, spec["key_contains"]):
            fail("stats.%s has no true key containing %r: %s" % (
                section, spec["key_contains"], json.dumps(sub)[:300]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rw", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--expect", required=True)
    ap.add_argument("--pcap", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("common", nargs="*")
    a = ap.parse_args()
    runs = json.load(open(a.expect))
    nfail = 0
    for run in runs:
        rname = run.get("run", "default")
        tap = "adversarial/" + a.name
        if len(runs) > 1 or rname != "default":
            tap += "/" + rname
        eve = os.path.join(a.out, "%s.%s.json" % (a.name, rname))
        cmd = [a.rw, "-r", a.pcap, "--eve", eve] + a.common + run.get("args", [])
        why = []
        rc = None
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=TIMEOUT)
            rc = p.returncode
            err = p.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            why.append("relaywatch did not finish in %d s" % TIMEOUT)
            err = ""
        lines, records, stats = [], [], None
        if os.path.exists(eve):
            raw = open(eve, "rb").read()
            if raw and not raw.endswith(b"\n"):
                why.append("output does not end with a newline")
            for i, l in enumerate(raw.split(b"\n")):
                if not l:
                    continue
                try:
                    s = l.decode("utf-8")
                    r = json.loads(s, object_pairs_hook=merge_pairs)
                    if not isinstance(r, dict):
                        raise ValueError("not an object")
                except ValueError as e:
                    why.append("line %d is not one JSON object (%s): %r"
                               % (i + 1, e, l[:120]))
                    continue
                lines.append(s)
                records.append(r)
                if r.get("event_type") == "stats":
                    stats = r.get("stats", {})
        if rc is not None:
            check_run(run, lines, records, stats, rc, why.append)
        if why:
            nfail += 1
            print("not ok - %s" % tap)
            if run.get("why"):
                print("#   case: %s" % run["why"])
            for w in why:
                print("#   %s" % w)
            print("#   command: %s" % " ".join(cmd))
            got = sorted({dig(r, "alert.rule") for r in records
                          if r.get("event_type") == "alert"})
            print("#   alerts in the output: %s" % (", ".join(got) or "none"))
            for l in err.strip().splitlines()[-5:]:
                print("#   stderr: %s" % l)
        else:
            print("ok - %s" % tap)
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
