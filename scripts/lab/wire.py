#!/usr/bin/python3
"""ftpalg lab: an imperfect wire between two veth ends (the lab's stand-in for `tc netem`).

Usage: wire.py --link ENDPOINT_SIDE:ROUTER_SIDE [--link ...] [--loss PCT] [--duplicate PCT]
               [--reorder PCT] [--delay-ms MS] [--seed S] [--control-port 21]
               [--targeted]

Run inside the lab's wire namespace (scripts/lab/lab.sh, LAB_IMPAIR). Each --link joins two
interfaces: every Ethernet frame received on one is sent out of the other (AF_PACKET, both
directions), so the endpoints see one link with an Ethernet peer, as with a veth pair. TCP
frames (IPv4 and IPv6) are impaired like netem's `loss`, `duplicate` and `delay ... reorder`:
  --loss PCT       the frame is dropped;
  --duplicate PCT  the frame is sent twice;
  --reorder PCT    the frame is held for --delay-ms while later frames pass, so it arrives
                   after them (netem's "delay D reorder" sends the other frames at once; here
                   the selected ones are the delayed ones, the effect is the same).
Other frames (ARP, neighbour discovery) pass unimpaired, so address resolution never adds a
second's retry to a bounded scenario.

Decisions are reproducible: each stream of frames (link, direction, control connection or not)
draws from its own generator seeded with (--seed, stream), so the k-th frame of a control
connection in one direction gets the same fate in every run with the same seed, however the
data connections interleave. Frames whose TCP source or destination port is a --control-port
are control frames.

--targeted: random fates may miss the few frames that matter most, so some control frames get
fixed fates first. Frames whose payload starts an address line (PORT, EPRT, 227, 229):
  towards the router (ENDPOINT_SIDE>ROUTER_SIDE): the 1st is duplicated (the gateway sees the
    same announcement twice: one rewrite, one pinhole);
  away from the router: the 1st and 2nd (the gateway's two copies) are dropped, so the sender
    retransmits after its timeout and the gateway must rewrite the retransmission identically;
    the 3rd is duplicated;
later ones draw like any control frame. And the 1st control frame towards the router whose
payload starts with "150 " (the preliminary reply to LIST/RETR, usually followed at once by
more) is delayed by --delay-ms, so what follows overtakes it: the gateway receives the control
stream out of order.

On SIGTERM/SIGINT it prints one line per link and direction, then exits 0:
  wire link=A>B frames=N tcp=N control=N drop=N dup=N delay=N control_drop=N control_dup=N
       control_delay=N announcements=N announcement_drop=N announcement_dup=N reply150_delay=N
"""
import argparse
import heapq
import random
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23  # linux/if_packet.h (Linux 4.20)
PACKET_OUTGOING = 4
ANNOUNCEMENT_STARTS = (b"PORT ", b"EPRT ", b"227 ", b"229 ")
PRELIMINARY_REPLIES = (b"150 ", b"125 ")


def tcp_segment(frame):
    """(sport, dport, payload) of a TCP frame over IPv4 or IPv6 (no extension headers), else
    None. The payload ends where the IP length says (Ethernet pads short frames)."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    if ethertype == 0x0800 and len(frame) >= 34:
        ihl = (frame[14] & 0x0F) * 4
        total = struct.unpack_from("!H", frame, 16)[0]
        tcp = 14 + ihl
        if frame[23] != 6 or len(frame) < tcp + 20:
            return None
        end = min(len(frame), 14 + total)
    elif ethertype == 0x86DD and len(frame) >= 74:
        if frame[20] != 6:
            return None
        tcp = 54
        end = min(len(frame), tcp + struct.unpack_from("!H", frame, 18)[0])
    else:
        return None
    sport, dport = struct.unpack_from("!HH", frame, tcp)
    data_offset = (frame[tcp + 12] >> 4) * 4
    return sport, dport, frame[tcp + data_offset:end]


class Direction:
    def __init__(self, name, out_sock, seed, towards_router):
        self.name = name
        self.out = out_sock
        self.seed = seed
        # Fixed fates (--targeted): of the first announcements, in order; of the first 150 reply.
        self.schedule = ["dup"] if towards_router else ["drop", "drop", "dup"]
        self.delay_reply150 = towards_router
        self.rngs = {}
        self.c = dict(frames=0, tcp=0, control=0, drop=0, dup=0, delay=0, control_drop=0,
                      control_dup=0, control_delay=0, announcements=0, announcement_drop=0,
                      announcement_dup=0, reply150_delay=0)

    def rng(self, control):
        key = "control" if control else "other"
        if key not in self.rngs:
            self.rngs[key] = random.Random(f"{self.seed}/{self.name}/{key}")
        return self.rngs[key]

    def count(self, kind, control):
        self.c[kind] += 1
        if control:
            self.c["control_" + kind] += 1

    def summary(self):
        return "wire link=%s %s" % (self.name, " ".join(f"{k}={v}" for k, v in self.c.items()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--link", action="append", required=True, help="ENDPOINT_SIDE:ROUTER_SIDE")
    ap.add_argument("--loss", type=float, default=0)
    ap.add_argument("--duplicate", type=float, default=0)
    ap.add_argument("--reorder", type=float, default=0)
    ap.add_argument("--delay-ms", type=float, default=20)
    ap.add_argument("--seed", default="1")
    ap.add_argument("--control-port", type=int, action="append")
    ap.add_argument("--targeted", action="store_true")
    args = ap.parse_args()
    control_ports = set(args.control_port or [21])
    for name, pct in (("--loss", args.loss), ("--duplicate", args.duplicate), ("--reorder", args.reorder)):
        if not 0 <= pct <= 100:
            ap.error(f"{name} {pct}: a percentage from 0 to 100")

    socks = {}
    routes = {}  # receiving socket's fileno -> Direction
    for spec in args.link:
        a, sep, b = spec.partition(":")
        if not sep or not a or not b:
            ap.error(f"--link {spec}: expected ENDPOINT_SIDE:ROUTER_SIDE")
        for ifname in (a, b):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.bind((ifname, 0))
            try:
                s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            except OSError:
                pass  # older kernels: the pkttype check below does the same
            s.setblocking(False)
            socks[ifname] = s
        routes[socks[a].fileno()] = Direction(f"{a}>{b}", socks[b], args.seed, True)
        routes[socks[b].fileno()] = Direction(f"{b}>{a}", socks[a], args.seed, False)
    by_fd = {s.fileno(): s for s in socks.values()}

    stop = False

    def on_signal(_sig, _frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    pending = []  # (release time, sequence, out socket, frame)
    sequence = 0
    poller = select.poll()
    for fd in by_fd:
        poller.register(fd, select.POLLIN)

    def send(out, frame):
        try:
            out.send(frame)
        except OSError:
            pass  # a full queue on the far side is loss, as on a real wire

    def fate(d, segment):
        """(lose, copies, late) for one TCP frame."""
        control = segment[0] in control_ports or segment[1] in control_ports
        d.c["tcp"] += 1
        if not control:
            r = d.rng(False)
        else:
            d.c["control"] += 1
            r = d.rng(True)
            payload = segment[2]
            if payload[:5].upper().startswith(ANNOUNCEMENT_STARTS):
                d.c["announcements"] += 1
                if args.targeted and d.schedule:
                    fixed = d.schedule.pop(0)
                    d.c["announcement_" + fixed] += 1
                    d.count(fixed, True)
                    return (True, 0, False) if fixed == "drop" else (False, 2, False)
            elif args.targeted and d.delay_reply150 and payload.startswith(PRELIMINARY_REPLIES):
                d.delay_reply150 = False
                d.c["reply150_delay"] += 1
                d.count("delay", True)
                return False, 1, True
        # Three draws per frame, always, so one decision never shifts the next ones.
        lose = r.random() * 100 < args.loss
        dup = r.random() * 100 < args.duplicate
        late = r.random() * 100 < args.reorder
        if lose:
            d.count("drop", control)
            return True, 0, False
        if dup:
            d.count("dup", control)
        if late:
            d.count("delay", control)
        return False, 2 if dup else 1, late

    print("wire ready " + " ".join(args.link), flush=True)
    while not stop:
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, out, frame = heapq.heappop(pending)
            send(out, frame)
        timeout_ms = 200 if not pending else max(0, (pending[0][0] - now) * 1000)
        try:
            events = poller.poll(timeout_ms)
        except InterruptedError:
            continue
        for fd, _ in events:
            s = by_fd[fd]
            d = routes[fd]
            for _ in range(64):  # drain, bounded per turn
                try:
                    frame, addr = s.recvfrom(65600)
                except (BlockingIOError, InterruptedError):
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue
                d.c["frames"] += 1
                segment = tcp_segment(frame)
                if segment is None:
                    send(d.out, frame)
                    continue
                lose, copies, late = fate(d, segment)
                if lose:
                    continue
                release = time.monotonic() + args.delay_ms / 1000
                for _ in range(copies):
                    if late:
                        sequence += 1
                        heapq.heappush(pending, (release, sequence, d.out, frame))
                    else:
                        send(d.out, frame)
    for d in routes.values():
        print(d.summary(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
