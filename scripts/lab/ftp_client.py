#!/usr/bin/python3
"""ftpalg lab: an FTP session with Python's ftplib, forcing one data-connection verb.

  --mode port|eprt|pasv|epsv   PORT / EPRT (active, set_pasv(False)); PASV / EPSV (passive)
  --list DIR --list-out FILE   LIST DIR into FILE
  --get PATH --get-out FILE    RETR PATH into FILE
  --big PATH --big-sha HEX     RETR PATH (verified by sha256, not stored) before the rest
  --extra-commands N           after the transfers, N more commands on the same control
                               connection (NOOP/PWD/TYPE/SIZE/CWD/STAT/MDTM and, every tenth, a
                               LIST through a new data connection), each reply checked
  --transcript FILE            "> CMD" / "< NNN text" lines (PASS masked)
Exit status 0 only if every step succeeded.
"""
import argparse
import ftplib
import hashlib
import socket
import sys
import time


class LabFTP(ftplib.FTP):
    def __init__(self, verb, transcript, *a, **kw):
        self.verb = verb
        self.transcript = transcript
        super().__init__(*a, **kw)

    def _t(self, line):
        if self.transcript:
            self.transcript.write(line + "\n")
            self.transcript.flush()

    def putline(self, line):
        self._t("> " + ("PASS ****" if line.upper().startswith("PASS ") else line))
        super().putline(line)

    def getline(self):
        line = super().getline()
        self._t("< " + line)
        return line

    def makeport(self):
        # As ftplib.FTP.makeport, but the verb is chosen by --mode, not by the address family.
        sock = socket.create_server(("", 0), family=self.af, backlog=1)
        port = sock.getsockname()[1]
        host = self.sock.getsockname()[0]
        if self.verb == "PORT":
            self.sendport(host, port)
        else:
            self.sendeprt(host, port)
        if self.timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
            sock.settimeout(self.timeout)
        return sock

    def makepasv(self):
        # As ftplib: PASV's address is not trusted (ftplib connects to the control peer).
        peer = self.sock.getpeername()
        if self.verb == "PASV":
            untrusted_host, port = ftplib.parse227(self.sendcmd("PASV"))
            host = untrusted_host if self.trust_server_pasv_ipv4_address else peer[0]
        else:
            host, port = ftplib.parse229(self.sendcmd("EPSV"), peer)
        return host, port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=21)
    ap.add_argument("--user", default="anonymous")
    ap.add_argument("--password", default="lab@example.com")
    ap.add_argument("--mode", choices=["port", "eprt", "pasv", "epsv"], required=True)
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--list")
    ap.add_argument("--list-out")
    ap.add_argument("--get")
    ap.add_argument("--get-out")
    ap.add_argument("--big")
    ap.add_argument("--big-sha")
    ap.add_argument("--extra-commands", type=int, default=0)
    ap.add_argument("--transcript")
    args = ap.parse_args()

    tr = open(args.transcript, "w") if args.transcript else None
    ftp = LabFTP(args.mode.upper(), tr, timeout=args.timeout)
    ok = True
    t0 = time.monotonic()
    try:
        ftp.connect(args.host, args.port)
        ftp.login(args.user, args.password)
        ftp.set_pasv(args.mode in ("pasv", "epsv"))
        ftp.voidcmd("TYPE I")
        if args.big:
            h = hashlib.sha256()
            n = 0

            def take(b):
                nonlocal n
                h.update(b)
                n += len(b)

            ftp.retrbinary("RETR " + args.big, take, blocksize=65536)
            good = h.hexdigest() == (args.big_sha or h.hexdigest())
            print(f"big: {n} bytes sha256={h.hexdigest()} {'ok' if good else 'MISMATCH'}"
                  f" in {time.monotonic() - t0:.1f}s")
            ok &= good
        if args.list:
            lines = []
            ftp.retrlines("LIST " + args.list, lines.append)
            if args.list_out:
                with open(args.list_out, "w") as f:
                    f.write("\n".join(lines) + "\n")
        if args.get:
            with open(args.get_out or "/dev/null", "wb") as f:
                ftp.retrbinary("RETR " + args.get, f.write, blocksize=65536)
        if args.extra_commands:
            simple = ["NOOP", "PWD", "TYPE I", "SYST", "SIZE /pub/test.bin", "CWD /pub",
                      "CWD /", "MDTM /pub/test.bin", "NOOP"]
            done = 0
            i = 0
            while done < args.extra_commands:
                if i % 10 == 9:
                    lines = []
                    ftp.retrlines("LIST /pub", lines.append)  # PORT/EPRT|PASV/EPSV + LIST
                    if not any("test.bin" in l for l in lines):
                        print("extra LIST did not name test.bin")
                        ok = False
                    done += 2
                else:
                    resp = ftp.sendcmd(simple[i % len(simple)])
                    if not resp[:1] in ("2",):
                        print(f"unexpected reply {resp!r}")
                        ok = False
                    done += 1
                i += 1
            print(f"extra: {done} commands after the transfers")
        ftp.quit()
    except (ftplib.all_errors) as e:
        print(f"ftplib error: {type(e).__name__}: {e}")
        ok = False
        try:
            ftp.close()
        except Exception:
            pass
    finally:
        if tr:
            tr.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
