#!/usr/bin/python3
"""ftpalg lab: forged RSTs against an FTP control connection, sent from outside it.

Usage: forge_rst.py SERVER_ADDR [TIMEOUT_S]
Run in a namespace on the server's side of the router (root). Watches every interface (AF_PACKET)
for the next IPv4 segment with payload from SERVER_ADDR port 21, learns the connection's
4-tuple and the server's next sequence number from it, waits 0.3 s, then sends two RSTs that
claim to come from the server (IP_HDRINCL): one 1000 bytes ahead of the server's next sequence
number (inside the receive window, but not exactly at it) and one 2^30 ahead (outside it).
Neither may end the session (RFC 5961 §3: only an RST at exactly the next sequence number resets;
conntrack marks the out-of-window one INVALID).
Prints "learned SRC:SPORT > DST:DPORT seq N" and "forged in_window seq N" /
"forged out_of_window seq N"; exits 1 when no segment was seen within TIMEOUT_S.
"""
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def rst(src, dst, sport, dport, seq):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x04, 0, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0x4242, 0, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


def main():
    server = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 20
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sniff.settimeout(0.5)
    deadline = time.monotonic() + timeout
    learned = None
    while time.monotonic() < deadline and learned is None:
        try:
            frame, address = sniff.recvfrom(65535)
        except socket.timeout:
            continue
        if address[2] != socket.PACKET_OUTGOING or len(frame) < 14 + 40:
            continue
        if struct.unpack("!H", frame[12:14])[0] != 0x0800:
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        if ip[9] != 6 or socket.inet_ntoa(ip[12:16]) != server:
            continue
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack("!HHI", tcp[:8])
        payload = len(tcp) - ((tcp[12] >> 4) * 4)
        if sport != 21 or payload <= 0:
            continue
        learned = (socket.inet_ntoa(ip[16:20]), dport, (seq + payload) & 0xFFFFFFFF)
    if learned is None:
        print("no segment seen")
        return 1
    dst, dport, nxt = learned
    print(f"learned {server}:21 > {dst}:{dport} seq {nxt}", flush=True)
    time.sleep(0.3)
    out = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for name, ahead in (("in_window", 1000), ("out_of_window", 1 << 30)):
        forged = (nxt + ahead) & 0xFFFFFFFF
        out.sendto(rst(server, dst, 21, dport, forged), (dst, 0))
        print(f"forged {name} seq {forged}", flush=True)
        time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
