#!/usr/bin/python3
"""ftpalg lab: one control connection across an ftpalg outage (kill -9 or a clean stop, then a
restart), in active mode behind masquerade, where every PORT rewrite changes the line's length.

  1. login, TYPE I; PORT (rewritten by the running ftpalg) and RETR --big, read slowly
     (--rate bytes/s) so that the transfer runs while ftpalg is stopped; prints
     "transfer_started" once the 150 reply arrived;
  2. waits for --go-dead (ftpalg is down now), finishes the transfer (sha256 of --big checked
     against --big-sha), then NOOP, PWD, SIZE --big, CWD /, NOOP while no ftpalg runs;
     prints "while_dead ok";
  3. waits for --go-restarted (the new instance runs), then NOOP, PORT and RETR --get (sha256
     --get-sha), LIST, NOOP, QUIT; prints "after_restart ok".
Every step prints "step NAME REPLY" (flushed). Exit status 0 only if all three phases passed.
--pre-dead-port: in phase 2 also send an unrewritten PORT while no ftpalg runs (the server must
refuse it, e.g. vsftpd's "500 Illegal PORT command."): prints "dead_port REPLY".
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


def say(text):
    print(text, flush=True)


def active_retr(ftp, name, rate=None, on_started=None):
    """PORT + RETR name through a listener at the control connection's local address; returns
    (bytes, sha256 hex)."""
    local = ftp.sock.getsockname()[0]
    lsock = socket.create_server((local, 0), backlog=1)
    lsock.settimeout(ftp.sock.gettimeout())
    reply = ftp.sendport(local, lsock.getsockname()[1])
    say(f"step port {reply}")
    ftp.putcmd("RETR " + name)
    prelim = ftp.getresp()
    say(f"step retr {prelim}")
    conn, _ = lsock.accept()
    lsock.close()
    if on_started:
        on_started()
    conn.settimeout(ftp.sock.gettimeout())
    digest = hashlib.sha256()
    size = 0
    chunk_size = 8192
    while True:
        chunk = conn.recv(chunk_size)
        if not chunk:
            break
        digest.update(chunk)
        size += len(chunk)
        if rate:
            time.sleep(len(chunk) / rate)
    conn.close()
    say(f"step retr_done {ftp.voidresp()}")
    return size, digest.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--user", default="anonymous")
    ap.add_argument("--password", default="lab@example.com")
    ap.add_argument("--big", required=True)
    ap.add_argument("--big-sha", required=True)
    ap.add_argument("--rate", type=float, default=400000)
    ap.add_argument("--get", required=True)
    ap.add_argument("--get-sha", required=True)
    ap.add_argument("--go-dead", required=True)
    ap.add_argument("--go-restarted", required=True)
    ap.add_argument("--pre-dead-port", action="store_true")
    ap.add_argument("--timeout", type=float, default=20)
    args = ap.parse_args()

    ftp = ftplib.FTP(timeout=args.timeout)
    ftp.connect(args.host, 21)
    ftp.login(args.user, args.password)
    say(f"step type {ftp.voidcmd('TYPE I')}")

    def started():
        say("transfer_started")

    # Phase 1 + 2: the transfer begins with ftpalg up and ends while it is down.
    size, sha = active_retr(ftp, args.big, rate=args.rate, on_started=started)
    if not wait_for(args.go_dead, args.timeout):
        say("no go-dead signal")
        return 1
    # The go-dead file appears while the transfer runs (the harness watches for transfer_started);
    # reaching here means the transfer and its 226 went through, partly or wholly while down.
    if sha != args.big_sha:
        say(f"big sha256 MISMATCH bytes {size} {sha}")
        return 1
    say(f"big bytes {size} ok")
    for command in ("NOOP", "PWD", "SIZE " + args.big, "CWD /", "NOOP"):
        say(f"step dead {command.split()[0]} {ftp.sendcmd(command)}")
    if args.pre_dead_port:
        try:
            reply = ftp.sendcmd("PORT 192,168,77,10,200,1")
        except ftplib.error_perm as e:
            reply = str(e)
        say(f"dead_port {reply}")
        say(f"step dead NOOP {ftp.sendcmd('NOOP')}")
    say("while_dead ok")

    # Phase 3: after the restart.
    if not wait_for(args.go_restarted, args.timeout):
        say("no go-restarted signal")
        return 1
    say(f"step after NOOP {ftp.sendcmd('NOOP')}")
    size, sha = active_retr(ftp, args.get)
    if sha != args.get_sha:
        say(f"get sha256 MISMATCH bytes {size} {sha}")
        return 1
    local = ftp.sock.getsockname()[0]
    lsock = socket.create_server((local, 0), backlog=1)
    lsock.settimeout(args.timeout)
    say(f"step port {ftp.sendport(local, lsock.getsockname()[1])}")
    ftp.putcmd("LIST")
    say(f"step list {ftp.getresp()}")
    conn, _ = lsock.accept()
    lsock.close()
    conn.settimeout(args.timeout)
    listing = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        listing += chunk
    conn.close()
    say(f"step list_done {ftp.voidresp()} bytes {len(listing)}")
    say(f"step after NOOP {ftp.sendcmd('NOOP')}")
    ftp.quit()
    say("after_restart ok")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ftplib.all_errors as e:  # OSError and EOFError among them
        print(f"error: {type(e).__name__}: {e}", flush=True)
        sys.exit(1)
