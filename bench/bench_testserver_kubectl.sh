#!/bin/sh
# kubectl as the client of kr-apiserver, on the figures bench_testserver
# measures with libcurl: LIST of 100,000 ~1 KiB ConfigMaps in pages of 500
# (kubectl get configmaps -A --chunk-size=500 -o name) and a watch consumed
# by `kubectl get -w` while one writer creates 1,000 objects.
# Usage: bench_testserver_kubectl.sh <build dir>. KR_BENCH_OBJECTS overrides
# 100,000. Skips (loudly) without kubectl.
set -eu
build=$1
n=${KR_BENCH_OBJECTS:-100000}
writes=1000
if ! command -v kubectl >/dev/null 2>&1; then
    echo "bench_testserver_kubectl: SKIPPED: kubectl is not on PATH"
    exit 0
fi
work=$(mktemp -d)
pid=
watcher=
cleanup() {
    [ -n "$watcher" ] && kill "$watcher" 2>/dev/null
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }
watches() { curl -s "$url/_kr/stats" | sed -n 's/.*"watches":\([0-9]*\).*/\1/p'; }

# The objects, as one JSON List (~1 KiB each).
pad=$(printf '%0900d' 0 | tr 0 a)
awk -v n="$n" -v pad="$pad" 'BEGIN {
    print "{\"kind\":\"List\",\"items\":[";
    for (i = 0; i < 3; i++)
        printf "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}},\n", (i == 0 ? "bench" : (i == 1 ? "fan" : "fan2"));
    for (i = 0; i < n; i++)
        printf "%s{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm-%06d\",\"namespace\":\"bench\"},\"data\":{\"payload\":\"%s\"}}\n", (i ? "," : ""), i, pad;
    print "]}" }' >"$work/objects.json"

t0=$(now)
"$build/bin/kr-apiserver" --port 0 --history 400000 --load "$work/objects.json" \
    --kubeconfig-out "$work/kubeconfig" >"$work/url" 2>"$work/err" &
pid=$!
while [ ! -s "$work/url" ]; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/err"; exit 1; }
    sleep 0.1
done
url=$(head -n 1 "$work/url")
echo "kr-apiserver started with $n ConfigMaps loaded from JSON in $(elapsed "$t0" "$(now)") s"
k() { kubectl --kubeconfig "$work/kubeconfig" --cache-dir "$work/cache" "$@"; }
k get ns >/dev/null # warm the discovery cache

t0=$(now)
items=$(k get configmaps -A --chunk-size=500 -o name | wc -l)
dt=$(elapsed "$t0" "$(now)")
echo "kubectl get configmaps -A --chunk-size=500 -o name: $items items in $dt s: $(rate "$items" "$dt") items/s"

t0=$(now)
"$build/bench/bench_testserver" write "$url" "$writes" fan2
alone=$(elapsed "$t0" "$(now)")
echo "writer alone (HTTP POST via libcurl): $writes creates in $alone s: $(rate "$writes" "$alone") events/s"

k get configmaps -n fan -w --output-watch-events -o name >"$work/watch" 2>&1 &
watcher=$!
while [ "$(watches)" != 1 ]; do sleep 0.05; done
t0=$(now)
"$build/bench/bench_testserver" write "$url" "$writes" fan
while [ "$(wc -l <"$work/watch")" -lt "$writes" ]; do sleep 0.01; done
dt=$(elapsed "$t0" "$(now)")
echo "kubectl get -w consumed $writes events in $dt s: $(rate "$writes" "$dt") events/s;" \
    "ratio to the writer alone: $(awk -v a="$dt" -v b="$alone" 'BEGIN { printf "%.2f", a / b }')"
