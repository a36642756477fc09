#!/bin/sh
# make bench: the informer beside the informer a non-Go user picks today,
# @kubernetes/client-node 2.0.1 (undici 7 pinned through npm overrides for
# Node 20), syncing 5,000, 10,000, 20,000 and 40,000 ~1 KiB ConfigMaps from
# kr-apiserver: seconds and peak RSS of each, to show both curves; ours
# with the default compact store, and with the jansson-tree store.
# client-node is installed from npm into a temporary directory here, never
# by make check; without node, npm or the registry this says so and stops.
# KR_BENCH_NODE_SIZES overrides the sizes.
set -u
build=$1
server_bin="$build/bin/kr-apiserver"
bench_bin="$build/bench/bench_informer"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "client-node comparison: skipped (node or npm not found)"
    exit 0
fi
work=$(mktemp -d)
srv=
cleanup() {
    [ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
cat >"$work/package.json" <<'JSON'
{"name": "kr-bench-client-node", "private": true, "version": "0.0.0", "type": "module",
 "dependencies": {"@kubernetes/client-node": "2.0.1"},
 "overrides": {"undici": "^7.0.0"}}
JSON
if ! (cd "$work" && npm install --no-audit --no-fund --loglevel=error >"$work/npm.log" 2>&1); then
    echo "client-node comparison: skipped (npm install failed: $(tail -n 1 "$work/npm.log"))"
    exit 0
fi
cat >"$work/informer.mjs" <<'JS'
import * as k8s from '@kubernetes/client-node';
const kc = new k8s.KubeConfig();
kc.loadFromOptions({
  clusters: [{ name: 'c', server: process.argv[2], skipTLSVerify: true }],
  users: [{ name: 'u' }],
  contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
  currentContext: 'x',
});
const api = kc.makeApiClient(k8s.CoreV1Api);
const informer = k8s.makeInformer(kc, '/api/v1/configmaps',
  () => api.listConfigMapForAllNamespaces());
const t0 = process.hrtime.bigint();
await informer.start();
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ seconds, objects: informer.list().length }));
await informer.stop();
process.exit(0);
JS
cat >"$work/gen.mjs" <<'JS'
const n = Number(process.argv[2]);
const items = [];
for (let i = 0; i < n; i++)
  items.push({ apiVersion: 'v1', kind: 'ConfigMap',
    metadata: { name: `cm-${String(i).padStart(7, '0')}`, namespace: 'default',
                labels: { bench: 'informer' } },
    data: { payload: String.fromCharCode(97 + (i % 26)).repeat(900) } });
process.stdout.write(JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
JS
field() { echo "$1" | sed -E "s/.*\"$2\":([0-9.]+).*/\\1/"; }
echo "sync of N ~1 KiB ConfigMaps from kr-apiserver: seconds and peak RSS"
printf '%8s | %22s | %26s | %s\n' N "libkreconcile informer" "client-node 2.0.1 informer" "ratios"
for n in ${KR_BENCH_NODE_SIZES:-5000 10000 20000 40000}; do
    node "$work/gen.mjs" "$n" >"$work/cms.json"
    out="$work/url-$n"
    "$server_bin" --port 0 --history 1000 --load "$work/cms.json" >"$out" 2>"$work/srv.log" &
    srv=$!
    tries=0
    url=
    while [ -z "$url" ] && [ $tries -lt 1200 ]; do
        sleep 0.1
        tries=$((tries + 1))
        url=$(grep -Eo 'https?://[^ ]+' "$out" 2>/dev/null | head -n 1)
    done
    if [ -z "$url" ]; then
        echo "client-node comparison: kr-apiserver did not start: $(cat "$work/srv.log")"
        exit 1
    fi
    ours=$(KR_BENCH_INFORMER_URL=$url "$bench_bin")
    trees=$(KR_BENCH_INFORMER_URL=$url KR_BENCH_INFORMER_STORE=trees "$bench_bin")
    theirs=$(/usr/bin/time -f 'rss=%M' -o "$work/rss" node "$work/informer.mjs" "$url")
    their_rss=$(sed -nE 's/^rss=([0-9]+)/\1/p' "$work/rss")
    kill "$srv"
    wait "$srv" 2>/dev/null
    srv=
    os=$(field "$ours" seconds)
    or=$(field "$ours" max_rss_kib)
    ts=$(field "$theirs" seconds)
    tor=$(field "$trees" max_rss_kib)
    awk -v n="$n" -v os="$os" -v or="$or" -v ts="$ts" -v tr="$their_rss" -v tor="$tor" 'BEGIN {
        printf "%8d | %8.2f s %8.0f MiB | %10.2f s %9.0f MiB | %.1fx faster, memory %.2f of theirs (target <= 0.33; jansson-tree store: %.2f)\n",
            n, os, or / 1024, ts, tr / 1024, ts / os, or / tr, tor / tr }'
done
