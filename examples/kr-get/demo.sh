#!/bin/sh
# Demo of kr-get, the library's hello world: start kr-apiserver with a few
# objects, read them through the kubeconfig the server wrote (discovery,
# paged LIST, GET, label selector), then follow a watch while objects
# change. Usage: demo.sh <bin dir>. Cleans up on exit.
set -eu
bin=$1
work=$(mktemp -d)
pid=
watcher=
cleanup() {
    [ -n "$watcher" ] && kill "$watcher" 2>/dev/null || true
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
fail() { echo "demo: FAILED: $*" >&2; exit 1; }
check() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; echo "ok   $1"; }

{
    printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n'
    for i in 1 2 3 4 5; do
        printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%s\n' "$i"
        printf '  namespace: shop\n  labels: {tier: %s}\ndata: {count: "%s"}\n' \
            "$([ "$i" -le 2 ] && echo web || echo db)" "$i"
    done
} >"$work/objects.yaml"

"$bin/kr-apiserver" --port 0 --load "$work/objects.yaml" --kubeconfig-out "$work/kubeconfig" \
    >"$work/url" 2>"$work/err" &
pid=$!
for _ in $(seq 1 100); do [ -s "$work/url" ] && break; sleep 0.05; done
url=$(head -n 1 "$work/url")
[ -n "$url" ] || fail "kr-apiserver did not start: $(cat "$work/err")"
echo "kr-apiserver serving $url"
get() { "$bin/kr-get" --kubeconfig "$work/kubeconfig" "$@"; }

check "list in pages of 2" "$(get -n shop --chunk-size 2 -o name configmaps | wc -l | tr -d ' ')" 5
check "short name and label selector" "$(get -n shop -l tier=web -o name cm | wc -l | tr -d ' ')" 2
check "get one object" \
    "$(get -n shop cm cm-3 -o jsonl | sed -n 's/.*"data":{"count":"\([0-9]*\)"}.*/\1/p')" 3
check "kubectl's table" "$(get -n shop cm cm-3 | sed -n '1s/ *$//p;2s/ .*//p' | tr '\n' ' ')" \
    "NAME   DATA   AGE cm-3 "
check "cluster-scoped kind" "$(get ns shop -o name)" namespace/shop
check "several types" "$(get -n shop cm,ns -l tier=web -o name | wc -l | tr -d ' ')" 2
if get -n shop cm nope 2>"$work/nf"; then fail "missing object gave exit 0"; fi
check "error message" "$(cat "$work/nf")" 'Error from server (NotFound): configmaps "nope" not found'

# Started directly (not through the get function) so that $! is kr-get itself.
"$bin/kr-get" --kubeconfig "$work/kubeconfig" -n shop -w cm >"$work/watch" 2>&1 &
watcher=$!
# The watch prints the table of the 5 existing objects first (a header and
# a row each); then change two of them: a row each.
for _ in $(seq 1 100); do [ "$(wc -l <"$work/watch")" -ge 6 ] && break; sleep 0.05; done
api="$url/api/v1/namespaces/shop/configmaps"
curl -s -o /dev/null -X PATCH -H 'Content-Type: application/merge-patch+json' \
    -d '{"data":{"count":"10"}}' "$api/cm-1"
curl -s -o /dev/null -X DELETE "$api/cm-5"
for _ in $(seq 1 100); do [ "$(wc -l <"$work/watch")" -ge 8 ] && break; sleep 0.05; done
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
check "watch saw 5 objects, an update and a delete" "$(wc -l <"$work/watch" | tr -d ' ')" 8
echo "demo: kr-get OK"
