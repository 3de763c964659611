"""Generated cases: the TCP connection around the FTP dialog (category "tcp",
docs/adversarial-cases.md "TCP connection"): which RST, FIN and SYN-ACK end or start a session,
and a long silence."""

from common import (CLIENT, DNAT, PORT_LINE, PORT_OK, SERVER, SNAT, forwarded_session,
                    masqueraded_session)
from ftpgen import Flow, fixture, main

BLIND_OFFSET = 1_000_000  # how far past the receiver's window the blind segments land


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
         flags=[SNAT])
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
         flags=[SNAT])
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
         flags=[SNAT])
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
         flags=[SNAT])
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
         flags=[DNAT])
def idle_two_hours_pasv(capture):
    flow = forwarded_session(capture)
    capture.advance(2 * 3600)
    flow.client("PASV\r\n")
    flow.server("227 Entering Passive Mode (192,168,78,10,156,64).\r\n")
    flow.close()


if __name__ == "__main__":
    main(__file__)
