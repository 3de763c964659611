"""The decisions a generated case states, written by its author from what the case is about (never
copied from the engine's output).

Each case in cases_*.py passes `decisions=[...]` to @fixture: the ordered list of every decision
the replay must log, in the vocabulary of docs/log-schema.md. write_all() writes it to
pcap-fixtures/<case>/decisions.jsonl, one flat JSON object per line. tests/golden
(stated_decisions.cpp) checks both the reviewed expected.jsonl and a fresh replay log against it,
and scripts/update-golden.sh refuses to write an expected.jsonl that contradicts it.

Matching (tests/golden/stated_decisions.hpp): every logged event except `session_open` and
`stats` is a decision; the log's decisions must be exactly the stated ones, in order, each stated
key equal to the logged one (keys a statement leaves out, such as `ts`, `mode`, `timeout_s` or,
unless given, `flow`, are not compared). `stats(...)` pins only the counters the case is about;
the rest of the stats line is not compared.
"""

import json

# Keys every statement of an event names (the checker refuses a statement that leaves one out).
REQUIRED_KEYS = {
    "rewrite": ("dir", "verb", "before", "after"),
    "pinhole": ("from", "to", "nat_to"),
    "pinhole_close": ("from", "to", "reason"),
    "reject": ("dir", "verb", "reason", "line"),
    "anomaly": ("dir", "reason", "inspection_stopped"),
    "opaque": ("reason",),
    "session_close": ("reason",),
}


def logged(line):
    """A line as the decision log shows it (docs/log-schema.md, "Escaping and secrets"): printable
    ASCII kept, a backslash doubled, every other byte as \\xHH. (The log cuts longer texts at 256
    bytes; no statement names such a line.)"""
    data = line.encode("latin-1") if isinstance(line, str) else line
    out = []
    for byte in data:
        if byte == 0x5C:
            out.append("\\\\")
        elif 0x20 <= byte <= 0x7E:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    text = "".join(out)
    if len(text) > 256:
        raise ValueError(f"a stated line longer than the log shows (256 bytes): {text[:40]}...")
    return text


def _event(event, flow=None, **keys):
    statement = {"event": event}
    if flow is not None:
        statement["flow"] = flow
    statement.update(keys)
    return statement


def rewrite(direction, verb, before, after, flow=None):
    """The line `before` (without CRLF) is rewritten to `after`."""
    return _event("rewrite", flow, dir=direction, verb=verb, before=logged(before), after=logged(after))


def pinhole(source, to, nat_to, flow=None):
    """A pinhole: `source` may connect to `to` ("address:port", IPv6 in brackets), forwarded to
    `nat_to` (or None: no NAT)."""
    return _event("pinhole", flow, **{"from": source, "to": to, "nat_to": nat_to})


def pinhole_close(source, to, reason, flow=None):
    return _event("pinhole_close", flow, **{"from": source, "to": to, "reason": reason})


def reject(direction, verb, reason, line, flow=None):
    """The announcement `line` opens nothing and passes unmodified, for `reason`."""
    return _event("reject", flow, dir=direction, verb=verb, reason=reason, line=logged(line))


def anomaly(direction, reason, inspection_stopped, flow=None):
    return _event("anomaly", flow, dir=direction, reason=reason, inspection_stopped=inspection_stopped)


def opaque(reason, flow=None):
    return _event("opaque", flow, reason=reason)


def session_close(reason, flow=None):
    return _event("session_close", flow, reason=reason)


def stats(**counters):
    """Pins the named counters of the final stats line (only where they are the case's point)."""
    return {"event": "stats", **counters}


def closed(*pinholes, reason="fin", flow=None):
    """The end of a session: each still-open pinhole (source, to) closes with it, then the session
    closes for `reason`."""
    return [pinhole_close(source, to, "session_closed", flow) for source, to in pinholes] + \
        [session_close(reason, flow)]


def validate(name, statements):
    """Refuses a statement list that the checker would refuse too (a missing key, an unknown
    event), so a mistake shows when the generator runs."""
    for statement in statements:
        event = statement.get("event")
        if event == "stats":
            if len(statement) == 1:
                raise ValueError(f"{name}: stats() names no counter")
            continue
        if event not in REQUIRED_KEYS:
            raise ValueError(f"{name}: unknown decision event {event!r}")
        missing = [key for key in REQUIRED_KEYS[event] if key not in statement]
        if missing:
            raise ValueError(f"{name}: {event} statement lacks {', '.join(missing)}")
    if sum(1 for statement in statements if statement.get("event") == "stats") > 1:
        raise ValueError(f"{name}: more than one stats() statement")


def write(path, statements):
    with open(path, "w") as out:
        for statement in statements:
            out.write(json.dumps(statement, separators=(",", ":")) + "\n")
