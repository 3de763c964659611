#!/usr/bin/python3
"""FTP client of the HA lab (docs/ha.md): ONE control connection through a failover.

  --scenario retr (active, or passive with --passive):
     1. RETR big.bin, recording every gap longer than 0.1 s between received chunks (the
        failover happens during it; --progress gets the byte count every MiB);
     2. NOOP, PWD, SYST, SIZE small.bin on the same control connection;
     3. a second PORT/PASV + RETR small.bin (through the new master);
     4. with --then FILE: creates FILE.waiting, waits for FILE (the fail-back), then NOOP and a
        third PORT/PASV + RETR small.bin.
  --scenario pending (active): PORT (the pinhole is made on the master), creates FILE.port-sent,
     waits for --then FILE (the failover), then RETR small.bin: the server dials the new master.

Every announcement the client sent or received (PORT arguments, 227 replies) is recorded, so the
caller can check what the routers rewrote. Writes a JSON result to --result; exit 0 when every
transfer's sha256 matched.
"""
import argparse
import ftplib
import hashlib
import json
import os
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--server", required=True)
ap.add_argument("--scenario", choices=("retr", "pending"), required=True)
ap.add_argument("--passive", action="store_true")
ap.add_argument("--progress", required=True)
ap.add_argument("--result", required=True)
ap.add_argument("--sha", required=True, help="sha256sum output of the server's files")
ap.add_argument("--then", default=None)
ap.add_argument("--timeout", type=float, default=20.0)
args = ap.parse_args()

want = {}
with open(args.sha) as f:
    for line in f:
        digest, name = line.split()
        want[name] = digest

res = {"phases": [], "announcements": [], "ok": False}


def log(msg):
    print(f"{time.time():.3f} {msg}", flush=True)


def wait_for(path):
    open(path + ".waiting", "w").close()
    log("waiting for " + path)
    while not os.path.exists(path):
        time.sleep(0.05)


class RecordingFTP(ftplib.FTP):
    """Records the PORT commands sent and the 227 replies received."""

    def sendport(self, host, port):
        res["announcements"].append({"sent": "PORT", "host": host, "port": port})
        return super().sendport(host, port)

    def makepasv(self):
        resp = self.sendcmd("PASV")
        res["announcements"].append({"received": resp})
        host, port = ftplib.parse227(resp)
        # Connect where the 227 says (ftplib's default would ignore the announced address).
        return host, port


def retr(ftp, name, progress=None, conn=None):
    if conn is None:
        conn = ftp.transfercmd("RETR " + name)
    digest = hashlib.sha256()
    total = 0
    start = last = time.time()
    gaps = []
    next_mark = 0
    while True:
        data = conn.recv(262144)
        if not data:
            break
        now = time.time()
        if now - last > 0.1:
            gaps.append({"at_bytes": total, "gap_s": round(now - last, 3)})
        last = now
        total += len(data)
        digest.update(data)
        if progress and total >= next_mark:
            with open(progress + ".tmp", "w") as f:
                f.write(str(total))
            os.replace(progress + ".tmp", progress)
            next_mark += 1 << 20
    conn.close()
    ok = digest.hexdigest() == want[name]
    phase = {"file": name, "bytes": total, "seconds": round(time.time() - start, 3), "data_sha_ok": ok,
             "max_gap_s": max([g["gap_s"] for g in gaps], default=0.0), "gaps": gaps}
    try:
        phase["reply"] = ftp.voidresp()
    except Exception as e:  # the data arrived; the control connection broke
        phase["reply_error"] = f"{type(e).__name__}: {e}"
        res["phases"].append(phase)
        raise
    phase["sha_ok"] = ok
    log(f"RETR {name}: {total} bytes in {phase['seconds']:.2f}s sha_ok={ok} reply={phase['reply']!r}")
    return phase


try:
    ftp = RecordingFTP()
    ftp.connect(args.server, 21, timeout=args.timeout)
    ftp.login()
    ftp.set_pasv(args.passive)
    ftp.voidcmd("TYPE I")
    if args.scenario == "retr":
        res["phases"].append(retr(ftp, "big.bin", progress=args.progress))
        res["phases"].append({"commands": {c: ftp.sendcmd(c) for c in ("NOOP", "PWD", "SYST", "SIZE small.bin")}})
        res["phases"].append(retr(ftp, "small.bin"))
        if args.then:
            wait_for(args.then)
            res["phases"].append({"commands": {"NOOP": ftp.sendcmd("NOOP")}})
            res["phases"].append(retr(ftp, "small.bin"))
    else:
        listener = ftp.makeport()  # sends PORT: the master makes the pinhole
        open(args.then + ".port-sent", "w").close()
        log("PORT sent")
        while not os.path.exists(args.then):
            time.sleep(0.05)
        reply = ftp.sendcmd("RETR small.bin")
        if not reply.startswith("1"):
            raise ftplib.error_reply(reply)
        listener.settimeout(args.timeout)
        conn, _ = listener.accept()
        listener.close()
        res["phases"].append(retr(ftp, "small.bin", conn=conn))
    res["quit"] = ftp.quit()
    res["ok"] = all(p.get("sha_ok", True) and "reply_error" not in p for p in res["phases"])
except Exception as e:  # reported in the result, never hidden
    res["error"] = f"{type(e).__name__}: {e}"
    log("ERROR " + res["error"])
with open(args.result, "w") as f:
    json.dump(res, f, indent=1)
sys.exit(0 if res["ok"] else 1)
