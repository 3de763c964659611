#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: tests/fuzz/corpus/<target>/.

    /usr/bin/python3 tests/fuzz/make-seeds.py          # rewrite every corpus

Seeds are small and deterministic (re-running gives the same files):
  fuzz_address_codec  one file per line: the syntax variants and refusals of docs/adversarial-cases.md
  fuzz_line_framer    7 configuration bytes (see fuzz_line_framer.cpp) + a stream
  fuzz_engine         scripted FTP sessions, encoded for FuzzedDataProvider exactly as
                      fuzz_engine.cpp consumes them (integers from the end, bytes from the front)
  fuzz_pcap_reader    the small link-layer fixtures of pcap-fixtures/ (copied)
A seed that no longer matches the target's consumption order is still a valid input, only a
less useful one: update the encoder below together with fuzz_engine.cpp.
"""

import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def write_corpus(target, seeds):
    directory = os.path.join(CORPUS, target)
    if os.path.isdir(directory):
        shutil.rmtree(directory)
    os.makedirs(directory)
    for name, data in seeds:
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


# --- fuzz_address_codec ---------------------------------------------------------------------------

CODEC_LINES = [
    b"PORT 192,168,77,10,195,80",
    b"port 192,168,077,010,195,080",
    b"Eprt |1|192.168.77.10|50000|",
    b"EPRT |2|2001:db8::10|50000|",
    b"EPRT !1!192.168.77.10!50000!",
    b"EPRT |2|::ffff:192.0.2.1|50000|",
    b"EPRT |2|fe80::1%eth0|50000|",
    b"EPRT |1|192.168.77.10!50000|",
    b"EPRT |3|192.168.77.10|50000|",
    b"EPRT |1|192.168.77.10|70000|",
    b"EPRT |1|192.168.77.10|0|",
    b"227 Entering Passive Mode (203,0,113,10,156,64)",
    b"227 Entering Passive Mode (203,0,113,10,156,64).",
    b"227 Entering passive mode. 203,0,113,10,156,64",
    b"227 =203,0,113,10,156,64",
    b"227 Entering (wrong) Passive Mode (203,0,113,10,156,64)",
    b"227-Entering Passive Mode (203,0,113,10,156,64)",
    b"227 Logout.",
    b"229 Entering Extended Passive Mode (|||6446|)",
    b"229 Entering Extended Passive Mode (!!!6446!)",
    b"229 (|||6446|)",
    b"229 (|||0|)",
    b"229 (|||65536|)",
    b"PORT 192,168,77,10,256,22",
    b"PORT 192,168,77,10,-1,22",
    b"PORT 192,168,77,10,+4,22",
    b"PORT 192,168,77,10,0001,22",
    b"PORT 192,168,77,10,195",
    b"PORT 192,168,77,,195,80",
    b"PORT 192,168,77,10,0,0",
    b"PORT 192,168,77,10,\x00195,80",
    b"P\xff\xf4ORT 192,168,77,10,195,80",
    b"PORT 192,168,77,10,19\xff5,80",
    b"PORT 192,168,77,10,195,80   ",
    b"NOOP PORT 192,168,77,10,195,80",
    b"PASS secret",
    b"pass",
    b"LPRT 4,4,192,168,77,10,2,195,80",
    b"228 Entering Long Passive Mode (4,4,203,0,113,10,2,156,64)",
    b"220 (vsFTPd 3.0.3)",
    b"\\x41\t\x7f\x80",
]


def codec_seeds():
    return [("line-%02d" % i, line) for i, line in enumerate(CODEC_LINES)]


# --- fuzz_line_framer -----------------------------------------------------------------------------

def framer_seed(bare_lf, limit_index, split, start, stream):
    header = bytes([(limit_index << 1) | (1 if bare_lf else 0)]) + struct.pack("<HI", split, start)
    return header + stream


def framer_seeds():
    session = (b"220 (vsFTPd 3.0.3)\r\nUSER anonymous\r\nPORT 192,168,77,10,195,80\r\n"
               b"227 Entering Passive Mode (203,0,113,10,156,64).\r\n")
    return [
        ("crlf", framer_seed(False, 10, 5, 0, session)),
        ("bare-lf", framer_seed(True, 10, 7, 1000, b"USER a\nPASS b\r\nLIST\n\r\r\n")),
        ("split-crlf", framer_seed(False, 10, 7, 0, b"NOOP\r\nTYPE I\r\n")),
        ("overflow", framer_seed(False, 6, 3, 0, b"SITE " + b"a" * 40 + b"\r\nPORT 1,2,3,4,5,6\r\n")),
        ("overflow-no-crlf", framer_seed(False, 7, 9, 0, b"x" * 100)),
        ("limit-exact", framer_seed(False, 3, 2, 0, b"abc\r\nabcd\r\n")),
        ("lone-cr", framer_seed(False, 10, 1, 0xFFFFFFFF, b"a\rb\r\n\r\r\n")),
        ("empty", framer_seed(False, 10, 0, 0, b"")),
    ]


# --- fuzz_engine ----------------------------------------------------------------------------------

class Encoder:
    """Builds input for libFuzzer's FuzzedDataProvider: ConsumeIntegralInRange takes the fewest
    whole bytes that cover the range from the END of the data (the first byte taken is the most
    significant); ConsumeBytes takes bytes from the front."""

    def __init__(self):
        self.front = bytearray()
        self.back = []

    def integral(self, value, low, high, size=8):
        span = high - low
        assert low <= value <= high
        count = 0
        while count < size and (span >> (8 * count)) > 0:
            count += 1
        offset = value - low
        for i in reversed(range(count)):
            self.back.append((offset >> (8 * i)) & 0xFF)

    def boolean(self, value):
        self.integral(1 if value else 0, 0, 255, 1)

    def u8(self, value):
        self.integral(value, 0, 255, 1)

    def u16(self, value):
        self.integral(value, 0, 0xFFFF, 2)

    def u32(self, value):
        self.integral(value, 0, 0xFFFFFFFF, 4)

    def raw(self, data):
        self.front += data

    def data(self):
        return bytes(self.front) + bytes(reversed(self.back))


# Operation numbers of fuzz_engine.cpp Harness::run().
OP_CANNED, OP_RAW, OP_RETRANSMIT, OP_CONFLICT, OP_ACK, OP_SYN, OP_FIN, OP_RST, OP_TIME, OP_RESTART, OP_PACKET = (
    0, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15)

SNAT, DNAT, V6, PLAIN = 0, 1, 2, 3
F_PEER, F_BARE_LF, F_TIGHT, F_MIDSTREAM, F_FLOOR, F_SACK, F_LONG_PINHOLE = 1, 2, 4, 8, 16, 32, 64
M_REVERSE, M_DUPLICATE, M_LOSE_FIRST, M_ACK = 1, 2, 4, 8


class Session:
    def __init__(self, scenario, flags=0, floor=None, client_mss=4, server_mss=4,
                 client_isn=0x11223344, server_isn=0xFFFFF000):
        self.e = Encoder()
        self.flags = flags
        self.e.integral(scenario, 0, 3)
        self.e.u8(flags)
        if flags & F_FLOOR:
            self.e.integral(floor, 0, 2000)
        self.e.integral(client_mss, 0, 4)
        self.e.integral(server_mss, 0, 4)
        self.e.u32(client_isn)
        self.e.u32(server_isn)

    def op(self, number):
        self.e.integral(number, 0, 15)

    def _segments(self, length, cuts, mode, ack_from_client):
        self.e.integral(len(cuts) + 1, 1, 4)
        for cut in cuts:
            self.e.integral(cut, 1, length)
        self.e.u8(mode)
        if mode & M_ACK:
            self._ack_body(ack_from_client, False)

    def send(self, from_client, text, cuts=(), mode=M_ACK):
        """Raw write: the peer appends `text` and sends it cut at `cuts` (then the other peer
        ACKs, with M_ACK)."""
        assert 0 < len(text) <= 700
        self.op(OP_RAW)
        self.e.boolean(from_client)
        self.e.integral(len(text), 0, 700)
        self.e.raw(text)
        self._segments(len(text), list(cuts), mode, not from_client)

    def client(self, text, **kw):
        self.send(True, text, **kw)

    def server(self, text, **kw):
        self.send(False, text, **kw)

    def _ack_body(self, from_client, sack):
        self.e.boolean(from_client)
        if self.flags & F_SACK:
            self.e.boolean(sack)

    def ack(self, from_client, sack=False):
        self.op(OP_ACK)
        self._ack_body(from_client, sack)

    def retransmit(self, from_client, start, length, written):
        self.op(OP_RETRANSMIT)
        self.e.boolean(from_client)
        self.e.integral(start, 0, written - 1)
        self.e.integral(length, 1, min(1400, written - start))

    def conflict(self, from_client, start, text, written):
        self.op(OP_CONFLICT)
        self.e.boolean(from_client)
        self.e.integral(start, 0, written)
        self.e.integral(len(text), 1, 32)
        self.e.raw(text)

    def fin(self, from_client):
        self.op(OP_FIN)
        self.e.boolean(from_client)

    def rst(self, from_client):
        self.op(OP_RST)
        self.e.boolean(from_client)

    def time(self, step):
        """step: 0=1 ms, 1=100 ms, 2=1 s, 3=3.5 s, 4=31 s, 5=301 s, 6=3700 s"""
        self.op(OP_TIME)
        self.e.integral(step, 0, 6)

    def syn(self, from_client, mss=0):
        self.op(OP_SYN)
        self.e.boolean(from_client)
        self.e.integral(mss, 0, 3)

    def login(self):
        self.server(b"220 (vsFTPd 3.0.3)\r\n")
        self.client(b"USER anonymous\r\n")
        self.server(b"331 Please specify the password.\r\n")
        self.client(b"PASS secret\r\n")
        self.server(b"230 Login successful.\r\n")

    def data(self):
        return self.e.data()


def engine_seeds():
    seeds = []

    s = Session(SNAT)
    s.login()
    s.client(b"PORT 192,168,77,10,195,80\r\n")
    s.server(b"200 PORT command successful. Consider using PASV.\r\n")
    s.client(b"LIST\r\n")
    s.server(b"150 Here comes the directory listing.\r\n226 Directory send OK.\r\n")
    s.client(b"QUIT\r\n")
    s.server(b"221 Goodbye.\r\n")
    s.fin(True)
    s.fin(False)
    seeds.append(("active-port-snat", s.data()))

    s = Session(DNAT)
    s.login()
    s.client(b"PASV\r\n")
    s.server(b"227 Entering Passive Mode (192,168,78,10,156,64).\r\n")
    s.client(b"RETR file\r\n")
    s.server(b"150 Opening BINARY mode data connection.\r\n226 Transfer complete.\r\n")
    seeds.append(("passive-227-dnat", s.data()))

    s = Session(DNAT, flags=F_SACK)
    s.login()
    s.client(b"EPSV\r\n")
    s.server(b"229 Entering Extended Passive Mode (|||40005|)\r\n", cuts=[10, 30], mode=M_REVERSE | M_ACK)
    s.ack(True, sack=True)
    seeds.append(("passive-229-reordered-sack", s.data()))

    s = Session(V6)
    s.login()
    s.client(b"EPRT |2|2001:db8:77::10|50010|\r\n")
    s.server(b"200 EPRT command successful.\r\n")
    s.client(b"EPSV\r\n")
    s.server(b"229 Entering Extended Passive Mode (|||40010|)\r\n")
    seeds.append(("v6-eprt-epsv", s.data()))

    s = Session(SNAT, client_mss=1)
    s.login()
    line = b"PORT 192,168,77,10,195,80\r\n"
    s.client(line, cuts=[1, 2, 11])
    s.client(b"EPRT |1|192.168.77.10|50001|\r\n", cuts=[3], mode=M_DUPLICATE | M_ACK)
    s.server(b"200 ok\r\n")
    seeds.append(("split-port-small-mss", s.data()))

    s = Session(SNAT)
    s.login()
    text = b"TYPE I\r\nPORT 192,168,77,10,195,80\r\nLIST\r\n"
    s.client(text, cuts=[10], mode=M_LOSE_FIRST)
    s.retransmit(True, len(b"USER anonymous\r\nPASS secret\r\n"), 10, len(b"USER anonymous\r\nPASS secret\r\n") + len(text))
    s.ack(False)
    seeds.append(("pipelined-lost-segment", s.data()))

    s = Session(SNAT)
    s.login()
    written = len(b"USER anonymous\r\nPASS secret\r\n")
    s.client(b"PORT 192,168,77,10,195,80\r\n", cuts=[12], mode=M_LOSE_FIRST)
    s.conflict(True, written, b"PORT 10,0,0,1,", written + 27)
    s.retransmit(True, written, 12, written + 27)
    seeds.append(("conflicting-retransmission", s.data()))

    s = Session(SNAT)
    s.server(b"220 hi\r\n")
    s.client(b"AUTH TLS\r\n")
    s.server(b"234 Proceed with negotiation.\r\n")
    s.client(b"\x16\x03\x01\x00\x1dPORT 192,168,77,10,195,80\r\n\r\n")
    s.server(b"\x17\x03\x03\x00\x04abcd")
    s.client(b"\x15\x03\x03\x00\x02\x01\x00CCC\r\n")
    s.server(b"\x15\x03\x03\x00\x02\x01\x00200 CCC ok\r\n")
    s.client(b"PORT 192,168,77,10,195,81\r\n")
    seeds.append(("auth-tls-ccc", s.data()))

    s = Session(SNAT)
    s.client(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n\r\n", mode=0)
    s.client(b"PORT 192,168,77,10,195,80\r\n", mode=0)
    s.server(b"220 hello\r\n")
    s.client(b"PORT 192,168,77,10,195,81\r\n")
    seeds.append(("slipstream-http-post", s.data()))

    s = Session(SNAT, flags=F_TIGHT)
    s.login()
    s.client(b"SITE " + b"a" * 60 + b"\r\n")
    s.client(b"PORT 192,168,77,10,195,80\r\n")
    seeds.append(("overlong-line-tight", s.data()))

    s = Session(DNAT)
    s.login()
    s.client(b"PASV\r\n")
    s.server(b"227-Entering Passive Mode (192,168,78,10,156,64)\r\n227-more\r\n227 done\r\n")
    s.client(b"PASV\r\n")
    s.server(b"230-x\r\n227 Entering Passive Mode (192,168,78,10,156,65)\r\n230 end\r\n")
    s.server(b"227 Entering Passive Mode (192,168,78,10,156,66)\r\n")
    seeds.append(("multiline-227", s.data()))

    s = Session(SNAT, flags=F_PEER | F_FLOOR, floor=2000)
    s.login()
    s.client(b"EPSV ALL\r\n")
    s.server(b"200 EPSV ALL ok\r\n")
    s.client(b"PORT 10,9,9,9,195,80\r\n")
    s.client(b"REIN\r\n")
    s.server(b"220 again\r\n")
    s.client(b"PORT 10,9,9,9,7,100\r\n")
    seeds.append(("epsv-all-rein-peer-mode", s.data()))

    s = Session(SNAT, flags=F_LONG_PINHOLE)
    s.login()
    s.client(b"PORT 192,168,77,10,195,80\r\n")
    s.time(4)
    s.client(b"PORT 192,168,77,10,195,")
    s.time(3)
    s.time(5)
    s.time(6)
    s.client(b"81\r\nNOOP\r\n")
    seeds.append(("timers-hold-idle", s.data()))

    s = Session(PLAIN, flags=F_MIDSTREAM)
    s.client(b"PORT 192,0,2,10,195,80\r\n")
    s.server(b"200 ok\r\n")
    seeds.append(("midstream-pickup", s.data()))

    s = Session(SNAT, flags=F_TIGHT | F_BARE_LF, client_isn=0xFFFFFFF0, server_isn=0xFFFFFFFE)
    s.login()
    for port in range(5):
        s.client(b"PORT 192,168,77,10,195,%d\n" % (80 + port))
        s.server(b"200 ok\n")
    s.rst(False)
    seeds.append(("tight-limits-wrap-bare-lf", s.data()))

    s = Session(SNAT)
    s.login()
    s.client(b"PORT 192,168,77,10,195,80\r\n")
    s.syn(False, 1)
    s.rst(True)
    s.op(OP_RESTART)
    s.e.u32(0x01020304)
    s.e.u32(0x0A0B0C0D)
    s.login()
    s.client(b"PORT 192,168,77,10,195,90\r\n")
    seeds.append(("restart-same-tuple", s.data()))
    return seeds


# --- fuzz_pcap_reader -----------------------------------------------------------------------------

def pcap_seeds():
    seeds = []
    fixtures = os.path.join(ROOT, "pcap-fixtures")
    for case in sorted(os.listdir(fixtures)) if os.path.isdir(fixtures) else []:
        if not case.startswith("link-"):
            continue
        for name in ("input.pcap", "input.pcapng"):
            path = os.path.join(fixtures, case, name)
            if os.path.isfile(path) and os.path.getsize(path) <= 8192:
                with open(path, "rb") as f:
                    seeds.append((case + os.path.splitext(name)[1], f.read()))
    # A classic pcap with one tiny raw-IP record, built here.
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)
    packet = bytes([0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2])
    record = struct.pack("<IIII", 1, 0, len(packet), len(packet)) + packet
    seeds.append(("raw-ip-header-only.pcap", header + record))
    return seeds


def main():
    write_corpus("fuzz_address_codec", codec_seeds())
    write_corpus("fuzz_line_framer", framer_seeds())
    write_corpus("fuzz_engine", engine_seeds())
    write_corpus("fuzz_pcap_reader", pcap_seeds())
    for target in sorted(os.listdir(CORPUS)):
        print("%s: %d seeds" % (target, len(os.listdir(os.path.join(CORPUS, target)))))


if __name__ == "__main__":
    main()
