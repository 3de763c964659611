"""Generated cases: syntax variants that must be accepted (category "syntax",
docs/adversarial-cases.md cases S1-S9)."""

from common import DNAT, SNAT, active_list, forwarded_session, masqueraded_session, passive_list
from ftpgen import fixture, main


@fixture("syntax-port-lowercase-leading-zeros",
         "A lower-case 'port' with leading zeros (decimal, never octal: 077 is 77) is recognised "
         "and rewritten to the canonical public form.",
         flags=[SNAT])
def port_lowercase_leading_zeros(capture):
    flow = masqueraded_session(capture)
    active_list(flow, port_line="port 192,168,077,010,195,080\r\n")
    flow.close()


@fixture("syntax-eprt-other-delimiter",
         "An EPRT using '!' as its delimiter is parsed and rewritten keeping that delimiter.",
         flags=[SNAT])
def eprt_other_delimiter(capture):
    flow = masqueraded_session(capture)
    active_list(flow, port_line="Eprt !1!192.168.77.10!50003!\r\n", reply="200 EPRT command successful.\r\n",
                data_to=("192.168.77.10", 50003))
    flow.close()


@fixture("syntax-227-without-parentheses",
         "A 227 without parentheses ('Entering passive mode. h1,...,p2', RFC 1123 4.1.2.6) is "
         "found by scanning for the six numbers and rewritten.",
         flags=[DNAT])
def pasv_227_without_parentheses(capture):
    flow = forwarded_session(capture)
    passive_list(flow, "PASV\r\n", "227 Entering passive mode. 192,168,78,10,195,82\r\n",
                 data_to=("192.168.78.10", 50002))
    flow.close()


@fixture("syntax-227-paren-in-text",
         "A 227 whose text contains a '(' before the real tuple is still parsed at the six numbers "
         "and rewritten there.",
         flags=[DNAT])
def pasv_227_paren_in_text(capture):
    flow = forwarded_session(capture)
    passive_list(flow, "PASV\r\n", "227 Entering Passive Mode (ok) =192,168,78,10,195,83\r\n",
                 data_to=("192.168.78.10", 50003))
    flow.close()


@fixture("syntax-229-other-delimiter",
         "A 229 using '!' as its delimiter, '(!!!50004!)', opens the pinhole for port 50004.",
         flags=[DNAT])
def epsv_229_other_delimiter(capture):
    flow = forwarded_session(capture)
    passive_list(flow, "EPSV\r\n", "229 Entering Extended Passive Mode (!!!50004!)\r\n",
                 data_to=("192.168.78.10", 50004))
    flow.close()


@fixture("syntax-229-minimal",
         "A minimal '229 (|||50006|)' answering EPSV 1 opens the pinhole.",
         flags=[DNAT])
def epsv_229_minimal(capture):
    flow = forwarded_session(capture)
    passive_list(flow, "EPSV 1\r\n", "229 (|||50006|)\r\n", data_to=("192.168.78.10", 50006))
    flow.close()


@fixture("syntax-multiline-227-first-line",
         "A multi-line 227 reply ('227-...' then '227 ...') answering PASV counts on its first "
         "line only: one rewrite, one pinhole.",
         flags=[DNAT])
def multiline_227_first_line(capture):
    flow = forwarded_session(capture)
    passive_list(flow, "PASV\r\n",
                 "227-Entering Passive Mode (192,168,78,10,195,86)\r\n227 (192,168,78,10,195,87)\r\n",
                 data_to=("192.168.78.10", 50006))
    flow.close()


if __name__ == "__main__":
    main(__file__)
