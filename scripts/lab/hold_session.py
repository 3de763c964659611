#!/usr/bin/python3
"""ftpalg lab: announce a data endpoint, wait for a go signal, then RETR through it.

  --mode port   listen on --port (0: any) at the control connection's local address, send PORT
                for it; after the go signal, RETR and accept the server's data connection
  --mode pasv   send PASV; after the go signal, connect to the address and port of the 227 (as
                curl does: the announced address is trusted) and RETR
Prints, one line each, flushed:
  announced HOST PORT reply <reply line>       as soon as PORT/PASV was answered
  data_peer ADDR                               (port mode) who connected to the listener
  connections N                                (port mode) how many connected in all
  retr bytes N sha256 HEX ok|MISMATCH|NOFILE   after the transfer
  warmup list ok|FAIL <reply>                   (--warmup) an active-mode LIST before the announcement
  again retr bytes N sha256 HEX ok|MISMATCH      (--again) one more PORT and RETR on the same
                                               control connection after the first transfer
The go signal is the file --go-file appearing (polled; bounded by --timeout).
Exit status 0 only if the announcement got a 2xx reply, the transfer completed and its sha256
equals --sha256.
"""
import argparse
import ftplib
import hashlib
import os
import socket
import sys
import time


def wait_for(path, timeout):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--user", default="anonymous")
    ap.add_argument("--password", default="lab@example.com")
    ap.add_argument("--mode", choices=["port", "pasv"], required=True)
    ap.add_argument("--port", type=int, default=0, help="port mode: the port to listen on")
    ap.add_argument("--get", required=True)
    ap.add_argument("--sha256", required=True)
    ap.add_argument("--go-file", required=True)
    ap.add_argument("--timeout", type=float, default=15)
    ap.add_argument("--warmup", action="store_true", help="an active-mode LIST before announcing")
    ap.add_argument("--again", action="store_true", help="after the transfer, PORT and RETR once more")
    args = ap.parse_args()

    ftp = ftplib.FTP(timeout=args.timeout)
    ftp.connect(args.host, 21)
    ftp.login(args.user, args.password)
    ftp.voidcmd("TYPE I")
    if args.warmup:
        ftp.set_pasv(False)
        lines = []
        reply = ftp.retrlines("LIST", lines.append)
        print(f"warmup list {'ok' if reply.startswith('226') else 'FAIL'} {reply}", flush=True)
        if not reply.startswith("226"):
            return 1
    lsock = None
    if args.mode == "port":
        local = ftp.sock.getsockname()[0]
        lsock = socket.create_server((local, args.port), backlog=4)
        lsock.settimeout(args.timeout)
        host, port = local, lsock.getsockname()[1]
        reply = ftp.sendport(host, port)
    else:
        reply = ftp.sendcmd("PASV")
        host, port = ftplib.parse227(reply)
    print(f"announced {host} {port} reply {reply}", flush=True)
    if not reply.startswith("2"):
        return 1
    if not wait_for(args.go_file, args.timeout):
        print("no go signal")
        return 1

    digest = hashlib.sha256()
    size = 0
    if args.mode == "port":
        ftp.putcmd("RETR " + args.get)
        prelim = ftp.getresp()  # 150/125, or raises on 4xx/5xx
        conn, peer = lsock.accept()
        print(f"data_peer {peer[0]}", flush=True)
        connections = 1
    else:
        conn = socket.create_connection((host, port), timeout=args.timeout)
        ftp.putcmd("RETR " + args.get)
        prelim = ftp.getresp()
        connections = None
    if not prelim.startswith("1"):
        print(f"unexpected reply {prelim}")
        return 1
    conn.settimeout(args.timeout)
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        digest.update(chunk)
        size += len(chunk)
    conn.close()
    ftp.voidresp()  # 226
    if lsock is not None:
        # Anyone else who reached this listener (a misdirected data connection) is queued.
        lsock.settimeout(0.3)
        try:
            while True:
                extra, peer = lsock.accept()
                print(f"data_peer {peer[0]}", flush=True)
                extra.close()
                connections += 1
        except OSError:
            pass
        print(f"connections {connections}", flush=True)
    got = digest.hexdigest()
    verdict = "ok" if got == args.sha256 else "MISMATCH"
    print(f"retr bytes {size} sha256 {got} {verdict}", flush=True)
    if args.again and verdict == "ok":
        ftp.set_pasv(args.mode == "pasv")
        again = hashlib.sha256()
        ftp.retrbinary("RETR " + args.get, again.update)
        verdict = "ok" if again.hexdigest() == args.sha256 else "MISMATCH"
        print(f"again retr sha256 {again.hexdigest()} {verdict}", flush=True)
    try:
        ftp.quit()
    except ftplib.all_errors:
        ftp.close()
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ftplib.all_errors as e:  # OSError and EOFError among them
        print(f"error: {type(e).__name__}: {e}", flush=True)
        sys.exit(1)
