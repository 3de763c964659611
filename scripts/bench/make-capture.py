#!/usr/bin/env python3
"""make-capture.py: a large synthetic FTP capture for benchmarking `ftpalg replay`.

Not a fixture: generated on demand by scripts/bench/replay.sh and never committed. Standard
library only, deterministic for a given seed, and fast (no scapy): every header is packed
with struct from per-connection constants, and the IPv4 and TCP checksums are computed from
precomputed partial sums (the bulk payload's contribution is summed once).

Output: classic pcap, microsecond timestamps, LINKTYPE_ETHERNET (what `ftpalg replay`, tcpdump
and tshark all read). Clock: a 1 Gbit/s line (each frame advances the clock by its wire time).

Two shapes:

  bulk (default)  Sessions are started until about --size MB are written, --concurrency of them
                  open at any time, their packets interleaved at random (packet by packet).
                  Each control session: handshake, 220 banner, USER/331, PASS/230, TYPE I/200,
                  then one transfer (RETR, or LIST) whose data connection carries the bulk
                  data (1448-byte segments, an ACK every second one), 150/226, QUIT/221, FINs.
                  Transfer modes (--mix):
                    port  client 192.168.77.x behind the masquerade: PORT 192,168,77,x,...
                          (rewritten by --snat 192.168.77.0/24=203.0.113.1), server 203.0.113.x
                          connects from port 20;
                    pasv  the same clients, PASV/227 from the outside server (pinhole, no
                          rewrite), the client connects to the announced port;
                    dnat  outside client 198.51.100.x to the port-forwarded server
                          192.168.78.10:21, whose 227 (192,168,78,10,...) is rewritten by
                          --dnat 203.0.113.1:21=192.168.78.10:21.
                  File sizes are log-uniform between 4 KB and --max-file (default 2 MB), so a
                  1 GB capture holds a few thousand sessions.

  scale           --sessions N --concurrent: N control sessions all open at once. Phase 1: each
                  session's handshake and login (banner, USER, PASS, TYPE I). Phase 2, in a
                  shuffled order: PORT/200, LIST/150, a tiny data connection (one listing
                  segment), 226. Phase 3, in another shuffled order: QUIT/221 and FINs. So the
                  engine tracks N sessions (and up to N pinholes) at the peak.

The replay options a capture needs are printed on standard output with the counts, as
"key value" lines: packets, bytes, sessions, expected_rewrites (the PORT and dnat 227 lines,
each of which should be logged as one "rewrite"), replay_options.

Usage:
  make-capture.py OUT.pcap [--size MB] [--concurrency N] [--mix port=60,pasv=25,dnat=15]
                           [--retr-percent 85] [--max-file BYTES] [--seed S]
  make-capture.py OUT.pcap --sessions N --concurrent [--seed S]
"""

import argparse
import math
import random
import struct
import sys
import time

SNAT_OPTION = "--snat 192.168.77.0/24=203.0.113.1"
DNAT_OPTION = "--dnat 203.0.113.1:21=192.168.78.10:21"
REPLAY_OPTIONS = f"{SNAT_OPTION} {DNAT_OPTION}"

MAC_HOST = bytes.fromhex("020000007710")
MAC_ROUTER = bytes.fromhex("020000007701")
ETH_TO_ROUTER = MAC_ROUTER + MAC_HOST + b"\x08\x00"   # sent by a host on the capture side
ETH_FROM_ROUTER = MAC_HOST + MAC_ROUTER + b"\x08\x00"  # sent towards it

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
SYN_OPTIONS = struct.pack("!BBHBBBB", 2, 4, 1460, 1, 1, 4, 2)  # MSS 1460, NOP, NOP, SACK-permitted
WINDOW = 64240
SEGMENT = 1448
BASE_SECONDS = 1_700_000_000
LINE_NS_PER_BYTE = 8  # 1 Gbit/s

HEADER = struct.Struct("!14sBBHHHBBH4s4sHHIIHHHH")  # Ethernet + IPv4 (20) + TCP (20) headers
RECORD = struct.Struct("<IIII")


def ip4(text):
    return bytes(int(part) for part in text.split("."))


def word_sum(data):
    """Sum of the big-endian 16-bit words of `data` (zero-padded), modulo 0xFFFF: the one's
    complement sum up to its final fold (2**16 == 1 modulo 0xFFFF)."""
    if len(data) & 1:
        data += b"\0"
    return int.from_bytes(data, "big") % 0xFFFF


def finish(total):
    """The checksum field for a one's complement sum given modulo 0xFFFF."""
    total %= 0xFFFF
    return 0xFFFF - total if total else 0


class Conn:
    """One TCP connection, side 0 (the connector) and side 1 (the listener). Every receiver
    acknowledges exactly what its peer sent (a capture without any rewriting)."""

    __slots__ = ("nxt", "ipid", "src", "dst", "ports", "eth", "ip_base", "tcp_base", "fin")

    def __init__(self, rng, a_ip, a_port, b_ip, b_port, a_inside=True):
        a, b = ip4(a_ip), ip4(b_ip)
        self.nxt = [rng.getrandbits(32), rng.getrandbits(32)]  # the ISNs until the SYNs are sent
        self.ipid = [rng.getrandbits(16), rng.getrandbits(16)]
        self.src = (a, b)
        self.dst = (b, a)
        self.ports = ((a_port, b_port), (b_port, a_port))
        self.eth = (ETH_TO_ROUTER, ETH_FROM_ROUTER) if a_inside else (ETH_FROM_ROUTER, ETH_TO_ROUTER)
        address_sum = word_sum(a + b)
        # Constant parts of the sums: IPv4 header without total length and id; TCP pseudo-header
        # and header without TCP length, offset/flags, seq, ack and payload.
        self.ip_base = (0x4500 + 0x4000 + (64 << 8 | 6) + address_sum) % 0xFFFF
        self.tcp_base = tuple((address_sum + 6 + sport + dport + WINDOW) % 0xFFFF for sport, dport in self.ports)
        self.fin = [False, False]

    def frame(self, side, flags, payload=b"", payload_sum=None, options=b"", seq=None):
        """One frame from `side`; advances the side's sequence number by the payload (and
        SYN/FIN). `payload_sum` is word_sum(payload), given when precomputed."""
        if seq is None:
            seq = self.nxt[side]
        ack = self.nxt[1 - side] if flags & ACK else 0
        header_length = 20 + len(options)
        tcp_length = header_length + len(payload)
        ip_length = 20 + tcp_length
        ipid = self.ipid[side]
        self.ipid[side] = (ipid + 1) & 0xFFFF
        offset_flags = header_length << 10 | flags
        if payload_sum is None:
            payload_sum = word_sum(payload) if payload else 0
        tcp_sum = (self.tcp_base[side] + tcp_length + offset_flags + (seq >> 16) + (seq & 0xFFFF)
                   + (ack >> 16) + (ack & 0xFFFF) + payload_sum + (word_sum(options) if options else 0))
        sport, dport = self.ports[side]
        header = HEADER.pack(self.eth[side], 0x45, 0, ip_length, ipid, 0x4000, 64, 6,
                             finish(self.ip_base + ip_length + ipid), self.src[side], self.dst[side],
                             sport, dport, seq, ack, offset_flags, WINDOW, finish(tcp_sum), 0)
        advance = len(payload) + (1 if flags & (SYN | FIN) else 0)
        if advance:
            self.nxt[side] = (seq + advance) & 0xFFFFFFFF
        return header + options + payload if (options or payload) else header

    # ---- generators of frames -------------------------------------------------------------

    def handshake(self):
        yield self.frame(0, SYN, options=SYN_OPTIONS)
        yield self.frame(1, SYN | ACK, options=SYN_OPTIONS)
        yield self.frame(0, ACK)

    def say(self, side, line):
        """A line (str) in one segment, then the peer's pure ACK."""
        yield self.frame(side, PSH | ACK, line.encode("latin-1"))
        yield self.frame(1 - side, ACK)

    def close(self, first=0):
        yield self.frame(first, FIN | ACK)
        yield self.frame(1 - first, FIN | ACK)
        yield self.frame(first, ACK)

    def bulk(self, side, size, chunk, chunk_sum):
        """`size` bytes from `side` in full segments of `chunk` (precomputed sum), the peer
        acknowledging every second segment; the fast path of the generator."""
        count, rest = divmod(size, len(chunk))
        # Inline of frame() for full data segments and the receiver's pure ACKs.
        eth, src, dst = self.eth[side], self.src[side], self.dst[side]
        sport, dport = self.ports[side]
        data_length = 40 + len(chunk)
        ip_data = self.ip_base + data_length
        ip_ack = self.ip_base + 40
        offset_flags = 5 << 12 | PSH | ACK
        tcp_data = self.tcp_base[side] + 20 + len(chunk) + offset_flags + chunk_sum
        tcp_ack = self.tcp_base[1 - side] + 20 + (5 << 12 | ACK)
        peer = 1 - side
        nxt = self.nxt
        ipid = self.ipid
        pack = HEADER.pack
        for index in range(count):
            seq, ack = nxt[side], nxt[peer]
            i = ipid[side]
            ipid[side] = (i + 1) & 0xFFFF
            total = tcp_data + (seq >> 16) + (seq & 0xFFFF) + (ack >> 16) + (ack & 0xFFFF)
            ip_total = (ip_data + i) % 0xFFFF
            tcp_total = total % 0xFFFF
            yield pack(eth, 0x45, 0, data_length, i, 0x4000, 64, 6, 0xFFFF - ip_total if ip_total else 0,
                       src, dst, sport, dport, seq, ack, offset_flags, WINDOW,
                       0xFFFF - tcp_total if tcp_total else 0, 0) + chunk
            seq = nxt[side] = (seq + len(chunk)) & 0xFFFFFFFF
            if index & 1:
                i = ipid[peer]
                ipid[peer] = (i + 1) & 0xFFFF
                total = tcp_ack + (ack >> 16) + (ack & 0xFFFF) + (seq >> 16) + (seq & 0xFFFF)
                ip_total = (ip_ack + i) % 0xFFFF
                tcp_total = total % 0xFFFF
                yield pack(self.eth[peer], 0x45, 0, 40, i, 0x4000, 64, 6, 0xFFFF - ip_total if ip_total else 0,
                           dst, src, dport, sport, ack, seq, 5 << 12 | ACK, WINDOW,
                           0xFFFF - tcp_total if tcp_total else 0, 0)
        if rest:
            yield self.frame(side, PSH | ACK, chunk[:rest])
        if count & 1 or rest:
            yield self.frame(peer, ACK)


def port_argument(ip, port):
    return ",".join(ip.split(".")) + f",{port >> 8},{port & 0xFF}"


class Addresses:
    """Endpoints for session number k: no control 4-tuple is reused in one capture (up to 6.25M
    sessions), and the data ports announced to one server differ (up to 1.18M sessions), as
    real clients' ephemeral ports would: every client is masqueraded to the one address
    203.0.113.1, whose pinholes need a free public port per server (the engine probes only a
    few ports above the announced one)."""

    @staticmethod
    def data_port(k):
        return 36000 + (k // 40) % 29500  # 40 servers: k % 40 picks the server

    @staticmethod
    def inside_client(k):
        return f"192.168.77.{1 + k % 250}", 10000 + (k // 250) % 25000, Addresses.data_port(k)

    @staticmethod
    def outside_client(k):
        return f"198.51.100.{1 + k % 250}", 10000 + (k // 250) % 25000, Addresses.data_port(k)

    @staticmethod
    def outside_server(k):
        return f"203.0.113.{10 + k % 40}"


LOGIN = ("220 (vsFTPd 3.0.3)\r\n", "USER anonymous\r\n", "331 Please specify the password.\r\n",
         "PASS guest@example.org\r\n", "230 Login successful.\r\n", "TYPE I\r\n", "200 Switching to Binary mode.\r\n")


def login(conn):
    side = 1
    for line in LOGIN:
        yield from conn.say(side, line)
        side = 1 - side


class Generator:
    def __init__(self, out, seed, max_file=2_000_000):
        self.out = out
        self.rng = random.Random(seed)
        self.now_ns = 0
        self.packets = 0
        self.bytes = 24
        self.sessions = 0
        self.expected_rewrites = 0
        self.max_file = max_file
        self.chunk = self.rng.randbytes(SEGMENT)
        self.chunk_sum = word_sum(self.chunk)
        self.listing_line = "-rw-r--r--    1 ftp      ftp       {:>9} Nov 14 22:13 file{:06d}.bin\r\n"
        self.pending = []
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))

    def emit(self, frame):
        length = len(frame)
        self.now_ns += (length + 24) * LINE_NS_PER_BYTE  # + preamble, FCS, inter-frame gap
        seconds, ns = divmod(self.now_ns, 1_000_000_000)
        pending = self.pending
        pending.append(RECORD.pack(BASE_SECONDS + seconds, ns // 1000, length, length))
        pending.append(frame)
        self.packets += 1
        self.bytes += 16 + length
        if len(pending) >= 8192:
            self.flush()

    def flush(self):
        self.out.write(b"".join(self.pending))
        self.pending.clear()

    def listing(self, k, lines):
        return "".join(self.listing_line.format(4096 * (i + 1), k * 1000 + i) for i in range(lines)).encode()

    # ---- bulk mode ------------------------------------------------------------------------

    def data(self, conn, side, size, k, retr):
        """The data connection of a transfer: its bytes from `side`, then the close (the
        sender closes first)."""
        yield from conn.handshake()
        if retr:
            yield from conn.bulk(side, size, self.chunk, self.chunk_sum)
        else:
            listing = self.listing(k, max(1, size // 70))
            for start in range(0, len(listing), SEGMENT):
                yield from conn.say(side, listing[start:start + SEGMENT].decode())
        yield from conn.close(first=side)

    def session(self, k, mode, retr, size):
        rng = self.rng
        if mode == "dnat":
            client_ip, client_port, data_port = Addresses.outside_client(k)
            server_ip = "192.168.78.10"
        else:
            client_ip, client_port, data_port = Addresses.inside_client(k)
            server_ip = Addresses.outside_server(k)
        control = Conn(rng, client_ip, client_port, server_ip, 21, a_inside=mode != "dnat")
        yield from control.handshake()
        yield from login(control)
        command = f"RETR file{k:06d}.bin\r\n" if retr else "LIST\r\n"
        if mode == "port":
            yield from control.say(0, f"PORT {port_argument(client_ip, data_port)}\r\n")
            yield from control.say(1, "200 PORT command successful. Consider using PASV.\r\n")
            self.expected_rewrites += 1
            data = Conn(rng, server_ip, 20, client_ip, data_port, a_inside=False)
            sender = 0
        else:
            passive_port = 30000 + rng.randrange(30000)
            yield from control.say(0, "PASV\r\n")
            yield from control.say(1, f"227 Entering Passive Mode ({port_argument(server_ip, passive_port)}).\r\n")
            if mode == "dnat":
                self.expected_rewrites += 1
            data = Conn(rng, client_ip, data_port, server_ip, passive_port, a_inside=mode != "dnat")
            sender = 1
        yield from control.say(0, command)
        if retr:
            yield from control.say(1, f"150 Opening BINARY mode data connection for file{k:06d}.bin ({size} bytes).\r\n")
        else:
            yield from control.say(1, "150 Here comes the directory listing.\r\n")
        yield from self.data(data, sender, size, k, retr)
        yield from control.say(1, "226 Transfer complete.\r\n")
        yield from control.say(0, "QUIT\r\n")
        yield from control.say(1, "221 Goodbye.\r\n")
        yield from control.close(first=0)

    def bulk_mode(self, target_bytes, concurrency, mix, retr_percent):
        rng = self.rng
        modes, weights = zip(*mix.items())
        log_min, log_max = math.log(4096), math.log(self.max_file)
        active = []
        planned = 0  # bytes the active sessions are still expected to write
        estimates = []
        k = 0
        while True:
            while len(active) < concurrency and self.bytes + planned < target_bytes:
                mode = rng.choices(modes, weights)[0]
                retr = rng.random() * 100 < retr_percent
                size = int(math.exp(rng.uniform(log_min, log_max))) if retr else rng.randrange(500, 20000)
                estimate = size * 1.06 + 3000
                active.append(self.session(k, mode, retr, size))
                estimates.append(estimate)
                planned += estimate
                k += 1
                self.sessions += 1
            if not active:
                break
            index = int(rng.random() * len(active))
            frame = next(active[index], None)
            if frame is None:
                planned -= estimates[index]
                active[index] = active[-1]
                estimates[index] = estimates[-1]
                active.pop()
                estimates.pop()
                continue
            self.emit(frame)
        self.flush()

    # ---- scale mode -----------------------------------------------------------------------

    def scale_mode(self, count):
        rng = self.rng
        controls = []
        for k in range(count):
            client_ip, client_port, _ = Addresses.inside_client(k)
            control = Conn(rng, client_ip, client_port, Addresses.outside_server(k), 21)
            controls.append(control)
            for frame in control.handshake():
                self.emit(frame)
            for frame in login(control):
                self.emit(frame)
        self.sessions = count
        order = list(range(count))
        rng.shuffle(order)
        for k in order:
            control = controls[k]
            client_ip, _, data_port = Addresses.inside_client(k)
            server_ip = Addresses.outside_server(k)
            steps = [control.say(0, f"PORT {port_argument(client_ip, data_port)}\r\n"),
                     control.say(1, "200 PORT command successful. Consider using PASV.\r\n"),
                     control.say(0, "LIST\r\n"),
                     control.say(1, "150 Here comes the directory listing.\r\n"),
                     self.data(Conn(rng, server_ip, 20, client_ip, data_port, a_inside=False), 0, 70, k, False),
                     control.say(1, "226 Directory send OK.\r\n")]
            for step in steps:
                for frame in step:
                    self.emit(frame)
            self.expected_rewrites += 1
        rng.shuffle(order)
        for k in order:
            control = controls[k]
            for step in (control.say(0, "QUIT\r\n"), control.say(1, "221 Goodbye.\r\n"), control.close(first=0)):
                for frame in step:
                    self.emit(frame)
        self.flush()


def parse_mix(text):
    mix = {}
    for item in text.split(","):
        name, _, weight = item.partition("=")
        if name not in ("port", "pasv", "dnat") or not weight.isdigit():
            raise argparse.ArgumentTypeError(f"bad --mix item {item!r} (want port=N,pasv=N,dnat=N)")
        mix[name] = int(weight)
    if not any(mix.values()):
        raise argparse.ArgumentTypeError("--mix: all weights are zero")
    return mix


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", help="pcap file to write")
    parser.add_argument("--size", type=float, default=1000, help="bulk mode: about this many MB (default 1000)")
    parser.add_argument("--concurrency", type=int, default=400, help="bulk mode: sessions open at once (default 400)")
    parser.add_argument("--mix", type=parse_mix, default=parse_mix("port=60,pasv=25,dnat=15"),
                        help="bulk mode: transfer modes and weights (default port=60,pasv=25,dnat=15)")
    parser.add_argument("--retr-percent", type=float, default=85, help="bulk mode: RETR share, the rest LIST (default 85)")
    parser.add_argument("--max-file", type=int, default=2_000_000, help="bulk mode: largest RETR in bytes (default 2000000)")
    parser.add_argument("--sessions", type=int, help="scale mode: number of concurrent control sessions")
    parser.add_argument("--concurrent", action="store_true", help="scale mode: all --sessions open at once")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.concurrent != (args.sessions is not None):
        parser.error("scale mode takes both --sessions N and --concurrent")
    if args.sessions is not None and not 1 <= args.sessions <= 6_000_000:
        parser.error("--sessions: 1 to 6000000")
    if args.max_file < 4096:
        parser.error("--max-file: at least 4096")

    started = time.monotonic()
    with open(args.output, "wb", buffering=1 << 20) as out:
        generator = Generator(out, args.seed, args.max_file)
        if args.concurrent:
            generator.scale_mode(args.sessions)
        else:
            generator.bulk_mode(int(args.size * 1_000_000), max(1, args.concurrency), args.mix, args.retr_percent)
    elapsed = time.monotonic() - started
    print(f"packets {generator.packets}")
    print(f"bytes {generator.bytes}")
    print(f"sessions {generator.sessions}")
    print(f"expected_rewrites {generator.expected_rewrites}")
    print(f"replay_options {REPLAY_OPTIONS}")
    print(f"make-capture: {args.output}: {generator.bytes / 1e6:.1f} MB, {generator.packets} packets, "
          f"{generator.sessions} sessions in {elapsed:.1f} s ({generator.bytes / 1e6 / elapsed:.0f} MB/s)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
