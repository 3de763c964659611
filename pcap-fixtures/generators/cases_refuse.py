"""Generated cases: announcements that must be refused (category "refuse",
docs/adversarial-cases.md cases 1-12)."""

from common import (CLIENT, DNAT, SERVER, SNAT, PORT_LINE, PORT_OK, forwarded_session, masqueraded_session,
                    passive_list)
from decisions import anomaly, closed, opaque, pinhole, reject, rewrite, session_close
from ftpgen import Flow, fixture, main


def refused(direction, verb, reason, line):
    """One refused announcement in a session that then closes normally."""
    return [reject(direction, verb, reason, line), session_close("fin")]


NOTHING = [session_close("fin")]  # a session that closes normally having decided nothing


@fixture("refuse-bounce-port",
         "A PORT naming a third-party address (198.51.100.99, an FTP bounce) is refused with "
         "address_mismatch: no rewrite, no pinhole.",
         flags=[SNAT],
         decisions=refused("c2s", "PORT", "address_mismatch", "PORT 198,51,100,99,195,80"))
def bounce_port(capture):
    flow = masqueraded_session(capture)
    flow.client("PORT 198,51,100,99,195,80\r\n")
    flow.server("500 Illegal PORT command.\r\n")
    flow.close()


@fixture("refuse-bounce-router-address",
         "A PORT naming the router's own public address is refused (address_mismatch): a client "
         "cannot make the gateway open a pinhole to itself.",
         flags=[SNAT],
         decisions=refused("c2s", "PORT", "address_mismatch", "PORT 203,0,113,1,195,80"))
def bounce_router(capture):
    flow = masqueraded_session(capture)
    flow.client("PORT 203,0,113,1,195,80\r\n")
    flow.server("500 Illegal PORT command.\r\n")
    flow.close()


@fixture("refuse-port-below-floor",
         "A PORT announcing data port 80 (below the 1024 floor) is refused with port_below_floor.",
         flags=[SNAT],
         decisions=refused("c2s", "PORT", "port_below_floor", "PORT 192,168,77,10,0,80"))
def port_below_floor(capture):
    flow = masqueraded_session(capture)
    flow.client("PORT 192,168,77,10,0,80\r\n")
    flow.server("500 Illegal PORT command.\r\n")
    flow.close()


@fixture("refuse-port-zero",
         "A PORT announcing port 0 is refused with port_zero.",
         flags=[SNAT],
         decisions=refused("c2s", "PORT", "port_zero", "PORT 192,168,77,10,0,0"))
def port_zero(capture):
    flow = masqueraded_session(capture)
    flow.client("PORT 192,168,77,10,0,0\r\n")
    flow.server("500 Illegal PORT command.\r\n")
    flow.close()


@fixture("refuse-port-octet-out-of-range",
         "A PORT with an octet above 255 is refused as octet_out_of_range and passes unmodified.",
         flags=[SNAT],
         decisions=refused("c2s", "PORT", "octet_out_of_range", "PORT 192,168,77,256,195,80"))
def octet_out_of_range(capture):
    flow = masqueraded_session(capture)
    flow.client("PORT 192,168,77,256,195,80\r\n")
    flow.server("501 Syntax error.\r\n")
    flow.close()


@fixture("refuse-eprt-port-out-of-range",
         "An EPRT with port 70000 is refused as port_out_of_range.",
         flags=[SNAT],
         decisions=refused("c2s", "EPRT", "port_out_of_range", "EPRT |1|192.168.77.10|70000|"))
def eprt_port_out_of_range(capture):
    flow = masqueraded_session(capture)
    flow.client("EPRT |1|192.168.77.10|70000|\r\n")
    flow.server("501 Syntax error.\r\n")
    flow.close()


@fixture("refuse-eprt-zone-id",
         "An IPv6 EPRT carrying a zone id (fe80::1%eth0) is refused as zone_id.",
         flags=[],
         decisions=refused("c2s", "EPRT", "zone_id", "EPRT |2|fe80::1%eth0|50000|"))
def eprt_zone_id(capture):
    flow = Flow(capture, ("2001:db8:77::10", 40000), ("2001:db8:113::10", 21))
    flow.handshake()
    flow.login()
    flow.client("EPRT |2|fe80::1%eth0|50000|\r\n")
    flow.server("501 Syntax error.\r\n")
    flow.close()


@fixture("refuse-eprt-family-mismatch",
         "An EPRT |2| (IPv6) on an IPv4 control connection is refused as family_mismatch.",
         flags=[SNAT],
         decisions=refused("c2s", "EPRT", "family_mismatch", "EPRT |2|2001:db8:77::10|50000|"))
def eprt_family_mismatch(capture):
    flow = masqueraded_session(capture)
    flow.client("EPRT |2|2001:db8:77::10|50000|\r\n")
    flow.server("522 Network protocol not supported, use (1)\r\n")
    flow.close()


@fixture("refuse-eprt-delimiter-mismatch",
         "An EPRT whose delimiters differ ('|1!...') is refused as delimiter_mismatch.",
         flags=[SNAT],
         decisions=refused("c2s", "EPRT", "delimiter_mismatch", "EPRT |1!192.168.77.10|50000|"))
def eprt_delimiter_mismatch(capture):
    flow = masqueraded_session(capture)
    flow.client("EPRT |1!192.168.77.10|50000|\r\n")
    flow.server("501 Syntax error.\r\n")
    flow.close()


@fixture("refuse-port-not-at-line-start",
         "'NOOP PORT ...' is not a PORT command (not at a line start): no rewrite, no pinhole.",
         flags=[SNAT],
         decisions=NOTHING)
def port_not_at_line_start(capture):
    flow = masqueraded_session(capture)
    flow.client("NOOP PORT 192,168,77,10,195,80\r\n")
    flow.server("200 NOOP ok.\r\n")
    flow.close()


@fixture("refuse-port-iac-in-keyword",
         "A PORT keyword with Telnet IAC bytes inside ('P\\xff\\xf4ORT') is refused as "
         "nonprintable_bytes and opens nothing.",
         flags=[SNAT],
         decisions=refused("c2s", "PORT", "nonprintable_bytes", "P\xff\xf4ORT 192,168,77,10,195,80"))
def port_iac_in_keyword(capture):
    flow = masqueraded_session(capture)
    flow.client("P\xff\xf4ORT 192,168,77,10,195,80\r\n")
    flow.server("500 Unknown command.\r\n")
    flow.close()


@fixture("refuse-unsolicited-227",
         "A 227 that no PASV asked for is refused as unsolicited_reply: no rewrite, no pinhole.",
         flags=[DNAT],
         decisions=refused("s2c", "227", "unsolicited_reply",
                           "227 Entering Passive Mode (192,168,78,10,195,81)."))
def unsolicited_227(capture):
    flow = forwarded_session(capture)
    flow.client("NOOP\r\n")
    flow.server("227 Entering Passive Mode (192,168,78,10,195,81).\r\n")
    flow.close()


@fixture("refuse-227-continuation-line",
         "A 227 on a continuation line of a multi-line 421 reply to PASV is not an answer: no "
         "rewrite, no pinhole; a later proper 227 is rewritten once.",
         flags=[DNAT],
         decisions=[reject("s2c", "227", "continuation_line",
                           "227 Entering Passive Mode (192,168,78,10,195,81)."),
                    rewrite("s2c", "227", "227 Entering Passive Mode (192,168,78,10,195,82).",
                            "227 Entering Passive Mode (203,0,113,1,195,82)."),
                    pinhole("198.51.100.7", "203.0.113.1:50002", "192.168.78.10:50002"),
                    closed(("198.51.100.7", "203.0.113.1:50002"))])
def continuation_227(capture):
    flow = forwarded_session(capture)
    flow.client("PASV\r\n")
    flow.server("421-Service busy, try later\r\n227 Entering Passive Mode (192,168,78,10,195,81).\r\n"
                "421 Closing.\r\n")
    passive_list(flow, "PASV\r\n", "227 Entering Passive Mode (192,168,78,10,195,82).\r\n",
                 data_to=("192.168.78.10", 50002))
    flow.close()


@fixture("refuse-227-from-client",
         "A '227 ...' line sent by the client is never a passive reply (wrong_direction: no "
         "rewrite, no pinhole); only the server's real 227 answering the PASV opens a pinhole.",
         flags=[SNAT],
         decisions=[reject("c2s", "227", "wrong_direction",
                           "227 Entering Passive Mode (192,168,77,10,195,81)."),
                    pinhole("192.168.77.10", "203.0.113.10:50002", None),
                    closed(("192.168.77.10", "203.0.113.10:50002"))])
def reply_from_client(capture):
    flow = masqueraded_session(capture)
    flow.client("PASV\r\n")
    flow.client("227 Entering Passive Mode (192,168,77,10,195,81).\r\n")
    flow.server("227 Entering Passive Mode (203,0,113,10,195,82).\r\n")
    flow.close()


@fixture("refuse-port-from-server",
         "A 'PORT ...' line sent by the server is never an active announcement: no rewrite, no "
         "pinhole.",
         flags=[DNAT],
         decisions=refused("s2c", "PORT", "wrong_direction", "PORT 192,168,78,10,195,80"))
def port_from_server(capture):
    flow = forwarded_session(capture)
    flow.client("NOOP\r\n")
    flow.server("PORT 192,168,78,10,195,80\r\n")
    flow.close()


@fixture("refuse-227-logout",
         "'227 Logout.' (a 227 without numbers) answering PASV passes unmodified, is logged as "
         "no_numbers, opens nothing and does not stall the session.",
         flags=[DNAT],
         decisions=refused("s2c", "227", "no_numbers", "227 Logout."))
def logout_227(capture):
    flow = forwarded_session(capture)
    flow.client("PASV\r\n")
    flow.server("227 Logout.\r\n")
    flow.client("NOOP\r\n")
    flow.server("200 NOOP ok.\r\n")
    flow.close()


@fixture("refuse-epsv-all-then-port",
         "After 'EPSV ALL' (RFC 2428) a PORT opens nothing and is refused as after_epsv_all.",
         flags=[SNAT],
         decisions=refused("c2s", "PORT", "after_epsv_all", "PORT 192,168,77,10,195,80"))
def epsv_all_then_port(capture):
    flow = masqueraded_session(capture)
    flow.client("EPSV ALL\r\n")
    flow.server("200 EPSV ALL ok.\r\n")
    flow.client(PORT_LINE)
    flow.server("500 Illegal PORT command.\r\n")
    flow.close()


@fixture("refuse-lprt-not-translated",
         "LPRT (RFC 1639) is recognised but not translated: logged as not_translated, no pinhole.",
         flags=[SNAT],
         decisions=refused("c2s", "LPRT", "not_translated", "LPRT 4,4,192,168,77,10,2,195,80"))
def lprt_not_translated(capture):
    flow = masqueraded_session(capture)
    flow.client("LPRT 4,4,192,168,77,10,2,195,80\r\n")
    flow.server("500 Unknown command.\r\n")
    flow.close()


@fixture("refuse-slipstream-http-post",
         "NAT slipstreaming: a client that speaks first (an HTTP POST to port 21 padded so a "
         "segment starts with 'PORT ...') is never treated as FTP and opens no pinhole.",
         flags=[SNAT],
         decisions=[anomaly("c2s", "client_spoke_first", True), session_close("fin")])
def slipstream(capture):
    flow = Flow(capture, CLIENT, SERVER)
    flow.handshake()
    padding = "A" * (1400 - 150)
    body = "x=" + padding + "\r\n" + PORT_LINE
    request = ("POST /upload HTTP/1.1\r\nHost: 203.0.113.10:21\r\nContent-Type: text/plain\r\n"
               f"Content-Length: {len(body)}\r\n\r\n") + body
    cut = request.index("PORT ")
    flow.client(request, cuts=[cut])
    flow.server("220 (vsFTPd 3.0.3)\r\n")
    flow.server("500 Unknown command.\r\n")
    flow.close(quit=False)


@fixture("refuse-auth-tls-fake-port",
         "After AUTH TLS answered by 234 the flow is opaque: TLS records containing the bytes "
         "'PORT 192,168,77,10,...' are neither parsed nor rewritten and open no pinhole.",
         flags=[SNAT],
         decisions=[opaque("tls_negotiated"), session_close("fin")])
def auth_tls_fake_port(capture):
    flow = Flow(capture, CLIENT, SERVER)
    flow.handshake()
    flow.server("220 (vsFTPd 3.0.3)\r\n")
    flow.client("AUTH TLS\r\n")
    flow.server("234 Proceed with negotiation.\r\n")

    def record(content_type, payload):
        return bytes([content_type, 0x03, 0x03]) + len(payload).to_bytes(2, "big") + payload

    hello = b"\x01\x00\x00\x40" + b"\x03\x03" + bytes(range(32)) + b"\r\n" + PORT_LINE.encode() + b"\x00" * 4
    flow.client(record(0x16, hello))
    flow.server(record(0x16, b"\x02\x00\x00\x26\x03\x03" + bytes(range(32, 64)) + b"\x00\x13\x01\x00"))
    flow.client(record(0x17, PORT_LINE.encode() + b"\x17" * 17))
    flow.server(record(0x17, b"200 PORT command successful.\r\n" + b"\x17" * 17))
    flow.client(record(0x17, b"\r\n" + PORT_LINE.encode() + b"\x01" * 20))
    flow.close(quit=False)


@fixture("refuse-overlong-line",
         "A 600-byte line stops inspection of the flow (line_too_long, never 'allow'): a PORT "
         "after it is neither rewritten nor given a pinhole.",
         flags=[SNAT],
         decisions=[anomaly("c2s", "line_too_long", True), session_close("fin")])
def overlong_line(capture):
    flow = masqueraded_session(capture)
    flow.client("SITE " + "A" * 595 + "\r\n")
    flow.server("500 Unknown SITE command.\r\n")
    flow.client(PORT_LINE)
    flow.server(PORT_OK)
    flow.close()


@fixture("refuse-overlong-line-no-crlf",
         "9 KB without CRLF from the server stops inspection (line_too_long); a following PORT "
         "opens nothing.",
         flags=[SNAT],
         decisions=[anomaly("s2c", "line_too_long", True), session_close("fin")])
def overlong_no_crlf(capture):
    flow = masqueraded_session(capture)
    flow.client("STAT\r\n")
    blob = "211-" + "B" * (9 * 1024)
    flow.server(blob, cuts=list(range(1448, len(blob), 1448)))
    flow.client(PORT_LINE)
    flow.close(quit=False)


@fixture("refuse-midstream-pickup",
         "A control connection first seen after its handshake (no SYN in the capture) is never "
         "inspected: its 220 greeting cannot be verified, so its PORT opens nothing (the flow is "
         "still followed to its close).",
         flags=[SNAT],
         decisions=[anomaly("c2s", "midstream_pickup", True), session_close("fin")])
def midstream_pickup(capture):
    flow = Flow(capture, CLIENT, SERVER)
    # The handshake and greeting happened before the capture started.
    flow.sent = [0, 20]
    flow.client("USER anonymous\r\n")
    flow.server("331 Please specify the password.\r\n")
    flow.client("PASS guest@example.org\r\n")
    flow.server("230 Login successful.\r\n")
    flow.client(PORT_LINE)
    flow.server(PORT_OK)
    flow.close()


def refused_port_line(capture, line, reply="501 Syntax error.\r\n"):
    flow = masqueraded_session(capture)
    flow.client(line)
    flow.server(reply)
    flow.close()


@fixture("refuse-bounce-other-inside-host",
         "A PORT naming another inside host (192.168.77.11, not the announcing client) is refused "
         "with address_mismatch.",
         flags=[SNAT],
         decisions=refused("c2s", "PORT", "address_mismatch", "PORT 192,168,77,11,195,80"))
def bounce_other_inside_host(capture):
    refused_port_line(capture, "PORT 192,168,77,11,195,80\r\n", "500 Illegal PORT command.\r\n")


@fixture("refuse-port-signed-number",
         "A PORT with a signed field ('+10') is refused as signed_number.",
         flags=[SNAT],
         decisions=refused("c2s", "PORT", "signed_number", "PORT 192,168,77,+10,195,80"))
def port_signed_number(capture):
    refused_port_line(capture, "PORT 192,168,77,+10,195,80\r\n")


@fixture("refuse-port-too-many-digits",
         "A PORT with a four-digit field ('0192') is refused as too_many_digits.",
         flags=[SNAT],
         decisions=refused("c2s", "PORT", "too_many_digits", "PORT 0192,168,77,10,195,80"))
def port_too_many_digits(capture):
    refused_port_line(capture, "PORT 0192,168,77,10,195,80\r\n")


@fixture("refuse-port-field-count",
         "A PORT with five numbers instead of six is refused as field_count.",
         flags=[SNAT],
         decisions=refused("c2s", "PORT", "field_count", "PORT 192,168,77,10,195"))
def port_field_count(capture):
    refused_port_line(capture, "PORT 192,168,77,10,195\r\n")


@fixture("refuse-port-empty-field",
         "A PORT with an empty field ('77,,195') is refused as empty_field.",
         flags=[SNAT],
         decisions=refused("c2s", "PORT", "empty_field", "PORT 192,168,77,,195,80"))
def port_empty_field(capture):
    refused_port_line(capture, "PORT 192,168,77,,195,80\r\n")


@fixture("refuse-port-nul-in-number",
         "A PORT with a NUL byte inside a number is refused (nonprintable_bytes); the log shows "
         "the byte escaped.",
         flags=[SNAT],
         decisions=refused("c2s", "PORT", "nonprintable_bytes", "PORT 192,168,77,1\x000,195,80"))
def port_nul_in_number(capture):
    refused_port_line(capture, "PORT 192,168,77,1\x000,195,80\r\n")


@fixture("refuse-eprt-port-zero",
         "An EPRT announcing port 0 is refused (port 0 in every form; the address codec names a "
         "port 0 in EPRT and 229 port_out_of_range, include/ftpalg/ftp/address_codec.hpp).",
         flags=[SNAT],
         decisions=refused("c2s", "EPRT", "port_out_of_range", "EPRT |1|192.168.77.10|0|"))
def eprt_port_zero(capture):
    refused_port_line(capture, "EPRT |1|192.168.77.10|0|\r\n")


@fixture("refuse-229-port-zero",
         "A 229 announcing port 0 answering EPSV opens nothing (port_out_of_range, as for EPRT).",
         flags=[DNAT],
         decisions=refused("s2c", "229", "port_out_of_range", "229 Entering Extended Passive Mode (|||0|)"))
def reply_229_port_zero(capture):
    flow = forwarded_session(capture)
    flow.client("EPSV\r\n")
    flow.server("229 Entering Extended Passive Mode (|||0|)\r\n")
    flow.close()


@fixture("refuse-unsolicited-229",
         "A 229 that no EPSV asked for is refused as unsolicited_reply.",
         flags=[DNAT],
         decisions=refused("s2c", "229", "unsolicited_reply",
                           "229 Entering Extended Passive Mode (|||50002|)"))
def unsolicited_229(capture):
    flow = forwarded_session(capture)
    flow.client("NOOP\r\n")
    flow.server("229 Entering Extended Passive Mode (|||50002|)\r\n")
    flow.close()


@fixture("refuse-227-echoed-in-error",
         "A 227 text echoed inside an error reply ('500 \\'227 Entering Passive Mode (...)\\': "
         "command not understood') is not a passive reply: nothing is rewritten or opened.",
         flags=[DNAT],
         decisions=NOTHING)
def reply_227_echoed_in_error(capture):
    flow = forwarded_session(capture)
    flow.client("PASV\r\n")
    flow.server("500 '227 Entering Passive Mode (192,168,78,10,195,81)': command not understood.\r\n")
    flow.close()


@fixture("refuse-site-embedded-227",
         "A client command 'SITE x 227 Entering Passive Mode (...)' is neither a PORT nor a reply: "
         "nothing is rewritten or opened.",
         flags=[SNAT],
         decisions=NOTHING)
def site_embedded_227(capture):
    refused_port_line(capture, "SITE x 227 Entering Passive Mode (192,168,77,10,195,80)\r\n",
                      "500 Unknown SITE command.\r\n")


@fixture("refuse-epsv-all-then-pasv",
         "After 'EPSV ALL' a PASV answered by 227 opens nothing (RFC 2428 section 4): the PASV "
         "itself is refused (after_epsv_all), so its 227 answers nothing pending (unsolicited_reply).",
         flags=[DNAT],
         decisions=[reject("c2s", "227", "after_epsv_all", "PASV"),
                    reject("s2c", "227", "unsolicited_reply",
                           "227 Entering Passive Mode (192,168,78,10,195,81)."),
                    session_close("fin")])
def epsv_all_then_pasv(capture):
    flow = forwarded_session(capture)
    flow.client("EPSV ALL\r\n")
    flow.server("200 EPSV ALL ok.\r\n")
    flow.client("PASV\r\n")
    flow.server("227 Entering Passive Mode (192,168,78,10,195,81).\r\n")
    flow.close()


@fixture("refuse-eprt-quote-backslash",
         "An EPRT whose argument holds a double quote and a backslash is refused, and the log "
         "line stays valid JSON: the quote and the (escapeLine-doubled) backslash are escaped.",
         flags=[SNAT],
         decisions=refused("c2s", "EPRT", "bad_syntax", 'EPRT "1"192.168.77.10"50000\\"'))
def eprt_quote_backslash(capture):
    refused_port_line(capture, 'EPRT "1"192.168.77.10"50000\\"\r\n')


@fixture("refuse-227-below-floor-dnat",
         "A port-forwarded server's 227 announcing port 22 (below the 1024 floor) is refused with "
         "port_below_floor: no rewrite and no pinhole, so the outside client cannot reach the "
         "inside server's SSH through the published address.",
         flags=[DNAT],
         decisions=refused("s2c", "227", "port_below_floor",
                           "227 Entering Passive Mode (192,168,78,10,0,22)."))
def reply_227_below_floor_dnat(capture):
    flow = forwarded_session(capture)
    flow.client("PASV\r\n")
    flow.server("227 Entering Passive Mode (192,168,78,10,0,22).\r\n")
    flow.close()


@fixture("refuse-229-below-floor-dnat",
         "A port-forwarded server's 229 announcing port 22 (below the 1024 floor) is refused with "
         "port_below_floor: no pinhole to the inside server's SSH.",
         flags=[DNAT],
         decisions=refused("s2c", "229", "port_below_floor", "229 Entering Extended Passive Mode (|||22|)"))
def reply_229_below_floor_dnat(capture):
    flow = forwarded_session(capture)
    flow.client("EPSV\r\n")
    flow.server("229 Entering Extended Passive Mode (|||22|)\r\n")
    flow.close()


@fixture("refuse-port-1023-accept-1024",
         "The data port floor is 1024, inclusive: a PORT announcing 1023 (3,255) is refused with "
         "port_below_floor; the client's next PORT announcing 1024 (4,0) is rewritten and opens one "
         "pinhole.",
         flags=[SNAT],
         decisions=[reject("c2s", "PORT", "port_below_floor", "PORT 192,168,77,10,3,255"),
                    rewrite("c2s", "PORT", "PORT 192,168,77,10,4,0", "PORT 203,0,113,1,4,0"),
                    pinhole("203.0.113.10", "203.0.113.1:1024", "192.168.77.10:1024"),
                    closed(("203.0.113.10", "203.0.113.1:1024"))])
def port_floor_boundary(capture):
    flow = masqueraded_session(capture)
    flow.client("PORT 192,168,77,10,3,255\r\n")
    flow.server("500 Illegal PORT command.\r\n")
    flow.client("PORT 192,168,77,10,4,0\r\n")
    flow.server("200 PORT command successful. Consider using PASV.\r\n")
    flow.close()


@fixture("refuse-227-1023-accept-1024-dnat",
         "The floor applies to a port-forwarded server's 227 too, inclusive at 1024: a 227 announcing "
         "1023 is refused with port_below_floor; the 227 answering the next PASV with 1024 is "
         "rewritten to the published address and opens one pinhole forwarded to the server.",
         flags=[DNAT],
         decisions=[reject("s2c", "227", "port_below_floor",
                           "227 Entering Passive Mode (192,168,78,10,3,255)."),
                    rewrite("s2c", "227", "227 Entering Passive Mode (192,168,78,10,4,0).",
                            "227 Entering Passive Mode (203,0,113,1,4,0)."),
                    pinhole("198.51.100.7", "203.0.113.1:1024", "192.168.78.10:1024"),
                    closed(("198.51.100.7", "203.0.113.1:1024"))])
def reply_227_floor_boundary(capture):
    flow = forwarded_session(capture)
    flow.client("PASV\r\n")
    flow.server("227 Entering Passive Mode (192,168,78,10,3,255).\r\n")
    passive_list(flow, "PASV\r\n", "227 Entering Passive Mode (192,168,78,10,4,0).\r\n",
                 data_to=("192.168.78.10", 1024))
    flow.close()


@fixture("refuse-not-ftp-greeting",
         "A server whose first line is a final reply other than 220 ('554 Access denied', a "
         "service that is not an FTP server, or one refusing the client) never proves FTP "
         "(not_ftp_greeting, RFC 959 section 5.4): the flow is not inspected and the client's "
         "PORT opens nothing.",
         flags=[SNAT],
         decisions=[anomaly("s2c", "not_ftp_greeting", True), session_close("fin")])
def not_ftp_greeting(capture):
    flow = Flow(capture, CLIENT, SERVER)
    flow.handshake()
    flow.server("554 Access denied\r\n")
    flow.client(PORT_LINE)
    flow.server("500 Unknown command.\r\n")
    flow.close()


if __name__ == "__main__":
    main(__file__)
