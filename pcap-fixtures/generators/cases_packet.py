"""Generated cases: what the engine must check or respect in each packet before and after it reads
the stream (category "packet"): checksums verified before inspection, the MSS cap counting the
options a segment carries, out-of-order segments forwarded when nothing can be decided behind
them (docs/decisions/0001-hold-undecided-packets.md, 0002-mss-growth.md)."""

import struct

from common import (CLIENT, PORT_LINE, PORT_OK, SERVER, SNAT, active_list, masqueraded_port_decisions,
                    masqueraded_session)
from decisions import anomaly, closed, pinhole, rewrite, stats
from ftpgen import Flow, fixture, main


def _fold(total):
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _tcp_start(ip_bytes):
    """Offset of the TCP header (IPv4 without options, or IPv6 without extension headers)."""
    return (ip_bytes[0] & 0x0F) * 4 if ip_bytes[0] >> 4 == 4 else 40


def _replace_last(capture, ip_bytes):
    """Replaces the IP bytes of the packet added last."""
    timestamp, header, _, snap = capture.records[-1]
    capture.records[-1] = (timestamp, header, bytes(ip_bytes), snap)


def corrupt_last(capture, payload_index, bit):
    """Flips one bit of the last packet's payload, leaving its checksums as they were."""
    ip_bytes = bytearray(capture.records[-1][2])
    tcp = _tcp_start(ip_bytes)
    payload = tcp + (ip_bytes[tcp + 12] >> 4) * 4
    ip_bytes[payload + payload_index] ^= 1 << bit
    _replace_last(capture, ip_bytes)


def offload_last(capture):
    """Gives the last packet (IPv4) the TCP checksum field a Linux sender leaves for its NIC to
    complete (CHECKSUM_PARTIAL): the folded pseudo-header sum, not inverted."""
    ip_bytes = bytearray(capture.records[-1][2])
    tcp = _tcp_start(ip_bytes)
    tcp_length = len(ip_bytes) - tcp
    pseudo = ip_bytes[12:20] + struct.pack("!BBH", 0, 6, tcp_length)
    total = sum(struct.unpack("!%dH" % (len(pseudo) // 2), pseudo))
    ip_bytes[tcp + 16:tcp + 18] = struct.pack("!H", _fold(total))
    _replace_last(capture, ip_bytes)


class OffloadingClient(Flow):
    """A connection captured on the client host: every segment the client sends carries the
    pseudo-header sum its NIC would complete."""

    def packet(self, side, flags, **options):
        ip_bytes = super().packet(side, flags, **options)
        if side == Flow.CLIENT:
            offload_last(self.capture)
        return ip_bytes


class TimestampFlow(Flow):
    """A connection whose segments after the handshake all carry RFC 7323 timestamps as Linux
    sends them (NOP NOP TS: 12 bytes of TCP options)."""

    def packet(self, side, flags, **options):
        if "S" not in flags:
            options["options"] = [("NOP", None), ("NOP", None), ("Timestamp", (1000 + len(self.capture.records), 0))]
        return super().packet(side, flags, **options)


@fixture("packet-corrupt-port-then-good-retransmission",
         "A PORT segment with one flipped bit ('195,80' read as '195,81') and the checksum of the "
         "good segment is passed on uninspected (bad_checksum, packets_bad_checksum 1): it opens "
         "nothing and is no first-seen copy; the sender's good retransmission is rewritten once, "
         "opens the pinhole to port 50000 and is no retransmission_conflict.",
         flags=[SNAT],
         decisions=[anomaly("c2s", "bad_checksum", False),
                    masqueraded_port_decisions(),
                    stats(packets_bad_checksum=1)])
def corrupt_port_then_good_retransmission(capture):
    flow = masqueraded_session(capture)
    start = flow.sent[Flow.CLIENT]
    flow.segment_at(Flow.CLIENT, start, PORT_LINE)
    corrupt_last(capture, PORT_LINE.index(",80") + 2, 0)
    flow.client(PORT_LINE)  # the retransmission, acknowledged by the server
    flow.server(PORT_OK)
    flow.client("LIST\r\n")
    flow.server("150 Here comes the directory listing.\r\n226 Directory send OK.\r\n")
    flow.close()


@fixture("packet-offloaded-client-checksums",
         "A capture taken on the client host, whose segments carry the pseudo-header sum its NIC "
         "completes: replay accepts them (packets_bad_checksum 0), the PORT is rewritten once and "
         "opens its pinhole, and every rewritten segment leaves with a computed checksum.",
         flags=[SNAT],
         decisions=[masqueraded_port_decisions(),
                    stats(packets_bad_checksum=0)])
def offloaded_client_checksums(capture):
    flow = OffloadingClient(capture, CLIENT, SERVER)
    flow.handshake()
    flow.login()
    flow.client(PORT_LINE)
    flow.server(PORT_OK)
    flow.client("LIST\r\n")
    flow.server("150 Here comes the directory listing.\r\n226 Directory send OK.\r\n")
    flow.close()


@fixture("packet-mss-cap-counts-timestamps",
         "A full segment (1448 payload bytes + 12 bytes of timestamps = a 1500-byte packet, MSS "
         "1460) ending in a PORT that grows by 5 bytes is cut before the edit "
         "(segment_trimmed_for_mss): the MSS counts no options (RFC 6691), so growing it would make "
         "a 1505-byte packet; the sender's retransmission of the rest carries the rewritten PORT.",
         flags=["--snat=10.0.0.0/8=203.0.113.200"],
         # The line is whole in the full segment, so it is rewritten (and its pinhole opened) as it
         # is read; the segment is then cut before the edit.
         decisions=[rewrite("c2s", "PORT", "PORT 10,1,2,3,195,80", "PORT 203,0,113,200,195,80"),
                    pinhole("203.0.113.10", "203.0.113.200:50000", "10.1.2.3:50000"),
                    anomaly("c2s", "segment_trimmed_for_mss", False),
                    closed(("203.0.113.10", "203.0.113.200:50000")),
                    stats(segments_trimmed=1)])
def mss_cap_counts_timestamps(capture):
    flow = TimestampFlow(capture, ("10.1.2.3", 40000), SERVER)
    flow.handshake()
    flow.login()
    port_line = "PORT 10,1,2,3,195,80\r\n"           # grows by 5 bytes: 203,0,113,200
    filler = "NOOP\r\n" * 236 + "NOOP    \r\n"    # 1426 bytes
    assert len(filler) + len(port_line) == 1448
    start = flow.sent[Flow.CLIENT]
    flow.client(filler + port_line)
    flow.server("200 NOOP ok.\r\n" * 237 + PORT_OK)
    # The sender retransmits what the receiver did not acknowledge: from the address on.
    address = start + len(filler) + len("PORT ")
    flow.segment_at(Flow.CLIENT, address, port_line[len("PORT "):])
    flow.client("LIST\r\n")
    flow.server("150 Here comes the directory listing.\r\n226 Directory send OK.\r\n")
    flow.close()


FEATURES = "211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n SIZE\r\n211 End\r\n"


@fixture("packet-out-of-order-reply-forwarded",
         "A FEAT reply whose first segment is lost upstream and arrives last: with no PASV/EPSV "
         "awaiting a reply none of its bytes can be an announcement, so the later segments are "
         "forwarded at once (packets_held 0; the client can SACK them), every line is read once "
         "when the gap fills, and the PORT that follows is rewritten as usual.",
         flags=[SNAT],
         decisions=[masqueraded_port_decisions(),
                    stats(packets_held=0)])
def out_of_order_reply_forwarded(capture):
    flow = masqueraded_session(capture)
    flow.client("FEAT\r\n")
    flow.server(FEATURES, cuts=[FEATURES.index(" EPSV"), FEATURES.index(" SIZE")], order=[1, 2, 0])
    active_list(flow)
    flow.close()


@fixture("packet-conflicting-copy-of-forwarded-bytes",
         "Out-of-order server bytes are forwarded; a second copy of them with other content "
         "(' MDTM' read as ' XXXX') is a retransmission_conflict and leaves carrying the first-seen "
         "bytes, since the client may keep either copy of bytes it holds out of order; the gap "
         "then fills and the stream is the first-seen one.",
         flags=[SNAT],
         decisions=[anomaly("s2c", "retransmission_conflict", False),
                    masqueraded_port_decisions()])
def conflicting_copy_of_forwarded_bytes(capture):
    flow = masqueraded_session(capture)
    flow.client("FEAT\r\n")
    start = flow.sent[Flow.SERVER]
    cut = FEATURES.index(" EPSV")
    flow.segment_at(Flow.SERVER, start + cut, FEATURES[cut:])
    flow.segment_at(Flow.SERVER, start + cut, FEATURES[cut:].replace("MDTM", "XXXX"))
    flow.segment_at(Flow.SERVER, start, FEATURES[:cut])
    flow.sent[Flow.SERVER] += len(FEATURES)
    flow.ack(Flow.CLIENT)
    active_list(flow)
    flow.close()


if __name__ == "__main__":
    main(__file__)
