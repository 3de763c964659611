"""Generated cases: syntax variants that must be accepted (category "syntax",
docs/adversarial-cases.md cases S1-S9)."""

from common import (ACTIVE_PINHOLE, DNAT, SNAT, active_list, forwarded_session, masqueraded_session,
                    passive_list)
from decisions import closed, pinhole, reject, rewrite
from ftpgen import fixture, main


def forwarded_227(before, after, port):
    """A port-forwarded server's 227 rewritten to the published address: one pinhole for the
    outside client to 203.0.113.1:port, forwarded to 192.168.78.10:port."""
    return [rewrite("s2c", "227", before, after),
            pinhole("198.51.100.7", f"203.0.113.1:{port}", f"192.168.78.10:{port}"),
            closed(("198.51.100.7", f"203.0.113.1:{port}"))]


def forwarded_229(port):
    """A port-forwarded server's 229: nothing to rewrite, one pinhole forwarded to the server."""
    return [pinhole("198.51.100.7", f"203.0.113.1:{port}", f"192.168.78.10:{port}"),
            closed(("198.51.100.7", f"203.0.113.1:{port}"))]


@fixture("syntax-port-lowercase-leading-zeros",
         "A lower-case 'port' with leading zeros (decimal, never octal: 077 is 77) is recognised "
         "and rewritten to the canonical public form.",
         flags=[SNAT],
         decisions=[rewrite("c2s", "PORT", "port 192,168,077,010,195,080", "port 203,0,113,1,195,80"),
                    pinhole(*ACTIVE_PINHOLE, "192.168.77.10:50000"),
                    closed(ACTIVE_PINHOLE)])
def port_lowercase_leading_zeros(capture):
    flow = masqueraded_session(capture)
    active_list(flow, port_line="port 192,168,077,010,195,080\r\n")
    flow.close()


@fixture("syntax-eprt-other-delimiter",
         "An EPRT using '!' as its delimiter is parsed and rewritten keeping that delimiter.",
         flags=[SNAT],
         decisions=[rewrite("c2s", "EPRT", "Eprt !1!192.168.77.10!50003!", "Eprt !1!203.0.113.1!50003!"),
                    pinhole("203.0.113.10", "203.0.113.1:50003", "192.168.77.10:50003"),
                    closed(("203.0.113.10", "203.0.113.1:50003"))])
def eprt_other_delimiter(capture):
    flow = masqueraded_session(capture)
    active_list(flow, port_line="Eprt !1!192.168.77.10!50003!\r\n", reply="200 EPRT command successful.\r\n",
                data_to=("192.168.77.10", 50003))
    flow.close()


@fixture("syntax-227-without-parentheses",
         "A 227 without parentheses ('Entering passive mode. h1,...,p2', RFC 1123 4.1.2.6) is "
         "found by scanning for the six numbers and rewritten.",
         flags=[DNAT],
         decisions=forwarded_227("227 Entering passive mode. 192,168,78,10,195,82",
                                   "227 Entering passive mode. 203,0,113,1,195,82", 50002))
def pasv_227_without_parentheses(capture):
    flow = forwarded_session(capture)
    passive_list(flow, "PASV\r\n", "227 Entering passive mode. 192,168,78,10,195,82\r\n",
                 data_to=("192.168.78.10", 50002))
    flow.close()


@fixture("syntax-227-paren-in-text",
         "A 227 whose text contains a '(' before the real tuple is still parsed at the six numbers "
         "and rewritten there.",
         flags=[DNAT],
         decisions=forwarded_227("227 Entering Passive Mode (ok) =192,168,78,10,195,83",
                                   "227 Entering Passive Mode (ok) =203,0,113,1,195,83", 50003))
def pasv_227_paren_in_text(capture):
    flow = forwarded_session(capture)
    passive_list(flow, "PASV\r\n", "227 Entering Passive Mode (ok) =192,168,78,10,195,83\r\n",
                 data_to=("192.168.78.10", 50003))
    flow.close()


@fixture("syntax-229-other-delimiter",
         "A 229 using '!' as its delimiter, '(!!!50004!)', opens the pinhole for port 50004.",
         flags=[DNAT],
         decisions=forwarded_229(50004))
def epsv_229_other_delimiter(capture):
    flow = forwarded_session(capture)
    passive_list(flow, "EPSV\r\n", "229 Entering Extended Passive Mode (!!!50004!)\r\n",
                 data_to=("192.168.78.10", 50004))
    flow.close()


@fixture("syntax-229-minimal",
         "A minimal '229 (|||50006|)' answering EPSV 1 opens the pinhole.",
         flags=[DNAT],
         decisions=forwarded_229(50006))
def epsv_229_minimal(capture):
    flow = forwarded_session(capture)
    passive_list(flow, "EPSV 1\r\n", "229 (|||50006|)\r\n", data_to=("192.168.78.10", 50006))
    flow.close()


@fixture("syntax-multiline-227-first-line",
         "A multi-line 227 reply ('227-...' then '227 ...') answering PASV counts on its first "
         "line only: one rewrite, one pinhole.",
         flags=[DNAT],
         decisions=[rewrite("s2c", "227", "227-Entering Passive Mode (192,168,78,10,195,86)",
                            "227-Entering Passive Mode (203,0,113,1,195,86)"),
                    pinhole("198.51.100.7", "203.0.113.1:50006", "192.168.78.10:50006"),
                    reject("s2c", "227", "continuation_line", "227 (192,168,78,10,195,87)"),
                    closed(("198.51.100.7", "203.0.113.1:50006"))])
def multiline_227_first_line(capture):
    flow = forwarded_session(capture)
    passive_list(flow, "PASV\r\n",
                 "227-Entering Passive Mode (192,168,78,10,195,86)\r\n227 (192,168,78,10,195,87)\r\n",
                 data_to=("192.168.78.10", 50006))
    flow.close()


@fixture("syntax-6yz-reply-answers-its-command",
         "A 6yz protected reply (RFC 2228 section 4: '631' answering a MIC command) is a final "
         "reply: it answers its command, so the 227 after the next PASV still answers that PASV and "
         "is rewritten once.",
         flags=[DNAT],
         decisions=forwarded_227("227 Entering Passive Mode (192,168,78,10,195,90).",
                                 "227 Entering Passive Mode (203,0,113,1,195,90).", 50010))
def reply_6yz_answers_its_command(capture):
    flow = forwarded_session(capture)
    flow.client("MIC Zm9vIGJhciBiYXo=\r\n")
    flow.server("631 cXV1eCBxdXV4\r\n")
    passive_list(flow, "PASV\r\n", "227 Entering Passive Mode (192,168,78,10,195,90).\r\n",
                 data_to=("192.168.78.10", 50010))
    flow.close()


if __name__ == "__main__":
    main(__file__)
