"""Generated cases: the TCP connection around the FTP dialog (category "tcp",
docs/adversarial-cases.md "TCP connection"): which RST, FIN and SYN-ACK end or start a session,
and a long silence."""

from common import (ACTIVE_PINHOLE, CLIENT, DNAT, PORT_LINE, PORT_OK, PORT_PUBLIC, SERVER, SNAT,
                    forwarded_session, masqueraded_session)
from decisions import anomaly, closed, pinhole, pinhole_close, rewrite, session_close, stats
from ftpgen import Flow, fixture, main

BLIND_OFFSET = 1_000_000  # how far past the receiver's window the blind segments land


# The PORT every case here starts with: rewritten (it shrinks by 2 bytes, so every later client
# byte is translated), and its pinhole.
REWRITTEN_PORT = [rewrite("c2s", "PORT", PORT_LINE.rstrip("\r\n"), PORT_PUBLIC),
                  pinhole(*ACTIVE_PINHOLE, "192.168.77.10:50000")]


def after_rewritten_port(capture):
    flow = masqueraded_session(capture)
    flow.client(PORT_LINE)
    flow.server(PORT_OK)
    return flow


@fixture("tcp-blind-rst-keeps-session",
         "An RST from the server side whose sequence number lies 1 000 000 past what the client "
         "expects (an off-path guess) after a length-changing PORT rewrite does not end the "
         "session (anomaly rst_out_of_window): a minute later the client's LIST is still "
         "translated, and the session closes at the real FINs.",
         flags=[SNAT],
         # The pinhole nobody uses expires during the minute (--pinhole-timeout 30 s); the
         # session does not.
         decisions=[REWRITTEN_PORT,
                    anomaly("s2c", "rst_out_of_window", False),
                    pinhole_close(*ACTIVE_PINHOLE, "expired"),
                    closed(),
                    stats(sessions_closed=1)])
def blind_rst_keeps_session(capture):
    flow = after_rewritten_port(capture)
    flow.packet(Flow.SERVER, "RA", seq=flow.next_seq(Flow.SERVER) + BLIND_OFFSET)
    capture.advance(60)
    flow.client("LIST\r\n")
    flow.server("150 Here comes the directory listing.\r\n226 Directory send OK.\r\n")
    flow.close()


@fixture("tcp-blind-fins-keep-session",
         "FINs from both sides 1 000 000 past the receivers' windows after a length-changing PORT "
         "rewrite do not end the session (two anomalies fin_out_of_window): a minute later the "
         "client's LIST is still translated, and the session closes at the real FINs.",
         flags=[SNAT],
         decisions=[REWRITTEN_PORT,
                    anomaly("s2c", "fin_out_of_window", False),
                    anomaly("c2s", "fin_out_of_window", False),
                    pinhole_close(*ACTIVE_PINHOLE, "expired"),
                    closed(),
                    stats(sessions_closed=1)])
def blind_fins_keep_session(capture):
    flow = after_rewritten_port(capture)
    flow.packet(Flow.SERVER, "FA", seq=flow.next_seq(Flow.SERVER) + BLIND_OFFSET)
    flow.packet(Flow.CLIENT, "FA", seq=flow.next_seq(Flow.CLIENT) + BLIND_OFFSET)
    capture.advance(60)
    flow.client("LIST\r\n")
    flow.server("150 Here comes the directory listing.\r\n226 Directory send OK.\r\n")
    flow.close()


@fixture("tcp-port-reuse-new-handshake",
         "A client reuses its port for a new connection (new ISNs, SYN then SYN-ACK) while the "
         "old session was never closed: the old session closes (reopened, its pinhole with it) and "
         "the new connection is a fresh session whose PORT is rewritten and opens a pinhole.",
         flags=[SNAT],
         decisions=[REWRITTEN_PORT,
                    closed(ACTIVE_PINHOLE, reason="reopened"),
                    rewrite("c2s", "PORT", "PORT 192,168,77,10,195,81", "PORT 203,0,113,1,195,81"),
                    pinhole("203.0.113.10", "203.0.113.1:50001", "192.168.77.10:50001"),
                    closed(("203.0.113.10", "203.0.113.1:50001")),
                    stats(sessions_opened=2)])
def port_reuse_new_handshake(capture):
    after_rewritten_port(capture)
    capture.advance(5)
    flow = Flow(capture, CLIENT, SERVER, client_isn=0x5000_0000, server_isn=0x6000_0000, ip_id=500)
    flow.handshake()
    flow.login()
    flow.client("PORT 192,168,77,10,195,81\r\n")
    flow.server(PORT_OK)
    flow.close()


@fixture("tcp-syn-ack-without-syn",
         "A flow whose client spoke before the greeting (slipstreaming) is forgotten after the "
         "server's RST and the linger; a SYN-ACK from the server that acknowledges no SYN then "
         "starts no inspected session (midstream_pickup): the 220 and the client's PORT that "
         "follow open nothing.",
         flags=[SNAT],
         # The picked-up flow is still followed; the capture ends without its close.
         decisions=[anomaly("c2s", "client_spoke_first", True),
                    session_close("rst"),
                    anomaly("s2c", "midstream_pickup", True),
                    session_close("shutdown"),
                    stats(pinholes_opened=0)])
def syn_ack_without_syn(capture):
    flow = Flow(capture, CLIENT, SERVER)
    flow.handshake()
    flow.client("POST / HTTP/1.1\r\nHost: example.org\r\nContent-Length: 27\r\n\r\n")
    flow.reset(Flow.SERVER)
    capture.advance(60)
    flow.packet(Flow.SERVER, "SA", seq=flow.next_seq(Flow.SERVER) - 1, options=[("MSS", 1460)])
    flow.server("220 (vsFTPd 3.0.3)\r\n")
    flow.client(PORT_LINE)


@fixture("tcp-idle-two-hours-pasv",
         "A control connection silent for two hours (a long transfer of an mget) is still "
         "inspected: the PASV that follows gets its 227 rewritten to the public address and a "
         "pinhole.",
         flags=[DNAT],
         decisions=[rewrite("s2c", "227", "227 Entering Passive Mode (192,168,78,10,156,64).",
                            "227 Entering Passive Mode (203,0,113,1,156,64)."),
                    pinhole("198.51.100.7", "203.0.113.1:40000", "192.168.78.10:40000"),
                    closed(("198.51.100.7", "203.0.113.1:40000"))])
def idle_two_hours_pasv(capture):
    flow = forwarded_session(capture)
    capture.advance(2 * 3600)
    flow.client("PASV\r\n")
    flow.server("227 Entering Passive Mode (192,168,78,10,156,64).\r\n")
    flow.close()


if __name__ == "__main__":
    main(__file__)
