"""ftpgen: deterministic FTP control sessions as pcap fixtures.

Builds complete TCP conversations (handshake, FTP greeting and login, commands and replies, FIN)
with explicit control over segmentation, ordering and retransmission, and writes them as
classic pcap (micro- or nanosecond) or pcapng with a chosen link type.

Determinism: fixed timestamps (BASE_NS plus 1 ms per packet unless advanced explicitly), fixed
ISNs, fixed IP ids, fixed MAC addresses, fixed TCP options. Running a generator twice writes
byte-identical files. Scapy builds the IP/TCP headers and checksums; the link layers and the
capture file formats are written here, byte by byte, so every link type is exact.

The capture models one observation point of the router (for example its inside interface) in a
session where nothing rewrote anything: every receiver acknowledges exactly the bytes its peer
sent. That is what `ftpalg replay` expects as input.

Run generators with /usr/bin/python3 (Debian's python3-scapy).
"""

import os
import struct

from decisions import validate as validate_decisions
from decisions import write as write_decisions
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6

BASE_NS = 1_700_000_000 * 1_000_000_000  # 2023-11-14T22:13:20Z
STEP_NS = 1_000_000                       # 1 ms between consecutive packets

# Link types (LINKTYPE_* values written in the capture file header).
LINK_ETHERNET = 1
LINK_RAW = 101
LINK_SLL = 113
LINK_SLL2 = 276

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD

# Fixed MAC addresses: the host on the capture side and the router's interface.
MAC_HOST = bytes.fromhex("020000007710")
MAC_ROUTER = bytes.fromhex("020000007701")

FIXTURES_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


class Capture:
    """An ordered list of (timestamp_ns, link_header, ip_bytes, captured_length) records."""

    def __init__(self, link="ethernet", vlan_ids=(), file_format="pcap-us"):
        # link: "ethernet" (optionally with 802.1Q/802.1ad tags, outermost first in vlan_ids;
        # a tag given as (tpid, vid) picks its TPID), "sll", "sll2" or "raw".
        # file_format: "pcap-us", "pcap-ns" or "pcapng".
        self.link = link
        self.vlan_ids = tuple(vlan_ids)
        self.file_format = file_format
        self.now_ns = BASE_NS
        self.records = []

    def advance(self, seconds):
        """Moves the clock forward (idle time, timeouts)."""
        self.now_ns += int(round(seconds * 1_000_000_000))

    def link_type(self):
        return {"ethernet": LINK_ETHERNET, "sll": LINK_SLL, "sll2": LINK_SLL2, "raw": LINK_RAW}[self.link]

    def _link_header(self, ip_bytes, outgoing):
        ethertype = ETHERTYPE_IPV6 if (ip_bytes[0] >> 4) == 6 else ETHERTYPE_IPV4
        if self.link == "raw":
            return b""
        if self.link == "ethernet":
            dst, src = (MAC_HOST, MAC_ROUTER) if outgoing else (MAC_ROUTER, MAC_HOST)
            header = dst + src
            for index, tag in enumerate(self.vlan_ids):
                tpid, vid = tag if isinstance(tag, tuple) else ((0x88A8 if index == 0 and len(self.vlan_ids) > 1 else 0x8100), tag)
                header += struct.pack("!HH", tpid, vid & 0x0FFF)
            return header + struct.pack("!H", ethertype)
        source_mac = MAC_ROUTER if outgoing else MAC_HOST
        packet_type = 4 if outgoing else 0  # PACKET_OUTGOING / PACKET_HOST
        if self.link == "sll":
            return struct.pack("!HHH", packet_type, 1, 6) + source_mac + b"\x00\x00" + struct.pack("!H", ethertype)
        if self.link == "sll2":
            return struct.pack("!HHIHBB", ethertype, 0, 3, 1, packet_type, 6) + source_mac + b"\x00\x00"
        raise ValueError(self.link)

    def add(self, ip_bytes, outgoing=False, snap=None):
        """Appends one packet; `snap` cuts the record to that many link-layer bytes (caplen < len)."""
        self.now_ns += STEP_NS
        header = self._link_header(ip_bytes, outgoing)
        self.records.append((self.now_ns, header, bytes(ip_bytes), snap))

    # ---- file formats ---------------------------------------------------------------------

    def write(self, path):
        with open(path, "wb") as out:
            if self.file_format == "pcapng":
                self._write_pcapng(out)
            else:
                self._write_pcap(out, nano=self.file_format == "pcap-ns")

    def _write_pcap(self, out, nano):
        magic = 0xA1B23C4D if nano else 0xA1B2C3D4
        out.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 262144, self.link_type()))
        for ts_ns, header, ip_bytes, snap in self.records:
            frame = header + ip_bytes
            captured = frame if snap is None else frame[:snap]
            seconds, fraction = divmod(ts_ns, 1_000_000_000)
            sub = fraction if nano else fraction // 1000
            out.write(struct.pack("<IIII", seconds, sub, len(captured), len(frame)))
            out.write(captured)

    def _write_pcapng(self, out):
        def block(block_type, body):
            body += b"\x00" * (-len(body) % 4)
            length = 12 + len(body)
            return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)

        section = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
        out.write(block(0x0A0D0D0A, section))
        # Interface: link type, snaplen, option if_tsresol (9) = 9 (nanoseconds), end of options.
        options = struct.pack("<HHB", 9, 1, 9) + b"\x00" * 3 + struct.pack("<HH", 0, 0)
        out.write(block(0x00000001, struct.pack("<HHI", self.link_type(), 0, 262144) + options))
        for ts_ns, header, ip_bytes, snap in self.records:
            frame = header + ip_bytes
            captured = frame if snap is None else frame[:snap]
            body = struct.pack("<IIIII", 0, ts_ns >> 32, ts_ns & 0xFFFFFFFF, len(captured), len(frame))
            out.write(block(0x00000006, body + captured))


def _is_v6(address):
    return ":" in address


class Flow:
    """One TCP connection between `client` and `server` ((address, port) tuples), as captured.

    Sequence numbers: each side starts at its ISN; `sent[side]` counts payload bytes sent, so the
    next byte's sequence number is (isn + 1 + sent) mod 2**32. Receivers acknowledge everything
    their peer has sent so far (the capture shows a session without any rewriting).
    """

    CLIENT = 0
    SERVER = 1

    def __init__(self, capture, client, server, client_isn=0x1000_0000, server_isn=0x2000_0000,
                 client_mss=1460, server_mss=1460, client_outgoing=False, ip_id=1):
        self.capture = capture
        self.endpoints = (client, server)
        self.isn = [client_isn, server_isn]
        self.mss = [client_mss, server_mss]
        self.sent = [0, 0]
        self.fin_sent = [False, False]
        # Whether packets from the client leave the capture interface towards the host side
        # (only affects link-layer direction fields).
        self.client_outgoing = client_outgoing
        self.ip_id = ip_id
        self.window = 64240

    # ---- raw packets ----------------------------------------------------------------------

    def next_seq(self, side):
        return (self.isn[side] + 1 + self.sent[side]) % 2**32

    def ack_for(self, side):
        """The ACK number `side` sends: everything the other side sent (+1 for its FIN)."""
        other = 1 - side
        return (self.isn[other] + 1 + self.sent[other] + (1 if self.fin_sent[other] else 0)) % 2**32

    def packet(self, side, flags, seq=None, ack=None, payload=b"", options=None, snap=None):
        src, dst = self.endpoints[side], self.endpoints[1 - side]
        if seq is None:
            seq = self.next_seq(side)
        if ack is None and "A" in flags:
            ack = self.ack_for(side)
        header = (IPv6(src=src[0], dst=dst[0], hlim=64) if _is_v6(src[0])
                  else IP(src=src[0], dst=dst[0], id=self.ip_id, ttl=64, flags="DF"))
        self.ip_id = (self.ip_id + 1) % 65536
        segment = TCP(sport=src[1], dport=dst[1], seq=seq % 2**32, ack=(ack or 0) % 2**32, flags=flags,
                      window=self.window, options=options or [])
        ip_bytes = bytes(header / segment / payload) if payload else bytes(header / segment)
        outgoing = (side == self.CLIENT) == self.client_outgoing
        self.capture.add(ip_bytes, outgoing=outgoing, snap=snap)
        return ip_bytes

    # ---- connection life ------------------------------------------------------------------

    def handshake(self):
        self.packet(self.CLIENT, "S", seq=self.isn[0], ack=0,
                    options=[("MSS", self.mss[0]), ("NOP", None), ("NOP", None), ("SAckOK", b"")])
        self.packet(self.SERVER, "SA", seq=self.isn[1], ack=(self.isn[0] + 1) % 2**32,
                    options=[("MSS", self.mss[1]), ("NOP", None), ("NOP", None), ("SAckOK", b"")])
        self.packet(self.CLIENT, "A")

    def ack(self, side):
        """A pure ACK from `side`."""
        self.packet(side, "A")

    def send(self, side, data, cuts=(), order=None, ack=True, duplicate=()):
        """Sends `data` (bytes or str) from `side` as segments cut at the byte positions `cuts`.

        order: indexes of the segments in the order they are put on the wire (default: in order).
        duplicate: indexes of segments sent a second time right after the first copy.
        ack: the receiver acknowledges everything afterwards with a pure ACK.
        """
        if isinstance(data, str):
            data = data.encode("latin-1")
        bounds = [0] + sorted(cuts) + [len(data)]
        segments = [(bounds[i], data[bounds[i]:bounds[i + 1]]) for i in range(len(bounds) - 1)]
        start = self.sent[side]
        for index in (order if order is not None else range(len(segments))):
            offset, piece = segments[index]
            for _ in range(2 if index in duplicate else 1):
                self.packet(side, "PA", seq=(self.isn[side] + 1 + start + offset) % 2**32, payload=piece)
        self.sent[side] += len(data)
        if ack:
            self.ack(1 - side)

    def segment_at(self, side, stream_offset, data):
        """A segment at an absolute stream offset of `side` (a retransmission or an overlap);
        does not change what counts as sent."""
        if isinstance(data, str):
            data = data.encode("latin-1")
        return self.packet(side, "PA", seq=(self.isn[side] + 1 + stream_offset) % 2**32, payload=data)

    def client(self, text, **options):
        self.send(self.CLIENT, text, **options)

    def server(self, text, **options):
        self.send(self.SERVER, text, **options)

    def login(self, greeting="220 (vsFTPd 3.0.3)\r\n"):
        self.server(greeting)
        self.client("USER anonymous\r\n")
        self.server("331 Please specify the password.\r\n")
        self.client("PASS guest@example.org\r\n")
        self.server("230 Login successful.\r\n")

    def close(self, quit=True):
        """QUIT/221, then FIN from the client, FIN-ACK from the server, final ACK."""
        if quit:
            self.client("QUIT\r\n")
            self.server("221 Goodbye.\r\n")
        self.packet(self.CLIENT, "FA")
        self.fin_sent[0] = True
        self.packet(self.SERVER, "FA")
        self.fin_sent[1] = True
        self.packet(self.CLIENT, "A")

    def reset(self, side):
        self.packet(side, "RA")


def data_transfer(capture, connector, listener, payload, listener_sends=False, isn=0x3000_0000,
                  peer_isn=0x4000_0000, chunk=1448, ip_id=1000):
    """A complete data connection (not FTP control traffic): `connector` opens it to `listener`;
    the connector (or, with listener_sends, the listener) sends `payload` in segments of `chunk`
    bytes; then both sides close."""
    flow = Flow(capture, connector, listener, client_isn=isn, server_isn=peer_isn, ip_id=ip_id)
    flow.handshake()
    data = payload.encode("latin-1") if isinstance(payload, str) else payload
    side = Flow.SERVER if listener_sends else Flow.CLIENT
    for start in range(0, len(data), chunk):
        flow.send(side, data[start:start + chunk])
    flow.close(quit=False)
    return flow


# ---- fixture registry ---------------------------------------------------------------------

_REGISTRY = []


def fixture(name, readme, flags=(), link="ethernet", vlan_ids=(), file_format="pcap-us", decisions=None):
    """Declares a generated case: `name` (directory under pcap-fixtures/), a one-sentence README
    (what the case proves), the extra replay options, the capture format, and `decisions`: every
    decision the replay must log, stated by the case's author (decisions.py; required, [] when the
    case must log none)."""
    if decisions is None:
        raise ValueError(f"{name}: state the case's decisions (decisions=[...], see decisions.py)")
    def flatten(items):
        for item in items:
            if isinstance(item, list):
                yield from flatten(item)
            else:
                yield item
    flat = list(flatten(decisions))
    validate_decisions(name, flat)

    def register(build):
        _REGISTRY.append(dict(name=name, readme=readme, flags=list(flags), link=link,
                              vlan_ids=vlan_ids, file_format=file_format, build=build,
                              generator=build.__module__, decisions=flat))
        return build
    return register


def case_names():
    """The names of every registered case (of the modules imported so far)."""
    return [case["name"] for case in _REGISTRY]


def write_all(selected=None, generator_file=None):
    """Writes input.pcap, README.md, flags and decisions.jsonl of every registered case (or of
    `selected`)."""
    written = []
    for case in _REGISTRY:
        if selected and case["name"] not in selected:
            continue
        capture = Capture(link=case["link"], vlan_ids=case["vlan_ids"], file_format=case["file_format"])
        case["build"](capture)
        directory = os.path.join(FIXTURES_DIR, case["name"])
        os.makedirs(directory, exist_ok=True)
        capture.write(os.path.join(directory, "input.pcap"))
        script = os.path.basename(generator_file) if generator_file else case["generator"] + ".py"
        with open(os.path.join(directory, "README.md"), "w") as readme:
            readme.write(f"# {case['name']}\n\n{case['readme']}\n\n"
                         f"Generated by `pcap-fixtures/generators/{script}` (scapy), which also states the "
                         f"decisions the replay must log (decisions.jsonl); expected.jsonl by "
                         f"`scripts/update-golden.sh`, checked against them and reviewed.\n")
        with open(os.path.join(directory, "flags"), "w") as flags:
            flags.write("".join(flag + "\n" for flag in case["flags"]))
        write_decisions(os.path.join(directory, "decisions.jsonl"), case["decisions"])
        written.append(case["name"])
    return written


def main(generator_file):
    import sys
    names = write_all(set(sys.argv[1:]) or None, generator_file)
    for name in names:
        print(f"wrote pcap-fixtures/{name}/input.pcap")
