"""Generated cases: the TCP connection around the FTP dialog (category "tcp",
docs/adversarial-cases.md "TCP connection"): which RST, FIN and SYN-ACK end or start a session,
and a long silence."""

from common import PORT_LINE, PORT_OK, SNAT, masqueraded_session
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


if __name__ == "__main__":
    main(__file__)
