#!/usr/bin/python3
"""ftpalg lab: announce a data endpoint on an FTP control connection and watch who connects.

Logs in, listens on an ephemeral port, sends PORT or EPRT for it (the client's own address, as a
real client does), and then, for --hold seconds, accepts connections on that port: each accepted
peer gets the line "lab-data-listener\\n" and is reported on stdout as "accepted ADDR". Writes
"announced PORT" (and the reply) to stdout as soon as the server answered, so a test can probe the
pinhole while the control connection stays open. --quit-after S closes the control connection
(QUIT) S seconds after the reply and keeps accepting until --hold seconds have passed.
Exit status 0 if the announcement got a 2xx reply.
"""
import argparse
import ftplib
import select
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--user", default="anonymous")
    ap.add_argument("--password", default="lab@example.com")
    ap.add_argument("--verb", choices=["PORT", "EPRT"], default="PORT")
    ap.add_argument("--hold", type=float, default=10)
    ap.add_argument("--quit-after", type=float)
    args = ap.parse_args()

    ftp = ftplib.FTP(timeout=10)
    ftp.connect(args.host, 21)
    ftp.login(args.user, args.password)
    local = ftp.sock.getsockname()[0]
    family = socket.AF_INET6 if ":" in local else socket.AF_INET
    lsock = socket.create_server(("", 0), family=family, backlog=8)
    port = lsock.getsockname()[1]
    if args.verb == "PORT":
        resp = ftp.sendport(local, port)
    else:
        resp = ftp.sendeprt(local, port)
    print(f"announced {port} reply {resp!r}", flush=True)
    start = time.monotonic()
    deadline = start + args.hold
    quit_at = None if args.quit_after is None else start + args.quit_after
    while True:
        if quit_at is not None and time.monotonic() >= quit_at:
            ftp.quit()
            print("control closed", flush=True)
            quit_at = None
        left = deadline - time.monotonic()
        if quit_at is not None:
            left = min(left, quit_at - time.monotonic())
        if left <= 0:
            break
        r, _, _ = select.select([lsock], [], [], left)
        if r and lsock in r:
            conn, peer = lsock.accept()
            print(f"accepted {peer[0]}", flush=True)
            try:
                conn.sendall(b"lab-data-listener\n")
            finally:
                conn.close()
    if args.quit_after is None:
        try:
            ftp.quit()
        except ftplib.all_errors:
            ftp.close()
    return 0 if resp.startswith("2") else 1


if __name__ == "__main__":
    sys.exit(main())
