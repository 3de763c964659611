#!/usr/bin/python3
"""ftpalg lab: the TCP payloads of a capture, one segment per line.

Usage: pcap_payloads.py FILE [--dport PORT] [--all]
Reads a classic pcap file (as tcpdump -w writes it; Ethernet link type, IPv4 or IPv6 without
extension headers) and prints, for each TCP segment with a payload (with --all: every TCP
segment; to --dport only, if given):
  SECONDS SRC:SPORT>DST:DPORT seq=N len=N payload=<Python bytes literal>
SECONDS is relative to the first packet of the file.
"""
import argparse
import ipaddress
import struct
import sys


def segments(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError(f"{path}: not a classic pcap file")
    divisor = 1e9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e6
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    if linktype != 1:
        raise ValueError(f"{path}: link type {linktype}, expected 1 (Ethernet)")
    off, first = 24, None
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack_from(endian + "IIII", data, off)
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        t = sec + frac / divisor
        first = t if first is None else first
        ethertype = struct.unpack_from("!H", frame, 12)[0]
        if ethertype == 0x0800:
            ihl = (frame[14] & 0x0F) * 4
            if frame[23] != 6:
                continue
            total = struct.unpack_from("!H", frame, 16)[0]
            src, dst = ipaddress.ip_address(frame[26:30]), ipaddress.ip_address(frame[30:34])
            tcp, end = 14 + ihl, 14 + total
        elif ethertype == 0x86DD:
            if frame[20] != 6:
                continue
            src, dst = ipaddress.ip_address(frame[22:38]), ipaddress.ip_address(frame[38:54])
            tcp, end = 54, 54 + struct.unpack_from("!H", frame, 18)[0]
        else:
            continue
        sport, dport, seq = struct.unpack_from("!HHI", frame, tcp)
        payload = frame[tcp + (frame[tcp + 12] >> 4) * 4:end]
        yield t - first, src, sport, dst, dport, seq, payload


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--dport", type=int)
    ap.add_argument("--all", action="store_true")
    args = ap.parse_args()
    for t, src, sport, dst, dport, seq, payload in segments(args.file):
        if (not payload and not args.all) or (args.dport is not None and dport != args.dport):
            continue
        print(f"{t:.6f} {src}:{sport}>{dst}:{dport} seq={seq} len={len(payload)} payload={payload!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
