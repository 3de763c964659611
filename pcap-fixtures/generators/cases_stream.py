"""Generated cases: stream edge cases that must be rewritten exactly once, correctly (category
"stream", docs/adversarial-cases.md cases 13-21)."""

from common import (ACTIVE_PINHOLE, CLIENT, DNAT, PORT_LINE, PORT_OK, PORT_PUBLIC, SERVER, SNAT, active_list,
                    forwarded_session, masqueraded_port_decisions, masqueraded_session)
from decisions import anomaly, closed, pinhole, pinhole_close, rewrite, stats
from ftpgen import Flow, data_transfer, fixture, main

# The 227 of a port-forwarded server (192.168.78.10:50001) rewritten once: one pinhole for the
# outside client to the published address, forwarded to the server.
FORWARDED_227_DECISIONS = [
    rewrite("s2c", "227", "227 Entering Passive Mode (192,168,78,10,195,81).",
            "227 Entering Passive Mode (203,0,113,1,195,81)."),
    pinhole("198.51.100.7", "203.0.113.1:50001", "192.168.78.10:50001"),
    closed(("198.51.100.7", "203.0.113.1:50001")),
]


@fixture("stream-port-split-two-segments",
         "A PORT line split across two segments inside the address ('PORT 192,168,77,' + "
         "'10,195,80') is rewritten exactly once and opens one pinhole.",
         flags=[SNAT],
         decisions=masqueraded_port_decisions())
def port_split_two_segments(capture):
    flow = masqueraded_session(capture)
    active_list(flow, cuts=[len("PORT 192,168,77,")])
    flow.close()


@fixture("stream-port-split-in-keyword",
         "A PORT line split inside its keyword ('PO' + 'RT ...') is recognised and rewritten once.",
         flags=[SNAT],
         decisions=masqueraded_port_decisions())
def port_split_in_keyword(capture):
    flow = masqueraded_session(capture)
    active_list(flow, cuts=[2])
    flow.close()


@fixture("stream-port-one-byte-segments",
         "A PORT line sent one byte per segment is rewritten exactly once and opens one pinhole.",
         flags=[SNAT],
         decisions=masqueraded_port_decisions())
def port_one_byte_segments(capture):
    flow = masqueraded_session(capture)
    active_list(flow, cuts=list(range(1, len(PORT_LINE))))
    flow.close()


@fixture("stream-227-one-byte-segments",
         "A 227 reply sent one byte per segment is rewritten exactly once and opens one pinhole.",
         flags=[DNAT],
         decisions=FORWARDED_227_DECISIONS)
def reply_227_one_byte_segments(capture):
    flow = forwarded_session(capture)
    reply = "227 Entering Passive Mode (192,168,78,10,195,81).\r\n"
    flow.client("PASV\r\n")
    flow.server(reply, cuts=list(range(1, len(reply))))
    flow.client("LIST\r\n")
    flow.server("150 Here comes the directory listing.\r\n226 Directory send OK.\r\n")
    flow.close()


@fixture("stream-227-split-in-number",
         "A 227 reply split inside a number ('...(192,16' + '8,78,10,...') is rewritten once.",
         flags=[DNAT],
         decisions=FORWARDED_227_DECISIONS)
def reply_227_split_in_number(capture):
    flow = forwarded_session(capture)
    reply = "227 Entering Passive Mode (192,168,78,10,195,81).\r\n"
    flow.client("PASV\r\n")
    flow.server(reply, cuts=[reply.index("168") + 2])
    flow.close()


@fixture("stream-pipelined-type-port-list",
         "Pipelined 'TYPE I', 'PORT ...' and 'LIST' in one segment: every line is parsed, only the "
         "PORT address span changes, every other byte is kept.",
         flags=[SNAT],
         decisions=masqueraded_port_decisions())
def pipelined(capture):
    flow = masqueraded_session(capture)
    flow.client("TYPE I\r\n" + PORT_LINE + "LIST\r\n")
    flow.server("200 Switching to Binary mode.\r\n" + PORT_OK + "150 Here comes the directory listing.\r\n")
    flow.server("226 Directory send OK.\r\n")
    flow.close()


@fixture("stream-segment-ends-mid-line",
         "A segment that ends in the middle of a PORT line, with the next command starting in the "
         "middle of the following segment, is rewritten once with every other byte kept.",
         flags=[SNAT],
         decisions=masqueraded_port_decisions())
def segment_ends_mid_line(capture):
    flow = masqueraded_session(capture)
    text = "TYPE I\r\n" + PORT_LINE + "LIST\r\n"
    flow.client(text, cuts=[len("TYPE I\r\nPORT 192,168")])
    flow.server("200 Switching to Binary mode.\r\n" + PORT_OK + "150 Here comes the directory listing.\r\n")
    flow.close()


@fixture("stream-retransmitted-rewritten-port",
         "A retransmission of a segment that was already rewritten gets the identical rewrite and "
         "no second pinhole, both right away and after the reply.",
         flags=[SNAT],
         decisions=[masqueraded_port_decisions(), stats(rewrites=1, pinholes_opened=1)])
def retransmitted_port(capture):
    flow = masqueraded_session(capture)
    start = flow.sent[Flow.CLIENT]
    flow.client(PORT_LINE, duplicate=[0])
    flow.server(PORT_OK)
    flow.segment_at(Flow.CLIENT, start, PORT_LINE)  # a late spurious retransmission
    flow.client("LIST\r\n")
    flow.server("150 Here comes the directory listing.\r\n226 Directory send OK.\r\n")
    flow.close()


@fixture("stream-conflicting-retransmission",
         "A retransmission with different content at the same sequence number (another port), "
         "before the receiver acknowledged the first copy, is a retransmission_conflict: the "
         "first-seen bytes win and no second pinhole opens.",
         flags=[SNAT],
         decisions=[rewrite("c2s", "PORT", PORT_LINE.rstrip("\r\n"), PORT_PUBLIC),
                    pinhole(*ACTIVE_PINHOLE, "192.168.77.10:50000"),
                    anomaly("c2s", "retransmission_conflict", False),
                    closed(ACTIVE_PINHOLE),
                    stats(pinholes_opened=1)])
def conflicting_retransmission(capture):
    flow = masqueraded_session(capture)
    start = flow.sent[Flow.CLIENT]
    flow.client(PORT_LINE, ack=False)
    flow.segment_at(Flow.CLIENT, start, "PORT 192,168,77,10,195,99\r\n")
    flow.ack(Flow.SERVER)
    flow.server(PORT_OK)
    flow.client("LIST\r\n")
    flow.server("150 Here comes the directory listing.\r\n226 Directory send OK.\r\n")
    flow.close()


@fixture("stream-out-of-order-port",
         "A PORT line whose second half arrives first is held, parsed once when contiguous, "
         "rewritten once and opens one pinhole.",
         flags=[SNAT],
         decisions=masqueraded_port_decisions())
def out_of_order_port(capture):
    flow = masqueraded_session(capture)
    active_list(flow, cuts=[len("PORT 192,168,")], order=[1, 0])
    flow.close()


@fixture("stream-seq-wrap",
         "Sequence numbers that wrap past 2^32 in the middle of a PORT line (and of a 227 reply) "
         "do not disturb reassembly: the PORT lines are rewritten once each and the 227 opens its "
         "pinhole.",
         flags=[SNAT],
         decisions=[rewrite("c2s", "PORT", "PORT 192,168,77,10,195,80", PORT_PUBLIC),
                    pinhole(*ACTIVE_PINHOLE, "192.168.77.10:50000"),
                    pinhole_close(*ACTIVE_PINHOLE, "replaced"),
                    pinhole("192.168.77.10", "203.0.113.10:50001", None),
                    rewrite("c2s", "PORT", "PORT 192,168,77,10,195,82", "PORT 203,0,113,1,195,82"),
                    pinhole_close("192.168.77.10", "203.0.113.10:50001", "replaced"),
                    pinhole("203.0.113.10", "203.0.113.1:50002", "192.168.77.10:50002"),
                    closed(("203.0.113.10", "203.0.113.1:50002"))])
def seq_wrap(capture):
    # Client bytes before PORT: "USER anonymous\r\n" (16) + "PASS guest@example.org\r\n" (24) = 40.
    # The client's sequence number wraps 10 bytes into the PORT line.
    client_isn = 2**32 - 1 - 50
    # Server bytes before the 227: greeting 20 + 331 34 + 230 24 + 200 PORT 51 = 129; wrap 20
    # bytes into the 227 line.
    server_isn = 2**32 - 1 - 149
    flow = Flow(capture, CLIENT, SERVER, client_isn=client_isn, server_isn=server_isn)
    flow.handshake()
    flow.login()
    flow.client(PORT_LINE)
    flow.server(PORT_OK)
    flow.client("PASV\r\n")
    flow.server("227 Entering Passive Mode (203,0,113,10,195,81).\r\n")
    flow.client(PORT_LINE.replace("195,80", "195,82"))
    flow.server(PORT_OK)
    flow.close()


@fixture("stream-growth-past-mss",
         "A rewrite that grows a full-sized segment past the receiver's MSS (536) is cut before "
         "the edit; the sender's retransmission of the rest carries the rewritten PORT, once.",
         flags=["--snat=10.0.0.0/8=203.0.113.200"],
         decisions=[rewrite("c2s", "PORT", "PORT 10,1,2,3,195,80", "PORT 203,0,113,200,195,80"),
                    pinhole("203.0.113.10", "203.0.113.200:50000", "10.1.2.3:50000"),
                    anomaly("c2s", "segment_trimmed_for_mss", False),
                    closed(("203.0.113.10", "203.0.113.200:50000")),
                    stats(rewrites=1, segments_trimmed=1)])
def growth_past_mss(capture):
    flow = Flow(capture, ("10.1.2.3", 40000), SERVER, server_mss=536)
    flow.handshake()
    flow.login()
    port_line = "PORT 10,1,2,3,195,80\r\n"          # grows by 5 bytes: 203,0,113,200
    filler = "NOOP\r\n" * 84 + "NOOP    \r\n"       # 514 bytes
    assert len(filler) + len(port_line) == 536
    start = flow.sent[Flow.CLIENT]
    flow.client(filler + port_line)
    flow.server("200 NOOP ok.\r\n" * 85 + PORT_OK)
    # The sender retransmits what the receiver did not acknowledge (from the PORT line on).
    flow.segment_at(Flow.CLIENT, start + len(filler), port_line)
    flow.client("LIST\r\n")
    flow.server("150 Here comes the directory listing.\r\n226 Directory send OK.\r\n")
    flow.close()


def many_rewrites_decisions():
    """PORT 50000-50009, each rewritten once, each pinhole replacing the previous one."""
    out = []
    for index in range(10):
        port = 50000 + index
        out.append(rewrite("c2s", "PORT", f"PORT 192,168,77,10,{port >> 8},{port & 0xFF}",
                           f"PORT 203,0,113,1,{port >> 8},{port & 0xFF}"))
        if index > 0:
            out.append(pinhole_close("203.0.113.10", f"203.0.113.1:{port - 1}", "replaced"))
        out.append(pinhole("203.0.113.10", f"203.0.113.1:{port}", f"192.168.77.10:{port}"))
    out.append(closed(("203.0.113.10", "203.0.113.1:50009")))
    out.append(stats(rewrites=10))
    return out


@fixture("stream-many-rewrites-then-bulk",
         "Ten length-changing PORT rewrites in one session, each followed by a data transfer, "
         "then more commands: every PORT is rewritten once and the rest of the stream is intact.",
         flags=[SNAT],
         decisions=many_rewrites_decisions())
def many_rewrites(capture):
    flow = masqueraded_session(capture)
    for index in range(10):
        port = 50000 + index
        flow.client(f"PORT 192,168,77,10,{port >> 8},{port & 0xFF}\r\n")
        flow.server(PORT_OK)
        flow.client(f"RETR file{index}.bin\r\n")
        flow.server(f"150 Opening BINARY mode data connection for file{index}.bin (4096 bytes).\r\n")
        data_transfer(capture, ("203.0.113.10", 20), ("192.168.77.10", port), bytes(range(256)) * 16,
                      isn=0x5000_0000 + index, ip_id=3000 + 20 * index)
        flow.server("226 Transfer complete.\r\n")
    for index in range(20):
        flow.client(f"SIZE file{index}.bin\r\n")
        flow.server("213 4096\r\n")
    flow.close()


@fixture("stream-rst-closes-session",
         "A control connection reset after a PORT closes its session (rst) and removes its "
         "pinhole.",
         flags=[SNAT],
         decisions=[rewrite("c2s", "PORT", PORT_LINE.rstrip("\r\n"), PORT_PUBLIC),
                    pinhole(*ACTIVE_PINHOLE, "192.168.77.10:50000"),
                    closed(ACTIVE_PINHOLE, reason="rst")])
def rst_closes(capture):
    flow = masqueraded_session(capture)
    flow.client(PORT_LINE)
    flow.server(PORT_OK)
    flow.reset(Flow.CLIENT)


@fixture("stream-pinhole-expires",
         "A pinhole nobody uses expires after --pinhole-timeout (30 s); the session goes on.",
         flags=[SNAT],
         decisions=[rewrite("c2s", "PORT", PORT_LINE.rstrip("\r\n"), PORT_PUBLIC),
                    pinhole(*ACTIVE_PINHOLE, "192.168.77.10:50000"),
                    pinhole_close(*ACTIVE_PINHOLE, "expired"),
                    closed()])
def pinhole_expires(capture):
    flow = masqueraded_session(capture)
    flow.client(PORT_LINE)
    flow.server(PORT_OK)
    capture.advance(40)
    flow.client("NOOP\r\n")
    flow.server("200 NOOP ok.\r\n")
    flow.close()


if __name__ == "__main__":
    main(__file__)
