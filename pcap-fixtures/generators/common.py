"""Addresses and session shapes shared by the generated cases (docs/adversarial-cases.md#example-network).

Masquerade (SNAT) cases are captured on the router's inside interface: the client
192.168.77.10 talks to the server 203.0.113.10; the router masquerades 192.168.77.0/24 to
203.0.113.1. Port-forwarding (DNAT) cases are captured on the server's side: the client
198.51.100.7 talks to the server 192.168.78.10, published as 203.0.113.1:21.
"""

from decisions import closed, pinhole, rewrite
from ftpgen import Flow, data_transfer

CLIENT = ("192.168.77.10", 40000)
SERVER = ("203.0.113.10", 21)
SNAT = "--snat=192.168.77.0/24=203.0.113.1"

OUTSIDE_CLIENT = ("198.51.100.7", 50000)
INSIDE_SERVER = ("192.168.78.10", 21)
DNAT = "--dnat=203.0.113.1:21=192.168.78.10:21"

CLIENT6 = ("2001:db8:77::10", 40000)
SERVER6 = ("2001:db8:113::10", 21)

PORT_LINE = "PORT 192,168,77,10,195,80\r\n"  # 192.168.77.10:50000
PORT_PUBLIC = "PORT 203,0,113,1,195,80"       # PORT_LINE as the server must see it (SNAT)
PORT_OK = "200 PORT command successful. Consider using PASV.\r\n"
LISTING = "-rw-r--r--    1 0        0            1024 Nov 14 22:13 readme.txt\r\n"


def masqueraded_session(capture, **flow_options):
    """A logged-in control connection from the inside client to the outside server."""
    flow = Flow(capture, CLIENT, SERVER, **flow_options)
    flow.handshake()
    flow.login()
    return flow


def forwarded_session(capture, **flow_options):
    """A logged-in control connection from the outside client to the port-forwarded server."""
    flow = Flow(capture, OUTSIDE_CLIENT, INSIDE_SERVER, **flow_options)
    flow.handshake()
    flow.login()
    return flow


def active_list(flow, port_line=PORT_LINE, reply=PORT_OK, data_from=("203.0.113.10", 20),
                data_to=("192.168.77.10", 50000), **send_options):
    """PORT (as given), its reply, LIST, the listing over a data connection, 150/226."""
    flow.client(port_line, **send_options)
    flow.server(reply)
    flow.client("LIST\r\n")
    flow.server("150 Here comes the directory listing.\r\n")
    if data_from is not None:
        data_transfer(flow.capture, data_from, data_to, LISTING)
    flow.server("226 Directory send OK.\r\n")


def passive_list(flow, request, reply, data_from=("198.51.100.7", 50001), data_to=("192.168.78.10", 50001)):
    """PASV/EPSV (as given), the 227/229 reply, LIST, the listing over a data connection."""
    flow.client(request)
    flow.server(reply)
    flow.client("LIST\r\n")
    if data_from is not None:
        data_transfer(flow.capture, data_from, data_to, LISTING, listener_sends=True, ip_id=2000)
    flow.server("150 Here comes the directory listing.\r\n")
    flow.server("226 Directory send OK.\r\n")


# ---- the decisions of the common shapes (decisions.py), stated once --------------------------

# Masquerade: the server 203.0.113.10 may connect to the public 203.0.113.1:50000, forwarded to
# the client's real 192.168.77.10:50000.
ACTIVE_PINHOLE = ("203.0.113.10", "203.0.113.1:50000")


def masqueraded_port_decisions():
    """PORT_LINE from a masqueraded client, then a normal close: one rewrite, one pinhole."""
    return [rewrite("c2s", "PORT", PORT_LINE.rstrip("\r\n"), PORT_PUBLIC),
            pinhole(*ACTIVE_PINHOLE, "192.168.77.10:50000"),
            closed(ACTIVE_PINHOLE)]
