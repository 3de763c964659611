"""Generated cases: capture formats and link layers (category "link"): replay must find the
control traffic behind every supported link header and write it back unchanged around the
rewritten packet."""

from common import SNAT, active_list, masqueraded_port_decisions, masqueraded_session
from decisions import closed, pinhole
from ftpgen import Flow, fixture, main


def port_session(capture):
    flow = masqueraded_session(capture)
    active_list(flow)
    flow.close()


@fixture("link-ethernet-vlan", "A PORT session on an 802.1Q-tagged Ethernet capture (VLAN 77) is "
         "rewritten and the tag is kept.", flags=[SNAT], vlan_ids=(77,),
         decisions=masqueraded_port_decisions())
def ethernet_vlan(capture):
    port_session(capture)


@fixture("link-ethernet-qinq", "A PORT session on a double-tagged (802.1ad 100 + 802.1Q 77) "
         "Ethernet capture is rewritten and both tags are kept.", flags=[SNAT],
         vlan_ids=((0x88A8, 100), (0x8100, 77)),
         decisions=masqueraded_port_decisions())
def ethernet_qinq(capture):
    port_session(capture)


@fixture("link-linux-sll", "A PORT session in a Linux cooked (SLL) capture, as 'tcpdump -i any' "
         "writes, is rewritten.", flags=[SNAT], link="sll",
         decisions=masqueraded_port_decisions())
def linux_sll(capture):
    port_session(capture)


@fixture("link-linux-sll2", "A PORT session in a Linux cooked v2 (SLL2) capture is rewritten.",
         flags=[SNAT], link="sll2",
         decisions=masqueraded_port_decisions())
def linux_sll2(capture):
    port_session(capture)


@fixture("link-raw-ip", "A PORT session in a raw-IP capture (LINKTYPE_RAW) is rewritten.",
         flags=[SNAT], link="raw",
         decisions=masqueraded_port_decisions())
def raw_ip(capture):
    port_session(capture)


@fixture("link-raw-ipv6", "An IPv6 EPRT session in a raw-IP capture is inspected (one pinhole).",
         link="raw",
         decisions=[pinhole("2001:db8:113::10", "[2001:db8:77::10]:50002", None),
                    closed(("2001:db8:113::10", "[2001:db8:77::10]:50002"))])
def raw_ipv6(capture):
    flow = Flow(capture, ("2001:db8:77::10", 40000), ("2001:db8:113::10", 21))
    flow.handshake()
    flow.login()
    active_list(flow, port_line="EPRT |2|2001:db8:77::10|50002|\r\n", reply="200 EPRT command successful.\r\n",
                data_from=("2001:db8:113::10", 20), data_to=("2001:db8:77::10", 50002))
    flow.close()


@fixture("link-pcapng", "A pcapng capture with nanosecond timestamps is read, its PORT rewritten, "
         "and the log shows the capture times.", flags=[SNAT], file_format="pcapng",
         decisions=masqueraded_port_decisions())
def pcapng(capture):
    capture.advance(0.000000123)
    port_session(capture)


@fixture("link-pcap-nanosecond", "A classic pcap with nanosecond timestamps is read and rewritten.",
         flags=[SNAT], file_format="pcap-ns",
         decisions=masqueraded_port_decisions())
def pcap_nanosecond(capture):
    capture.advance(0.000000777)
    port_session(capture)


@fixture("link-truncated-data-record",
         "A data-connection record cut by the capture's snap length (caplen < len) is passed "
         "through unchanged and the control session is still rewritten.", flags=[SNAT],
         decisions=masqueraded_port_decisions())
def truncated_record(capture):
    flow = masqueraded_session(capture)
    flow.client("PORT 192,168,77,10,195,80\r\n")
    flow.server("200 PORT command successful.\r\n")
    flow.client("RETR big.bin\r\n")
    flow.server("150 Opening BINARY mode data connection.\r\n")
    data = Flow(capture, ("203.0.113.10", 20), ("192.168.77.10", 50000), ip_id=4000)
    data.handshake()
    payload = bytes(range(256)) * 5
    # Cut this record to 96 link-layer bytes, as 'tcpdump -s 96' would.
    data.packet(Flow.CLIENT, "PA", payload=payload, snap=96)
    data.sent[Flow.CLIENT] += len(payload)
    data.ack(Flow.SERVER)
    data.close(quit=False)
    flow.server("226 Transfer complete.\r\n")
    flow.close()


if __name__ == "__main__":
    main(__file__)
