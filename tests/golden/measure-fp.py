#!/usr/bin/env python3
"""Measure ghostport's false positives on real captures against nDPI.

For every capture in PCAP_DIR, run `ghostport scan -F json` and `ndpiReader -v 2`.
For each ghost-port finding, collect what nDPI says about the flows to that
server endpoint. A finding is counted a FALSE POSITIVE when nDPI recognises a
protocol on those flows and does NOT raise its "Known Protocol on Non Standard
Port" risk: nDPI then considers that protocol normal on that port, so the port
is in real use. Findings where nDPI raises the risk, or recognises nothing, are
counted as true ghost-port traffic (something else wearing the number).

Usage: tests/golden/measure-fp.py [PCAP_DIR] [GHOSTPORT_BIN]
Needs: ndpiReader (Debian libndpi-bin). Prints a markdown table and totals.
"""
import json, os, re, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))
pcaps = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../../shared/pcaps")
gp = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "../../target/release/ghostport")
flow_re = re.compile(r"^\s+\d+\s+(TCP|UDP) (\S+):(\d+) <-> (\S+):(\d+) \[proto: [^/]*/([^\]]+)\](.*)$")

def ndpi_flows(path):
    out = subprocess.run(["ndpiReader", "-i", path, "-v", "2"], capture_output=True, text=True).stdout
    flows = []
    for line in out.splitlines():
        m = flow_re.match(line)
        if m:
            t, a, ap, b, bp, proto, rest = m.groups()
            flows.append((t.lower(), a.strip("[]"), int(ap), b.strip("[]"), int(bp), proto,
                          "Known Protocol on Non Standard Port" in rest))
    return flows

rows, fp, total = [], 0, 0
for name in sorted(os.listdir(pcaps)):
    if not re.search(r"\.(pcap|pcapng|gz)$", name):
        continue
    path = os.path.join(pcaps, name)
    r = subprocess.run([gp, "scan", "-q", "-F", "json", path], capture_output=True, text=True)
    try:
        rep = json.loads(r.stdout)
    except json.JSONDecodeError:
        continue
    findings = [f for f in rep.get("findings", []) if f["kind"] == "ghost-port"]
    if not findings:
        continue
    nd = ndpi_flows(path) if name.endswith((".pcap", ".pcapng")) else []
    for f in findings:
        ip, port, t = f["server"]["ip"], f["server"]["port"], f["transport"]
        seen = [x for x in nd if x[0] == t and ((x[1] == ip and x[2] == port) or (x[3] == ip and x[4] == port))]
        protos = sorted({x[5] for x in seen})
        nonstd = any(x[6] for x in seen)
        known = [p for p in protos if not p.startswith("Unknown")]
        is_fp = bool(known) and not nonstd
        total += 1
        fp += is_fp
        svc = (f.get("verdict") or {}).get("record") or {}
        ours = ",".join(p["protocol"] for p in f["protocols"]) or "-"
        rows.append(f"| {name} | {port}/{t} ({svc.get('service_name', '?')}) | {','.join(protos) or '-'} | "
                    f"{'yes' if nonstd else 'no'} | {ours} | {'**FP**' if is_fp else 'TP'} |")

print("| capture | finding | nDPI protocol | nDPI non-standard-port risk | ghostport payload | verdict |")
print("|---|---|---|---|---|---|")
print("\n".join(rows))
print(f"\n{total} ghost-port findings, {fp} false positives ({(100.0 * fp / total) if total else 0:.1f} %)")
