#!/usr/bin/env python3
"""Labelled evaluation: ghostport's findings joined to nDPI's per-flow application.

    benches/accuracy-ndpi.py [--bin GHOSTPORT] [--ndpi-reader] DIR...

For every capture in each DIR (pcap, pcapng, pcap.gz), run
`ghostport scan --no-hash -F json`, then join every flow record of every
ghost-port finding to nDPI's verdict on the same flow (same transport and
endpoints, either order). nDPI's verdicts come from `DIR/result/<capture>.out`
(the files nDPI's own test suite ships), or, with --ndpi-reader, from running
`ndpiReader -v 2` on captures that have no such file.

A flow is labelled by nDPI's protocol string ("STUN.Zoom", "TLS.AnyDesk") and
category. The label is:
  * dual-use: category VPN or RemoteAccess (AnyDesk, TeamViewer, OpenVPN,
    WireGuard, Tor, VNC...): ghostport should name them at medium;
  * generic: a bare transport or web protocol without an application (HTTP,
    TLS, QUIC, SSH, Unknown...): a ghost port carrying it is what ghostport
    is for, so these are not counted either way;
  * application: anything else (Zoom, Spotify, NFS, BitTorrent, ...).

A FALSE ALARM is a finding of medium or worse with at least one flow nDPI
labels as a non-dual-use application. Printed: totals, the false alarms,
the explained findings (ghostport's own "explained" outcome), and per nDPI
application the findings by ghostport severity.
"""
import argparse, collections, gzip, json, os, re, shutil, subprocess, sys

GENERIC = {
    "Unknown", "HTTP", "TLS", "QUIC", "DNS", "SSH", "Telnet", "HTTP_Proxy", "SOCKS",
    "IRC", "SMTP", "SMTPS", "IMAP", "IMAPS", "POP3", "POP3S", "FTP_CONTROL", "FTP_DATA",
    "HTTP_Connect", "WebSocket", "ICMP", "ICMPV6", "DoH_DoT", "HTTP2",
}
DUAL_USE_CATEGORIES = {"VPN", "RemoteAccess"}
LEVELS = ["info", "low", "medium", "high", "critical"]

FLOW_RE = re.compile(
    r"^\s+\d+\s+(TCP|UDP) (\[[^\]]+\]|[^ \[]+):(\d+) (?:<->|->) (\[[^\]]+\]|[^ \[]+):(\d+) "
    r"(?:\[VLAN: \d+\])?\s*\[proto: [^/\]]*/([^\]]+)\](?:.*?\[cat: ([A-Za-z_]+))?"
)


def ndpi_text(capture, result_dir, use_reader):
    out = os.path.join(result_dir, os.path.basename(capture) + ".out")
    if os.path.exists(out):
        with open(out, "rb") as f:
            return f.read().decode("utf-8", "replace"), "result file"
    if use_reader and shutil.which("ndpiReader") and not capture.endswith(".gz"):
        r = subprocess.run(["ndpiReader", "-i", capture, "-v", "2"], capture_output=True)
        return r.stdout.decode("utf-8", "replace"), "ndpiReader"
    return None, None


def ndpi_flows(text):
    flows = {}
    for line in text.splitlines():
        m = FLOW_RE.match(line)
        if not m:
            continue
        t, a, ap, b, bp, proto, cat = m.groups()
        cat = cat or "Unspecified"
        a, b = a.strip("[]"), b.strip("[]")
        key = (t.lower(), frozenset([(a, int(ap)), (b, int(bp))]))
        flows[key] = (proto, cat)
    return flows


def label(proto, cat):
    parts = proto.split(".")
    if cat in DUAL_USE_CATEGORIES:
        return "dual-use"
    if all(p in GENERIC for p in parts):
        return "generic"
    return "application"


def app_name(proto):
    parts = [p for p in proto.split(".") if p not in GENERIC]
    return ".".join(parts) or proto


def captures(d):
    for name in sorted(os.listdir(d)):
        if re.search(r"\.(pcap|pcapng|cap)(\.gz)?$", name):
            yield os.path.join(d, name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "../target/release/ghostport"))
    ap.add_argument("--ndpi-reader", action="store_true", help="run ndpiReader where DIR has no result/ file")
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()

    totals = collections.Counter()
    false_alarms, explained = [], []
    per_app = collections.defaultdict(collections.Counter)
    per_set = {}
    for d in args.dirs:
        result_dir = os.path.join(d, "result")
        set_counts = collections.Counter()
        for cap in captures(d):
            r = subprocess.run([args.bin, "scan", "--no-hash", "-F", "json", cap], capture_output=True)
            try:
                rep = json.loads(r.stdout)
            except json.JSONDecodeError:
                set_counts["unreadable"] += 1
                continue
            set_counts["captures"] += 1
            text, _src = ndpi_text(cap, result_dir, args.ndpi_reader)
            nd = ndpi_flows(text) if text else {}
            if text:
                set_counts["labelled captures"] += 1
            for f in rep.get("findings", []):
                lvl = f["severity"]["level"]
                set_counts["findings " + lvl] += 1
                if f.get("explained"):
                    explained.append((os.path.basename(cap), f))
                labels = set()
                for fl in f.get("flows", []):
                    key = (fl["transport"], frozenset([(fl["client"]["ip"], fl["client"]["port"]),
                                                       (fl["server"]["ip"], fl["server"]["port"])]))
                    if key in nd:
                        labels.add(nd[key])
                kinds = {label(p, c) for p, c in labels}
                for p, c in labels:
                    if label(p, c) != "generic":
                        per_app[app_name(p)][lvl] += 1
                if not labels:
                    per_app["(no nDPI flow)"][lvl] += 1
                if LEVELS.index(lvl) >= 2 and "application" in kinds and "dual-use" not in kinds:
                    apps = sorted(app_name(p) for p, c in labels if label(p, c) == "application")
                    false_alarms.append((os.path.basename(cap), f, apps))
        per_set[d] = set_counts
        totals.update(set_counts)

    print("## Totals\n")
    for d, c in per_set.items():
        sev = ", ".join(f"{lv} {c['findings ' + lv]}" for lv in LEVELS)
        print(f"- {os.path.basename(os.path.normpath(d))}: {c['captures']} captures "
              f"({c['labelled captures']} with nDPI labels), findings: {sev}")
    print(f"\nFalse alarms (medium or worse on a flow nDPI names as a non-dual-use application): "
          f"{len(false_alarms)}")
    print(f"Explained findings: {len(explained)}\n")
    print("## False alarms\n")
    if not false_alarms:
        print("none\n")
    for cap, f, apps in false_alarms:
        print(f"- {cap}: {f['id']} {f['severity']['level']} {f['severity']['score']} "
              f"{f['title'][:100]} [nDPI: {', '.join(apps)}]")
    print("\n## Explained findings\n")
    by_reason = collections.Counter()
    for cap, f in explained:
        e = f["explained"]
        by_reason[(e.get("by", ""), e.get("application", ""), f["severity"]["level"])] += 1
    for (by, app, lvl), n in sorted(by_reason.items()):
        print(f"- {n:4} × {lvl:8} {by}: {app}")
    print("\n## Findings per nDPI application (ghostport severity)\n")
    print("| nDPI application | " + " | ".join(LEVELS) + " |")
    print("|---|" + "---|" * len(LEVELS))
    for app in sorted(per_app):
        c = per_app[app]
        print(f"| {app} | " + " | ".join(str(c[lv]) for lv in LEVELS) + " |")
    return 1 if false_alarms else 0


if __name__ == "__main__":
    sys.exit(main())
