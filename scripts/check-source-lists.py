#!/usr/bin/env python3
"""Fails when a .cpp under src/, tests/ or bench/ is listed in no CMakeLists.txt (ctest style.SourceLists).

The build lists every source by name (docs/architecture.md#build-layout); a file listed nowhere
builds into nothing, silently. A file counts as listed when a CMakeLists.txt, outside its
comments, names it: relative to that CMakeLists.txt's folder, or under ${PROJECT_SOURCE_DIR},
${CMAKE_SOURCE_DIR} or ${CMAKE_CURRENT_SOURCE_DIR}. Also fails when a CMakeLists.txt names a
.cpp that does not exist (an option that is OFF in this build would hide that from CMake).

Usage: scripts/check-source-lists.py [repository root]   Exit status: 0 clean, 1 a finding.
"""
import os
import re
import subprocess
import sys

SCANNED = ("src", "tests", "bench")


def repository_files(root):
    """Tracked files and untracked ones git does not ignore; every file when not a checkout."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard"],
                             check=True, capture_output=True, text=True).stdout
        return [line for line in out.splitlines() if os.path.exists(os.path.join(root, line))]
    except (OSError, subprocess.CalledProcessError):
        found = []
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not d.startswith((".", "build"))]
            found += [os.path.relpath(os.path.join(folder, f), root) for f in files]
        return found


def strip_comment(line):
    """A CMake line comment starts at a # outside a quoted argument."""
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and not quoted:
            return line[:i]
    return line


def listed_sources(root, cmake_files):
    """(path relative to root -> 'CMakeLists.txt:line' naming it) for every .cpp a list names."""
    listed = {}
    for cmake in cmake_files:
        folder = os.path.dirname(cmake)
        with open(os.path.join(root, cmake), encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                for token in re.split(r'[\s()"]+', strip_comment(line)):
                    if not token.endswith(".cpp"):
                        continue
                    for variable in ("${PROJECT_SOURCE_DIR}/", "${CMAKE_SOURCE_DIR}/"):
                        if token.startswith(variable):
                            token = token[len(variable):]
                            break
                    else:
                        if token.startswith("${CMAKE_CURRENT_SOURCE_DIR}/"):
                            token = token[len("${CMAKE_CURRENT_SOURCE_DIR}/"):]
                        token = os.path.join(folder, token)
                    if "${" in token:
                        continue  # built from a variable: not a name this check can read
                    listed.setdefault(os.path.normpath(token), f"{cmake}:{number}")
    return listed


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    files = repository_files(root)
    cmake_files = [f for f in files if os.path.basename(f) == "CMakeLists.txt"]
    listed = listed_sources(root, cmake_files)
    sources = sorted(f for f in files if f.endswith(".cpp") and f.split("/", 1)[0] in SCANNED)

    problems = [f"{f}: listed in no CMakeLists.txt (add it to {os.path.dirname(f)}/CMakeLists.txt)"
                for f in sources if f not in listed]
    problems += [f"{where}: names {path}, which does not exist"
                 for path, where in sorted(listed.items()) if not os.path.exists(os.path.join(root, path))]
    for problem in problems:
        print(f"check-source-lists: {problem}", file=sys.stderr)
    if problems:
        return 1
    folders = ", ".join(d + "/" for d in SCANNED)
    print(f"check-source-lists: all {len(sources)} .cpp files under {folders} are listed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
