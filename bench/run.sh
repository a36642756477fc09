#!/bin/sh
# make bench: runs every benchmark binary (and bench/*.sh scripts) and prints
# their reports. Figures are ratios against baselines measured in the same run.
set -eu
build=$1
here=$(cd "$(dirname "$0")" && pwd)
for b in "$build"/bench/bench_*; do
    [ -x "$b" ] || continue
    echo "== $(basename "$b") =="
    "$b"
done
for s in "$here"/bench_*.sh; do
    [ -f "$s" ] || continue
    echo "== $(basename "$s") =="
    sh "$s" "$build"
done
