"""Prints the name of every generated case (every @fixture in cases_*.py), one per line, sorted.
scripts/make-fixtures.sh writes them, with the real captures (scripts/capture-fixtures.sh --list),
to pcap-fixtures/cases.list: the exact set of fixture directories tests/golden expects."""

import glob
import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftpgen  # noqa: E402

for path in sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases_*.py"))):
    importlib.import_module(os.path.splitext(os.path.basename(path))[0])
names = ftpgen.case_names()
duplicates = sorted({name for name in names if names.count(name) > 1})
if duplicates:
    sys.exit(f"list_cases: cases declared twice: {', '.join(duplicates)}")
print("\n".join(sorted(names)))
