"""Generated cases: resource limits, bounded and logged (category "limit", docs/adversarial-cases.md cases 22-27)."""

from common import ACTIVE_PINHOLE, CLIENT, PORT_LINE, PORT_OK, PORT_PUBLIC, SERVER, SNAT, masqueraded_session
from decisions import anomaly, closed, pinhole, pinhole_close, reject, rewrite, session_close, stats
from ftpgen import Flow, fixture, main


def rate_limited_decisions():
    """Ports 50000-50002 spend the burst of three (each pinhole replacing the previous one); the
    nine PORTs after them, 4 ms apart, find no token (1 per second) and are refused."""
    out = []
    for index in range(12):
        port = 50000 + index
        line = f"PORT 192,168,77,10,{port >> 8},{port & 0xFF}"
        if index < 3:
            public = ("203.0.113.10", f"203.0.113.1:{port}")
            out.append(rewrite("c2s", "PORT", line, f"PORT 203,0,113,1,{port >> 8},{port & 0xFF}"))
            if index > 0:
                out.append(pinhole_close("203.0.113.10", f"203.0.113.1:{port - 1}", "replaced"))
            out.append(pinhole(*public, f"192.168.77.10:{port}"))
        else:
            out.append(reject("c2s", "PORT", "pinhole_rate_limit", line))
    out.append(closed(("203.0.113.10", "203.0.113.1:50002")))
    out.append(stats(rewrites=3, pinholes_opened=3, rejects=9))
    return out


@fixture("limit-pinhole-rate",
         "Twelve PORT commands in a burst with --pinhole-rate 1 --pinhole-burst 3: three open "
         "pinholes (each replacing the previous one), the rest are refused as pinhole_rate_limit.",
         flags=[SNAT, "--pinhole-rate=1", "--pinhole-burst=3"], decisions=rate_limited_decisions())
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
         flags=[SNAT, "--max-sessions=1"],
         decisions=[anomaly("c2s", "session_limit", True, flow="192.168.77.11:40001-203.0.113.10:21"),
                    rewrite("c2s", "PORT", PORT_LINE.rstrip("\r\n"), PORT_PUBLIC),
                    pinhole(*ACTIVE_PINHOLE, "192.168.77.10:50000"),
                    closed(ACTIVE_PINHOLE, flow="192.168.77.10:40000-203.0.113.10:21"),
                    stats(sessions_opened=1, sessions_refused_at_limit=1)])
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
         flags=[SNAT, "--max-out-of-order-bytes=1024"],
         decisions=[anomaly("c2s", "out_of_order_limit", True), session_close("fin")])
def out_of_order_limit(capture):
    flow = masqueraded_session(capture)
    text = "NOOP\r\n" * 100 + "HELP\r\n" * 200 + PORT_LINE
    flow.client(text, cuts=[600, 1200], order=[2, 1, 0])
    flow.server(PORT_OK)
    flow.close()


@fixture("limit-hold-timeout",
         "A PORT line whose second half comes 5 s later (beyond the 3 s hold timeout) is released "
         "unmodified, inspection stops (hold_timeout) and no pinhole opens.",
         flags=[SNAT], decisions=[anomaly("c2s", "hold_timeout", True), session_close("fin")])
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
         flags=[SNAT, "--max-line-length=64"],
         decisions=[anomaly("c2s", "line_too_long", True), session_close("fin")])
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
         flags=[SNAT, "--session-idle-timeout=10", "--pinhole-timeout=300"],
         decisions=[rewrite("c2s", "PORT", PORT_LINE.rstrip("\r\n"), PORT_PUBLIC),
                    pinhole(*ACTIVE_PINHOLE, "192.168.77.10:50000"),
                    closed(ACTIVE_PINHOLE, reason="idle_timeout")])
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
