"""Generated cases: the basic announcements across NAT (category "nat")."""

from common import (ACTIVE_PINHOLE, CLIENT6, DNAT, PORT_OK, PORT_PUBLIC, SERVER6, SNAT, active_list,
                    forwarded_session, masqueraded_port_decisions, masqueraded_session, passive_list)
from decisions import closed, pinhole, pinhole_close, rewrite
from ftpgen import Flow, fixture, main

# Port forwarding: the outside client 198.51.100.7 may connect to the published 203.0.113.1:P,
# forwarded to the inside server 192.168.78.10:P.


@fixture("nat-active-port-snat",
         "An active-mode PORT from a masqueraded client is rewritten to the public address "
         "203.0.113.1 with the same port, opens one pinhole for the server forwarded to the "
         "client, and the pinhole closes with the session.",
         flags=[SNAT], decisions=masqueraded_port_decisions())
def active_port_snat(capture):
    flow = masqueraded_session(capture)
    active_list(flow)
    flow.close()


@fixture("nat-eprt-v4-snat",
         "An EPRT |1| from a masqueraded client is rewritten to |1|203.0.113.1|50001| and opens "
         "one pinhole forwarded to the client.",
         flags=[SNAT],
         decisions=[rewrite("c2s", "EPRT", "EPRT |1|192.168.77.10|50001|", "EPRT |1|203.0.113.1|50001|"),
                    pinhole("203.0.113.10", "203.0.113.1:50001", "192.168.77.10:50001"),
                    closed(("203.0.113.10", "203.0.113.1:50001"))])
def eprt_v4_snat(capture):
    flow = masqueraded_session(capture)
    active_list(flow, port_line="EPRT |1|192.168.77.10|50001|\r\n", reply="200 EPRT command successful.\r\n",
                data_to=("192.168.77.10", 50001))
    flow.close()


@fixture("nat-eprt-v6-no-nat",
         "An IPv6 EPRT |2| without NAT is not rewritten but still opens exactly one pinhole "
         "(no nat_to) for the server to reach the client.",
         decisions=[pinhole("2001:db8:113::10", "[2001:db8:77::10]:50002", None),
                    closed(("2001:db8:113::10", "[2001:db8:77::10]:50002"))])
def eprt_v6_no_nat(capture):
    flow = Flow(capture, CLIENT6, SERVER6)
    flow.handshake()
    flow.login()
    active_list(flow, port_line="EPRT |2|2001:db8:77::10|50002|\r\n", reply="200 EPRT command successful.\r\n",
                data_from=("2001:db8:113::10", 20), data_to=("2001:db8:77::10", 50002))
    flow.close()


@fixture("nat-pasv-227-dnat",
         "A 227 from a port-forwarded server announcing its private address is rewritten to the "
         "published address 203.0.113.1 and opens one pinhole forwarded to the real server.",
         flags=[DNAT],
         decisions=[rewrite("s2c", "227", "227 Entering Passive Mode (192,168,78,10,195,81).",
                            "227 Entering Passive Mode (203,0,113,1,195,81)."),
                    pinhole("198.51.100.7", "203.0.113.1:50001", "192.168.78.10:50001"),
                    closed(("198.51.100.7", "203.0.113.1:50001"))])
def pasv_227_dnat(capture):
    flow = forwarded_session(capture)
    passive_list(flow, "PASV\r\n", "227 Entering Passive Mode (192,168,78,10,195,81).\r\n")
    flow.close()


@fixture("nat-epsv-229-dnat",
         "A 229 from a port-forwarded server keeps its text (the port is unchanged) and opens one "
         "pinhole for the client to 203.0.113.1:50002 forwarded to 192.168.78.10:50002.",
         flags=[DNAT],
         decisions=[pinhole("198.51.100.7", "203.0.113.1:50002", "192.168.78.10:50002"),
                    closed(("198.51.100.7", "203.0.113.1:50002"))])
def epsv_229_dnat(capture):
    flow = forwarded_session(capture)
    passive_list(flow, "EPSV\r\n", "229 Entering Extended Passive Mode (|||50002|)\r\n",
                 data_to=("192.168.78.10", 50002))
    flow.close()


@fixture("nat-epsv-229-v6",
         "An IPv6 EPSV/229 without NAT opens one pinhole for the client to the server's address "
         "and announced port, without rewriting.",
         decisions=[pinhole("2001:db8:77::10", "[2001:db8:113::10]:50005", None),
                    closed(("2001:db8:77::10", "[2001:db8:113::10]:50005"))])
def epsv_229_v6(capture):
    flow = Flow(capture, CLIENT6, SERVER6)
    flow.handshake()
    flow.login()
    passive_list(flow, "EPSV\r\n", "229 Entering Extended Passive Mode (|||50005|)\r\n",
                 data_from=("2001:db8:77::10", 40001), data_to=("2001:db8:113::10", 50005))
    flow.close()


@fixture("nat-pasv-227-no-nat",
         "A PASV/227 to a server that is not port-forwarded is left unchanged but still opens one "
         "pinhole for the client (a strict egress policy needs it).",
         flags=[SNAT],
         decisions=[pinhole("192.168.77.10", "203.0.113.10:50004", None),
                    closed(("192.168.77.10", "203.0.113.10:50004"))])
def pasv_227_no_nat(capture):
    flow = masqueraded_session(capture)
    passive_list(flow, "PASV\r\n", "227 Entering Passive Mode (203,0,113,10,195,84).\r\n",
                 data_from=("192.168.77.10", 40002), data_to=("203.0.113.10", 50004))
    flow.close()


@fixture("nat-active-port-no-nat",
         "Without --snat the PORT text already names the client's real address: nothing is "
         "rewritten and exactly one pinhole without NAT is opened.",
         decisions=[pinhole("203.0.113.10", "192.168.77.10:50000", None),
                    closed(("203.0.113.10", "192.168.77.10:50000"))])
def active_port_no_nat(capture):
    flow = masqueraded_session(capture)
    active_list(flow)
    flow.close()


@fixture("nat-port-then-pasv",
         "In one session an active PORT (rewritten) and a later PASV (answered by a server that is "
         "not port-forwarded, so not rewritten) each open one pinhole; the second announcement "
         "replaces the first pinhole.",
         flags=[SNAT],
         decisions=[rewrite("c2s", "PORT", "PORT 192,168,77,10,195,80", PORT_PUBLIC),
                    pinhole(*ACTIVE_PINHOLE, "192.168.77.10:50000"),
                    pinhole_close(*ACTIVE_PINHOLE, "replaced"),
                    pinhole("192.168.77.10", "203.0.113.10:50005", None),
                    closed(("192.168.77.10", "203.0.113.10:50005"))])
def port_then_pasv(capture):
    flow = masqueraded_session(capture)
    active_list(flow)
    flow.client("PASV\r\n")
    flow.server("227 Entering Passive Mode (203,0,113,10,195,85).\r\n")
    flow.client("LIST\r\n")
    flow.server("150 Here comes the directory listing.\r\n226 Directory send OK.\r\n")
    flow.close()


@fixture("nat-nonstandard-control-port",
         "A control connection on port 2121 is inspected when --control-port 2121 is given, and "
         "its PORT is rewritten.",
         flags=[SNAT, "--control-port=2121"], decisions=masqueraded_port_decisions())
def nonstandard_control_port(capture):
    flow = Flow(capture, ("192.168.77.10", 40000), ("203.0.113.10", 2121))
    flow.handshake()
    flow.login()
    active_list(flow)
    flow.close()


FIRST = "192.168.77.10:40000-203.0.113.10:21"
SECOND = "192.168.77.11:40001-203.0.113.10:21"


@fixture("nat-two-sessions-interleaved",
         "Two control connections from different clients, interleaved packet by packet, are kept "
         "apart: each PORT is rewritten and gets its own pinhole; the second client announces the "
         "same port 50000, which is taken on the public address, so it gets the next free public "
         "port 50001 forwarded to its real 50000 (docs/decisions/0004).",
         flags=[SNAT],
         decisions=[rewrite("c2s", "PORT", "PORT 192,168,77,10,195,80", PORT_PUBLIC, flow=FIRST),
                    pinhole(*ACTIVE_PINHOLE, "192.168.77.10:50000", flow=FIRST),
                    rewrite("c2s", "PORT", "PORT 192,168,77,11,195,80", "PORT 203,0,113,1,195,81",
                            flow=SECOND),
                    pinhole("203.0.113.10", "203.0.113.1:50001", "192.168.77.11:50000", flow=SECOND),
                    closed(("203.0.113.10", "203.0.113.1:50001"), flow=SECOND),
                    closed(ACTIVE_PINHOLE, flow=FIRST)])
def two_sessions_interleaved(capture):  # flows FIRST and SECOND
    first = Flow(capture, ("192.168.77.10", 40000), ("203.0.113.10", 21), client_isn=0x11111111)
    second = Flow(capture, ("192.168.77.11", 40001), ("203.0.113.10", 21), client_isn=0x22222222,
                  server_isn=0x33333333, ip_id=5000)
    first.handshake()
    second.handshake()
    for flow in (first, second):
        flow.server("220 (vsFTPd 3.0.3)\r\n")
    for flow in (first, second):
        flow.client("USER anonymous\r\n")
    for flow in (first, second):
        flow.server("331 Please specify the password.\r\n")
    for flow in (first, second):
        flow.client("PASS guest@example.org\r\n")
    for flow in (first, second):
        flow.server("230 Login successful.\r\n")
    first.client("PORT 192,168,77,10,195,80\r\n")
    second.client("PORT 192,168,77,11,195,80\r\n")
    second.server(PORT_OK)
    first.server(PORT_OK)
    second.close()
    first.close()


@fixture("nat-peer-mode-bounce-rewritten",
         "With --anti-bounce peer a PORT naming a third-party address is not refused: the address "
         "is ignored and the announcement is rewritten to the public address (OpenBSD ftp-proxy "
         "behaviour).",
         flags=[SNAT, "--anti-bounce=peer"],
         decisions=[rewrite("c2s", "PORT", "PORT 198,51,100,99,195,80", PORT_PUBLIC),
                    pinhole(*ACTIVE_PINHOLE, "192.168.77.10:50000"),
                    closed(ACTIVE_PINHOLE)])
def peer_mode_bounce(capture):
    flow = masqueraded_session(capture)
    active_list(flow, port_line="PORT 198,51,100,99,195,80\r\n")
    flow.close()


@fixture("nat-pasv-227-dnat-public-address",
         "A port-forwarded server configured to announce the published address (vsftpd "
         "pasv_address, proftpd MasqueradeAddress) answers PASV with 203.0.113.1: the address the "
         "client reaches it at is accepted (docs/decisions/0005), the text is not rewritten, and one "
         "pinhole for the client to 203.0.113.1:50008 forwards only to the real server "
         "192.168.78.10:50008.",
         flags=[DNAT],
         decisions=[pinhole("198.51.100.7", "203.0.113.1:50008", "192.168.78.10:50008"),
                    closed(("198.51.100.7", "203.0.113.1:50008"))])
def pasv_227_dnat_public_address(capture):
    flow = forwarded_session(capture)
    passive_list(flow, "PASV\r\n", "227 Entering Passive Mode (203,0,113,1,195,88).\r\n",
                 data_to=("192.168.78.10", 50008))
    flow.close()


if __name__ == "__main__":
    main(__file__)
