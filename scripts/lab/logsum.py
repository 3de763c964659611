#!/usr/bin/python3
"""Summarise an ftpalg JSON-lines decision log for the lab.

  logsum.py LOG            -> "rewrites=N pinholes=N rejects=N anomalies=N pinhole_closes=N
                               log_mode=live held=N retransmissions=N" (the last two from the
                               last stats event: packets_held, retransmissions; 0 without one)
  logsum.py --decisions LOG -> one decision per line, with what varies from run to run removed
                               (timestamps, ephemeral ports, mode), so a live run and a dry-run
                               of the same session can be compared line by line.
  logsum.py --events LOG EVENT -> the JSON lines of EVENT (one per line, compact: "key":"value")
Lines that are not JSON are counted as "unparsable" (and make the summary say so).
"""
import json
import re
import sys


def load(path):
    events, bad = [], 0
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    events.append(json.loads(line))
                except ValueError:
                    bad += 1
    except FileNotFoundError:
        pass
    return events, bad


def strip_port(addr):
    if addr is None:
        return "null"
    return re.sub(r":\d+$", ":*", str(addr))


def strip_line_port(verb, text):
    # Keep the address part of an address-bearing line, drop the port (ephemeral per run).
    if verb in ("PORT", "227"):
        return re.sub(r"(\d+,\d+,\d+,\d+),\d+,\d+", r"\1,*,*", text)
    if verb in ("EPRT", "229"):
        return re.sub(r"\|\d+\|(?=[^|]*$)", "|*|", text)  # the last field is the port
    return text


def decision(e):
    ev = e.get("event")
    if ev == "rewrite":
        return f"rewrite {e.get('dir')} {e.get('verb')} {strip_line_port(e.get('verb'), e.get('after', ''))}"
    if ev == "pinhole":
        return f"pinhole from={e.get('from')} to={strip_port(e.get('to'))} nat_to={strip_port(e.get('nat_to'))}"
    if ev == "pinhole_close":
        return f"pinhole_close from={e.get('from')} to={strip_port(e.get('to'))} reason={e.get('reason')}"
    if ev == "reject":
        return f"reject {e.get('dir')} {e.get('verb')} {e.get('reason')}"
    if ev == "anomaly":
        return f"anomaly {e.get('dir')} {e.get('reason')}"
    if ev == "opaque":
        return f"opaque {e.get('reason')}"
    return None


def main(argv):
    if argv[1:2] == ["--decisions"]:
        events, _ = load(argv[2])
        for e in events:
            d = decision(e)
            if d:
                print(d)
        return 0
    if argv[1:2] == ["--events"]:
        events, _ = load(argv[2])
        for e in events:
            if e.get("event") == argv[3]:
                print(json.dumps(e, separators=(",", ":")))
        return 0
    events, bad = load(argv[1])
    count = lambda name: sum(1 for e in events if e.get("event") == name)
    modes = sorted({str(e.get("mode")) for e in events}) or ["none"]
    stats = ([e for e in events if e.get("event") == "stats"] or [{}])[-1]
    print(f"rewrites={count('rewrite')} pinholes={count('pinhole')} rejects={count('reject')} "
          f"anomalies={count('anomaly')} pinhole_closes={count('pinhole_close')} "
          f"log_mode={','.join(modes)} held={stats.get('packets_held', 0)} "
          f"retransmissions={stats.get('retransmissions', 0)}" + (f" unparsable={bad}" if bad else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
