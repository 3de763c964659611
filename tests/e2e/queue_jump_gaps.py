#!/usr/bin/python3
"""Replays `nft -a monitor` output to see, after every committed nf_tables transaction, how many
jumps lead into ftpalg's queue chains (iptables-nft rules are nf_tables rules, so the monitor sees
them).

Usage: queue_jump_gaps.py RULESET MONITOR_LOG
  RULESET      `nft -a list ruleset` taken after the monitor started, before the change watched
  MONITOR_LOG  `nft -a monitor` output from then on

For each of the four queue points (ip/ip6 x mangle FORWARD -> ftpalg-c2s, raw PREROUTING ->
ftpalg-s2c) it counts the rules jumping into the chain. Prints one line per transaction
("# new generation N by process P (NAME)") and exits 1 if any transaction left a queue point with
no jump (a gap: control packets pass unqueued) or with more than one, 0 otherwise. Exits 2 on a
queue point with no jump before the first transaction (nothing to watch).
"""
import re
import sys

POINTS = [("ip", "mangle", "ftpalg-c2s"), ("ip", "raw", "ftpalg-s2c"),
          ("ip6", "mangle", "ftpalg-c2s"), ("ip6", "raw", "ftpalg-s2c")]
CHAIN_OF = {("ip", "mangle"): "ftpalg-c2s", ("ip", "raw"): "ftpalg-s2c",
            ("ip6", "mangle"): "ftpalg-c2s", ("ip6", "raw"): "ftpalg-s2c"}


def initial_state(path):
    """(family, table) -> set of handles of rules that jump into that table's ftpalg chain."""
    jumps = {(f, t): set() for f, t, _ in POINTS}
    table = None
    with open(path) as ruleset:
        for line in ruleset:
            line = line.strip()
            m = re.match(r"table (\S+) (\S+) \{", line)
            if m:
                table = (m.group(1), m.group(2))
                continue
            if table in CHAIN_OF:
                m = re.search(r"jump " + re.escape(CHAIN_OF[table]) + r" # handle (\d+)$", line)
                if m:
                    jumps[table].add(int(m.group(1)))
    return jumps


def describe(jumps):
    return " ".join(f"{f}/{t}={len(jumps[(f, t)])}" for f, t, _ in POINTS)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    jumps = initial_state(sys.argv[1])
    print("before: " + describe(jumps))
    if any(len(jumps[(f, t)]) == 0 for f, t, _ in POINTS):
        print("nothing to watch: a queue point has no jump before the first transaction")
        return 2
    bad = 0
    transactions = 0
    with open(sys.argv[2]) as log:
        for line in log:
            line = line.strip()
            m = re.match(r"(?:add|insert) rule (\S+) (\S+) \S+ .*jump (\S+) # handle (\d+)$", line)
            if m and (m.group(1), m.group(2)) in jumps and m.group(3) == CHAIN_OF[(m.group(1), m.group(2))]:
                jumps[(m.group(1), m.group(2))].add(int(m.group(4)))
                continue
            m = re.match(r"delete rule (\S+) (\S+) \S+ handle (\d+)$", line)
            if m and (m.group(1), m.group(2)) in jumps:
                jumps[(m.group(1), m.group(2))].discard(int(m.group(3)))
                continue
            m = re.match(r"delete table (\S+) (\S+)", line)
            if m and (m.group(1), m.group(2)) in jumps:
                jumps[(m.group(1), m.group(2))].clear()
                continue
            m = re.match(r"# new generation (\d+) by process (\d+) \((.*)\)", line)
            if m:
                transactions += 1
                counts = [len(jumps[(f, t)]) for f, t, _ in POINTS]
                verdict = "ok" if all(c == 1 for c in counts) else "GAP" if 0 in counts else "EXTRA"
                if verdict != "ok":
                    bad += 1
                print(f"generation {m.group(1)} ({m.group(3)}, pid {m.group(2)}): {describe(jumps)} {verdict}")
    print(f"transactions={transactions} bad={bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
