#!/usr/bin/env python3
"""Checks the layering of docs/architecture.md#layering-enforced-by-cmake (ctest style.Layering).

1. The pure core (include/ftpalg/**, src/{core,packet,ftp,tcp,engine}/**) includes the C++
   standard library and its own headers (include/ftpalg/...) only: no OS header (<sys/...>,
   <unistd.h>, <netinet/...>, ...) and no third-party one (<pcap.h>, libmnl, libnftnl,
   libnetfilter_*, Boost, ...). It reads no clock: no std::chrono::*_clock::now, clock_gettime,
   gettimeofday, timespec_get, clock(), time(). Time reaches it as a parameter.
2. ftpalg_firewall_text (the files given with --firewall-text, and the header beside each)
   likewise includes the standard library and its own headers only, and reads no clock.
3. Only src/app/options*.cpp includes Boost.

Usage: scripts/check-layering.py [--root DIR] --firewall-text FILE...
Exit status: 0 clean, 1 a violation (each printed as file:line: what).
"""
import argparse
import os
import re
import sys

PURE_DIRS = ("include/ftpalg", "src/core", "src/packet", "src/ftp", "src/tcp", "src/engine")
CODE_SUFFIXES = (".cpp", ".hpp", ".h", ".cc", ".ipp")
BOOST_ALLOWED = re.compile(r"^src/app/options[^/]*\.cpp$")

# The C++ standard library's headers (C++23; the C library through its <cxxx> forms only).
STANDARD_HEADERS = set("""
algorithm any array atomic barrier bit bitset cassert cctype cerrno cfenv cfloat charconv chrono
cinttypes climits clocale cmath codecvt compare complex concepts condition_variable coroutine
csetjmp csignal cstdarg cstddef cstdint cstdio cstdlib cstring ctime cuchar cwchar cwctype deque
exception execution expected filesystem flat_map flat_set format forward_list fstream functional
future generator initializer_list iomanip ios iosfwd iostream istream iterator latch limits list
locale map mdspan memory memory_resource mutex new numbers numeric optional ostream print queue
random ranges ratio regex scoped_allocator semaphore set shared_mutex source_location span
spanstream sstream stack stacktrace stdexcept stdfloat stop_token streambuf string string_view
syncstream system_error thread tuple type_traits typeindex typeinfo unordered_map unordered_set
utility valarray variant vector version
""".split())

CLOCK_READS = [
    (re.compile(r"\b\w+_clock\s*::\s*now\b"), "reads a std::chrono clock"),
    (re.compile(r"\bclock_gettime\b"), "reads a clock (clock_gettime)"),
    (re.compile(r"\bgettimeofday\b"), "reads a clock (gettimeofday)"),
    (re.compile(r"\btimespec_get\b"), "reads a clock (timespec_get)"),
    (re.compile(r"(?<![\w.>:])(?:std::|::)?clock\s*\(\s*\)"), "reads a clock (clock())"),
    (re.compile(r"(?:\bstd::|(?<![\w.>:])::)time\s*\("), "reads a clock (time())"),
    (re.compile(r"(?<![\w.>:~])time\s*\(\s*(?:nullptr|NULL|0|&)"), "reads a clock (time())"),
]

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def code_lines(text):
    """The file's lines with comments and string literals blanked (line numbers kept)."""
    out, i, n = [], 0, len(text)
    state = None  # None, "line", "block", '"', "'"
    while i < n:
        ch = text[i]
        pair = text[i:i + 2]
        if state is None:
            if pair == "//":
                state, i = "line", i + 2
                continue
            if pair == "/*":
                state, i = "block", i + 2
                continue
            if ch in "\"'":
                state = ch
            out.append(ch)
        elif state == "line":
            if ch == "\n":
                state = None
                out.append(ch)
        elif state == "block":
            if pair == "*/":
                state, i = None, i + 2
                continue
            if ch == "\n":
                out.append(ch)
        else:  # inside a literal: keep the quotes (for #include "x"), blank the rest
            if ch == "\\":
                i += 2
                continue
            if ch == state:
                state = None
                out.append(ch)
            elif ch == "\n":
                state = None
                out.append(ch)
        i += 1
    return "".join(out).split("\n")


def check_file(root, path, own_headers, rule):
    """Violations of `rule` in one file: non-standard <...> includes, foreign "..." includes,
    clock reads. `own_headers(path, name)` says whether a quoted include is one of the layer's own."""
    problems = []
    with open(os.path.join(root, path), encoding="utf-8") as f:
        raw = f.read().split("\n")
    code = code_lines("\n".join(raw))
    for number, (raw_line, code_line) in enumerate(zip(raw, code), 1):
        match = INCLUDE.match(raw_line) if code_line.lstrip().startswith("#") else None
        if match:
            kind, name = match.groups()
            if kind == "<" and name not in STANDARD_HEADERS:
                problems.append(f"{path}:{number}: {rule} includes <{name}>, not a C++ standard header")
            elif kind == '"' and not own_headers(path, name):
                problems.append(f'{path}:{number}: {rule} includes "{name}", not one of its own headers')
            continue
        for pattern, what in CLOCK_READS:
            if pattern.search(code_line):
                problems.append(f"{path}:{number}: {rule} {what}: time must arrive as a parameter")
    return problems


def walk(root, folder):
    for current, dirs, files in os.walk(os.path.join(root, folder)):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(CODE_SUFFIXES):
                yield os.path.relpath(os.path.join(current, name), root)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    parser.add_argument("--firewall-text", nargs="+", required=True, metavar="FILE",
                        help="the sources of ftpalg_firewall_text (absolute or relative to --root)")
    args = parser.parse_args()
    root = os.path.abspath(args.root)
    problems = []
    checked = 0

    # 1. The pure core: its own headers are include/ftpalg/... (or a file beside the includer).
    def core_header(path, name):
        candidates = [os.path.join("include", name), os.path.join(os.path.dirname(path), name)]
        return any(os.path.normpath(c).startswith(PURE_DIRS) and os.path.exists(os.path.join(root, c))
                   for c in candidates)

    for folder in PURE_DIRS:
        for path in walk(root, folder):
            problems += check_file(root, path, core_header, "the pure core")
            checked += 1

    # 2. ftpalg_firewall_text: its sources and the header beside each; its own headers are those.
    firewall_text = set()
    for source in args.firewall_text:
        path = os.path.relpath(os.path.join(root, source), root)
        firewall_text.add(path)
        header = os.path.splitext(path)[0] + ".hpp"
        if os.path.exists(os.path.join(root, header)):
            firewall_text.add(header)

    def firewall_text_header(path, name):
        candidates = [os.path.join(os.path.dirname(path), name), os.path.join("src", name)]
        return any(os.path.normpath(c) in firewall_text for c in candidates)

    for path in sorted(firewall_text):
        problems += check_file(root, path, firewall_text_header, "ftpalg_firewall_text")
        checked += 1

    # 3. Boost: src/app/options*.cpp alone.
    for folder in ("include", "src", "tests", "bench"):
        for path in walk(root, folder):
            with open(os.path.join(root, path), encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    match = INCLUDE.match(line)
                    if match and match.group(2).startswith("boost/") and not BOOST_ALLOWED.match(path):
                        problems.append(f"{path}:{number}: includes <{match.group(2)}>: only "
                                        "src/app/options*.cpp may use Boost")

    for problem in problems:
        print(f"check-layering: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"check-layering: {checked} pure files include the standard library and their own headers "
          "only and read no clock; Boost only in src/app/options*.cpp")
    return 0


if __name__ == "__main__":
    sys.exit(main())
