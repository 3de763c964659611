#!/usr/bin/python3
"""ftpalg lab: a pyftpdlib server, anonymous read-only, one IPv4 and one IPv6 listener.

Usage: /usr/bin/python3 pyftpd.py --root DIR [--port 21]
No masquerade_address (the server announces its own address, like the other lab servers).
"""
import argparse
import logging
import socket
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.ioloop import IOLoop
from pyftpdlib.servers import FTPServer


def listener(family, port):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(("::", port))
    else:
        s.bind(("0.0.0.0", port))
    s.listen(16)
    s.setblocking(False)
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, default=21)
    args = ap.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG,
                        format="%(asctime)s %(message)s")
    authorizer = DummyAuthorizer()
    authorizer.add_anonymous(args.root)
    handler = FTPHandler
    handler.authorizer = authorizer
    handler.banner = "ftpalg lab pyftpdlib ready."
    handler.timeout = 60
    ioloop = IOLoop.instance()
    servers = [FTPServer(listener(socket.AF_INET, args.port), handler, ioloop),
               FTPServer(listener(socket.AF_INET6, args.port), handler, ioloop)]
    try:
        ioloop.loop(timeout=1.0, blocking=True)
    finally:
        for s in servers:
            s.close_all()


if __name__ == "__main__":
    main()
