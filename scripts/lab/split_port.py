#!/usr/bin/python3
"""ftpalg lab: a PORT command written in two send() calls, Nagle on (docs/decisions/0001).

Logs in on a plain socket (TCP_NODELAY off, the Linux default, checked), then --repeat times:
listens for a data connection, writes the PORT line for it with two send() calls back to back
(the first --split-at bytes, then the rest), waits for the reply, and LISTs /pub through the
announced port. With Nagle on, Linux sends the first part at once (nothing of ours is in flight:
every earlier command was answered) and keeps the rest until the first part is acknowledged
(RFC 896; RFC 1122 section 4.2.3.4) or a tail loss probe sends it (RFC 8985 section 7.3).
Prints, one line each:
  nodelay 0
  split N first <first part, repr> ms MS reply <reply line>
  list N bytes B names_test_bin yes|no
Exit status 0 only if every reply is 2xx and every listing names test.bin.
"""
import argparse
import socket
import sys
import time


class Control:
    def __init__(self, sock, timeout):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("control connection closed by the server")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def reply(self):
        # RFC 959 section 4.2: a multi-line reply ends with "NNN " after "NNN-".
        first = self.line()
        if len(first) > 3 and first[3] == "-":
            while True:
                nxt = self.line()
                if nxt[:3] == first[:3] and nxt[3:4] == " ":
                    break
        return first

    def cmd(self, text):
        self.sock.sendall(text.encode("latin-1") + b"\r\n")
        return self.reply()


def split_port_and_list(c, index, split_at, think_s, timeout):
    sock = c.sock
    local = sock.getsockname()[0]
    lsock = socket.create_server((local, 0), backlog=1)
    lsock.settimeout(timeout)
    port = lsock.getsockname()[1]
    line = ("PORT %s,%d,%d\r\n" % (local.replace(".", ","), port >> 8, port & 0xFF)).encode("ascii")
    if not 0 < split_at < len(line):
        print(f"--split-at {split_at} is outside the line's {len(line)} bytes")
        return False
    first, rest = line[:split_at], line[split_at:]
    # A one-segment reply just before: its ACK rides on the first part (delayed ACK), as after
    # TYPE in a real session, so the server also waits for that segment's acknowledgement.
    if not c.cmd("NOOP").startswith("2"):
        lsock.close()
        return False
    time.sleep(think_s)
    t0 = time.monotonic()
    sent = sock.send(first)
    sent += sock.send(rest)
    reply = c.reply()
    ms = (time.monotonic() - t0) * 1000
    print(f"split {index} first {first!r} ms {ms:.0f} reply {reply}", flush=True)
    if sent != len(line) or not reply.startswith("2"):
        lsock.close()
        return False
    sock.sendall(b"LIST /pub\r\n")
    prelim = c.reply()
    listing = b""
    if prelim.startswith("1"):
        data, _ = lsock.accept()
        data.settimeout(timeout)
        while True:
            chunk = data.recv(65536)
            if not chunk:
                break
            listing += chunk
        data.close()
        c.reply()  # 226
    lsock.close()
    named = b"test.bin" in listing
    print(f"list {index} bytes {len(listing)} names_test_bin {'yes' if named else 'no'}", flush=True)
    return named


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--user", default="anonymous")
    ap.add_argument("--password", default="lab@example.com")
    ap.add_argument("--timeout", type=float, default=8)
    ap.add_argument("--split-at", type=int, default=2,
                    help='bytes of the PORT line in the first send() (default 2: "PO")')
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--think-ms", type=float, default=0,
                    help="pause after the NOOP reply, before the PORT (below the 40 ms delayed-ACK"
                         " minimum, the ACK still rides on the first part)")
    args = ap.parse_args()

    sock = socket.create_connection((args.host, 21), timeout=args.timeout)
    nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    print(f"nodelay {nodelay}", flush=True)
    if nodelay != 0:
        return 1
    c = Control(sock, args.timeout)
    ok = False
    try:
        if not c.reply().startswith("220"):
            return 1
        r = c.cmd("USER " + args.user)
        if r.startswith("331"):
            r = c.cmd("PASS " + args.password)
        if not r.startswith("230") or not c.cmd("TYPE A").startswith("200"):
            print(f"login failed: {r}")
            return 1
        ok = True
        for i in range(1, args.repeat + 1):
            ok &= split_port_and_list(c, i, args.split_at, args.think_ms / 1000, args.timeout)
        c.cmd("QUIT")
    except (OSError, EOFError) as e:
        print(f"error: {type(e).__name__}: {e}")
        ok = False
    finally:
        sock.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
