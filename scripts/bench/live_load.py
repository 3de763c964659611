#!/usr/bin/python3
"""Load driver for scripts/bench/live.sh: N active-mode FTP sessions with C concurrent clients.

Each session is a hand-written client on a raw socket (no ftplib, so nothing hides the timing):
  connect, 220, USER/PASS, listen on the client's own address, NOOP (timed the same way: the
  reference, a line that crosses the router both ways but announces nothing), PORT (timed: from
  sending the PORT line to receiving the last byte of its reply, time.perf_counter_ns), LIST DIR (150, accept
  the data connection, read it to EOF, 226; the listing must name --expect), QUIT (221).
A session counts as ok only if every step got the expected reply.

Data ports: with --data-ports LO:HI each session listens on the next port of that range, so no
data connection 4-tuple repeats within a run. The server's side of a finished data connection
(vsftpd connects from port 20 and closes first) sits in TIME_WAIT for 60 s, and a new connect
from port 20 to the same (address, port) would fail with 425; the NAT (ftpalg and nf_nat_ftp
alike) keeps the client's port when it is free, so unique client ports mean unique tuples. A
port that cannot be bound is skipped. Without --data-ports the kernel picks (bind to port 0).

Output: one JSON object on stdout (and, with --rtt-out FILE, every PORT round trip in FILE and
every NOOP round trip in FILE.noop):
  {"sessions", "concurrency", "ok", "failed", "warmup", "warmup_failed", "wall_s",
   "sessions_per_s" (ok sessions / wall time of the timed sessions),
   "port_rtt_us": {"n", "p50", "p99", "mean", "min", "max"}, "noop_rtt_us": {same},
   "errors": {reason: count}}
Exit status: 0 if every session (warm-up included) succeeded, 1 otherwise, 2 on usage errors.
"""
import argparse
import json
import socket
import sys
import threading
import time


class SessionError(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class Control:
    """A line-buffered FTP control connection."""

    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, line):
        self.sock.sendall(line.encode("ascii") + b"\r\n")

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line.decode("latin-1")
            chunk = self.sock.recv(4096)
            if not chunk:
                raise SessionError("control_closed")
            self.buf += chunk

    def reply(self):
        """One complete reply (multi-line aware); returns (code, text)."""
        first = self._line()
        if len(first) < 3 or not first[:3].isdigit():
            raise SessionError("bad_reply")
        code = int(first[:3])
        text = [first]
        if len(first) > 3 and first[3] == "-":
            end = first[:3] + " "
            while True:
                line = self._line()
                text.append(line)
                if line.startswith(end):
                    break
        return code, "\n".join(text)

    def expect(self, step, *codes):
        code, text = self.reply()
        if code not in codes:
            raise SessionError(f"{step}_reply_{code}")
        return code, text

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class PortAllocator:
    def __init__(self, spec):
        self.lock = threading.Lock()
        self.next = self.hi = None
        self.exhausted = False
        if spec:
            lo, hi = (int(x) for x in spec.split(":"))
            if not 1024 <= lo <= hi <= 65535:
                raise ValueError("--data-ports LO:HI with 1024 <= LO <= HI <= 65535")
            self.next, self.hi = lo, hi

    def listen(self, addr, timeout):
        """A listening socket on addr: the next port of the range, or a kernel-chosen one."""
        while True:
            port = 0
            if self.next is not None:
                with self.lock:
                    if self.next <= self.hi:
                        port = self.next
                        self.next += 1
                    else:
                        self.exhausted = True
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((addr, port))
            except OSError:
                s.close()
                if port == 0:
                    raise SessionError("listen_failed")
                continue  # in use (or otherwise unbindable): take the next one
            s.listen(1)
            s.settimeout(timeout)
            return s


def session(args, ports):
    """One session; returns (PORT round trip, NOOP round trip) in ns. Raises SessionError."""
    ctl = None
    lsock = data = None
    step = "connect"
    try:
        try:
            ctl = Control(args.host, args.port, args.timeout)
            step = "banner"
            ctl.expect("banner", 220)
            step = "user"
            ctl.send("USER " + args.user)
            code, _ = ctl.expect("user", 230, 331)
            if code == 331:
                step = "pass"
                ctl.send("PASS " + args.password)
                ctl.expect("pass", 230)
            step = "listen"
            local = ctl.sock.getsockname()[0]
            lsock = ports.listen(local, args.timeout)
            p = lsock.getsockname()[1]
            step = "noop"
            t0 = time.perf_counter_ns()
            ctl.send("NOOP")
            code, _ = ctl.reply()
            noop_rtt = time.perf_counter_ns() - t0
            if code != 200:
                raise SessionError(f"noop_reply_{code}")
            line = "PORT %s,%d,%d" % (local.replace(".", ","), p >> 8, p & 0xFF)
            step = "port"
            t0 = time.perf_counter_ns()
            ctl.send(line)
            code, _ = ctl.reply()
            rtt = time.perf_counter_ns() - t0
            if code != 200:
                raise SessionError(f"port_reply_{code}")
            step = "list"
            ctl.send("LIST " + args.dir)
            # vsftpd connects before it sends 150 (the backlog holds the connection); a server
            # that sends 150 first is fine too: accept() waits.
            ctl.expect("list", 150, 125)
            step = "accept"
            data, _ = lsock.accept()
            data.settimeout(args.timeout)
            step = "data"
            listing = b""
            while True:
                chunk = data.recv(65536)
                if not chunk:
                    break
                listing += chunk
            data.close()
            data = None
            step = "list_done"
            ctl.expect("list_done", 226, 250)
            if args.expect and args.expect.encode() not in listing:
                raise SessionError("listing_incomplete")
            step = "quit"
            ctl.send("QUIT")
            ctl.expect("quit", 221)
            return rtt, noop_rtt
        except socket.timeout:
            raise SessionError(f"{step}_timeout")
        except ConnectionError as e:
            raise SessionError(f"{step}_{type(e).__name__}")
        except OSError as e:
            raise SessionError(f"{step}_oserror_{e.errno}")
    finally:
        for s in (data, lsock):
            if s is not None:
                s.close()
        if ctl is not None:
            ctl.close()


def run(args, ports, count, concurrency):
    """Runs count sessions on concurrency threads; returns ((port, noop) rtts_ns, errors, wall_s)."""
    lock = threading.Lock()
    state = {"left": count}
    rtts, errors = [], {}  # rtts: (port_ns, noop_ns) per ok session

    def worker():
        while True:
            with lock:
                if state["left"] == 0:
                    return
                state["left"] -= 1
            try:
                rtt = session(args, ports)
                with lock:
                    rtts.append(rtt)
            except SessionError as e:
                with lock:
                    errors[e.reason] = errors.get(e.reason, 0) + 1
            except Exception as e:  # a bug in the driver still counts as a failed session
                with lock:
                    key = "driver_" + type(e).__name__
                    errors[key] = errors.get(key, 0) + 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, concurrency))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return rtts, errors, time.perf_counter() - t0


def percentile(sorted_values, q):
    """Nearest-rank percentile (q in 0..100) of a sorted list."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil(n*q/100)
    return sorted_values[int(rank) - 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=21)
    ap.add_argument("--user", default="anonymous")
    ap.add_argument("--password", default="lab@example.com")
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=0, help="untimed sessions first (one client)")
    ap.add_argument("--dir", default="/pub/notes", help="the directory to LIST")
    ap.add_argument("--expect", default="readme.txt", help="a name the listing must contain")
    ap.add_argument("--data-ports", help="LO:HI: give each session the next port of this range")
    ap.add_argument("--timeout", type=float, default=10.0, help="per-step timeout, seconds")
    ap.add_argument("--rtt-out", help="also write every timed PORT round trip (us), one a line")
    args = ap.parse_args()
    if args.sessions < 1 or args.concurrency < 1 or args.warmup < 0:
        ap.error("--sessions and --concurrency must be >= 1, --warmup >= 0")
    try:
        ports = PortAllocator(args.data_ports)
    except ValueError as e:
        ap.error(str(e))

    _, warm_errors, _ = run(args, ports, args.warmup, 1) if args.warmup else ([], {}, 0)
    rtts, errors, wall = run(args, ports, args.sessions, args.concurrency)
    for k, v in warm_errors.items():
        errors["warmup_" + k] = errors.get("warmup_" + k, 0) + v
    warm_failed = sum(warm_errors.values())
    ok = len(rtts)
    us = sorted(r[0] / 1000.0 for r in rtts)
    noop_us = sorted(r[1] / 1000.0 for r in rtts)

    def summary(values):
        return {
            "n": len(values),
            "p50": round(percentile(values, 50), 1) if values else None,
            "p99": round(percentile(values, 99), 1) if values else None,
            "mean": round(sum(values) / len(values), 1) if values else None,
            "min": round(values[0], 1) if values else None,
            "max": round(values[-1], 1) if values else None,
        }
    out = {
        "sessions": args.sessions,
        "concurrency": args.concurrency,
        "ok": ok,
        "failed": args.sessions - ok,
        "warmup": args.warmup,
        "warmup_failed": warm_failed,
        "wall_s": round(wall, 4),
        "sessions_per_s": round(ok / wall, 2) if wall > 0 else 0.0,
        "port_rtt_us": summary(us),
        "noop_rtt_us": summary(noop_us),
        "data_ports_exhausted": ports.exhausted,
        "errors": errors,
    }
    if args.rtt_out:
        with open(args.rtt_out, "w") as f:
            f.writelines(f"{u:.1f}\n" for u in us)
        with open(args.rtt_out + ".noop", "w") as f:
            f.writelines(f"{u:.1f}\n" for u in noop_us)
    print(json.dumps(out))
    return 0 if out["failed"] == 0 and warm_failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
