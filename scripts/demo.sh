#!/bin/sh
# make demo-tools: runs the demos of the tools (kr-apiserver, kr-get,
# kr-patch) against the embedded test server and sample data, and fails if
# any of them fails. The platform's scenario is make demo.
set -eu
bin=$1
here=$(cd "$(dirname "$0")/.." && pwd)
ran=0
for d in "$here"/examples/*/; do
    [ -f "$d/demo.sh" ] || continue
    name=$(basename "$d")
    echo "== demo: $name =="
    sh "$d/demo.sh" "$bin"
    ran=$((ran + 1))
done
if [ $ran -eq 0 ]; then
    echo "== demo: library core =="
    echo "built $(ls "$bin" 2>/dev/null | wc -l) programs; no program demos yet"
fi
echo "demo: $ran program demo(s) passed"
