#!/usr/bin/env bash
# Regenerates tshark-counts.tsv: for every capture in the shared corpus,
# the packet count and the TCP/UDP conversation counts tshark reports.
# The test tests/shared_pcaps.rs compares ghostport's figures with these.
# Usage: tests/golden/make-tshark-counts.sh [PCAP_DIR]   (needs tshark)
set -euo pipefail
dir=${1:-$(dirname "$0")/../../../shared/pcaps}
out=$(dirname "$0")/tshark-counts.tsv
{
  echo -e "# tshark $(tshark --version | head -1 | awk '{print $3}'); made by tests/golden/make-tshark-counts.sh"
  echo -e "file\tpackets\ttcp_conversations\tudp_conversations"
  for f in $(ls "$dir" | grep -E '\.(pcap|pcapng|gz)$' | sort); do
    p="$dir/$f"
    # -2: two-pass so reassembly settles; conversations are counted from the -z tables.
    packets=$(tshark -r "$p" -T fields -e frame.number 2>/dev/null | wc -l || true)
    conv=$(tshark -r "$p" -q -z conv,tcp -z conv,udp 2>/dev/null || true)
    tcp=$(echo "$conv" | awk '/TCP Conversations/{s=1;next} /UDP Conversations/{s=0} s && /<->/' | wc -l)
    udp=$(echo "$conv" | awk '/UDP Conversations/{s=1;next} /^=+$/{if(s)s=2} s==1 && /<->/' | wc -l)
    echo -e "$f\t$packets\t$tcp\t$udp"
  done
} > "$out"
echo "wrote $out" >&2
