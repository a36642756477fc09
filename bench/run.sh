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
# The two programs again with their servers 2 ms away (each request answered
# 2 ms late): round trips, not the cores, set the pace there.
if [ -x "$build/bench/bench_syncer" ]; then
    echo "== bench_syncer, servers 2 ms away =="
    KR_BENCH_SYNCER_LATENCY_MS=2 KR_BENCH_SYNCER_OBJECTS=4000 KR_BENCH_SYNCER_EDITS=20 \
        KR_BENCH_SYNCER_BURST=200 KR_BENCH_SYNCER_STEADY_S=1 "$build/bench/bench_syncer"
fi
if [ -x "$build/bench/bench_submitter" ]; then
    echo "== bench_submitter, servers 2 ms away =="
    KR_BENCH_SUBMITTER_LATENCY_MS=2 KR_BENCH_SUBMITTER_ROUNDS=3 "$build/bench/bench_submitter"
fi
