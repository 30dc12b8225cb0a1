#!/usr/bin/python3
"""eve_schema_check.py - relaywatch's EVE records against Suricata's schema.

usage: eve_schema_check.py --schema SCHEMA.json --readme README.md
                           [--self-test] NAME=EVE.json...

For each NAME=FILE one TAP line, "ok - eve_schema/NAME N records", or
"not ok" with one comment line per problem (record number, event type,
field path, what is wrong). A record fails when:

 1. it does not validate against Suricata's schema (etc/schema.json of
    OISF/suricata, JSON Schema draft 2020-12) with every
    "additionalProperties": false relaxed to true: fields relaywatch adds
    pass, the fields Suricata also defines are held to Suricata's type and
    shape (a pipeline that ingests Suricata's EVE reads them with that
    type: flow.bypassed as an object of counters, not a boolean);
 2. it carries an extension (a path Suricata's schema does not define)
    that README.md's "EVE extensions" table does not list, or whose JSON
    type is not the one the table gives: the table stays complete and true;
 3. an object repeats a key (RFC 8259: names SHOULD be unique; Elastic and
    jq keep one of them, which one is up to the reader).
Also: a README row that names a path Suricata does define is reported
(it is no extension).

The schema is Suricata's own file, read where it lies (never copied into
this repository). The checker needs Debian's python3-jsonschema
(scripts/deps.sh test); run it with /usr/bin/python3.

--self-test: instead of judging the files, take their records, break them
the ways this check exists to catch (flow.bypassed back as a boolean, the
proxy tunnel back under Suricata's "tunnel", a Suricata field with the
wrong type, an undocumented extension, a documented extension with another
type, a repeated key) and print "ok" for each breakage the check reports.
"""
import copy
import json
import re
import sys

try:
    import jsonschema
except ImportError:
    print("not ok - eve_schema/setup the jsonschema module is missing: "
          "apt-get install python3-jsonschema (scripts/deps.sh test), "
          "and run with /usr/bin/python3")
    sys.exit(1)

README_SECTION = "EVE extensions"


class DupKey(ValueError):
    pass


def no_dups(pairs):
    seen = set()
    for k, _ in pairs:
        if k in seen:
            raise DupKey(f"key {k!r} repeated in one object")
        seen.add(k)
    return dict(pairs)


def relax(node):
    """Every additionalProperties: false -> true, in place."""
    if isinstance(node, dict):
        if node.get("additionalProperties") is False:
            node["additionalProperties"] = True
        for v in node.values():
            relax(v)
    elif isinstance(node, list):
        for v in node:
            relax(v)
    return node


class Schema:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.raw = json.load(f)
        self.relaxed = relax(copy.deepcopy(self.raw))
        cls = getattr(jsonschema, "Draft202012Validator", None)
        if cls is None:
            sys.exit("not ok - eve_schema/setup jsonschema too old for "
                     "draft 2020-12 (Debian 12's 4.10 has it)")
        self.validator = cls(self.relaxed)

    def resolve(self, node):
        """Follow local $refs ("#/$defs/x"); None stays None."""
        for _ in range(32):
            if not isinstance(node, dict) or "$ref" not in node:
                return node
            ref = node["$ref"]
            if not ref.startswith("#/"):
                return {}
            target = self.raw
            for part in ref[2:].split("/"):
                target = target[part]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return node

    def child(self, node, key):
        """The schema Suricata gives member key of an object node, None if
        it defines none (an extension)."""
        if node is None:
            return None
        props = node.get("properties", {})
        if key in props:
            return self.resolve(props[key])
        for pat, sub in node.get("patternProperties", {}).items():
            if re.search(pat, key):
                return self.resolve(sub)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            return self.resolve(extra)
        return None

    def items(self, node):
        if node is None:
            return None
        it = node.get("items")
        return self.resolve(it) if isinstance(it, dict) else {}

    def defines(self, path):
        """Does the schema define dotted path ("a.b[].c")?"""
        node = self.resolve(self.raw)
        for part in path.split("."):
            arrays = 0
            while part.endswith("[]"):
                part, arrays = part[:-2], arrays + 1
            node = self.child(node, part)
            for _ in range(arrays):
                node = self.items(node)
            if node is None:
                return False
        return True


def jtype(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if v is None:
        return "null"
    if isinstance(v, list):
        return "array"
    return "object"


def extensions(schema, rec):
    """(path, value) of every member of rec the schema does not define, its
    descendants included. Arrays of objects: "x[].member"."""
    out = []

    def walk(v, node, path, ext):
        if ext:
            out.append((path, v))
        if isinstance(v, dict):
            for k, x in v.items():
                sub = None if ext else schema.child(node, k)
                walk(x, sub, f"{path}.{k}" if path else k, sub is None)
        elif isinstance(v, list):
            sub = None if ext else schema.items(node)
            for x in v:
                if isinstance(x, (dict, list)):
                    walk(x, sub, path + "[]", False)
    walk(rec, schema.resolve(schema.raw), "", False)
    return out


class Readme:
    """The "EVE extensions" table: | `path` | type | meaning |. A path
    ending in ".*" covers everything below it (its type is the leaves')."""

    def __init__(self, path):
        self.exact, self.wild = {}, {}
        sect = fence = False
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("```"):
                    fence = not fence
                if fence:
                    continue
                if line.startswith("#"):
                    sect = README_SECTION.lower() in line.lower()
                    continue
                if not sect:
                    continue
                m = re.match(r"\|\s*`([^`]+)`\s*\|([^|]*)\|", line)
                if not m:
                    continue
                p, types = m.group(1), self.parse_type(m.group(2))
                if p.endswith(".*"):
                    self.wild[p[:-2]] = types
                else:
                    self.exact[p] = types

    @staticmethod
    def parse_type(cell):
        """"string or null", "array of objects" -> {"string", "null"},
        {"array", "array:object"}"""
        out = set()
        for t in cell.strip().split(" or "):
            t = t.strip()
            if t.startswith("array of "):
                out.add("array")
                out.add("array:" + t[len("array of "):].rstrip("s"))
            elif t:
                out.add(t)
        return out

    def check(self, path, value):
        """None if path/value agrees with the table, else the problem."""
        types = self.exact.get(path)
        if types is None:
            for pre, t in self.wild.items():
                if path == pre or path.startswith(pre + "."):
                    if isinstance(value, dict):
                        return None
                    types = t
                    break
        if types is None:
            return (f"extension not listed in README.md's \"{README_SECTION}\""
                    f" table ({jtype(value)})")
        t = jtype(value)
        if t == "integer" and "number" in types:
            t = "number"
        if t not in types:
            return f"is {t}, README.md says {' or '.join(sorted(types))}"
        if t == "array":
            for x in value:
                xt = jtype(x)
                if f"array:{xt}" not in types and not (
                        xt == "integer" and "array:number" in types):
                    return (f"has a {xt} element, README.md says "
                            f"{' or '.join(sorted(types))}")
        return None


def problems(schema, readme, rec):
    out = []
    for e in sorted(schema.validator.iter_errors(rec),
                    key=lambda e: list(map(str, e.absolute_path))):
        where = ".".join(map(str, e.absolute_path)) or "(record)"
        out.append(f"{where}: {e.message[:200]} [schema: "
                   f"{'/'.join(map(str, e.absolute_schema_path))}]")
    for path, v in extensions(schema, rec):
        why = readme.check(path, v)
        if why:
            out.append(f"{path}: {why}")
    return out


def check_lines(schema, readme, lines):
    """(records, [problem lines]) for the lines of one EVE file."""
    n, bad = 0, []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        n += 1
        try:
            rec = json.loads(line, object_pairs_hook=no_dups)
        except DupKey as e:
            bad.append(f"record {i}: {e}")
            rec = json.loads(line)
        except ValueError as e:
            bad.append(f"record {i}: not JSON: {e}")
            continue
        et = rec.get("event_type", "?") if isinstance(rec, dict) else "?"
        for p in problems(schema, readme, rec):
            bad.append(f"record {i} ({et}) {p}")
    return n, bad


def report(name, n, bad):
    if bad:
        print(f"not ok - eve_schema/{name} {n} records, {len(bad)} problems")
        for b in bad[:15]:
            print(f"#   {b}")
        if len(bad) > 15:
            print(f"#   ... and {len(bad) - 15} more")
    else:
        print(f"ok - eve_schema/{name} {n} records")
    return not bad


def readme_vs_schema(schema, readme):
    # wildcard rows (counter groups) may sit under an object Suricata
    # defines (stats.capture): only what is below them is ours
    bad = [p for p in readme.exact if schema.defines(p)]
    if bad:
        print(f"not ok - eve_schema/readme lists fields Suricata defines "
              f"as extensions: {', '.join(sorted(bad))}")
    else:
        print(f"ok - eve_schema/readme {len(readme.exact)} extension fields "
              f"and {len(readme.wild)} counter groups, none defined by "
              "Suricata's schema")
    return not bad


def self_test(schema, readme, files):
    recs = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            recs += [json.loads(l) for l in fh if l.strip()]

    def first(pred):
        for r in recs:
            if pred(r):
                return copy.deepcopy(r)
        return None

    flow = first(lambda r: r.get("event_type") == "flow")
    tun = first(lambda r: "proxy_tunnel" in r)
    smtp = first(lambda r: r.get("event_type") == "smtp" and "rcpt_to" in r["smtp"])
    cases = []
    if flow:
        r = copy.deepcopy(flow)
        r["flow"]["bypassed"] = False
        cases.append(("flow.bypassed boolean", json.dumps(r)))
        r = copy.deepcopy(flow)
        r["flow"]["gaps"] = "0"
        cases.append(("documented extension flow.gaps as a string", json.dumps(r)))
        r = copy.deepcopy(flow)
        r["flow"]["brand_new_field"] = 1
        cases.append(("undocumented extension flow.brand_new_field", json.dumps(r)))
        r = copy.deepcopy(flow)
        r["flow_id"] = str(r["flow_id"])
        cases.append(("flow_id as a string", json.dumps(r)))
        cases.append(("repeated key", json.dumps(flow)[:-1] + ',"proto":"TCP"}'))
    if tun:
        r = copy.deepcopy(tun)
        r["tunnel"] = r.pop("proxy_tunnel")
        cases.append(("proxy tunnel written as Suricata's tunnel", json.dumps(r)))
    if smtp:
        r = copy.deepcopy(smtp)
        r["smtp"]["rcpt_to"] = r["smtp"]["rcpt_to"][0]
        cases.append(("smtp.rcpt_to as a string", json.dumps(r)))
    ok = True
    for what, line in cases:
        n, bad = check_lines(schema, readme, [line])
        if bad:
            print(f"ok - eve_schema/self-test {what} is rejected")
            print(f"#   {bad[0][:240]}")
        else:
            print(f"not ok - eve_schema/self-test {what} passed the check")
            ok = False
    want = 7
    if len(cases) < want:
        print(f"not ok - eve_schema/self-test only {len(cases)}/{want} cases: "
              "the inputs lack a flow, a tunnelled or an smtp record")
        ok = False
    return ok


def main(argv):
    args = {"--schema": None, "--readme": None}
    files, selftest = [], False
    it = iter(argv)
    for a in it:
        if a in args:
            args[a] = next(it)
        elif a == "--self-test":
            selftest = True
        else:
            files.append(a)
    if not args["--schema"] or not args["--readme"] or not files:
        sys.exit(__doc__)
    schema = Schema(args["--schema"])
    readme = Readme(args["--readme"])
    if not readme.exact:
        print(f"not ok - eve_schema/readme no \"{README_SECTION}\" table in "
              f"{args['--readme']}")
        return 1
    if selftest:
        paths = [f.split("=", 1)[1] if "=" in f else f for f in files]
        return 0 if self_test(schema, readme, paths) else 1
    ok = readme_vs_schema(schema, readme)
    for spec in files:
        name, _, path = spec.rpartition("=")
        with open(path, encoding="utf-8", errors="replace") as f:
            n, bad = check_lines(schema, readme, f.read().splitlines())
        ok &= report(name or path, n, bad)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
