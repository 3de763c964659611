"""Writes a large capture of mostly FTP data traffic, for measuring `ftpalg replay` (not a
fixture: it is generated on demand by scripts/bench-replay.sh and never committed).

Shape: one control session (login, PORT, RETR) whose data connection carries SIZE_MB megabytes
in 1448-byte segments with an ACK every second segment, then 20 more commands on the control
connection. Usage: bulk_capture.py OUTPUT.pcap [SIZE_MB]
"""

import struct
import sys

from common import CLIENT, PORT_LINE, PORT_OK, SERVER
from ftpgen import Capture, Flow


class StreamingCapture(Capture):
    """A Capture that writes records as they are added instead of keeping them."""

    def __init__(self, out):
        super().__init__()
        self.out = out
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, self.link_type()))

    def add(self, ip_bytes, outgoing=False, snap=None):
        self.now_ns += 10_000  # 10 us per packet
        frame = self._link_header(ip_bytes, outgoing) + ip_bytes
        seconds, fraction = divmod(self.now_ns, 1_000_000_000)
        self.out.write(struct.pack("<IIII", seconds, fraction // 1000, len(frame), len(frame)))
        self.out.write(frame)


def fast_data(capture, size_bytes):
    """The data connection, built from one scapy template per direction and patched in place
    (seq/ack and checksum), so 100 MB take seconds instead of minutes."""
    data = Flow(capture, ("203.0.113.10", 20), ("192.168.77.10", 50000), client_isn=0x7000_0000, ip_id=9000)
    data.handshake()
    chunk = bytes(range(256)) * 5 + bytes(168)  # 1448 bytes
    template = bytearray(data.packet(Flow.CLIENT, "PA", payload=chunk))
    data.sent[Flow.CLIENT] += len(chunk)
    ack_template = bytearray(data.packet(Flow.SERVER, "A"))

    def patch(packet, seq, ack):
        struct.pack_into("!II", packet, 24, seq % 2**32, ack % 2**32)
        struct.pack_into("!H", packet, 36, 0)
        source, destination = bytes(packet[12:16]), bytes(packet[16:20])
        segment = bytes(packet[20:])
        pseudo = source + destination + struct.pack("!BBH", 0, 6, len(segment))
        total = 0
        blob = pseudo + segment + (b"\0" if len(segment) % 2 else b"")
        for (word,) in struct.iter_unpack("!H", blob):
            total += word
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        struct.pack_into("!H", packet, 36, ~total & 0xFFFF)
        return bytes(packet)

    count = size_bytes // len(chunk)
    for index in range(1, count):
        seq = data.next_seq(Flow.CLIENT)
        capture.add(patch(template, seq, data.ack_for(Flow.CLIENT)))
        data.sent[Flow.CLIENT] += len(chunk)
        if index % 2 == 0:
            capture.add(patch(ack_template, data.next_seq(Flow.SERVER), data.ack_for(Flow.SERVER)))
    data.close(quit=False)


def main():
    path = sys.argv[1]
    size_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    with open(path, "wb") as out:
        capture = StreamingCapture(out)
        control = Flow(capture, CLIENT, SERVER)
        control.handshake()
        control.login()
        control.client(PORT_LINE)
        control.server(PORT_OK)
        control.client("RETR big.bin\r\n")
        control.server("150 Opening BINARY mode data connection.\r\n")
        fast_data(capture, size_mb * 1_000_000)
        control.server("226 Transfer complete.\r\n")
        for index in range(20):
            control.client(f"SIZE file{index}.bin\r\n")
            control.server("213 4096\r\n")
        control.close()


if __name__ == "__main__":
    main()
