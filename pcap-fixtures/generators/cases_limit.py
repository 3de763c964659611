"""Generated cases: resource limits, bounded and logged (category "limit", docs/adversarial-cases.md cases 22-27)."""

from common import CLIENT, PORT_LINE, PORT_OK, SERVER, SNAT, masqueraded_session
from ftpgen import Flow, fixture, main


@fixture("limit-pinhole-rate",
         "Twelve PORT commands in a burst with --pinhole-rate 1 --pinhole-burst 3: three open "
         "pinholes (each replacing the previous one), the rest are refused as pinhole_rate_limit.",
         flags=[SNAT, "--pinhole-rate=1", "--pinhole-burst=3"])
def pinhole_rate(capture):
    flow = masqueraded_session(capture)
    for index in range(12):
        port = 50000 + index
        flow.client(f"PORT 192,168,77,10,{port >> 8},{port & 0xFF}\r\n")
        flow.server(PORT_OK)
    flow.close()


@fixture("limit-max-sessions",
         "With --max-sessions 1 a second concurrent control connection is not tracked "
         "(session_limit) and passes uninspected: its PORT opens nothing.",
         flags=[SNAT, "--max-sessions=1"])
def max_sessions(capture):
    first = Flow(capture, CLIENT, SERVER)
    second = Flow(capture, ("192.168.77.11", 40001), SERVER, client_isn=0x22222222, ip_id=5000)
    first.handshake()
    first.login()
    second.handshake()
    second.login()
    second.client("PORT 192,168,77,11,195,80\r\n")
    second.server(PORT_OK)
    first.client(PORT_LINE)
    first.server(PORT_OK)
    second.close()
    first.close()


@fixture("limit-out-of-order-bytes",
         "Out-of-order data beyond --max-out-of-order-bytes 1024 stops inspection of the flow "
         "(out_of_order_limit); a PORT inside it opens nothing and every byte still passes.",
         flags=[SNAT, "--max-out-of-order-bytes=1024"])
def out_of_order_limit(capture):
    flow = masqueraded_session(capture)
    text = "NOOP\r\n" * 100 + "HELP\r\n" * 200 + PORT_LINE
    flow.client(text, cuts=[600, 1200], order=[2, 1, 0])
    flow.server(PORT_OK)
    flow.close()


@fixture("limit-hold-timeout",
         "A PORT line whose second half comes 5 s later (beyond the 3 s hold timeout) is released "
         "unmodified, inspection stops (hold_timeout) and no pinhole opens.",
         flags=[SNAT])
def hold_timeout(capture):
    flow = masqueraded_session(capture)
    cut = len("PORT 192,168,77,")
    start = flow.sent[Flow.CLIENT]
    flow.segment_at(Flow.CLIENT, start, PORT_LINE[:cut])
    capture.advance(5)
    flow.segment_at(Flow.CLIENT, start + cut, PORT_LINE[cut:])
    flow.sent[Flow.CLIENT] += len(PORT_LINE)
    flow.ack(Flow.SERVER)
    flow.server(PORT_OK)
    flow.close()


@fixture("limit-max-line-length-option",
         "--max-line-length 64 makes a 100-byte line over-long (line_too_long); the PORT after it "
         "opens nothing.",
         flags=[SNAT, "--max-line-length=64"])
def max_line_length(capture):
    flow = masqueraded_session(capture)
    flow.client("MKD " + "d" * 96 + "\r\n")
    flow.server('257 "/dir" created\r\n')
    flow.client(PORT_LINE)
    flow.server(PORT_OK)
    flow.close()


@fixture("limit-session-idle-timeout",
         "A control connection silent for longer than --session-idle-timeout 10 is closed "
         "(idle_timeout) and its pinhole removed; its later packets pass uninspected.",
         flags=[SNAT, "--session-idle-timeout=10", "--pinhole-timeout=300"])
def session_idle_timeout(capture):
    flow = masqueraded_session(capture)
    flow.client(PORT_LINE)
    flow.server(PORT_OK)
    capture.advance(15)
    flow.client("NOOP\r\n")
    flow.server("200 NOOP ok.\r\n")
    flow.close()


if __name__ == "__main__":
    main(__file__)
