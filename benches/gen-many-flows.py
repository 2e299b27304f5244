#!/usr/bin/env python3
"""Writes a classic pcap (LINKTYPE_RAW, IPv4) of N one-packet UDP flows, all
distinct (source address and port vary; destination 198.51.100.1:53), 1 us
apart: the worst case for a flow table. Used by benches/bench-compare.

usage: gen-many-flows.py OUT N
"""
import struct
import sys


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    ts0 = 1_700_000_000
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        payload = b"ghostport"
        udp_len = 8 + len(payload)
        ip_len = 20 + udp_len
        buf = bytearray()
        for i in range(n):
            src = bytes([10, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF])
            sport = 1024 + (i >> 24)
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, 0, 0, 64, 17, 0,
                             src, bytes([198, 51, 100, 1]))
            udp = struct.pack("!HHHH", sport, 53, udp_len, 0)
            us = i
            buf += struct.pack("<IIII", ts0 + us // 1_000_000, us % 1_000_000, ip_len, ip_len)
            buf += ip + udp + payload
            if len(buf) > 1 << 20:
                f.write(buf)
                buf.clear()
        f.write(buf)


if __name__ == "__main__":
    main()
