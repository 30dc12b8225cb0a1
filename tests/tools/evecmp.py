#!/usr/bin/env python3
"""evecmp.py - compare two EVE files record by record, field by field.

usage: evecmp.py [--unordered] EXPECTED ACTUAL
Prints one line per differing field path (record index, path, expected,
got); exit 1 if anything differs. --unordered compares the records as
multisets (several workers may order end-of-input records differently)."""
import json
import sys


def flat(obj, prefix="", out=None):
    out = {} if out is None else out
    if isinstance(obj, dict):
        for k, v in obj.items():
            flat(v, f"{prefix}.{k}" if prefix else k, out)
    elif isinstance(obj, list):
        out[prefix + "[]"] = len(obj)
        for i, v in enumerate(obj):
            flat(v, f"{prefix}[{i}]", out)
    else:
        out[prefix] = obj
    return out


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def main():
    args = sys.argv[1:]
    unordered = args and args[0] == "--unordered"
    if unordered:
        args = args[1:]
    exp, got = load(args[0]), load(args[1])
    if unordered:
        key = lambda r: json.dumps(r, sort_keys=True)
        exp, got = sorted(exp, key=key), sorted(got, key=key)
    bad = 0
    if len(exp) != len(got):
        print(f"record count: expected {len(exp)}, got {len(got)}")
        bad += 1
    for i, (e, g) in enumerate(zip(exp, got)):
        fe, fg = flat(e), flat(g)
        for k in sorted(set(fe) | set(fg)):
            if fe.get(k, "<absent>") != fg.get(k, "<absent>"):
                print(f"record {i} ({e.get('event_type')}): {k}: expected "
                      f"{fe.get(k, '<absent>')!r}, got {fg.get(k, '<absent>')!r}")
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
