#!/usr/bin/env python3
"""Generate knowledge.tsv, the port knowledge table ghostport embeds.

Run from anywhere (python3 standard library only):

    python3 src/knowledge/data/gen-knowledge.py            # writes knowledge.tsv
    python3 src/knowledge/data/gen-knowledge.py --check    # exit 1 if knowledge.tsv is stale
    python3 src/knowledge/data/gen-knowledge.py --import-firewalld DIR VERSION
        # rewrites sources/firewalld-services.tsv from firewalld's service
        # definitions (DIR = the extracted /usr/lib/firewalld/services)

Inputs (verbatim copies, see sources/SOURCES.md):
    sources/service-names-port-numbers.csv   IANA registry (CSV)
    sources/wireshark-port-dissectors.tsv     Wireshark static port dissectors
    sources/detector-default-ports.tsv        nDPI / Zeek / Suricata default ports
    sources/attack-t1571-ports.tsv            MITRE ATT&CK T1571 port usage
    sources/netbase-services                  Debian netbase /etc/services
    sources/firewalld-services.tsv            firewalld service definitions (ports)
    curated-defacto.tsv                       curated de-facto list (hand-kept)

The script only normalises and compacts facts; it does not classify. The Rust
module src/knowledge/ classifies (one implementation, shared by the built-in
table and by `ghostport` registry import/diff).

Output format (UTF-8, LF, tab-separated; fields escaped: backslash, tab, LF,
CR as \\\\ \\t \\n \\r). Header lines start with '#'; the body is every line
after the header. '#body-sha256' is the sha256 of the body bytes, so the Rust
tests can check that header and body belong together. Body record types:

    R  port|a-b  tcp|udp|both  service  description  assignee  contact
       registered  modified  reference  unauthorized_use  assignment_notes
       (IANA rows for tcp/udp/empty transport; empty transport = both;
       identical consecutive tcp+udp rows merged into 'both'; ranges kept as
       ranges; contact '=' means same as assignee; Service Code dropped)
    W  port  tcp|udp  dissector                     (Wireshark)
    D  port  tcp|udp  ndpi|zeek|suricata  protocol  (detectors)
    N  port  tcp|udp  name  aliases                 (netbase /etc/services)
    F  port  tcp|udp  service  short_name           (firewalld service definitions)
    C  port  tcp|udp  software  flags  source       (curated de-facto list)
    A  port  tcp|udp  software  attack_id  transport_as_written  (ATT&CK T1571)

Deterministic: the same inputs give a byte-identical output (no timestamps,
stable ordering, no dict-order dependence).
"""

import csv
import hashlib
import io
import os
import sys
import xml.etree.ElementTree as ET

FORMAT_VERSION = "1"
ROOT = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(ROOT, "sources")
OUT = os.path.join(ROOT, "knowledge.tsv")

INPUTS = [
    ("iana", "sources/service-names-port-numbers.csv"),
    ("wireshark", "sources/wireshark-port-dissectors.tsv"),
    ("detectors", "sources/detector-default-ports.tsv"),
    ("mitre-attack", "sources/attack-t1571-ports.tsv"),
    ("netbase", "sources/netbase-services"),
    ("curated", "curated-defacto.tsv"),
    ("firewalld", "sources/firewalld-services.tsv"),
]

IANA_HEADER = [
    "Service Name", "Port Number", "Transport Protocol", "Description",
    "Assignee", "Contact", "Registration Date", "Modification Date",
    "Reference", "Service Code", "Unauthorized Use Reported", "Assignment Notes",
]


class InputError(Exception):
    pass


def esc(s):
    return (s.replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\n", "\\n").replace("\r", "\\r"))


def read_bytes(rel):
    path = os.path.join(ROOT, rel)
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise InputError(f"{rel}: cannot read ({e.strerror}); "
                         "copy the input there (see sources/SOURCES.md)")


def port_ok(text, where):
    if not text.isdigit() or int(text) > 65535:
        raise InputError(f"{where}: '{text}' is not a port number 0-65535")
    return int(text)


def tsv_rows(rel, data, ncols):
    """Non-comment rows of a TSV with a header line; yields (lineno, fields)."""
    seen_header = False
    for n, line in enumerate(data.decode("utf-8").split("\n"), 1):
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if not seen_header:
            seen_header = True
            continue
        if len(fields) != ncols:
            raise InputError(f"{rel} line {n}: expected {ncols} tab-separated "
                             f"fields, found {len(fields)}")
        yield n, fields


def transports(t, where, allow):
    if t in ("tcp", "udp"):
        return [t]
    if t in allow:
        return ["tcp", "udp"]
    raise InputError(f"{where}: transport '{t}' is not one of tcp, udp, "
                     + ", ".join(allow))


def iana_rows(data):
    rel = INPUTS[0][1]
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    header = next(reader, None)
    if header != IANA_HEADER:
        raise InputError(f"{rel}: header is not the 12 IANA columns {IANA_HEADER}")
    out = []
    latest = ""
    for row in reader:
        where = f"{rel} line {reader.line_num}"
        if len(row) != 12:
            raise InputError(f"{where}: expected 12 fields, found {len(row)}")
        (name, port, tr, desc, assignee, contact, reg, mod, ref, _sc,
         unauth, notes) = row
        for d in (reg, mod):
            if d > latest:
                latest = d
        if not port or tr not in ("tcp", "udp", ""):
            continue  # port-less service names; sctp/dccp rows
        if "-" in port:
            a, b = port.split("-", 1)
            if port_ok(a, where) > port_ok(b, where):
                raise InputError(f"{where}: range '{port}' runs backwards")
        else:
            port_ok(port, where)
        if contact == assignee and contact:
            contact = "="
        elif contact == "=":
            contact = "\\="
        out.append([port, tr or "both", name, desc, assignee, contact, reg, mod,
                    ref, unauth, notes])
    # merge identical consecutive tcp+udp rows into one 'both' row
    merged = []
    for r in out:
        prev = merged[-1] if merged else None
        if (prev and prev[1] == "tcp" and r[1] == "udp" and prev[0] == r[0]
                and prev[2:] == r[2:]):
            prev[1] = "both"
        else:
            merged.append(r)
    return merged, latest


def netbase_rows(data):
    rel = INPUTS[4][1]
    out = set()
    for n, line in enumerate(data.decode("utf-8").split("\n"), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 2 or "/" not in parts[1]:
            raise InputError(f"{rel} line {n}: expected 'name port/proto [aliases]'")
        port, proto = parts[1].split("/", 1)
        if proto not in ("tcp", "udp"):
            continue
        out.add((port_ok(port, f"{rel} line {n}"), proto, parts[0],
                 " ".join(parts[2:])))
    return out


def body_lines(raw):
    lines = []
    reg, latest = iana_rows(raw["iana"])
    for r in reg:
        lines.append("R\t" + "\t".join(esc(f) for f in r))

    facts = set()
    rel = INPUTS[1][1]
    for n, (p, t, d) in tsv_rows(rel, raw["wireshark"], 3):
        for tt in transports(t, f"{rel} line {n}", ()):
            facts.add((port_ok(p, f"{rel} line {n}"), tt, "W", (d,)))
    rel = INPUTS[2][1]
    for n, (p, t, s, proto) in tsv_rows(rel, raw["detectors"], 4):
        if s not in ("ndpi", "zeek", "suricata"):
            raise InputError(f"{rel} line {n}: source '{s}' is not ndpi, zeek or suricata")
        for tt in transports(t, f"{rel} line {n}", ()):
            facts.add((port_ok(p, f"{rel} line {n}"), tt, "D", (s, proto)))
    for p, t, name, aliases in netbase_rows(raw["netbase"]):
        facts.add((p, t, "N", (name, aliases)))
    rel = INPUTS[5][1]
    for n, (p, t, sw, flags, src) in tsv_rows(rel, raw["curated"], 5):
        if flags not in ("-", "abuse-relevant"):
            raise InputError(f"{rel} line {n}: flags '{flags}' is not '-' or 'abuse-relevant'")
        if not sw.strip() or not src.strip():
            raise InputError(f"{rel} line {n}: software and source must not be empty")
        for tt in transports(t, f"{rel} line {n}", ("both",)):
            facts.add((port_ok(p, f"{rel} line {n}"), tt, "C",
                       (sw, "" if flags == "-" else flags, src)))
    rel = INPUTS[3][1]
    for n, (p, t, sw, aid, _tech) in tsv_rows(rel, raw["mitre-attack"], 5):
        for tt in transports(t, f"{rel} line {n}", ("any",)):
            facts.add((port_ok(p, f"{rel} line {n}"), tt, "A", (sw, aid, t)))
    rel = INPUTS[6][1]
    for n, (p, t, svc, short) in tsv_rows(rel, raw["firewalld"], 4):
        for tt in transports(t, f"{rel} line {n}", ()):
            facts.add((port_ok(p, f"{rel} line {n}"), tt, "F", (svc, short)))
    order = {"W": 0, "D": 1, "N": 2, "F": 3, "C": 4, "A": 5}
    for p, t, kind, rest in sorted(facts, key=lambda f: (f[0], f[1], order[f[2]], f[3])):
        lines.append("\t".join([kind, str(p), t] + [esc(x) for x in rest]))
    return lines, latest


def build():
    raw = {}
    header = [f"#ghostport-kb\t{FORMAT_VERSION}"]
    for key, rel in INPUTS:
        data = read_bytes(rel)
        raw[key] = data
    lines, latest = body_lines(raw)
    if not latest:
        raise InputError(f"{INPUTS[0][1]}: no Registration/Modification Date found")
    header.append(f"#registry\tIANA {latest}")
    for key, rel in INPUTS:
        header.append(f"#input\t{key}\t{rel}\tsha256:{hashlib.sha256(raw[key]).hexdigest()}")
    body = ("\n".join(lines) + "\n").encode("utf-8")
    header.append(f"#body-sha256\t{hashlib.sha256(body).hexdigest()}")
    return ("\n".join(header) + "\n").encode("utf-8") + body


# firewalld ranges wider than this are not taken as per-port facts: a range
# such as ceph's 6800-7300 says "somewhere in here", not "on each port".
FIREWALLD_MAX_RANGE = 16


def import_firewalld(directory, version):
    """sources/firewalld-services.tsv from firewalld's service XML files."""
    rows = set()
    skipped = []
    names = sorted(f for f in os.listdir(directory) if f.endswith(".xml"))
    if not names:
        raise InputError(f"{directory}: no *.xml service definitions found")
    for name in names:
        svc = name[:-4]
        try:
            root = ET.parse(os.path.join(directory, name)).getroot()
        except (ET.ParseError, OSError) as e:
            raise InputError(f"{directory}/{name}: cannot parse ({e})")
        short = (root.findtext("short") or svc).strip()
        short = " ".join(short.split())
        for el in root.findall("port"):
            proto, port = el.get("protocol", ""), el.get("port", "")
            if proto not in ("tcp", "udp"):
                continue  # sctp, dccp
            where = f"{name} port '{port}'"
            if "-" in port:
                a, b = port.split("-", 1)
                lo, hi = port_ok(a, where), port_ok(b, where)
                if hi - lo + 1 > FIREWALLD_MAX_RANGE:
                    skipped.append(f"{svc} {port}/{proto}")
                    continue
            else:
                lo = hi = port_ok(port, where)
            for p in range(lo, hi + 1):
                rows.add((p, proto, svc, short))
    out = [
        "# Ports of firewalld's service definitions (/usr/lib/firewalld/services/*.xml).",
        f"# Generated with: python3 src/knowledge/data/gen-knowledge.py --import-firewalld DIR '{version}'",
        "# Source: firewalld, GPL-2.0-or-later; this file lists facts (port -> service file name, <short> name).",
        f"# Limits: <port> elements only (no <include>, <helper> or <source-port>); ranges wider than "
        f"{FIREWALLD_MAX_RANGE} ports skipped: " + ", ".join(skipped),
        "port\ttransport\tservice\tshort",
    ]
    for p, t, svc, short in sorted(rows):
        out.append("\t".join([str(p), t, esc(svc), esc(short)]))
    path = os.path.join(ROOT, INPUTS[6][1])
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {INPUTS[6][1]} ({len(rows)} port facts from {len(names)} files)")


def main(argv):
    if len(argv) == 4 and argv[1] == "--import-firewalld":
        try:
            import_firewalld(argv[2], argv[3])
        except InputError as e:
            print(f"gen-knowledge: {e}", file=sys.stderr)
            return 2
        return 0
    try:
        out = build()
    except InputError as e:
        print(f"gen-knowledge: {e}", file=sys.stderr)
        return 2
    if argv[1:] == ["--check"]:
        try:
            with open(OUT, "rb") as f:
                same = f.read() == out
        except OSError:
            same = False
        if not same:
            print("gen-knowledge: knowledge.tsv is stale; run "
                  "python3 src/knowledge/data/gen-knowledge.py", file=sys.stderr)
            return 1
        print("knowledge.tsv is up to date")
        return 0
    if argv[1:]:
        print("usage: python3 src/knowledge/data/gen-knowledge.py [--check | --import-firewalld DIR VERSION]",
              file=sys.stderr)
        return 2
    with open(OUT, "wb") as f:
        f.write(out)
    nlines = out.count(b"\n")
    print(f"wrote knowledge.tsv ({len(out)} bytes, {nlines} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
