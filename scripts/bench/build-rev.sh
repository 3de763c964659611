#!/usr/bin/env bash
# Builds the benchmark programs of one git revision (optionally with the working tree's copy of
# some files laid over it) in a private directory, for A/B runs with scripts/bench/ab.sh that
# differ in exactly one change, even while the shared working tree is being edited by others.
#
# Usage: scripts/bench/build-rev.sh OUTDIR REV [FILE...]
#   OUTDIR  where the sources are exported and built (OUTDIR/src, OUTDIR/build)
#   REV     git revision to export (git archive: no checkout, the working tree is untouched)
#   FILE    paths (relative to the repository root) copied from the working tree over the export
# Prints the path of the built engine_bench. Release, -j2.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: build-rev.sh OUTDIR REV [FILE...]}
rev=${2:?usage: build-rev.sh OUTDIR REV [FILE...]}
shift 2
mkdir -p "$out/src" "$out/build"
rm -rf "$out/src"/*
git -C "$root" archive "$rev" | tar -x -C "$out/src"
# The benchmarks themselves always come from the working tree (they may be newer than REV).
mkdir -p "$out/src/bench"
cp "$root"/bench/* "$out/src/bench/"
for file in "$@"; do
  mkdir -p "$out/src/$(dirname "$file")"
  cp "$root/$file" "$out/src/$file"
done
cmake -S "$out/src" -B "$out/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-Wno-restrict \
  -DFTPALG_BENCH=ON -DFTPALG_SHELLS=OFF > "$out/build/cmake.log"
nice make -C "$out/build" -j2 engine_bench scale_sessions > "$out/build/make.log" 2>&1 ||
  { tail -n 30 "$out/build/make.log" >&2; exit 1; }
echo "$out/build/bench/engine_bench"
