#!/usr/bin/python3
"""ftpalg lab: one TCP connection attempt from a chosen source address.

Usage: tcp_probe.py SRC DST PORT [TIMEOUT_S]
Prints "connected <first line received>" (the line is empty when the peer sent nothing within
TIMEOUT_S: the connection still counts) and exits 0, or "failed <error>" and exits 1 when no TCP
connection was established.
"""
import socket
import sys


def main():
    src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0
    try:
        s = socket.create_connection((dst, port), timeout=timeout, source_address=(src, 0))
    except OSError as e:
        print(f"failed {type(e).__name__}: {e}")
        return 1
    try:
        data = s.recv(100).decode(errors="replace").strip()
    except OSError:
        data = ""  # connected, but the peer said nothing (e.g. an FTP server's data port)
    s.close()
    print(f"connected {data}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
